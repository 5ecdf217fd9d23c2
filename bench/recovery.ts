/**
 * Timing accuracy of kill-to-recovered: what the chaos suite measures (runExperiment's 'kill' and
 * 'recovered' events) against the Docker engine's own event timestamps for the same kill (the
 * victim's `kill` event) and the same recovery (the replacement container's `start` event).
 * Real SIGKILLs of the lab's cattle hosts, one at a time, through the suite's own code path.
 */
import type Docker from 'dockerode';
import { type ExperimentResult, runExperiment } from '../audits/chaos/kill-loop.ts';
import { chooseVictims } from '../audits/chaos/victims.ts';
import { newSeed } from '../core/seed.ts';
import { DockerProvider } from '../providers/docker/provider.ts';
import { httpGet, sleep } from '../probes/net.ts';
import { log, round, summarize, type Summary } from './stats.ts';

export interface RecoveryOptions {
  kills?: number;
  /** Seed of the victim choice (printed and recorded); default: a fresh one. */
  seed?: number;
  /** The cattle LB, checked healthy before each kill. */
  url?: string;
}

export interface RecoverySample {
  victim: string;
  victimId: string;
  replacementId?: string;
  /** recovered event − kill event, from runExperiment's timeline. */
  driftlessMs: number;
  /** replacement `start` − victim `kill`, from the engine's event log. */
  engineMs?: number;
  /** driftlessMs − engineMs. */
  errorMs?: number;
  /** driftless kill event − engine kill event. */
  killEndpointErrorMs?: number;
  /** driftless recovered event − engine start event of the replacement. */
  recoveredEndpointErrorMs?: number;
  /** victim `die` − victim `kill`, engine clock (how long SIGKILL took to end the container). */
  engineKillToDieMs?: number;
  /** What went wrong when a figure is missing. */
  problem?: string;
}

export interface RecoveryResult {
  fleet: string;
  seed: number;
  kills: number;
  samples: RecoverySample[];
  /** Samples with both timings (the others carry a `problem`). */
  measured: number;
  errorMs?: Summary;
  absErrorMs?: Summary;
  driftlessMs?: Summary;
  engineMs?: Summary;
  meanKillEndpointErrorMs?: number;
  meanRecoveredEndpointErrorMs?: number;
  /** How often DockerProvider.waitForCapacity lists the fleet while waiting (runExperiment passes no pollMs). */
  pollIntervalMs: number;
  /** Median wall time of one DockerProvider.list() on this engine: it adds to the recovered endpoint. */
  listMs: Summary;
  note: string;
}

const FLEET = 'cattle';
const LABELS = { 'driftless.fleet': 'cattle', 'driftless.lab.role': 'host' };
const OPT_IN = 'driftless.chaos=opt-in';
const SLOT = 'driftless.slot';
const POLL_MS = 200; // DockerProvider.waitForCapacity's default
const PAUSE_MS = 2000;

interface EngineEvent {
  id?: string;
  Action?: string;
  status?: string;
  timeNano?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Container events in [sinceMs, untilMs] from the engine's log (the call returns at `until`). */
async function containerEvents(docker: Docker, sinceMs: number, untilMs: number): Promise<EngineEvent[]> {
  const stream = await docker.getEvents({
    since: Math.floor(sinceMs / 1000),
    until: Math.ceil(untilMs / 1000),
    filters: { type: ['container'] },
  } as Docker.GetEventsOptions);
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) text += chunk.toString();
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EngineEvent);
}

const actionOf = (e: EngineEvent) => e.Action ?? e.status ?? '';
const idOf = (e: EngineEvent) => e.Actor?.ID ?? e.id ?? '';
const msOf = (e: EngineEvent) => Number(e.timeNano) / 1e6;

/** The fleet at capacity and the LB answering /health with 200 three times in a row. */
async function waitHealthy(inv: DockerProvider, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await inv.waitForCapacity({ timeoutMs });
  let okInRow = 0;
  while (okInRow < 3) {
    if (Date.now() > deadline) throw new Error(`the cattle fleet is not healthy after ${timeoutMs / 1000} s: ${url}/health did not answer 200`);
    const r = await httpGet(`${url}/health`, 2000);
    okInRow = r.ok ? okInRow + 1 : 0;
    await sleep(100);
  }
}

function sampleOf(res: ExperimentResult, events: EngineEvent[], slot: string | undefined): RecoverySample {
  const victim = res.killed[0]!.host;
  const killEv = res.timeline.find((e) => e.kind === 'kill')!;
  const recEv = res.timeline.find((e) => e.kind === 'recovered');
  const base: RecoverySample = { victim: victim.id, victimId: victim.instanceId, driftlessMs: Number.NaN };
  if (!recEv) return { ...base, problem: `no recovered event: ${res.recoveryError ?? 'unknown'}` };
  base.driftlessMs = recEv.t.getTime() - killEv.t.getTime();

  const engineKill = events.find((e) => actionOf(e) === 'kill' && idOf(e) === victim.instanceId);
  const engineDie = events.find((e) => actionOf(e) === 'die' && idOf(e) === victim.instanceId);
  if (!engineKill) return { ...base, problem: 'the engine logged no kill event for the victim' };
  // The replacement: a new container of the same fleet and slot, started after the victim died.
  const after = engineDie ? msOf(engineDie) : msOf(engineKill);
  const start = events.find((e) => {
    const a = e.Actor?.Attributes ?? {};
    return actionOf(e) === 'start' && idOf(e) !== victim.instanceId && a['driftless.fleet'] === FLEET && a[SLOT] === slot && msOf(e) >= after;
  });
  const s: RecoverySample = {
    ...base,
    killEndpointErrorMs: round(killEv.t.getTime() - msOf(engineKill), 1),
    ...(engineDie ? { engineKillToDieMs: round(msOf(engineDie) - msOf(engineKill), 1) } : {}),
  };
  if (!start) return { ...s, problem: `the engine logged no start of a replacement in slot ${slot} after the victim died` };
  const engineMs = msOf(start) - msOf(engineKill);
  return {
    ...s,
    replacementId: idOf(start),
    engineMs: round(engineMs, 1),
    errorMs: round(base.driftlessMs - engineMs, 1),
    recoveredEndpointErrorMs: round(recEv.t.getTime() - msOf(start), 1),
  };
}

const mean = (xs: number[]) => (xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 1) : undefined);

export async function benchRecovery(opts: RecoveryOptions = {}): Promise<RecoveryResult> {
  const kills = opts.kills ?? 10;
  const url = opts.url ?? 'http://127.0.0.1:21000';
  const seed = opts.seed ?? newSeed();
  if (!Number.isInteger(kills) || kills < 1) throw new Error(`kills ${kills}: give a whole number of 1 or more`);
  const inv = new DockerProvider({ name: FLEET, labels: LABELS, optInLabel: OPT_IN });
  const docker = await inv.engine();
  log(`recovery: ${kills} SIGKILLs of fleet "${FLEET}", seed ${seed}`);

  const listTimes: number[] = [];
  const samples: RecoverySample[] = [];
  try {
    for (let k = 0; k < kills; k++) {
      await waitHealthy(inv, url);
      const t0 = performance.now();
      const hosts = await inv.list();
      listTimes.push(performance.now() - t0);
      // The suite's own choice: opted-in and running, shuffled by the seed (one seed per kill).
      const { victims } = chooseVictims({ hosts, seed: (seed + k) >>> 0, count: 1, maxKills: 1, fleet: FLEET });
      const victim = victims[0]!;
      const slot = victim.labels[SLOT];
      const since = Date.now() - 1000;
      const res = await runExperiment({ inventory: inv, victims, kind: 'sigkill', dryRun: false, recoveryDeadlineMs: 30_000 });
      // Let the replacement's start land in the log, then read the engine's events up to now.
      await waitHealthy(inv, url);
      const events = await containerEvents(docker, since, Date.now());
      const s = sampleOf(res, events, slot);
      samples.push(s);
      log(
        `recovery: ${k + 1}/${kills} ${s.victim}: driftless ${s.driftlessMs} ms, engine ${s.engineMs ?? '?'} ms, error ${s.errorMs ?? '?'} ms ` +
          `(kill ${s.killEndpointErrorMs ?? '?'} ms, recovered ${s.recoveredEndpointErrorMs ?? '?'} ms)${s.problem ? `: ${s.problem}` : ''}`,
      );
      if (k < kills - 1) await sleep(PAUSE_MS);
    }
  } finally {
    // Whatever happened, leave the fleet as found: back at capacity (the supervisor replaces).
    await waitHealthy(inv, url).catch((err: unknown) => log(`recovery: WARNING the fleet did not come back: ${String(err)}`));
  }

  const ok = samples.filter((s) => s.errorMs !== undefined);
  const errs = ok.map((s) => s.errorMs!);
  return {
    fleet: FLEET,
    seed,
    kills,
    samples,
    measured: ok.length,
    ...(ok.length
      ? {
          errorMs: summarize(errs),
          absErrorMs: summarize(errs.map(Math.abs)),
          driftlessMs: summarize(ok.map((s) => s.driftlessMs)),
          engineMs: summarize(ok.map((s) => s.engineMs!)),
          meanKillEndpointErrorMs: mean(ok.map((s) => s.killEndpointErrorMs!)),
          meanRecoveredEndpointErrorMs: mean(ok.map((s) => s.recoveredEndpointErrorMs!)),
        }
      : {}),
    pollIntervalMs: POLL_MS,
    listMs: summarize(listTimes),
    note:
      'kill endpoint: driftless stamps its kill event when the engine API call returns, a few ms after the engine logs the kill. ' +
      `recovered endpoint: waitForCapacity lists the fleet every ${POLL_MS} ms (each list = listContainers + one inspect per host) ` +
      'and stamps "recovered" when a list shows desired capacity running, so it lags the replacement\'s start by up to one poll ' +
      'interval plus one list. A negative recovered error means a list counted the fleet at capacity before the replacement started ' +
      '(e.g. the victim still shown running right after the kill call returned).',
  };
}
