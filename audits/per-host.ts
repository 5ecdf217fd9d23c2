/**
 * What the per-host suites share in planning and judging: a fleet that could not be listed owes
 * one "can be listed" check (broken, with the reason), an empty fleet one "has hosts" check, and
 * a host the audit has no facts for is broken.
 */
import type { CheckResult, Judgement } from '../core/check-result.ts';
import type { ControlId, SuiteName } from '../core/controls.ts';
import type { Target } from '../core/config.ts';
import { type NotApplicable, type PlannedCheck, plannedCheck } from '../core/run-plan.ts';
import type { SuiteRun } from './suite.ts';

/**
 * An empty fleet owes one check that can only be broken, unless the config says it may be empty
 * (then the suite does not apply to it, and the plan says why): "no hosts" is never "compliant".
 */
export function planEmptyFleet(suite: SuiteName, target: Target, control: ControlId): { check?: PlannedCheck; notApplicable?: NotApplicable } {
  if ('mayBeEmpty' in target && target.mayBeEmpty) {
    return { notApplicable: { fleet: target.name, suite, reason: `fleet "${target.name}" has no hosts, and targets[].mayBeEmpty says it may be empty` } };
  }
  return { check: plannedCheck(control, { fleet: target.name }, { id: 'empty', what: `fleet ${target.name} has hosts to audit` }) };
}

export function listingCheck(fleet: string, control: ControlId): PlannedCheck {
  return plannedCheck(control, { fleet }, { id: 'inventory', what: `hosts of fleet ${fleet} can be listed` });
}

/**
 * The facts of a check's host, after the cases every per-host suite shares: the fleet could not
 * be listed, it is empty, or the audit has no facts for the host.
 */
export function hostUnit<F extends { fleet: string; host: string }>(what: string) {
  const index = new WeakMap<F[], Map<string, F>>();
  return (facts: F[], check: PlannedCheck, j: Judgement, run: SuiteRun): { unit: F } | { result: CheckResult } => {
    if (check.item === 'empty') {
      return {
        result: j.broken(
          `fleet ${check.fleet} has no hosts, so nothing of it was audited: check its selector, or set mayBeEmpty: true on the target if an empty fleet is expected`,
        ),
      };
    }
    if (check.item === 'inventory') {
      const snap = run.inventory.find((s) => s.target === check.fleet);
      return { result: j.broken(`could not list the hosts of fleet ${check.fleet}: ${snap?.error ?? 'unknown error'}`) };
    }
    let byHost = index.get(facts);
    if (!byHost) index.set(facts, (byHost = new Map(facts.map((a) => [`${a.fleet}/${a.host}`, a]))));
    const a = byHost.get(`${check.fleet}/${check.host}`);
    if (!a) return { result: j.broken(`no ${what} result for ${check.host} in fleet ${check.fleet}: the audit did not reach it`) };
    return { unit: a };
  };
}
