/** A SuiteRun for judging facts in unit tests: no target is touched, nothing is killed. */
import { KillBudget } from '../../audits/chaos/budget.ts';
import { judgeChecks, type SuiteModule, type SuiteRun } from '../../audits/suite.ts';
import type { CheckResult } from '../../core/check-result.ts';
import type { Config } from '../../core/config.ts';
import type { FleetSnapshot } from '../../core/inventory.ts';
import type { PlannedCheck } from '../../core/run-plan.ts';

export function suiteRun(config: Config, inventory: FleetSnapshot[] = [], owed: PlannedCheck[] = []): SuiteRun {
  return {
    runId: 'unit',
    seed: 1,
    startedAt: new Date().toISOString(),
    config,
    inventory,
    owed,
    budget: new KillBudget(config.safety?.maxKills ?? 0),
    reloadRelease: () => config.release,
    progress: () => {},
  };
}

/** The judgements of `checks` from a suite's facts, as the engine makes them. */
export function judge(suite: SuiteModule, facts: unknown, checks: readonly PlannedCheck[], config: Config, inventory: FleetSnapshot[] = []): CheckResult[] {
  return judgeChecks(suite, facts, checks, suiteRun(config, inventory, [...checks]));
}
