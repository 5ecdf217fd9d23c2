/**
 * What the plan suite owes: per plan file (its fleet), one check per (resource change, control)
 * the change falls under (plan-policy.ts), and, for a control no change of the file falls under,
 * one check of the whole plan that its judge proves does not apply, saying why ("no changes", or
 * what the plan does change). So every plan file is answered for every control: a plan that
 * changes nothing is compliant only because the plan says so, and the verdict says "no changes".
 */
import { controlsOf } from '../../core/controls.ts';
import { type PlannedCheck, plannedCheck } from '../../core/run-plan.ts';
import type { PlanInput, SuitePlan } from '../suite.ts';
import { checkPlanFiles, type PlanDoc } from './plan-file.ts';
import { owedControls, type PlanControl, policyOf } from './plan-policy.ts';

/** The resource of a check of the whole plan (a control no change of the plan falls under). */
export const WHOLE_PLAN = '(whole plan)';

/**
 * The sha256 of each plan file as the plan read it: the judging reads the files again and
 * refuses one that changed in between (its checks are broken), so what is judged is what was owed.
 */
const plannedFrom = new Map<string, string>();
export const plannedSha256 = (file: string): string | undefined => plannedFrom.get(file);

/** The checks one plan file owes. */
export function owedOf(doc: PlanDoc, policy: ReturnType<typeof policyOf>): PlannedCheck[] {
  const checks: PlannedCheck[] = [];
  const covered = new Set<PlanControl>();
  for (const c of doc.changes) {
    for (const id of owedControls(c, doc.changes, policy)) {
      covered.add(id);
      checks.push(plannedCheck(id, { fleet: doc.name, resource: c.address }));
    }
  }
  for (const id of controlsOf('plan').map((c) => c.id as PlanControl))
    if (!covered.has(id)) checks.push(plannedCheck(id, { fleet: doc.name, resource: WHOLE_PLAN }));
  return checks;
}

export function planPlans({ config }: PlanInput): SuitePlan {
  // Problems were reported before anything was touched (the suite's check); here they would be a race.
  const docs = checkPlanFiles(config.planFiles);
  const policy = policyOf(config);
  const checks: PlannedCheck[] = [];
  for (const doc of docs) {
    plannedFrom.set(doc.file, doc.sha256);
    checks.push(...owedOf(doc, policy));
  }
  return { checks, notApplicable: [] };
}
