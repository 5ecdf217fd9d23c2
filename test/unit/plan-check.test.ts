/**
 * `driftless plan-check` and `driftless run --suite plan`, run as a CI step would run them, on
 * the committed plans (test/fixtures/plan): the exit code is the verdict's, a violation names the
 * resource and what changes, input problems are exit 2 naming each file, a plan that changes
 * nothing is "no changes", the results go through the typed pipeline (records with their
 * resource, the verdict per plan file and resource, the evidence bundle with the plan's hash),
 * and no sensitive value reaches the terminal or the results folder.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_ROOT } from '../../core/paths.ts';
import type { EvidenceBundle } from '../../reports/evidence.ts';
import type { Verdict } from '../../reports/verdict.ts';
import { driftless } from '../helpers/cli.ts';
import { readRecords } from '../helpers/records.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-plan-check-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const F = (name: string) => path.join('test', 'fixtures', 'plan', name);
let n = 0;

/** Runs the CLI with its own output folder; returns what it printed, its exit code, its results folder and verdict. */
async function run(args: string[]) {
  const out = path.join(tmp, `out-${++n}`);
  const r = await driftless(args, { env: { DRIFTLESS_OUTPUT_DIR: out }, timeoutMs: 120_000 });
  const verdictFile = path.join(out, 'verdict.json');
  const verdict = fs.existsSync(verdictFile) ? (JSON.parse(fs.readFileSync(verdictFile, 'utf8')) as Verdict) : undefined;
  return { ...r, all: r.stdout + r.stderr, results: path.join(out, 'results'), verdict };
}

describe('driftless plan-check', () => {
  test('an update in place: exit 1, naming the resource and the attributes with their before and after', async () => {
    const r = await run(['plan-check', F('aws-instance-update.json')]);
    assert.equal(r.code, 1, r.all);
    assert.match(
      r.stdout,
      /VIOLATION test\/fixtures\/plan\/aws-instance-update\.json aws_instance\.web DL-PLAN-001 \[Patched in place\]: aws_instance\.web \(aws_instance\) would be updated in place/,
    );
    assert.match(r.stdout, /instance_type "t3\.small" → "t3\.large"; metadata_options\[0\]\.http_tokens "optional" → "required"/);
    assert.equal(r.verdict!.violations[0]!.resource, 'aws_instance.web');
  });

  test('a replacement, a tag-only update, a launch template rolled out by instance_refresh: exit 0', async () => {
    for (const f of ['aws-instance-replace.json', 'aws-instance-tags.json', 'aws-asg-template-refresh.json']) {
      const r = await run(['plan-check', F(f)]);
      assert.equal(r.code, 0, `${f}: ${r.all}`);
      assert.match(r.stdout, /^verdict: compliant/m, f);
    }
  });

  test('a launch template change without instance_refresh: exit 1, "not replaced"', async () => {
    const r = await run(['plan-check', F('aws-asg-template-no-refresh.json')]);
    assert.equal(r.code, 1, r.all);
    assert.match(
      r.stdout,
      /aws_autoscaling_group\.web DL-PLAN-002 \[Not replaced\]: aws_autoscaling_group\.web is not replaced: .*without an instance_refresh/,
    );
  });

  test('a stateful replacement: exit 1, with replace_paths and action_reason', async () => {
    const r = await run(['plan-check', F('aws-db-replace.json')]);
    assert.equal(r.code, 1, r.all);
    assert.match(r.stdout, /aws_db_instance\.orders DL-PLAN-003 \[State lost\]: .*replace_because_cannot_update, because of storage_encrypted/);
    assert.doesNotMatch(r.all, /fixture-db-password/);
  });

  test('what cannot be gated: exit 2, every file named with the fix, nothing run', async () => {
    const r = await run(['plan-check', F('tf-data-update.out'), F('empty-file.json'), F('unsupported-format.json'), F('aws-instance-tags.json')]);
    assert.equal(r.code, 2, r.all);
    assert.match(
      r.stderr,
      /tf-data-update\.out: \/: this is a binary plan file .*terraform show -json test\/fixtures\/plan\/tf-data-update\.out > test\/fixtures\/plan\/tf-data-update\.json/,
    );
    assert.match(r.stderr, /empty-file\.json: \/: the file is empty/);
    assert.match(r.stderr, /unsupported-format\.json: \/format_version: unsupported plan format version "2\.0"/);
    assert.doesNotMatch(r.stderr, /aws-instance-tags/);
    assert.equal(r.verdict, undefined, 'no verdict: nothing ran');
    const missing = await run(['plan-check', F('no-such-plan.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-plan\.json: cannot read plan file .*: no such file/);
  });

  test('a plan that says it changes nothing: exit 0, "no changes"', async () => {
    const r = await run(['plan-check', F('tf-data-no-changes.json')]);
    assert.equal(r.code, 0, r.all);
    assert.match(
      r.stdout,
      /tf-data-no-changes\.json: no changes: the plan is complete and changes nothing \(1 resource unchanged\) \(DL-PLAN-001, DL-PLAN-002, DL-PLAN-003 not applicable\)/,
    );
    assert.equal(r.verdict!.verdict, 'compliant');
    assert.deepEqual(r.verdict!.coverage.total, { owed: 3, passed: 0, failed: 0, broken: 0, waived: 0, notApplicable: 3, skipped: 0, missing: 0 });
    assert.ok(r.verdict!.notApplicable.every((x) => x.reason.startsWith('no changes: ')));
  });

  test('with a config: its plan policy, its waivers; sensitive values never printed or stored', async () => {
    const cfg = path.join(tmp, 'policy.yaml');
    fs.writeFileSync(
      path.join(tmp, 'waivers.yaml'),
      'waivers:\n  - { control: DL-PLAN-003, resource: "terraform_data.d*", reason: "the orders store is migrated first", approver: Ann, expires: 2099-01-01 }\n',
    );
    fs.writeFileSync(cfg, 'version: 1\nwaivers: waivers.yaml\nplan:\n  compute: [terraform_data]\n  stateful: [terraform_data]\n');
    const r = await run(['plan-check', '--config', cfg, F('tf-data-sensitive-update.json'), F('tf-data-stateful-replace.json')]);
    assert.equal(r.code, 1, r.all);
    assert.match(r.stdout, /terraform_data\.web DL-PLAN-001 .*input \(sensitive\) → \(sensitive\)/);
    const records = readRecords(r.results);
    const waived = records.find((x) => x.control === 'DL-PLAN-003' && x.resource === 'terraform_data.db')!;
    assert.equal(waived.outcome, 'waived');
    for (const file of [r.all, ...walk(r.results).map((f) => fs.readFileSync(f, 'utf8'))]) assert.doesNotMatch(file, /fixture-secret/);
  });
});

describe('CloudFormation change sets', () => {
  test('an in-place update: exit 1; a Conditional replacement: exit 3 (not proven) unless the policy accepts it; a group without UpdatePolicy: exit 1', async () => {
    const update = await run(['plan-check', F('cfn-instance-update.json')]);
    assert.equal(update.code, 1, update.all);
    assert.match(
      update.stdout,
      /WebServer DL-PLAN-001 \[Patched in place\]: WebServer \(AWS::EC2::Instance\) would be updated in place, not replaced: InstanceType/,
    );
    const conditional = await run(['plan-check', F('cfn-instance-conditional.json')]);
    assert.equal(conditional.code, 3, conditional.all);
    assert.match(conditional.stdout, /BROKEN .*WebServer DL-PLAN-001: WebServer may or may not be replaced \(Replacement: Conditional\)/);
    const cfg = path.join(tmp, 'accept.yaml');
    fs.writeFileSync(cfg, 'version: 1\nplan:\n  acceptConditional: true\n');
    const accepted = await run(['plan-check', '--config', cfg, F('cfn-instance-conditional.json')]);
    assert.equal(accepted.code, 0, accepted.all);
    const group = await run(['plan-check', F('cfn-asg-no-update-policy.json'), F('cfn-no-changes.json')]);
    assert.equal(group.code, 1, group.all);
    assert.match(group.stdout, /WebGroup DL-PLAN-002 \[Not replaced\]: WebGroup is not replaced: .*no UpdatePolicy/);
    assert.match(group.stdout, /cfn-no-changes\.json: no changes: CloudFormation made no change set/);
  });
});

describe('through the typed pipeline', () => {
  test('driftless run --suite plan with a plan-only config: records carry the resource, the verdict covers each plan and resource, the bundle hashes each plan', async () => {
    const r = await run(['run', '--config', F('terraform-data.config.yaml'), '--suite', 'plan']);
    assert.equal(r.code, 1, r.all);
    const records = readRecords(r.results);
    const failed = records.find((x) => x.outcome === 'failed')!;
    assert.deepEqual(
      [failed.suite, failed.fleet, failed.resource, failed.control, failed.category],
      ['plan', 'test/fixtures/plan/tf-data-update.json', 'terraform_data.web', 'DL-PLAN-001', 'Patched in place'],
    );
    assert.equal(failed.host, undefined);
    assert.equal(failed.parameters.resource, 'terraform_data.web');
    const fleets = r.verdict!.coverage.fleets;
    assert.deepEqual(
      fleets.map((f) => [f.fleet, f.verdict]),
      [
        ['test/fixtures/plan/tf-data-update.json', 'violations'],
        ['test/fixtures/plan/tf-data-replace.json', 'compliant'],
      ],
    );
    assert.deepEqual(
      fleets[0]!.resources!.map((x) => [x.resource, x.verdict]),
      [
        ['terraform_data.web', 'violations'],
        ['(whole plan)', 'compliant'],
      ],
    );
    const bundle = JSON.parse(fs.readFileSync(path.join(r.results, 'driftless-evidence.json'), 'utf8')) as EvidenceBundle;
    const input = bundle.inputs.find((i) => i.what === 'plan file test/fixtures/plan/tf-data-update.json')!;
    assert.equal(input.file, path.join(REPO_ROOT, F('tf-data-update.json')));
    assert.match(input.sha256!, /^[0-9a-f]{64}$/);
  });

  test('a sharded run may owe plan checks: reading plan files neither kills nor deploys, so it is not refused', async () => {
    const r = await run(['run', '--config', F('terraform-data.config.yaml'), '--suite', 'plan', '--run-id', 'gate-1', '--shard', '1/2']);
    assert.equal(r.code, 0, r.all);
    assert.deepEqual(
      r.verdict!.coverage.fleets.map((f) => f.fleet),
      ['test/fixtures/plan/tf-data-replace.json'],
      'each plan file is one unit of the deal: this shard has one of the two',
    );
  });

  test('plan-check without a config records the built-in defaults, hashed, as its config', async () => {
    const r = await run(['plan-check', F('aws-instance-tags.json')]);
    assert.equal(r.code, 0, r.all);
    const bundle = JSON.parse(fs.readFileSync(path.join(r.results, 'driftless-evidence.json'), 'utf8')) as EvidenceBundle;
    const config = bundle.inputs.find((i) => i.what === 'config')!;
    assert.equal(config.file, '(built-in defaults)');
    assert.match(config.sha256!, /^[0-9a-f]{64}$/);
    assert.equal(r.verdict!.config!.file, '(built-in defaults)');
  });
});

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
