/**
 * What moto cannot do: throttle, or reject credentials. aws-sdk-client-mock stands in for AWS
 * here, and only for that. Everything else about Ec2Provider is tested against moto in
 * test/integration/ec2.test.ts.
 *
 * Note: aws-sdk-client-mock replaces `client.send`, so the SDK's own retry middleware never runs
 * under it (the first test proves it). What is tested here is the explicit throttling wrapper
 * (probes/aws-retry.ts) that Ec2Provider puts around every call.
 */
process.env.AWS_EC2_METADATA_DISABLED = 'true';

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeImagesCommand, DescribeInstancesCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { AutoScalingClient, AutoScalingServiceException, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import type { Ec2Target } from '../../core/config.ts';
import { backoffDelay, withThrottleRetry } from '../../probes/aws-retry.ts';
import { Ec2Provider } from '../../providers/ec2/provider.ts';
import { ProviderError, UsageError } from '../../core/errors.ts';

const AK = 'AKIAUNITTESTSECRET01';
const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYUNITTEST';
const TOKEN = 'FwoGZXIvYXdzEUNITTESTSESSIONTOKENVALUE';
const ENV = { DL_UNIT_AK: AK, DL_UNIT_SK: SK, DL_UNIT_ST: TOKEN };

const TARGET: Ec2Target = {
  name: 'prod-web',
  provider: 'ec2',
  mayBeEmpty: false,
  ec2: {
    region: 'eu-west-1',
    endpoint: 'http://127.0.0.1:9', // never reached: send is mocked
    credentials: { accessKeyIdEnv: 'DL_UNIT_AK', secretAccessKeyEnv: 'DL_UNIT_SK', sessionTokenEnv: 'DL_UNIT_ST' },
    address: 'private-ip',
    pageSize: 5,
  },
};
const ASG_TARGET: Ec2Target = { ...TARGET, ec2: { ...TARGET.ec2, autoScalingGroup: 'web-asg' } };

function ec2Err(name: string, status: number, message = `${name} happened`): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status, requestId: 'req-123' }, message });
}

const PAGE = {
  Reservations: [
    {
      Instances: [
        {
          InstanceId: 'i-0aaa',
          ImageId: 'ami-1',
          State: { Name: 'running' as const },
          PrivateIpAddress: '127.0.0.1',
          Tags: [{ Key: 'chaos', Value: 'opt-in' }],
        },
      ],
    },
  ],
};

/** Fast, recorded backoff: no real sleeping. */
function fastRetry(attempts = 4) {
  const sleeps: number[] = [];
  return { sleeps, policy: { attempts, baseDelayMs: 10, maxDelayMs: 50, sleep: async (ms: number) => void sleeps.push(ms) } };
}

function assertNoSecrets(text: string): void {
  for (const s of [AK, SK, TOKEN]) assert.ok(!text.includes(s), `message leaks a credential value: ${text}`);
}

const ec2Mock = mockClient(EC2Client);
const asgMock = mockClient(AutoScalingClient);
afterEach(() => {
  ec2Mock.reset();
  asgMock.reset();
});

describe('throttling', () => {
  test('aws-sdk-client-mock bypasses SDK retry middleware (why the explicit wrapper exists)', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejectsOnce(ec2Err('RequestLimitExceeded', 503)).resolves(PAGE);
    const raw = new EC2Client({ region: 'eu-west-1', maxAttempts: 6, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    await assert.rejects(raw.send(new DescribeInstancesCommand({})), { name: 'RequestLimitExceeded' });
    assert.equal(ec2Mock.commandCalls(DescribeInstancesCommand).length, 1);
  });

  test('a call throttled twice, then answered, gives the answer (3 calls, 2 jittered backoffs)', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejectsOnce(ec2Err('RequestLimitExceeded', 503)).rejectsOnce(ec2Err('ThrottlingException', 400)).resolves(PAGE);
    const { sleeps, policy } = fastRetry();
    const inv = new Ec2Provider(TARGET, 'chaos=opt-in', { env: ENV, retry: policy });
    const hosts = await inv.list();
    assert.equal(hosts.length, 1);
    assert.equal(hosts[0]!.instanceId, 'i-0aaa');
    assert.equal(hosts[0]!.chaosEligible, true);
    assert.equal(ec2Mock.commandCalls(DescribeInstancesCommand).length, 3);
    assert.equal(sleeps.length, 2);
    assert.ok(sleeps[0]! <= 10 && sleeps[1]! <= 20, `full jitter within base·2^n: ${sleeps.join(',')}`);
    // Paging survived the retries: MaxResults was sent on every attempt.
    assert.ok(ec2Mock.commandCalls(DescribeInstancesCommand).every((c) => c.args[0].input.MaxResults === 5));
  });

  test('HTTP 429 and "Throttling" on the Auto Scaling API are retried too', async () => {
    const throttled = new AutoScalingServiceException({ name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' });
    const tooMany = new AutoScalingServiceException({ name: 'SomethingElse', $fault: 'client', $metadata: { httpStatusCode: 429 }, message: 'slow down' });
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .rejectsOnce(throttled)
      .rejectsOnce(tooMany)
      .resolves({ AutoScalingGroups: [{ AutoScalingGroupName: 'web-asg', DesiredCapacity: 4 } as never] });
    const inv = new Ec2Provider(ASG_TARGET, undefined, { env: ENV, retry: fastRetry().policy });
    assert.equal(await inv.desiredCapacity(), 4);
    assert.equal(asgMock.commandCalls(DescribeAutoScalingGroupsCommand).length, 3);
  });

  test('retries exhausted → ProviderError naming the target, the throttling and the attempts', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Err('RequestLimitExceeded', 503));
    const inv = new Ec2Provider(TARGET, undefined, { env: ENV, retry: fastRetry(4).policy });
    await assert.rejects(inv.list(), (e: unknown) => {
      assert.ok(e instanceof ProviderError, String(e));
      assert.match(e.message, /throttled DescribeInstances for target "prod-web"/);
      assert.match(e.message, /RequestLimitExceeded\) on all 4 attempts/);
      assertNoSecrets(e.message);
      return true;
    });
    assert.equal(ec2Mock.commandCalls(DescribeInstancesCommand).length, 4);
  });

  test('other errors are not retried', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Err('InvalidParameterValue', 400, 'bad filter'));
    const inv = new Ec2Provider(TARGET, undefined, { env: ENV, retry: fastRetry().policy });
    await assert.rejects(inv.list(), /DescribeInstances for target "prod-web" .*failed \(InvalidParameterValue\): bad filter/);
    assert.equal(ec2Mock.commandCalls(DescribeInstancesCommand).length, 1);
  });

  test('describeAmi retries throttling once, not twice over (no nested wrappers)', async () => {
    ec2Mock.on(DescribeImagesCommand).rejects(ec2Err('RequestLimitExceeded', 503));
    const inv = new Ec2Provider(TARGET, undefined, { env: ENV, retry: fastRetry(3).policy });
    await assert.rejects(inv.describeAmi('ami-1'), /throttled DescribeImages\(ami-1\)/);
    assert.equal(ec2Mock.commandCalls(DescribeImagesCommand).length, 3);
  });

  test('backoff: full jitter under an exponential, capped ceiling', () => {
    const p = { baseDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(backoffDelay(1, { ...p, random: () => 0.999 }), 99);
    assert.equal(backoffDelay(3, { ...p, random: () => 0.5 }), 200);
    assert.equal(backoffDelay(10, { ...p, random: () => 0.999 }), 999);
    assert.equal(backoffDelay(4, { ...p, random: () => 0 }), 0);
  });

  test('withThrottleRetry passes non-throttling errors through untouched', async () => {
    const boom = new Error('boom');
    await assert.rejects(
      withThrottleRetry(() => Promise.reject(boom), { attempts: 5 }),
      (e) => e === boom,
    );
  });
});

describe('credentials', () => {
  for (const code of ['ExpiredToken', 'ExpiredTokenException', 'AuthFailure', 'UnrecognizedClientException', 'InvalidClientTokenId']) {
    test(`${code} → a ProviderError that names the target and the fix, and no secret`, async () => {
      // An upstream message that (worst case) echoes the key id must not make it into ours.
      ec2Mock.on(DescribeInstancesCommand).rejects(ec2Err(code, 401, `The security token ${TOKEN} for ${AK} is expired`));
      const inv = new Ec2Provider(TARGET, undefined, { env: ENV, retry: fastRetry().policy });
      await assert.rejects(inv.list(), (e: unknown) => {
        assert.ok(e instanceof ProviderError, String(e));
        assert.match(e.message, new RegExp(`AWS credentials for target "prod-web" were rejected \\(${code}\\)`));
        assert.match(e.message, /refresh them/);
        assert.match(e.message, /DL_UNIT_AK, DL_UNIT_SK, DL_UNIT_ST/, 'names the env vars to refresh');
        assertNoSecrets(e.message);
        assertNoSecrets(String(e.stack));
        assert.equal(e.cause, undefined, 'nothing from the request rides along');
        assert.equal(e.exitCode, 3);
        return true;
      });
      assert.equal(ec2Mock.commandCalls(DescribeInstancesCommand).length, 1, 'credential errors are not retried');
    });
  }

  test('expired credentials on the Auto Scaling API, with a profile: the fix names the profile', async () => {
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .rejects(new AutoScalingServiceException({ name: 'ExpiredToken', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'expired' }));
    const t: Ec2Target = { ...ASG_TARGET, ec2: { ...ASG_TARGET.ec2, credentials: { profile: 'prod-audit' } } };
    const inv = new Ec2Provider(t, undefined, { env: {}, retry: fastRetry().policy });
    await assert.rejects(
      inv.desiredCapacity(),
      /rejected \(ExpiredToken\) during DescribeAutoScalingGroups: refresh them .*aws sso login --profile prod-audit/,
    );
  });

  test('other error messages are scrubbed of credential values', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Err('InternalError', 500, `weird echo of ${SK} and ${TOKEN}`));
    const inv = new Ec2Provider(TARGET, undefined, { env: ENV, retry: fastRetry().policy });
    await assert.rejects(inv.list(), (e: unknown) => {
      assertNoSecrets((e as Error).message);
      assert.match((e as Error).message, /weird echo of \*\*\* and \*\*\*/);
      return true;
    });
  });

  test('an env var named in the config but unset → UsageError naming the variable', () => {
    assert.throws(
      () => new Ec2Provider(TARGET, undefined, { env: { DL_UNIT_AK: AK } }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, /target "prod-web": environment variables DL_UNIT_SK, DL_UNIT_ST \(named in ec2.credentials\) are not set/);
        assertNoSecrets(e.message);
        return true;
      },
    );
  });

  test('only one of the key pair named → UsageError', () => {
    const t: Ec2Target = { ...TARGET, ec2: { ...TARGET.ec2, credentials: { accessKeyIdEnv: 'DL_UNIT_AK' } } };
    assert.throws(() => new Ec2Provider(t, undefined, { env: ENV }), /needs both accessKeyIdEnv and secretAccessKeyEnv/);
  });
});
