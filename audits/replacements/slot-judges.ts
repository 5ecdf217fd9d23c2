/**
 * Judges a slot's checks with the judges of the suites whose checks it owes (ssh-edits,
 * image-integrity), on the facts gathered for its instances; the result is recorded under the
 * slot's planned check id. A replacement's result is its instance's; a deployed set's is the worst
 * of its instances', each named. Every result names the instance and its origin, and its evidence
 * adds what differs from its predecessor's launch configuration; a failure's message says it too.
 */
import { type CheckResult, json, Judgement } from '../../core/check-result.ts';
import { control, controlsOf } from '../../core/controls.ts';
import type { PlannedCheck } from '../../core/run-plan.ts';
import type { HostImageAudit } from '../image/image-gather.ts';
import { imageIntegritySuite } from '../image/image-suite.ts';
import { describeLaunchDiff, type LaunchChange, launchDiff } from '../launch-diff.ts';
import type { HostAudit } from '../ssh-edits/ssh-edits-gather.ts';
import { sshEditsSuite } from '../ssh-edits/ssh-edits-suite.ts';
import type { Judge, SuiteModule, SuiteRun } from '../suite.ts';
import { describeInstance, type Member, type Slot } from './slots.ts';

/** What a follow-up suite gathered: its slots, and the host facts of every instance in them. */
export interface SlotFacts {
  slots: Slot[];
  ssh: HostAudit[];
  image: HostImageAudit[];
}

export interface SlotUnit {
  slot: Slot;
  facts: SlotFacts;
}

/** The suites whose host checks a slot owes, by name. */
export const AUDITED: Readonly<Record<'ssh-edits' | 'image-integrity', SuiteModule>> = { 'ssh-edits': sshEditsSuite, 'image-integrity': imageIntegritySuite };

/** The slot a check is owed for, or the result that says why it has nothing to judge. */
export function slotUnit(facts: SlotFacts, check: PlannedCheck, j: Judgement): { unit: SlotUnit } | { result: CheckResult } {
  const slot = facts.slots.find((s) => s.fleet === check.fleet && s.slot === check.host);
  if (!slot) return { result: j.broken(`no instance was looked for in slot ${check.host} of fleet ${check.fleet}: the audit did not reach it`) };
  if (slot.notApplicable) return { result: j.notApplicable(slot.notApplicable) };
  if (slot.notRun) return { result: j.broken(`not run: ${slot.notRun}; so ${check.control} (${control(check.control).name}) did not run on it`) };
  return { unit: { slot, facts } };
}

/** What differs between a member's launch configuration and its predecessor's, as evidence. */
function launchOf(m: Member, image: HostImageAudit | undefined): { evidence: unknown; changes: LaunchChange[] } | undefined {
  const pred = m.predecessor;
  if (!pred) return undefined;
  const now = image?.container;
  if (!pred.launch) return { evidence: { predecessor: pred.name, note: 'its provider does not say how an instance was launched' }, changes: [] };
  if ('error' in pred.launch) return { evidence: { predecessor: pred.name, error: pred.launch.error }, changes: [] };
  if (!now || now.error || !now.mountDetails)
    return { evidence: { predecessor: pred.name, before: pred.launch, error: now?.error ?? 'the instance was not inspected' }, changes: [] };
  const after = {
    readonlyRootfs: now.readonlyRootfs,
    privileged: now.privileged,
    capAdd: now.capAdd,
    securityOpt: now.securityOpt,
    mountDetails: now.mountDetails,
    user: now.user,
  };
  const changes = launchDiff(pred.launch, after);
  return { evidence: { predecessor: pred.name, instance: m.host.id, changes, before: pred.launch, after }, changes };
}

/** The member's result under the check, judged by the judge of the control's own suite. */
function judgeMember(check: PlannedCheck, m: Member, u: SlotUnit, run: SuiteRun): CheckResult {
  const suiteName = control(check.control).suite;
  if (suiteName !== 'ssh-edits' && suiteName !== 'image-integrity')
    return new Judgement(check.id).broken(`HARNESS ERROR: ${check.control} is no host check of a slot`);
  const inner = AUDITED[suiteName];
  const innerCheck: PlannedCheck = { ...check, suite: suiteName, host: m.host.id };
  const facts =
    suiteName === 'ssh-edits'
      ? u.facts.ssh.filter((a) => a.fleet === check.fleet && a.host === m.host.id)
      : u.facts.image.filter((a) => a.fleet === check.fleet && a.instanceId === m.host.instanceId);
  const innerRun: SuiteRun = u.slot.release ? { ...run, config: { ...run.config, release: u.slot.release } } : run;
  const j = new Judgement(check.id);
  const got = inner.unitOf(facts, innerCheck, j, innerRun);
  if ('result' in got) return got.result;
  const judge = inner.judges[check.control];
  if (!judge) return j.broken(`HARNESS ERROR: the ${suiteName} suite has no judge for ${check.control}`);
  return judge(j, got.unit, innerCheck, innerRun);
}

/** The outcome of `r` under `j` (which holds the slot's parameters and evidence), with `message`. */
function finish(j: Judgement, r: CheckResult, message: string, check: PlannedCheck): CheckResult {
  switch (r.status) {
    case 'passed':
      return j.pass();
    case 'failed':
      return j.fail(r.violation ?? control(check.control).violations[0]!, message);
    case 'broken':
      return j.broken(message);
    case 'skipped':
      return j.skip(message);
    case 'not-applicable':
      return j.notApplicable(message);
  }
}

const WORST: CheckResult['status'][] = ['failed', 'broken', 'skipped', 'passed', 'not-applicable'];

/** Judges a slot's check: its instance's result (a replacement), or the worst of its instances' (a deployed set). */
export const judgeSlot: Judge<SlotUnit> = (j, u, check, run) => {
  const image = (m: Member) => u.facts.image.find((a) => a.fleet === check.fleet && a.instanceId === m.host.instanceId);
  const judged = u.slot.members.map((m) => ({ m, r: judgeMember(check, m, u, run), launch: launchOf(m, image(m)) }));
  const drift = (x: (typeof judged)[number]) =>
    x.r.status === 'failed' && x.launch?.changes.length
      ? `; its launch configuration differs from ${x.m.predecessor!.name}'s before: ${describeLaunchDiff(x.launch.changes)}`
      : '';
  const many = u.slot.kind === 'set';
  j.param(many ? 'instances' : 'instance', judged.map((x) => describeInstance(x.m.host)).join(', '));
  j.param('origin', [...new Set(judged.map((x) => x.m.origin))].join('; '));
  for (const x of judged) {
    for (const a of x.r.evidence) j.attach(many ? { ...a, name: `${x.m.host.id}: ${a.name}` } : a);
    if (x.launch)
      j.attach(json(many ? `${x.m.host.id}: launch configuration vs its predecessor` : 'launch configuration vs its predecessor', x.launch.evidence));
  }
  const tainted = judged.filter((x) => x.r.tainted).map((x) => x.m.host.id);
  if (tainted.length) j.taint().param('tainted instances', tainted.join(', '));
  if (!many) {
    const x = judged[0]!;
    return finish(j, x.r, `${x.r.message ?? ''}${drift(x)}`, check);
  }
  const worst = WORST.find((s) => judged.some((x) => x.r.status === s))!;
  const these = judged.filter((x) => x.r.status === worst);
  const what = { failed: 'fail', broken: 'could not be judged', skipped: 'were skipped', passed: 'pass', 'not-applicable': 'do not apply' }[worst];
  const message = `${these.length} of ${judged.length} instances of fleet ${check.fleet} ${what}: ${these.map((x) => `${x.m.host.id}: ${x.r.message ?? x.r.status}${drift(x)}`).join(' | ')}`;
  return finish(j, these[0]!.r, message, check);
};

/** One judge per host control of the audited suites: a slot owes exactly what a host owes. */
export const SLOT_JUDGES: Readonly<Record<string, Judge<SlotUnit>>> = Object.fromEntries(
  [...controlsOf('ssh-edits'), ...controlsOf('image-integrity')].map((c) => [c.id, judgeSlot]),
);
