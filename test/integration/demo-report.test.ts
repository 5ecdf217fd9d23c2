/**
 * The demo as an auditor meets it: `driftless run` with the shipped lab config (every suite, the
 * three fleets, the lab's waiver file and signing key), then `driftless report --single-file`.
 * verdict.json leads with one answer per fleet and host; the run and the report carry signed
 * evidence bundles that `driftless verify` accepts, and rejects, naming the file, after one byte
 * is changed, a file removed or a file added; in Debian's chromium the report shows the verdict per
 * fleet with its compliance matrix, State lost and Not replaced for snowflake, and the waived check.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Page } from '@playwright/test';
import { outputDir } from '../../core/paths.ts';
import { readChecks } from '../../core/results-folder.ts';
import { mergeRecords, readRunRecord } from '../../reports/run-record.ts';
import { labUp } from '../../lab/lab.ts';
import { labDir } from '../../lab/lab-plan.ts';
import { keyFingerprint } from '../../core/provenance.ts';
import { EVIDENCE_FILE } from '../../reports/evidence.ts';
import { validateVerdict, type Verdict, verdictOf } from '../../reports/verdict.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-demo-'));
const results = path.join(tmp, 'results');
const reportDir = path.join(tmp, 'report');
const singleFile = path.join(tmp, 'report-single', 'index.html');
let run: CliResult;
let report: CliResult;
let verdict: Verdict;
let raw: Rec[];

before(async () => {
  await labUp();
  run = await driftless(['run', '--results-dir', results], {
    env: { DRIFTLESS_RUN_ID: undefined, DRIFTLESS_RUN_DIR: undefined, DRIFTLESS_SEED: undefined },
    timeoutMs: 600_000,
  });
  raw = readRecords(results);
  report = await driftless(['report', '--results', results, '--out', reportDir, '--single-file']);
  verdict = JSON.parse(fs.readFileSync(path.join(outputDir(), 'verdict.json'), 'utf8')) as Verdict;
});

after(async () => {
  // The demo deploys a new release to the lab: later suites get a fresh lab.
  await driftless(['lab', 'down']);
  await labUp();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A copy of a signed folder to tamper with, so each case starts from the intact one. */
function copyOf(dir: string, name: string): string {
  const to = path.join(tmp, name);
  fs.cpSync(dir, to, { recursive: true });
  return to;
}

describe('the demo run and its verdict', () => {
  test('run and report exit 1 (the negative controls are caught), signed', () => {
    assert.equal(run.code, 1, run.stdout.slice(-3000) + run.stderr.slice(-2000));
    assert.match(run.stdout, /evidence: .*driftless-evidence\.json \(\d+ files, signed by SHA256:/);
    assert.equal(report.code, 1, report.stdout + report.stderr);
    assert.match(report.stdout, /evidence: .*driftless-evidence\.json \(\d+ files, signed by SHA256:.*check with driftless verify/);
  });

  test('verdict.json leads with the answer, then one verdict per fleet and per host, then the counts', () => {
    assert.deepEqual(validateVerdict(verdict), []);
    const text = fs.readFileSync(path.join(outputDir(), 'verdict.json'), 'utf8');
    assert.deepEqual(Object.keys(JSON.parse(text)).slice(0, 3), ['verdict', 'exitCode', 'coverage']);
    const fleets = Object.fromEntries(verdict.coverage.fleets.map((f) => [f.fleet, f.verdict]));
    assert.deepEqual(fleets, { cattle: 'compliant', snowflake: 'violations', sticky: 'violations' });
    const cattle = verdict.coverage.fleets.find((f) => f.fleet === 'cattle')!;
    // Its three hosts, the replacement of its chaos victim and the instances of its new release.
    assert.deepEqual(cattle.hosts.map((h) => h.host).sort(), ['deployed-instances', 'dl-cattle-1', 'dl-cattle-2', 'dl-cattle-3', 'replacement-of-kill-1']);
    assert.ok(
      cattle.hosts.every((h) => h.verdict === 'compliant'),
      JSON.stringify(cattle.hosts),
    );
    assert.equal(verdict.coverage.total.missing, 0, 'no owed check is missing');
    // The one thing not checked: the replacement of snowflake's victim, which nothing replaces.
    assert.deepEqual(
      verdict.uncheckedHosts.map((h) => `${h.fleet} ${h.host}`),
      ['snowflake replacement-of-kill-1'],
    );
    assert.match(verdict.uncheckedHosts[0]!.reason, /^not run: dl-snowflake-2 \(kill 1 of fleet snowflake\) was never replaced/);
  });

  test('what came up during the run is audited: the replacements of the victims, the instances of the new release', () => {
    const slot = (fleet: string, host: string) => raw.filter((r) => r.fleet === fleet && r.host === host);
    for (const fleet of ['cattle', 'sticky']) {
      const rs = slot(fleet, 'replacement-of-kill-1');
      assert.ok(
        rs.length > 20 && rs.every((r) => r.outcome === 'passed' && r.suite === 'replacements'),
        `${fleet}: ${rs.map((r) => `${r.control} ${r.outcome}`).join(', ')}`,
      );
      assert.match(rs[0]!.parameters.origin ?? '', new RegExp(`^replacement of dl-${fleet}-\\d \\(kill 1 of fleet ${fleet}\\)$`));
    }
    const deployed = slot('cattle', 'deployed-instances');
    assert.ok(deployed.every((r) => r.outcome === 'passed' && r.suite === 'new-release'));
    assert.match(deployed[0]!.parameters.origin ?? '', /^deployed by release lab-r\d+$/);
    assert.match(deployed[0]!.parameters.instances ?? '', /^dl-cattle-1 \([0-9a-f]{12}\), dl-cattle-2 \([0-9a-f]{12}\), dl-cattle-3 \([0-9a-f]{12}\)$/);
    const snow = (c: string) => slot('snowflake', 'deployed-instances').find((r) => r.control === c)!;
    assert.match(
      snow('DL-IMG-001').message ?? '',
      /^1 of 1 instances of fleet snowflake fail: dl-snowflake-1: dl-snowflake-1 runs image .*the release declares/,
    );
    assert.equal(snow('DL-IMG-017').outcome, 'passed', 'patched in place, but only the image runs');
  });

  test('the snowflake chaos shows the headline: State lost and Not replaced', () => {
    assert.ok((verdict.categories['State lost'] ?? 0) >= 1, JSON.stringify(verdict.categories));
    assert.ok((verdict.categories['Not replaced'] ?? 0) >= 1, JSON.stringify(verdict.categories));
    const chaos = verdict.violations.filter((v) => v.fleet === 'snowflake' && v.control.startsWith('DL-CHAOS-'));
    assert.ok(chaos.some((v) => v.category === 'State lost'));
    assert.ok(chaos.some((v) => v.category === 'Not replaced'));
    assert.ok(
      verdict.kills[0]!.spent.some((k) => k.fleet === 'snowflake'),
      'a snowflake host was killed, from the one budget',
    );
  });

  test('the deploy: cattle passes every DL-DEP check; snowflake is not replaced and patched in place', () => {
    const dep = (fleet: string) => raw.filter((r) => r.fleet === fleet && (r.control ?? '').startsWith('DL-DEP-'));
    assert.equal(dep('cattle').length, 6);
    assert.ok(
      dep('cattle').every((r) => r.outcome === 'passed'),
      dep('cattle')
        .map((r) => `${r.control}: ${r.outcome} ${r.message ?? ''}`)
        .join('\n'),
    );
    const snow = verdict.violations.filter((v) => v.fleet === 'snowflake' && v.control.startsWith('DL-DEP-'));
    assert.ok(snow.some((v) => v.control === 'DL-DEP-001' && v.category === 'Not replaced'));
    assert.ok(snow.some((v) => v.control === 'DL-DEP-003' && v.category === 'Patched in place'));
  });

  test('the waived check is waived (not passed), with its reason and approver', () => {
    // dl-snowflake-1, and the same host again as snowflake's deployed instance after the lab deploy.
    assert.equal(verdict.counts.waived, 2);
    assert.deepEqual(
      verdict.waived.map((w) => [w.control, w.host]),
      [
        ['DL-IMG-005', 'dl-snowflake-1'],
        ['DL-IMG-005', 'deployed-instances'],
      ],
    );
    assert.match(verdict.waived[0]!.waiver, /approved by driftless maintainers, until 2099-12-31/);
    const r = raw.find((x) => x.control === 'DL-IMG-005' && x.host === 'dl-snowflake-1')!;
    assert.equal(r.outcome, 'waived');
  });
});

describe('provenance (DL-IMG-020): the chain for every host', () => {
  test('every host verifies to the lab key, builder and source its release names', () => {
    const lab = path.join(labDir(), 'provenance_ecdsa.pub.pem');
    const key = keyFingerprint(createPublicKey(fs.readFileSync(lab, 'utf8')));
    const chain = new Map((verdict.provenance ?? []).map((p) => [p.host, p]));
    // Every host of the run, and the slots of what came up during it (replacements, deployed instances).
    assert.deepEqual([...chain.keys()].filter((h) => h?.startsWith('dl-')).sort(), [
      'dl-cattle-1',
      'dl-cattle-2',
      'dl-cattle-3',
      'dl-snowflake-1',
      'dl-snowflake-2',
      'dl-sticky-1',
      'dl-sticky-2',
    ]);
    const sources = new Map<string, string | undefined>();
    for (const host of ['dl-cattle-1', 'dl-cattle-2', 'dl-cattle-3', 'dl-sticky-1', 'dl-sticky-2', 'dl-snowflake-1', 'dl-snowflake-2']) {
      const p = chain.get(host)!;
      assert.equal(p.outcome, 'passed', `${host}: ${p.message}`);
      assert.match(p.instance ?? '', /^[0-9a-f]{12,64}$/);
      assert.match(p.image ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.equal(p.attestation?.file, path.join(labDir(), 'attestations', `${p.image!.replace(':', '-')}.sigstore.json`));
      assert.equal(p.attestation?.keyFingerprint, key);
      assert.equal(p.attestation?.builder, 'driftless-lab');
      sources.set(host, p.source?.id);
    }
    // The audit ran before the deploy re-released the lab: the sources are release 1's, one per image.
    const cattleLike = ['dl-cattle-1', 'dl-cattle-2', 'dl-cattle-3', 'dl-sticky-1', 'dl-sticky-2'].map((h) => sources.get(h));
    assert.ok(
      cattleLike.every((x) => /^sha256:[0-9a-f]{64}$/.test(x ?? '') && x === cattleLike[0]),
      'sticky runs the cattle image',
    );
    assert.ok(sources.get('dl-snowflake-1') === sources.get('dl-snowflake-2') && sources.get('dl-snowflake-1') !== cattleLike[0]);
    // The one: the deployed snowflake instance, patched in place, still on release 1's image after release 2.
    assert.equal(verdict.categories['Unproven provenance'], 1);
  });

  test("the evidence bundle hashes the lab's provenance key and every attestation verified", () => {
    const bundle = JSON.parse(fs.readFileSync(path.join(results, EVIDENCE_FILE), 'utf8')) as {
      inputs: Array<{ what: string; file: string; sha256: string | null }>;
    };
    const attestations = bundle.inputs.filter((i) => i.what === 'attestation');
    assert.equal(attestations.length, 2, 'two images attested: cattle (run by cattle and sticky) and snowflake');
    assert.match(attestations[0]!.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.ok(bundle.inputs.some((i) => i.what === 'provenance key' && i.file.endsWith('provenance_ecdsa.pub.pem') && i.sha256));
  });
});

describe('one typed results pipeline', () => {
  test("the demo's verdict is the one it gave before the pipeline was rebuilt: fleets, failed and broken pairs, waived, tainted, exit", () => {
    const expected = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'demo-verdict.expected.json'), 'utf8')) as Record<string, unknown>;
    const now = {
      exitCode: verdict.exitCode,
      fleets: Object.fromEntries(verdict.coverage.fleets.map((f) => [f.fleet, f.verdict])),
      failed: [...new Set(verdict.violations.map((x) => `${x.control} ${x.host ?? x.fleet}`))].sort(),
      broken: [...new Set(verdict.uncheckedHosts.map((h) => h.host))].sort(),
      waived: verdict.waived.map((w) => `${w.control} ${w.host ?? w.fleet}`).sort(),
      tainted: verdict.taintedHosts,
    };
    const { about: _about, ...want } = expected;
    assert.deepEqual(now, want);
  });

  test('the typed results validate, and the verdict recomputed from them and the run record alone equals verdict.json', () => {
    const read = readChecks(results);
    assert.deepEqual(read.problems, []);
    assert.equal(read.records.length, verdict.coverage.total.owed);
    const again = verdictOf(read.records, mergeRecords([readRunRecord(results)]));
    // evidence and changes are the run's additions: how it was sealed, and what changed since the last run.
    const strip = (v: Verdict) => ({ ...v, generatedAt: '', evidence: undefined, changes: undefined });
    const own = JSON.parse(fs.readFileSync(path.join(results, 'verdict.json'), 'utf8')) as Verdict;
    assert.deepEqual(strip(again), strip(own));
    assert.deepEqual({ ...strip(again), incomplete: [] }, { ...strip(verdict), incomplete: [] });
  });

  test('chaos and deploy violations print as one readable line each, with no stack trace of driftless', () => {
    const lines = run.stdout.split('\n').filter((l) => /^ {2}VIOLATION fleet snowflake DL-(CHAOS|DEP)-/.test(l));
    assert.ok(lines.length >= 5, run.stdout.slice(-3000));
    for (const l of lines) assert.match(l, /^ {2}VIOLATION fleet snowflake DL-[A-Z]+-\d{3} \[[A-Za-z -]+\]: .+ \(evidence: .+\)$/);
    assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at \S+ \(.*\.ts:\d+:\d+\)/);
    assert.doesNotMatch(run.stdout + run.stderr, /Error Context|report-check\.ts/);
  });
});

describe('driftless verify', () => {
  const key = () => ['--config', path.join(process.cwd(), 'driftless.config.yaml')];

  test('the fresh results and the fresh report verify (exit 0)', async () => {
    for (const dir of [results, reportDir]) {
      const v = await driftless(['verify', dir, ...key()]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /verified: every file as signed by SHA256:/);
    }
  });

  test('one byte of one result changed: exit 1, naming the file', async () => {
    const dir = copyOf(results, 'tampered-byte');
    const name = `checks/${fs.readdirSync(path.join(dir, 'checks'))[0]!}`;
    const file = path.join(dir, name);
    const b = fs.readFileSync(file);
    b[b.length - 2] = b[b.length - 2]! ^ 1;
    fs.writeFileSync(file, b);
    const v = await driftless(['verify', dir, ...key()]);
    assert.equal(v.code, 1, v.stdout);
    assert.match(v.stdout, new RegExp(`^changed: ${name}$`, 'm'));
  });

  test('an attachment of the report removed, and a file added: exit 1, naming both', async () => {
    const dir = copyOf(reportDir, 'tampered-report');
    const att = fs.readdirSync(path.join(dir, 'data', 'attachments'))[0]!;
    fs.rmSync(path.join(dir, 'data', 'attachments', att));
    fs.writeFileSync(path.join(dir, 'data', 'extra.json'), '{}');
    const v = await driftless(['verify', dir, ...key()]);
    assert.equal(v.code, 1, v.stdout);
    assert.match(v.stdout, new RegExp(`^removed: data/attachments/${att.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(v.stdout, /^added: data\/extra\.json$/m);
  });

  test('the bundle names the inputs by hash: config, release file, known_hosts, the provenance key and attestations, waivers, lockfile', () => {
    const bundle = JSON.parse(fs.readFileSync(path.join(results, EVIDENCE_FILE), 'utf8')) as { inputs: Array<{ what: string; sha256: string | null }> };
    assert.deepEqual(
      bundle.inputs.map((i) => i.what),
      ['config', 'release file', 'known_hosts', 'provenance key', 'attestation', 'attestation', 'waivers', 'lockfile'],
    );
    assert.ok(bundle.inputs.every((i) => /^[0-9a-f]{64}$/.test(i.sha256 ?? '')));
  });
});

describe('in chromium', () => {
  let page: Page;
  let close: () => Promise<void>;
  before(async () => {
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    close = () => browser.close();
    page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  });
  after(async () => close());

  test('the overview leads with the answer: the title and the environment carry the verdict per fleet', async () => {
    await page.goto('file://' + singleFile);
    await page.getByText('Categories').first().waitFor({ timeout: 30_000 });
    await page
      .getByText('driftless: VIOLATIONS (exit 1) — cattle: compliant · snowflake: violations · sticky: violations')
      .first()
      .waitFor({ timeout: 10_000 });
    for (const line of ['verdict.fleet.cattle', 'verdict.fleet.snowflake', 'verdict.fleet.sticky'])
      await page.getByText(line, { exact: true }).first().waitFor({ timeout: 10_000 });
    fs.mkdirSync(path.join(outputDir(), 'screenshots'), { recursive: true });
    await page.screenshot({ path: path.join(outputDir(), 'screenshots', 'demo-overview.png') });
  });

  test('the Verdict suite has one result per fleet, whose compliance matrix opens', async () => {
    await page.goto('file://' + singleFile + '#suites');
    await page.locator('.node__title', { hasText: 'Verdict' }).first().click();
    await page.locator('.node__title', { hasText: 'fleet snowflake' }).first().click();
    await page.locator('.node__title', { hasText: 'Verdict for fleet snowflake: violations' }).first().click();
    await page.getByText('compliance matrix: fleet snowflake').first().click();
    const matrix = page.frameLocator('iframe').first().locator('#compliance-matrix');
    await matrix.waitFor({ timeout: 15_000 });
    const rows = await matrix.locator('tr').allInnerTexts();
    const row = (host: string) => rows.find((r) => r.startsWith(host))!.split('\t');
    const head = rows[0]!.split('\t').map((h) => h.split('\n')[0]);
    const cell = (host: string, controlId: string) => row(host)[head.indexOf(controlId)]!.trim();
    assert.equal(cell('(fleet)', 'DL-CHAOS-001'), 'FAIL');
    assert.equal(cell('(fleet)', 'DL-CHAOS-002'), 'FAIL');
    assert.equal(cell('dl-snowflake-1', 'DL-IMG-005'), 'waived');
    assert.equal(cell('dl-snowflake-1', 'DL-IMG-001'), 'pass');
    // What came up during the run, in the same matrix: the victim's replacement never did; the deployed instance fails.
    assert.equal(cell('replacement-of-kill-1', 'DL-IMG-003'), 'broken');
    assert.equal(cell('deployed-instances', 'DL-IMG-001'), 'FAIL');
    assert.equal(cell('deployed-instances', 'DL-IMG-005'), 'waived');
    await page.screenshot({ path: path.join(outputDir(), 'screenshots', 'demo-matrix.png') });
  });

  test('Categories: State lost and Not replaced list the snowflake chaos results, with the timeline chart', async () => {
    await page.goto('file://' + singleFile + '#categories');
    await page.locator('.node__title', { hasText: 'Not replaced' }).first().click();
    await page
      .locator('.node__title', { hasText: /^\[Not replaced\] victims not replaced/ } /* the chaos group; the deploy has its own */)
      .first()
      .click();
    const notReplaced = await page.locator('.node__title').allInnerTexts();
    assert.ok(
      notReplaced.some((t) => /DL-CHAOS-002/.test(t) && /snowflake/.test(t)),
      notReplaced.join('\n'),
    );
    await page.locator('.node__title', { hasText: 'State lost' }).first().click();
    // One group per distinct message (snowflake and sticky lose different shares): open them all.
    const groups = page.locator('.node__title', { hasText: /^\[State lost\] state lost — not stateless/ });
    for (let i = 0; i < (await groups.count()); i++) await groups.nth(i).click();
    const stateLost = await page.locator('.node__title').allInnerTexts();
    assert.ok(
      stateLost.some((t) => /DL-CHAOS-001/.test(t) && /snowflake/.test(t)),
      stateLost.join('\n'),
    );
    await page
      .locator('.node__title', { hasText: /DL-CHAOS-001.*snowflake/s })
      .first()
      .click();
    await page.getByText('timeline.svg').first().waitFor({ timeout: 10_000 });
  });

  test('the deploy suite: snowflake under Patched in place, with the deploy timeline and the command transcript', async () => {
    await page.goto('file://' + singleFile + '#categories');
    await page.locator('.node__title', { hasText: 'Patched in place' }).first().click();
    await page
      .locator('.node__title', { hasText: /^\[Patched in place\]/ })
      .first()
      .click();
    const titles = await page.locator('.node__title').allInnerTexts();
    assert.ok(
      titles.some((t) => /DL-DEP-003/.test(t) && /snowflake/.test(t)),
      titles.join('\n'),
    );
    await page
      .locator('.node__title', { hasText: /DL-DEP-003.*snowflake/s })
      .first()
      .click();
    await page.getByText('deploy-timeline.svg').first().waitFor({ timeout: 10_000 });
    await page.getByText('deploy command').first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(outputDir(), 'screenshots', 'demo-deploy.png') });
  });

  test('the waived check is shown as waived, with its reason, never as passed', async () => {
    await page.goto('file://' + singleFile + '#suites');
    await page.locator('.node__title', { hasText: 'image-integrity' }).first().click();
    await page.locator('.node__title', { hasText: 'fleet snowflake' }).first().click();
    await page.locator('.node__title', { hasText: 'dl-snowflake-1' }).first().click();
    await page.locator('.node__title', { hasText: 'DL-IMG-005' }).first().click();
    await page
      .getByText(/^WAIVED: DL-IMG-005 on fleet snowflake, host dl-snowflake-1, approved by driftless maintainers/)
      .first()
      .waitFor({ timeout: 10_000 });
    // The result's status badge: Skipped (Allure's word for not passed, not failed), never Passed.
    await page.getByText('Skipped', { exact: true }).first().waitFor({ timeout: 10_000 });
    assert.equal(await page.getByText('Passed', { exact: true }).count(), 0);
    await page.screenshot({ path: path.join(outputDir(), 'screenshots', 'demo-waived.png') });
  });
});
