/**
 * `driftless run` writes its outputs into the results folder before the evidence bundle (which
 * lists them), and compares with the previous verdict of the output folder, read before the run
 * replaces it: two runs through the whole engine with a host fixed and a host broken in between.
 * A suite of this file's own stands in for probing (as in suite-contract.test.ts): no lab needed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { IMAGE_JUDGES } from '../../audits/image/image-judges.ts';
import { imageIntegritySuite } from '../../audits/image/image-suite.ts';
import type { SuiteModule } from '../../audits/suite.ts';
import { SUITE_MODULES } from '../../audits/suites.ts';
import { type CheckResult, Judgement } from '../../core/check-result.ts';
import { registerControls, unregisterControls } from '../../core/controls.ts';
import { UsageError } from '../../core/errors.ts';
import { type RunOutcome, runEngine, type RunObserver, type RunRequest } from '../../engine/run.ts';
import { verifyEvidence } from '../../reports/evidence.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-run-outputs-'));
const env = process.env.DRIFTLESS_OUTPUT_DIR;
process.env.DRIFTLESS_OUTPUT_DIR = path.join(tmp, 'out');
after(() => {
  unregisterControls(['DL-IMG-902']);
  if (env === undefined) delete process.env.DRIFTLESS_OUTPUT_DIR;
  else process.env.DRIFTLESS_OUTPUT_DIR = env;
  fs.rmSync(tmp, { recursive: true, force: true });
});

registerControls([
  {
    id: 'DL-IMG-902',
    name: 'no leftover installer',
    title: 'the image carries no package installer cache',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['filesystem-drift'],
    proves: 'the image was patched after it was built',
    providers: ['ssh'],
  },
]);

/** What each host shows: leftover files (a violation), or undefined (the probe could not tell). */
let facts: Record<string, string[] | undefined> = {};
const fixture: SuiteModule = {
  ...imageIntegritySuite,
  gather: async () => facts,
  unitOf: (all, check, j) => {
    const f = (all as typeof facts)[check.host!];
    return f ? { unit: f } : { result: j.broken(`ssh: connect to ${check.host} timed out`) };
  },
  judges: {
    ...IMAGE_JUDGES,
    'DL-IMG-902': (j: Judgement, f: unknown): CheckResult => {
      const leftovers = f as string[];
      return leftovers.length ? j.fail('filesystem-drift', `installer cache left: ${leftovers.join(', ')}`) : j.pass();
    },
  } as SuiteModule['judges'],
};

const key = path.join(tmp, 'id');
fs.writeFileSync(key, 'not a key, never used\n', { mode: 0o600 });
const config = path.join(tmp, 'driftless.config.json');
fs.writeFileSync(
  config,
  JSON.stringify({
    version: 1,
    targets: [
      {
        name: 'static',
        provider: 'ssh',
        hosts: ['h1', 'h2', 'h3'].map((id) => ({ id, address: '127.0.0.1', hostKey: 'SHA256:' + 'A'.repeat(43) })),
        ssh: { user: 'audit', identityFile: key },
      },
    ],
    release: { services: { web: { digest: 'sha256:' + 'a'.repeat(64) } } },
    report: { outputs: ['junit', 'sarif', 'summary'] },
  }),
);
const quiet: RunObserver = { started: () => {}, snapshot: () => {}, planned: () => {}, phase: () => {}, recorded: () => {} };
const run = (name: string, extra: Partial<RunRequest> = {}): Promise<RunOutcome> =>
  runEngine(
    {
      configFile: config,
      suites: ['image-integrity'],
      shard: null,
      resultsDir: path.join(tmp, name),
      modules: { ...SUITE_MODULES, 'image-integrity': fixture },
      ...extra,
    },
    quiet,
  );

describe('driftless run: outputs and what changed since the last run', () => {
  test('the second run compares with the first (the output folder verdict), and its outputs are in the bundle', async () => {
    facts = { h1: ['/var/cache/apt/a.deb'], h2: [], h3: ['/var/cache/apt/b.deb'] };
    const first = await run('night-1');
    assert.equal(first.verdict.changes, undefined, 'no earlier verdict: no changes');
    assert.deepEqual(first.baseline, {});
    assert.deepEqual(first.outputs.files, ['outputs/junit.xml', 'outputs/driftless.sarif', 'outputs/summary.md'], 'report.outputs chose these');

    facts = { h1: [], h2: ['/var/cache/apt/c.deb'], h3: ['/var/cache/apt/b.deb'] }; // h1 fixed, h2 broken
    const second = await run('night-2');
    const ch = second.verdict.changes!;
    assert.equal(ch.baseline.runId, first.runId);
    assert.deepEqual(
      [ch.newViolations, ch.fixed, ch.stillFailing].map((l) => l.map((c) => c.host)),
      [['h2'], ['h1'], ['h3']],
    );
    const written = JSON.parse(fs.readFileSync(path.join(second.resultsDir, 'verdict.json'), 'utf8')) as typeof second.verdict;
    assert.deepEqual(written.changes, ch, 'the results folder verdict carries the changes');
    assert.match(second.outputs.summary!, /🆕 NEW \*\*static\/h2\*\* `DL-IMG-902`/);
    assert.match(second.outputs.summary!, /✅ FIXED \*\*static\/h1\*\* `DL-IMG-902`/);
    assert.match(
      fs.readFileSync(path.join(second.resultsDir, 'outputs', 'junit.xml'), 'utf8'),
      /classname="static\.h2"[^>]*>\s*<failure type="Drift" message="NEW since run /,
    );
    const sarif = JSON.parse(fs.readFileSync(path.join(second.resultsDir, 'outputs', 'driftless.sarif'), 'utf8')) as {
      runs: Array<{ results: Array<{ baselineState: string; properties: { host: string } }> }>;
    };
    assert.deepEqual(
      sarif.runs[0]!.results.map((r) => [r.properties.host, r.baselineState]),
      [
        ['h2', 'new'],
        ['h3', 'unchanged'],
      ],
    );
    // Sealed after the outputs: the bundle lists each, and the folder verifies.
    for (const f of second.outputs.files)
      assert.ok(
        second.evidence.files.some((x) => x.path === f),
        `${f} is in the evidence bundle`,
      );
    const v = verifyEvidence(second.resultsDir);
    assert.deepEqual([v.added, v.removed, v.changed], [[], [], []]);

    facts = { h1: [], h2: undefined, h3: [] }; // h2 cannot be reached, h3 fixed
    const third = await run('night-3', { outputs: ['junit'], baseline: path.join(first.resultsDir, 'verdict.json') });
    assert.equal(third.verdict.changes!.baseline.runId, first.runId, '--baseline wins over the output folder verdict');
    assert.deepEqual([third.verdict.changes!.newlyBroken.map((c) => c.host), third.verdict.changes!.fixed.map((c) => c.host)], [['h2'], ['h1', 'h3']]);
    assert.deepEqual(third.outputs.files, ['outputs/junit.xml'], '--output wins over report.outputs');
  });

  test('--baseline that is not a verdict stops the run before anything is touched (exit 2)', async () => {
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, '[]');
    await assert.rejects(
      run('never', { baseline: bad }),
      (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /--baseline .*bad\.json/.test(e.message),
    );
    assert.equal(fs.existsSync(path.join(tmp, 'never')), false, 'no results folder was made');
  });
});
