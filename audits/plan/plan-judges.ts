/**
 * The plan suite's judges, one per control (core/controls/plan.ts), each judging one resource
 * change of one plan file, or proving that a control applies to nothing in the plan. Evidence is
 * the change as an auditor reads it: actions, action_reason, replace_paths and the attributes that
 * change with their before and after, sensitive values shown as "(sensitive)", never themselves.
 */
import { type CheckResult, json, type Judgement } from '../../core/check-result.ts';
import type { PlannedCheck } from '../../core/run-plan.ts';
import type { Judges, SuiteRun } from '../suite.ts';
import type { PlanDoc, ResourceChange } from './plan-file.ts';
import { plannedSha256, WHOLE_PLAN } from './plan-owed.ts';
import {
  allowedInPlace,
  changedAttributes,
  changeSummary,
  describeAttr,
  isGroup,
  isTemplate,
  kindOf,
  launchSpecs,
  NOTHING_OWED,
  owedControls,
  type PlanControl,
  type PlanPolicy,
  policyOf,
  templateChangeOf,
} from './plan-policy.ts';

/** What the suite gathered: each plan file read again, by fleet name, or why it could not be. */
export type PlanFacts = Map<string, { doc: PlanDoc } | { error: string }>;

export interface PlanUnit {
  doc: PlanDoc;
  policy: PlanPolicy;
  /** The change the check judges; absent for a check of the whole plan. */
  change?: ResourceChange;
}

const SHOWN_ATTRS = 8;

/** The change as evidence: never a raw value of the plan, only what `changedAttributes` shows. */
function changeEvidence(doc: PlanDoc, c: ResourceChange, extra: Record<string, unknown> = {}) {
  return json('resource change', {
    planFile: doc.name,
    sha256: doc.sha256,
    madeBy: doc.madeBy,
    address: c.address,
    type: c.type,
    actions: c.actions,
    ...(c.actionReason ? { actionReason: c.actionReason } : {}),
    ...(c.replacePaths ? { replacePaths: c.replacePaths } : {}),
    ...(c.conditional ? { replacement: 'Conditional' } : {}),
    attributes: changedAttributes(c),
    ...extra,
  });
}

const listAttrs = (attrs: ReturnType<typeof changedAttributes>) =>
  attrs.slice(0, SHOWN_ATTRS).map(describeAttr).join('; ') + (attrs.length > SHOWN_ATTRS ? `; and ${attrs.length - SHOWN_ATTRS} more (evidence)` : '');

const replacedHow = (c: ResourceChange) =>
  `replaced (actions ${c.actions.join(', ')}${c.actionReason ? `, ${c.actionReason}` : ''}${c.replacePaths?.length ? `, because of ${c.replacePaths.join(', ')}` : ''})`;

/** The check of the whole plan: the control applies to no change of it, and the reason says why. */
function wholePlan(j: Judgement, u: PlanUnit, control: PlanControl): CheckResult {
  const owing = u.doc.changes.filter((c) => owedControls(c, u.doc.changes, u.policy).includes(control));
  if (owing.length) return j.broken(`HARNESS ERROR: ${owing.map((c) => c.address).join(', ')} owe ${control}, but the plan owed it of the whole plan`);
  j.param('plan file', u.doc.name);
  j.attach(json('plan', { planFile: u.doc.name, sha256: u.doc.sha256, madeBy: u.doc.madeBy, changes: u.doc.changes.length }));
  if (u.doc.noChanges) return j.notApplicable(`no changes: ${u.doc.noChanges}`);
  return j.notApplicable(`${NOTHING_OWED[control]} in this plan (it changes: ${changeSummary(u.doc.changes)})`);
}

/** A Conditional replacement (CloudFormation): not proven either way unless plan.acceptConditional. */
function conditional(j: Judgement, u: PlanUnit, c: ResourceChange): CheckResult | undefined {
  if (!c.conditional || u.policy.acceptConditional) return undefined;
  j.attach(changeEvidence(u.doc, c));
  return j.broken(
    `${c.address} may or may not be replaced (Replacement: Conditional): CloudFormation cannot tell before it runs, so the gate cannot either; ` +
      'make the change unconditional, or set plan.acceptConditional: true to take it as a replacement',
  );
}

export const PLAN_JUDGES: Judges<'plan', PlanUnit> = {
  'DL-PLAN-001': (j, u) => {
    if (!u.change) return wholePlan(j, u, 'DL-PLAN-001');
    const c = u.change;
    const undecided = conditional(j, u, c);
    if (undecided) return undecided;
    const attrs = changedAttributes(c);
    j.param('actions', c.actions.join(', '));
    if (kindOf(c) === 'replace' || c.conditional) {
      j.attach(changeEvidence(u.doc, c));
      return j.pass();
    }
    if (isTemplate(c)) {
      j.attach(
        changeEvidence(u.doc, c, {
          note: 'an update of a launch template adds a version; no running instance changes with it (DL-PLAN-002 judges whether it reaches them)',
        }),
      );
      return j.pass();
    }
    if (isGroup(c)) {
      j.attach(changeEvidence(u.doc, c, { note: "a group's update changes the group, not its running instances (DL-PLAN-002 judges its launch template)" }));
      return j.pass();
    }
    const inPlace = attrs.filter((a) => !allowedInPlace(u.policy, a));
    j.attach(changeEvidence(u.doc, c, { inPlace, allowedInPlace: [...u.policy.allowed] }));
    if (!inPlace.length) return j.pass();
    const fix =
      u.doc.format === 'cloudformation'
        ? 'a change that requires replacement, or a new logical id'
        : `a change that forces a new resource, lifecycle replace_triggered_by, or -replace=${c.address}`;
    return j.fail(
      'updated-in-place',
      `${c.address} (${c.type}) would be updated in place, not replaced: ${listAttrs(inPlace)}${u.doc.format === 'cloudformation' ? " (a change set's values are not shown)" : ''}. ` +
        `Replace it instead (${fix}), or allow the attributes in plan.allowedInPlaceAttributes if changing them in place is harmless`,
    );
  },

  'DL-PLAN-002': (j, u) => {
    if (!u.change) return wholePlan(j, u, 'DL-PLAN-002');
    const c = u.change;
    const undecided = conditional(j, u, c);
    if (undecided) return undecided;
    const tc = templateChangeOf(c, u.doc.changes);
    if (!tc) return j.broken(`HARNESS ERROR: ${c.address} owes DL-PLAN-002, but no launch template of it changes`);
    const how = [...(tc.own.length ? [`its launch template changes (${listAttrs(tc.own)})`] : []), ...tc.viaReference.map((r) => r.why)].join('; ');
    const after = (c.after ?? {}) as Record<string, unknown>;
    const refresh = Array.isArray(after.instance_refresh) ? (after.instance_refresh[0] as Record<string, unknown> | undefined) : undefined;
    j.attach(
      changeEvidence(u.doc, c, {
        launchTemplateChange: { own: tc.own, viaReference: tc.viaReference },
        launchTemplates: launchSpecs(c.before),
        ...(refresh ? { instanceRefresh: refresh } : {}),
      }),
    );
    j.param('actions', c.actions.join(', '));
    if (kindOf(c) === 'replace' || c.conditional) return j.pass();
    const notReplaced = (why: string) => j.fail('template-not-rolled-out', `${c.address} is not replaced: ${how}, but ${why}`);
    if (!isGroup(c))
      return notReplaced(`the ${c.type} is ${kindOf(c) === 'no-op' ? 'left as it is' : 'updated in place'}: it keeps running what it was launched from`);
    if (c.updatePolicy !== undefined) {
      // CloudFormation: the group's UpdatePolicy decides whether a new launch template replaces its instances.
      if (c.updatePolicy === 'unknown')
        return j.broken(
          `${c.address}: ${how}, and the change set does not say whether the group has an UpdatePolicy (its AfterContext is missing): describe it with --include-property-values`,
        );
      if (c.updatePolicy === 'none')
        return notReplaced(
          'the group has no UpdatePolicy (AutoScalingRollingUpdate, or AutoScalingReplacingUpdate with WillReplace): CloudFormation updates the group and leaves its running instances on the old template',
        );
      return j.pass();
    }
    if (!refresh)
      return notReplaced(
        `the group is ${kindOf(c) === 'no-op' ? 'left as it is' : 'updated in place'} without an instance_refresh block: its running instances keep the old template until they die. ` +
          'Add instance_refresh { strategy = "Rolling" }, or replace the group',
      );
    if (refresh.strategy !== 'Rolling')
      return notReplaced(`its instance_refresh strategy is ${JSON.stringify(refresh.strategy)}, which does not replace the instances (only "Rolling" does)`);
    if (!tc.own.length)
      return notReplaced(
        `the group's own launch_template does not change (${tc.viaReference.map((r) => r.version).join(', ')}), so the provider never starts its instance_refresh: ` +
          'name the version explicitly (version = aws_launch_template.<name>.latest_version) so that a new version changes the group',
      );
    const prefs = Array.isArray(refresh.preferences) ? (refresh.preferences[0] as Record<string, unknown> | undefined) : undefined;
    const checkpoints = Array.isArray(prefs?.checkpoint_percentages) ? (prefs.checkpoint_percentages as unknown[]).map(Number) : [];
    if (checkpoints.length && Math.max(...checkpoints) < 100)
      return notReplaced(`its instance_refresh stops at checkpoint ${Math.max(...checkpoints)}%: the rest of the instances keep the old template`);
    if (after.protect_from_scale_in === true && prefs?.scale_in_protected_instances !== 'Refresh')
      return notReplaced(
        'its instances are protected from scale-in, and an instance refresh skips protected instances unless preferences.scale_in_protected_instances = "Refresh"',
      );
    return j.pass();
  },

  'DL-PLAN-003': (j, u) => {
    if (!u.change) return wholePlan(j, u, 'DL-PLAN-003');
    const c = u.change;
    const undecided = conditional(j, u, c);
    if (undecided) return undecided;
    j.attach(changeEvidence(u.doc, c));
    j.param('actions', c.actions.join(', '));
    return j.fail(
      'stateful-replaced',
      `${c.address} (${c.type}, stateful) would be ${replacedHow(c)}: what it holds is destroyed with it. ` +
        'Change it in place or migrate the data first; a waiver (control DL-PLAN-003, resource glob) accepts a replacement on purpose',
    );
  },
};

/** The plan file and resource change a check judges; broken when the file could not be read again, or changed since it was planned. */
export function planUnit(facts: PlanFacts, check: PlannedCheck, j: Judgement, run: SuiteRun): { unit: PlanUnit } | { result: CheckResult } {
  const read = facts.get(check.fleet);
  if (!read) return { result: j.broken(`plan file ${check.fleet} was not read again for judging`) };
  if ('error' in read) return { result: j.broken(read.error) };
  const { doc } = read;
  const planned = plannedSha256(doc.file);
  if (planned && planned !== doc.sha256)
    return {
      result: j.broken(
        `plan file ${doc.name} changed after the run planned its checks (sha256 ${planned.slice(0, 12)} then, ${doc.sha256.slice(0, 12)} now): gate it again`,
      ),
    };
  const policy = policyOf(run.config);
  if (check.resource === WHOLE_PLAN) return { unit: { doc, policy } };
  const change = doc.changes.find((c) => c.address === check.resource);
  if (!change) return { result: j.broken(`plan file ${doc.name} has no change of ${check.resource ?? '(no resource)'} any more`) };
  return { unit: { doc, policy, change } };
}
