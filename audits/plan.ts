/**
 * The run plan, before any probing: from the config, the inventory snapshot and the selected
 * suites, every (fleet, host, control) the run owes, and every control that does not apply with
 * the reason. Each suite plans its own checks (audits/<suite>/plan.ts).
 */
import type { Config } from '../core/config.ts';
import type { ControlId, SuiteName } from '../core/controls.ts';
import type { FleetSnapshot } from '../core/inventory.ts';
import type { PlannedCheck, RunPlan } from '../core/plan.ts';
import { planChaos } from './chaos/plan.ts';
import { deployMode, planDeploy } from './deploy/plan.ts';
import { planImages } from './image/plan.ts';
import { planSshEdits } from './ssh-edits/plan.ts';

export function computePlan(config: Config, inventory: FleetSnapshot[], suites: readonly SuiteName[], opts: { deployBefore?: string } = {}): RunPlan {
  const plan: RunPlan = { suites: [...suites], checks: [], notApplicable: [] };
  const off = new Map(config.policy.disabledControls.map((d) => [d.control, d.reason]));
  const planners: Record<SuiteName, () => ReturnType<typeof planChaos>> = {
    'ssh-edits': () => planSshEdits(config, inventory),
    'image-integrity': () => planImages(config, inventory),
    chaos: () => planChaos(config),
    deploy: () => planDeploy(config, deployMode(config, opts.deployBefore)),
  };
  for (const suite of suites) {
    const part = planners[suite]();
    // A control switched off in the config is left out on purpose, and the plan says so, once per fleet.
    const kept = part.checks.filter((c) => !off.has(c.control));
    const dropped = new Set(part.checks.filter((c) => off.has(c.control)).map((c) => `${c.fleet}\u0000${c.control}`));
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
