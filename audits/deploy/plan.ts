/**
 * The checks the deploy suite owes, per fleet the deploy rolls out to. Driven (deploy.command):
 * all six. Observed (--before snapshot.json, the pipeline deployed): replaced, new release and
 * patched-in-place; load, capacity and state were not watched, and the plan says so.
 */
import type { Config } from '../../core/config.ts';
import type { ControlId } from '../../core/controls.ts';
import { checkId, type NotApplicable, type PlannedCheck } from '../../core/plan.ts';
import { traitsOf } from '../../providers/registry.ts';

const suite = 'deploy' as const;

export const DEPLOY = {
  replaced: 'DL-DEP-001',
  newRelease: 'DL-DEP-002',
  notPatched: 'DL-DEP-003',
  capacity: 'DL-DEP-004',
  slo: 'DL-DEP-005',
  state: 'DL-DEP-006',
} as const satisfies Record<string, ControlId>;

const CHECKS: Array<{ control: ControlId; title: string; story: string; watched?: true; engine?: true }> = [
  { control: DEPLOY.replaced, title: 'every instance that served before the deploy is gone after it', story: 'replaced, not patched' },
  { control: DEPLOY.newRelease, title: "every instance after the deploy runs the new release's image", story: 'new release everywhere' },
  { control: DEPLOY.notPatched, title: 'nothing was patched in place while the deploy ran', story: 'not patched in place', engine: true },
  { control: DEPLOY.capacity, title: 'capacity never fell below the minimum healthy share', story: 'capacity held', watched: true },
  { control: DEPLOY.slo, title: 'errors and p99 latency stayed within the SLO while it rolled', story: 'SLO during the deploy', watched: true },
  { control: DEPLOY.state, title: 'state written before the deploy reads back after it', story: 'state survives', watched: true },
];

export type DeployMode = 'driven' | 'observed' | 'none';

export function deployMode(config: Config, before: string | undefined): DeployMode {
  return before ? 'observed' : config.deploy ? 'driven' : 'none';
}

/** The fleets a deploy rolls out to: deploy.fleets, else every target a deploy can replace. */
export function deployFleets(config: Config): string[] {
  return config.deploy?.fleets ?? config.targets.filter((t) => traitsOf(t.provider).canKill).map((t) => t.name);
}

export function planDeploy(config: Config, mode: DeployMode): { checks: PlannedCheck[]; notApplicable: NotApplicable[] } {
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = [];
  const mine = new Set(deployFleets(config));
  for (const t of config.targets) {
    if (mode === 'none') {
      notApplicable.push({ fleet: t.name, suite, reason: 'no deploy.command in the config and no --before snapshot: there is no deploy to watch' });
      continue;
    }
    if (!mine.has(t.name)) {
      const why = traitsOf(t.provider).canKill ? 'not one of deploy.fleets' : `a static list of SSH hosts: driftless cannot tell one incarnation from the next`;
      notApplicable.push({ fleet: t.name, suite, reason: `target "${t.name}" is ${why}: the deploy suite does not apply` });
      continue;
    }
    for (const c of CHECKS) {
      if (c.watched && mode === 'observed') {
        notApplicable.push({
          fleet: t.name,
          suite,
          control: c.control,
          reason: 'observed mode (--before): driftless did not run the deploy, so load, capacity and state were not watched',
        });
        continue;
      }
      if (c.watched && !t.entrypoint && c.control !== DEPLOY.capacity) {
        notApplicable.push({ fleet: t.name, suite, control: c.control, reason: `target "${t.name}" has no entrypoint: no load or state to measure` });
        continue;
      }
      if (c.engine && !traitsOf(t.provider).engineEvents) {
        notApplicable.push({
          fleet: t.name,
          suite,
          control: c.control,
          reason: `${t.provider} fleets have no engine event record of in-place changes: run the image-integrity suite (golden manifest over SSH) after the deploy`,
        });
        continue;
      }
      checks.push({ id: checkId(t.name, undefined, c.control), control: c.control, suite, fleet: t.name, title: `${c.control} ${c.title}`, story: c.story });
    }
  }
  return { checks, notApplicable };
}
