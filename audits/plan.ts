/**
 * The run plan, before any probing: from the config, the inventory snapshot and the selected
 * suites, every (fleet, host, control) the run owes, and every control that does not apply with
 * the reason. Each suite plans its own checks (audits/<suite>/plan.ts).
 */
import type { Config } from '../core/config.ts';
import type { SuiteName } from '../core/controls.ts';
import type { FleetSnapshot } from '../core/inventory.ts';
import type { RunPlan } from '../core/plan.ts';
import { planChaos } from './chaos/plan.ts';
import { planImages } from './image/plan.ts';
import { planSshEdits } from './ssh-edits/plan.ts';

export function computePlan(config: Config, inventory: FleetSnapshot[], suites: readonly SuiteName[]): RunPlan {
  const plan: RunPlan = { suites: [...suites], checks: [], notApplicable: [] };
  for (const suite of suites) {
    const part = suite === 'ssh-edits' ? planSshEdits(config, inventory) : suite === 'image-integrity' ? planImages(config, inventory) : planChaos(config);
    plan.checks.push(...part.checks);
    plan.notApplicable.push(...part.notApplicable);
  }
  return plan;
}
