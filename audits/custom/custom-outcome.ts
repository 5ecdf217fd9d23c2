/**
 * What a team's check found on one host (or fleet), from the outcomes of its tests: a violation
 * when an expect() did not hold, broken when a test crashed, timed out, was skipped or did not
 * run, passed when every test of the control passed. Pure: outcomes in, a result out.
 */
import { type CheckResult, json, type Judgement } from '../../core/check-result.ts';
import type { Control } from '../../core/controls.ts';
import type { TestOutcome } from './checks-run.ts';

const first = (s: string | undefined) =>
  (s ?? '')
    .split('\n')
    .find((l) => l.trim())
    ?.trim() ?? '';
/** Playwright's expect messages carry terminal colours; an auditor reads plain text. */
// eslint-disable-next-line no-control-regex -- the escape character is exactly what is removed
const plain = (s: string | undefined) => (s ?? '').replace(/\u001b\[[0-9;]*m/g, '');

/** An expect's failure in one line: its own message (or matcher), what was expected, what was received. */
export function expectSummary(message: string | undefined): string {
  const lines = plain(message)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const head = (lines[0] ?? 'an expect did not hold').replace(/^Error: /, '').replace(/\s*\/\/.*$/, '');
  const pick = (re: RegExp) => lines.find((l) => re.test(l));
  return [head, pick(/^Expected( value)?:/), pick(/^Received( value| array| string)?:/)].filter(Boolean).join('; ');
}

export function judgeCustom(j: Judgement, c: Control, outcomes: TestOutcome[], tests: number, notRun: string | undefined): CheckResult {
  const where = `${c.custom?.file ?? 'its check file'}`;
  if (tests === 0) return j.broken(`control ${c.id} (${where}) declares no test(): nothing checks it`);
  for (const o of outcomes) {
    for (const a of o.attachments)
      j.attach(
        a.contentType === 'application/json'
          ? { name: `${a.name}: ${o.title}`, contentType: 'application/json', body: a.body }
          : { name: `${a.name}: ${o.title}`, contentType: 'text/plain', body: a.body },
      );
  }
  j.attach(
    json(
      'tests',
      outcomes.map((o) => ({ title: o.title, status: o.status, failure: o.failure ?? null, durationMs: o.durationMs, message: plain(o.message) || null })),
    ),
  );
  if (outcomes.length === 0) return j.broken(`no test of ${c.id} ran here: ${notRun ?? 'Playwright reported no result for it'}`);
  const violation = outcomes.find((o) => o.status === 'failed' && o.failure === 'expect');
  if (violation) return j.failAs(c.custom?.category ?? 'Other violation', `${c.title}: ${expectSummary(violation.message)} (test "${violation.title}")`);
  const bad = outcomes.find((o) => o.status !== 'passed');
  if (bad) {
    const why =
      bad.status === 'timedOut'
        ? `timed out after ${c.custom?.timeoutSeconds ?? 30} s`
        : bad.status === 'skipped'
          ? 'was skipped: a check owed by the plan must run'
          : bad.status === 'interrupted'
            ? 'was interrupted'
            : `crashed (not a finding about the host): ${first(plain(bad.message)) || 'no message'}`;
    return j.broken(`the check "${bad.title}" ${why}`);
  }
  if (outcomes.length < tests)
    return j.broken(`only ${outcomes.length} of the ${tests} tests of ${c.id} reported a result here: ${notRun ?? 'the others did not run'}`);
  return j.pass();
}
