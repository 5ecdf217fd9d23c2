/**
 * What the per-host suites share in planning and judging: a fleet that could not be listed owes
 * one "can be listed" check (broken, with the reason), and a host without facts is broken.
 */
import { type CheckResult, Judgement } from '../core/check-result.ts';
import type { ControlId, SuiteName } from '../core/controls.ts';
import type { FleetSnapshot } from '../core/inventory.ts';
import type { Target } from '../core/config.ts';
import { checkId, type NotApplicable, type PlannedCheck } from '../core/plan.ts';

/**
 * An empty fleet owes one check that can only be broken, unless the config says it may be empty
 * (then the suite does not apply to it, and the plan says why): "no hosts" is never "compliant".
 */
export function planEmptyFleet(suite: SuiteName, target: Target, control: ControlId): { check?: PlannedCheck; notApplicable?: NotApplicable } {
  if ('mayBeEmpty' in target && target.mayBeEmpty) {
    return { notApplicable: { fleet: target.name, suite, reason: `fleet "${target.name}" has no hosts, and targets[].mayBeEmpty says it may be empty` } };
  }
  return {
    check: {
      id: checkId(target.name, undefined, control, 'empty'),
      control,
      suite,
      fleet: target.name,
      item: 'empty',
      title: `${control} fleet ${target.name} has hosts to audit`,
      story: 'inventory',
    },
  };
}

export function listingCheck(suite: SuiteName, fleet: string, control: ControlId): PlannedCheck {
  return {
    id: checkId(fleet, undefined, control, 'inventory'),
    control,
    suite,
    fleet,
    item: 'inventory',
    title: `${control} hosts of fleet ${fleet} can be listed`,
    story: 'inventory',
  };
}

/**
 * Judges each check with the facts of its host (`judge`), after the cases every per-host suite
 * shares: the fleet could not be listed, or the audit has no facts for the host.
 */
export function judgePerHost<F extends { fleet: string; host: string }>(
  what: string,
  checks: PlannedCheck[],
  facts: F[],
  inventory: FleetSnapshot[],
  judge: (j: Judgement, facts: F, check: PlannedCheck) => CheckResult,
): CheckResult[] {
  const byHost = new Map(facts.map((a) => [`${a.fleet}/${a.host}`, a]));
  return checks.map((check) => {
    const j = new Judgement(check.id);
    if (check.item === 'empty') {
      return j.broken(
        `fleet ${check.fleet} has no hosts, so nothing of it was audited: check its selector, or set mayBeEmpty: true on the target if an empty fleet is expected`,
      );
    }
    if (check.item === 'inventory') {
      const snap = inventory.find((s) => s.target === check.fleet);
      return j.broken(`could not list the hosts of fleet ${check.fleet}: ${snap?.error ?? 'unknown error'}`);
    }
    const a = byHost.get(`${check.fleet}/${check.host}`);
    if (!a) return j.broken(`no ${what} result for ${check.host} in fleet ${check.fleet}: the audit did not reach it`);
    return judge(j, a, check);
  });
}
