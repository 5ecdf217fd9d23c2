/**
 * What one audit result becomes in the report, decided once for every writer: the labels an
 * auditor slices by (epic, feature, story, control, host, fleet), the evidence (redacted), the
 * waiver, and the status. A missing result and a probe that could not tell are broken, never a
 * pass; a waived check is skipped with its reason, never passed; an expired waiver is a violation.
 * The audit suites write this straight into Allure results (reports/check-results.ts); the
 * Playwright suites (chaos, deploy) apply it in their tests (fixtures/report-check.ts).
 */
import type { Attachment, CheckResult } from './check-result.ts';
import { control } from './controls.ts';
import type { PlannedCheck } from './plan.ts';
import { redact } from './redact.ts';
import type { RunContext } from './run.ts';
import { describeWaiver, isExpired, waiverFor } from './waivers.ts';

export interface OutcomeLabel {
  name: string;
  value: string;
}

export interface CheckOutcome {
  status: 'passed' | 'failed' | 'broken' | 'skipped';
  /** Why it failed, broke or was skipped, redacted; for broken, without the "PROBE ERROR" prefix. */
  reason?: string;
  labels: OutcomeLabel[];
  parameters: OutcomeLabel[];
  links: Array<{ url: string; name?: string }>;
  attachments: Attachment[];
}

type Run = Pick<RunContext, 'runId' | 'startedAt' | 'config'>;

/** The labels every result of a check carries, whatever its outcome. */
function baseLabels(check: PlannedCheck, run: Run): OutcomeLabel[] {
  const r = run.config.report;
  const c = control(check.control);
  // Behaviours: epic = the control family, feature = the control, story = the fleet. Suites:
  // the suite, the fleet, the host.
  return [
    { name: 'epic', value: c.family },
    { name: 'feature', value: `${c.id} ${c.name}` },
    { name: 'story', value: `fleet ${check.fleet}` },
    { name: 'parentSuite', value: check.suite },
    { name: 'suite', value: `fleet ${check.fleet}` },
    ...(check.host ? [{ name: 'subSuite', value: check.host }] : []),
    { name: 'control', value: check.control },
    { name: 'check', value: check.id },
    { name: 'run', value: run.runId },
    { name: 'tag', value: check.control },
    { name: 'severity', value: check.severity ?? 'critical' },
    ...(r?.owner ? [{ name: 'owner', value: r.owner }] : []),
    ...(r?.tags ?? []).map((t) => ({ name: 'tag', value: t })),
  ];
}

export function checkOutcome(check: PlannedCheck, result: CheckResult | undefined, run: Run, secrets: readonly string[]): CheckOutcome {
  const out: CheckOutcome = {
    status: 'passed',
    labels: baseLabels(check, run),
    parameters: [...(check.host ? [{ name: 'host', value: check.host }] : []), { name: 'fleet', value: check.fleet }],
    links: (run.config.report?.links ?? []).map((l) => ({ url: l.url, ...(l.name ? { name: l.name } : {}) })),
    attachments: [],
  };
  const broken = (reason: string): CheckOutcome => {
    out.labels.push({ name: 'outcome', value: 'probe-error' });
    return { ...out, status: 'broken', reason };
  };
  if (!result) return broken(`no result for ${check.id}: the audit did not judge this check`);
  for (const [name, value] of Object.entries(result.parameters ?? {})) out.parameters.push({ name, value });
  for (const a of result.evidence) out.attachments.push({ ...a, body: redact(a.body, secrets) });
  let message = redact(result.message ?? '', secrets);
  const waiver = waiverFor(run.config.waiverList ?? [], check);
  if (waiver) {
    out.attachments.push({
      name: 'waiver',
      body: JSON.stringify({ ...waiver, checkOutcome: result.status, checkMessage: message }, null, 2),
      contentType: 'application/json',
    });
    const found = `the check itself: ${result.status}${message ? `: ${message}` : ''}`;
    if (!isExpired(waiver, new Date(run.startedAt))) {
      // Waived: shown as such, never as passed; what the check found stays in the evidence.
      out.labels.push({ name: 'outcome', value: 'waived' });
      return { ...out, status: 'skipped', reason: `WAIVED: ${describeWaiver(waiver)} (${found})` };
    }
    // An expired waiver is a violation of its own, whatever the check found.
    if (result.status !== 'failed') {
      out.labels.push({ name: 'violation', value: 'waiver-expired' });
      return {
        ...out,
        status: 'failed',
        reason: `the waiver for this check expired on ${waiver.expires}: ${describeWaiver(waiver)}; renew it or fix what it excused (${found})`,
      };
    }
    message = `${message} (its waiver expired on ${waiver.expires}: ${describeWaiver(waiver)})`;
  }
  switch (result.status) {
    case 'passed':
      return out;
    case 'skipped':
      return { ...out, status: 'skipped', reason: message };
    case 'not-applicable':
      out.labels.push({ name: 'outcome', value: 'not-applicable' });
      return { ...out, status: 'skipped', reason: `not applicable: ${message}` };
    case 'broken':
      // Could not tell, on a host an edit may have changed: listed with the tainted hosts too.
      if (result.tainted) out.labels.push({ name: 'tainted', value: 'unknown' });
      return broken(message);
    case 'failed':
      for (const value of [result.violation, result.tainted ? 'tainted' : undefined]) if (value) out.labels.push({ name: 'violation', value });
      return { ...out, status: 'failed', reason: message };
  }
}
