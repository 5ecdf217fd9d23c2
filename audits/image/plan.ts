/** The checks the image-integrity suite owes per host, by provider kind and what the release declares. */
import type { Config, ReleaseService } from '../../core/config.ts';
import type { ControlId } from '../../core/controls.ts';
import type { FleetSnapshot, ProviderKind } from '../../core/inventory.ts';
import { checkId, type NotApplicable, type PlannedCheck } from '../../core/plan.ts';
import { traitsOf } from '../../providers/registry.ts';
import { listingCheck, planEmptyFleet } from '../per-host.ts';

const suite = 'image-integrity' as const;

export const IMAGE_CONTROLS = {
  declaredImage: 'DL-IMG-001',
  noFilesystemDrift: 'DL-IMG-002',
  readOnlyRoot: 'DL-IMG-003',
  replacedNotRestarted: 'DL-IMG-004',
  noOutOfBandAccess: 'DL-IMG-005',
  goldenManifest: 'DL-IMG-006',
  amiAvailable: 'DL-IMG-007',
  launchedAfterDeploy: 'DL-IMG-008',
  writableMounts: 'DL-IMG-010',
  privileged: 'DL-IMG-011',
  engineSocket: 'DL-IMG-012',
  noNewPrivileges: 'DL-IMG-013',
  nonRoot: 'DL-IMG-014',
  rootVolume: 'DL-IMG-015',
  metadataTokens: 'DL-IMG-016',
} as const satisfies Record<string, ControlId>;

const C = IMAGE_CONTROLS;

/** Test title and story of each check, in the order the suite lists them. */
const CHECKS: Array<{ control: ControlId; title: string; story: string; severity?: 'blocker' }> = [
  { control: C.declaredImage, title: 'runs the image the release declares', story: 'declared image', severity: 'blocker' },
  { control: C.noFilesystemDrift, title: 'no filesystem drift from the image', story: 'no filesystem drift' },
  { control: C.readOnlyRoot, title: 'root filesystem is read-only', story: 'read-only root' },
  { control: C.replacedNotRestarted, title: 'replaced, not restarted in place', story: 'replaced, not restarted' },
  { control: C.noOutOfBandAccess, title: 'no out-of-band access (docker exec)', story: 'no out-of-band access' },
  { control: C.goldenManifest, title: 'files match the golden manifest (over SSH)', story: 'golden manifest' },
  { control: C.amiAvailable, title: 'AMI exists and is available', story: 'AMI available' },
  { control: C.launchedAfterDeploy, title: 'launched after the release was deployed', story: 'replaced on deploy' },
  { control: C.writableMounts, title: 'no writable mount outside the writable paths', story: 'writable mounts' },
  { control: C.privileged, title: 'not privileged, no CAP_SYS_ADMIN', story: 'privileged' },
  { control: C.engineSocket, title: "the engine's socket is not mounted", story: 'engine socket' },
  { control: C.noNewPrivileges, title: 'no-new-privileges is set', story: 'no new privileges' },
  { control: C.nonRoot, title: 'runs as a non-root user', story: 'non-root' },
  { control: C.rootVolume, title: 'the root volume is deleted on termination', story: 'root volume' },
  { control: C.metadataTokens, title: 'instance metadata requires tokens (IMDSv2)', story: 'instance metadata' },
];

/** Which image checks a host of this provider kind gets: the kind's own traits say. */
export function imageChecksFor(provider: ProviderKind, declared: ReleaseService | undefined, nonRoot = false): ControlId[] {
  return traitsOf(provider).imageControls(declared, { nonRoot });
}

export function declaredFor(config: Config, service: string | undefined): ReleaseService | undefined {
  return service !== undefined ? config.release.services[service] : undefined;
}

export function planImages(config: Config, inventory: FleetSnapshot[]): { checks: PlannedCheck[]; notApplicable: NotApplicable[] } {
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = [];
  for (const snap of inventory) {
    const target = config.targets.find((t) => t.name === snap.target)!;
    if (snap.error) {
      checks.push(listingCheck(suite, snap.target, C.declaredImage));
      continue;
    }
    if (snap.hosts.length === 0) {
      const empty = planEmptyFleet(suite, target, C.declaredImage);
      if (empty.check) checks.push(empty.check);
      if (empty.notApplicable) notApplicable.push(empty.notApplicable);
      continue;
    }
    const kind = traitsOf(snap.provider);
    if (!config.policy.container.nonRoot && kind.imageControls(undefined, { nonRoot: true }).includes(C.nonRoot)) {
      notApplicable.push({ fleet: snap.target, suite, control: C.nonRoot, reason: 'policy.container.nonRoot is not set: running as root is allowed' });
    }
    const said = new Set<string>();
    for (const host of snap.hosts) {
      const service = host.service ?? target.service;
      const declared = declaredFor(config, service);
      const owed = new Set(imageChecksFor(snap.provider, declared, config.policy.container.nonRoot));
      // No manifest declared: the golden-manifest check is left out, and the plan says why (an
      // SSH host has nothing else that proves its image, so its suite is then empty).
      const withManifest = kind.imageControls({ ...declared, manifest: 'declared' }, config.policy.container);
      if (!owed.has(C.goldenManifest) && withManifest.includes(C.goldenManifest) && !said.has(service ?? '')) {
        said.add(service ?? '');
        const only = owed.size === 0 ? ': nothing else proves the image of a host reached only over SSH, so no image check runs on it' : '';
        notApplicable.push({
          fleet: snap.target,
          suite,
          control: C.goldenManifest,
          reason: `the release declares no golden manifest for service ${service ?? "(none: set the target's service)"} (release.services.<service>.manifest)${only}`,
        });
      }
      for (const c of CHECKS) {
        if (!owed.has(c.control)) continue;
        checks.push({
          id: checkId(snap.target, host.id, c.control),
          control: c.control,
          suite,
          fleet: snap.target,
          host: host.id,
          title: `${c.control} ${c.title}`,
          story: c.story,
          ...(c.severity ? { severity: c.severity } : {}),
        });
      }
    }
  }
  return { checks, notApplicable };
}
