/**
 * The checks the image-integrity suite owes per host: the registry's image controls whose
 * `providers` name the host's kind, those that need a golden manifest only when one can be had,
 * and the non-root and provenance checks only when the policy asks for them.
 */
import type { Config, ReleaseService } from '../../core/config.ts';
import { type ControlsOf, controlsOf } from '../../core/controls.ts';
import type { ProviderKind } from '../../core/inventory.ts';
import { type NotApplicable, type PlannedCheck, plannedCheck } from '../../core/run-plan.ts';
import { traitsOf } from '../../providers/registry.ts';
import { listingCheck, planEmptyFleet } from '../per-host.ts';
import type { PlanInput, SuitePlan } from '../suite.ts';

const suite = 'image-integrity' as const;
type ImageControl = ControlsOf<typeof suite>;

/** Controls owed only under a condition besides the provider kind. */
const OWED_WHEN: Partial<Record<ImageControl, (kind: ProviderKind, declared: ReleaseService | undefined, policy: ImagePolicy) => boolean>> = {
  'DL-IMG-006': (kind, declared) => traitsOf(kind).manifestFromImage || !!declared?.manifest,
  // Judged against the same golden manifest, read in the same session.
  'DL-IMG-017': (kind, declared) => traitsOf(kind).manifestFromImage || !!declared?.manifest,
  'DL-IMG-014': (_k, _d, policy) => policy.nonRoot,
  'DL-IMG-020': (_k, _d, policy) => policy.provenance,
};

/** The policy switches that make a control owed: policy.container.nonRoot, policy.provenance set. */
export interface ImagePolicy {
  nonRoot: boolean;
  provenance: boolean;
}

const policyOf = (config: Config): ImagePolicy => ({ nonRoot: config.policy.container.nonRoot, provenance: !!config.policy.provenance });

/** The image controls a host of this kind owes, in the registry's order. */
export function imageChecksFor(kind: ProviderKind, declared: ReleaseService | undefined, policy: Partial<ImagePolicy> = {}): ImageControl[] {
  const p: ImagePolicy = { nonRoot: false, provenance: false, ...policy };
  return controlsOf(suite)
    .filter((c) => !c.providers || c.providers.includes(kind))
    .map((c) => c.id as ImageControl)
    .filter((id) => OWED_WHEN[id]?.(kind, declared, p) ?? true);
}

export function declaredFor(config: Config, service: string | undefined): ReleaseService | undefined {
  return service !== undefined ? config.release.services[service] : undefined;
}

export function planImages({ config, inventory }: PlanInput): SuitePlan {
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = [];
  for (const snap of inventory) {
    const target = config.targets.find((t) => t.name === snap.target)!;
    if (snap.error) {
      checks.push(listingCheck(snap.target, 'DL-IMG-001'));
      continue;
    }
    if (snap.hosts.length === 0) {
      const empty = planEmptyFleet(suite, target, 'DL-IMG-001');
      if (empty.check) checks.push(empty.check);
      if (empty.notApplicable) notApplicable.push(empty.notApplicable);
      continue;
    }
    if (!config.policy.container.nonRoot && imageChecksFor(snap.provider, undefined, { nonRoot: true }).includes('DL-IMG-014')) {
      notApplicable.push({ fleet: snap.target, suite, control: 'DL-IMG-014', reason: 'policy.container.nonRoot is not set: running as root is allowed' });
    }
    if (!config.policy.provenance && imageChecksFor(snap.provider, undefined, { provenance: true }).includes('DL-IMG-020')) {
      notApplicable.push({
        fleet: snap.target,
        suite,
        control: 'DL-IMG-020',
        reason: 'policy.provenance is not set: no key to verify attestations with, so where the images came from is not checked',
      });
    }
    const said = new Set<string>();
    for (const host of snap.hosts) {
      const service = host.service ?? target.service;
      const declared = declaredFor(config, service);
      const owed = imageChecksFor(snap.provider, declared, policyOf(config));
      // No manifest declared: the golden-manifest checks are left out, and the plan says why (an
      // SSH host has nothing else that proves its image, so its suite is then empty).
      const withManifest = imageChecksFor(snap.provider, { ...declared, manifest: 'declared' }, policyOf(config));
      if (!owed.includes('DL-IMG-006') && withManifest.includes('DL-IMG-006') && !said.has(service ?? '')) {
        said.add(service ?? '');
        const only = owed.length === 0 ? ': nothing else proves the image of a host reached only over SSH, so no image check runs on it' : '';
        const reason = `the release declares no golden manifest for service ${service ?? "(none: set the target's service)"} (release.services.<service>.manifest)${only}`;
        for (const control of ['DL-IMG-006', 'DL-IMG-017'] as const) notApplicable.push({ fleet: snap.target, suite, control, reason });
      }
      for (const id of owed) checks.push(plannedCheck(id, { fleet: snap.target, host: host.id }));
    }
  }
  return { checks, notApplicable };
}
