/**
 * The run plan, before any probing: from the config, the inventory snapshot and the selected
 * suites, every (fleet, host, control) the run owes, and every control that does not apply with
 * the reason. Each suite plans its own checks (its `plan`, audits/<suite>/<suite>-plan.ts).
 */
import type { ControlId } from '../core/controls.ts';
import type { PlannedCheck, RunPlan } from '../core/run-plan.ts';
import type { SuiteName } from '../core/suites.ts';
import type { PlanInput, SuiteModule } from './suite.ts';
import { SUITE_MODULES } from './suites.ts';

export function computePlan(input: PlanInput, suites: readonly SuiteName[], modules: Readonly<Record<string, SuiteModule>> = SUITE_MODULES): RunPlan {
  const plan: RunPlan = { suites: [...suites], checks: [], notApplicable: [] };
  const off = new Map(input.config.policy.disabledControls.map((d) => [d.control, d.reason]));
  for (const suite of suites) {
    const part = modules[suite]!.plan(input);
    // A control switched off in the config is left out on purpose, and the plan says so, once per
    // fleet. Whether a fleet can be listed and has hosts is not a control: it is always owed.
    const switchedOff = (c: PlannedCheck) => off.has(c.control) && c.item !== 'inventory' && c.item !== 'empty';
    const kept = part.checks.filter((c) => !switchedOff(c));
    const dropped = new Set(part.checks.filter(switchedOff).map((c) => `${c.fleet}\u0000${c.control}`));
    plan.checks.push(...kept);
    plan.notApplicable.push(...part.notApplicable);
    for (const key of dropped) {
      const [fleet, control] = key.split('\u0000') as [string, ControlId];
      plan.notApplicable.push({ fleet, suite, control, reason: `switched off by policy.disabledControls: ${off.get(control)}` });
    }
  }
  return plan;
}

/**
 * The checks shard `index` of `total` owes: hosts (and fleets, for fleet-wide checks) are dealt
 * round-robin in a fixed order, so every shard of one plan agrees and each host is probed by one
 * shard only.
 */
export function shardChecks(plan: RunPlan, shard: { index: number; total: number } | null): PlannedCheck[] {
  if (!shard) return plan.checks;
  const unit = (c: PlannedCheck) => `${c.fleet}\u0000${c.host ?? ''}`;
  const units = [...new Set(plan.checks.map(unit))].sort();
  const mine = new Set(units.filter((_, i) => i % shard.total === shard.index - 1));
  return plan.checks.filter((c) => mine.has(unit(c)));
}
