/**
 * The grouped Allure layout (the default of `driftless report`, issue 28): the passed checks of a
 * host and suite are one result whose steps are those checks, without attachments, naming the
 * results folder that holds their evidence; every check that did not pass (violation, probe error,
 * not run, waived, not applicable) keeps its own result with its evidence and the history id it
 * has in the per-check layout; every passed check stays findable per host and control. The
 * verdict is not the renderer's: it counts every check either way.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { CheckRecord } from '../../core/check-record.ts';
import type { CheckResult } from '../../core/check-result.ts';
import type { Config } from '../../core/config.ts';
import { type PlannedCheck, plannedCheck } from '../../core/run-plan.ts';
import { readChecks } from '../../core/results-folder.ts';
import { recordSuite } from '../../engine/record.ts';
import { type AllureLayout, writeAllureResults } from '../../reports/allure-results.ts';
import { buildReport } from '../../reports/report.ts';
import { driftless } from '../helpers/cli.ts';
import { night, NIGHT_1, NIGHT_2 } from '../helpers/outputs-fixture.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-grouped-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface AllureFile {
  name: string;
  fullName: string;
  status: string;
  historyId: string;
  statusDetails: { message?: string };
  labels: Array<{ name: string; value: string }>;
  parameters: Array<{ name: string; value: string }>;
  attachments: Array<{ name: string; source: string }>;
  steps: Array<{ name: string; status: string; attachments: unknown[]; parameters: Array<{ name: string; value: string }> }>;
}

const edit = (host: string, dir: string) => plannedCheck('DL-SSH-010', { fleet: 'web', host }, { id: `canary:${dir}`, what: `create a canary file in ${dir}` });
const on = (host: string) => ({ fleet: 'web', host });
const checks: PlannedCheck[] = [
  edit('h1', '/etc'),
  edit('h1', '/usr/bin'),
  plannedCheck('DL-SSH-040', on('h1'), { id: 'sudo', what: 'escalate privileges with sudo -n true' }),
  plannedCheck('DL-SSH-060', on('h1')),
  edit('h2', '/etc'),
  edit('h2', '/usr/bin'),
  plannedCheck('DL-IMG-001', on('h1')),
  plannedCheck('DL-IMG-006', on('h1')),
  plannedCheck('DL-IMG-001', on('h2')),
  plannedCheck('DL-IMG-005', on('h2')),
  plannedCheck('DL-IMG-013', on('h2')),
];
const ev = (name: string, body: unknown) => [{ name, contentType: 'application/json' as const, body: JSON.stringify(body) }];
const judged: CheckResult[] = [
  { check: checks[0]!.id, status: 'passed', evidence: ev('evidence', { host: 'h1', errno: 'EROFS' }) },
  { check: checks[1]!.id, status: 'passed', evidence: ev('evidence', { host: 'h1', errno: 'EROFS', dir: '/usr/bin' }) },
  { check: checks[2]!.id, status: 'failed', violation: 'mutable-host', message: 'sudo -n true succeeded on h1', evidence: ev('evidence', { sudo: 'ok' }) },
  { check: checks[3]!.id, status: 'passed', evidence: ev('mounts', { ro: true }) },
  { check: checks[4]!.id, status: 'passed', evidence: ev('evidence', { host: 'h2' }) },
  // checks[5]: no judgement: not run, broken
  { check: checks[6]!.id, status: 'passed', evidence: ev('image', { host: 'h1' }) },
  {
    check: checks[7]!.id,
    status: 'failed',
    violation: 'manifest-drift',
    message: 'h1 differs from its golden manifest',
    evidence: ev('manifest', { changed: ['/etc/motd'] }),
  },
  { check: checks[8]!.id, status: 'passed', evidence: ev('image', { host: 'h2' }) },
  { check: checks[9]!.id, status: 'broken', message: 'the event log no longer reaches back', evidence: ev('exec events', {}) },
  { check: checks[10]!.id, status: 'not-applicable', message: 'not a container', evidence: [] },
];

async function recorded(): Promise<{ dir: string; records: CheckRecord[] }> {
  const dir = path.join(tmp, 'results');
  if (!fs.existsSync(dir)) {
    const config = { targets: [], waiverList: [] } as unknown as Config;
    const at = '2026-12-02T03:00:00.000Z';
    for (const suite of ['ssh-edits', 'image-integrity'] as const) {
      const mine = checks.filter((c) => c.suite === suite);
      await recordSuite({ runId: 'r1', startedAt: at, config, resultsDir: dir }, suite, mine, judged, { startedAt: at, finishedAt: at });
    }
  }
  const read = readChecks(dir);
  assert.deepEqual(read.problems, []);
  return { dir, records: read.records };
}

async function render(layout: AllureLayout | undefined, into: string): Promise<{ files: AllureFile[]; written: number; all: string[] }> {
  const { dir, records } = await recorded();
  const out = path.join(tmp, into);
  const written = await writeAllureResults(out, {
    ...(layout ? { layout } : {}),
    checks: checks.map((check) => {
      const record = records.find((r) => r.check === check.id)!;
      return { check, record, dir };
    }),
    report: undefined,
  });
  const all = fs.readdirSync(out);
  const files = all.filter((f) => f.endsWith('-result.json')).map((f) => JSON.parse(fs.readFileSync(path.join(out, f), 'utf8')) as AllureFile);
  return { files, written, all };
}

const label = (r: AllureFile, n: string) => r.labels.filter((l) => l.name === n).map((l) => l.value);
const param = (p: Array<{ name: string; value: string }>, n: string) => p.find((x) => x.name === n)?.value;
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('the grouped Allure layout', () => {
  test('is the default: the passed checks of a host and suite are one result, each check a step, no attachments, the folder named', async () => {
    const { files, written } = await render(undefined, 'grouped');
    const { dir } = await recorded();
    // 3 groups of passed checks (h1 ssh-edits, h1 image, h2 image... and h2 ssh-edits) + 5 that did not pass.
    const groups = files.filter((f) => label(f, 'grouped').length);
    assert.deepEqual(groups.map((g) => g.name).sort(), [
      'image-integrity on h1: 1 checks passed',
      'image-integrity on h2: 1 checks passed',
      'ssh-edits on h1: 3 checks passed',
      'ssh-edits on h2: 1 checks passed',
    ]);
    assert.equal(files.length, 4 + 5);
    assert.equal(written, files.length);
    const h1 = groups.find((g) => g.name.startsWith('ssh-edits on h1'))!;
    assert.equal(h1.status, 'passed');
    assert.deepEqual(h1.attachments, []);
    // A step per passed control, a parameter per check of it (its item): fleet/host/control:item is its check id.
    assert.deepEqual(
      h1.steps.map((s) => [s.name, s.status, s.parameters.map((p) => `${p.name}=${p.value}`), s.attachments.length]),
      [
        ['DL-SSH-010 no file added in place', 'passed', ['canary:/etc=passed', 'canary:/usr/bin=passed'], 0],
        ['DL-SSH-060 immutable paths on read-only mounts', 'passed', [], 0],
      ],
    );
    // Findable per host and control: its suites name the host, a control label per control.
    assert.deepEqual([label(h1, 'parentSuite'), label(h1, 'subSuite'), label(h1, 'control')], [['ssh-edits'], ['h1'], ['DL-SSH-010', 'DL-SSH-060']]);
    assert.deepEqual(label(h1, 'feature'), ['Passed checks'], 'one feature: Behaviors lists it once, not once per control');
    // Only what stays the same night after night: Allure keys a result's history by its parameters too.
    assert.deepEqual(
      h1.parameters.map((x) => x.name),
      ['fleet', 'host'],
    );
    assert.equal(param(h1.parameters, 'host'), 'h1');
    assert.ok(h1.statusDetails.message!.includes(dir), 'the message names the results folder');
    assert.match(
      h1.statusDetails.message!,
      new RegExp(
        `3 checks passed on h1: .*Their evidence is in the results folder ${dir} \\(checks/ssh-edits\\.json, evidence/\\), sealed by its evidence bundle`,
      ),
    );
    assert.equal(h1.historyId, md5('ssh-edits › fleet web › h1 › passed checks'), 'stable from run to run');
  });

  test('every check that did not pass keeps its own result, its evidence and its per-check history id', async () => {
    const grouped = await render('grouped', 'grouped-2');
    const perCheck = await render('per-check', 'per-check');
    assert.equal(perCheck.files.length, checks.length, 'per-check: one result each');
    assert.ok(perCheck.files.every((f) => label(f, 'grouped').length === 0));
    const own = grouped.files.filter((f) => !label(f, 'grouped').length);
    assert.deepEqual(own.map((f) => f.status).sort(), ['broken', 'broken', 'failed', 'failed', 'skipped']);
    assert.deepEqual(own.map((f) => label(f, 'check')[0]).sort(), [checks[2]!, checks[5]!, checks[7]!, checks[9]!, checks[10]!].map((c) => c.id).sort());
    for (const f of own) {
      const same = perCheck.files.find((p) => label(p, 'check')[0] === label(f, 'check')[0])!;
      assert.equal(f.historyId, same.historyId, `${f.name}: the same history id as in the per-check layout`);
      assert.deepEqual(
        f.attachments.map((a) => a.name),
        same.attachments.map((a) => a.name),
      );
    }
    const drift = own.find((f) => label(f, 'check')[0] === checks[7]!.id)!;
    assert.equal(drift.attachments.length, 1);
    assert.ok(grouped.all.includes(drift.attachments[0]!.source), 'the violation carries its evidence');
    assert.match(
      own.find((f) => label(f, 'check')[0] === checks[5]!.id)!.statusDetails.message!,
      /^PROBE ERROR .*no result for web\/h2\/DL-SSH-010:canary:\/usr\/bin/,
    );
    // Only the checks that did not pass brought attachments along.
    assert.equal(grouped.all.filter((f) => f.includes('-attachment')).length, 3);
    assert.equal(perCheck.all.filter((f) => f.includes('-attachment')).length, 9);
  });

  test("the single file keeps the trend, not each result's history; the report folder keeps and carries both", async () => {
    const root = path.join(tmp, 'nights');
    const report = async (dir: string) =>
      buildReport({
        inputs: [dir],
        out: path.join(root, 'report'),
        singleFileDir: path.join(root, 'single'),
        verdictFile: path.join(root, 'verdict.json'),
        staging: path.join(root, 'staging'),
      });
    await report((await night(root, 'night-1', '2026-12-01T02:17:00.000Z', NIGHT_1)).dir);
    const second = await report((await night(root, 'night-2', '2026-12-02T02:17:00.000Z', NIGHT_2)).dir);
    assert.equal(second.historyCarried, true);
    const history = JSON.parse(fs.readFileSync(path.join(root, 'report', 'history', 'history.json'), 'utf8')) as Record<string, { items: unknown[] }>;
    assert.ok(
      Object.values(history).some((h) => h.items.length === 2),
      "the folder report has both nights in a result's history",
    );
    // The single file embeds its data as d('<path>','<base64>'): the trend of both nights, each result's history of this one.
    const single = fs.readFileSync(path.join(root, 'single', 'index.html'), 'utf8');
    const embedded = <T>(name: string) => JSON.parse(Buffer.from(new RegExp(`d\\('${name}','([^']*)'\\)`).exec(single)![1]!, 'base64').toString('utf8')) as T;
    assert.equal(embedded<unknown[]>('history/history-trend.json').length, 2, 'the single file has the trend of both nights');
    const own = embedded<Record<string, { items: unknown[] }>>('history/history.json');
    assert.ok(
      Object.values(own).every((h) => h.items.length === 1),
      "but each result's history only of this night: it does not grow night after night",
    );
  });

  test('`driftless report --allure` takes grouped or per-check, and nothing else (exit 2, before anything is read)', async () => {
    const r = await driftless(['report', '--results', path.join(tmp, 'nowhere'), '--allure', 'per-host'], { timeoutMs: 60_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--allure per-host: one of grouped, per-check/);
  });
});
