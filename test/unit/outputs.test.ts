/**
 * The outputs CI systems and auditors read (issue 27), rendered from two nights of typed results
 * with a change between them (h1 fixed, h2 broken: a new violation and a check that could not
 * tell), each validated by an outside validator, started once for this file:
 *
 *   JUnit XML  xmllint-wasm 5.3.0 (libxml2) against Jenkins' junit-4.xsd (test/fixtures/junit/, its origin named there)
 *   SARIF      the SARIF 2.1.0 JSON schema shipped in @microsoft/sarif-multitool-linux 5.7.0 (ajv), and
 *              Microsoft's SARIF validator itself (`Sarif.Multitool validate`, same package), which adds the SARIF rules
 *   OSCAL      compliance-trestle 3.12.4 (PyPI; OSCAL 1.1.3 models and trestle's validators), installed by
 *              scripts/bootstrap.sh (ensure_trestle) into .driftless/tools/trestle
 *
 * and the changes since the baseline in the verdict, the summary, JUnit and SARIF.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { validateXML } from 'xmllint-wasm';
import { REPO_ROOT } from '../../core/paths.ts';
import { changesOf, readBaseline } from '../../reports/baseline.ts';
import { OUTPUT_KINDS, parseOutputs, type RenderInput, writeOutputs } from '../../reports/outputs.ts';
import { changeLines } from '../../reports/terminal.ts';
import type { Verdict } from '../../reports/verdict.ts';
import { validateVerdict, writeVerdict } from '../../reports/verdict.ts';
import { SECRET } from '../helpers/config.ts';
import { D1_SUDO, H1_EDIT, H2_EDIT, H2_MANIFEST, H3_EDIT, H3_MANIFEST, night, NIGHT_1, NIGHT_2, type Night, writeConfig } from '../helpers/outputs-fixture.ts';

const require = createRequire(import.meta.url);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-outputs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

let first: Night;
let second: Night;
let verdict: Verdict;
let files: string[];
const out = (f: string) => path.join(second.dir, 'outputs', f);
const read = (f: string) => fs.readFileSync(out(f), 'utf8');

before(async () => {
  writeConfig(root);
  first = await night(root, 'night-1', '2026-12-01T02:17:00.000Z', NIGHT_1);
  writeVerdict(path.join(root, 'night-1-verdict.json'), first.verdict);
  const waiver = { control: 'DL-SSH-040', host: 'd1', reason: 'legacy db until the migration', approver: 'Ann', expires: '2099-01-01' };
  second = await night(root, 'night-2', '2026-12-02T02:17:00.000Z', NIGHT_2, [waiver]);
  const { baseline } = readBaseline(path.join(root, 'night-1-verdict.json'), true);
  verdict = { ...second.verdict, changes: changesOf(baseline!, second.owed, second.byCheck) };
  const input: RenderInput = {
    owed: second.owed,
    byCheck: second.byCheck,
    verdict,
    runs: [second.record],
    evidencePath: (_r, e) => path.posix.join('..', e.file),
    workDir: root,
  };
  files = writeOutputs(second.dir, OUTPUT_KINDS, input).files;
});

describe('what changed since the last run', () => {
  test('the verdict lists new, fixed, still failing, newly broken, and earlier violations not checked now (waived)', () => {
    const ch = verdict.changes!;
    assert.deepEqual(validateVerdict(verdict), [], 'the verdict with its changes matches schemas/verdict.schema.json');
    assert.equal(ch.baseline.runId, 'night-1');
    assert.deepEqual(
      ch.newViolations.map((c) => c.id),
      [H2_EDIT],
    );
    assert.deepEqual(
      ch.fixed.map((c) => c.id),
      [H1_EDIT],
    );
    assert.deepEqual(
      ch.stillFailing.map((c) => c.id),
      [H3_EDIT],
    );
    // h3's manifest check was broken last night and is not run tonight: not newly broken.
    assert.deepEqual(
      ch.newlyBroken.map((c) => c.id),
      [H2_MANIFEST],
    );
    assert.ok(!ch.newlyBroken.some((c) => c.id === H3_MANIFEST));
    assert.deepEqual(
      ch.unresolved.map((c) => [c.id, c.now]),
      [[D1_SUDO, 'waived']],
    );
    assert.match(ch.fixed[0]!.message, /^ALLOWED: created \/etc\/\.driftless-canary on h1/, 'a fixed violation says what it was');
  });

  test('the terminal prints the counts, then each new and each fixed violation', () => {
    const lines = changeLines(verdict, {});
    assert.match(
      lines[0]!,
      /since run night-1 \(.*night-1-verdict\.json\): 1 new violations, 1 fixed, 1 still failing, 1 newly broken, 1 earlier violations not passing now/,
    );
    assert.match(
      lines.join('\n'),
      /\n {4}NEW web\/h2 DL-SSH-010 \[Mutable host\]: ALLOWED: .*\n {4}FIXED web\/h1 DL-SSH-010: was ALLOWED: .*\n {4}NEWLY BROKEN web\/h2 DL-IMG-006: ssh: connect timed out/,
    );
    assert.match(changeLines(first.verdict, {})[0]!, /no earlier verdict to compare with/);
  });

  test('a verdict written before violations carried their check id is matched by title, and says so', () => {
    const old = JSON.parse(fs.readFileSync(path.join(root, 'night-1-verdict.json'), 'utf8')) as Record<string, unknown> & {
      violations: Array<{ id?: string }>;
    };
    for (const v of old.violations) delete v.id;
    delete old.broken;
    const file = path.join(root, 'old-verdict.json');
    fs.writeFileSync(file, JSON.stringify(old));
    const ch = changesOf(readBaseline(file, true).baseline!, second.owed, second.byCheck);
    assert.deepEqual([ch.newViolations.map((c) => c.id), ch.fixed.map((c) => c.id), ch.stillFailing.map((c) => c.id)], [[H2_EDIT], [H1_EDIT], [H3_EDIT]]);
    assert.match(ch.notes.join('\n'), /carry no check id .*matched by their title/);
  });

  test('--baseline naming a file that is not a verdict is a usage error (exit 2)', () => {
    const file = path.join(root, 'not-a-verdict.json');
    fs.writeFileSync(file, '{"hello": 1}');
    assert.throws(
      () => readBaseline(file, true),
      (e: Error & { exitCode?: number }) => e.exitCode === 2 && /--baseline .*not a driftless verdict\.json/.test(e.message),
    );
    assert.throws(
      () => readBaseline(path.join(root, 'missing.json'), true),
      (e: Error & { exitCode?: number }) => e.exitCode === 2,
    );
    assert.match(readBaseline(file, false).skipped!, /not a driftless verdict .*no comparison/);
  });
});

describe('the outputs', () => {
  test('all are written under outputs/, carry the run id and plan hash, and never the secret of a record message', () => {
    assert.deepEqual(files, [
      'outputs/junit.xml',
      'outputs/driftless.sarif',
      'outputs/oscal/catalog.json',
      'outputs/oscal/assessment-plan.json',
      'outputs/oscal/assessment-results.json',
      'outputs/summary.md',
    ]);
    const hash = second.record.planHash;
    for (const f of files) {
      const body = fs.readFileSync(path.join(second.dir, f), 'utf8');
      assert.ok(!body.includes(SECRET), `${f} holds the secret`);
      if (f.endsWith('catalog.json')) continue; // the registry, not the run
      assert.ok(body.includes('night-2'), `${f} names the run id`);
      assert.ok(body.includes(hash) || body.includes(hash.slice(0, 19)), `${f} names the plan hash`);
    }
    assert.match(read('junit.xml'), /\[secret redacted\]/, 'the redaction mark is what is left of the secret');
  });

  test('--output takes a comma-separated subset (or none); a wrong name is a usage error', () => {
    assert.deepEqual(parseOutputs('sarif, junit'), ['junit', 'sarif']);
    assert.deepEqual(parseOutputs('none'), []);
    assert.throws(
      () => parseOutputs('junit,html'),
      (e: Error & { exitCode?: number }) => e.exitCode === 2 && /no output html/.test(e.message),
    );
  });
});

let multitoolRuns = 0;
/** Microsoft's SARIF validator on `files`: its own SARIF log of what it found, as lines "RULE level: message". */
function sarifMultitool(...sarifFiles: string[]): string[] {
  const tool = require('@microsoft/sarif-multitool') as string; // the platform's binary (Linux: @microsoft/sarif-multitool-linux)
  const log = path.join(root, `multitool-${++multitoolRuns}.sarif`);
  const r = spawnSync(tool, ['validate', ...sarifFiles, '-o', log], { encoding: 'utf8', env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1' } });
  assert.equal(r.status, 0, `Sarif.Multitool validate failed to run: ${r.stderr || r.stdout}`);
  const found = JSON.parse(fs.readFileSync(log, 'utf8')) as {
    runs: Array<{ results?: Array<{ ruleId: string; level?: string; message: { id?: string; arguments?: string[] } }> }>;
  };
  return (found.runs[0]!.results ?? []).map((x) => `${x.ruleId} ${x.level ?? 'warning'} ${x.message.id ?? ''}: ${(x.message.arguments ?? []).join(' | ')}`);
}

describe('JUnit XML', () => {
  test('valid against junit-4.xsd (xmllint-wasm); a document the schema forbids is caught', async () => {
    const xsd = { fileName: 'junit-4.xsd', contents: fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/junit/jenkins-junit-4.xsd'), 'utf8') };
    const xml = read('junit.xml');
    const ok = await validateXML({ xml: [{ fileName: 'junit.xml', contents: xml }], schema: [xsd] });
    assert.ok(ok.valid, ok.errors.map((e) => e.rawMessage).join('\n'));
    const bad = await validateXML({ xml: [{ fileName: 'bad.xml', contents: xml.replace('<testcase ', '<testcase severity="high" ') }], schema: [xsd] });
    assert.equal(bad.valid, false, 'the validator can fail');
  });

  test('one testsuite per suite and fleet, one testcase per owed check; failure, error, skipped; NEW and FIXED since the baseline', () => {
    const xml = read('junit.xml');
    assert.deepEqual(
      [...xml.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)" errors="(\d+)" skipped="(\d+)"/g)].map((m) => m.slice(1).join(' ')),
      ['ssh-edits: fleet web 3 2 0 0', 'image-integrity: fleet web 3 0 2 0', 'ssh-edits: fleet db 2 0 0 2'],
    );
    assert.equal((xml.match(/<testcase /g) ?? []).length, 8);
    assert.match(
      xml,
      /<testcase classname="web\.h2" name="DL-SSH-010 create a canary in \/etc" time="[\d.]+">\s*<failure type="Mutable host" message="NEW since run night-1: \[Mutable host\] ALLOWED/,
    );
    assert.match(
      xml,
      /<testcase classname="web\.h3" name="DL-SSH-010 create a canary in \/etc"[^>]*>\s*<failure type="Mutable host" message="\[Mutable host\] ALLOWED/,
    );
    assert.match(
      xml,
      /<testcase classname="web\.h1" name="DL-SSH-010 create a canary in \/etc"[^>]*>\s*<system-out>FIXED since run night-1: it was \[Mutable host\] ALLOWED/,
    );
    assert.match(
      xml,
      /<testcase classname="web\.h2" name="DL-IMG-006 golden manifest matches"[^>]*>\s*<error type="Probe error" message="BROKEN \(could not tell\): ssh: connect timed out/,
    );
    assert.match(xml, /<testcase classname="web\.h3" name="DL-IMG-006 golden manifest matches"[^>]*>\s*<error type="not run" message="NOT RUN/);
    assert.match(xml, /<testcase classname="db\.d1" name="DL-SSH-040 no privilege escalation"[^>]*>\s*<skipped>WAIVED: .*legacy db until the migration/);
    assert.match(xml, /<testcase classname="db\.d1" name="DL-SSH-001 login refused"[^>]*>\s*<skipped>not applicable: policy\.ssh\.mode is read-only/);
    assert.match(xml, /<property name="driftless\.run\.id" value="night-2"\/>/);
    assert.match(xml, /<property name="driftless\.baseline\.run\.id" value="night-1"\/>/);
  });
});

describe('SARIF 2.1.0', () => {
  test('valid against the SARIF 2.1.0 schema (ajv) and by Sarif.Multitool validate; a result the schema forbids is caught by both', () => {
    const schemaFile = path.join(path.dirname(require.resolve('@microsoft/sarif-multitool-linux/package.json')), 'sarif-2.1.0.json');
    const ajv = new Ajv2020Module.default({ allErrors: true, strict: false });
    addFormatsModule.default(ajv);
    const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as object);
    const sarif = JSON.parse(read('driftless.sarif')) as { runs: Array<{ results: Array<Record<string, unknown>> }> };
    assert.ok(validate(sarif), JSON.stringify(validate.errors, null, 1));
    const broken = structuredClone(sarif);
    delete broken.runs[0]!.results[0]!.message;
    assert.equal(validate(broken), false, 'the schema catches a result without a message');
    const badFile = path.join(root, 'bad.sarif');
    fs.writeFileSync(badFile, JSON.stringify(broken));
    const [ours, theirs] = [sarifMultitool(out('driftless.sarif')), sarifMultitool(badFile)];
    assert.deepEqual(ours, [], `Sarif.Multitool found: ${ours.join('\n')}`);
    assert.ok(
      theirs.some((l) => /^JSON1002 error/.test(l)),
      `Sarif.Multitool misses the missing message: ${theirs.join('\n')}`,
    );
  });

  test('one rule per control, one result per violation at the fleet in the config, new or unchanged; fixed ones in the properties', () => {
    const run = (JSON.parse(read('driftless.sarif')) as { runs: unknown[] }).runs[0] as {
      tool: { driver: { rules: Array<{ id: string; properties: { category: string } }> } };
      results: Array<{ ruleId: string; level: string; baselineState: string; message: { text: string }; locations: Array<Record<string, never>> }>;
      properties: { fixed: Array<{ check: string }>; planHashes: string[]; runIds: string[] };
      invocations: Array<{ toolExecutionNotifications: Array<{ message: { text: string } }> }>;
    };
    assert.deepEqual(
      run.tool.driver.rules.map((r) => [r.id, r.properties.category]),
      [
        ['DL-SSH-010', 'Mutable host'],
        ['DL-IMG-006', 'Drift'],
        ['DL-SSH-040', 'Mutable host'],
        ['DL-SSH-001', 'Mutable host'],
      ],
    );
    assert.deepEqual(
      run.results.map((r) => [r.ruleId, r.level, r.baselineState, r.message.text.replace(/ \[.*/, '')]),
      [
        ['DL-SSH-010', 'error', 'new', 'NEW since run night-1: web/h2'],
        ['DL-SSH-010', 'error', 'unchanged', 'web/h3'],
      ],
    );
    assert.deepEqual(run.results[0]!.locations[0], {
      physicalLocation: { artifactLocation: { uri: 'driftless.config.yaml', uriBaseId: '%SRCROOT%' }, region: { startLine: 3 } },
      logicalLocations: [{ name: 'h2', fullyQualifiedName: 'web/h2', kind: 'resource' }],
    });
    assert.deepEqual(
      run.properties.fixed.map((f) => f.check),
      [H1_EDIT],
    );
    assert.deepEqual(run.properties.runIds, ['night-2']);
    const notes = run.invocations[0]!.toolExecutionNotifications.map((n) => n.message.text);
    assert.ok(notes.some((t) => /^web\/h2 DL-IMG-006: BROKEN/.test(t)) && notes.some((t) => /^web\/h3 DL-IMG-006: NOT RUN/.test(t)), notes.join('\n'));
  });
});

describe('OSCAL 1.1.3', () => {
  test('catalog, assessment plan and results are valid for compliance-trestle 3.12.4; an invalid document is caught', () => {
    const python = path.join(REPO_ROOT, '.driftless', 'tools', 'trestle', 'bin', 'python');
    assert.ok(fs.existsSync(python), `compliance-trestle is not installed at ${python}: run bash scripts/bootstrap.sh env, or npm test (ensure_trestle)`);
    const ar = JSON.parse(read('oscal/assessment-results.json')) as { 'assessment-results': { results: Array<{ findings: Array<Record<string, unknown>> }> } };
    ar['assessment-results'].results[0]!.findings[0]!.uuid = 'not-a-uuid';
    const bad = path.join(root, 'bad-ar.json');
    fs.writeFileSync(bad, JSON.stringify(ar));
    const docs = ['catalog.json', 'assessment-plan.json', 'assessment-results.json'].map((f) => out(`oscal/${f}`));
    const r = spawnSync(python, [path.join(REPO_ROOT, 'test/helpers/oscal_validate.py'), ...docs, bad, path.join(REPO_ROOT, 'docs/oscal/catalog.json')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const found = JSON.parse(r.stdout) as { trestle: string; oscal: string; files: Record<string, string[]> };
    assert.deepEqual([found.trestle, found.oscal], ['3.12.4', '1.1.3']);
    for (const f of [...docs, path.join(REPO_ROOT, 'docs/oscal/catalog.json')]) assert.deepEqual(found.files[f], [], f);
    assert.match(found.files[bad]!.join('\n'), /uuid/, 'trestle catches a finding with a bad uuid');
  });

  test('the results: one observation per owed check with the evidence by hash, one finding per violation and per check not checked', () => {
    const doc = JSON.parse(read('oscal/assessment-results.json')) as { 'assessment-results': unknown };
    const ar = doc['assessment-results'] as {
      'import-ap': { href: string };
      results: Array<{
        observations: Array<{ title: string; 'relevant-evidence'?: Array<{ href: string }> }>;
        findings: Array<{ title: string; description: string; target: { 'target-id': string; status: { state: string; reason: string } } }>;
      }>;
      'back-matter': { resources: Array<{ uuid: string; rlinks: Array<{ href: string; hashes: Array<{ algorithm: string; value: string }> }> }> };
    };
    assert.equal(ar['import-ap'].href, 'assessment-plan.json');
    const result = ar.results[0]!;
    assert.equal(result.observations.length, 8);
    assert.deepEqual(
      result.findings.map((f) => [f.title, f.target['target-id'], f.target.status.reason]),
      [
        ['DL-SSH-010 violated on web/h2', 'dl-ssh-010_smt', 'fail'],
        ['DL-SSH-010 violated on web/h3', 'dl-ssh-010_smt', 'fail'],
        ['DL-IMG-006 not checked on web/h2', 'dl-img-006_smt', 'other'],
        ['DL-IMG-006 not checked on web/h3', 'dl-img-006_smt', 'other'],
      ],
    );
    assert.match(result.findings[0]!.description, /^NEW since the baseline: \[Mutable host\]/);
    const evidence = second.byCheck.get(H2_EDIT)!.evidence[0]!;
    const res = ar['back-matter'].resources.find((x) => x.rlinks[0]!.hashes[0]!.value === evidence.sha256)!;
    assert.deepEqual(res.rlinks[0]!.hashes[0], { algorithm: 'SHA-256', value: evidence.sha256 });
    assert.equal(res.rlinks[0]!.href, `../${evidence.file}`);
    assert.ok(result.observations.some((o) => o['relevant-evidence']?.some((e) => e.href === `#${res.uuid}`)));
  });
});

describe('job summary', () => {
  test('fleet verdicts first, then counts per category, new and fixed violations, and what was not checked', () => {
    const md = read('summary.md');
    const at = (s: string) => md.indexOf(s);
    assert.match(md, /^## driftless: VIOLATIONS \(exit 1\)\n/);
    assert.match(md, /\| web \| \*\*violations\*\* \| 6 \| 2 \| 2 \| 1 \| 0 \| 0 \| 1 \|/);
    assert.match(md, /\| db \| \*\*compliant\*\* \| 2 \| 0 \| 0 \| 0 \| 1 \| 1 \| 0 \|/);
    assert.match(md, /\| Mutable host \| 2 \|/);
    assert.match(md, /1 new violations, 1 fixed, 1 still failing, 1 newly broken, 1 earlier violations not passing now/);
    assert.match(md, /🆕 NEW \*\*web\/h2\*\* `DL-SSH-010` Mutable host: ALLOWED: created \/etc\/\.driftless-canary on h2/);
    assert.match(md, /✅ FIXED \*\*web\/h1\*\* `DL-SSH-010`/);
    assert.match(md, /NOT RUN \*\*web\/h3\*\* `DL-IMG-006`/);
    assert.ok(at('| web |') < at('### Per category') && at('### Per category') < at('### Since run') && at('### Since run') < at('### Not checked'));
  });
});
