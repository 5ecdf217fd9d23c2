/**
 * The typed result of one owed check: what the verdict and every renderer (Allure, the terminal,
 * later JUnit, SARIF, OSCAL) read, and nothing else. A suite's judge says what the check found
 * (core/check-result.ts); `recordCheck` decides, once for every suite and every output, what that
 * means: the outcome (a waiver applied or not), its category, tainted hosts, the redacted message
 * and evidence. Records are data in the results folder (core/results-folder.ts), schema'd by
 * schemas/results.schema.json, so shards carry them and the evidence bundle covers them.
 */
import { type Category, PROBE_ERROR, VIOLATION_CATEGORY, type ViolationKind } from './categories.ts';
import type { Attachment, CheckResult, CheckStatus } from './check-result.ts';
import type { Severity } from './controls.ts';
import type { PlannedCheck } from './run-plan.ts';
import { redact } from './redact.ts';
import { describeWaiver, isExpired, type Waiver, waiverFor } from './waivers.ts';

/**
 * passed; failed (a violation); broken (could not tell); skipped (not done by a recorded choice,
 * e.g. a dry run: never compliant); not-applicable (proven not to apply, with the reason); waived
 * (an accepted exception that holds: not a pass, not blocking).
 */
export type Outcome = 'passed' | 'failed' | 'broken' | 'skipped' | 'not-applicable' | 'waived';

/** An attachment as stored: its body is a file of the results folder, named by its hash. */
export interface EvidenceRef {
  name: string;
  contentType: Attachment['contentType'];
  /** Relative to the results folder: evidence/<sha256>.<ext>. */
  file: string;
  sha256: string;
  bytes: number;
}

export interface CheckRecord {
  /** PlannedCheck.id: the check of the run plan this answers. */
  check: string;
  runId: string;
  control: string;
  suite: string;
  fleet: string;
  host?: string;
  /** A resource-scoped check (the plan suite): the resource change's address; fleet is the plan file. */
  resource?: string;
  item?: string;
  title: string;
  severity: Severity;
  outcome: Outcome;
  /** Why it failed, broke, was skipped, waived or does not apply; redacted. The first line is what the verdict lists. */
  message?: string;
  /** failed: the kind of violation. */
  violation?: ViolationKind;
  /** failed and broken: the report's category (a team's own control may name a category of its own). */
  category?: Category | (string & {});
  /** changed: an edit of this run got through; unknown: an edit was cut off, whether it changed the host is unknown. */
  tainted?: 'changed' | 'unknown';
  /** The waiver that matched this check, and whether it had expired when the run started. */
  waiver?: Waiver & { expired: boolean; applied: boolean };
  /** When a waiver decided the outcome: what the check itself found. */
  found?: { status: CheckStatus; message?: string };
  parameters: Record<string, string>;
  evidence: EvidenceRef[];
  startedAt: string;
  finishedAt: string;
}

/** Stores an attachment's (redacted) body and says where it is. */
export type EvidenceSink = (a: Attachment) => EvidenceRef;

export interface RecordContext {
  runId: string;
  /** When the run started: waivers expire against it, not against the clock of the report. */
  runStartedAt: string;
  waivers: readonly Waiver[];
  secrets: readonly string[];
  store: EvidenceSink;
  timing: { startedAt: string; finishedAt: string };
}

/**
 * Harm the run itself caused, or could not rule out, is never waivable: a waiver accepts a known
 * finding, not "could not check", not an empty or unlistable fleet, not a canary left behind.
 */
function waivable(result: CheckResult): boolean {
  if (result.status === 'broken' || result.status === 'skipped' || result.status === 'not-applicable') return false;
  if (result.tainted || result.violation === 'canary-left' || result.violation === 'tainted') return false;
  return true;
}

export function categoryOf(outcome: Outcome, violation: ViolationKind | undefined): Category | undefined {
  if (outcome === 'broken') return PROBE_ERROR;
  if (outcome === 'failed') return violation ? VIOLATION_CATEGORY[violation] : 'Other violation';
  return undefined;
}

/** The typed result of one planned check from what its judge found (`result`; absent: never judged). */
export function recordCheck(check: PlannedCheck, result: CheckResult | undefined, ctx: RecordContext): CheckRecord {
  const base = {
    check: check.id,
    runId: ctx.runId,
    control: check.control,
    suite: check.suite,
    fleet: check.fleet,
    ...(check.host ? { host: check.host } : {}),
    ...(check.resource ? { resource: check.resource } : {}),
    ...(check.item ? { item: check.item } : {}),
    title: check.title,
    severity: check.severity ?? 'critical',
    ...ctx.timing,
  };
  const done = (
    outcome: Outcome,
    message: string | undefined,
    extra: Partial<Pick<CheckRecord, 'violation' | 'tainted' | 'waiver' | 'found'>> = {},
  ): CheckRecord => {
    const own = outcome === 'failed' && !extra.violation && result?.status === 'failed' ? result.category : undefined;
    const category = own ?? categoryOf(outcome, extra.violation);
    return {
      ...base,
      outcome,
      ...(message ? { message } : {}),
      ...extra,
      ...(category ? { category } : {}),
      parameters: {
        ...(check.host ? { host: check.host } : {}),
        ...(check.resource ? { resource: check.resource } : {}),
        fleet: check.fleet,
        ...(result?.parameters ?? {}),
      },
      evidence: (result?.evidence ?? []).map((a) => ctx.store({ ...a, body: redact(a.body, ctx.secrets) })),
    };
  };
  if (!result) return done('broken', `no result for ${check.id}: the audit did not judge this check`);
  const message = redact(result.message ?? '', ctx.secrets) || undefined;
  const tainted: CheckRecord['tainted'] = result.tainted ? (result.status === 'broken' ? 'unknown' : 'changed') : undefined;
  const own: Partial<Pick<CheckRecord, 'violation' | 'tainted'>> = {
    ...(tainted ? { tainted } : {}),
    ...(result.status === 'failed' && result.violation ? { violation: result.violation } : {}),
  };

  const w = waiverFor(ctx.waivers, check);
  if (w) {
    const expired = isExpired(w, new Date(ctx.runStartedAt));
    const found = { status: result.status, ...(message ? { message } : {}) };
    if (!waivable(result)) {
      // The waiver is shown, and that it did not apply, with the reason.
      const why = `a waiver cannot cover this (${result.status === 'failed' ? 'harm the run itself caused' : 'a check that could not tell or did not run'}): ${describeWaiver(w)}`;
      return statusOnly(done, result, message, own, { waiver: { ...w, expired, applied: false } }, why);
    }
    if (!expired)
      return done('waived', `WAIVED: ${describeWaiver(w)} (the check itself: ${result.status}${message ? `: ${message}` : ''})`, {
        waiver: { ...w, expired, applied: true },
        found,
      });
    if (result.status !== 'failed') {
      return done(
        'failed',
        `the waiver for this check expired on ${w.expires}: ${describeWaiver(w)}; renew it or fix what it excused (the check itself: ${result.status}${message ? `: ${message}` : ''})`,
        { violation: 'waiver-expired', waiver: { ...w, expired, applied: false }, found },
      );
    }
    return done('failed', `${message ?? ''} (its waiver expired on ${w.expires}: ${describeWaiver(w)})`, { ...own, waiver: { ...w, expired, applied: false } });
  }
  return statusOnly(done, result, message, own, {});
}

/** The outcome of a judgement on its own (no waiver applied). */
function statusOnly(
  done: (o: Outcome, m: string | undefined, extra?: Partial<Pick<CheckRecord, 'violation' | 'tainted' | 'waiver' | 'found'>>) => CheckRecord,
  result: CheckResult,
  message: string | undefined,
  own: Partial<Pick<CheckRecord, 'violation' | 'tainted'>>,
  extra: Partial<Pick<CheckRecord, 'waiver'>>,
  note?: string,
): CheckRecord {
  const m = note ? `${message ?? ''}${message ? ' ' : ''}(${note})` : message;
  switch (result.status) {
    case 'passed':
      return done('passed', m, { ...own, ...extra });
    case 'skipped':
      return done('skipped', m ?? 'skipped, no reason given', extra);
    case 'not-applicable':
      return done('not-applicable', m ?? 'does not apply, no reason given', extra);
    case 'broken':
      return done('broken', m ?? 'the probe could not tell, no reason given', { ...own, ...extra });
    case 'failed':
      return done('failed', m ?? 'failed, no reason given', { ...own, ...extra });
  }
}

/** The first line of a record's message, as lists show it. */
export function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0]!.slice(0, 500);
}
