/**
 * The plan suite on plans shaped like real ones (test/fixtures/plan: the tf-data-* files made by
 * Terraform 1.11.4, the aws-* ones derived from the documented format): what cannot be gated is a
 * config error naming the file, the field and the fix; each control fails on the change that
 * violates it and passes on the one that does not; sensitive values are never shown; a plan that
 * changes nothing is "no changes" only when it says so.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parsePlan, type PlanDoc, type PlanRead } from '../../audits/plan/plan-file.ts';
import { planUnit } from '../../audits/plan/plan-judges.ts';
import { owedOf, planPlans, WHOLE_PLAN } from '../../audits/plan/plan-owed.ts';
import { attributeChanges, policyOf } from '../../audits/plan/plan-policy.ts';
import { planSuite } from '../../audits/plan/plan-suite.ts';
import { builtInConfig } from '../../config/load.ts';
import { Judgement } from '../../core/check-result.ts';
import type { Config } from '../../core/config.ts';
import { ConfigInvalidError } from '../../core/errors.ts';
import { REPO_ROOT } from '../../core/paths.ts';
import { judge, suiteRun } from '../helpers/suite-run.ts';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'plan');
const fixture = (name: string) => path.join(FIXTURES, name);
const read = (name: string, bytes?: Buffer): PlanRead => parsePlan(bytes ?? fs.readFileSync(fixture(name)), { name, file: fixture(name) });
const doc = (name: string): PlanDoc => {
  const r = read(name);
  assert.ok('doc' in r, `${name}: ${'problems' in r ? r.problems.join('; ') : ''}`);
  return r.doc;
};
const problems = (name: string, bytes?: Buffer): string => {
  const r = read(name, bytes);
  assert.ok('problems' in r, `${name} was accepted`);
  return r.problems.join('\n');
};

/** A config with the built-in policy, and its plan section changed. */
const configWith = (plan: Partial<NonNullable<Config['plan']>> = {}): Config => {
  const c = builtInConfig([]);
  return { ...c, plan: { ...c.plan!, ...plan } };
};
const TF_DATA = configWith({ compute: ['terraform_data'] });

/** Every check a plan file owes, judged as the engine judges them. */
function judgeAll(name: string, config: Config = configWith()) {
  const d = doc(name);
  const checks = owedOf(d, policyOf(config));
  const results = judge(planSuite, new Map([[name, { doc: d }]]), checks, config);
  return checks.map((c, i) => ({ control: c.control, resource: c.resource!, title: c.title, ...results[i]! }));
}
const one = (all: ReturnType<typeof judgeAll>, control: string, resource: string) => {
  const r = all.find((x) => x.control === control && x.resource === resource);
  assert.ok(r, `no ${control} check of ${resource}: ${all.map((x) => `${x.control} ${x.resource}`).join(', ')}`);
  return r;
};
const body = (r: { evidence: Array<{ name: string; body: string }> }) => r.evidence.map((e) => e.body).join('\n');

describe('what cannot be gated is a config error naming the file, the field and the fix', () => {
  test('an empty file', () =>
    assert.match(problems('empty-file.json'), /^empty-file\.json: \/: the file is empty: .*terraform show -json plan\.out > empty-file\.json/));
  test('the binary plan instead of its JSON', () =>
    assert.match(
      problems('tf-data-update.out'),
      /^tf-data-update\.out: \/: this is a binary plan file \(a zip archive\), not its JSON: terraform show -json tf-data-update\.out > tf-data-update\.json/,
    ));
  test("a state's JSON, and a state file", () => {
    assert.match(problems('tf-data-state.json'), /this is the JSON of a state .*not of a plan/);
    assert.match(problems('x.tfstate', Buffer.from('{"version":4,"serial":3,"lineage":"abc","resources":[]}')), /this is a Terraform state file, not a plan/);
  });
  test('a format version driftless does not read, and none', () => {
    assert.match(
      problems('unsupported-format.json'),
      /^unsupported-format\.json: \/format_version: unsupported plan format version "2\.0": driftless reads format 1\.x/,
    );
    assert.match(problems('x.json', Buffer.from('{"resource_changes":[]}')), /x\.json: \/format_version: missing: not the JSON of a Terraform\/OpenTofu plan/);
  });
  test('a plan that says neither what changes nor that nothing does', () =>
    assert.match(problems('empty-plan.json'), /^empty-plan\.json: \/resource_changes: the plan is empty: .*does not say it is complete/));
  test('a plan that errored, or is incomplete', () => {
    const text = fs.readFileSync(fixture('tf-data-update.json'), 'utf8');
    assert.match(problems('e.json', Buffer.from(text.replace('"errored":false', '"errored":true'))), /e\.json: \/errored: the plan errored/);
    assert.match(problems('i.json', Buffer.from(text.replace('"complete":true', '"complete":false'))), /i\.json: \/complete: the plan is incomplete/);
  });
  test("a syntax error is placed, and the file's content never quoted", () => {
    const p = problems('s.json', Buffer.from('{"format_version": "1.2",\n "variables": {"db": {"value": "hunter2-secret"}} oops }'));
    assert.match(p, /s\.json: \/: JSON syntax error at line 2, column \d+/);
    assert.doesNotMatch(p, /hunter2/);
  });
  test('the streamed log of terraform plan -json is named as such', () =>
    assert.match(
      problems('log.json', Buffer.from('{"@level":"info","@message":"Terraform 1.11.4","type":"version"}\n{"@level":"info"}\n')),
      /streamed log of `terraform plan -json`/,
    ));
  test('through the suite: every bad file of the config is named at once, exit 2', () => {
    const config = {
      ...configWith(),
      planFiles: ['empty-file.json', 'unsupported-format.json', 'tf-data-update.json'].map((n) => ({ name: n, file: fixture(n) })),
    };
    assert.throws(
      () => planSuite.check!(config),
      (err: unknown) =>
        err instanceof ConfigInvalidError &&
        err.exitCode === 2 &&
        /empty-file\.json: .*\nunsupported-format\.json: /.test(err.message) &&
        !err.message.includes('tf-data-update'),
    );
  });
});

describe('DL-PLAN-001: compute is replaced, never updated in place', () => {
  test('an update in place is a violation naming the resource and each attribute with its before and after', () => {
    const r = one(judgeAll('aws-instance-update.json'), 'DL-PLAN-001', 'aws_instance.web');
    assert.equal(r.status, 'failed');
    assert.equal(r.violation, 'updated-in-place');
    assert.match(r.message!, /^aws_instance\.web \(aws_instance\) would be updated in place, not replaced: /);
    assert.match(r.message!, /instance_type "t3\.small" → "t3\.large"/);
    assert.match(r.message!, /metadata_options\[0\]\.http_tokens "optional" → "required"/);
    assert.doesNotMatch(r.message!, /tags/, 'tags are allowed in place by default, so not named');
    assert.match(r.title, /^DL-PLAN-001 compute replaced, not updated in place: aws_instance\.web$/);
  });
  test('a tag-only update of an instance passes; a replacement passes; so does a replacement of terraform_data as compute', () => {
    assert.equal(one(judgeAll('aws-instance-tags.json'), 'DL-PLAN-001', 'aws_instance.web').status, 'passed');
    assert.equal(one(judgeAll('aws-instance-replace.json'), 'DL-PLAN-001', 'aws_instance.web').status, 'passed');
    for (const f of ['tf-data-replace.json', 'tf-data-replace-by-request.json', 'tf-data-create-before-destroy.json'])
      assert.equal(one(judgeAll(f, TF_DATA), 'DL-PLAN-001', 'terraform_data.web').status, 'passed', f);
  });
  test("a type the policy names as compute is judged; the allowed attributes are the policy's", () => {
    const r = one(judgeAll('tf-data-update.json', TF_DATA), 'DL-PLAN-001', 'terraform_data.web');
    assert.equal(r.status, 'failed');
    assert.match(r.message!, /input "1" → "2"; output "1" → \(known after apply\)/);
    const allowed = configWith({ compute: ['terraform_data'], allowedInPlaceAttributes: ['input', 'output'] });
    assert.equal(one(judgeAll('tf-data-update.json', allowed), 'DL-PLAN-001', 'terraform_data.web').status, 'passed');
    // Not compute by default: nothing of it is owed, and the plan says why.
    const byDefault = judgeAll('tf-data-update.json');
    assert.deepEqual(
      byDefault.map((r) => [r.control, r.resource, r.status]),
      [
        ['DL-PLAN-001', WHOLE_PLAN, 'not-applicable'],
        ['DL-PLAN-002', WHOLE_PLAN, 'not-applicable'],
        ['DL-PLAN-003', WHOLE_PLAN, 'not-applicable'],
      ],
    );
    assert.match(byDefault[0]!.message!, /no compute resource is updated or replaced in this plan \(it changes: terraform_data\.web update\)/);
  });
  test('a launch template update (a new version) and a group update change no running instance in place', () => {
    const all = judgeAll('aws-asg-template-refresh.json');
    assert.equal(one(all, 'DL-PLAN-001', 'aws_launch_template.web').status, 'passed');
    assert.equal(one(all, 'DL-PLAN-001', 'aws_autoscaling_group.web').status, 'passed');
  });
});

describe('DL-PLAN-002: a new launch template reaches the running instances', () => {
  test('a group whose template changes, updated without an instance_refresh: "not replaced"', () => {
    const r = one(judgeAll('aws-asg-template-no-refresh.json'), 'DL-PLAN-002', 'aws_autoscaling_group.web');
    assert.equal(r.status, 'failed');
    assert.equal(r.violation, 'template-not-rolled-out');
    assert.match(
      r.message!,
      /^aws_autoscaling_group\.web is not replaced: its launch template changes \(launch_template\[0\]\.version "3" → \(known after apply\)\), but .*without an instance_refresh/,
    );
  });
  test('with an instance_refresh (Rolling) that the change starts: passes', () =>
    assert.equal(one(judgeAll('aws-asg-template-refresh.json'), 'DL-PLAN-002', 'aws_autoscaling_group.web').status, 'passed'));
  test('a group that names the template by $Latest does not change itself, so its refresh never starts: "not replaced"', () => {
    const r = one(judgeAll('aws-asg-template-latest.json'), 'DL-PLAN-002', 'aws_autoscaling_group.web');
    assert.equal(r.status, 'failed');
    assert.match(r.message!, /names aws_launch_template\.web by \$Latest.*never starts its instance_refresh/);
  });
  test('a refresh that stops at a checkpoint, or skips protected instances, does not replace them all', () => {
    const d = doc('aws-asg-template-refresh.json');
    const asg = d.changes.find((c) => c.type === 'aws_autoscaling_group')!;
    const refresh = (asg.after as { instance_refresh: Array<{ preferences: Array<Record<string, unknown>> }> }).instance_refresh[0]!;
    const judgeAsg = () => {
      const checks = owedOf(d, policyOf(configWith())).filter((c) => c.control === 'DL-PLAN-002');
      return judge(planSuite, new Map([[d.name, { doc: d }]]), checks, configWith())[0]!;
    };
    refresh.preferences[0]!.checkpoint_percentages = [50];
    assert.match(judgeAsg().message!, /stops at checkpoint 50%/);
    refresh.preferences[0]!.checkpoint_percentages = [50, 100];
    assert.equal(judgeAsg().status, 'passed');
    (asg.after as Record<string, unknown>).protect_from_scale_in = true;
    assert.match(judgeAsg().message!, /protected from scale-in.*scale_in_protected_instances = "Refresh"/);
    refresh.preferences[0]!.scale_in_protected_instances = 'Refresh';
    assert.equal(judgeAsg().status, 'passed');
  });
});

describe('DL-PLAN-003: nothing stateful destroyed by a replacement', () => {
  test('a database replaced is a violation with replace_paths and action_reason; its password is never shown', () => {
    const r = one(judgeAll('aws-db-replace.json'), 'DL-PLAN-003', 'aws_db_instance.orders');
    assert.equal(r.status, 'failed');
    assert.equal(r.violation, 'stateful-replaced');
    assert.match(
      r.message!,
      /aws_db_instance\.orders \(aws_db_instance, stateful\) would be replaced \(actions delete, create, replace_because_cannot_update, because of storage_encrypted\)/,
    );
    const evidence = JSON.parse(r.evidence[0]!.body) as { replacePaths: string[]; actionReason: string };
    assert.deepEqual(evidence.replacePaths, ['storage_encrypted']);
    assert.equal(evidence.actionReason, 'replace_because_cannot_update');
    assert.doesNotMatch(body(r) + r.message, /fixture-db-password/);
  });
  test('plan.stateful adds types: terraform_data replaced by request', () => {
    const r = one(judgeAll('tf-data-stateful-replace.json', configWith({ stateful: ['terraform_data'] })), 'DL-PLAN-003', 'terraform_data.db');
    assert.equal(r.status, 'failed');
    assert.match(r.message!, /replace_by_request/);
  });
});

describe('sensitive values are never shown', () => {
  test('a marked value, and the same value repeated where the plan forgot its mark', () => {
    const r = one(judgeAll('tf-data-sensitive-update.json', TF_DATA), 'DL-PLAN-001', 'terraform_data.web');
    assert.equal(r.status, 'failed');
    assert.match(r.message!, /input \(sensitive\) → \(sensitive\); output \(sensitive\) → \(known after apply\)/);
    assert.doesNotMatch(r.message! + body(r), /fixture-secret/);
  });
  test('nested marks hide only what they mark', () => {
    const d = doc('aws-instance-update.json');
    const c = {
      ...d.changes[0]!,
      beforeSensitive: { metadata_options: [{ http_tokens: true }] },
      afterSensitive: { metadata_options: [{ http_tokens: true }] },
    };
    const attrs = attributeChanges(c);
    assert.deepEqual(
      attrs.find((a) => a.path === 'metadata_options[0].http_tokens'),
      { path: 'metadata_options[0].http_tokens', top: 'metadata_options', before: '(sensitive)', after: '(sensitive)' },
    );
    assert.equal(attrs.find((a) => a.path === 'instance_type')!.after, '"t3.large"');
  });
});

describe('a plan that changes nothing', () => {
  test('is "no changes" when it says so: every control of the whole plan does not apply, with that reason', () => {
    const all = judgeAll('tf-data-no-changes.json');
    assert.deepEqual(
      all.map((r) => [r.resource, r.status]),
      [
        [WHOLE_PLAN, 'not-applicable'],
        [WHOLE_PLAN, 'not-applicable'],
        [WHOLE_PLAN, 'not-applicable'],
      ],
    );
    for (const r of all) assert.match(r.message!, /^no changes: the plan is complete and changes nothing \(1 resource unchanged\)/);
  });
  test('a plan without "complete" whose resources are all no-op says so too', () => {
    const text = fs.readFileSync(fixture('tf-data-no-changes.json'), 'utf8').replace(/,"applyable":false,"complete":true,"errored":false/, '');
    assert.doesNotMatch(text, /"complete"/);
    const r = read('old.json', Buffer.from(text));
    assert.ok('doc' in r);
    assert.equal(r.doc.noChanges, 'every one of its 1 resource is unchanged (no-op)');
  });
});

describe('what is owed, and what is judged', () => {
  test('one check per (resource change, control), and one of the whole plan for a control nothing falls under', () => {
    const d = doc('tf-data-replace-by-triggers.json');
    assert.deepEqual(
      owedOf(d, policyOf(TF_DATA)).map((c) => [c.id, c.resource]),
      [
        ['tf-data-replace-by-triggers.json/terraform_data.release/DL-PLAN-001', 'terraform_data.release'],
        ['tf-data-replace-by-triggers.json/terraform_data.web/DL-PLAN-001', 'terraform_data.web'],
        [`tf-data-replace-by-triggers.json/${WHOLE_PLAN}/DL-PLAN-002`, WHOLE_PLAN],
        [`tf-data-replace-by-triggers.json/${WHOLE_PLAN}/DL-PLAN-003`, WHOLE_PLAN],
      ],
    );
  });
  test('a plan file that changed after the checks were planned is broken, never judged on other content', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-plan-'));
    try {
      const file = path.join(dir, 'plan.json');
      fs.copyFileSync(fixture('aws-instance-tags.json'), file);
      const config = { ...configWith(), planFiles: [{ name: 'plan.json', file }] };
      const { checks } = planPlans({ config, inventory: [] });
      fs.copyFileSync(fixture('aws-instance-update.json'), file);
      const again = parsePlan(fs.readFileSync(file), { name: 'plan.json', file });
      assert.ok('doc' in again);
      const u = planUnit(new Map([['plan.json', { doc: again.doc }]]), checks[0]!, new Judgement(checks[0]!.id), suiteRun(config));
      assert.ok('result' in u);
      assert.equal(u.result.status, 'broken');
      assert.match(u.result.message!, /plan file plan\.json changed after the run planned its checks/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CloudFormation change sets: the same controls', () => {
  test('Modify with Replacement False of an instance is an update in place, named by property, its values never shown', () => {
    const r = one(judgeAll('cfn-instance-update.json'), 'DL-PLAN-001', 'WebServer');
    assert.equal(r.status, 'failed');
    assert.match(
      r.message!,
      /^WebServer \(AWS::EC2::Instance\) would be updated in place, not replaced: InstanceType \(a change set's values are not shown\)\. Replace it instead \(a change that requires replacement, or a new logical id\)/,
    );
    assert.doesNotMatch(r.message! + body(r), /t3\.large/, 'no value of a change set is shown');
  });
  test('Replacement True passes; the tags alone (allowed without case) pass', () => {
    assert.equal(one(judgeAll('cfn-instance-replace.json'), 'DL-PLAN-001', 'WebServer').status, 'passed');
    const tagsOnly = doc('cfn-instance-update.json');
    tagsOnly.changes[0]!.changedProperties = tagsOnly.changes[0]!.changedProperties!.filter((p) => p.path === 'Tags');
    const checks = owedOf(tagsOnly, policyOf(configWith())).filter((c) => c.control === 'DL-PLAN-001');
    assert.equal(judge(planSuite, new Map([[tagsOnly.name, { doc: tagsOnly }]]), checks, configWith())[0]!.status, 'passed');
  });
  test('Replacement Conditional is broken (not proven) with the reason, unless plan.acceptConditional takes it as a replacement', () => {
    const r = one(judgeAll('cfn-instance-conditional.json'), 'DL-PLAN-001', 'WebServer');
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /may or may not be replaced \(Replacement: Conditional\).*plan\.acceptConditional: true/);
    assert.equal(one(judgeAll('cfn-instance-conditional.json', configWith({ acceptConditional: true })), 'DL-PLAN-001', 'WebServer').status, 'passed');
  });
  test('an Auto Scaling group whose launch template changes: its UpdatePolicy decides', () => {
    assert.equal(one(judgeAll('cfn-asg-rolling-update.json'), 'DL-PLAN-002', 'WebGroup').status, 'passed');
    assert.equal(one(judgeAll('cfn-asg-rolling-update.json'), 'DL-PLAN-001', 'WebLaunchTemplate').status, 'passed');
    const r = one(judgeAll('cfn-asg-no-update-policy.json'), 'DL-PLAN-002', 'WebGroup');
    assert.equal(r.status, 'failed');
    assert.match(r.message!, /^WebGroup is not replaced: its launch template changes \(LaunchTemplate\), but the group has no UpdatePolicy/);
    // Described without --include-property-values: whether it has one is not known.
    const bare = JSON.parse(fs.readFileSync(fixture('cfn-asg-rolling-update.json'), 'utf8')) as { Changes: Array<{ ResourceChange: Record<string, unknown> }> };
    for (const c of bare.Changes) delete c.ResourceChange.AfterContext;
    const d = read('bare.json', Buffer.from(JSON.stringify(bare)));
    assert.ok('doc' in d);
    const checks = owedOf(d.doc, policyOf(configWith())).filter((c) => c.control === 'DL-PLAN-002');
    assert.match(
      judge(planSuite, new Map([['bare.json', { doc: d.doc }]]), checks, configWith())[0]!.message!,
      /does not say whether the group has an UpdatePolicy/,
    );
  });
  test('a stateful resource replaced is a violation naming the property that recreates it', () => {
    const r = one(judgeAll('cfn-db-replace.json'), 'DL-PLAN-003', 'OrdersDb');
    assert.equal(r.status, 'failed');
    assert.match(r.message!, /OrdersDb \(AWS::RDS::DBInstance, stateful\) would be replaced \(actions create, delete, because of StorageEncrypted\)/);
  });
  test('no changes when CloudFormation says so; a change set not ready, or already executed, cannot be gated', () => {
    for (const r of judgeAll('cfn-no-changes.json'))
      assert.match(r.message!, /^no changes: CloudFormation made no change set: The submitted information didn't contain changes/);
    assert.match(problems('cfn-pending.json'), /^cfn-pending\.json: \/Status: the change set is CREATE_IN_PROGRESS, not CREATE_COMPLETE: wait for it/);
    const text = fs.readFileSync(fixture('cfn-instance-update.json'), 'utf8');
    assert.match(
      problems('x.json', Buffer.from(text.replace('"ExecutionStatus": "AVAILABLE"', '"ExecutionStatus": "EXECUTE_COMPLETE"'))),
      /x\.json: \/ExecutionStatus: the change set is EXECUTE_COMPLETE/,
    );
    assert.match(
      problems('y.json', Buffer.from(text.replace('"Status": "CREATE_COMPLETE"', '"Status": "FAILED", "StatusReason": "Template error"'))),
      /y\.json: \/Status: the change set failed \(Template error\)/,
    );
  });
});
