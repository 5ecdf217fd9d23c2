/**
 * Resource-scoped checks (the plan suite's: fleet = a plan file, resource = a change's address)
 * through every renderer of the typed results: the verdict counts each resource (and names a
 * broken one), the compliance matrix has resources as its rows, the Allure results a resource as
 * their sub-suite, the terminal names the resource, and a waiver can name resources by glob.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type CheckRecord, recordCheck } from '../../core/check-record.ts';
import type { CheckResult } from '../../core/check-result.ts';
import { type PlannedCheck, plannedCheck, planHash, type RunPlan } from '../../core/run-plan.ts';
import { waiverFor } from '../../core/waivers.ts';
import { writeAllureResults } from '../../reports/allure-results.ts';
import { matrices, matrixHtml } from '../../reports/matrix.ts';
import { mergeRecords, type RunRecord } from '../../reports/run-record.ts';
import { findingLines } from '../../reports/terminal.ts';
import { validateVerdict, verdictOf } from '../../reports/verdict.ts';

const FILE = 'infra/prod/plan.json';
const checks: PlannedCheck[] = [
  plannedCheck('DL-PLAN-001', { fleet: FILE, resource: 'aws_instance.web' }),
  plannedCheck('DL-PLAN-001', { fleet: FILE, resource: 'aws_launch_template.web' }),
  plannedCheck('DL-PLAN-002', { fleet: FILE, resource: 'aws_autoscaling_group.web' }),
  plannedCheck('DL-PLAN-003', { fleet: FILE, resource: '(whole plan)' }),
];
const judged: Array<Omit<CheckResult, 'check' | 'evidence'>> = [
  { status: 'failed', violation: 'updated-in-place', message: 'aws_instance.web would be updated in place: instance_type "a" → "b"' },
  { status: 'passed' },
  { status: 'broken', message: 'may or may not be replaced (Replacement: Conditional)' },
  { status: 'not-applicable', message: 'no changes: the plan is complete and changes nothing' },
];
const at = '2026-12-05T00:00:01.000Z';
const records: CheckRecord[] = checks.map((c, i) =>
  recordCheck(
    c,
    { check: c.id, evidence: [], ...judged[i]! },
    {
      runId: 'r1',
      runStartedAt: at,
      waivers: [],
      secrets: [],
      store: () => {
        throw new Error('no evidence here');
      },
      timing: { startedAt: at, finishedAt: at },
    },
  ),
);
const PLAN: RunPlan = { suites: ['plan'], checks, notApplicable: [] };
const run: RunRecord = {
  runId: 'r1',
  seed: 1,
  seedFrom: 'random',
  startedAt: at,
  harnessVersion: '0.1.0',
  config: { file: '(built-in defaults)', sha256: 'a'.repeat(64) },
  fleets: [],
  inventory: [],
  release: {},
  planHash: planHash(PLAN),
  plan: PLAN,
  shard: null,
  owed: checks.map((c) => c.id),
  dryRun: false,
  inputs: { release: null, waivers: null },
  finished: { at, phases: [{ phase: 'plan', recorded: 'ok', audits: 'ok' }] },
};
const verdict = verdictOf(records, mergeRecords([{ dir: '/r', record: run }]));

describe('resource-scoped checks in every output', () => {
  test('a planned check names its resource in its id and title, never a host', () => {
    assert.equal(checks[0]!.id, 'infra/prod/plan.json/aws_instance.web/DL-PLAN-001');
    assert.equal(checks[0]!.title, 'DL-PLAN-001 compute replaced, not updated in place: aws_instance.web');
    assert.equal(checks[0]!.host, undefined);
    assert.equal(records[0]!.resource, 'aws_instance.web');
    assert.equal(records[0]!.parameters.resource, 'aws_instance.web');
  });

  test('the verdict: coverage per plan file and per resource; a violation and a broken check name their resource', () => {
    assert.deepEqual(validateVerdict(verdict), []);
    assert.equal(verdict.verdict, 'violations');
    const f = verdict.coverage.fleets[0]!;
    assert.equal(f.fleet, FILE);
    assert.deepEqual(f.hosts, []);
    assert.deepEqual(
      f.resources!.map((r) => [r.resource, r.verdict]),
      [
        ['aws_instance.web', 'violations'],
        ['aws_launch_template.web', 'compliant'],
        ['aws_autoscaling_group.web', 'not-fully-checked'],
        ['(whole plan)', 'compliant'],
      ],
    );
    assert.deepEqual(verdict.violations[0], {
      id: checks[0]!.id,
      category: 'Patched in place',
      control: 'DL-PLAN-001',
      check: checks[0]!.title,
      fleet: FILE,
      resource: 'aws_instance.web',
      message: judged[0]!.message,
    });
    assert.deepEqual(verdict.uncheckedHosts, [
      { host: '(resource aws_autoscaling_group.web)', fleet: FILE, resource: 'aws_autoscaling_group.web', reason: judged[2]!.message },
    ]);
    assert.deepEqual(verdict.notApplicable, [{ fleet: FILE, resource: '(whole plan)', suite: 'plan', control: 'DL-PLAN-003', reason: judged[3]!.message }]);
  });

  test('the compliance matrix: resources × controls', () => {
    const [m] = matrices(checks, new Map(records.map((r) => [r.check, r])), verdict);
    assert.equal(m!.rowsAre, 'resource');
    assert.deepEqual(
      m!.rows.map((r) => [r.host, Object.fromEntries(Object.entries(r.cells).map(([k, v]) => [k, v.outcome]))]),
      [
        ['(whole plan)', { 'DL-PLAN-003': 'notApplicable' }],
        ['aws_autoscaling_group.web', { 'DL-PLAN-002': 'broken' }],
        ['aws_instance.web', { 'DL-PLAN-001': 'failed' }],
        ['aws_launch_template.web', { 'DL-PLAN-001': 'passed' }],
      ],
    );
    const html = matrixHtml(m!, verdict);
    assert.match(html, /<h2>plan infra\/prod\/plan\.json: violations<\/h2>/);
    assert.match(html, /<tr><th>resource<\/th>/);
    assert.match(html, /aws_instance\.web<br><small>violations<\/small>/);
  });

  test('Allure: the resource is the sub-suite and a parameter', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-resource-'));
    try {
      await writeAllureResults(dir, { checks: checks.map((check, i) => ({ check, record: records[i]!, dir })), report: undefined });
      const all = fs.readdirSync(dir).map(
        (f) =>
          JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as {
            labels: Array<{ name: string; value: string }>;
            parameters: Array<{ name: string; value: string }>;
            titlePath: string[];
          },
      );
      const web = all.find((r) => r.labels.some((l) => l.name === 'check' && l.value === checks[0]!.id))!;
      assert.equal(web.labels.find((l) => l.name === 'subSuite')?.value, 'aws_instance.web');
      assert.deepEqual(web.titlePath, ['plan', `fleet ${FILE}`, 'aws_instance.web']);
      assert.ok(web.parameters.some((p) => p.name === 'resource' && p.value === 'aws_instance.web'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the terminal names the plan file and the resource', () => {
    const lines = findingLines(records, '/r');
    assert.match(lines[0]!, /^ {2}VIOLATION infra\/prod\/plan\.json aws_instance\.web DL-PLAN-001 \[Patched in place\]: /);
    assert.match(lines[1]!, /^ {2}BROKEN infra\/prod\/plan\.json aws_autoscaling_group\.web DL-PLAN-002: /);
  });

  test('a waiver names resources by glob, and a resource waiver never covers a host (nor the reverse)', () => {
    const w = { control: 'DL-PLAN-003', resource: 'aws_db_instance.legacy*', reason: 'migrated first', approver: 'Ann', expires: '2099-01-01' };
    assert.ok(waiverFor([w], { control: 'DL-PLAN-003', fleet: FILE, resource: 'aws_db_instance.legacy_orders' }));
    assert.equal(waiverFor([w], { control: 'DL-PLAN-003', fleet: FILE, resource: 'aws_db_instance.orders' }), undefined);
    assert.equal(waiverFor([w], { control: 'DL-PLAN-003', fleet: FILE, host: 'aws_db_instance.legacy_orders' }), undefined);
    assert.equal(waiverFor([{ ...w, resource: undefined, host: 'web-*' }], { control: 'DL-PLAN-003', fleet: FILE, resource: 'web-1' }), undefined);
  });
});
