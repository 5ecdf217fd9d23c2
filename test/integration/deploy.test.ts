/**
 * The deploy suite end to end through `driftless run`:
 *  - driven, on the lab: driftless runs `driftless lab deploy` under load; cattle (replaced one
 *    instance at a time) passes all six checks, the snowflake (a file copied in, restarted in
 *    place) fails replace-only, new release, patched-in-place; the engine confirms every cattle
 *    container is new;
 *  - a deploy command that fails, or that times out, is broken (exit 3), never judged;
 *  - observed, on the lab: `driftless snapshot`, the pipeline deploys, `run --before` judges it,
 *    and the checks that need watching are not applicable, with the reason;
 *  - observed, on EC2 (moto): a fleet whose instances were replaced passes, one kept fails;
 *  - driven, on EC2 (moto): a pipeline that rolls an Auto Scaling group to a new launch template
 *    version passes; one that only publishes the new version (instances kept) fails.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AutoScalingClient, CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, EC2Client, RegisterImageCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import type Docker from 'dockerode';
import { labUp } from '../../lab/lab.ts';
import { labDir } from '../../lab/lab-plan.ts';
import { connectEngine } from '../../probes/docker.ts';
import { type Verdict } from '../../reports/verdict.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';
import { startMoto, type MotoServer } from '../helpers/moto.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-deploy-'));
let docker: Docker;

const one = (rs: Rec[], fleet: string, control: string) => {
  const r = rs.filter((x) => x.fleet === fleet && x.control === control);
  assert.equal(r.length, 1, `exactly one ${control} result for fleet ${fleet} (got ${r.length})`);
  return r[0]!;
};
const msg = (r: Rec) => r.message ?? '';

// The EC2 tests (moto): one region, credentials named by env vars, AMIs registered as a bake would.
const REGION = 'us-east-1';
const EC2_ENV = { DL_DEP_AK: 'AKIDTESTINGDRIFTLESS', DL_DEP_SK: 'testing-secret-not-real', AWS_EC2_METADATA_DISABLED: 'true' };
const registerAmi = async (client: EC2Client, Name: string) =>
  (await client.send(new RegisterImageCommand({ Name, Architecture: 'x86_64', RootDeviceName: '/dev/xvda', VirtualizationType: 'hvm' }))).ImageId!;
const ec2Target = (name: string, endpoint: string, select: Record<string, unknown>) => ({
  name,
  provider: 'ec2',
  service: 'web',
  ec2: { region: REGION, endpoint, credentials: { accessKeyIdEnv: 'DL_DEP_AK', secretAccessKeyEnv: 'DL_DEP_SK' }, ...select },
});

function labConfig(name: string, deploy: Record<string, unknown> | undefined): string {
  const lab = labDir();
  const fleet = (f: string, port: number) => ({
    name: f,
    provider: 'docker',
    environment: 'lab',
    service: `${f}-web`,
    entrypoint: `http://127.0.0.1:${port}`,
    docker: { labels: { 'driftless.fleet': f, 'driftless.lab.role': 'host' } },
    ssh: { user: 'audit', identityFile: path.join(lab, 'id_ed25519'), knownHostsFile: path.join(lab, 'known_hosts') },
  });
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      targets: [fleet('cattle', 21000), fleet('snowflake', 21001)],
      release: { file: path.join(lab, 'release.json') },
      chaos: {
        load: { rate: 40, durationSeconds: 5, warmupSeconds: 1, path: '/health' },
        stateProbe: { keys: 10 },
        slo: { maxErrorRate: 0.02, p99Ms: 1000, recoverySeconds: 20 },
      },
      ...(deploy ? { deploy: { fleets: ['cattle', 'snowflake'], minHealthyShare: 0.6, ...deploy } } : {}),
    }),
  );
  return file;
}

async function run(name: string, args: string[], env: Record<string, string> = {}): Promise<{ cli: CliResult; rs: Rec[]; verdict: Verdict }> {
  const dir = path.join(tmp, `results-${name}`);
  const reports = path.join(tmp, `reports-${name}`);
  const cli = await driftless(['run', '--suite', 'deploy', '--results-dir', dir, ...args], {
    env: { DRIFTLESS_OUTPUT_DIR: reports, ...env },
    timeoutMs: 400_000,
  });
  const verdict = JSON.parse(fs.readFileSync(path.join(reports, 'verdict.json'), 'utf8')) as Verdict;
  return { cli, rs: readRecords(dir), verdict };
}

before(async () => {
  docker = await connectEngine();
  await labUp();
});

after(async () => {
  // A deployed lab runs another release than `lab up` built: later suites get a fresh one.
  await driftless(['lab', 'down']);
  await labUp();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('driven: driftless runs the lab deploy and watches it', () => {
  let r: Awaited<ReturnType<typeof run>>;
  let cattleBefore: string[];
  before(async () => {
    cattleBefore = (await docker.listContainers({ filters: { label: ['driftless.fleet=cattle', 'driftless.lab.role=host'] } })).map((c) => c.Id);
    // The deploy sees only the variables listed: the lab's directory, when the tests moved it.
    const cfg = labConfig('driven', {
      command: [path.join(process.cwd(), 'bin', 'driftless.js'), 'lab', 'deploy'],
      timeoutSeconds: 300,
      env: ['DRIFTLESS_LAB_DIR'],
    });
    r = await run('driven', ['--config', cfg]);
  });

  test('exit 1: the snowflake is caught; the deploy command and its output are evidence', () => {
    assert.equal(r.cli.code, 1, r.cli.stdout.slice(-3000) + r.cli.stderr.slice(-1500));
    assert.match(r.cli.stderr, /\[driftless deploy\] running the deploy: .*lab deploy \(timeout 300 s\)/);
    assert.match(r.cli.stderr, /\[driftless deploy\]\s+\|\s+release \d+ deployed in/);
  });

  test('cattle: replaced, new release, not patched, capacity, SLO and state held: all six pass', async () => {
    for (const c of ['DL-DEP-001', 'DL-DEP-002', 'DL-DEP-003', 'DL-DEP-004', 'DL-DEP-005', 'DL-DEP-006']) {
      const x = one(r.rs, 'cattle', c);
      assert.equal(x.outcome, 'passed', `${c}: ${msg(x)}`);
    }
    const now = (await docker.listContainers({ filters: { label: ['driftless.fleet=cattle', 'driftless.lab.role=host'] } })).map((c) => c.Id);
    assert.equal(now.length, 3);
    assert.deepEqual(
      now.filter((id) => cattleBefore.includes(id)),
      [],
      'the engine confirms no cattle container survived the deploy',
    );
  });

  test('snowflake: kept, on the old image, patched in place (copied into and restarted), each under its category', () => {
    const kept = one(r.rs, 'snowflake', 'DL-DEP-001');
    assert.equal(kept.outcome, 'failed');
    assert.equal(kept?.category, 'Not replaced');
    assert.match(msg(kept), /.*2 of 2 instances served before the deploy and still serve after it .*dl-snowflake-1, dl-snowflake-2/);
    const image = one(r.rs, 'snowflake', 'DL-DEP-002');
    assert.equal(image.outcome, 'failed');
    assert.equal(image?.category, 'Wrong image');
    assert.match(msg(image), /.*do not run the new release/);
    const patched = one(r.rs, 'snowflake', 'DL-DEP-003');
    assert.equal(patched.outcome, 'failed');
    assert.equal(patched?.category, 'Patched in place');
    assert.match(msg(patched), /.*dl-snowflake-1 copied into at .*dl-snowflake-1 restarted at/);
    assert.ok((r.verdict.categories['Patched in place'] ?? 0) >= 1);
  });
});

describe('a deploy that does not succeed is broken, never judged', () => {
  test('its command fails: every check broken (exit 3), the output attached with the secret redacted, an unlisted variable unseen', async () => {
    // DL_DEPLOY_TOKEN is passed (deploy.env), so it is a secret; DL_DEPLOY_UNLISTED is not passed at all.
    const cfg = labConfig('failing', {
      command: ['sh', '-c', 'echo "deploying with token $DL_DEPLOY_TOKEN"; echo "unlisted: [$DL_DEPLOY_UNLISTED]"; echo "registry unreachable" >&2; exit 4'],
      env: ['DL_DEPLOY_TOKEN'],
    });
    const r = await run('failing', ['--config', cfg], { DL_DEPLOY_TOKEN: 'hunter2-deploy-token-xyz', DL_DEPLOY_UNLISTED: 'unlisted-value-xyz' });
    assert.equal(r.cli.code, 3, r.cli.stdout.slice(-2000));
    for (const f of ['cattle', 'snowflake']) {
      const x = one(r.rs, f, 'DL-DEP-001');
      assert.equal(x.outcome, 'broken');
      assert.match(msg(x), /the deploy command failed \(exit 4\): a deploy that fails is not judged/);
    }
    assert.match(r.cli.stderr, /deploying with token \[secret redacted\]/);
    assert.match(r.cli.stderr, /unlisted: \[\]/);
    const dir = path.join(tmp, 'results-failing');
    const all = fs
      .readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => fs.statSync(path.join(dir, f)).isFile())
      .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
    assert.ok(
      all.some((t) => t.includes('registry unreachable')),
      'the command output is attached',
    );
    for (const secret of ['hunter2-deploy-token-xyz', 'unlisted-value-xyz']) {
      assert.ok(!all.some((t) => t.includes(secret)), `no result or attachment holds ${secret}`);
      assert.ok(!r.cli.stdout.includes(secret) && !r.cli.stderr.includes(secret), `nor does the log`);
    }
  });

  test('its command times out: broken (exit 3), and the command is stopped', async () => {
    const marker = path.join(tmp, 'still-running');
    const cfg = labConfig('timeout', { command: ['sh', '-c', `sleep 30; touch ${marker}`], timeoutSeconds: 2 });
    const r = await run('timeout', ['--config', cfg]);
    assert.equal(r.cli.code, 3, r.cli.stdout.slice(-2000));
    assert.match(msg(one(r.rs, 'cattle', 'DL-DEP-002')), /did not finish within deploy\.timeoutSeconds \(2 s\) and was stopped/);
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(fs.existsSync(marker), false, 'the timed-out command was stopped, not left running');
  });
});

describe('observed: a snapshot before, the pipeline deploys, driftless judges after', () => {
  let r: Awaited<ReturnType<typeof run>>;
  before(async () => {
    const cfg = labConfig('observed', undefined);
    const snap = path.join(tmp, 'before.json');
    const s = await driftless(['snapshot', '-o', snap, '--config', cfg]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /fleet cattle \(docker\): 3 instances/);
    const d = await driftless(['lab', 'deploy']); // the pipeline, without driftless
    assert.equal(d.code, 0, d.stderr);
    r = await run('observed', ['--config', cfg, '--before', snap]);
  });

  test('cattle passes what can be judged afterwards; the snowflake fails it', () => {
    assert.equal(r.cli.code, 1, r.cli.stdout.slice(-2000));
    for (const c of ['DL-DEP-001', 'DL-DEP-002', 'DL-DEP-003']) assert.equal(one(r.rs, 'cattle', c).outcome, 'passed', msg(one(r.rs, 'cattle', c)));
    for (const c of ['DL-DEP-001', 'DL-DEP-002', 'DL-DEP-003']) assert.equal(one(r.rs, 'snowflake', c).outcome, 'failed', c);
  });

  test('load, capacity and state were not watched: not applicable, with the reason', () => {
    const na = r.verdict.notApplicable.filter((n) => n.fleet === 'cattle' && n.suite === 'deploy').map((n) => n.control);
    assert.deepEqual(na.sort(), ['DL-DEP-004', 'DL-DEP-005', 'DL-DEP-006']);
    assert.match(r.verdict.notApplicable.find((n) => n.control === 'DL-DEP-004')!.reason, /observed mode \(--before\): driftless did not run the deploy/);
  });

  test('--before that is not a snapshot: exit 2, nothing done', async () => {
    const bad = path.join(tmp, 'not-a-snapshot.json');
    fs.writeFileSync(bad, '{"hello": 1}');
    const x = await driftless(['run', '--suite', 'deploy', '--config', labConfig('bad', undefined), '--before', bad]);
    assert.equal(x.code, 2);
    assert.match(x.stderr, /--before .*not-a-snapshot\.json: not a driftless snapshot \(version, takenAt, fleets\); take one with driftless snapshot -o/);
  });
});

describe('observed on EC2 (moto): instances replaced vs instances kept', () => {
  let moto: MotoServer;
  let r: Awaited<ReturnType<typeof run>>;

  before(async () => {
    moto = await startMoto();
    const client = new EC2Client({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const ami = (Name: string) => registerAmi(client, Name);
    const launch = async (ImageId: string, fleet: string) =>
      (
        await client.send(
          new RunInstancesCommand({
            ImageId,
            MinCount: 2,
            MaxCount: 2,
            InstanceType: 't3.micro',
            TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'fleet', Value: fleet }] }],
          }),
        )
      ).Instances!.map((i) => i.InstanceId!);
    const v1 = await ami('driftless-deploy-v1');
    const v2 = await ami('driftless-deploy-v2');
    const replacedOld = await launch(v1, 'replaced');
    await launch(v1, 'kept');
    const target = (fleet: string) => ec2Target(fleet, moto.endpoint, { filters: [{ name: 'tag:fleet', values: [fleet] }] });
    const releaseFile = path.join(tmp, 'ec2-release.json');
    fs.writeFileSync(releaseFile, JSON.stringify({ release: 'v1', services: { web: { ami: v1 } } }));
    const cfg = path.join(tmp, 'ec2.json');
    fs.writeFileSync(cfg, JSON.stringify({ version: 1, targets: [target('replaced'), target('kept')], release: { file: releaseFile } }));
    const snap = path.join(tmp, 'ec2-before.json');
    const s = await driftless(['snapshot', '-o', snap, '--config', cfg], { env: EC2_ENV });
    assert.equal(s.code, 0, s.stdout + s.stderr);
    // The pipeline: fleet "replaced" gets two new instances of v2 and loses the old ones; "kept" is left as it was.
    await launch(v2, 'replaced');
    await client.send(new TerminateInstancesCommand({ InstanceIds: replacedOld }));
    fs.writeFileSync(releaseFile, JSON.stringify({ release: 'v2', services: { web: { ami: v2 } } }));
    r = await run('ec2', ['--config', cfg, '--before', snap], EC2_ENV);
  });
  after(async () => moto?.stop());

  test('replaced: both checks pass; kept: not replaced and on the old AMI', () => {
    assert.equal(r.cli.code, 1, r.cli.stdout.slice(-2000) + r.cli.stderr.slice(-1000));
    assert.equal(one(r.rs, 'replaced', 'DL-DEP-001').outcome, 'passed', msg(one(r.rs, 'replaced', 'DL-DEP-001')));
    assert.equal(one(r.rs, 'replaced', 'DL-DEP-002').outcome, 'passed', msg(one(r.rs, 'replaced', 'DL-DEP-002')));
    assert.equal(one(r.rs, 'kept', 'DL-DEP-001')?.category, 'Not replaced');
    assert.match(msg(one(r.rs, 'kept', 'DL-DEP-001')), /.*2 of 2 instances served before the deploy and still serve after it/);
    assert.equal(one(r.rs, 'kept', 'DL-DEP-002')?.category, 'Wrong image');
    assert.match(msg(one(r.rs, 'kept', 'DL-DEP-002')), /.*2 of 2 instances do not run the new release/);
  });

  test('an EC2 fleet has no engine record of in-place changes: DL-DEP-003 not applicable, with the reason', () => {
    const n = r.verdict.notApplicable.find((x) => x.fleet === 'kept' && x.control === 'DL-DEP-003');
    assert.match(n?.reason ?? '', /ec2 fleets have no engine event record of in-place changes/);
  });
});

describe('driven on EC2 (moto): an Auto Scaling group rolled to a new launch template version', () => {
  let moto: MotoServer;
  let client: EC2Client;
  let asg: AutoScalingClient;
  const script = path.join(process.cwd(), 'test', 'helpers', 'asg-rolling-deploy.mjs');

  before(async () => {
    moto = await startMoto();
    const creds = { region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    client = new EC2Client(creds);
    asg = new AutoScalingClient(creds);
  });
  after(async () => {
    client?.destroy();
    asg?.destroy();
    await moto?.stop();
  });

  /** A fresh group of 3 on AMI v1; the deploy command rolls it to v2 (or only publishes v2). */
  async function deployRun(name: string, keep: boolean) {
    const ami = (Name: string) => registerAmi(client, Name);
    const v1 = await ami(`driftless-${name}-v1`);
    const v2 = await ami(`driftless-${name}-v2`);
    await client.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `${name}-lt`, LaunchTemplateData: { ImageId: v1, InstanceType: 't3.micro' } }));
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: `${name}-asg`,
        LaunchTemplate: { LaunchTemplateName: `${name}-lt`, Version: '$Latest' },
        MinSize: 3,
        MaxSize: 6,
        DesiredCapacity: 3,
        AvailabilityZones: [`${REGION}a`],
      }),
    );
    const releaseFile = path.join(tmp, `${name}-release.json`);
    fs.writeFileSync(releaseFile, JSON.stringify({ release: 'v1', services: { web: { ami: v1 } } }));
    const cfg = path.join(tmp, `${name}.json`);
    fs.writeFileSync(
      cfg,
      JSON.stringify({
        version: 1,
        targets: [ec2Target(name, moto.endpoint, { autoScalingGroup: `${name}-asg` })],
        release: { file: releaseFile },
        deploy: {
          command: [process.execPath, script, moto.endpoint, `${name}-asg`, `${name}-lt`, v2, releaseFile, ...(keep ? ['--keep-instances'] : [])],
          timeoutSeconds: 60,
          minHealthyShare: 0.6,
        },
        // The new release's instances are audited too (the new-release suite), and moto's Auto
        // Scaling starts every instance accepting IMDSv1 whatever the launch template says.
        policy: { disabledControls: [{ control: 'DL-IMG-016', reason: "moto's Auto Scaling ignores a launch template's MetadataOptions" }] },
      }),
    );
    return run(name, ['--config', cfg], EC2_ENV);
  }

  test('every instance replaced from the new version: replaced, new release and capacity pass, and so do its instances', async () => {
    const r = await deployRun('rolled', false);
    assert.equal(r.cli.code, 0, r.cli.stdout.slice(-2500) + r.cli.stderr.slice(-1500));
    for (const c of ['DL-DEP-001', 'DL-DEP-002', 'DL-DEP-004']) assert.equal(one(r.rs, 'rolled', c).outcome, 'passed', `${c}: ${msg(one(r.rs, 'rolled', c))}`);
    // After the deploy, its instances owe the image checks: the new AMI, launched after deployedAt.
    for (const c of ['DL-IMG-001', 'DL-IMG-007', 'DL-IMG-008', 'DL-IMG-015']) {
      const x = r.rs.find((y) => y.fleet === 'rolled' && y.host === 'deployed-instances' && y.control === c);
      assert.equal(x?.outcome, 'passed', `${c}: ${x?.message}`);
      assert.match(x!.parameters.instances ?? '', /^i-[0-9a-f]+, i-[0-9a-f]+, i-[0-9a-f]+$/);
    }
    const na = r.verdict.notApplicable.filter((n) => n.fleet === 'rolled' && n.suite === 'deploy').map((n) => n.control);
    assert.deepEqual(na.sort(), ['DL-DEP-003', 'DL-DEP-005', 'DL-DEP-006'], 'no engine record, no entrypoint: each with its reason');
  });

  test('the new version published but no instance replaced: not replaced, and on the old AMI', async () => {
    const r = await deployRun('kept', true);
    assert.equal(r.cli.code, 1, r.cli.stdout.slice(-2500));
    assert.equal(one(r.rs, 'kept', 'DL-DEP-001')?.category, 'Not replaced');
    assert.match(msg(one(r.rs, 'kept', 'DL-DEP-001')), /.*3 of 3 instances served before the deploy and still serve after it/);
    assert.equal(one(r.rs, 'kept', 'DL-DEP-002')?.category, 'Wrong image');
    assert.match(msg(one(r.rs, 'kept', 'DL-DEP-002')), /.*3 of 3 instances do not run the new release/);
  });
});
