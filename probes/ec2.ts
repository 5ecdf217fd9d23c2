/**
 * Inventory of an EC2 fleet: the instances matching the target's filters, optionally restricted
 * to one Auto Scaling group. Works against AWS or any EC2-compatible endpoint (moto in the tests).
 *
 * Selection: DescribeInstances, paged (MaxResults = ec2.pageSize, default 100, clamped to the
 * 5..1000 EC2 accepts), with the config `filters` as EC2 Filters and, when `autoScalingGroup` is
 * set, the filter `tag:aws:autoscaling:groupName=<group>` (EC2 Auto Scaling puts that tag on
 * every instance it launches or attaches, and removes it on detach; moto does the same). A filter
 * keeps paging possible, which an instance-id list from DescribeAutoScalingGroups would not
 * (EC2 forbids MaxResults together with InstanceIds). The group itself is read with
 * DescribeAutoScalingGroups for DesiredCapacity and each instance's LifecycleState.
 *
 * Credentials: the env var NAMES in `ec2.credentials` are read once, at construction; a
 * `profile` is passed to the SDK; otherwise the SDK's default chain. Values never appear in a
 * message: errors name the variables, and upstream messages are scrubbed of the values.
 */
import {
  DescribeImagesCommand,
  EC2Client,
  StopInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  type DescribeInstancesCommandInput,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import type { Ec2Target } from '../fixtures/config/types.ts';
import {
  ThrottlingExhaustedError,
  awsErrorCode,
  isCredentialError,
  withThrottleRetry,
  type RetryPolicy,
} from './aws-retry.ts';
import { CapacityTimeoutError, ProviderError, UsageError, errorMessage } from './errors.ts';
import { type CapacityReport, type Host, type Inventory, type KillKind, matchesOptIn, type WaitOptions } from './inventory.ts';

export const ASG_NAME_TAG = 'aws:autoscaling:groupName';
export const DEFAULT_PAGE_SIZE = 100;
/** SDK-level attempts per call (its adaptive strategy also retries 5xx and network errors). */
export const SDK_MAX_ATTEMPTS = 3;

/** Instances in these states are gone: never part of the running set, left out of list(). */
const GONE_STATES = new Set(['shutting-down', 'terminated']);

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

export interface Ec2InventoryOptions {
  /** Injected clients (tests). Without them, clients are built from the target. */
  clients?: { ec2?: EC2Client; autoScaling?: AutoScalingClient };
  /** Outer throttling retries (see probes/aws-retry.ts); tests pass a tiny baseDelayMs. */
  retry?: Partial<RetryPolicy>;
  /** Where to read the credential env vars; default process.env. */
  env?: NodeJS.ProcessEnv;
}

interface ResolvedCredentials {
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  profile?: string;
  /** Values to scrub from any message. */
  secrets: string[];
  /** How the user supplies them, for "refresh them" messages. */
  source: string;
}

function resolveCredentials(target: Ec2Target, env: NodeJS.ProcessEnv): ResolvedCredentials {
  const c = target.ec2.credentials ?? {};
  const names = [c.accessKeyIdEnv, c.secretAccessKeyEnv, c.sessionTokenEnv].filter((n): n is string => !!n);
  if (names.length > 0) {
    if (!c.accessKeyIdEnv || !c.secretAccessKeyEnv) {
      throw new UsageError(
        `target "${target.name}": ec2.credentials needs both accessKeyIdEnv and secretAccessKeyEnv (sessionTokenEnv is optional)`,
      );
    }
    const unset = names.filter((n) => !env[n]);
    if (unset.length > 0) {
      throw new UsageError(
        `target "${target.name}": environment variable${unset.length > 1 ? 's' : ''} ${unset.join(', ')} ` +
          `(named in ec2.credentials) ${unset.length > 1 ? 'are' : 'is'} not set: export ${unset.length > 1 ? 'them' : 'it'}, ` +
          `or remove ec2.credentials to use the AWS SDK's default credential chain`,
      );
    }
    const accessKeyId = env[c.accessKeyIdEnv]!;
    const secretAccessKey = env[c.secretAccessKeyEnv]!;
    const sessionToken = c.sessionTokenEnv ? env[c.sessionTokenEnv] : undefined;
    return {
      credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
      secrets: [accessKeyId, secretAccessKey, ...(sessionToken ? [sessionToken] : [])],
      source: `the environment variables ${names.join(', ')}`,
    };
  }
  if (c.profile) return { profile: c.profile, secrets: [], source: `the AWS profile "${c.profile}" (e.g. aws sso login --profile ${c.profile})` };
  return { secrets: [], source: "the AWS SDK's default credential chain (AWS_* env vars, ~/.aws, instance role)" };
}

function tagsOf(i: Instance): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

/** The EC2 client with every `send` wrapped in the throttling retry (the paginator goes through it too). */
function retrying<C extends { send: (...args: never[]) => Promise<unknown> }>(client: C, policy: Partial<RetryPolicy>): C {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'send') {
        return (...args: Parameters<C['send']>) => withThrottleRetry(() => target.send(...args), policy);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

export class Ec2Inventory implements Inventory {
  readonly provider = 'ec2' as const;
  readonly fleet: string;
  readonly ec2: EC2Client;
  readonly autoScaling: AutoScalingClient;
  /** The clients without the throttling wrapper (for describeAmi, which wraps its own call). */
  private readonly rawEc2: EC2Client;
  private readonly creds: ResolvedCredentials;
  private readonly retry: Partial<RetryPolicy>;
  private readonly pageSize: number;
  private staticDesired?: number;

  constructor(
    readonly target: Ec2Target,
    /** "key=value" (safety.optInTag): instances carrying it are chaosEligible; absent: none are. */
    readonly optInTag?: string,
    opts: Ec2InventoryOptions = {},
  ) {
    this.fleet = target.name;
    this.retry = opts.retry ?? {};
    this.creds = resolveCredentials(target, opts.env ?? process.env);
    const size = Math.floor(target.ec2.pageSize ?? DEFAULT_PAGE_SIZE);
    this.pageSize = Math.min(1000, Math.max(5, Number.isFinite(size) ? size : DEFAULT_PAGE_SIZE));
    const common = {
      region: target.ec2.region,
      maxAttempts: SDK_MAX_ATTEMPTS,
      retryMode: 'adaptive',
      ...(target.ec2.endpoint ? { endpoint: target.ec2.endpoint } : {}),
      ...(this.creds.credentials ? { credentials: this.creds.credentials } : {}),
      ...(this.creds.profile ? { profile: this.creds.profile } : {}),
    };
    this.rawEc2 = opts.clients?.ec2 ?? new EC2Client(common);
    this.ec2 = retrying(this.rawEc2, this.retry);
    this.autoScaling = retrying(opts.clients?.autoScaling ?? new AutoScalingClient(common), this.retry);
  }

  private get group(): string | undefined {
    return this.target.ec2.autoScalingGroup;
  }

  private redact(text: string): string {
    let out = text;
    for (const s of this.creds.secrets) if (s.length >= 4) out = out.split(s).join('***');
    return out;
  }

  /** Turns any failure of an AWS call into a ProviderError that names the target and the fix. */
  private fail(op: string, err: unknown): ProviderError {
    const t = `target "${this.fleet}" (region ${this.target.ec2.region}${this.target.ec2.endpoint ? `, endpoint ${this.target.ec2.endpoint}` : ''})`;
    if (err instanceof ThrottlingExhaustedError) {
      return new ProviderError(
        `AWS throttled ${op} for ${t} (${err.code ?? 'HTTP 429'}) on all ${err.attempts} attempts, with backoff: ` +
          `lower the poll/kill rate, run fewer targets at once, or ask AWS to raise the account's API limits`,
        { cause: err.lastError },
      );
    }
    const code = awsErrorCode(err);
    if (isCredentialError(err)) {
      // No cause and no upstream text: nothing from the request can ride along into a report.
      const requestId = (err as { $metadata?: { requestId?: string } }).$metadata?.requestId;
      return new ProviderError(
        `AWS credentials for target "${this.fleet}" were rejected (${code}) during ${op}: refresh them ` +
          `(they come from ${this.creds.source}) and run again` +
          (requestId ? ` [request id ${requestId}]` : ''),
      );
    }
    if (code === 'CredentialsProviderError' || (err as Error | undefined)?.name === 'CredentialsProviderError') {
      return new ProviderError(
        `no AWS credentials found for target "${this.fleet}" (tried ${this.creds.source}): ` +
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

  private filters(): Filter[] {
    const f: Filter[] = (this.target.ec2.filters ?? []).map((x) => ({ Name: x.name, Values: [...x.values] }));
    if (this.group) f.push({ Name: `tag:${ASG_NAME_TAG}`, Values: [this.group] });
    return f;
  }

  private toHost(i: Instance): Host {
    const labels = tagsOf(i);
    const addr = this.target.ec2.address;
    const sshHost = addr === 'private-ip' ? i.PrivateIpAddress : addr === 'public-ip' ? i.PublicIpAddress : labels[addr.tag];
    const id = i.InstanceId ?? '';
    return {
      id,
      instanceId: id,
      fleet: this.fleet,
      provider: 'ec2',
      ...(this.target.service !== undefined ? { service: this.target.service } : {}),
      ...(sshHost ? { ssh: { host: sshHost, port: this.target.ec2.sshPort ?? 22 } } : {}),
      image: { ...(i.ImageId ? { ami: i.ImageId } : {}) },
      ...(i.LaunchTime ? { launchedAt: new Date(i.LaunchTime) } : {}),
      labels,
      chaosEligible: matchesOptIn(labels, this.optInTag),
      state: i.State?.Name ?? 'unknown',
    };
  }

  /**
   * Hosts of this fleet, sorted by id: pending, running, stopping and stopped ones with their
   * state. Shutting-down and terminated instances are left out unless `includeGone`.
   */
  async list(opts: { includeGone?: boolean } = {}): Promise<Host[]> {
    const input: DescribeInstancesCommandInput = { Filters: this.filters(), MaxResults: this.pageSize };
    const hosts = await this.call('DescribeInstances', async () => {
      const out: Host[] = [];
      for await (const page of paginateDescribeInstances({ client: this.ec2, pageSize: this.pageSize }, input)) {
        for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) out.push(this.toHost(i));
      }
      return out;
    });
    return hosts.filter((h) => opts.includeGone || !GONE_STATES.has(h.state)).sort((a, b) => a.id.localeCompare(b.id));
  }

  private async describeGroup(): Promise<AutoScalingGroup> {
    const name = this.group!;
    const out = await this.call('DescribeAutoScalingGroups', () =>
      this.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] })),
    );
    const g = out.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === name);
    if (!g) {
      throw new ProviderError(
        `Auto Scaling group "${name}" of target "${this.fleet}" does not exist in region ${this.target.ec2.region}: ` +
          `check ec2.autoScalingGroup and ec2.region`,
      );
    }
    return g;
  }

  /**
   * With an Auto Scaling group: its DesiredCapacity, read now. Without one: the number of running
   * instances matching the filters when first asked (remembered, so that a later waitForCapacity
   * still expects the fleet's original size: nothing replaces a killed instance without a group).
   */
  async desiredCapacity(): Promise<number> {
    if (this.group) return (await this.describeGroup()).DesiredCapacity ?? 0;
    if (this.staticDesired === undefined) {
      this.staticDesired = (await this.list()).filter((h) => h.state === 'running').length;
    }
    return this.staticDesired;
  }

  /**
   * How a kill is done on EC2:
   *
   *   with an Auto Scaling group, every kind (sigkill, stop, terminate)
   *       → TerminateInstanceInAutoScalingGroup, ShouldDecrementDesiredCapacity=false: the group
   *         keeps its desired capacity and launches a replacement (an ASG treats a stopped
   *         instance as unhealthy and replaces it anyway, so terminate is the honest equivalent).
   *   without a group
   *       sigkill, terminate → TerminateInstances (an instance cannot be SIGKILLed from the API;
   *                            termination is the abrupt end)
   *       stop               → StopInstances (graceful ACPI shutdown; the instance stays, stopped)
   *
   * Fails closed: refuses hosts of another fleet/provider and hosts that are not chaosEligible
   * (they do not carry the opt-in tag).
   */
  async kill(host: Host, kind: KillKind): Promise<void> {
    if (host.provider !== 'ec2' || host.fleet !== this.fleet) {
      throw new UsageError(`host ${host.id} belongs to ${host.provider} fleet "${host.fleet}", not to EC2 fleet "${this.fleet}": not killing it`);
    }
    if (!host.chaosEligible) {
      throw new UsageError(
        `refusing to ${kind} ${host.instanceId} of fleet "${this.fleet}": it does not carry the opt-in tag ` +
          `${this.optInTag ? `"${this.optInTag}"` : '(no safety.optInTag is configured)'}`,
      );
    }
    const id = host.instanceId;
    if (this.group) {
      await this.call(`TerminateInstanceInAutoScalingGroup(${id})`, () =>
        this.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false })),
      );
    } else if (kind === 'stop') {
      await this.call(`StopInstances(${id})`, () => this.ec2.send(new StopInstancesCommand({ InstanceIds: [id] })));
    } else {
      await this.call(`TerminateInstances(${id})`, () => this.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })));
    }
  }

  /**
   * Polls until at least `desired` instances are running (and, with a group, InService in it).
   * `desired` is re-read on every poll. Throws CapacityTimeoutError at the deadline.
   */
  async waitForCapacity(opts: WaitOptions): Promise<CapacityReport> {
    const pollMs = opts.pollMs ?? 2000;
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      let desired: number;
      let inService: Set<string> | undefined;
      if (this.group) {
        const g = await this.describeGroup();
        desired = g.DesiredCapacity ?? 0;
        inService = new Set((g.Instances ?? []).filter((i) => i.LifecycleState === 'InService').map((i) => i.InstanceId ?? ''));
      } else {
        desired = await this.desiredCapacity();
      }
      const up = (await this.list()).filter((h) => h.state === 'running' && (!inService || inService.has(h.instanceId)));
      if (up.length >= desired) return { desired, running: up.length, hosts: up, reachedAt: new Date() };
      const left = deadline - Date.now();
      if (left <= 0) throw new CapacityTimeoutError(this.fleet, desired, up.length, opts.timeoutMs);
      await new Promise((r) => setTimeout(r, Math.min(pollMs, left)));
    }
  }

  /** Does this AMI exist, and in what state (the image-integrity suite wants "available"). */
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
