/**
 * The plan suite: the pre-release gate. It reads the Terraform/OpenTofu plans (and CloudFormation
 * change sets) that plan.files names (or `driftless plan-check` is given), owes one check per
 * (resource change, control), and judges, before anything is deployed, that compute is replaced
 * and never updated in place, that a new launch template reaches the running instances, and that
 * no replacement destroys state. It touches no target: its checks' fleets are the plan files.
 */
import { defineSuite } from '../suite.ts';
import { checkPlanFiles, readPlanFile } from './plan-file.ts';
import { type PlanFacts, PLAN_JUDGES, planUnit } from './plan-judges.ts';
import { planPlans } from './plan-owed.ts';

export const planSuite = defineSuite({
  name: 'plan',
  // An unreadable, binary, empty or unsupported plan is a config error (exit 2), before anything runs.
  check: (config) => void checkPlanFiles(config.planFiles),
  plan: planPlans,
  async gather(run): Promise<PlanFacts> {
    const facts: PlanFacts = new Map();
    const owed = new Set(run.owed.map((c) => c.fleet));
    for (const pf of run.config.planFiles.filter((f) => owed.has(f.name))) {
      const r = readPlanFile(pf);
      facts.set(pf.name, 'doc' in r ? { doc: r.doc } : { error: `plan file ${pf.name} cannot be judged any more: ${r.problems.join('; ')}` });
    }
    return facts;
  },
  unitOf: (facts, check, j, run) => planUnit(facts, check, j, run),
  judges: PLAN_JUDGES,
});
