/**
 * The controls registry: every check driftless can make, in one place. A control's id is stable
 * across runs (waivers, tickets and the trend refer to it); the suites, the run plan, the verdict
 * and docs/controls.md (generated: `npm run generate`) all read it from here.
 */
import type { ViolationKind } from './categories.ts';
import type { ProviderKind } from './inventory.ts';
import { CHAOS_CONTROL_ENTRIES } from './controls/chaos.ts';
import { DEPLOY_CONTROLS } from './controls/deploy.ts';
import { IMAGE_INTEGRITY_CONTROLS } from './controls/image-integrity.ts';
import { PLAN_CONTROLS } from './controls/plan.ts';
import { SSH_EDIT_CONTROLS } from './controls/ssh-edits.ts';
import type { SuiteName } from './suites.ts';

export type { SuiteName } from './suites.ts';
export type Severity = 'blocker' | 'critical' | 'normal' | 'minor';

export interface Control {
  id: string;
  /** A few words, for the report's features and the compliance matrix. */
  name: string;
  /** The check, per host, per fleet or per resource change of a plan, in an auditor's words. */
  title: string;
  suite: SuiteName;
  /** Allure epic: the family of controls. */
  family: 'Immutability' | 'Image integrity' | 'Statelessness' | 'Replace-only deploys' | 'Custom checks';
  /**
   * One result per host, one per fleet, or one per resource change of a plan file (the plan
   * suite: the check's fleet is the plan file, its resource the address the change is for).
   */
  scope: 'host' | 'fleet' | 'resource';
  /** Kinds its judgement may record when it fails; the first is the usual one. */
  violations: readonly ViolationKind[];
  /** What a failure proves. */
  proves: string;
  /** Only hosts of these provider kinds get it (absent: any kind). */
  providers?: readonly ProviderKind[];
  /** When it is owed, in words, when that is not always. */
  when?: string;
  /** The CIS Docker Benchmark v1.6.0 recommendation it makes a gate of, where there is one. */
  cis?: string;
  /**
   * The NIST SP 800-53 Rev. 5 controls a pass supports (e.g. CM-5, SI-7), for the OSCAL catalog
   * (docs/oscal/catalog.json). Conservative: only where the check is direct evidence for the control.
   */
  nist?: readonly string[];
  /** How much a failure weighs in the report (default critical). */
  severity?: Severity;
  /** A team's own control (a check file): its category by name (built-in or new) and where it is declared. */
  custom?: { category: string; file: string; fleets?: string; timeoutSeconds: number };
}

/** A team's own control ids: their own namespace (ACME-001, PAY-SSH-2), never DL-. */
export const CUSTOM_CONTROL_ID = /^(?!DL-)[A-Z][A-Z0-9]{0,15}(-[A-Z0-9]{1,16}){1,3}$/;

export const CONTROLS = [
  ...SSH_EDIT_CONTROLS,
  ...IMAGE_INTEGRITY_CONTROLS,
  ...CHAOS_CONTROL_ENTRIES,
  ...DEPLOY_CONTROLS,
  ...PLAN_CONTROLS,
] as const satisfies readonly Control[];

export type ControlId = (typeof CONTROLS)[number]['id'];

/** The ids of one suite's controls: its judges are keyed by exactly these (audits/suite.ts). */
export type ControlsOf<S extends SuiteName> = Extract<(typeof CONTROLS)[number], { suite: S }>['id'];

const byId = new Map<string, Control>(CONTROLS.map((c) => [c.id, c]));
/** Controls added at run time (a team's own checks; a test's fixture), after the built-in ones. */
const added: Control[] = [];

export function control(id: ControlId): Control {
  return byId.get(id)!;
}

export function isControlId(id: string): id is ControlId {
  return byId.has(id);
}

export function controlsOf(suite: SuiteName): Control[] {
  return [...CONTROLS, ...added].filter((c) => c.suite === suite);
}

/** Adds controls to the registry for this process; an id that is already there is refused. */
export function registerControls(controls: readonly Control[]): void {
  for (const c of controls) {
    if (byId.has(c.id)) throw new Error(`control ${c.id} is already in the registry`);
    byId.set(c.id, c);
    added.push(c);
  }
}

/** Removes controls added with registerControls (tests clean up after themselves). */
export function unregisterControls(ids: readonly string[]): void {
  for (const id of ids) {
    const i = added.findIndex((c) => c.id === id);
    if (i >= 0) {
      added.splice(i, 1);
      byId.delete(id);
    }
  }
}

export function severityOf(id: ControlId): Severity {
  return control(id).severity ?? 'critical';
}
