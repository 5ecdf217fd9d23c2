/**
 * The checks the deploy suite owes, per fleet the deploy rolls out to. Driven (deploy.command):
 * all six. Observed (--before snapshot.json, the pipeline deployed): replaced, new release and
 * patched-in-place; load, capacity and state were not watched, and the plan says so.
 */
import type { Config } from '../../core/config.ts';
import { type ControlsOf, controlsOf } from '../../core/controls.ts';
import { type NotApplicable, type PlannedCheck, plannedCheck } from '../../core/run-plan.ts';
import { traitsOf } from '../../providers/registry.ts';
import type { PlanInput, SuitePlan } from '../suite.ts';

const suite = 'deploy' as const;

type DeployControl = ControlsOf<typeof suite>;
/** Judged from what driftless watched while it ran the deploy: not in observed mode. */
const WATCHED = new Set<DeployControl>(['DL-DEP-004', 'DL-DEP-005', 'DL-DEP-006']);
/** Measured through the entrypoint (load, state). */
const THROUGH_ENTRYPOINT = new Set<DeployControl>(['DL-DEP-005', 'DL-DEP-006']);
/** Needs the provider's record of in-place changes. */
const FROM_ENGINE_EVENTS = new Set<DeployControl>(['DL-DEP-003']);

export type DeployMode = 'driven' | 'observed' | 'none';

export function deployMode(config: Config, before: string | undefined): DeployMode {
  return before ? 'observed' : config.deploy ? 'driven' : 'none';
}

/** The fleets a deploy rolls out to: deploy.fleets, else every target a deploy can replace. */
export function deployFleets(config: Config): string[] {
  return config.deploy?.fleets ?? config.targets.filter((t) => traitsOf(t.provider).canKill).map((t) => t.name);
}

export function planDeploy({ config, deployBefore }: PlanInput): SuitePlan {
  const mode = deployMode(config, deployBefore);
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
    for (const id of controlsOf(suite).map((c) => c.id as DeployControl)) {
      if (WATCHED.has(id) && mode === 'observed') {
        notApplicable.push({
          fleet: t.name,
          suite,
          control: id,
          reason: 'observed mode (--before): driftless did not run the deploy, so load, capacity and state were not watched',
        });
        continue;
      }
      if (THROUGH_ENTRYPOINT.has(id) && !t.entrypoint) {
        notApplicable.push({ fleet: t.name, suite, control: id, reason: `target "${t.name}" has no entrypoint: no load or state to measure` });
        continue;
      }
      if (FROM_ENGINE_EVENTS.has(id) && !traitsOf(t.provider).engineEvents) {
        notApplicable.push({
          fleet: t.name,
          suite,
          control: id,
          reason: `${t.provider} fleets have no engine event record of in-place changes: run the image-integrity suite (golden manifest over SSH) after the deploy`,
        });
        continue;
      }
      checks.push(plannedCheck(id, { fleet: t.name }));
    }
  }
  return { checks, notApplicable };
}
