/**
 * Load generation: the highest rate driftless's open-loop generator sustains against the lab
 * entrypoint, next to what `wrk` gets from the same target on the same machine. Both share the
 * machine's cores with the target (HAProxy, three Python replicas, Redis), so per step we also
 * record how busy the client, the target and the whole machine were: that tells a reader which
 * side ran out first.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { checkSustained, errorRate, percentile, runLoad, SUSTAINED_SHARE, targetOf } from '../probes/http-load.ts';
import { sleep } from '../probes/net.ts';
import { log, ratio, round } from './stats.ts';

export interface LoadBenchOptions {
  url?: string;
  stepSeconds?: number;
  path?: string;
}

/** CPU time as a share of one core (100 = one core fully busy) over a step. */
export interface CpuShares {
  /** The load generator itself (the bench's node process, or wrk). */
  client: number;
  /** HAProxy processes plus the lab's Python replicas (/opt/app/server.py). */
  target: number;
  /** All cores of the machine together (100 × cores = saturated). */
  machine: number;
}

export interface LoadStep {
  requested: number;
  achieved: number;
  /** Errors / requests sent (network errors and statuses outside 2xx/3xx). */
  errorRate: number;
  /** Latency from the scheduled send time, ms. */
  p50Ms: number;
  p99Ms: number;
  connections: number;
  sent: number;
  unsent: number;
  /** OK answers that arrived within the step, per second: what the target actually kept up with. */
  goodput: number;
  sustained: boolean;
  /** Why the step did not count as sustained. */
  reason?: string;
  /** Whether the step came from the bisection between the last pass and the first failure. */
  refine: boolean;
  cpu: CpuShares;
}

export interface WrkRun {
  connections: number;
  threads: number;
  seconds: number;
  command: string;
  requestsPerSec: number;
  requests: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** (non-2xx + socket errors) / requests. */
  errorRate: number;
  /** Latency percentiles as wrk prints them, in ms. */
  latencyMs: { p50?: number; p75?: number; p90?: number; p99?: number; avg?: number; max?: number };
  cpu: CpuShares;
}

export interface LoadBenchResult {
  url: string;
  cpuCount: number;
  stepSeconds: number;
  /** The pass rule of a step. */
  criterion: string;
  steps: LoadStep[];
  /** Achieved rate of the best sustained step (req/s); 0 when no step was sustained. */
  driftlessMaxSustained: number;
  wrk: WrkRun[];
  /** Best Requests/sec of the wrk runs under 1% errors (else of all runs). */
  wrkBest: number;
  /** driftlessMaxSustained / wrkBest. */
  ratioDriftlessOverWrk: number;
  commands: { driftless: string; wrk: string[] };
  note: string;
}

const RATES = [500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 16000, 20000];
const MAX_ERROR_RATE = 0.01;
const WRK_CONNECTIONS = [16, 64];
const WRK_THREADS = 2;
const PAUSE_MS = 1500; // lets sockets in TIME_WAIT and the replicas' threads settle between steps

// --- CPU accounting from /proc ---------------------------------------------------------------

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function procTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0; // exited
  }
}

/** Pids of the target: HAProxy and the lab's Python replicas (seen through the host's /proc). */
function targetPids(): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const comm = fs.readFileSync(`/proc/${name}/comm`, 'utf8').trim();
      if (comm === 'haproxy') pids.push(Number(name));
      else if (comm.startsWith('python')) {
        if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('/opt/app/server.py')) pids.push(Number(name));
      }
    } catch {
      /* exited */
    }
  }
  return pids;
}

function machineTicks(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = line.reduce((s, n) => s + n, 0);
  const idle = (line[3] ?? 0) + (line[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** Starts measuring; the returned function gives the shares since then. */
function cpuMeter(clientPid: () => number | undefined): () => CpuShares {
  const pids = targetPids();
  const t0 = performance.now();
  const target0 = pids.reduce((s, p) => s + procTicks(p), 0);
  const m0 = machineTicks();
  const self0 = process.cpuUsage();
  let clientLast = 0;
  const poll = setInterval(() => {
    const p = clientPid();
    if (p) clientLast = procTicks(p) || clientLast; // a child's ticks vanish with it: keep the last reading
  }, 100);
  return () => {
    clearInterval(poll);
    const secs = (performance.now() - t0) / 1000;
    const p = clientPid();
    let client: number;
    if (p === undefined) {
      const d = process.cpuUsage(self0);
      client = (d.user + d.system) / 1e6 / secs;
    } else {
      client = (procTicks(p) || clientLast) / TICKS / secs;
    }
    const target = (pids.reduce((s, q) => s + procTicks(q), 0) - target0) / TICKS / secs;
    const m1 = machineTicks();
    const machine = ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * os.cpus().length;
    return { client: round(client * 100, 0), target: round(target * 100, 0), machine: round(machine * 100, 0) };
  };
}

// --- driftless's generator --------------------------------------------------------------------

async function driftlessStep(url: string, path: string, rate: number, stepSeconds: number, refine: boolean): Promise<LoadStep> {
  const done = cpuMeter(() => undefined);
  const rec = await runLoad({ url, path, rate, durationMs: stepSeconds * 1000 });
  const cpu = done();
  const lat = rec.records.map((r) => r.latencyMs).sort((a, b) => a - b);
  const err = errorRate(rec.buckets);
  const sus = checkSustained(rec);
  // Sending on time is not enough: an overloaded target queues the requests and still answers
  // them after the step (within the 2 s timeout), so a short step would "sustain" any rate the
  // client can send. The answers must also keep up inside the step.
  const goodput = round(rec.records.filter((r) => r.status >= 200 && r.status < 400 && r.t + r.latencyMs <= rec.elapsedMs).length / (rec.elapsedMs / 1000), 1);
  const reasons: string[] = [];
  if (!sus.ok) reasons.push(`sent ${rec.achievedRate} req/s on time, under ${SUSTAINED_SHARE * 100}% of ${rate}`);
  if (err >= MAX_ERROR_RATE) reasons.push(`error rate ${round(err * 100, 2)}% ≥ ${MAX_ERROR_RATE * 100}%`);
  if (goodput < SUSTAINED_SHARE * rate) reasons.push(`answered ${goodput} req/s within the step, under ${SUSTAINED_SHARE * 100}% of ${rate}`);
  const step: LoadStep = {
    requested: rate,
    achieved: rec.achievedRate,
    errorRate: round(err, 4),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    connections: rec.connections,
    sent: rec.records.length,
    unsent: rec.unsent,
    goodput,
    sustained: reasons.length === 0,
    ...(reasons.length ? { reason: reasons.join('; ') } : {}),
    refine,
    cpu,
  };
  log(
    `load: driftless ${rate} req/s → achieved ${step.achieved}, answered ${goodput}, errors ${round(err * 100, 2)}%, p50 ${step.p50Ms} ms, p99 ${step.p99Ms} ms, ` +
      `${step.connections} conns, cpu client/target/machine ${cpu.client}/${cpu.target}/${cpu.machine}% ${step.sustained ? 'SUSTAINED' : `FAIL (${step.reason})`}`,
  );
  return step;
}

// --- wrk --------------------------------------------------------------------------------------

function ensureWrk(): void {
  if (spawnSync('wrk', ['-v'], { stdio: 'ignore' }).error === undefined) return;
  if (process.getuid?.() !== 0) {
    throw new Error('wrk is not installed and this is not root: install it with `sudo apt-get install -y wrk` and run the bench again');
  }
  log('load: wrk missing, installing it with apt-get install -y wrk');
  const r = spawnSync('apt-get', ['install', '-y', 'wrk'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) throw new Error(`apt-get install -y wrk failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
}

/** "4.90ms" / "812.00us" / "1.20s" → ms. */
function durMs(s: string): number | undefined {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return round(m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000, 3);
}

export function parseWrk(out: string): Pick<WrkRun, 'requestsPerSec' | 'requests' | 'non2xx' | 'socketErrors' | 'errorRate' | 'latencyMs'> {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  const requestsPerSec = num(/^Requests\/sec:\s+([\d.]+)/m);
  if (!Number.isFinite(requestsPerSec)) throw new Error(`wrk output has no Requests/sec line:\n${out.slice(-1500)}`);
  const requests = num(/^\s*(\d+) requests in/m);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = { connect: Number(se?.[1] ?? 0), read: Number(se?.[2] ?? 0), write: Number(se?.[3] ?? 0), timeout: Number(se?.[4] ?? 0) };
  const latencyMs: WrkRun['latencyMs'] = {};
  for (const p of [50, 75, 90, 99] as const) {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    const v = m ? durMs(m[1]!) : undefined;
    if (v !== undefined) latencyMs[`p${p}`] = v;
  }
  const lat = /^\s+Latency\s+(\S+)\s+\S+\s+(\S+)/m.exec(out);
  if (lat) {
    const avg = durMs(lat[1]!);
    const max = durMs(lat[2]!);
    if (avg !== undefined) latencyMs.avg = avg;
    if (max !== undefined) latencyMs.max = max;
  }
  const errs = non2xx + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout;
  return { requestsPerSec, requests, non2xx, socketErrors, errorRate: requests > 0 ? round(errs / requests, 4) : 0, latencyMs };
}

async function wrkRun(href: string, connections: number, seconds: number): Promise<WrkRun> {
  const args = [`-t${WRK_THREADS}`, `-c${connections}`, `-d${seconds}s`, '--latency', href];
  let pid: number | undefined;
  const done = cpuMeter(() => pid);
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    pid = p.pid;
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`wrk ${args.join(' ')} exited ${code}: ${stderr.trim()}`))));
  });
  const cpu = done();
  const parsed = parseWrk(out);
  log(
    `load: wrk -c${connections}: ${parsed.requestsPerSec} req/s, errors ${round(parsed.errorRate * 100, 2)}%, p50 ${parsed.latencyMs.p50} ms, p99 ${parsed.latencyMs.p99} ms, ` +
      `cpu client/target/machine ${cpu.client}/${cpu.target}/${cpu.machine}%`,
  );
  return { connections, threads: WRK_THREADS, seconds, command: `wrk ${args.join(' ')}`, ...parsed, cpu };
}

// --- the benchmark ----------------------------------------------------------------------------

export async function benchLoad(opts: LoadBenchOptions = {}): Promise<LoadBenchResult> {
  const url = opts.url ?? 'http://127.0.0.1:21000';
  const path = opts.path ?? '/health';
  const stepSeconds = opts.stepSeconds ?? 5;
  if (!(stepSeconds > 0)) throw new Error(`stepSeconds ${stepSeconds}: give a positive number of seconds`);
  const target = targetOf(url, path); // refuses anything off the url's origin
  ensureWrk(); // fail before the long part when the peer cannot run

  const steps: LoadStep[] = [];
  let failures = 0;
  for (const rate of RATES) {
    const s = await driftlessStep(url, path, rate, stepSeconds, false);
    steps.push(s);
    if (!s.sustained && ++failures >= 2) break;
    await sleep(PAUSE_MS);
  }
  // Two bisection steps between the last pass and the first failure above it.
  const best = () => steps.filter((s) => s.sustained).reduce<LoadStep | undefined>((b, s) => (!b || s.achieved > b.achieved ? s : b), undefined);
  for (let i = 0; i < 2; i++) {
    const lo = best()?.requested ?? 0;
    const hi = steps.filter((s) => !s.sustained && s.requested > lo).reduce((m, s) => Math.min(m, s.requested), Infinity);
    if (!Number.isFinite(hi) || hi - lo < Math.max(100, lo * 0.1)) break;
    await sleep(PAUSE_MS);
    steps.push(await driftlessStep(url, path, Math.round((lo + hi) / 2 / 50) * 50, stepSeconds, true));
  }
  const driftlessMaxSustained = best()?.achieved ?? 0;

  const wrk: WrkRun[] = [];
  for (const c of WRK_CONNECTIONS) {
    await sleep(PAUSE_MS);
    wrk.push(await wrkRun(target.href, c, stepSeconds * 2));
  }
  const clean = wrk.filter((w) => w.errorRate < MAX_ERROR_RATE);
  const wrkBest = Math.max(...(clean.length ? clean : wrk).map((w) => w.requestsPerSec));

  const cpuCount = os.cpus().length;
  const busiest = steps.reduce((m, s) => Math.max(m, s.cpu.machine), 0);
  return {
    url: target.href,
    cpuCount,
    stepSeconds,
    criterion:
      `checkSustained (≥ ${SUSTAINED_SHARE * 100}% of the requested rate sent within 100 ms of schedule), error rate < ${MAX_ERROR_RATE * 100}%, ` +
      `and goodput (OK answers received within the step, per second) ≥ ${SUSTAINED_SHARE * 100}% of the requested rate`,
    steps,
    driftlessMaxSustained,
    wrk,
    wrkBest,
    ratioDriftlessOverWrk: ratio(driftlessMaxSustained, wrkBest),
    commands: {
      driftless: `runLoad({ url: '${url}', path: '${path}', rate: R, durationMs: ${stepSeconds * 1000} }) for R in ${RATES.join(', ')} … until 2 steps fail, then 2 bisection steps`,
      wrk: wrk.map((w) => w.command),
    },
    note:
      `wrk is closed-loop: each connection sends its next request when the last is answered, so it measures the most the target ` +
      `answers (max throughput). driftless is open-loop: it sends on a fixed schedule whatever the answers, so its figure is the ` +
      `highest schedule it kept (on time, under 1% errors). Both tools share the ${cpuCount} cores with the target (HAProxy, ` +
      `3 Python replicas, Redis); the busiest driftless step used ${busiest}% of ${cpuCount * 100}% machine CPU. ` +
      `Compare cpu.client with cpu.target per step to see which side ran out.`,
  };
}
