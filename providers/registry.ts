/**
 * The kinds of fleet driftless knows, one line each. A new kind is a folder providers/<kind>/
 * with a class implementing Provider, a line here, and its target shape in
 * schemas/config.schema.json (README, "Extending"). Kinds are imported on first use: the AWS
 * SDK costs ~0.5 s in every process that loads it, and most runs never touch EC2.
 */
import type { Config, ReleaseService, Target } from '../core/config.ts';
import type { ControlId } from '../core/controls.ts';
import type { ProviderKind } from '../core/inventory.ts';
import type { Provider } from './provider.ts';

type Factory<K extends ProviderKind> = (target: Extract<Target, { provider: K }>, config: Config) => Promise<Provider>;

/**
 * What the plan and the judgements need to know of a kind before any host is listed: which
 * image controls its hosts owe, what the release must name as their image, and whether chaos can
 * kill them. The plan reads these; no suite switches on the kind's name.
 */
export interface KindTraits<K extends ProviderKind = ProviderKind> {
  make: Factory<K>;
  /** The image-integrity controls a host owes, given what the release declares for its service. */
  imageControls(declared: ReleaseService | undefined, policy: { nonRoot: boolean }): ControlId[];
  /** The release field that names what this kind of host must run (none: only a manifest can). */
  declaredImageField?: 'digest' | 'ami';
  /** Chaos can kill an instance of this kind (and something is expected to replace it). */
  canKill: boolean;
  /** Its hosts are reached over SSH whether or not the target has an `ssh` section. */
  alwaysSsh: boolean;
  /** The provider keeps a record of in-place changes (exec, copy, restart): Provider.inPlaceChanges. */
  engineEvents: boolean;
}

const manifestIfDeclared = (declared: ReleaseService | undefined): ControlId[] => (declared?.manifest ? ['DL-IMG-006'] : []);

export const PROVIDER_KINDS: { [K in ProviderKind]: KindTraits<K> } = {
  docker: {
    make: async (t, c) => {
      const { DockerProvider, dockerFleetOf } = await import('./docker/provider.ts');
      return new DockerProvider(dockerFleetOf(t, c.safety.optInLabel));
    },
    // The engine tells the image, drift, restarts, execs and the container's settings; the golden
    // manifest is taken from the image itself when the release names none.
    imageControls: (_d, p) => [
      'DL-IMG-001',
      'DL-IMG-002',
      'DL-IMG-003',
      'DL-IMG-004',
      'DL-IMG-005',
      'DL-IMG-006',
      'DL-IMG-010',
      'DL-IMG-011',
      'DL-IMG-012',
      'DL-IMG-013',
      ...(p.nonRoot ? (['DL-IMG-014'] as const) : []),
    ],
    declaredImageField: 'digest',
    canKill: true,
    alwaysSsh: false,
    engineEvents: true,
  },
  ec2: {
    make: async (t, c) => new (await import('./ec2/provider.ts')).Ec2Provider(t, c.safety.optInTag),
    imageControls: (d) => ['DL-IMG-001', 'DL-IMG-007', 'DL-IMG-008', ...manifestIfDeclared(d), 'DL-IMG-015', 'DL-IMG-016'],
    declaredImageField: 'ami',
    canKill: true,
    alwaysSsh: false,
    engineEvents: false,
  },
  ssh: {
    make: async (t) => new (await import('./ssh/provider.ts')).StaticSshProvider(t),
    imageControls: (d) => manifestIfDeclared(d),
    canKill: false,
    alwaysSsh: true,
    engineEvents: false,
  },
};

export function traitsOf(kind: ProviderKind): KindTraits {
  return PROVIDER_KINDS[kind] as unknown as KindTraits;
}

export function providerFor(target: Target, config: Config): Promise<Provider> {
  return traitsOf(target.provider).make(target as never, config);
}
