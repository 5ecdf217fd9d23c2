/**
 * The JUnit XML renderer (outputs/junit.xml), for the test views of GitLab, Jenkins and GitHub
 * actions that read JUnit: one <testsuite> per suite and fleet, one <testcase> per owed check
 * (classname fleet.host, name the control id and what was tried), <failure> for a violation,
 * <error> for a broken or not-run check, <skipped> (with the reason) for one that does not apply or
 * is waived. A violation that is new since the baseline says NEW in its message. Built with
 * xmlbuilder2; the shape follows Jenkins' junit-4.xsd (test/fixtures/junit/), which the tests
 * validate it against.
 */
import fs from 'node:fs';
import path from 'node:path';
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { type CheckRecord, firstLine } from '../core/check-record.ts';
import type { PlannedCheck } from '../core/run-plan.ts';
import { newIds } from './baseline.ts';
import type { RenderInput } from './outputs.ts';

export const JUNIT_FILE = 'junit.xml';

const seconds = (r: CheckRecord | undefined) => (r ? Math.max(0, (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000) : 0);
const nameOf = (c: PlannedCheck) => (c.title.startsWith(c.control) ? c.title : `${c.control} ${c.title}`);

/** What a testcase says beside its status: the evidence files (by hash) and the waiver. */
function detailOf(r: CheckRecord, input: RenderInput): string {
  const lines = [r.message ?? ''];
  for (const e of r.evidence) lines.push(`evidence ${e.name}: ${input.evidencePath(r, e)} (sha256 ${e.sha256})`);
  if (r.waiver)
    lines.push(`waiver: ${r.waiver.reason} (approver ${r.waiver.approver}, expires ${r.waiver.expires}${r.waiver.applied ? '' : ', did not apply'})`);
  if (r.tainted) lines.push(`host tainted (${r.tainted}): an edit of this run got through or may have; replace the host`);
  return lines.filter(Boolean).join('\n');
}

interface Flags {
  isNew: boolean;
  /** Fixed since the baseline: what the violation was. */
  fixed?: string;
  since: string;
}

function testcase(suite: XMLBuilder, c: PlannedCheck, r: CheckRecord | undefined, input: RenderInput, f: Flags): void {
  const tc = suite.ele('testcase', { classname: `${c.fleet}.${c.host ?? 'fleet'}`, name: nameOf(c), time: seconds(r).toFixed(3) });
  if (!r) {
    tc.ele('error', { type: 'not run', message: 'NOT RUN: no result answers this owed check' }).txt(
      `check ${c.id}: the run did not finish it, or its results are missing`,
    );
    return;
  }
  const first = firstLine(r.message);
  switch (r.outcome) {
    case 'failed':
      tc.ele('failure', { type: r.category ?? 'Other violation', message: `${f.isNew ? `NEW since ${f.since}: ` : ''}[${r.category}] ${first}` }).txt(
        detailOf(r, input),
      );
      break;
    case 'broken':
      tc.ele('error', { type: 'Probe error', message: `BROKEN (could not tell): ${first}` }).txt(detailOf(r, input));
      break;
    case 'skipped':
      // Not done (a dry run, say): never a pass, so an error, not a skip.
      tc.ele('error', { type: 'not run', message: `NOT RUN (skipped): ${first}` }).txt(detailOf(r, input));
      break;
    case 'not-applicable':
      tc.ele('skipped').txt(`not applicable: ${first}`);
      break;
    case 'waived':
      tc.ele('skipped').txt(first);
      break;
    case 'passed':
      break;
  }
  const out = [...(f.fixed ? [`FIXED since ${f.since}: it was ${f.fixed}`] : []), ...(r.evidence.length ? [detailOf(r, input)] : [])];
  if (r.outcome !== 'failed' && r.outcome !== 'broken' && r.outcome !== 'skipped' && out.length) tc.ele('system-out').txt(out.join('\n'));
}

/** Renders outputs/junit.xml; returns its path. */
export function writeJunit(dir: string, input: RenderInput): string {
  const v = input.verdict;
  const fresh = newIds(v.changes);
  const since = v.changes ? `run ${v.changes.baseline.runId}` : '';
  const fixed = new Map((v.changes?.fixed ?? []).map((x) => [x.id, `${x.category ? `[${x.category}] ` : ''}${x.message}`]));
  const groups = new Map<string, PlannedCheck[]>();
  for (const c of input.owed) {
    const k = `${c.suite}\u0000${c.fleet}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const doc = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '\uFFFD' });
  const count = (cs: PlannedCheck[], f: (r: CheckRecord | undefined) => boolean) => cs.filter((c) => f(input.byCheck.get(c.id))).length;
  const failed = (r: CheckRecord | undefined) => r?.outcome === 'failed';
  const errored = (r: CheckRecord | undefined) => !r || r.outcome === 'broken' || r.outcome === 'skipped';
  const skipped = (r: CheckRecord | undefined) => r?.outcome === 'not-applicable' || r?.outcome === 'waived';
  const time = (cs: PlannedCheck[]) => cs.reduce((t, c) => t + seconds(input.byCheck.get(c.id)), 0);
  const root = doc.ele('testsuites', {
    name: `driftless run ${v.runId}: ${v.verdict} (exit ${v.exitCode})`,
    tests: String(input.owed.length),
    failures: String(count([...input.owed], failed)),
    errors: String(count([...input.owed], errored)),
    time: time([...input.owed]).toFixed(3),
  });
  let id = 0;
  for (const checks of groups.values()) {
    const { suite, fleet } = checks[0]!;
    const fleetVerdict = v.coverage.fleets.find((f) => f.fleet === fleet)?.verdict ?? 'unknown';
    const started = checks.map((c) => input.byCheck.get(c.id)?.startedAt).find(Boolean);
    const s = root.ele('testsuite', {
      name: `${suite}: fleet ${fleet}`,
      tests: String(checks.length),
      failures: String(count(checks, failed)),
      errors: String(count(checks, errored)),
      skipped: String(count(checks, skipped)),
      time: time(checks).toFixed(3),
      ...(started ? { timestamp: started.replace(/\.\d+Z$|Z$/, '') } : {}),
      id: String(id++),
      package: suite,
    });
    const props = s.ele('properties');
    const prop = (name: string, value: string) => props.ele('property', { name, value });
    prop('driftless.run.id', v.runId);
    prop('driftless.plan.hash', input.runs.map((r) => r.planHash).join(' '));
    prop('driftless.verdict', `${v.verdict} (exit ${v.exitCode})`);
    prop(`driftless.fleet.${fleet}.verdict`, fleetVerdict);
    prop('driftless.evidence', v.evidence?.statement ?? 'UNSIGNED');
    if (v.changes) {
      prop('driftless.baseline.run.id', v.changes.baseline.runId);
      const mine = new Set(checks.map((c) => c.id));
      prop('driftless.new.violations', String(v.changes.newViolations.filter((c) => mine.has(c.id)).length));
      prop('driftless.fixed', String(v.changes.fixed.filter((c) => mine.has(c.id)).length));
    }
    for (const c of checks) {
      const was = fixed.get(c.id);
      testcase(s, c, input.byCheck.get(c.id), input, { isNew: fresh.has(c.id), since, ...(was !== undefined ? { fixed: was } : {}) });
    }
  }
  const file = path.join(dir, JUNIT_FILE);
  fs.writeFileSync(file, doc.end({ prettyPrint: true }) + '\n');
  return file;
}
