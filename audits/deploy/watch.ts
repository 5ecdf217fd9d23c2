/**
 * Watches a deploy. Driven: snapshot every fleet the deploy rolls out to, write state keys and
 * start load through each entrypoint, list the fleets every `deploy.sampleMs` while the user's
 * deploy command runs, snapshot again, read the keys back, and ask the provider what happened to
 * the instances in place. Observed: the "before" is a snapshot taken earlier (`driftless
 * snapshot`), the "after" is this run's inventory, and only the engine's record is read.
 */
import path from 'node:path';
import type { Config, Release } from '../../core/config.ts';
import { errorMessage } from '../../core/errors.ts';
import type { Host, ProviderKind, SnapshotHost } from '../../core/inventory.ts';
import { redact, secretValues } from '../../core/redact.ts';
import { progress } from '../../core/run.ts';
import { type CommandRun, runCommand } from '../../probes/command.ts';
import { deployEnv } from './deploy-env.ts';
import { type Bucket, checkSustained, errorRate, loadClock, p99, startLoad } from '../../probes/http-load.ts';
import { sleep } from '../../probes/net.ts';
import { readStateKeys, type StateProbeResult, writeStateKeys } from '../../probes/state-probe.ts';
import type { InPlaceChange, Provider } from '../../providers/provider.ts';
import { providerFor } from '../../providers/registry.ts';
import { renderTimelineSvg } from '../chaos/timeline-chart.ts';
import { launchConfigsOf, type LaunchReading } from '../launch-diff.ts';

/** What a host was, as far as the deploy judgement needs: one shape for live listings and snapshots. */
export interface Incarnation {
  id: string;
  instanceId: string;
  service?: string;
  image: Host['image'];
  state: string;
}

export interface FleetWatch {
  fleet: string;
  provider: ProviderKind;
  service?: string;
  before: Incarnation[];
  after: Incarnation[];
  desired?: number;
  /** Running instances at each sample (ms on the load clock, or since the command started). */
  samples: Array<{ t: number; running: number; old: number; fresh: number }>;
  load?: { buckets: Bucket[]; requests: number; errorRate: number; p99Ms: number; achievedRate: number; rateProblem?: string };
  stateWrites?: { asked: number; written: number; failed: Array<{ key: string; error: string }> };
  state?: StateProbeResult;
  changes?: InPlaceChange[];
  changesError?: string;
  /** How each instance of before was launched, by instance id (the new release's instances are compared with it). */
  launchBefore?: Record<string, LaunchReading>;
  svg?: string;
  error?: string;
}

export interface DeployOutcome {
  mode: 'driven' | 'observed';
  /** When the watched window starts and ends (the command's run, or snapshot to now). */
  from: string;
  to: string;
  command?: CommandRun;
  /** The release the fleets must run after the deploy (re-read once the command finished). */
  release: Release;
  fleets: FleetWatch[];
  /** Why the deploy cannot be judged at all (its command failed, the release could not be read). */
  notJudged?: string;
}

const incarnation = (h: Host | SnapshotHost): Incarnation => ({
  id: h.id,
  instanceId: h.instanceId,
  ...(h.service ? { service: h.service } : {}),
  image: h.image,
  state: h.state,
});
const say = (line: string) => progress('deploy', line);

interface Watched {
  fleet: string;
  target: Config['targets'][number];
  provider: Provider;
  before: Host[];
  launchBefore: Record<string, LaunchReading>;
  desired?: number;
  samples: FleetWatch['samples'];
}

/** Driven mode: runs deploy.command while watching every fleet it rolls out to. */
export async function watchDeploy(config: Config, fleets: string[], runId: string, reloadRelease: () => Release): Promise<DeployOutcome> {
  const d = config.deploy!;
  const c = config.chaos;
  const watched: Watched[] = [];
  for (const name of fleets) {
    const target = config.targets.find((t) => t.name === name)!;
    const provider = await providerFor(target, config);
    const before = await provider.list();
    const desired = await provider.desiredCapacity().catch(() => undefined);
    const launchBefore = await launchConfigsOf(provider, before);
    watched.push({ fleet: name, target, provider, before, launchBefore, ...(desired !== undefined ? { desired } : {}), samples: [] });
    say(`${name}: ${before.length} instances before the deploy (${before.map((h) => h.id).join(', ')})`);
  }
  const states = new Map<string, { writes: Awaited<ReturnType<typeof writeStateKeys>> }>();
  for (const w of watched) {
    if (!w.target.entrypoint) continue;
    states.set(w.fleet, {
      writes: await writeStateKeys(w.target.entrypoint, c.stateProbe.keys, `${runId}-deploy-${w.fleet}`, { servedByHeader: c.stateProbe.servedByHeader }),
    });
  }
  const durationMs = d.timeoutSeconds * 1000 + 30_000;
  const loads = new Map(
    watched
      .filter((w) => w.target.entrypoint)
      .map((w) => [w.fleet, startLoad({ url: w.target.entrypoint!, path: c.load.path, rate: c.load.rate, durationMs })]),
  );
  const t0 = Date.now();
  let sampling = true;
  const samplers = watched.map(async (w) => {
    const old = new Set(w.before.map((h) => h.instanceId));
    const load = loads.get(w.fleet);
    while (sampling) {
      // A listing that failed is no sample (not "0 running"): the gap it leaves is judged as one.
      const listed = await w.provider.list().catch(() => undefined);
      const t = load ? loadClock(load, new Date()) : Date.now() - t0;
      const now = listed?.filter((h) => h.state === 'running');
      if (now)
        w.samples.push({
          t,
          running: now.length,
          old: now.filter((h) => old.has(h.instanceId)).length,
          fresh: now.filter((h) => !old.has(h.instanceId)).length,
        });
      await sleep(d.sampleMs);
    }
  });
  await sleep(1000); // a second of load and samples before the deploy: the chart's baseline
  const secrets = secretValues(config);
  say(`running the deploy: ${redact(d.command.join(' '), secrets)} (timeout ${d.timeoutSeconds} s)`);
  const started = new Date();
  const command = await runCommand(d.command, {
    cwd: path.dirname(config.source.file),
    timeoutMs: d.timeoutSeconds * 1000,
    env: deployEnv(d.env ?? [], process.env), // only what deploy.env names, never all of ours
    secrets, // redacted before the output is cut to its tail: a cut cannot split a secret in two
    onLine: (l) => say(`  | ${redact(l, secrets).slice(0, 300)}`), // the run's log is no place for a secret either
  });
  const ended = new Date();
  say(
    `the deploy command ended: ${command.timedOut ? 'TIMED OUT' : command.spawnError ? `could not start: ${command.spawnError}` : `exit ${command.exitCode}`}`,
  );
  await sleep(1000); // the fleet after the deploy, under load, before the window closes
  sampling = false;
  await Promise.all(samplers);
  for (const l of loads.values()) l.stop();

  let release: Release = config.release;
  let notJudged: string | undefined;
  if (command.spawnError) notJudged = `the deploy command could not be started: ${command.spawnError}`;
  else if (command.timedOut) notJudged = `the deploy command did not finish within deploy.timeoutSeconds (${d.timeoutSeconds} s) and was stopped`;
  else if (command.exitCode !== 0) notJudged = `the deploy command failed (exit ${command.exitCode ?? command.signal}): a deploy that fails is not judged`;
  else {
    try {
      release = reloadRelease();
    } catch (err) {
      notJudged = `the release could not be read after the deploy: ${errorMessage(err)}`;
    }
  }

  const out: FleetWatch[] = [];
  for (const w of watched) {
    const f: FleetWatch = {
      fleet: w.fleet,
      provider: w.target.provider,
      ...(w.target.service ? { service: w.target.service } : {}),
      before: w.before.map(incarnation),
      after: [],
      launchBefore: w.launchBefore,
      ...(w.desired !== undefined ? { desired: w.desired } : {}),
      samples: w.samples,
    };
    try {
      const after = await w.provider.list();
      f.after = after.map(incarnation);
      const load = loads.get(w.fleet);
      if (load) {
        const rec = await load.done;
        const from = loadClock(rec, started);
        const to = loadClock(rec, ended) + 1000;
        const inWindow = rec.records.filter((r) => r.t >= from && r.t <= to);
        const sustained = checkSustained(rec);
        f.load = {
          buckets: rec.buckets,
          requests: inWindow.length,
          errorRate: errorRate(rec.buckets, from, to),
          p99Ms: p99(rec.records, from, to),
          achievedRate: rec.achievedRate,
          ...(sustained.ok ? {} : { rateProblem: sustained.message! }),
        };
        f.svg = renderTimelineSvg({
          title: `${w.fleet}: deploy under ${c.load.rate} req/s`,
          subtitle: `instances running (green), old ones left (marks); error rate while it rolled ${(f.load.errorRate * 100).toFixed(2)}%, p99 ${f.load.p99Ms} ms`,
          buckets: rec.buckets,
          healthy: w.samples.map((s) => ({ t: s.t, healthy: s.running })),
          ...(w.desired !== undefined ? { desired: w.desired } : {}),
          marks: [{ t: from, label: 'deploy started' }, { t: loadClock(rec, ended), label: 'deploy ended' }, ...lastOld(w.samples)],
        });
      }
      const st = states.get(w.fleet);
      if (st && w.target.entrypoint) {
        f.stateWrites = { asked: c.stateProbe.keys, written: st.writes.written.length, failed: st.writes.failed };
        f.state = await readStateKeys(w.target.entrypoint, st.writes.written, {
          servedByHeader: c.stateProbe.servedByHeader,
          alsoDelete: st.writes.failed.map((x) => x.key),
        });
      }
      if (w.provider.inPlaceChanges) {
        const ids = [...new Set([...w.before, ...after].map((h) => h.instanceId))];
        try {
          f.changes = await w.provider.inPlaceChanges(ids, started, ended);
        } catch (err) {
          f.changesError = `could not read the engine's record of the deploy window: ${errorMessage(err)}`;
        }
      }
    } catch (err) {
      f.error = `could not watch fleet ${w.fleet} after the deploy: ${errorMessage(err)}`;
    }
    out.push(f);
  }
  return { mode: 'driven', from: started.toISOString(), to: ended.toISOString(), command, release, fleets: out, ...(notJudged ? { notJudged } : {}) };
}

/** The moment the last old instance left service, as a chart mark. */
function lastOld(samples: FleetWatch['samples']): Array<{ t: number; label: string }> {
  const i = samples.findIndex((s) => s.old === 0);
  return i > 0 ? [{ t: samples[i]!.t, label: 'last old instance gone' }] : [];
}

/** Observed mode: a snapshot taken before the pipeline deployed, against this run's inventory. */
export async function judgeObserved(
  config: Config,
  fleets: string[],
  before: { takenAt: string; fleets: Array<{ target: string; hosts: SnapshotHost[] }> },
  now: Array<{ target: string; hosts: SnapshotHost[]; error?: string }>,
): Promise<DeployOutcome> {
  const to = new Date();
  const out: FleetWatch[] = [];
  for (const name of fleets) {
    const target = config.targets.find((t) => t.name === name)!;
    const was = before.fleets.find((f) => f.target === name);
    const is = now.find((f) => f.target === name);
    const f: FleetWatch = {
      fleet: name,
      provider: target.provider,
      ...(target.service ? { service: target.service } : {}),
      before: (was?.hosts ?? []).map(incarnation),
      after: (is?.hosts ?? []).map(incarnation),
      samples: [],
    };
    if (!was) f.error = `the --before snapshot has no fleet ${name}: take it with the same config (driftless snapshot -o before.json)`;
    else if (!is || is.error) f.error = `fleet ${name} could not be listed now: ${is?.error ?? 'not in the inventory'}`;
    else {
      const provider = await providerFor(target, config);
      if (provider.inPlaceChanges) {
        const ids = [...new Set([...f.before, ...f.after].map((h) => h.instanceId))];
        try {
          f.changes = await provider.inPlaceChanges(ids, new Date(before.takenAt), to);
        } catch (err) {
          f.changesError = `could not read the engine's record since the snapshot: ${errorMessage(err)}`;
        }
      }
    }
    out.push(f);
  }
  return { mode: 'observed', from: before.takenAt, to: to.toISOString(), release: config.release, fleets: out };
}
