/**
 * An EC2 fleet: the instances matching the target's filters, optionally restricted to one Auto
 * Scaling group (whose DesiredCapacity is the fleet's). The API calls are probes/ec2.ts.
 *
 * Credentials: the env var NAMES in `ec2.credentials` are read once, at construction; a
 * `profile` is passed to the SDK; otherwise the SDK's default chain. Values never appear in a
 * message: errors name the variables, and upstream messages are scrubbed of the values.
 */
import type { Ec2Target } from '../../core/config.ts';
import { CapacityTimeoutError, errorMessage, UsageError } from '../../core/errors.ts';
import { type CapacityReport, type Host, type KillKind, matchesOptIn, type SnapshotHost, type WaitOptions } from '../../core/inventory.ts';
import type { RetryPolicy } from '../../probes/aws-retry.ts';
import { ASG_NAME_TAG, type AmiInfo, type Ec2Connection, Ec2Api, type Instance } from '../../probes/ec2.ts';
import type { ImageFacts, InstanceFacts, Provider } from '../provider.ts';

export { ASG_NAME_TAG, DEFAULT_PAGE_SIZE, describeAmi, type AmiInfo } from '../../probes/ec2.ts';

/** Instances in these states are gone: never part of the running set, left out of list(). */
const GONE_STATES = new Set(['shutting-down', 'terminated']);

export interface Ec2ProviderOptions {
  /** Injected clients (tests). Without them, clients are built from the target. */
  clients?: Ec2Connection['clients'];
  /** Outer throttling retries (see probes/aws-retry.ts); tests pass a tiny baseDelayMs. */
  retry?: Partial<RetryPolicy>;
  /** Where to read the credential env vars; default process.env. */
  env?: NodeJS.ProcessEnv;
}

type ResolvedCredentials = Pick<Ec2Connection, 'credentials' | 'profile' | 'secrets' | 'source'>;

function resolveCredentials(target: Ec2Target, env: NodeJS.ProcessEnv): ResolvedCredentials {
  const c = target.ec2.credentials ?? {};
  const names = [c.accessKeyIdEnv, c.secretAccessKeyEnv, c.sessionTokenEnv].filter((n): n is string => !!n);
  if (names.length > 0) {
    if (!c.accessKeyIdEnv || !c.secretAccessKeyEnv) {
      throw new UsageError(`target "${target.name}": ec2.credentials needs both accessKeyIdEnv and secretAccessKeyEnv (sessionTokenEnv is optional)`);
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

export class Ec2Provider implements Provider {
  readonly kind = 'ec2' as const;
  readonly fleet: string;
  readonly api: Ec2Api;
  private staticDesired?: number;

  constructor(
    readonly target: Ec2Target,
    /** "key=value" (safety.optInTag): instances carrying it are chaosEligible; absent: none are. */
    readonly optInTag?: string,
    opts: Ec2ProviderOptions = {},
  ) {
    this.fleet = target.name;
    const creds = resolveCredentials(target, opts.env ?? process.env);
    this.api = new Ec2Api({
      label: target.name,
      region: target.ec2.region,
      ...(target.ec2.endpoint ? { endpoint: target.ec2.endpoint } : {}),
      ...creds,
      ...(target.ec2.pageSize !== undefined ? { pageSize: target.ec2.pageSize } : {}),
      ...(opts.clients ? { clients: opts.clients } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
    });
  }

  private get group(): string | undefined {
    return this.target.ec2.autoScalingGroup;
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
      // The address is an IP or a tag: the instance's own id, read over the session, ties it.
      ...(id ? { identity: { kind: 'ec2-instance-id' as const, value: id } } : {}),
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
    const filters = (this.target.ec2.filters ?? []).map((x) => ({ Name: x.name, Values: [...x.values] }));
    if (this.group) filters.push({ Name: `tag:${ASG_NAME_TAG}`, Values: [this.group] });
    const hosts = (await this.api.describeInstances(filters)).map((i) => this.toHost(i));
    return hosts.filter((h) => opts.includeGone || !GONE_STATES.has(h.state)).sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * With an Auto Scaling group: its DesiredCapacity, read now. Without one: the number of running
   * instances matching the filters when first asked (remembered, so that a later waitForCapacity
   * still expects the fleet's original size: nothing replaces a killed instance without a group).
   */
  async desiredCapacity(): Promise<number> {
    if (this.group) return (await this.api.describeGroup(this.group)).DesiredCapacity ?? 0;
    if (this.target.desiredCapacity) return this.target.desiredCapacity;
    if (this.staticDesired === undefined) this.staticDesired = (await this.list()).filter((h) => h.state === 'running').length;
    return this.staticDesired;
  }

  /** A fresh DescribeInstances of this one instance: its state and tags now. */
  async lookup(host: Host): Promise<Host | undefined> {
    const found = (await this.api.describeInstances([{ Name: 'instance-id', Values: [host.instanceId] }])).map((i) => this.toHost(i));
    const now = found.find((h) => h.instanceId === host.instanceId);
    return now && !GONE_STATES.has(now.state) ? now : undefined;
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
    if (this.group) await this.api.terminateInGroup(host.instanceId);
    else if (kind === 'stop') await this.api.stop(host.instanceId);
    else await this.api.terminate(host.instanceId);
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
        const g = await this.api.describeGroup(this.group);
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

  describeAmi(imageId: string): Promise<AmiInfo> {
    return this.api.describeAmi(imageId);
  }

  async imageFacts(host: SnapshotHost): Promise<ImageFacts> {
    const instance = await this.instanceFacts(host.instanceId);
    const ami = host.image.ami;
    if (!ami) return { kind: 'ec2', ami: { error: `EC2 did not report an ImageId for ${host.id}` }, instance };
    try {
      const { creationDate, ...rest } = await this.describeAmi(ami);
      return { kind: 'ec2', ami: { info: { ...rest, ...(creationDate ? { creationDate: creationDate.toISOString() } : {}) } }, instance };
    } catch (err) {
      return { kind: 'ec2', ami: { error: errorMessage(err) }, instance };
    }
  }

  /** The root volume and metadata options, as EC2 describes the instance now. */
  private async instanceFacts(id: string): Promise<InstanceFacts> {
    try {
      const i = (await this.api.describeInstances([{ Name: 'instance-id', Values: [id] }])).find((x) => x.InstanceId === id);
      if (!i) return { error: `EC2 no longer lists ${id}` };
      const root = (i.BlockDeviceMappings ?? []).find((b) => b.DeviceName === i.RootDeviceName);
      return {
        ...(i.RootDeviceName ? { rootDevice: i.RootDeviceName } : {}),
        ...(root?.Ebs?.DeleteOnTermination !== undefined ? { rootDeleteOnTermination: root.Ebs.DeleteOnTermination } : {}),
        ...(i.MetadataOptions?.HttpTokens ? { httpTokens: i.MetadataOptions.HttpTokens } : {}),
        ...(i.MetadataOptions?.HttpEndpoint ? { httpEndpoint: i.MetadataOptions.HttpEndpoint } : {}),
      };
    } catch (err) {
      return { error: errorMessage(err) };
    }
  }
}
