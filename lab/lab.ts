/**
 * `driftless lab up | down | status`: the local fleets every suite runs against by default.
 * Everything is a container on the real engine with host networking on 127.0.0.1.
 */
import type Docker from 'dockerode';
import fs from 'node:fs';
import path from 'node:path';
import { connectEngine, execIn } from '../probes/docker.ts';
import { errorMessage, LabError, PortInUseError, UsageError } from '../core/errors.ts';
import { httpGet, portIsFree, sleep, sshBanner } from '../probes/net.ts';
import { haproxyConfig } from './haproxy.ts';
import { attestBuilds } from './attest.ts';
import { ensureImages, type LabImages } from './images.ts';
import { ensureEvidenceKey, ensureKeys, ensureProvenanceKey, labKeyPaths } from './keys.ts';
import { ATTESTED_IMAGES, type HostSpec, LABELS, type LabPlan, makePlan, PORT_BASE_SETTING, portsOf } from './lab-plan.ts';
import { attestationsDir, labRelease, releaseNamesSources, writeRelease } from './release.ts';

type Log = (line: string) => void;

/** The file the snowflake's hand-applied "hotfix" changes after start (its drift). */
export const SNOWFLAKE_DRIFT = { host: 'dl-snowflake-1', path: '/etc/motd' };

export interface LabState {
  status: 'building' | 'up';
  portBase: number;
  startedAt: string;
  images?: LabImages;
  /** The release `driftless lab deploy` last rolled out (1: what `lab up` started). */
  release?: number;
}

const statePath = (plan: LabPlan) => path.join(plan.dir, 'lab.json');
export { releasePath } from './release.ts';

export function readLabState(plan: LabPlan): LabState | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePath(plan), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function writeState(plan: LabPlan, state: LabState): void {
  fs.mkdirSync(plan.dir, { recursive: true });
  fs.writeFileSync(statePath(plan), JSON.stringify(state, null, 2) + '\n');
}

export async function labContainers(docker: Docker): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [LABELS.lab] } });
}

export function hostContainer(h: HostSpec, plan: LabPlan, imageIdOf: string): Docker.ContainerCreateOptions {
  const keys = labKeyPaths(plan);
  return {
    name: h.name,
    Image: imageIdOf, // pinned by id, so a replacement cannot drift to a re-tagged image
    Env: [`HTTP_PORT=${h.httpPort}`, `SSH_PORT=${h.sshPort}`, `STATE_BACKEND=${h.stateBackend}`, `REDIS_PORT=${plan.storePort}`, `INSTANCE_NAME=${h.name}`],
    Labels: {
      [LABELS.lab]: 'true',
      [LABELS.role]: 'host',
      [LABELS.onDeath]: h.onDeath,
      [LABELS.fleet]: h.fleet,
      [LABELS.service]: h.service,
      [LABELS.digest]: imageIdOf,
      [LABELS.desired]: String(h.desired),
      [LABELS.slot]: String(h.slot),
      [LABELS.sshPort]: String(h.sshPort),
      [LABELS.httpPort]: String(h.httpPort),
      ...(h.chaosOptIn ? { [LABELS.chaos]: 'opt-in' } : {}),
    },
    HostConfig: {
      NetworkMode: 'host',
      ReadonlyRootfs: h.readOnlyRoot,
      Tmpfs: h.readOnlyRoot ? { '/run': 'rw,nosuid,nodev,mode=755', '/tmp': 'rw,nosuid,nodev,mode=1777' } : {},
      Binds: [
        `${keys.hostKeyDir(h.name)}:/etc/ssh/keys:ro`,
        `${keys.authorizedKeys}:/etc/ssh/lab_authorized_keys:ro`,
        // negative controls of the engine checks (snowflake)
        ...(h.writableBind ? [`${path.join(plan.dir, 'binds', h.name)}:${h.writableBind}:rw`] : []),
        ...(h.engineSocket ? ['/var/run/docker.sock:/var/run/docker.sock'] : []),
      ],
      ...(h.sysAdmin ? { CapAdd: ['SYS_ADMIN'] } : {}),
      ...(h.noNewPrivileges ? { SecurityOpt: ['no-new-privileges'] } : {}),
      // The engine restarts a crashed snowflake-1 in place; cattle and sticky are left to the
      // supervisor (replaced); snowflake-2 is left dead.
      RestartPolicy: { Name: h.onDeath === 'restart' ? 'always' : 'no' },
    },
  };
}

function infraContainer(
  name: string,
  role: string,
  image: string,
  cmd: string[],
  binds: string[],
  extra: Record<string, string> = {},
): Docker.ContainerCreateOptions {
  return {
    name,
    Image: image,
    Cmd: cmd,
    Labels: { [LABELS.lab]: 'true', [LABELS.role]: role, ...extra },
    HostConfig: { NetworkMode: 'host', Binds: binds, RestartPolicy: { Name: 'unless-stopped' } },
  };
}

/** The engine's events, one JSON line each, for DL-IMG-005 (the lab config's docker.eventLog). */
export function eventLogPath(plan: LabPlan): string {
  return path.join(plan.dir, 'events', 'engine-events.jsonl');
}

async function startRecorder(docker: Docker, plan: LabPlan, image: string): Promise<void> {
  const file = eventLogPath(plan);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.rmSync(file, { force: true }); // a new lab: its containers' history starts now
  await createAndStart(
    docker,
    infraContainer(
      plan.names.recorder,
      'recorder',
      image,
      ['python3', '-u', '/opt/lab/event-recorder.py', '/recorder/engine-events.jsonl'],
      ['/var/run/docker.sock:/var/run/docker.sock', `${path.dirname(file)}:/recorder`],
    ),
  );
  // Hosts are created only once the recorder's stream is open (its marker line is written).
  const t0 = Date.now();
  while (!(fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('"recorder-start"'))) {
    if (Date.now() - t0 > 15_000)
      throw new LabError(`the event recorder ${plan.names.recorder} did not start within 15 s (docker logs ${plan.names.recorder})`);
    await sleep(100);
  }
}

async function createAndStart(docker: Docker, opts: Docker.ContainerCreateOptions): Promise<void> {
  try {
    const c = await docker.createContainer(opts);
    await c.start();
  } catch (err) {
    throw new LabError(`could not start lab container ${opts.name}: ${errorMessage(err)}`);
  }
}

export interface HealthRow {
  name: string;
  fleet: string;
  role: string;
  id: string;
  digest: string;
  ports: string;
  state: string;
  health: string;
}

export async function hostHealth(h: { httpPort: number; sshPort: number }): Promise<string> {
  const [http, ssh] = await Promise.all([httpGet(`http://127.0.0.1:${h.httpPort}/health`, 1500), sshBanner(h.sshPort, '127.0.0.1', 1500)]);
  if (http.ok && ssh) return 'healthy';
  return [http.ok ? '' : `http ${http.status ?? http.error}`, ssh ? '' : 'ssh down'].filter(Boolean).join(', ');
}

export async function labStatus(docker: Docker, plan: LabPlan = makePlan()): Promise<HealthRow[]> {
  const rows: HealthRow[] = [];
  for (const c of await labContainers(docker)) {
    const name = (c.Names[0] ?? c.Id).replace(/^\//, '');
    const role = c.Labels[LABELS.role] ?? '?';
    let ports = '';
    let health = c.State === 'running' ? 'running' : c.State;
    if (role === 'host') {
      const h = { httpPort: Number(c.Labels[LABELS.httpPort]), sshPort: Number(c.Labels[LABELS.sshPort]) };
      ports = `http ${h.httpPort}, ssh ${h.sshPort}`;
      if (c.State === 'running') health = await hostHealth(h);
    } else if (role === 'lb') {
      const lb = plan.lbs.find((l) => l.name === name);
      if (lb) {
        ports = `http ${lb.port}`;
        if (c.State === 'running') {
          const r = await httpGet(`http://127.0.0.1:${lb.port}/health`, 1500);
          health = r.ok ? 'healthy' : `http ${r.status ?? r.error}`;
        }
      }
    } else if (role === 'store') {
      ports = `redis ${plan.storePort}`;
    }
    rows.push({ name, fleet: c.Labels[LABELS.fleet] ?? '-', role, id: c.Id.slice(0, 12), digest: c.ImageID, ports, state: c.State, health });
  }
  const order = (r: HealthRow) => `${r.role === 'host' ? 0 : 1}${r.fleet}${r.name}`;
  return rows.sort((a, b) => order(a).localeCompare(order(b)));
}

export function formatStatus(rows: HealthRow[]): string {
  if (rows.length === 0) return 'the lab is down (no lab containers on this engine); start it with `driftless lab up`';
  const head = ['HOST', 'FLEET', 'ROLE', 'IMAGE DIGEST', 'PORTS', 'HEALTH'];
  const body = rows.map((r) => [r.name, r.fleet, r.role, r.digest, r.ports, r.health]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body]
    .map((cols) =>
      cols
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function waitHealthy(plan: LabPlan, timeoutMs: number, log: Log): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending: string[] = [];
  let said = Date.now();
  while (Date.now() < deadline) {
    pending = [];
    for (const h of plan.hosts) if ((await hostHealth(h)) !== 'healthy') pending.push(h.name);
    for (const lb of plan.lbs) if (!(await httpGet(`http://127.0.0.1:${lb.port}/health`, 1000)).ok) pending.push(lb.name);
    if (pending.length === 0) return;
    if (Date.now() - said > 5000) {
      log(`  still waiting for ${pending.join(', ')}`);
      said = Date.now();
    }
    await sleep(250);
  }
  throw new LabError(`the lab did not become healthy within ${timeoutMs / 1000} s: ${pending.join(', ')} not answering (see \`docker logs <name>\`)`);
}

/** Removes every lab container (the supervisor first, so it replaces nothing); returns their names. */
export async function labDown(docker: Docker, plan: LabPlan = makePlan(), log: Log = () => {}): Promise<string[]> {
  const all = await labContainers(docker);
  const removed: string[] = [];
  const sup = all.filter((c) => c.Labels[LABELS.role] === 'supervisor');
  const rest = all.filter((c) => c.Labels[LABELS.role] !== 'supervisor');
  for (const batch of [sup, rest]) {
    await Promise.all(
      batch.map(async (c) => {
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch((err: { statusCode?: number }) => {
            if (err.statusCode !== 404) throw err;
          });
        removed.push((c.Names[0] ?? c.Id).replace(/^\//, ''));
      }),
    );
  }
  // The supervisor may have been mid-replacement when it was removed: sweep once more.
  for (const c of await labContainers(docker)) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
    removed.push((c.Names[0] ?? c.Id).replace(/^\//, ''));
  }
  fs.rmSync(statePath(plan), { force: true });
  if (removed.length) log(`removed ${removed.length} lab containers: ${removed.sort().join(', ')}`);
  return removed;
}

async function alreadyUp(docker: Docker, plan: LabPlan, images: LabImages): Promise<boolean> {
  const state = readLabState(plan);
  if (state?.status !== 'up' || state.portBase !== plan.portBase) return false;
  if (JSON.stringify(state.images) !== JSON.stringify(images) || !releaseNamesSources(plan)) return false;
  const running = (await labContainers(docker)).filter((c) => c.State === 'running').length;
  if (running !== plan.hosts.length + plan.lbs.length + 3) return false; // + store, supervisor, recorder
  for (const h of plan.hosts) if ((await hostHealth(h)) !== 'healthy') return false;
  // A lab started from another checkout mounts that checkout's keys: not ours to reuse.
  const binds = (await docker.getContainer(plan.hosts[0]!.name).inspect()).HostConfig.Binds ?? [];
  return binds.some((b) => b.startsWith(`${labKeyPaths(plan).authorizedKeys}:`));
}

async function cleanLeftovers(docker: Docker, plan: LabPlan, n: number, log: Log): Promise<void> {
  log(`cleaning ${n} containers of an earlier lab (interrupted, outdated or on other ports)`);
  await labDown(docker, plan);
}

export interface LabUpResult {
  plan: LabPlan;
  images: LabImages;
  reused: boolean;
  seconds: number;
}

export async function labUp(opts: { portBase?: number; log?: Log } = {}): Promise<LabUpResult> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const docker = await connectEngine();
  const plan = makePlan(opts.portBase);
  // Images first: the engine's layer cache makes this seconds when nothing changed, and a
  // running lab built from older images must be replaced, not reused.
  log('[1/5] images');
  const { images, builds } = await ensureImages(docker, log);
  ensureEvidenceKey(plan); // made once, even for a lab that is already up
  // The pipeline signs what it builds (an image from the cache keeps the attestation it was built with).
  const sources = await attestBuilds(attestationsDir(plan), ensureProvenanceKey(plan), builds, ATTESTED_IMAGES, log);
  if (await alreadyUp(docker, plan, images)) {
    log(`the lab is already up (port base ${plan.portBase}, same images); nothing to do`);
    return { plan, images, reused: true, seconds: (Date.now() - t0) / 1000 };
  }
  // Only one lab fits an engine (fixed names): leftovers of any earlier lab, from this checkout
  // or another, interrupted or outdated, are removed before the ports are checked.
  const leftovers = await labContainers(docker);
  if (leftovers.length) await cleanLeftovers(docker, plan, leftovers.length, log);
  refuseEphemeralPorts(plan);
  for (const { port, what } of portsOf(plan)) {
    if (!(await portIsFree(port))) throw new PortInUseError(port, what, PORT_BASE_SETTING);
  }
  for (const h of plan.hosts) if (h.writableBind) fs.mkdirSync(path.join(plan.dir, 'binds', h.name), { recursive: true });
  writeState(plan, { status: 'building', portBase: plan.portBase, startedAt: new Date().toISOString() });

  log('[2/5] SSH keys');
  ensureKeys(plan);

  log('[3/5] containers');
  for (const lb of plan.lbs) fs.writeFileSync(path.join(plan.dir, `haproxy-${lb.fleet}.cfg`), haproxyConfig(lb));
  await createAndStart(
    docker,
    infraContainer(
      plan.names.store,
      'store',
      images.infra,
      ['redis-server', '--bind', '127.0.0.1', '--port', String(plan.storePort), '--save', '', '--appendonly', 'no'],
      [],
    ),
  );
  // The event recorder starts before any host, so it holds every host's history from creation
  // on, however many events the engine's own 256-event buffer has dropped since.
  await startRecorder(docker, plan, images.infra);
  for (const h of plan.hosts) await createAndStart(docker, hostContainer(h, plan, images[h.image]));
  for (const lb of plan.lbs) {
    await createAndStart(
      docker,
      infraContainer(
        lb.name,
        'lb',
        images.infra,
        ['haproxy', '-db', '-f', '/etc/haproxy/lab.cfg'],
        [`${path.join(plan.dir, `haproxy-${lb.fleet}.cfg`)}:/etc/haproxy/lab.cfg:ro`],
        { [LABELS.fleet]: lb.fleet },
      ),
    );
  }
  await createAndStart(
    docker,
    infraContainer(
      plan.names.supervisor,
      'supervisor',
      images.infra,
      ['python3', '-u', '/opt/lab/supervisor.py'],
      ['/var/run/docker.sock:/var/run/docker.sock'],
    ),
  );

  log('[4/5] waiting for every host, load balancer and sshd to answer');
  await waitHealthy(plan, 60_000, log);

  log(`[5/5] snowflake drift: a hand-applied "hotfix" to ${SNOWFLAKE_DRIFT.path} on ${SNOWFLAKE_DRIFT.host}`);
  const fix = await execIn(docker, SNOWFLAKE_DRIFT.host, ['sh', '-c', `echo '# hotfix applied by hand' >> ${SNOWFLAKE_DRIFT.path}`]);
  if (fix.exitCode !== 0) throw new LabError(`could not apply the snowflake drift: ${fix.stderr}`);

  writeRelease(
    plan,
    labRelease(plan, 'lab', {
      cattle: { digest: images.cattle, source: sources.cattle },
      snowflake: { digest: images.snowflake, source: sources.snowflake },
    }),
  );
  writeState(plan, { status: 'up', portBase: plan.portBase, startedAt: new Date().toISOString(), images });
  return { plan, images, reused: false, seconds: (Date.now() - t0) / 1000 };
}

/**
 * A lab port inside the kernel's ephemeral range can be taken by any outgoing connection as its
 * source port, and the host then fails to bind: refuse, unless the range is reserved for us.
 */
export function refuseEphemeralPorts(plan: LabPlan, procSys = '/proc/sys/net/ipv4'): void {
  const read = (f: string) => {
    try {
      return fs.readFileSync(path.join(procSys, f), 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const [lo, hi] = (read('ip_local_port_range') ?? '').split(/\s+/).map(Number);
  if (!lo || !hi) return;
  const reserved = (read('ip_local_reserved_ports') ?? '')
    .split(',')
    .filter(Boolean)
    .map((r) => r.split('-').map(Number) as [number, number?]);
  const isReserved = (p: number) => reserved.some(([a, b]) => p >= a && p <= (b ?? a));
  const bad = portsOf(plan).filter(({ port }) => port >= lo && port <= hi && !isReserved(port));
  if (bad.length) {
    throw new UsageError(
      `the lab's ports ${bad[0]!.port}..${bad.at(-1)!.port} lie in the kernel's ephemeral port range ${lo}-${hi}: an outgoing connection could take one first; ` +
        `choose a port base below ${lo} with ${PORT_BASE_SETTING}, or reserve them (sysctl net.ipv4.ip_local_reserved_ports)`,
    );
  }
}
