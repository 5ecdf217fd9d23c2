/**
 * Ec2Provider against a real EC2/Auto Scaling-compatible API: moto_server on 127.0.0.1, driven
 * by the real AWS SDK with an endpoint override. Nothing here can reach AWS: every client's
 * endpoint is the local moto, and instance metadata lookups are disabled.
 *
 * Run: node --import tsx --test test/integration/ec2.test.ts   (needs: pip install 'moto[server]')
 */
process.env.AWS_EC2_METADATA_DISABLED = 'true';

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateLaunchTemplateCommand,
  DeleteTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RegisterImageCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { AutoScalingClient, CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import type { Ec2Target } from '../../core/config.ts';
import { CapacityTimeoutError, UsageError } from '../../core/errors.ts';
import { runExperiment } from '../../audits/chaos/kill-loop.ts';
import { chooseVictims } from '../../audits/chaos/victims.ts';
import { Ec2Provider } from '../../providers/ec2/provider.ts';
import { startMoto, type MotoServer } from '../helpers/moto.ts';

const REGION = 'us-east-1';
const OPT_IN = 'chaos=opt-in';
// Dummy credentials, passed the way a user would: by env var NAME in the target config.
process.env.DL_TEST_AK = 'AKIDTESTINGDRIFTLESS';
process.env.DL_TEST_SK = 'testing-secret-not-real';
const CREDS = { accessKeyIdEnv: 'DL_TEST_AK', secretAccessKeyEnv: 'DL_TEST_SK' };

let moto: MotoServer;
let ec2: EC2Client;
let asg: AutoScalingClient;
let ami: string;
const staticIds: string[] = [];
const otherIds: string[] = [];

function target(name: string, ec2cfg: Partial<Ec2Target['ec2']>): Ec2Target {
  return {
    name,
    provider: 'ec2',
    mayBeEmpty: false,
    service: 'web',
    ec2: { region: REGION, endpoint: moto.endpoint, credentials: CREDS, address: 'private-ip', ...ec2cfg },
  };
}

/** A real SDK client for the inventory, counting the DescribeInstances requests it sends. */
function countingEc2(): { client: EC2Client; pages: () => number; maxResults: () => unknown[] } {
  const client = new EC2Client({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  let n = 0;
  const sizes: unknown[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'DescribeInstancesCommand') {
        n++;
        sizes.push((args.input as { MaxResults?: unknown }).MaxResults);
      }
      return next(args);
    },
    { step: 'initialize', name: 'countDescribeInstances' },
  );
  return { client, pages: () => n, maxResults: () => sizes };
}

async function runOne(tags: Record<string, string>): Promise<string> {
  const r = await ec2.send(
    new RunInstancesCommand({
      ImageId: ami,
      MinCount: 1,
      MaxCount: 1,
      InstanceType: 't3.micro',
      TagSpecifications: [{ ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
    }),
  );
  return r.Instances![0]!.InstanceId!;
}

async function stateOf(id: string): Promise<string | undefined> {
  const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return r.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

before(async () => {
  moto = await startMoto();
  const cfg = { region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  ec2 = new EC2Client(cfg);
  asg = new AutoScalingClient(cfg);

  // Our own "golden" AMI, registered the way a bake pipeline would (moto also ships stock AMIs).
  const reg = await ec2.send(
    new RegisterImageCommand({
      Name: 'driftless-golden-2024.1',
      Description: 'golden image for the EC2 integration test',
      Architecture: 'x86_64',
      RootDeviceName: '/dev/xvda',
      VirtualizationType: 'hvm',
    }),
  );
  ami = reg.ImageId!;

  // Fleet "static": 12 instances, one RunInstances each. moto pages DescribeInstances by
  // reservation (real EC2 by instance), so one instance per reservation makes pageSize 5 mean
  // 5 instances per page on both. Every other one opts in to chaos; 2 of them carry an ssh-host tag.
  for (let i = 0; i < 12; i++) {
    staticIds.push(
      await runOne({ fleet: 'static', Name: `static-${i}`, ...(i % 2 === 0 ? { chaos: 'opt-in' } : {}), ...(i < 2 ? { 'ssh-host': '127.0.0.1' } : {}) }),
    );
  }
  // Non-matching instances the filter must exclude (one even carries the opt-in tag).
  for (let i = 0; i < 3; i++) otherIds.push(await runOne({ fleet: 'other', chaos: 'opt-in' }));

  // Fleet "web": an Auto Scaling group of 3 from a launch template on the golden AMI.
  await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'web-lt',
      LaunchTemplateData: { ImageId: ami, InstanceType: 't3.micro' },
    }),
  );
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: 'web-asg',
      LaunchTemplate: { LaunchTemplateName: 'web-lt', Version: '$Latest' },
      MinSize: 3,
      MaxSize: 6,
      DesiredCapacity: 3,
      AvailabilityZones: [`${REGION}a`],
      Tags: [
        { Key: 'chaos', Value: 'opt-in', PropagateAtLaunch: true },
        { Key: 'fleet', Value: 'web', PropagateAtLaunch: true },
      ],
    }),
  );
});

after(async () => {
  ec2?.destroy();
  asg?.destroy();
  await moto?.stop();
});

describe('list()', () => {
  test('pages through all matching instances (pageSize 5, 12 instances → 3 pages) and excludes the rest', async () => {
    const counting = countingEc2();
    const inv = new Ec2Provider(
      target('static', { filters: [{ name: 'tag:fleet', values: ['static'] }], pageSize: 5, address: { tag: 'ssh-host' }, sshPort: 2222 }),
      OPT_IN,
      { clients: { ec2: counting.client } },
    );
    const hosts = await inv.list();
    assert.deepEqual(hosts.map((h) => h.instanceId).sort(), [...staticIds].sort());
    for (const id of otherIds) assert.ok(!hosts.some((h) => h.instanceId === id), `${id} (fleet=other) must be filtered out`);
    assert.ok(counting.pages() >= 3, `expected ≥ 3 DescribeInstances pages, saw ${counting.pages()}`);
    assert.ok(
      counting.maxResults().every((m) => m === 5),
      `MaxResults sent: ${counting.maxResults().join(',')}`,
    );

    const h0 = hosts.find((h) => h.labels.Name === 'static-0')!;
    assert.equal(h0.id, h0.instanceId);
    assert.equal(h0.fleet, 'static');
    assert.equal(h0.provider, 'ec2');
    assert.equal(h0.service, 'web');
    assert.equal(h0.image.ami, ami);
    assert.equal(h0.state, 'running');
    assert.ok(h0.launchedAt instanceof Date && !Number.isNaN(h0.launchedAt.getTime()));
    assert.deepEqual(h0.ssh, { host: '127.0.0.1', port: 2222 });
    assert.equal(h0.chaosEligible, true);
    const h1 = hosts.find((h) => h.labels.Name === 'static-1')!;
    assert.equal(h1.chaosEligible, false);
    const h5 = hosts.find((h) => h.labels.Name === 'static-5')!;
    assert.equal(h5.ssh, undefined, 'no ssh-host tag → no ssh address');
    assert.equal(hosts.filter((h) => h.chaosEligible).length, 6);
  });

  test('a pageSize below 5 is raised to the EC2 minimum instead of being rejected', async () => {
    const counting = countingEc2();
    const inv = new Ec2Provider(target('static', { filters: [{ name: 'tag:fleet', values: ['static'] }], pageSize: 1 }), OPT_IN, {
      clients: { ec2: counting.client },
    });
    assert.equal((await inv.list()).length, 12);
    assert.ok(counting.maxResults().every((m) => m === 5));
  });

  test('without an opt-in tag no host is chaos-eligible', async () => {
    const inv = new Ec2Provider(target('static', { filters: [{ name: 'tag:fleet', values: ['static'] }], pageSize: 5 }));
    const hosts = await inv.list();
    assert.equal(hosts.length, 12);
    assert.ok(hosts.every((h) => !h.chaosEligible));
  });

  test('with an Auto Scaling group, only its instances (private IP for ssh)', async () => {
    const inv = new Ec2Provider(
      target('web', { autoScalingGroup: 'web-asg', pageSize: 5, filters: [{ name: 'instance-type', values: ['t3.micro'] }] }),
      OPT_IN,
    );
    const hosts = await inv.list();
    const g = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['web-asg'] }));
    const members = g.AutoScalingGroups![0]!.Instances!.map((i) => i.InstanceId!).sort();
    assert.equal(members.length, 3);
    assert.deepEqual(hosts.map((h) => h.instanceId).sort(), members);
    for (const h of hosts) {
      assert.equal(h.image.ami, ami);
      assert.equal(h.labels['aws:autoscaling:groupName'], 'web-asg');
      assert.equal(h.chaosEligible, true, 'PropagateAtLaunch carried the opt-in tag');
      assert.match(h.ssh?.host ?? '', /^\d+\.\d+\.\d+\.\d+$/);
      assert.equal(h.ssh?.port, 22);
    }
  });
});

describe('describeAmi()', () => {
  test('an existing AMI: exists, available, with its name and creation date', async () => {
    const inv = new Ec2Provider(target('web', { autoScalingGroup: 'web-asg' }));
    const info = await inv.describeAmi(ami);
    assert.equal(info.exists, true);
    assert.equal(info.state, 'available');
    assert.equal(info.name, 'driftless-golden-2024.1');
    assert.ok(info.creationDate instanceof Date && !Number.isNaN(info.creationDate.getTime()));
    // Same answer as the raw API.
    const raw = await ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }));
    assert.equal(raw.Images?.[0]?.State, info.state);
  });

  test('a missing AMI: exists false, with the EC2 reason', async () => {
    const inv = new Ec2Provider(target('web', { autoScalingGroup: 'web-asg' }));
    const info = await inv.describeAmi('ami-0123456789abcdef0');
    assert.equal(info.exists, false);
    assert.equal(info.reason, 'InvalidAMIID.NotFound');
    assert.equal((await inv.describeAmi('not-an-ami')).exists, false);
  });
});

describe('Auto Scaling group: chaos kill and replacement', () => {
  test('desiredCapacity is the group DesiredCapacity; at capacity from the start', async () => {
    const inv = new Ec2Provider(target('web', { autoScalingGroup: 'web-asg' }), OPT_IN);
    assert.equal(await inv.desiredCapacity(), 3);
    const rep = await inv.waitForCapacity({ timeoutMs: 5000, pollMs: 100 });
    assert.equal(rep.desired, 3);
    assert.equal(rep.running, 3);
    assert.ok(rep.reachedAt instanceof Date);
  });

  test('terminate through the group (desired kept) → a NEW instance of the SAME AMI replaces it', async () => {
    const inv = new Ec2Provider(target('web', { autoScalingGroup: 'web-asg', pageSize: 5 }), OPT_IN);
    const before = await inv.list();
    const victim = before[0]!;
    const t0 = Date.now();
    await inv.kill(victim, 'terminate');

    assert.equal(await inv.desiredCapacity(), 3, 'ShouldDecrementDesiredCapacity=false keeps desired at 3');
    const rep = await inv.waitForCapacity({ timeoutMs: 15_000, pollMs: 100 });
    assert.equal(rep.running, 3);
    assert.ok(rep.reachedAt.getTime() >= t0);
    const ids = rep.hosts.map((h) => h.instanceId);
    assert.ok(!ids.includes(victim.instanceId), 'the victim is no longer in the running set');
    const fresh = rep.hosts.filter((h) => !before.some((b) => b.instanceId === h.instanceId));
    assert.equal(fresh.length, 1, 'exactly one new instance');
    assert.notEqual(fresh[0]!.instanceId, victim.instanceId);
    assert.equal(fresh[0]!.image.ami, victim.image.ami, 'the replacement runs the same AMI');
    assert.equal(await stateOf(victim.instanceId), 'terminated');
    // The group itself agrees: 3 InService, the victim gone, the new one in.
    const g = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['web-asg'] }))).AutoScalingGroups![0]!;
    assert.equal(g.DesiredCapacity, 3);
    assert.deepEqual(g.Instances!.map((i) => i.InstanceId).sort(), [...ids].sort());
    assert.ok(g.Instances!.every((i) => i.LifecycleState === 'InService'));
  });

  test('kill refuses a host without the opt-in tag, and a host of another fleet, without calling AWS', async () => {
    const inv = new Ec2Provider(target('web', { autoScalingGroup: 'web-asg' }), OPT_IN);
    const [h] = await inv.list();
    await assert.rejects(
      inv.kill({ ...h!, chaosEligible: false }, 'terminate'),
      (e: unknown) => e instanceof UsageError && /opt-in/.test((e as Error).message),
    );
    await assert.rejects(inv.kill({ ...h!, fleet: 'static' }, 'terminate'), UsageError);
    assert.equal(await stateOf(h!.instanceId), 'running');
  });

  test('the opt-in is looked up afresh right before the kill: a tag removed after the victims were chosen spares the instance', async () => {
    const inv = new Ec2Provider(target('web', { autoScalingGroup: 'web-asg' }), OPT_IN);
    const choice = chooseVictims({ hosts: await inv.list(), seed: 3, count: 1, maxKills: 1, fleet: 'web' });
    const victim = choice.victims[0]!;
    assert.equal(victim.chaosEligible, true);
    // Someone takes the instance out of chaos between the listing and the kill.
    await ec2.send(new DeleteTagsCommand({ Resources: [victim.instanceId], Tags: [{ Key: OPT_IN.split('=')[0]! }] }));
    const exp = await runExperiment({ inventory: inv, victims: [victim], kind: 'terminate', dryRun: false, recoveryDeadlineMs: 1000 });
    assert.deepEqual(exp.killed, []);
    const spared = exp.timeline.find((e) => e.kind === 'spared');
    assert.match(spared?.message ?? '', /spared i-[0-9a-f]+: it no longer carries the opt-in label\/tag \(fresh look-up right before the kill\)/);
    assert.equal(await stateOf(victim.instanceId), 'running', 'EC2 says it was never terminated');
  });

  test('a missing group is a clear ProviderError naming it', async () => {
    const inv = new Ec2Provider(target('ghost', { autoScalingGroup: 'no-such-asg' }), OPT_IN);
    await assert.rejects(inv.desiredCapacity(), /Auto Scaling group "no-such-asg" of target "ghost" does not exist/);
  });
});

describe('without an Auto Scaling group', () => {
  test('stop → StopInstances, terminate → TerminateInstances; nothing replaces them → CapacityTimeoutError', async () => {
    const inv = new Ec2Provider(target('static', { filters: [{ name: 'tag:fleet', values: ['static'] }], pageSize: 5 }), OPT_IN);
    assert.equal(await inv.desiredCapacity(), 12, 'the running count when first asked');
    const eligible = (await inv.list()).filter((h) => h.chaosEligible);
    const [toStop, toTerminate] = [eligible[0]!, eligible[1]!];

    await inv.kill(toStop, 'stop');
    await inv.kill(toTerminate, 'sigkill');
    assert.equal(await stateOf(toStop.instanceId), 'stopped');
    assert.equal(await stateOf(toTerminate.instanceId), 'terminated');

    const hosts = await inv.list();
    assert.equal(hosts.find((h) => h.instanceId === toStop.instanceId)?.state, 'stopped', 'stopped hosts are listed with their state');
    assert.ok(!hosts.some((h) => h.instanceId === toTerminate.instanceId), 'terminated hosts are left out');
    assert.ok((await inv.list({ includeGone: true })).some((h) => h.instanceId === toTerminate.instanceId && h.state === 'terminated'));

    assert.equal(await inv.desiredCapacity(), 12, 'desired is remembered, not re-counted');
    const t0 = Date.now();
    await assert.rejects(inv.waitForCapacity({ timeoutMs: 600, pollMs: 100 }), (e: unknown) => {
      assert.ok(e instanceof CapacityTimeoutError);
      assert.match((e as Error).message, /fleet "static" did not get back to its desired capacity of 12 .*\(10 running\)/);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000);
  });
});
