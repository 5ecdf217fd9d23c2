/**
 * The report an auditor reads, from a real lab run: categories (with probe errors as broken),
 * environment and executor, verdict.json valid against its schema with tainted and unchecked
 * hosts, history carried across 30 consecutive reports, a single-file report under its budget,
 * and the real report opened in Debian's chromium.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from '@playwright/test';
import { labUp } from '../../lab/lab.ts';
import { labDir } from '../../lab/lab-plan.ts';
import { OUTPUT, outputDir } from '../../core/paths.ts';
import { planHash } from '../../core/run-plan.ts';
import type { RunRecord } from '../../reports/run-record.ts';

const REPORTS_DIR = outputDir();
import { buildReport, SINGLE_FILE_BUDGET_BYTES } from '../../reports/report.ts';
import { validateVerdict, type Verdict } from '../../reports/verdict.ts';
import { readRecords } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-report-'));
const results = path.join(tmp, 'results');
const out = path.join(tmp, 'report');
let report: CliResult;
let verdict: Verdict;

before(async () => {
  await labUp();
  const lab = labDir();
  const ssh = (user: string) => ({ user, identityFile: path.join(lab, 'id_ed25519'), knownHostsFile: path.join(lab, 'known_hosts') });
  const config = {
    version: 1,
    targets: [
      { name: 'cattle', provider: 'docker', docker: { labels: { 'driftless.fleet': 'cattle', 'driftless.lab.role': 'host' } }, ssh: ssh('audit') },
      { name: 'snowflake', provider: 'docker', docker: { labels: { 'driftless.fleet': 'snowflake', 'driftless.lab.role': 'host' } }, ssh: ssh('root') },
      // a host nobody can reach: its checks must land as broken, and it as "could not be checked"
      {
        name: 'offline',
        provider: 'ssh',
        hosts: [{ id: 'offline-1', address: '127.0.0.1', port: 9, hostKey: 'SHA256:' + 'A'.repeat(43) }],
        ssh: { ...ssh('audit'), knownHostsFile: undefined, connectTimeoutMs: 2000 },
      },
    ],
    release: { file: path.join(lab, 'release.json') },
    policy: { ssh: { mode: 'read-only', immutablePaths: ['/etc'], writablePaths: ['/tmp', '/run'] } },
    report: { owner: 'platform-team', tags: ['nightly'], links: [{ name: 'runbook', url: 'https://runbooks.example/driftless' }] },
  };
  const file = path.join(tmp, 'config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const run = await driftless(['run', '--suite', 'ssh-edits', '--config', file, '--results-dir', results, '--seed', '11'], {
    env: { DRIFTLESS_RUN_ID: undefined, DRIFTLESS_RUN_DIR: undefined, DRIFTLESS_SEED: undefined },
  });
  assert.equal(run.code, 1, run.stdout.slice(-1500));
  report = await driftless(['report', '--results', results, '--out', out, '--single-file']);
  verdict = JSON.parse(fs.readFileSync(path.join(REPORTS_DIR, 'verdict.json'), 'utf8')) as Verdict;
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('report exits 1 (violations) and says where the report, the single file and the verdict are', () => {
  assert.equal(report.code, 1, report.stderr);
  assert.match(report.stdout, /single file for auditors: .*report-single\/index\.html \([\d.]+ MB; budget 25 MB; opens from disk\)/);
  assert.match(report.stdout, /verdict: violations — .* exit 1 \(.*verdict\.json\)/);
});

test('verdict.json is valid against its schema: categories, tainted and unchecked hosts', () => {
  assert.deepEqual(validateVerdict(verdict), []);
  assert.equal(verdict.verdict, 'violations');
  assert.equal(verdict.seed, 11);
  // per snowflake host: canary in /etc, 4 append-opens, chmod, sudo, and / on a read-write mount = 8 mutable-host violations
  assert.equal(verdict.categories['Mutable host'], 16);
  assert.deepEqual(verdict.taintedHosts, ['dl-snowflake-1', 'dl-snowflake-2']);
  assert.deepEqual(
    verdict.uncheckedHosts.map((h) => h.host),
    ['offline-1'],
  );
  assert.match(verdict.uncheckedHosts[0]!.reason, /unreachable \(ECONNREFUSED\)/);
  assert.ok(verdict.violations.every((v) => /^DL-SSH-\d{3}$/.test(v.control) && v.host?.startsWith('dl-snowflake-')));
});

test('probe errors land as broken in the report, violations under their category', () => {
  const staging = OUTPUT.staging();
  const allure = fs
    .readdirSync(staging)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(staging, f), 'utf8')) as { status: string; parameters: Array<{ name: string; value: string }> });
  const offline = allure.filter((x) => x.parameters.some((p) => p.value === 'offline'));
  assert.ok(offline.length > 0);
  for (const x of offline) assert.equal(x.status, 'broken');
  assert.ok(
    readRecords(results)
      .filter((x) => x.fleet === 'offline')
      .every((x) => x.outcome === 'broken'),
    'the typed results say so too',
  );
  // Allure groups a category's results by message: count the leaves.
  type Node = { name: string; children?: Node[] };
  const leaves = (n: Node): number => (n.children ? n.children.reduce((k, c) => k + leaves(c), 0) : 1);
  const cats = JSON.parse(fs.readFileSync(path.join(out, 'data', 'categories.json'), 'utf8')) as { children: Node[] };
  const byName = Object.fromEntries(cats.children.map((c) => [c.name, leaves(c)]));
  assert.equal(byName['Mutable host'], 16);
  assert.ok(byName['Probe error']! > 0);
});

test('environment and executor are in the report', () => {
  const env = JSON.parse(fs.readFileSync(path.join(out, 'widgets', 'environment.json'), 'utf8')) as Array<{ name: string; values: string[] }>;
  const names = env.map((e) => e.name);
  for (const n of ['run.id', 'seed', 'config.sha256', 'harness.version', 'fleets', 'started.at']) assert.ok(names.includes(n), `environment has ${n}`);
  assert.ok(names.some((n) => n.startsWith('release.')));
  const exec = JSON.parse(fs.readFileSync(path.join(out, 'widgets', 'executors.json'), 'utf8')) as Array<{ name: string; buildName: string }>;
  assert.match(exec[0]!.buildName, /seed 11/);
});

test('without a signing key the report says UNSIGNED in its title, its verdict and its environment (issue 24, item 1)', () => {
  assert.equal(verdict.evidence?.signed, false);
  assert.match(verdict.evidence!.statement, /^UNSIGNED: nothing proves/);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'widgets', 'summary.json'), 'utf8')) as { reportName: string };
  assert.match(summary.reportName, /^driftless: VIOLATIONS \(exit 1\) — UNSIGNED — /);
  const env = JSON.parse(fs.readFileSync(path.join(out, 'widgets', 'environment.json'), 'utf8')) as Array<{ name: string; values: string[] }>;
  assert.match(env.find((e) => e.name === 'evidence')!.values[0]!, /^UNSIGNED/);
  assert.match(report.stdout, /UNSIGNED: set report\.signingKey/);
});

test('the single-file report stays under its budget', () => {
  const size = fs.statSync(path.join(tmp, 'report-single', 'index.html')).size;
  assert.ok(size < SINGLE_FILE_BUDGET_BYTES, `${size} bytes`);
});

test("editing the report's Allure files changes neither the verdict nor the exit code of the next report (typed results decide)", async () => {
  const edited = path.join(tmp, 'edited-report');
  fs.cpSync(out, edited, { recursive: true });
  const data = path.join(edited, 'data', 'test-cases');
  let n = 0;
  for (const f of fs.readdirSync(data)) {
    const file = path.join(data, f);
    const body = fs.readFileSync(file, 'utf8');
    if (body.includes('"status":"failed"') || body.includes('"status":"broken"')) {
      fs.writeFileSync(file, body.replaceAll('"status":"failed"', '"status":"passed"').replaceAll('"status":"broken"', '"status":"passed"'));
      n++;
    }
  }
  for (const f of fs.readdirSync(path.join(edited, 'history'))) fs.writeFileSync(path.join(edited, 'history', f), '[]');
  assert.ok(n > 0, 'failed and broken results were edited to passed');
  const again = await driftless(['report', '--results', results, '--out', edited]);
  assert.equal(again.code, report.code, again.stdout + again.stderr);
  const v = JSON.parse(fs.readFileSync(path.join(REPORTS_DIR, 'verdict.json'), 'utf8')) as Verdict;
  assert.deepEqual(v.violations, verdict.violations);
  assert.deepEqual(v.coverage, verdict.coverage);
});

test('history is carried across 30 consecutive reports: the trend shows every run', async () => {
  const hist = path.join(tmp, 'history-report');
  // A small nightly run: four real checks and their records, as a results folder of their own.
  const record = JSON.parse(fs.readFileSync(path.join(results, 'driftless-run.json'), 'utf8')) as RunRecord;
  const base = readRecords(results).slice(0, 4);
  const plan = { ...record.plan, checks: record.plan.checks.filter((c) => base.some((r) => r.check === c.id)), notApplicable: [] };
  for (let night = 1; night <= 30; night++) {
    const dir = path.join(tmp, `night-${night}`);
    fs.mkdirSync(path.join(dir, 'checks'), { recursive: true });
    const runId = `night-${night}`;
    const small: RunRecord = { ...record, runId, plan, planHash: planHash(plan), owed: plan.checks.map((c) => c.id) };
    fs.writeFileSync(path.join(dir, 'driftless-run.json'), JSON.stringify(small));
    const records = base.map(({ attachments: _a, ...r }) => ({ ...r, runId, evidence: [] }));
    fs.writeFileSync(path.join(dir, 'checks', 'ssh-edits.json'), JSON.stringify({ version: 1, runId, suite: 'ssh-edits', records }));
    await buildReport({ inputs: [dir], out: hist, verdictFile: path.join(tmp, 'v.json'), staging: path.join(tmp, 'staging') });
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const trend = JSON.parse(fs.readFileSync(path.join(hist, 'history', 'history-trend.json'), 'utf8')) as unknown[];
  assert.ok(trend.length >= 20, `trend has ${trend.length} points after 30 runs`);
  const history = JSON.parse(fs.readFileSync(path.join(hist, 'history', 'history.json'), 'utf8')) as Record<string, { statistic: { total: number } }>;
  assert.ok(
    Object.values(history).every((h) => h.statistic.total === 30),
    'each check has all 30 runs in its history',
  );
});

test('in chromium: the categories view lists the snowflake violations, and an evidence attachment opens', async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto('file://' + path.join(tmp, 'report-single', 'index.html'));
    await page.getByText('Categories').first().waitFor({ timeout: 30_000 });
    fs.mkdirSync(path.join(REPORTS_DIR, 'screenshots'), { recursive: true });
    await page.screenshot({ path: path.join(REPORTS_DIR, 'screenshots', 'overview.png') });
    await page.goto('file://' + path.join(tmp, 'report-single', 'index.html') + '#categories');
    await page.getByText('Mutable host').first().click();
    const titles = await page.locator('.node__title').allInnerTexts();
    assert.ok(
      titles.some((t) => /ALLOWED on dl-snowflake-1/.test(t)) && titles.some((t) => /ALLOWED on dl-snowflake-2/.test(t)),
      'both snowflake hosts are listed under Mutable host',
    );
    assert.ok(!titles.some((t) => /dl-cattle-/.test(t)), 'no cattle host is listed as a violation');
    await page.locator('.node__title', { hasText: 'ALLOWED on dl-snowflake-1: created the canary; reverted' }).first().click();
    await page.locator('.node__title', { hasText: 'DL-SSH-010' }).first().click();
    await page.getByText('evidence', { exact: true }).first().click();
    await page
      .getByText(/"outcome": "ALLOWED"/)
      .first()
      .waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(REPORTS_DIR, 'screenshots', 'evidence.png') });
  } finally {
    await browser.close();
  }
});
