/**
 * The EC2 and Auto Scaling APIs, as the EC2 provider needs them. Works against AWS or any
 * EC2-compatible endpoint (moto in the tests). Every call goes through the throttling retry
 * (aws-retry.ts) around the SDK's own adaptive retry, and every failure becomes a ProviderError
 * that names the target and the fix, with any credential value scrubbed from it.
 *
 * Paging: DescribeInstances with MaxResults = pageSize (5..1000, what EC2 accepts). An Auto
 * Scaling group is selected by the tag EC2 Auto Scaling puts on its instances
 * (aws:autoscaling:groupName), which keeps paging possible: EC2 forbids MaxResults with InstanceIds.
 */
import {
  DescribeImagesCommand,
  EC2Client,
  StopInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import { ProviderError, ThrottlingExhaustedError, errorMessage } from '../core/errors.ts';
import { awsErrorCode, isCredentialError, withThrottleRetry, type RetryPolicy } from './aws-retry.ts';

export type { Instance } from '@aws-sdk/client-ec2';

export const ASG_NAME_TAG = 'aws:autoscaling:groupName';
export const DEFAULT_PAGE_SIZE = 100;
/** SDK-level attempts per call (its adaptive strategy also retries 5xx and network errors). */
export const SDK_MAX_ATTEMPTS = 3;

export interface AmiInfo {
  imageId: string;
  exists: boolean;
  /** available, pending, failed, deregistered, ... as EC2 says it. */
  state?: string;
  name?: string;
  creationDate?: Date;
  /** Why it does not exist (the EC2 error code), when EC2 gave one. */
  reason?: string;
}

export interface Ec2Connection {
  /** The fleet's name, for messages. */
  label: string;
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  profile?: string;
  /** Values to scrub from any message. */
  secrets: string[];
  /** How the user supplies credentials, for "refresh them" messages. */
  source: string;
  pageSize?: number;
  /** Injected clients (tests). */
  clients?: { ec2?: EC2Client; autoScaling?: AutoScalingClient };
  retry?: Partial<RetryPolicy>;
}

/** The client with every `send` wrapped in the throttling retry (the paginator goes through it too). */
function retrying<C extends { send: (...args: never[]) => Promise<unknown> }>(client: C, policy: Partial<RetryPolicy>): C {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'send') return (...args: Parameters<C['send']>) => withThrottleRetry(() => target.send(...args), policy);
      return Reflect.get(target, prop, receiver);
    },
  });
}

export class Ec2Api {
  readonly ec2: EC2Client;
  readonly autoScaling: AutoScalingClient;
  /** Without the throttling wrapper (describeAmi wraps its own call). */
  private readonly rawEc2: EC2Client;
  private readonly retry: Partial<RetryPolicy>;
  readonly pageSize: number;

  constructor(private readonly conn: Ec2Connection) {
    this.retry = conn.retry ?? {};
    const size = Math.floor(conn.pageSize ?? DEFAULT_PAGE_SIZE);
    this.pageSize = Math.min(1000, Math.max(5, Number.isFinite(size) ? size : DEFAULT_PAGE_SIZE));
    const common = {
      region: conn.region,
      maxAttempts: SDK_MAX_ATTEMPTS,
      retryMode: 'adaptive',
      ...(conn.endpoint ? { endpoint: conn.endpoint } : {}),
      ...(conn.credentials ? { credentials: conn.credentials } : {}),
      ...(conn.profile ? { profile: conn.profile } : {}),
    };
    this.rawEc2 = conn.clients?.ec2 ?? new EC2Client(common);
    this.ec2 = retrying(this.rawEc2, this.retry);
    this.autoScaling = retrying(conn.clients?.autoScaling ?? new AutoScalingClient(common), this.retry);
  }

  private redact(text: string): string {
    let out = text;
    for (const s of this.conn.secrets) if (s.length >= 4) out = out.split(s).join('***');
    return out;
  }

  /** Turns any failure of an AWS call into a ProviderError that names the target and the fix. */
  fail(op: string, err: unknown): ProviderError {
    const c = this.conn;
    const t = `target "${c.label}" (region ${c.region}${c.endpoint ? `, endpoint ${c.endpoint}` : ''})`;
    if (err instanceof ThrottlingExhaustedError) {
      return new ProviderError(
        `AWS throttled ${op} for ${t} (${err.awsCode ?? 'HTTP 429'}) on all ${err.attempts} attempts, with backoff: ` +
          `lower the poll/kill rate, run fewer targets at once, or ask AWS to raise the account's API limits`,
        { cause: err.lastError },
      );
    }
    const code = awsErrorCode(err);
    if (isCredentialError(err)) {
      // No cause and no upstream text: nothing from the request can ride along into a report.
      const requestId = (err as { $metadata?: { requestId?: string } }).$metadata?.requestId;
      return new ProviderError(
        `AWS credentials for target "${c.label}" were rejected (${code}) during ${op}: refresh them ` +
          `(they come from ${c.source}) and run again` +
          (requestId ? ` [request id ${requestId}]` : ''),
      );
    }
    if (code === 'CredentialsProviderError' || (err as Error | undefined)?.name === 'CredentialsProviderError') {
      return new ProviderError(
        `no AWS credentials found for target "${c.label}" (tried ${c.source}): ` +
          `set ec2.credentials.accessKeyIdEnv/secretAccessKeyEnv to the names of env vars holding them, or ec2.credentials.profile`,
      );
    }
    return new ProviderError(`${op} for ${t} failed${code ? ` (${code})` : ''}: ${this.redact(errorMessage(err))}`, { cause: err });
  }

  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.fail(op, err);
    }
  }

  /** Every instance matching the filters, over all pages. */
  describeInstances(filters: Filter[]): Promise<Instance[]> {
    return this.call('DescribeInstances', async () => {
      const out: Instance[] = [];
      const pages = paginateDescribeInstances({ client: this.ec2, pageSize: this.pageSize }, { Filters: filters, MaxResults: this.pageSize });
      for await (const page of pages) for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
      return out;
    });
  }

  async describeGroup(name: string): Promise<AutoScalingGroup> {
    const out = await this.call('DescribeAutoScalingGroups', () =>
      this.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] })),
    );
    const g = out.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === name);
    if (!g) {
      throw new ProviderError(
        `Auto Scaling group "${name}" of target "${this.conn.label}" does not exist in region ${this.conn.region}: check ec2.autoScalingGroup and ec2.region`,
      );
    }
    return g;
  }

  /** The group keeps its desired capacity (ShouldDecrementDesiredCapacity=false) and launches a replacement. */
  async terminateInGroup(id: string): Promise<void> {
    await this.call(`TerminateInstanceInAutoScalingGroup(${id})`, () =>
      this.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false })),
    );
  }

  async stop(id: string): Promise<void> {
    await this.call(`StopInstances(${id})`, () => this.ec2.send(new StopInstancesCommand({ InstanceIds: [id] })));
  }

  async terminate(id: string): Promise<void> {
    await this.call(`TerminateInstances(${id})`, () => this.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })));
  }

  /** Does this AMI exist, and in what state (the image audit wants "available"). */
  async describeAmi(imageId: string): Promise<AmiInfo> {
    try {
      return await describeAmi(this.rawEc2, imageId, this.retry);
    } catch (err) {
      throw this.fail(`DescribeImages(${imageId})`, err);
    }
  }
}

/**
 * DescribeImages for one AMI. A missing or malformed id is an answer (exists: false, reason = the
 * EC2 code), not an error; anything else (credentials, throttling after retries) throws.
 */
export async function describeAmi(ec2: EC2Client, imageId: string, retry: Partial<RetryPolicy> = {}): Promise<AmiInfo> {
  let images;
  try {
    images = (await withThrottleRetry(() => ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })), retry)).Images ?? [];
  } catch (err) {
    const code = awsErrorCode(err);
    if (code === 'InvalidAMIID.NotFound' || code === 'InvalidAMIID.Malformed' || code === 'InvalidAMIID.Unavailable') {
      return { imageId, exists: false, reason: code };
    }
    throw err;
  }
  const img = images.find((i) => i.ImageId === imageId);
  if (!img) return { imageId, exists: false };
  return {
    imageId,
    exists: true,
    ...(img.State ? { state: img.State } : {}),
    ...(img.Name ? { name: img.Name } : {}),
    ...(img.CreationDate ? { creationDate: new Date(img.CreationDate) } : {}),
  };
}
