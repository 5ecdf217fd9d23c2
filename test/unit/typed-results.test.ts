/**
 * The typed results pipeline, from judgements to files: one record per owed check, whatever the
 * suite said or failed to say (a missing judgement is broken), secrets redacted from messages and
 * evidence, evidence stored once by its hash, the records valid against their schema and read
 * back whole; a damaged results file is named, never a stack trace; and the Allure renderer draws
 * its statuses, labels and categories from the records alone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../config/load.ts';
import type { CheckResult } from '../../core/check-result.ts';
import { readChecks } from '../../core/results-folder.ts';
import type { PlannedCheck } from '../../core/run-plan.ts';
import { plannedCheck } from '../../core/run-plan.ts';
import { recordSuite } from '../../engine/record.ts';
import { writeAllureResults } from '../../reports/allure-results.ts';
import { config, SECRET, tmp, useTempDirs, write } from '../helpers/config.ts';

useTempDirs();

const edit = (host: string, item: string) => plannedCheck('DL-SSH-010', { fleet: 'web', host }, { id: item, what: `create a canary in ${item}` });
const manifest = (host: string) => plannedCheck('DL-IMG-006', { fleet: 'web', host });

interface AllureFile {
  name: string;
  status: string;
  historyId: string;
  statusDetails: { message?: string };
  labels: Array<{ name: string; value: string }>;
  attachments: Array<{ name: string; source: string }>;
}

describe('typed results', () => {
  test('one record per owed check: passed, violation, broken, not applicable, missing, waived, expired waiver; rendered to Allure from the records', async () => {
    fs.writeFileSync(
      path.join(tmp.dir, 'w.yaml'),
      'waivers:\n' +
        '  - { control: DL-IMG-006, host: h5, reason: "legacy host until the migration", approver: Ann, expires: 2099-01-01 }\n' +
        '  - { control: DL-IMG-006, host: h6, reason: "legacy host until the migration", approver: Ann, expires: 2020-01-01 }\n',
    );
    const cfg = loadConfig(write(config({ extra: 'waivers: w.yaml' })), { env: {}, homeDir: tmp.home });
    const checks: PlannedCheck[] = [
      edit('h1', 'canary:/etc'),
      edit('h2', 'canary:/etc'),
      manifest('h3'),
      edit('h4', 'canary:/opt'),
      manifest('h4'),
      manifest('h5'),
      manifest('h6'),
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
      // checks[4]: the suite left no judgement for it
      {
        check: checks[5]!.id,
        status: 'failed',
        violation: 'manifest-drift',
        message: '2 files differ',
        evidence: [{ name: 'evidence', contentType: 'application/json', body: '{"errno":"EROFS"}' }],
      },
      { check: checks[6]!.id, status: 'passed', evidence: [] },
    ];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-typed-'));
    const env = process.env.DRIFTLESS_SECRET;
    process.env.DRIFTLESS_SECRET = SECRET; // one of the names secretValues always redacts
    try {
      const at = '2026-12-02T00:00:01.000Z';
      await recordSuite({ runId: 'r1', startedAt: '2026-12-02T00:00:00Z', config: cfg, resultsDir: dir }, 'ssh-edits', checks, results, {
        startedAt: at,
        finishedAt: at,
      });
    } finally {
      if (env === undefined) delete process.env.DRIFTLESS_SECRET;
      else process.env.DRIFTLESS_SECRET = env;
    }

    const read = readChecks(dir);
    assert.deepEqual(read.problems, [], 'the records match schemas/results.schema.json');
    assert.equal(read.records.length, checks.length);
    const of = (c: PlannedCheck) => read.records.find((r) => r.check === c.id)!;
    assert.deepEqual(
      checks.map((c) => of(c).outcome),
      ['passed', 'failed', 'broken', 'not-applicable', 'broken', 'waived', 'failed'],
    );
    assert.match(of(checks[4]!).message!, /no result for web\/h4\/DL-IMG-006: the audit did not judge this check/);
    assert.equal(of(checks[1]!).category, 'Mutable host');
    assert.equal(of(checks[1]!).tainted, 'changed');
    assert.equal(of(checks[6]!).violation, 'waiver-expired');
    assert.equal(of(checks[5]!).found?.status, 'failed');
    // Evidence: stored once by its hash (two records share one body), redacted.
    assert.equal(of(checks[0]!).evidence[0]!.file, of(checks[5]!).evidence[0]!.file);
    assert.equal(fs.readdirSync(path.join(dir, 'evidence')).length, 2);
    for (const text of [of(checks[1]!).message!, fs.readFileSync(path.join(dir, of(checks[1]!).evidence[0]!.file), 'utf8')])
      assert.ok(!text.includes(SECRET), `secret redacted from: ${text}`);

    // The Allure renderer, from the records alone (one result per check; the grouped layout: allure-grouped.test.ts).
    const allure = path.join(dir, 'allure');
    await writeAllureResults(allure, { layout: 'per-check', checks: checks.map((check) => ({ check, record: of(check), dir })), report: undefined });
    const files = fs.readdirSync(allure).filter((f) => f.endsWith('-result.json'));
    const all = files.map((f) => JSON.parse(fs.readFileSync(path.join(allure, f), 'utf8')) as AllureFile);
    const a = (c: PlannedCheck) => all.find((r) => r.labels.some((l) => l.name === 'check' && l.value === c.id))!;
    const label = (r: AllureFile, n: string) => r.labels.find((l) => l.name === n)?.value;
    assert.deepEqual(
      ['epic', 'feature', 'story', 'parentSuite', 'suite', 'subSuite', 'control', 'run', 'severity'].map((n) => label(a(checks[0]!), n)),
      ['Immutability', 'DL-SSH-010 no file added in place', 'fleet web', 'ssh-edits', 'fleet web', 'h1', 'DL-SSH-010', 'r1', 'critical'],
    );
    assert.deepEqual(
      checks.map((c) => a(c).status),
      ['passed', 'failed', 'broken', 'skipped', 'broken', 'skipped', 'failed'],
    );
    assert.match(a(checks[1]!).statusDetails.message!, /^\[Mutable host\] ALLOWED on h2/);
    assert.match(a(checks[2]!).statusDetails.message!, /^PROBE ERROR \(the harness could not tell\): the manifest stream is incomplete/);
    assert.match(a(checks[5]!).statusDetails.message!, /^WAIVED: .*legacy host.*\(the check itself: failed: 2 files differ\)/);
    assert.ok(a(checks[5]!).attachments.some((x) => x.name === 'waiver'));
    assert.equal(fs.readFileSync(path.join(allure, a(checks[0]!).attachments[0]!.source), 'utf8'), '{"errno":"EROFS"}');
    // Stable identities, so Allure's history follows the same (host, control) from run to run.
    assert.equal(new Set(all.map((r) => r.historyId)).size, checks.length);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a damaged typed results file is named with what is wrong, and its checks count as not run', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-typed-'));
    fs.mkdirSync(path.join(dir, 'checks'));
    fs.writeFileSync(path.join(dir, 'checks', 'ssh-edits.json'), '{"version":1,"runId":"r1","suite":"ssh-edits","records":[{"check":');
    fs.writeFileSync(
      path.join(dir, 'checks', 'chaos.json'),
      JSON.stringify({ version: 1, runId: 'r1', suite: 'chaos', records: [{ check: 'x', outcome: 'passed' }] }),
    );
    const read = readChecks(dir);
    assert.equal(read.records.length, 0);
    assert.equal(read.problems.length, 2);
    assert.match(read.problems.join('\n'), /checks\/chaos\.json does not match schemas\/results\.schema\.json .*its checks count as not run/);
    assert.match(read.problems.join('\n'), /checks\/ssh-edits\.json is not readable JSON/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
