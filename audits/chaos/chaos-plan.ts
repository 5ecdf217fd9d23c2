/** The checks the chaos suite owes: one per chaos control per fleet that has an entrypoint and can be killed. */
import { controlsOf, type ControlId } from '../../core/controls.ts';
import { type NotApplicable, type PlannedCheck, plannedCheck } from '../../core/run-plan.ts';
import { traitsOf } from '../../providers/registry.ts';
import type { PlanInput, SuitePlan } from '../suite.ts';

const suite = 'chaos' as const;

export function planChaos({ config }: PlanInput): SuitePlan {
  const checks: PlannedCheck[] = [];
  const notApplicable: NotApplicable[] = [];
  for (const t of config.targets) {
    if (!traitsOf(t.provider).canKill) {
      notApplicable.push({
        fleet: t.name,
        suite,
        reason: `target "${t.name}" is a static list of SSH hosts: driftless cannot kill them, chaos not applicable`,
      });
      continue;
    }
    if (!t.entrypoint) {
      notApplicable.push({ fleet: t.name, suite, reason: `target "${t.name}" has no entrypoint: no load or state to measure, chaos not applicable` });
      continue;
    }
    for (const c of controlsOf(suite)) checks.push(plannedCheck(c.id as ControlId, { fleet: t.name }));
  }
  return { checks, notApplicable };
}
