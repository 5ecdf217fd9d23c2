/**
 * The nightly CI example fails closed: results upload whatever happened, the report always runs, the gate fails on anything but 0;
 * and it publishes the outputs where driftless writes them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../core/paths.ts';
import { JUNIT_FILE } from '../../reports/junit.ts';
import { OUTPUTS_DIR } from '../../reports/outputs.ts';
import { SARIF_FILE } from '../../reports/sarif.ts';

type Step = { uses?: string; run?: string; if?: string; name?: string; with?: Record<string, unknown> };
type Job = { if?: string; needs?: string | string[]; steps: Step[] };
const wf = parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'ci', 'nightly.yml'), 'utf8')) as { jobs: Record<string, Job> };

test('every upload of results runs always, and no shard step can fail its job before the upload', () => {
  for (const [name, job] of Object.entries(wf.jobs)) {
    for (const s of job.steps.filter((x) => x.uses?.startsWith('actions/upload-artifact')))
      assert.equal(s.if, 'always()', `${name}: ${JSON.stringify(s.with)}`);
  }
  for (const s of wf.jobs.audit!.steps.filter((x) => x.run?.includes('driftless run'))) assert.match(s.run!, /--run-id "\$AUDIT_RUN_ID" --shard/);
});

test('the report job runs even when a shard failed, names every expected folder, and the gate fails on 1, 2 and 3', () => {
  assert.equal(wf.jobs.report!.if, 'always()');
  assert.equal(wf.jobs.chaos!.if, 'always()');
  const merge = wf.jobs.report!.steps.find((s) => s.run?.includes('driftless report'))!.run!;
  for (const d of ['allure-results-1', 'allure-results-2', 'allure-results-3', 'allure-results-chaos']) assert.ok(merge.includes(`results/${d}`), d);
  const gate = wf.jobs.report!.steps.at(-1)!;
  assert.equal(gate.if, 'always()');
  assert.match(gate.run!, /if \[ "\$code" != 0 \]; then .*exit "\$\{code:-3\}"/);
});

test('the report job publishes the JUnit, SARIF and summary driftless writes, from the report folder, and keeps the previous report as the baseline', () => {
  const steps = wf.jobs.report!.steps;
  const withOf = (uses: string) => steps.find((s) => s.uses?.startsWith(uses))?.with ?? {};
  const outputs = `driftless-output/report/${OUTPUTS_DIR}`;
  assert.equal(withOf('mikepenz/action-junit-report').report_paths, `${outputs}/${JUNIT_FILE}`);
  assert.equal(withOf('github/codeql-action/upload-sarif').sarif_file, `${outputs}/${SARIF_FILE}`);
  for (const s of steps.filter((x) => x.uses?.startsWith('mikepenz/') || x.uses?.startsWith('github/codeql-action/'))) assert.equal(s.if, 'always()', s.uses);
  // The summary reaches the job page from driftless itself ($GITHUB_STEP_SUMMARY); the cached report carries the last verdict.
  assert.equal(withOf('actions/cache/restore').path, 'driftless-output/report');
  assert.equal(withOf('actions/cache/save').path, 'driftless-output/report');
});

test('the release example gates the deploy on plan-check of the plan it then applies', () => {
  type Release = { jobs: Record<string, Job & { needs?: string | string[] }> };
  const rel = parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'ci', 'release.yml'), 'utf8')) as Release;
  const gate = rel.jobs['plan-gate']!;
  const steps = gate.steps.map((s) => s.run ?? '');
  const made = steps.findIndex((r) => /terraform plan -input=false -out=plan\.out[\s\S]*terraform show -json plan\.out > plan\.json/.test(r));
  const checked = steps.findIndex((r) => /npx driftless plan-check .*infra\/plan\.json/.test(r));
  assert.ok(made >= 0 && checked > made, 'the JSON of the saved plan is made, then gated');
  assert.doesNotMatch(steps[checked]!, /\|\||; *true|set \+e/, 'the gate step fails its job on any exit but 0');
  assert.equal(gate.steps[checked]!.if, undefined, 'the gate always runs, never skipped');
  const deploy = rel.jobs.deploy!;
  assert.deepEqual([deploy.needs].flat(), ['plan-gate']);
  assert.equal(deploy.if, undefined, 'no if: always(): the deploy never runs after a failed gate');
  assert.ok(
    deploy.steps.some((s) => /terraform apply -input=false plan\.out/.test(s.run ?? '')),
    'the deploy applies the judged plan file',
  );
});
