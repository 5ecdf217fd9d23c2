/**
 * The benchmark fleet: N light sshd containers from the lab's compliant image, each on its own
 * 127.0.0.1 port, read-only root, login user `audit` without sudo. Only sshd runs (no HTTP
 * service), so 100 of them fit next to the lab on a 2-core machine.
 *
 * Names dl-bench-<i>, label driftless.bench=true: never touched by `lab up`/`lab down`, and
 * removed by `stopFleet` (and by the next `startFleet`, should a run have been interrupted).
 */
import type Docker from 'dockerode';
import fs from 'node:fs';
import path from 'node:path';
import { keygen } from '../lab/keys.ts';
import { errorMessage, LabError, PortInUseError } from '../core/errors.ts';
import { portIsFree, sleep, sshBanner } from '../probes/net.ts';
import { log } from './stats.ts';

export const BENCH_LABEL = 'driftless.bench';
export const BENCH_SERVICE = 'bench-sshd';
export const PORT_BASE_SETTING = 'DRIFTLESS_BENCH_PORT_BASE';

export function benchPortBase(): number {
  const v = process.env[PORT_BASE_SETTING];
  // Below Linux's ephemeral range (32768-60999): load generators' client sockets never take these.
  if (v === undefined || v === '') return 23000;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1024 || n > 32000)
    throw new LabError(`${PORT_BASE_SETTING}=${v} is not a port base: use an integer from 1024 to 32000 (below the ephemeral port range)`);
  return n;
}

export interface BenchKeys {
  dir: string;
  identityFile: string;
  knownHostsFile: string;
  authorizedKeys: string;
  hostKeyDir: string;
}

export interface BenchHost {
  name: string;
  sshPort: number;
}

export interface BenchFleet {
  hosts: BenchHost[];
  image: string;
  keys: BenchKeys;
  startSeconds: number;
}

/** Login key and one host key shared by every bench host (pinned through known_hosts per port). */
export function ensureBenchKeys(dir: string, ports: number[]): BenchKeys {
  const keys: BenchKeys = {
    dir,
    identityFile: path.join(dir, 'id_ed25519'),
    knownHostsFile: path.join(dir, 'known_hosts'),
    authorizedKeys: path.join(dir, 'authorized_keys'),
    hostKeyDir: path.join(dir, 'hostkey'),
  };
  fs.mkdirSync(keys.hostKeyDir, { recursive: true, mode: 0o755 });
  keygen(keys.identityFile, 'driftless-bench-auditor');
  keygen(path.join(keys.hostKeyDir, 'ssh_host_ed25519_key'), 'driftless-bench-hostkey');
  fs.writeFileSync(keys.authorizedKeys, fs.readFileSync(keys.identityFile + '.pub'), { mode: 0o644 });
  // sshd reads these as root, but StrictModes wants them not writable by others.
  fs.chmodSync(keys.authorizedKeys, 0o644);
  const [type, blob] = fs.readFileSync(path.join(keys.hostKeyDir, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/);
  fs.writeFileSync(keys.knownHostsFile, ports.map((p) => `[127.0.0.1]:${p} ${type} ${blob}`).join('\n') + '\n');
  return keys;
}

async function benchContainers(docker: Docker): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${BENCH_LABEL}=true`] } });
}

/** At most this many engine calls at once: a thousand parallel removals make the engine time out its kills. */
const ENGINE_PARALLEL = 8;

async function inBatches<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/** Removes every bench container on the engine (a few at a time, each retried once); returns how many. */
export async function stopFleet(docker: Docker): Promise<number> {
  const all = await benchContainers(docker);
  const failed: string[] = [];
  await inBatches(all, ENGINE_PARALLEL, async (c) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await docker.getContainer(c.Id).remove({ force: true });
        return;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return;
        if (attempt >= 2) {
          failed.push(`${c.Names[0] ?? c.Id}: ${errorMessage(err)}`);
          return;
        }
        await sleep(1000);
      }
    }
  });
  if (failed.length)
    throw new LabError(`could not remove ${failed.length} bench containers (remove them with \`docker rm -f\`): ${failed.slice(0, 3).join('; ')}`);
  return all.length;
}

function hostContainer(h: BenchHost, image: string, keys: BenchKeys): Docker.ContainerCreateOptions {
  return {
    name: h.name,
    Image: image,
    // sshd only: the lab image's HTTP service is not what is being measured here.
    Entrypoint: ['/bin/sh', '-c', 'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -p "$SSH_PORT"'],
    Env: [`SSH_PORT=${h.sshPort}`],
    Labels: {
      [BENCH_LABEL]: 'true',
      'driftless.fleet': 'bench',
      'driftless.service': BENCH_SERVICE,
      'driftless.image.digest': image,
      'driftless.port.ssh': String(h.sshPort),
    },
    HostConfig: {
      NetworkMode: 'host',
      ReadonlyRootfs: true,
      Tmpfs: { '/run': 'rw,nosuid,nodev,mode=755', '/tmp': 'rw,nosuid,nodev,mode=1777' },
      Binds: [`${keys.hostKeyDir}:/etc/ssh/keys:ro`, `${keys.authorizedKeys}:/etc/ssh/lab_authorized_keys:ro`],
      // As the lab's compliant hosts: DL-IMG-013 owes it.
      SecurityOpt: ['no-new-privileges'],
      RestartPolicy: { Name: 'no' },
    },
  };
}

/**
 * Starts N hosts (after removing any earlier bench fleet) and waits until every sshd answers
 * with its banner. Throws PortInUseError before creating anything if a port is taken.
 */
export async function startFleet(docker: Docker, opts: { n: number; image: string; dir: string; portBase?: number }): Promise<BenchFleet> {
  const t0 = performance.now();
  const base = opts.portBase ?? benchPortBase();
  const leftovers = await stopFleet(docker);
  if (leftovers) log(`removed ${leftovers} bench containers of an earlier run`);
  const hosts: BenchHost[] = Array.from({ length: opts.n }, (_, i) => ({ name: `dl-bench-${i + 1}`, sshPort: base + i + 1 }));
  for (const h of hosts) if (!(await portIsFree(h.sshPort))) throw new PortInUseError(h.sshPort, `${h.name} ssh`, PORT_BASE_SETTING);
  const keys = ensureBenchKeys(
    opts.dir,
    hosts.map((h) => h.sshPort),
  );
  // Create sequentially (the engine serialises them anyway), start in small batches.
  for (let i = 0; i < hosts.length; i += 10) {
    await Promise.all(
      hosts.slice(i, i + 10).map(async (h) => {
        try {
          const c = await docker.createContainer(hostContainer(h, opts.image, keys));
          await c.start();
        } catch (err) {
          throw new LabError(`could not start bench host ${h.name}: ${errorMessage(err)}`);
        }
      }),
    );
  }
  // A thousand sshd answering at once on two cores: probe a few dozen at a time, and give a large
  // fleet time in proportion to its size.
  const waitMs = 120_000 + 300 * hosts.length;
  const deadline = Date.now() + waitMs;
  let pending = hosts;
  while (pending.length) {
    const answered = new Set<string>();
    await inBatches(pending, 50, async (h) => {
      if (await sshBanner(h.sshPort, '127.0.0.1', 5000)) answered.add(h.name);
    });
    pending = pending.filter((h) => !answered.has(h.name));
    if (!pending.length) break;
    if (Date.now() > deadline)
      throw new LabError(
        `${pending.length} bench hosts did not answer on SSH within ${Math.round(waitMs / 1000)} s: ${pending
          .slice(0, 10)
          .map((h) => h.name)
          .join(', ')} (see \`docker logs <name>\`)`,
      );
    await sleep(250);
  }
  return { hosts, image: opts.image, keys, startSeconds: Math.round(performance.now() - t0) / 1000 };
}
