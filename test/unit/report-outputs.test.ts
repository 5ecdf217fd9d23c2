/**
 * `driftless report` writes the outputs into the report folder after Allure has generated it
 * (which empties the folder) and before the report's evidence bundle, which lists them; it compares
 * with the previous report's verdict, read before the folder is replaced, and never with a verdict
 * of the very runs it reports on. Two nights of typed results (test/helpers/outputs-fixture.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { buildReport } from '../../reports/report.ts';
import { night, NIGHT_1, NIGHT_2, writeConfig } from '../helpers/outputs-fixture.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-report-outputs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('the report writes its outputs, seals them, and compares with the previous report of other runs', async () => {
  writeConfig(root);
  const first = await night(root, 'night-1', '2026-12-01T02:17:00.000Z', NIGHT_1);
  const second = await night(root, 'night-2', '2026-12-02T02:17:00.000Z', NIGHT_2);
  const report = (dir: string, outputs?: Array<'junit' | 'sarif' | 'oscal' | 'summary'>) =>
    buildReport({
      inputs: [dir],
      out: path.join(root, 'report'),
      verdictFile: path.join(root, 'verdict.json'),
      staging: path.join(root, 'staging'),
      ...(outputs ? { outputs } : {}),
    });

  const r1 = await report(first.dir, ['summary']);
  assert.deepEqual(r1.baseline, {});
  assert.deepEqual(r1.outputs.files, ['outputs/summary.md']);

  const r2 = await report(second.dir);
  assert.equal(r2.baseline.runId, 'night-1', "the previous report's verdict is the baseline");
  assert.deepEqual(
    r2.verdict.changes!.newViolations.map((c) => c.host),
    ['h2'],
  );
  assert.equal(r2.outputs.files.length, 6);
  for (const f of r2.outputs.files) {
    assert.ok(fs.existsSync(path.join(root, 'report', f)), `${f} survived Allure's --clean`);
    assert.ok(
      r2.evidence.files.some((x) => x.path === f),
      `${f} is in the report's evidence bundle`,
    );
  }
  const ar = fs.readFileSync(path.join(root, 'report', 'outputs', 'oscal', 'assessment-results.json'), 'utf8');
  assert.match(ar, /"href": "\.\.\/\.\.\/night-2\/evidence\/[0-9a-f]{64}\.json"/, 'evidence is named where it is, relative to the outputs');

  // The Allure report says it too: the new violation's message and tag, the counts in the environment.
  const staged = fs.readdirSync(path.join(root, 'staging')).filter((f) => f.endsWith('-result.json'));
  const results = staged.map(
    (f) =>
      JSON.parse(fs.readFileSync(path.join(root, 'staging', f), 'utf8')) as {
        statusDetails: { message?: string };
        labels: Array<{ name: string; value: string }>;
      },
  );
  const marked = results.filter((r) => r.labels.some((l) => l.name === 'tag' && l.value === 'new-violation'));
  assert.equal(marked.length, 1);
  assert.match(marked[0]!.statusDetails.message!, /^NEW since run night-1: \[Mutable host\] ALLOWED: .* on h2/);
  assert.match(
    fs.readFileSync(path.join(root, 'staging', 'environment.properties'), 'utf8'),
    /since\.baseline = run night-1: 1 new violations, 1 fixed, 2 still failing, 1 newly broken/,
  );

  // Reporting the same run again: its own verdict is no baseline.
  const r3 = await report(second.dir, ['junit']);
  assert.equal(r3.verdict.changes, undefined);
  assert.match(r3.baseline.skipped!, /is of these runs \(night-2\): no comparison/);
});
