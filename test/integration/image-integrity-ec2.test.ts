/**
 * The image integrity suite on EC2, end to end through `driftless run`, against moto: the AMI
 * a release declares, an AMI that is gone, and an instance launched before the release.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeregisterImageCommand, EC2Client, RegisterImageCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { sleep } from '../../probes/net.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';
import { startMoto, type MotoServer } from '../helpers/moto.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-image-integrity-ec2-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const msg = (r: Rec) => r.message ?? '';

describe('EC2 (against moto)', () => {
  const REGION = 'us-east-1';
  const ec2Env = { DL_IMG_AK: 'AKIDTESTINGDRIFTLESS', DL_IMG_SK: 'testing-secret-not-real', AWS_EC2_METADATA_DISABLED: 'true' };
  const ec2Results = path.join(tmp, 'ec2-results');
  let moto: MotoServer;
  let golden: string;
  let gone: string;
  let deployedAt: string;
  let ec2Run: CliResult;
  let rs: Rec[];
  const ids: Record<'good' | 'old' | 'gone', string> = { good: '', old: '', gone: '' };
  const one = (fleet: string, control: string) => {
    const r = rs.filter((x) => x.fleet === fleet && x.control === control);
    assert.equal(r.length, 1, `exactly one ${control} result for fleet ${fleet} (got ${r.length})`);
    return r[0]!;
  };

  before(async () => {
    moto = await startMoto();
    const client = new EC2Client({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const register = async (Name: string) =>
      (await client.send(new RegisterImageCommand({ Name, Architecture: 'x86_64', RootDeviceName: '/dev/xvda', VirtualizationType: 'hvm' }))).ImageId!;
    // moto names every root device /dev/sda1; the mapping must name it to set DeleteOnTermination.
    const launch = async (ImageId: string, fleet: string, opts: { tokens?: 'required' | 'optional'; deleteRoot?: boolean } = {}) =>
      (
        await client.send(
          new RunInstancesCommand({
            ImageId,
            MinCount: 1,
            MaxCount: 1,
            InstanceType: 't3.micro',
            ...(opts.tokens ? { MetadataOptions: { HttpTokens: opts.tokens } } : {}),
            ...(opts.deleteRoot !== undefined
              ? { BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { DeleteOnTermination: opts.deleteRoot, VolumeSize: 8 } }] }
              : {}),
            TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'fleet', Value: fleet }] }],
          }),
        )
      ).Instances![0]!.InstanceId!;
    golden = await register('driftless-golden-img-test');
    gone = await register('driftless-withdrawn-img-test');
    ids.old = await launch(golden, 'old', { tokens: 'optional', deleteRoot: false }); // launched before the deploy: never replaced
    await sleep(2100);
    deployedAt = new Date().toISOString();
    await sleep(2100);
    ids.good = await launch(golden, 'good', { tokens: 'required', deleteRoot: true });
    ids.gone = await launch(gone, 'gone');
    await client.send(new DeregisterImageCommand({ ImageId: gone }));
    const target = (fleet: string) => ({
      name: fleet,
      provider: 'ec2',
      service: 'web',
      ec2: {
        region: REGION,
        endpoint: moto.endpoint,
        credentials: { accessKeyIdEnv: 'DL_IMG_AK', secretAccessKeyEnv: 'DL_IMG_SK' },
        address: 'private-ip',
        filters: [{ name: 'tag:fleet', values: [fleet] }],
      },
    });
    const config = {
      version: 1,
      targets: [target('good'), target('old'), target('gone')],
      release: { services: { web: { ami: golden, deployedAt } } },
      policy: { ssh: { mode: 'read-only', immutablePaths: ['/etc'], writablePaths: ['/tmp', '/run'], concurrency: 4 } },
    };
    const file = path.join(tmp, 'driftless.ec2.config.json');
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    ec2Run = await driftless(['run', '--suite', 'image-integrity', '--config', file, '--results-dir', ec2Results], {
      env: {
        ...ec2Env,
        DRIFTLESS_RESULTS_DIR: ec2Results,
        DRIFTLESS_RUN_ID: undefined,
        DRIFTLESS_RUN_DIR: undefined,
        DRIFTLESS_SEED: undefined,
        DRIFTLESS_STARTED_AT: undefined,
        DRIFTLESS_CONFIG: undefined,
      },
      timeoutMs: 300_000,
    });
    rs = readRecords(ec2Results);
  });

  after(async () => {
    await moto?.stop();
  });

  test('EC2 hosts get DL-IMG-001, 007, 008, 015 and 016 (no manifest declared), and the run finds violations', () => {
    assert.equal(ec2Run.code, 1, `${ec2Run.stdout.slice(-2000)}\n${ec2Run.stderr.slice(-2000)}`);
    assert.deepEqual([...new Set(rs.map((r) => r.control))].sort(), ['DL-IMG-001', 'DL-IMG-007', 'DL-IMG-008', 'DL-IMG-015', 'DL-IMG-016']);
    assert.equal(rs.length, 15);
  });

  test('an instance of the declared AMI, launched after the deploy, root volume deleted on termination, IMDSv2: passes', () => {
    for (const c of ['DL-IMG-001', 'DL-IMG-007', 'DL-IMG-008', 'DL-IMG-015', 'DL-IMG-016']) assert.equal(one('good', c).outcome, 'passed', msg(one('good', c)));
  });

  test('a root volume kept on termination and metadata without tokens are caught', () => {
    assert.equal(one('old', 'DL-IMG-015').outcome, 'failed');
    assert.equal(one('old', 'DL-IMG-015')?.category, 'State lost');
    assert.match(msg(one('old', 'DL-IMG-015')), /.*root volume \/dev\/sda1 is kept when the instance terminates/);
    assert.equal(one('old', 'DL-IMG-016').outcome, 'failed');
    assert.match(msg(one('old', 'DL-IMG-016')), /accepts instance metadata requests without a token \(HttpTokens optional\): require IMDSv2/);
    assert.equal(one('gone', 'DL-IMG-015').outcome, 'passed');
  });

  test('an instance launched before the release was deployed is "not replaced on deploy"', () => {
    const r = one('old', 'DL-IMG-008');
    assert.equal(r.outcome, 'failed');
    assert.match(msg(r), new RegExp(`${ids.old} was launched at .*, before the release was deployed at ${deployedAt}: not replaced on deploy`));
    assert.equal(one('old', 'DL-IMG-001').outcome, 'passed');
  });

  test('an instance of another, deregistered AMI fails DL-IMG-001 and DL-IMG-007', () => {
    const wrong = one('gone', 'DL-IMG-001');
    assert.equal(wrong.outcome, 'failed');
    assert.ok(msg(wrong).includes(`runs AMI ${gone}, the release declares ${golden}`), msg(wrong));
    const avail = one('gone', 'DL-IMG-007');
    assert.equal(avail.outcome, 'failed', msg(avail));
    assert.ok(msg(avail).includes(`runs AMI ${gone}, which`), msg(avail));
  });
});
