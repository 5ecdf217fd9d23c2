/**
 * One interface for every kind of fleet (docker, ec2, ssh): list its hosts, say what each runs,
 * kill one, and know the fleet's desired capacity. The audits and the chaos experiment see only
 * this; the kinds live in providers/<kind>/ and are found through providers/registry.ts.
 */
import type { CapacityReport, Host, KillKind, ProviderKind, SnapshotHost, WaitOptions } from '../core/inventory.ts';
import type { EngineEvent } from '../probes/docker.ts';
import type { Manifest } from '../probes/manifest.ts';

export interface Provider {
  readonly fleet: string;
  readonly kind: ProviderKind;
  /** Hosts of this fleet as they are now (running ones; stopped ones with their state), sorted by id. */
  list(): Promise<Host[]>;
  /**
   * How many hosts the fleet should have, from the provider's truth: the config's
   * desiredCapacity, an ASG's desired capacity, a label set at creation, or the size at the
   * first listing of the run; never however many survive a kill.
   */
  desiredCapacity(): Promise<number>;
  /** The host as it is now (a fresh look-up, e.g. its opt-in right before a kill); undefined when gone. */
  lookup(host: Host): Promise<Host | undefined>;
  /** Kills one host. Kinds that cannot (static SSH) throw UnsupportedOperationError. */
  kill(host: Host, kind: KillKind): Promise<void>;
  /** Resolves when `desired` hosts are running; throws CapacityTimeoutError at the deadline. */
  waitForCapacity(opts: WaitOptions): Promise<CapacityReport>;
  /** What the provider itself can say about what a host runs (engine or cloud API facts). */
  imageFacts(host: SnapshotHost): Promise<ImageFacts>;
  /**
   * How the host was launched (read-only root, privileges, capabilities, mounts, security options,
   * user), where the provider can say (Docker: the engine's inspect): a replacement's is compared
   * with its predecessor's.
   */
  launchConfig?(host: Host | SnapshotHost): Promise<LaunchConfig>;
  /** Reads the golden manifest and single files of a declared image, where the provider can (Docker). */
  readonly images?: ImageSource;
  /**
   * What happened to these instances between two times that changes a running instance in place:
   * entered (exec), copied into, restarted, started. Only kinds with such a record (the Docker
   * engine's events) have it; the registry's `engineEvents` says which.
   */
  inPlaceChanges?(instanceIds: string[], since: Date, until: Date): Promise<InPlaceChange[]>;
}

export interface InPlaceChange {
  instanceId: string;
  time: string;
  /** exec_create, extract-to-dir (copied into), restart, start, update; die (for the capacity between samples). */
  action: string;
  command?: string;
}

export interface ImageSource {
  manifest(image: string, paths: readonly string[], excludes: readonly string[]): Promise<Manifest>;
  /** A reader of the image's files; `close` removes anything it created. */
  files(image: string): { read: (file: string) => Promise<Buffer | undefined>; close: () => Promise<void> };
}

export interface ContainerFacts {
  error?: string;
  created?: string;
  startedAt?: string;
  restartCount?: number;
  readonlyRootfs?: boolean;
  state?: string;
  mounts?: string[];
  /** Every mount with what it is and whether it is writable (CIS 5.6). */
  mountDetails?: Array<{ destination: string; source: string; type: string; rw: boolean }>;
  privileged?: boolean;
  capAdd?: string[];
  securityOpt?: string[];
  /** Config.User: empty means root. */
  user?: string;
}

/** The settings a host was launched with that make it what it is (a subset of ContainerFacts). */
export type LaunchConfig = Pick<ContainerFacts, 'readonlyRootfs' | 'privileged' | 'capAdd' | 'securityOpt' | 'mountDetails' | 'user'>;

export interface EventFacts {
  error?: string;
  since: string;
  until: string;
  /**
   * The engine still holds this container's `create` event, so the history since creation is
   * complete. False: the engine keeps only its last few hundred events in memory and has
   * dropped the start of this container's history.
   */
  complete: boolean;
  starts: EngineEvent[];
  execs: EngineEvent[];
  /** Where the history came from, when not from the engine alone (targets[].docker.eventLog). */
  source?: string;
  /** Why the recorded log does not prove the history complete (a gap, a recorder not running). */
  logGap?: string;
  /**
   * The engine's own health-check probes, set aside from `execs`: exec events whose command is
   * exactly the container's health-check command (the engine does not mark them otherwise).
   */
  healthChecks?: { command: string; count: number; first: string; last: string };
}

export interface InstanceFacts {
  error?: string;
  rootDevice?: string;
  /** The root volume's DeleteOnTermination; undefined when EC2 did not say. */
  rootDeleteOnTermination?: boolean;
  /** MetadataOptions.HttpTokens: required (IMDSv2 only) or optional. */
  httpTokens?: string;
  httpEndpoint?: string;
}

export interface AmiFacts {
  error?: string;
  info?: { imageId: string; exists: boolean; state?: string; name?: string; creationDate?: string; reason?: string };
}

/** JSON-safe: cached in the run directory with the audit's results. */
export type ImageFacts =
  | { kind: 'docker'; container: ContainerFacts; events?: EventFacts; changes?: { error?: string; list: Array<{ Path: string; Kind: number }> } }
  | { kind: 'ec2'; ami: AmiFacts; instance: InstanceFacts }
  | { kind: 'none' };
