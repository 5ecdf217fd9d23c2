/**
 * Inventory of a fleet of containers on a Docker engine, selected by labels.
 *
 * Conventions read from container labels (the lab sets them; so can any compose/stack file):
 *   driftless.port.ssh      the host port sshd listens on (host networking)
 *   driftless.ssh.host      the address to reach it (default 127.0.0.1)
 *   driftless.service       the release service the container runs
 *   driftless.fleet.desired the fleet's desired capacity
 */
import type Docker from 'dockerode';
import { connectEngine, type EngineTarget } from './docker.ts';
import { CapacityTimeoutError, ProviderError, errorMessage } from './errors.ts';
import { type CapacityReport, type Host, type Inventory, type KillKind, matchesOptIn, type WaitOptions } from './inventory.ts';
import { sleep } from './net.ts';

export interface DockerFleet {
  name: string;
  engine?: EngineTarget;
  labels: Record<string, string>;
  service?: string;
  /** "key=value": containers carrying it may be chosen as chaos victims. */
  optInLabel?: string;
}


/** The largest desired capacity any member declares; without a label, however many exist. */
function desiredOf(hosts: Host[]): number {
  const declared = hosts.map((h) => Number(h.labels['driftless.fleet.desired'])).filter((n) => Number.isInteger(n) && n > 0);
  return declared.length ? Math.max(...declared) : hosts.length;
}

export class DockerInventory implements Inventory {
  readonly provider = 'docker' as const;
  readonly fleet: string;
  private docker?: Docker;
  private digests = new Map<string, string[]>();

  constructor(private readonly spec: DockerFleet, docker?: Docker) {
    this.fleet = spec.name;
    this.docker = docker;
  }

  async engine(): Promise<Docker> {
    this.docker ??= await connectEngine(this.spec.engine);
    return this.docker;
  }

  private filters(): { label: string[] } {
    return { label: Object.entries(this.spec.labels).map(([k, v]) => `${k}=${v}`) };
  }

  private async repoDigests(docker: Docker, imageId: string): Promise<string[]> {
    if (!this.digests.has(imageId)) {
      const info = await docker.getImage(imageId).inspect().catch(() => undefined);
      this.digests.set(imageId, info?.RepoDigests ?? []);
    }
    return this.digests.get(imageId)!;
  }

  async list(): Promise<Host[]> {
    const docker = await this.engine();
    let rows: Docker.ContainerInfo[];
    try {
      rows = await docker.listContainers({ all: true, filters: this.filters() });
    } catch (err) {
      throw new ProviderError(`listing containers of fleet "${this.fleet}" failed: ${errorMessage(err)}`, { cause: err });
    }
    const hosts = await Promise.all(
      rows.map(async (c): Promise<Host | undefined> => {
        const info = await docker.getContainer(c.Id).inspect().catch(() => undefined);
        if (!info) return undefined; // removed between list and inspect (a replacement in flight)
        const labels = info.Config.Labels ?? {};
        const sshPort = Number(labels['driftless.port.ssh']);
        return {
          id: info.Name.replace(/^\//, ''),
          instanceId: info.Id,
          fleet: this.fleet,
          provider: 'docker',
          service: labels['driftless.service'] ?? this.spec.service,
          ...(Number.isInteger(sshPort) && sshPort > 0 ? { ssh: { host: labels['driftless.ssh.host'] ?? '127.0.0.1', port: sshPort } } : {}),
          image: { id: info.Image, ref: info.Config.Image, repoDigests: await this.repoDigests(docker, info.Image) },
          launchedAt: new Date(info.State.StartedAt),
          labels,
          chaosEligible: matchesOptIn(labels, this.spec.optInLabel),
          state: info.State.Status,
        };
      }),
    );
    return hosts.filter((h): h is Host => h !== undefined).sort((a, b) => a.id.localeCompare(b.id));
  }

  async desiredCapacity(): Promise<number> {
    return desiredOf(await this.list());
  }

  /** sigkill = the process crashes; stop = graceful (SIGTERM, then SIGKILL after 10 s); terminate = SIGKILL (a container has no separate "instance" to end). */
  async kill(host: Host, kind: KillKind): Promise<void> {
    const c = (await this.engine()).getContainer(host.instanceId);
    try {
      if (kind === 'stop') await c.stop({ t: 10 });
      else await c.kill({ signal: 'SIGKILL' });
    } catch (err) {
      throw new ProviderError(`could not ${kind} container ${host.id} (${host.instanceId.slice(0, 12)}): ${errorMessage(err)}`, { cause: err });
    }
  }

  async waitForCapacity(opts: WaitOptions): Promise<CapacityReport> {
    const deadline = Date.now() + opts.timeoutMs;
    let running = 0;
    let desired = 0;
    for (;;) {
      const hosts = await this.list();
      desired = desiredOf(hosts);
      const up = hosts.filter((h) => h.state === 'running');
      running = up.length;
      if (running >= desired) return { desired, running, hosts: up, reachedAt: new Date() };
      if (Date.now() >= deadline) throw new CapacityTimeoutError(this.fleet, desired, running, opts.timeoutMs);
      await sleep(opts.pollMs ?? 200);
    }
  }
}
