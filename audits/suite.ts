/**
 * A suite is one module: what it owes (its plan), what it gathers (probing, through probes/ and
 * providers/), and its judges, one per control of the registry, keyed by control id. The type of
 * `judges` is computed from the registry: a control of the suite without a judge, or a judge
 * for no control of the suite, does not compile (test/unit/suite-contract.test.ts shows both).
 */
import { type CheckResult, Judgement } from '../core/check-result.ts';
import type { Config, Release } from '../core/config.ts';
import type { ControlsOf } from '../core/controls.ts';
import { errorMessage } from '../core/errors.ts';
import type { FleetSnapshot } from '../core/inventory.ts';
import type { NotApplicable, PlannedCheck } from '../core/run-plan.ts';
import type { DeploySnapshot } from '../core/run.ts';
import type { SuiteName } from '../core/suites.ts';
import type { KillBudget } from './chaos/budget.ts';

/** What a suite plans from: nothing here touches a target. */
export interface PlanInput {
  config: Config;
  inventory: FleetSnapshot[];
  /** `--before snapshot.json`: the deploy is judged from a snapshot (observed mode). */
  deployBefore?: string;
}

export interface SuitePlan {
  checks: PlannedCheck[];
  notApplicable: NotApplicable[];
}

/** What a suite gathers with: the run, and only the checks this run (or shard) owes of it. */
export interface SuiteRun {
  runId: string;
  seed: number;
  startedAt: string;
  config: Config;
  inventory: FleetSnapshot[];
  owed: PlannedCheck[];
  /** One kill budget for the whole run, across all fleets (safety.maxKills). */
  budget: KillBudget;
  /** Re-reads the release from the config (a deploy command updates it). */
  reloadRelease: () => Release;
  deployBefore?: DeploySnapshot;
  /**
   * What the suites of earlier phases of this run gathered, by suite: a suite that follows
   * another (core/suites.ts) audits what that one brought up (chaos's replacements, a new release).
   */
  earlier?: ReadonlyMap<SuiteName, unknown>;
  progress: (line: string) => void;
}

export type Judge<Unit> = (j: Judgement, unit: Unit, check: PlannedCheck, run: SuiteRun) => CheckResult;

/** Exactly one judge per control of the suite in the registry. */
export type Judges<S extends SuiteName, Unit> = { readonly [K in ControlsOf<S>]: Judge<Unit> };

/**
 * The facts one check is judged on (its host's, its fleet's), or the result that says why it
 * cannot be judged (the fleet could not be listed, the host was not reached): then broken.
 */
export type UnitOf<Facts, Unit> = (facts: Facts, check: PlannedCheck, j: Judgement, run: SuiteRun) => { unit: Unit } | { result: CheckResult };

export interface Suite<S extends SuiteName, Facts, Unit> {
  name: S;
  /**
   * Checks the suite's own inputs (files the config names, read by the suite alone) right after
   * the config is loaded, before anything is listed or touched: throws a ConfigInvalidError (exit 2).
   */
  check?(config: Config): void;
  plan(input: PlanInput): SuitePlan;
  gather(run: SuiteRun): Promise<Facts>;
  unitOf: UnitOf<Facts, Unit>;
  judges: Judges<S, Unit>;
}

/** A suite as the engine runs it, its types erased (the registry typing is held by `defineSuite`). */
export interface SuiteModule {
  name: SuiteName;
  check?(config: Config): void;
  plan(input: PlanInput): SuitePlan;
  gather(run: SuiteRun): Promise<unknown>;
  unitOf: UnitOf<unknown, unknown>;
  judges: Readonly<Record<string, Judge<unknown>>>;
}

export function defineSuite<S extends SuiteName, Facts, Unit>(suite: Suite<S, Facts, Unit>): SuiteModule {
  return suite as unknown as SuiteModule;
}

export interface SuiteOutcome {
  /** One judgement per owed check. */
  results: CheckResult[];
  /** Why the suite's gathering failed (its checks are then broken), if it did. */
  error?: string;
  /** What it gathered (for the suites that follow it), when the gathering succeeded. */
  facts?: unknown;
}

/**
 * Gathers and judges one suite; never throws for what happens on the targets. A gathering that
 * fails makes every owed check broken with the reason; a judge that throws makes its check broken
 * and says the harness failed (a bug of driftless, not a finding about the host).
 */
export async function runSuite(suite: SuiteModule, run: SuiteRun): Promise<SuiteOutcome> {
  let facts: unknown;
  try {
    facts = await suite.gather(run);
  } catch (err) {
    const error = `the ${suite.name} audit failed: ${errorMessage(err)}`;
    run.progress(error);
    return { error, results: run.owed.map((c) => new Judgement(c.id).broken(`${error}; so this check was not judged`)) };
  }
  const results = judgeChecks(suite, facts, run.owed, run);
  return { results, facts };
}

/** Judges `checks` with a suite's gathered facts: pure, so tests judge without a target. */
export function judgeChecks(suite: SuiteModule, facts: unknown, checks: readonly PlannedCheck[], run: SuiteRun): CheckResult[] {
  return checks.map((check) => {
    const j = new Judgement(check.id);
    try {
      const u = suite.unitOf(facts, check, j, run);
      if ('result' in u) return u.result;
      const judge = suite.judges[check.control];
      if (!judge) return j.broken(`HARNESS ERROR: the ${suite.name} suite has no judge for ${check.control}`);
      return judge(j, u.unit, check, run);
    } catch (err) {
      return new Judgement(check.id).broken(
        `HARNESS ERROR: the judge of ${check.control} failed (a bug of driftless, not a finding about the host): ${errorMessage(err)}`,
      );
    }
  });
}
