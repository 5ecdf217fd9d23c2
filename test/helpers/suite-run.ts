/** A SuiteRun for judging facts in unit tests: no target is touched, nothing is killed. */
import { KillBudget } from '../../audits/chaos/budget.ts';
import { imageIntegritySuite } from '../../audits/image/image-suite.ts';
import { sshEditsSuite } from '../../audits/ssh-edits/ssh-edits-suite.ts';
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

/** The ssh-edits judgements of `checks` from host audits, with the policy that matters to them. */
export function judgeSshEdits(
  checks: readonly PlannedCheck[],
  audits: unknown[],
  inventory: FleetSnapshot[],
  policy: { immutablePaths: string[]; writablePaths: string[] },
): CheckResult[] {
  const config = { policy: { ssh: policy }, safety: { maxKills: 0 } } as unknown as Config;
  return judge(sshEditsSuite, audits, checks, config, inventory);
}

/** The image-integrity judgements of `checks` from host audits, with the config bits that matter to them. */
export function judgeImages(
  checks: readonly PlannedCheck[],
  audits: unknown[],
  inventory: FleetSnapshot[],
  releaseName: string | undefined,
  metadataOnly: string[] = [],
  writablePaths: string[] = [],
): CheckResult[] {
  const config = {
    release: { name: releaseName, services: {} },
    policy: { ssh: { writablePaths }, manifest: { metadataOnly } },
    safety: { maxKills: 0 },
  } as unknown as Config;
  return judge(imageIntegritySuite, audits, checks, config, inventory);
}
