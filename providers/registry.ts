/**
 * The kinds of fleet driftless knows, one line each. A new kind is a folder providers/<kind>/
 * with a class implementing Provider, a line here, and its target shape in
 * schemas/config.schema.json (README, "Extending"). Kinds are imported on first use: the AWS
 * SDK costs ~0.5 s in every process that loads it, and most runs never touch EC2.
 */
import type { Config, Target } from '../core/config.ts';
import type { ProviderKind } from '../core/inventory.ts';
import type { Provider } from './provider.ts';

type Factory<K extends ProviderKind> = (target: Extract<Target, { provider: K }>, config: Config) => Promise<Provider>;

/**
 * What the plan and the judgements need to know of a kind before any host is listed: what the
 * release must name as its hosts' image, whether a golden manifest can be taken from the image
 * itself, and whether chaos can kill them. Which controls a kind owes is the registry's
 * `providers` (core/controls/*.ts). The plan reads these; no suite switches on the kind's name.
 */
export interface KindTraits<K extends ProviderKind = ProviderKind> {
  make: Factory<K>;
  /** The golden manifest (DL-IMG-006) comes from the running image when the release names none. */
  manifestFromImage: boolean;
  /** The release field that names what this kind of host must run (none: only a manifest can). */
  declaredImageField?: 'digest' | 'ami';
  /** Chaos can kill an instance of this kind (and something is expected to replace it). */
  canKill: boolean;
  /** Its hosts are reached over SSH whether or not the target has an `ssh` section. */
  alwaysSsh: boolean;
  /** The provider keeps a record of in-place changes (exec, copy, restart): Provider.inPlaceChanges. */
  engineEvents: boolean;
}

export const PROVIDER_KINDS: { [K in ProviderKind]: KindTraits<K> } = {
  docker: {
    make: async (t, c) => {
      const { DockerProvider, dockerFleetOf } = await import('./docker/provider.ts');
      return new DockerProvider(dockerFleetOf(t, c.safety.optInLabel));
    },
    manifestFromImage: true,
    declaredImageField: 'digest',
    canKill: true,
    alwaysSsh: false,
    engineEvents: true,
  },
  ec2: {
    make: async (t, c) => new (await import('./ec2/provider.ts')).Ec2Provider(t, c.safety.optInTag),
    manifestFromImage: false,
    declaredImageField: 'ami',
    canKill: true,
    alwaysSsh: false,
    engineEvents: false,
  },
  ssh: {
    make: async (t) => new (await import('./ssh/provider.ts')).StaticSshProvider(t),
    manifestFromImage: false,
    canKill: false,
    alwaysSsh: true,
    engineEvents: false,
  },
};

export function traitsOf(kind: ProviderKind): KindTraits {
  return PROVIDER_KINDS[kind] as unknown as KindTraits;
}

const made = new WeakMap<Config, Map<string, Promise<Provider>>>();

/** One provider per target of a loaded config: the snapshot, the suites and chaos share it (and its engine connection). */
export function providerFor(target: Target, config: Config): Promise<Provider> {
  let mine = made.get(config);
  if (!mine) made.set(config, (mine = new Map()));
  let p = mine.get(target.name);
  if (!p || config.targets.find((t) => t.name === target.name) !== target) {
    p = traitsOf(target.provider).make(target as never, config);
    mine.set(target.name, p);
  }
  return p;
}
