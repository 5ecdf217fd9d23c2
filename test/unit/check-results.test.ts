/**
 * The audit suites' Allure results, written by the CLI itself (reports/check-results.ts): one per
 * owed check, whatever the audit said or failed to say. A missing result is broken, a waived
 * check is skipped with its reason (never passed), an expired waiver is a violation, secrets are
 * redacted from evidence and messages, and the verdict reads them like any other result.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../config/load.ts';
import type { CheckResult } from '../../core/check-result.ts';
import type { PlannedCheck } from '../../core/plan.ts';
import { writeCheckResults } from '../../reports/check-results.ts';
import { type AllureResult, categoryOf, label, labels, normalizeResults, readResults } from '../../reports/results.ts';
import { config, SECRET, tmp, useTempDirs, write } from '../helpers/config.ts';

useTempDirs();

const check = (host: string, control: 'DL-SSH-010' | 'DL-IMG-006', item = ''): PlannedCheck => ({
  id: `web/${host}/${control}${item ? `:${item}` : ''}`,
  control,
  suite: control === 'DL-SSH-010' ? 'ssh-edits' : 'image-integrity',
  fleet: 'web',
  host,
  item: item || undefined,
  title: `${control} on ${host}${item ? ` ${item}` : ''}`,
  story: 'x',
});

type Written = AllureResult & { attachments: Array<{ name: string; source: string; type: string }> };

describe('writeCheckResults', () => {
  test('one result per owed check: passed, violation, broken, not applicable, missing, waived, expired waiver', async () => {
    fs.writeFileSync(
      path.join(tmp.dir, 'w.yaml'),
      'waivers:\n' +
        '  - { control: DL-IMG-006, host: h5, reason: "legacy host until the migration", approver: Ann, expires: 2099-01-01 }\n' +
        '  - { control: DL-IMG-006, host: h6, reason: "legacy host until the migration", approver: Ann, expires: 2020-01-01 }\n',
    );
    const cfg = loadConfig(write(config({ extra: 'waivers: w.yaml' })), { env: {}, homeDir: tmp.home });
    const run = { runId: 'r1', startedAt: '2026-12-02T00:00:00Z', config: cfg };
    const checks = [
      check('h1', 'DL-SSH-010', 'canary:/etc'),
      check('h2', 'DL-SSH-010', 'canary:/etc'),
      check('h3', 'DL-IMG-006'),
      check('h4', 'DL-SSH-010', 'canary:/opt'),
      check('h4', 'DL-IMG-006'), // the audit left no result for it
      check('h5', 'DL-IMG-006'),
      check('h6', 'DL-IMG-006'),
    ];
    const results: CheckResult[] = [
      { check: checks[0]!.id, status: 'passed', evidence: [{ name: 'evidence', contentType: 'application/json', body: '{"errno":"EROFS"}' }] },
      {
        check: checks[1]!.id,
        status: 'failed',
        violation: 'mutable-host',
        tainted: true,
        message: `ALLOWED on h2 with password ${SECRET}`,
        evidence: [{ name: 'transcript', contentType: 'text/plain', body: `echo ${SECRET}` }],
      },
      { check: checks[2]!.id, status: 'broken', message: 'the manifest stream is incomplete', evidence: [] },
      { check: checks[3]!.id, status: 'not-applicable', message: '/opt does not exist on h4', evidence: [] },
      { check: checks[5]!.id, status: 'failed', violation: 'manifest-drift', message: '2 files differ', evidence: [] },
      { check: checks[6]!.id, status: 'passed', evidence: [] },
    ];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-direct-'));
    const env = process.env.DRIFTLESS_SECRET;
    process.env.DRIFTLESS_SECRET = SECRET; // one of the names secretValues always redacts
    try {
      assert.equal(await writeCheckResults(dir, run, checks, results, { start: 1000, stop: 2000 }), checks.length);
    } finally {
      if (env === undefined) delete process.env.DRIFTLESS_SECRET;
      else process.env.DRIFTLESS_SECRET = env;
    }
    normalizeResults(dir);
    const all = readResults(dir) as Written[];
    assert.equal(all.length, checks.length);
    const of = (c: PlannedCheck) => all.find((r) => label(r, 'check') === c.id)!;

    const passed = of(checks[0]!);
    assert.equal(passed.status, 'passed');
    assert.equal(passed.name, checks[0]!.title);
    assert.deepEqual(
      ['epic', 'feature', 'story', 'parentSuite', 'suite', 'subSuite', 'control', 'run', 'severity'].map((n) => label(passed, n)),
      ['Immutability', 'DL-SSH-010 no file added in place', 'fleet web', 'ssh-edits', 'fleet web', 'h1', 'DL-SSH-010', 'r1', 'critical'],
    );
    assert.deepEqual(passed.parameters, [
      { name: 'host', value: 'h1' },
      { name: 'fleet', value: 'web' },
    ]);
    assert.equal(fs.readFileSync(path.join(dir, passed.attachments[0]!.source), 'utf8'), '{"errno":"EROFS"}');

    const violation = of(checks[1]!);
    assert.equal(violation.status, 'failed');
    assert.deepEqual(labels(violation, 'violation'), ['mutable-host', 'tainted']);
    assert.equal(categoryOf(violation), 'Mutable host');
    assert.match(violation.statusDetails!.message!, /^\[Mutable host\] ALLOWED on h2/);
    const body = fs.readFileSync(path.join(dir, violation.attachments[0]!.source), 'utf8');
    for (const text of [violation.statusDetails!.message!, body]) assert.ok(!text.includes(SECRET), `secret redacted from: ${text}`);

    const broken = of(checks[2]!);
    assert.equal(broken.status, 'broken');
    assert.match(broken.statusDetails!.message!, /^PROBE ERROR \(the harness could not tell\): the manifest stream is incomplete/);

    const na = of(checks[3]!);
    assert.equal(na.status, 'skipped');
    assert.equal(label(na, 'outcome'), 'not-applicable');

    const missing = of(checks[4]!);
    assert.equal(missing.status, 'broken', 'an owed check the audit did not answer is broken, never passed');
    assert.match(missing.statusDetails!.message!, /no result for web\/h4\/DL-IMG-006/);

    const waived = of(checks[5]!);
    assert.equal(waived.status, 'skipped');
    assert.equal(label(waived, 'outcome'), 'waived');
    assert.match(waived.statusDetails!.message!, /^WAIVED: .*legacy host.*\(the check itself: failed: 2 files differ\)/);
    assert.ok(waived.attachments.some((a) => a.name === 'waiver'));

    const expired = of(checks[6]!);
    assert.equal(expired.status, 'failed', 'an expired waiver is a violation even though the check passed');
    assert.deepEqual(labels(expired, 'violation'), ['waiver-expired']);

    // Stable identities, so Allure's history follows the same (host, control) from run to run.
    assert.equal(new Set(all.map((r) => r.historyId)).size, checks.length);
    assert.equal(violation.historyId, of(checks[1]!).historyId);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
