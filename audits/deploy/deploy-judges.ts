/** Judges a watched deploy, per fleet, one judge per DL-DEP control. Pure: the outcome in, a result out. */
import { type CheckResult, json, type Judgement, text } from '../../core/check-result.ts';
import type { Config } from '../../core/config.ts';
import type { PlannedCheck } from '../../core/run-plan.ts';
import { declaredImage, runningImage, runsImage } from '../declared-image.ts';
import type { Judges } from '../suite.ts';
import type { DeployOutcome, FleetWatch } from './watch.ts';

/** Actions that change a running instance in place, whatever instance they hit. */
const PATCHING = new Set(['exec_create', 'extract-to-dir', 'restart', 'update']);

/** One watched fleet and the deploy it was watched in. */
export interface DeployUnit {
  o: DeployOutcome;
  f: FleetWatch;
}

/** What every deploy judge shows first: the deploy command and its output; or why the deploy cannot be judged (broken). */
export function deployUnit(o: DeployOutcome, check: PlannedCheck, j: Judgement): { unit: DeployUnit } | { result: CheckResult } {
  const f = o.fleets.find((x) => x.fleet === check.fleet);
  j.param('mode', o.mode);
  if (o.command) {
    j.attach(
      text(
        'deploy command',
        `$ ${o.command.argv.join(' ')}\n(cwd ${o.command.cwd}; ${o.command.startedAt.toISOString()} to ${o.command.endedAt.toISOString()}; ` +
          `${o.command.timedOut ? 'TIMED OUT' : `exit ${o.command.exitCode ?? o.command.signal}`})\n--- stdout\n${o.command.stdout}\n--- stderr\n${o.command.stderr}`,
      ),
    );
  }
  if (o.notJudged) return { result: j.broken(o.notJudged) };
  if (!f) return { result: j.broken(`fleet ${check.fleet} was not watched during the deploy`) };
  if (f.error) return { result: j.broken(f.error) };
  if (f.svg && check.control !== 'DL-DEP-005') j.attach({ name: 'deploy-timeline.svg', contentType: 'image/svg+xml', body: f.svg });
  return { unit: { o, f } };
}

/** One judge per deploy control. */
export const DEPLOY_JUDGES: Judges<'deploy', DeployUnit> = {
  'DL-DEP-001': (j, { f }) => judgeReplaced(j, f),
  'DL-DEP-002': (j, { f, o }) => judgeNewRelease(j, f, o),
  'DL-DEP-003': (j, { f, o }) => judgeNotPatched(j, f, o),
  'DL-DEP-004': (j, { f }, _c, run) => judgeCapacity(j, f, run.config),
  'DL-DEP-005': (j, { f }, _c, run) => judgeSlo(j, f, run.config),
  'DL-DEP-006': (j, { f }) => judgeState(j, f),
};

const ids = (hs: FleetWatch['before']) => hs.map((h) => `${h.id} (${h.instanceId.slice(0, 12)}, ${runningImage(h.image)?.slice(0, 19) ?? '?'})`);

function judgeReplaced(j: Judgement, f: FleetWatch): CheckResult {
  const old = new Set(f.before.map((h) => h.instanceId));
  const kept = f.after.filter((h) => old.has(h.instanceId) && h.state === 'running');
  j.attach(json('instances', { before: ids(f.before), after: ids(f.after), kept: ids(kept) }));
  if (f.before.length === 0) return j.broken(`fleet ${f.fleet} had no instance before the deploy: nothing shows it was replaced`);
  if (kept.length) {
    return j.fail(
      'not-replaced-on-deploy',
      `${kept.length} of ${f.before.length} instances served before the deploy and still serve after it (patched or kept, not replaced): ${kept.map((h) => h.id).join(', ')}`,
    );
  }
  return j.pass();
}

function judgeNewRelease(j: Judgement, f: FleetWatch, o: DeployOutcome): CheckResult {
  const running = f.after.filter((h) => h.state === 'running');
  const rows = running.map((h) => {
    const service = h.service ?? f.service;
    const want = service !== undefined ? declaredImage(o.release.services[service], f.provider) : undefined;
    return { host: h.id, service, running: runningImage(h.image), declared: want, ok: want !== undefined && runsImage(h.image, want) };
  });
  j.attach(json('release after the deploy', { release: o.release.name ?? null, hosts: rows }));
  if (running.length === 0) return j.fail('wrong-image', `no instance of fleet ${f.fleet} runs after the deploy`);
  const undeclared = rows.filter((r) => r.declared === undefined);
  if (undeclared.length)
    return j.broken(`the release declares no image for service ${undeclared[0]!.service ?? '(none)'}: what the deploy had to produce is unknown`);
  const wrong = rows.filter((r) => !r.ok);
  if (wrong.length) {
    return j.fail(
      'wrong-image',
      `${wrong.length} of ${rows.length} instances do not run the new release: ${wrong.map((r) => `${r.host} runs ${r.running?.slice(0, 19)}, release says ${r.declared?.slice(0, 19)}`).join('; ')}`,
    );
  }
  return j.pass();
}

function judgeNotPatched(j: Judgement, f: FleetWatch, o: DeployOutcome): CheckResult {
  if (f.changesError) return j.broken(f.changesError);
  if (!f.changes) return j.broken(`the provider of fleet ${f.fleet} keeps no record of in-place changes`);
  const old = new Set(f.before.map((h) => h.instanceId));
  const name = new Map([...f.before, ...f.after].map((h) => [h.instanceId, h.id]));
  const startsOfNew = new Map<string, number>();
  const patches = f.changes.filter((c) => {
    if (PATCHING.has(c.action)) return true;
    if (c.action !== 'start') return false;
    if (old.has(c.instanceId)) return true; // an instance of before started again: restarted in place
    const n = (startsOfNew.get(c.instanceId) ?? 0) + 1;
    startsOfNew.set(c.instanceId, n);
    return n > 1;
  });
  j.attach(json('engine events in the deploy window', { from: o.from, to: o.to, events: f.changes.map((c) => ({ ...c, host: name.get(c.instanceId) })) }));
  if (patches.length) {
    const what = (a: string) =>
      ({ exec_create: 'docker exec', 'extract-to-dir': 'copied into', restart: 'restarted', update: 'updated', start: 'started again' })[a] ?? a;
    return j.fail(
      'patched-in-place',
      `patched in place while the deploy ran: ${patches
        .slice(0, 8)
        .map((c) => `${name.get(c.instanceId) ?? c.instanceId.slice(0, 12)} ${what(c.action)}${c.command ? ` (${c.command.slice(0, 80)})` : ''} at ${c.time}`)
        .join('; ')}${patches.length > 8 ? `; … ${patches.length - 8} more` : ''}`,
    );
  }
  return j.pass();
}

function judgeCapacity(j: Judgement, f: FleetWatch, config: Config): CheckResult {
  const share = config.deploy!.minHealthyShare;
  j.attach(json('capacity samples', { desired: f.desired ?? null, minHealthyShare: share, samples: f.samples }));
  if (!f.desired) return j.broken(`the desired capacity of fleet ${f.fleet} is unknown: the share that stayed in service cannot be computed`);
  if (f.samples.length < 2) return j.broken(`only ${f.samples.length} capacity samples were taken while the deploy ran`);
  const gaps = f.samples.slice(1).map((s, i) => s.t - f.samples[i]!.t);
  const worstGap = Math.max(...gaps);
  const low = f.samples.reduce((m, s) => (s.running < m.running ? s : m), f.samples[0]!);
  const lowShare = low.running / f.desired;
  if (lowShare < share) {
    return j.fail(
      'capacity-dropped',
      `capacity fell to ${low.running} of ${f.desired} (${(lowShare * 100).toFixed(0)}%) at ${(low.t / 1000).toFixed(2)} s, under deploy.minHealthyShare ${(share * 100).toFixed(0)}%`,
    );
  }
  // Between two samples an instance can die and another start: the engine's own record of the
  // window (every die and start, in order) shows dips no sample caught.
  const between = lowestByEvents(f);
  if (between) {
    j.attach(json('capacity from the engine events', between));
    if (between.running / f.desired < share) {
      return j.fail(
        'capacity-dropped',
        `capacity fell to ${between.running} of ${f.desired} (${((between.running / f.desired) * 100).toFixed(0)}%) at ${between.at} between two samples (the engine's die and start events), under deploy.minHealthyShare ${(share * 100).toFixed(0)}%`,
      );
    }
  }
  // A sample gap wider than a second could hide a dip: then the samples do not prove it held.
  if (worstGap > Math.max(1000, config.deploy!.sampleMs * 4))
    return j.broken(`capacity was not sampled for ${worstGap} ms at one point: a dip in that gap cannot be ruled out`);
  return j.pass();
}

function judgeSlo(j: Judgement, f: FleetWatch, config: Config): CheckResult {
  if (f.svg) j.attach({ name: 'deploy-timeline.svg', contentType: 'image/svg+xml', body: f.svg });
  if (!f.load) return j.broken('no load was sent through the entrypoint while the deploy ran');
  j.attach(
    json('load while it rolled', {
      requests: f.load.requests,
      errorRate: f.load.errorRate,
      p99Ms: f.load.p99Ms,
      achievedRate: f.load.achievedRate,
      buckets: f.load.buckets,
    }),
  );
  if (f.load.rateProblem) return j.broken(f.load.rateProblem);
  if (f.load.requests === 0) return j.broken('no request fell in the deploy window');
  const slo = config.chaos.slo;
  if (f.load.errorRate > slo.maxErrorRate)
    return j.fail('slo-breach', `error rate while the deploy rolled ${(f.load.errorRate * 100).toFixed(2)}% > SLO ${(slo.maxErrorRate * 100).toFixed(2)}%`);
  if (f.load.p99Ms > slo.p99Ms) return j.fail('slo-breach', `p99 while the deploy rolled ${f.load.p99Ms} ms > SLO ${slo.p99Ms} ms`);
  return j.pass();
}

function judgeState(j: Judgement, f: FleetWatch): CheckResult {
  const s = f.state;
  const w = f.stateWrites;
  if (!s || !w) return j.broken('the state probe did not run');
  j.attach(json('state probe', { writes: w, missing: s.missing, changed: s.changed, unreadable: s.unreadable, reads: s.reads, cleanup: s.cleanup }));
  if (s.cleanup.failed.length) j.attach(json('state keys left in the store (could not be deleted)', s.cleanup.failed));
  if (s.missing.length || s.changed.length)
    return j.fail('state-lost', `state lost in the deploy: ${s.missing.length} of ${s.written.length} keys missing, ${s.changed.length} changed`);
  if (w.written < w.asked)
    return j.broken(`only ${w.written} of ${w.asked} state keys could be written before the deploy: what was never written cannot show whether state survives`);
  if (s.unreadable.length) return j.broken(`${s.unreadable.length} keys could not be read back: ${s.unreadable[0]!.error}`);
  return j.pass();
}

/** The fewest instances running at any moment of the window, replaying the engine's die and start events. */
function lowestByEvents(f: FleetWatch): { running: number; at: string; events: number } | undefined {
  const evs = (f.changes ?? []).filter((c) => c.action === 'die' || c.action === 'start');
  if (!evs.length || !f.samples.length) return undefined;
  const up = new Set<string>();
  // Who was running when the window opened: every instance of before that was running, less
  // those whose first event in the window is a start (they were not running yet).
  const firstAction = new Map<string, string>();
  for (const e of evs) if (!firstAction.has(e.instanceId)) firstAction.set(e.instanceId, e.action);
  for (const h of f.before) if (h.state === 'running' && firstAction.get(h.instanceId) !== 'start') up.add(h.instanceId);
  let low = { running: up.size, at: 'the start of the deploy', events: evs.length };
  for (const e of evs) {
    if (e.action === 'die') up.delete(e.instanceId);
    else up.add(e.instanceId);
    if (up.size < low.running) low = { running: up.size, at: e.time, events: evs.length };
  }
  return low;
}
