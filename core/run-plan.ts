/**
 * The run plan: every check a run owes, computed before any probing (audits/plan-run.ts), and every
 * control that does not apply, with the reason. The plan is the contract: a check the plan owes
 * and no result answers is never a pass.
 */
import { createHash } from 'node:crypto';
import { control, type ControlId, type Severity, severityOf, type SuiteName } from './controls.ts';

export interface PlannedCheck {
  /** Unique within the plan: fleet/host/control[:item] (fleet/resource/control for a resource check). */
  id: string;
  control: ControlId;
  suite: SuiteName;
  fleet: string;
  /** Absent for a fleet-wide check. */
  host?: string;
  /**
   * A resource-scoped check (the plan suite): the address of the resource change it judges; its
   * fleet is then the plan file. Never set together with host.
   */
  resource?: string;
  /** Which of several checks of one control on one host (e.g. the edit "canary:/etc"). */
  item?: string;
  /** The test's title in the report. */
  title: string;
  /** Allure story: what is tried, in a few words. */
  story: string;
  severity?: Severity;
}

export interface NotApplicable {
  fleet: string;
  host?: string;
  resource?: string;
  suite: SuiteName;
  /** Absent: the whole suite does not apply to the fleet. */
  control?: ControlId;
  reason: string;
}

export interface RunPlan {
  suites: SuiteName[];
  checks: PlannedCheck[];
  notApplicable: NotApplicable[];
}

export function checkId(fleet: string, where: string | undefined, control: string, item?: string): string {
  return `${fleet}/${where ?? '-'}/${control}${item ? `:${item}` : ''}`;
}

/**
 * A planned check of a registry control: its suite, title, story and severity come from the
 * registry; `what` names one of several checks of the control on a host (an edit, say). A
 * resource-scoped check names its resource in its title, so each change reads on its own.
 */
export function plannedCheck(id: ControlId, where: { fleet: string; host?: string; resource?: string }, item?: { id: string; what: string }): PlannedCheck {
  const c = control(id);
  return {
    id: checkId(where.fleet, where.host ?? where.resource, id, item?.id),
    control: id,
    suite: c.suite,
    fleet: where.fleet,
    ...(where.host ? { host: where.host } : {}),
    ...(where.resource ? { resource: where.resource } : {}),
    ...(item ? { item: item.id } : {}),
    title: `${id} ${item?.what ?? c.name}${where.resource ? `: ${where.resource}` : ''}`,
    story: item?.what ?? c.name,
    severity: severityOf(id),
  };
}

/** A digest of what the plan owes (ids only): shards of one run must agree on it. */
export function planHash(plan: RunPlan): string {
  const h = createHash('sha256');
  for (const id of plan.checks.map((c) => c.id).sort()) h.update(id).update('\n');
  return `sha256:${h.digest('hex')}`;
}
