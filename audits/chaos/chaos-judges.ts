/** Judges one fleet's chaos experiment, one judge per DL-CHAOS control. Pure: the outcome in, a result out. */
import { type CheckResult, json, type Judgement } from '../../core/check-result.ts';
import type { Config } from '../../core/config.ts';
import type { PlannedCheck } from '../../core/run-plan.ts';
import type { Judges } from '../suite.ts';
import { thinWindow } from './chaos-window.ts';
import type { ChaosOutcome } from './experiment.ts';

/** What every chaos judge shows first: the experiment, its seed and timeline; or why it did not run (broken). */
export function chaosUnit(
  outcomes: Map<string, ChaosOutcome | { error: string }>,
  check: PlannedCheck,
  j: Judgement,
): { unit: ChaosOutcome } | { result: CheckResult } {
  const o = outcomes.get(check.fleet);
  if (!o) return { result: j.broken(`the chaos experiment on fleet ${check.fleet} did not run`) };
  if ('error' in o) return { result: j.broken(o.error) };
  j.param('seed', String(o.seed));
  j.attach(json('experiment', { seed: o.seed, dryRun: o.dryRun, eligible: o.eligible, victims: o.victims, timeline: o.timeline, notRun: o.notRun }));
  if (o.notRun) return { result: j.broken(o.notRun) };
  // The timeline (kills, capacity, errors) is what an auditor reads each chaos finding against.
  if (o.svg && check.control !== 'DL-CHAOS-004') j.attach({ name: 'timeline.svg', contentType: 'image/svg+xml', body: o.svg });
  return { unit: o };
}

/** One judge per chaos control. */
export const CHAOS_JUDGES: Judges<'chaos', ChaosOutcome> = {
  'DL-CHAOS-001': (j, o) => judgeState(j, o),
  'DL-CHAOS-002': (j, o) => judgeReplaced(j, o),
  'DL-CHAOS-003': (j, o, _c, run) => judgeRecovery(j, o, run.config),
  'DL-CHAOS-004': (j, o, _c, run) => judgeSlo(j, o, run.config),
};

function judgeState(j: Judgement, o: ChaosOutcome): CheckResult {
  const s = o.state;
  const w = o.stateWrites;
  if (w) j.attach(json('state writes', w));
  if (o.dryRun) return j.skip('dry run: no state was written, nothing was killed');
  // State read back from a fleet where nobody died proves nothing about statelessness.
  const none = noKill(o);
  if (!s || !w) return j.broken(none ?? 'the state probe did not run');
  const readers = [...new Set(s.reads.map((r) => r.servedBy).filter(Boolean))];
  j.attach(
    json('state probe', {
      written: s.written.length,
      holders: o.stateHolders ?? null,
      readFrom: readers,
      note:
        readers.length === 1
          ? `every read was answered by one instance (${readers[0]}): the load balancer sticks; the victims were drawn among the holders of the state so its loss still shows`
          : undefined,
      missing: s.missing,
      changed: s.changed,
      unreadable: s.unreadable,
      reads: s.reads,
      cleanup: s.cleanup, // the keys deleted once read; `failed` were left in the target's store
    }),
  );
  if (s.cleanup.failed.length) j.attach(json('state keys left in the store (could not be deleted)', s.cleanup.failed));
  if (none) return j.broken(none);
  if (s.missing.length || s.changed.length) {
    return j.fail('state-lost', `state lost — not stateless: ${s.missing.length} of ${s.written.length} keys missing, ${s.changed.length} changed`);
  }
  if (w.written < w.asked) {
    const first = w.failed[0];
    return j.broken(
      `only ${w.written} of ${w.asked} state keys could be written through the entrypoint${first ? ` (first failure: ${first.key}: ${first.error})` : ''}: ` +
        'what was never written cannot show whether state survives',
    );
  }
  if (s.unreadable.length) return j.broken(`${s.unreadable.length} keys could not be read back: ${s.unreadable[0]!.error}`);
  return j.pass();
}

function judgeReplaced(j: Judgement, o: ChaosOutcome): CheckResult {
  j.attach(json('replacements', o.replacements));
  if (o.dryRun) return j.skip('dry run: nothing was killed');
  const bad = o.replacements.filter((r) => r.verdict !== 'replaced');
  if (bad.length) {
    // Gone without a successor, or still the same instance: not replaced; the same instance started
    // again: restarted in place; a new instance of another image: wrong image.
    const kind = bad.some((b) => b.verdict === 'missing' || b.verdict === 'unchanged')
      ? 'not-replaced'
      : bad.some((b) => b.verdict === 'restarted-in-place')
        ? 'restarted-in-place'
        : 'wrong-image';
    return j.fail(kind, `victims not replaced by a new instance of the release image: ${bad.map((b) => `${b.host}: ${b.verdict} — ${b.detail}`).join('; ')}`);
  }
  if (o.replacements.length !== o.victims.length) {
    return j.broken(`${o.replacements.length} replacement verdicts for ${o.victims.length} victims: not every victim was judged`);
  }
  return j.pass();
}

/** Why no instance died, when none did (the kills failed, or the stop condition spared them all). */
function noKill(o: ChaosOutcome): string | undefined {
  if (o.timeline.some((e) => e.kind === 'kill')) return undefined;
  const why = o.timeline.filter((e) => e.kind === 'kill-failed' || e.kind === 'abort').map((e) => e.message);
  return `no instance was killed${why.length ? ` (${why.join('; ')})` : ''}: there is nothing to judge`;
}

function judgeRecovery(j: Judgement, o: ChaosOutcome, config: Config): CheckResult {
  if (o.dryRun) return j.skip('dry run: nothing was killed');
  const none = noKill(o);
  if (none) return j.broken(none);
  j.attach(
    json('recovery', {
      recovered: o.recovered,
      timeToRecoveryMs: o.timeToRecoveryMs,
      deadlineSeconds: config.chaos.slo.recoverySeconds,
      error: o.recoveryError,
    }),
  );
  if (!o.recovered) return j.fail('slow-recovery', `not back at capacity within ${config.chaos.slo.recoverySeconds} s: ${o.recoveryError}`);
  return j.pass();
}

function judgeSlo(j: Judgement, o: ChaosOutcome, config: Config): CheckResult {
  if (o.svg) j.attach({ name: 'timeline.svg', contentType: 'image/svg+xml', body: o.svg });
  j.attach(json('buckets.json', { buckets: o.buckets, chaosWindow: o.chaosWindow, achievedRate: o.achievedRate }));
  if (o.rateProblem) return j.broken(o.rateProblem);
  if (o.dryRun) return j.skip('dry run: no chaos window');
  const stopped = o.timeline.find((e) => e.kind === 'abort')?.message;
  // Stopped for the fleet's errors: a breach. Stopped because nothing was measured: no finding yet.
  if (o.aborted && o.abortCause !== 'nothing-measured')
    return j.fail('slo-breach', `the experiment was aborted: ${stopped ?? 'the error rate crossed chaos.abortErrorRate'}`);
  if (!o.chaosWindow) return j.broken(noKill(o) ?? 'no chaos window was recorded');
  const w = o.chaosWindow;
  const thin = thinWindow(w, o.timeline.filter((e) => e.kind === 'kill').length);
  if (thin) return j.broken(thin);
  const slo = config.chaos.slo;
  if (w.errorRate > slo.maxErrorRate)
    return j.fail('slo-breach', `error rate ${(w.errorRate * 100).toFixed(2)}% > SLO ${(slo.maxErrorRate * 100).toFixed(2)}%`);
  if (w.p99Ms > slo.p99Ms) return j.fail('slo-breach', `p99 ${w.p99Ms} ms > SLO ${slo.p99Ms} ms`);
  if (o.loadProblem) return j.broken(o.loadProblem);
  if (o.aborted) return j.broken(`the experiment was stopped before every victim was killed, with nothing measured: ${stopped ?? 'the stop condition'}`);
  return j.pass();
}
