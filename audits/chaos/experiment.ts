/**
 * One chaos experiment per fleet, once per run: steady state first, state written, load on,
 * victims killed (seeded, opted-in only, capped, abortable), recovery awaited, replacements and
 * state verified. The result is plain JSON the chaos suite reads and attaches.
 */
import type { Config, Target } from '../../core/config.ts';
import { BASELINE_MS } from '../../core/chaos-rules.ts';
import { errorMessage } from '../../core/errors.ts';
import type { Host } from '../../core/inventory.ts';
import { progress } from '../../core/run.ts';
import { checkSustained, loadClock, startLoad, type Bucket } from '../../probes/http-load.ts';
import { sleep } from '../../probes/net.ts';
import { readStateKeys, writeStateKeys, type StateProbeResult } from '../../probes/state-probe.ts';
import type { Provider } from '../../providers/provider.ts';
import { providerFor } from '../../providers/registry.ts';
import { PRODUCTION_LIKE } from '../../core/environments.ts';
import type { KillBudget } from './budget.ts';
import { chaosWindowOf, type ChaosWindow } from './chaos-window.ts';
import { declaredImage } from '../declared-image.ts';
import { launchConfigsOf, type LaunchReading } from '../launch-diff.ts';
import { runExperiment, type ExperimentEvent, type ExperimentResult } from './kill-loop.ts';
import { loadCeilingMs, underLoad, type UnderLoad } from './load-span.ts';
import { timeToRecovery, verifyReplacements, type ReplacementCheck } from './replacements.ts';
import { steadyState } from './steady-state.ts';
import { stopCondition, type StopCause } from './stop-condition.ts';
import { renderTimelineSvg } from './timeline-chart.ts';
import { chooseVictims } from './victims.ts';

export interface ChaosOutcome {
  fleet: string;
  seed: number;
  dryRun: boolean;
  /** Why the experiment did not run (no opt-in, unsafe environment, not steady): checks are broken. */
  notRun?: string;
  eligible: string[];
  victims: string[];
  timeline: ExperimentEvent[];
  aborted: boolean;
  /** What stopped the killing: the fleet's errors, or a live window in which nothing was measured. */
  abortCause?: StopCause;
  recovered: boolean;
  recoveryError?: string;
  timeToRecoveryMs?: number;
  chaosWindow?: ChaosWindow;
  achievedRate?: number;
  rateProblem?: string;
  /** The load stopped before the experiment ended (a hung kill or look-up reached its ceiling). */
  loadProblem?: string;
  replacements: ReplacementCheck[];
  /**
   * How each victim was launched, by instance id, read before the first kill: the replacements
   * suite compares each replacement's launch configuration with its predecessor's.
   */
  predecessors?: Record<string, LaunchReading>;
  state?: StateProbeResult;
  /** Which instances answered the state writes (the servedByHeader), and which of them are hosts of the fleet. */
  stateHolders?: { header: string; servedBy: string[]; hosts: string[] };
  /** Keys asked for and keys a write succeeded for: fewer written than asked cannot prove state survives. */
  stateWrites?: { asked: number; written: number; failed: Array<{ key: string; error: string }> };
  buckets: Bucket[];
  svg?: string;
}

export async function runChaos(target: Target, config: Config, seed: number, runId: string, budget: KillBudget): Promise<ChaosOutcome> {
  const c = config.chaos;
  const out: ChaosOutcome = {
    fleet: target.name,
    seed,
    dryRun: c.dryRun,
    eligible: [],
    victims: [],
    timeline: [],
    aborted: false,
    recovered: false,
    replacements: [],
    buckets: [],
  };
  const say = (line: string) => progress('chaos', `${target.name}: ${line}`);
  if (!target.entrypoint) return { ...out, notRun: `target "${target.name}" has no entrypoint: set targets[].entrypoint to the fleet's load balancer URL` };
  if (target.environment && PRODUCTION_LIKE.test(target.environment) && !config.safety.allowProduction) {
    return {
      ...out,
      notRun: `target "${target.name}" is in environment "${target.environment}", which looks like production: chaos needs safety.allowProduction: true as well`,
    };
  }
  if (budget.remaining <= 0)
    return { ...out, notRun: `no instance of fleet "${target.name}" may be killed: the run's kill budget is spent (${budget.describe()})` };
  if (!target.environment || !config.safety.allowedEnvironments.includes(target.environment)) {
    return {
      ...out,
      notRun: `target "${target.name}" is in environment "${target.environment ?? '(none)'}", not one of safety.allowedEnvironments (${config.safety.allowedEnvironments.join(', ')}): chaos refused`,
    };
  }
  const inv = await providerFor(target, config);
  let before: Host[] = [];
  const victimOptions = (prefer?: ReadonlySet<string>) => ({
    hosts: before,
    seed,
    ...(c.kill.count !== undefined ? { count: c.kill.count } : {}),
    ...(c.kill.percent !== undefined ? { percent: c.kill.percent } : {}),
    maxKills: budget.remaining,
    optIn: config.safety.optInLabel,
    fleet: target.name,
    ...(prefer ? { prefer } : {}),
  });
  let victims: Host[] = [];
  try {
    before = await inv.list();
    const choice = chooseVictims(victimOptions());
    out.eligible = choice.eligible.map((h) => h.id);
    victims = choice.victims;
    out.victims = victims.map((h) => h.id);
    say(`seed ${seed}: ${choice.reason}; victims ${out.victims.join(', ')}${c.dryRun ? ' (DRY RUN: nothing will be killed)' : ''}`);
  } catch (err) {
    return { ...out, notRun: errorMessage(err) };
  }

  if (c.dryRun) return dryRun(out, inv, victims, config, budget, target.entrypoint, say);

  say(`steady state: ${c.load.warmupSeconds} s at ${c.load.rate} req/s`);
  const steady = await steadyState({ url: target.entrypoint, path: c.load.path, warmupMs: c.load.warmupSeconds * 1000, rate: c.load.rate, inventory: inv });
  if (!steady.ok) return { ...out, notRun: `no steady state before the experiment, so nothing was killed: ${steady.reason}` };

  const written = await writeStateKeys(target.entrypoint, c.stateProbe.keys, `${runId}-${target.name}`, {
    ...(c.stateProbe.writeRequests ? { writeRequests: c.stateProbe.writeRequests } : {}),
    servedByHeader: c.stateProbe.servedByHeader,
  });
  out.stateWrites = { asked: c.stateProbe.keys, written: written.written.length, failed: written.failed };
  // Who holds the state: the instances that answered the writes. Victims are drawn among them
  // first, so session affinity cannot route every read to a replica that was never killed.
  const servedBy = new Set(written.written.flatMap((k) => k.servedBy ?? []));
  const holders = new Set(before.filter((h) => servedBy.has(h.id)).map((h) => h.id));
  out.stateHolders = { header: c.stateProbe.servedByHeader, servedBy: [...servedBy].sort(), hosts: [...holders].sort() };
  if (holders.size) {
    const choice = chooseVictims(victimOptions(holders));
    victims = choice.victims;
    out.victims = victims.map((h) => h.id);
    say(`state written through ${[...holders].join(', ')}: ${choice.reason}`);
  } else {
    say(`which instance holds the state is unknown (no ${c.stateProbe.servedByHeader} header naming a host of the fleet): victims stay as drawn`);
  }
  // Read now: a killed container is gone (or replaced) by the time its replacement is audited.
  out.predecessors = await launchConfigsOf(inv, victims);
  // The load runs until the last kill's recovery is judged, and at least chaos.load.durationSeconds.
  const minLoadMs = c.load.durationSeconds * 1000;
  const ceilingMs = loadCeilingMs({
    minMs: minLoadMs,
    victims: victims.length,
    intervalMs: c.killIntervalSeconds * 1000,
    recoveryMs: c.slo.recoverySeconds * 1000,
  });
  const load = startLoad({ url: target.entrypoint, path: c.load.path, rate: c.load.rate, durationMs: ceilingMs });
  const healthy: Array<{ t: number; healthy: number }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const n = (await inv.list().catch(() => [])).filter((h) => h.state === 'running').length;
      healthy.push({ t: loadClock(load, new Date()), healthy: n });
      await sleep(250);
    }
  })();
  const stop = stopCondition(load, c.abortErrorRate, c.load.rate);
  let ran: UnderLoad<ExperimentResult>;
  try {
    ran = await underLoad(load, minLoadMs, async () => {
      await sleep(BASELINE_MS); // load before the first kill, so the chart shows the baseline
      return runExperiment({
        inventory: inv,
        victims,
        kind: c.kinds[0] ?? 'sigkill',
        dryRun: false,
        budget,
        intervalMs: c.killIntervalSeconds * 1000,
        abortWhen: stop.abortWhen,
        abortReason: stop.abortReason,
        recoveryDeadlineMs: c.slo.recoverySeconds * 1000,
        onEvent: (e) => say(`${e.kind}${e.host ? ` ${e.host}` : ''}: ${e.message}`),
      });
    });
  } finally {
    sampling = false;
    await sampler;
  }
  const { result: exp, recording: rec } = ran;
  if (ran.endedEarly) out.loadProblem = ran.endedEarly;

  out.timeline = exp.timeline;
  out.aborted = exp.aborted;
  if (exp.aborted) out.abortCause = stop.last()?.cause ?? 'error-rate';
  out.recovered = !!exp.capacity;
  if (exp.recoveryError) out.recoveryError = exp.recoveryError;
  out.buckets = rec.buckets;
  out.achievedRate = rec.achievedRate;
  const sustained = checkSustained(rec);
  if (!sustained.ok) out.rateProblem = sustained.message!;
  const kills = exp.killed.map((k) => ({ t: loadClock(rec, k.at), host: k.host.id }));
  if (kills.length) {
    const from = kills[0]!.t;
    out.chaosWindow = chaosWindowOf(rec, from);
    const ttr = timeToRecovery(from, rec.buckets, exp.capacity ? loadClock(rec, exp.capacity.reachedAt) : undefined);
    if (ttr !== undefined) out.timeToRecoveryMs = ttr;
  }
  const after = await inv.list();
  const service = before.find((h) => victims.some((v) => v.id === h.id))?.service;
  const digest = service !== undefined ? declaredImage(config.release.services[service], target.provider) : undefined;
  out.replacements = exp.killed.length
    ? verifyReplacements(
        before,
        after,
        exp.killed.map((k) => k.host),
        digest,
      )
    : [];
  out.state = await readStateKeys(target.entrypoint, written.written, {
    ...(c.stateProbe.readRequests ? { readRequests: c.stateProbe.readRequests } : {}),
    servedByHeader: c.stateProbe.servedByHeader,
    alsoDelete: written.failed.map((f) => f.key),
  });
  out.svg = renderTimelineSvg({
    title: `${target.name}: ${c.dryRun ? 'dry run' : `${c.kinds[0] ?? 'sigkill'} ${out.victims.join(', ')}`} under ${c.load.rate} req/s`,
    subtitle: `seed ${seed}; error rate in chaos window ${((out.chaosWindow?.errorRate ?? 0) * 100).toFixed(2)}%; p99 ${out.chaosWindow?.p99Ms ?? '-'} ms`,
    buckets: rec.buckets,
    healthy,
    desired: healthy.length ? Math.max(...healthy.map((h) => h.healthy)) : 0,
    kills,
  });
  say(
    `done: ${exp.killed.length} killed, recovered ${out.recovered}, ${out.state.missing.length} keys missing, ${out.state.changed.length} changed` +
      (out.state.cleanup.failed.length ? `; ${out.state.cleanup.failed.length} state keys could not be deleted (${out.state.cleanup.failed[0]!.error})` : ''),
  );
  return out;
}

/** A dry run sends nothing and kills nothing: it says whom it would have killed and what it would have sent. */
async function dryRun(
  out: ChaosOutcome,
  inv: Provider,
  victims: Host[],
  config: Config,
  budget: KillBudget,
  entrypoint: string,
  say: (line: string) => void,
): Promise<ChaosOutcome> {
  const c = config.chaos;
  const exp = await runExperiment({
    inventory: inv,
    victims,
    kind: c.kinds[0] ?? 'sigkill',
    dryRun: true,
    budget,
    onEvent: (e) => say(`${e.kind}${e.host ? ` ${e.host}` : ''}: ${e.message}`),
  });
  const would = (message: string) => {
    say(`dry run: ${message}`);
    return { t: new Date(), kind: 'dry-run' as const, message };
  };
  out.timeline = [
    would(`would check the steady state: ${c.load.warmupSeconds} s at ${c.load.rate} req/s through ${entrypoint}`),
    would(`would write ${c.stateProbe.keys} state keys through ${entrypoint} and read them back after the kills`),
    would(
      `would send ${c.load.rate} req/s through ${entrypoint} until the last kill's recovery is judged (within ${c.slo.recoverySeconds} s of it) and for at least ${c.load.durationSeconds} s, kills ${c.killIntervalSeconds} s apart, stopping at ${c.abortErrorRate * 100}% errors or a second with nothing measured`,
    ),
    ...exp.timeline,
  ];
  say(`dry run: nothing sent, nothing killed; would kill ${out.victims.join(', ') || 'nobody'}`);
  return out;
}
