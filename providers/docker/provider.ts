/**
 * A fleet of containers on a Docker engine, selected by labels.
 *
 * Conventions read from container labels (the lab sets them; so can any compose/stack file):
 *   driftless.port.ssh      the host port sshd listens on (host networking)
 *   driftless.ssh.host      the address to reach it (default 127.0.0.1)
 *   driftless.service       the release service the container runs
 *   driftless.fleet.desired the fleet's desired capacity
 */
import type { DockerTarget } from '../../core/config.ts';
import { CapacityTimeoutError, ProviderError, errorMessage } from '../../core/errors.ts';
import { type CapacityReport, type Host, type HostIdentity, type KillKind, matchesOptIn, type SnapshotHost, type WaitOptions } from '../../core/inventory.ts';
import {
  connectEngine,
  containerChanges,
  type ContainerDetails,
  containerEvents,
  engineReachesBack,
  containersWithLabels,
  type Engine,
  type EngineEvent,
  type EngineTarget,
  imageFileReader,
  inspectContainer,
  killContainer,
  repoDigestsOf,
  storageOf,
  TMP_LABEL,
} from '../../probes/docker.ts';
import { healthCheckCommand, splitHealthChecks } from '../../probes/engine-events.ts';
import { recordedHistory, type RecordedHistory, recorderIsLive } from '../../probes/event-log.ts';
import { manifestOfImage } from '../../probes/manifest.ts';
import { sleep } from '../../probes/net.ts';
import type { ContainerFacts, EventFacts, ImageFacts, ImageSource, InPlaceChange, LaunchConfig, Provider } from '../provider.ts';

export interface DockerFleet {
  name: string;
  engine?: EngineTarget;
  labels: Record<string, string>;
  service?: string;
  /** "key=value": containers carrying it may be chosen as chaos victims. */
  optInLabel?: string;
  /** targets[].desiredCapacity: the fleet's size as configured. */
  desired?: number;
  /** targets[].docker.eventLog: the engine's events recorded continuously (absolute path). */
  eventLog?: string;
}

export function dockerFleetOf(target: DockerTarget, optInLabel: string | undefined): DockerFleet {
  const d = target.docker;
  return {
    name: target.name,
    engine: { ...(d.socketPath ? { socketPath: d.socketPath } : {}), ...(d.host ? { host: d.host, port: d.port ?? 2375 } : {}) },
    labels: d.labels,
    ...(target.service ? { service: target.service } : {}),
    ...(optInLabel ? { optInLabel } : {}),
    ...(target.desiredCapacity ? { desired: target.desiredCapacity } : {}),
    ...(d.eventLog ? { eventLog: d.eventLog } : {}),
  };
}

/**
 * Whether a container with these labels is a host of the fleet selected by `selector`: it carries
 * every selector label, and it is not one of driftless's own temporary containers (a manifest
 * scan, an image file read, a liveness check), whatever labels it inherited from its image.
 */
export function isFleetHost(labels: Record<string, string> | undefined, selector: Record<string, string>): boolean {
  const l = labels ?? {};
  return !(TMP_LABEL.key in l) && Object.entries(selector).every(([k, v]) => l[k] === v);
}

/**
 * What ties the container to what answers at its SSH port: its overlay upper directory, which its
 * root mount names. Another storage driver gives nothing to compare (audits/endpoint-identity.ts).
 */
export function identityOf(name: string, storage: { driver: string; upperDir?: string }): HostIdentity {
  if (storage.upperDir) return { kind: 'overlay-upperdir', value: storage.upperDir };
  return {
    kind: 'none',
    why: `the engine stores ${name}'s filesystem with storage driver "${storage.driver}", which reports no upper directory to compare with the root mount the session sees (only overlay2 ties a container to its SSH endpoint)`,
  };
}

/** The container's health-check probes moved out of its execs (they are the engine's, not access). */
function withoutHealthChecks(events: EventFacts, command: string | undefined): EventFacts {
  const split = splitHealthChecks(events.execs, command);
  if (!split.healthChecks.length) return events;
  const times = split.healthChecks.map((e) => e.time).sort();
  return { ...events, execs: split.execs, healthChecks: { command: command!, count: split.healthChecks.length, first: times[0]!, last: times.at(-1)! } };
}

/** What the engine's inspect says about how a container runs. */
function containerFactsOf(info: ContainerDetails): ContainerFacts {
  return {
    created: info.Created,
    startedAt: info.State.StartedAt,
    restartCount: info.RestartCount,
    readonlyRootfs: info.HostConfig.ReadonlyRootfs === true,
    state: info.State.Status,
    mounts: (info.Mounts ?? []).map((m) => m.Destination),
    mountDetails: [
      ...(info.Mounts ?? []).map((m) => ({ destination: m.Destination, source: m.Source, type: m.Type, rw: m.RW })),
      // --tmpfs mounts are not in Mounts: they are writable unless their options say ro.
      ...Object.entries(info.HostConfig.Tmpfs ?? {}).map(([destination, opts]) => ({
        destination,
        source: 'tmpfs',
        type: 'tmpfs',
        rw: !String(opts).split(',').includes('ro'),
      })),
    ],
    privileged: info.HostConfig.Privileged === true,
    capAdd: info.HostConfig.CapAdd ?? [],
    securityOpt: info.HostConfig.SecurityOpt ?? [],
    user: info.Config.User ?? '',
  };
}

/** The largest desired capacity a member was created with (label driftless.fleet.desired). */
function declaredDesired(hosts: Host[]): number | undefined {
  const declared = hosts.map((h) => Number(h.labels['driftless.fleet.desired'])).filter((n) => Number.isInteger(n) && n > 0);
  return declared.length ? Math.max(...declared) : undefined;
}

export class DockerProvider implements Provider {
  readonly kind = 'docker' as const;
  readonly fleet: string;
  private docker?: Engine;
  private digests = new Map<string, Promise<string[]>>();
  /** Desired capacity once known; fixed for the run, so survivors cannot lower it. */
  private desired?: number;

  constructor(
    private readonly spec: DockerFleet,
    docker?: Engine,
  ) {
    this.fleet = spec.name;
    this.docker = docker;
  }

  async engine(): Promise<Engine> {
    this.docker ??= await connectEngine(this.spec.engine);
    return this.docker;
  }

  private repoDigests(docker: Engine, imageId: string): Promise<string[]> {
    if (!this.digests.has(imageId)) this.digests.set(imageId, repoDigestsOf(docker, imageId));
    return this.digests.get(imageId)!;
  }

  private async toHost(docker: Engine, id: string): Promise<Host | undefined> {
    const info = await inspectContainer(docker, id).catch(() => undefined);
    if (!info) return undefined; // removed between list and inspect (a replacement in flight)
    const labels = info.Config.Labels ?? {};
    const sshPort = Number(labels['driftless.port.ssh']);
    const service = labels['driftless.service'] ?? this.spec.service;
    const name = info.Name.replace(/^\//, '');
    return {
      id: name,
      instanceId: info.Id,
      fleet: this.fleet,
      provider: 'docker',
      ...(service !== undefined ? { service } : {}),
      ...(Number.isInteger(sshPort) && sshPort > 0 ? { ssh: { host: labels['driftless.ssh.host'] ?? '127.0.0.1', port: sshPort } } : {}),
      identity: identityOf(name, storageOf(info)),
      image: { id: info.Image, ref: info.Config.Image, repoDigests: await this.repoDigests(docker, info.Image) },
      launchedAt: new Date(info.State.StartedAt),
      labels,
      chaosEligible: matchesOptIn(labels, this.spec.optInLabel),
      state: info.State.Status,
    };
  }

  async lookup(host: Host): Promise<Host | undefined> {
    const now = await this.toHost(await this.engine(), host.instanceId);
    // Still one of this fleet's? Its selector labels must still match.
    return now && isFleetHost(now.labels, this.spec.labels) ? now : undefined;
  }

  async list(): Promise<Host[]> {
    const docker = await this.engine();
    let rows: Awaited<ReturnType<typeof containersWithLabels>>;
    try {
      rows = await containersWithLabels(docker, this.spec.labels);
    } catch (err) {
      throw new ProviderError(`listing containers of fleet "${this.fleet}" failed: ${errorMessage(err)}`, { cause: err });
    }
    const hosts = await Promise.all(rows.filter((c) => isFleetHost(c.Labels, this.spec.labels)).map((c) => this.toHost(docker, c.Id)));
    const found = hosts.filter((h): h is Host => h !== undefined).sort((a, b) => a.id.localeCompare(b.id));
    // The first listing fixes the desired capacity: config, else creation labels, else this size.
    this.desired ??= this.spec.desired ?? declaredDesired(found) ?? found.filter((h) => h.state === 'running').length;
    return found;
  }

  async desiredCapacity(): Promise<number> {
    if (this.desired === undefined) await this.list();
    return this.desired!;
  }

  /** sigkill = the process crashes; stop = graceful (SIGTERM, then SIGKILL after 10 s); terminate = SIGKILL (a container has no separate "instance" to end). */
  async kill(host: Host, kind: KillKind): Promise<void> {
    try {
      await killContainer(await this.engine(), host.instanceId, kind === 'stop' ? 'stop' : 'sigkill');
    } catch (err) {
      throw new ProviderError(`could not ${kind} container ${host.id} (${host.instanceId.slice(0, 12)}): ${errorMessage(err)}`, { cause: err });
    }
  }

  async waitForCapacity(opts: WaitOptions): Promise<CapacityReport> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const hosts = await this.list();
      const desired = await this.desiredCapacity();
      const up = hosts.filter((h) => h.state === 'running');
      const running = up.length;
      if (running >= desired) return { desired, running, hosts: up, reachedAt: new Date() };
      if (Date.now() >= deadline) throw new CapacityTimeoutError(this.fleet, desired, running, opts.timeoutMs);
      await sleep(opts.pollMs ?? 200);
    }
  }

  async launchConfig(host: Host | SnapshotHost): Promise<LaunchConfig> {
    const info = await inspectContainer(await this.engine(), host.instanceId);
    if (!info) throw new ProviderError(`no such container ${host.id} (${host.instanceId.slice(0, 12)})`);
    const { readonlyRootfs, privileged, capAdd, securityOpt, mountDetails, user } = containerFactsOf(info);
    return { readonlyRootfs, privileged, capAdd, securityOpt, mountDetails, user };
  }

  /** Inspect, then the engine's events (before anything of ours could touch the host), then its diff. */
  async imageFacts(host: SnapshotHost): Promise<ImageFacts> {
    const docker = await this.engine();
    let info;
    try {
      info = await inspectContainer(docker, host.instanceId);
      if (!info) throw new ProviderError('no such container (removed since the inventory was taken)');
    } catch (err) {
      const error = `could not inspect container ${host.id} (${host.instanceId.slice(0, 12)}): ${errorMessage(err)}`;
      return { kind: 'docker', container: { error } };
    }
    const container = containerFactsOf(info);
    const since = Math.floor(Date.parse(info.Created) / 1000);
    const until = Math.ceil(Date.now() / 1000);
    const window = { since: new Date(since * 1000).toISOString(), until: new Date(until * 1000).toISOString() };
    let events: EventFacts;
    try {
      // One query, so one snapshot of the engine's buffer: the create event it holds vouches for
      // the execs read with it (two queries could see the create, then lose execs in between).
      const history = await containerEvents(docker, info.Id, since, until, ['create', 'start', 'exec_create', 'exec_start']);
      events = {
        ...window,
        complete: history.some((e) => e.action === 'create'),
        starts: history.filter((e) => e.action === 'start'),
        execs: history.filter((e) => e.action.startsWith('exec_')),
      };
      // The engine's 256-event buffer no longer reaches back: the recorded log may.
      if (!events.complete && this.spec.eventLog) events = await this.fromEventLog(docker, info.Id, info.Image, since, events);
    } catch (err) {
      events = { error: `could not read the engine's events for ${host.id}: ${errorMessage(err)}`, ...window, complete: false, starts: [], execs: [] };
    }
    events = withoutHealthChecks(events, healthCheckCommand(info.Config.Healthcheck, (info.Config as { Shell?: string[] }).Shell));
    let changes: { error?: string; list: Array<{ Path: string; Kind: number }> };
    try {
      changes = { list: await containerChanges(docker, info.Id) };
    } catch (err) {
      changes = { error: `could not read the filesystem diff of ${host.id}: ${errorMessage(err)}`, list: [] };
    }
    return { kind: 'docker', container, events, changes };
  }

  /**
   * The container's history from the recorded event log, merged with what the engine still holds.
   * Complete only if the log holds the creation, has no restart gap since, and is being written now
   * (a throwaway container, created and removed, must show up in it).
   */
  private async fromEventLog(
    docker: Parameters<typeof recorderIsLive>[0],
    id: string,
    image: string,
    createdSec: number,
    engine: EventFacts,
  ): Promise<EventFacts> {
    const file = this.spec.eventLog!;
    const live = await (this.recorderLive ??= recorderIsLive(docker, file, image));
    let rec: RecordedHistory;
    try {
      rec = recordedHistory(file, id, createdSec, ['create', 'start', 'exec_create', 'exec_start']);
    } catch (err) {
      return { ...engine, error: `could not read the engine event log ${file}: ${errorMessage(err)}` };
    }
    // What either source saw, once: the engine's newest events and the log's whole history.
    const union = (a: EngineEvent[], b: EngineEvent[]) => {
      const seen = new Set(a.map((e) => `${e.time} ${e.action}`));
      return [...a, ...b.filter((e) => !seen.has(`${e.time} ${e.action}`))].sort((x, y) => x.time.localeCompare(y.time));
    };
    const why = live.ok ? rec.why : live.why;
    return {
      ...engine,
      complete: live.ok && rec.complete,
      starts: union(
        engine.starts,
        rec.events.filter((e) => e.action === 'start'),
      ),
      execs: union(
        engine.execs,
        rec.events.filter((e) => e.action.startsWith('exec_')),
      ),
      source: `engine and recorded log ${file}`,
      ...(why ? { logGap: why } : {}),
    };
  }
  private recorderLive?: Promise<{ ok: boolean; why?: string }>;

  async inPlaceChanges(instanceIds: string[], since: Date, until: Date): Promise<InPlaceChange[]> {
    const docker = await this.engine();
    const from = Math.floor(since.getTime() / 1000);
    const to = Math.ceil(until.getTime() / 1000) + 1;
    const per = await Promise.all(
      instanceIds.map(async (id) =>
        (await containerEvents(docker, id, from, to, ['exec_create', 'extract-to-dir', 'restart', 'start', 'update', 'die'])).map((e) => ({
          instanceId: id,
          time: e.time,
          action: e.action.split(':')[0]!,
          ...(e.command ? { command: e.command } : {}),
        })),
      ),
    );
    // No record of a change is proof of none only if the engine still held the whole window while
    // it was read: asked after, since its buffer only moves forward.
    const cover = await engineReachesBack(docker, from);
    if (!cover.covers) {
      throw new ProviderError(
        `${cover.why}: in-place changes since ${since.toISOString()} cannot be ruled out (judge sooner after the deploy, or keep the window short)`,
      );
    }
    return per.flat().sort((a, b) => a.time.localeCompare(b.time));
  }

  /** The declared image's golden manifest and files are read on the target's own engine. */
  readonly images: ImageSource = {
    manifest: async (image, paths, excludes) => manifestOfImage(await this.engine(), image, paths, excludes),
    files: (image) => imageFileReader(() => this.engine(), image),
  };
}
