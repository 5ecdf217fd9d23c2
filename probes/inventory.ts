/**
 * The one inventory interface every suite uses, whatever the provider (docker, ec2, ssh).
 * A Host is what runs now; `id` is the stable name shown in reports, `instanceId` is what the
 * provider calls this incarnation (a replacement gets a new instanceId under the same fleet).
 */
export type ProviderKind = 'ssh' | 'docker' | 'ec2';

/** How a victim is killed: SIGKILL (crash), graceful stop, or EC2 TerminateInstances. */
export type KillKind = 'sigkill' | 'stop' | 'terminate';

/** "key=value": the labels/tags have key with that value; "key": they carry key at all. */
export function matchesOptIn(labels: Record<string, string>, optIn: string | undefined): boolean {
  if (!optIn) return false;
  const i = optIn.indexOf('=');
  if (i < 0) return optIn in labels;
  return labels[optIn.slice(0, i)] === optIn.slice(i + 1);
}

export interface Host {
  /** Stable id for reports: container name, EC2 instance id, or the static host's id. */
  id: string;
  /** The provider's id of this incarnation: container id, EC2 instance id. */
  instanceId: string;
  /** The config target (fleet) this host belongs to. */
  fleet: string;
  provider: ProviderKind;
  service?: string;
  /** Where to reach sshd; absent when the provider cannot say. */
  ssh?: { host: string; port: number };
  /** What is actually running: Docker image id / repo digest, or the AMI id. */
  image: { id?: string; repoDigests?: string[]; ref?: string; ami?: string };
  launchedAt?: Date;
  labels: Record<string, string>;
  chaosEligible: boolean;
  /** running, exited, pending, terminated, ... as the provider says it. */
  state: string;
}

export interface CapacityReport {
  desired: number;
  running: number;
  hosts: Host[];
  /** When the fleet was first seen back at desired capacity. */
  reachedAt: Date;
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
}

export interface Inventory {
  readonly fleet: string;
  readonly provider: ProviderKind;
  /** Hosts of this fleet as they are now (running ones; stopped ones with their state). */
  list(): Promise<Host[]>;
  /** How many hosts the fleet should have (ASG desired capacity, lab label, static count). */
  desiredCapacity(): Promise<number>;
  /** Kills one host. Providers that cannot (static SSH) throw UnsupportedOperationError. */
  kill(host: Host, kind: KillKind): Promise<void>;
  /** Resolves when `desired` hosts are running; throws CapacityTimeoutError at the deadline. */
  waitForCapacity(opts: WaitOptions): Promise<CapacityReport>;
}
