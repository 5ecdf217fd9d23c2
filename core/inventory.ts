/**
 * What every layer knows of a fleet's hosts, whatever the provider (docker, ec2, ssh). The
 * Provider interface that produces them is providers/provider.ts. A Host is what runs now; `id` is the stable name shown in reports, `instanceId` is what the
 * provider calls this incarnation (a replacement gets a new instanceId under the same fleet).
 */
import type { Target } from './config.generated.ts';

/** The kinds of fleet: the `provider` values of the config schema's targets (generated from it). */
export type ProviderKind = Target['provider'];

/** How a victim is killed: SIGKILL (crash), graceful stop, or EC2 TerminateInstances. */
export type KillKind = 'sigkill' | 'stop' | 'terminate';

/** "key=value": the labels/tags have key with that value; "key": they carry key at all. */
export function matchesOptIn(labels: Record<string, string>, optIn: string | undefined): boolean {
  if (!optIn) return false;
  const i = optIn.indexOf('=');
  if (i < 0) return optIn in labels;
  return labels[optIn.slice(0, i)] === optIn.slice(i + 1);
}

/**
 * What ties a host to whatever answers at its SSH address, as its provider knows it (an address
 * from labels or tags names a place, not an instance): the container's overlay upper directory
 * (the engine's inspect), the EC2 instance id, or (static SSH hosts) the pinned host key the
 * session already checked; `none` says why the provider has no such proof. No identity: not proven.
 */
export type HostIdentity =
  { kind: 'overlay-upperdir'; value: string } | { kind: 'ec2-instance-id'; value: string } | { kind: 'pinned-host-key' } | { kind: 'none'; why: string };

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
  /** What a session at `ssh` must read to prove it reached this host (audits/endpoint-identity.ts). */
  identity?: HostIdentity;
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

/** One fleet's hosts as recorded at the start of a run (JSON-safe: dates as ISO strings). */
export interface FleetSnapshot {
  target: string;
  provider: ProviderKind;
  hosts: SnapshotHost[];
  /** Why the fleet could not be listed; its checks are reported as broken. */
  error?: string;
}

export type SnapshotHost = Omit<Host, 'launchedAt'> & { launchedAt?: string };
