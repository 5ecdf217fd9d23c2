/**
 * Statelessness — kill random instances under load.
 *
 * Per fleet with an entrypoint: steady state first; K keys written; load on; opted-in victims
 * killed (seeded, capped); then: no state lost, every victim replaced by a NEW instance of the
 * SAME digest, the fleet back at capacity by the deadline, errors and p99 within the SLO.
 */
import * as allure from 'allure-js-commons';
import { labelCheck, probeError, violation } from '../fixtures/evidence.ts';
import { runChaos, type ChaosOutcome } from '../fixtures/chaos-experiment.ts';
import { cachedInRun, runConfig, runContext } from '../fixtures/run-context.ts';
import { expect, test } from '../fixtures/test.ts';

const config = runConfig();
const FEATURE = 'Chaos kill';
const CONTROLS = { state: 'DL-CHAOS-001', replaced: 'DL-CHAOS-002', recovery: 'DL-CHAOS-003', slo: 'DL-CHAOS-004' } as const;

test.describe.configure({ mode: 'default' });

for (const target of config.targets.filter((t) => t.entrypoint && t.provider !== 'ssh')) {
  test.describe(`fleet ${target.name}`, () => {
    let outcome: ChaosOutcome;
    test.beforeAll(async () => {
      test.setTimeout(300_000);
      const run = runContext();
      outcome = await cachedInRun(`chaos-${target.name}`, () => runChaos(target, config, run.seed, run.runId));
    });

    const common = async (story: string, control: string, evidence: { json: (n: string, v: unknown) => Promise<void> }) => {
      await labelCheck({ epic: 'Statelessness', feature: FEATURE, story, control, fleet: target.name, config });
      await allure.parameter('seed', String(outcome.seed));
      await evidence.json('experiment', { seed: outcome.seed, dryRun: outcome.dryRun, eligible: outcome.eligible, victims: outcome.victims, timeline: outcome.timeline, notRun: outcome.notRun });
      if (outcome.notRun) await probeError(outcome.notRun);
    };

    test(`${CONTROLS.state} no state is lost when instances die`, async ({ evidence }) => {
      await common('state survives', CONTROLS.state, evidence);
      const s = outcome.state!;
      await evidence.json('state probe', { written: s.written.length, missing: s.missing, changed: s.changed, unreadable: s.unreadable, reads: s.reads });
      if (s.missing.length || s.changed.length) await violation('state-lost');
      expect({ missing: s.missing, changed: s.changed }, `state lost — not stateless: ${s.missing.length} of ${s.written.length} keys missing, ${s.changed.length} changed`).toEqual({ missing: [], changed: [] });
      if (s.unreadable.length) await probeError(`${s.unreadable.length} keys could not be read back: ${s.unreadable[0]!.error}`);
    });

    test(`${CONTROLS.replaced} every victim is replaced by a NEW instance of the SAME digest`, async ({ evidence }) => {
      await common('replaced, not repaired', CONTROLS.replaced, evidence);
      await evidence.json('replacements', outcome.replacements);
      test.skip(outcome.dryRun, 'dry run: nothing was killed');
      const bad = outcome.replacements.filter((r) => r.verdict !== 'replaced');
      if (bad.length) await violation(bad.some((b) => b.verdict === 'restarted-in-place') ? 'not-replaced' : 'wrong-image');
      expect(bad.map((b) => `${b.host}: ${b.verdict} — ${b.detail}`), 'victims not replaced by a new instance of the release image').toEqual([]);
      expect(outcome.replacements.length).toBe(outcome.victims.length);
    });

    test(`${CONTROLS.recovery} the fleet is back at desired capacity by the deadline`, async ({ evidence }) => {
      await common('recovery', CONTROLS.recovery, evidence);
      test.skip(outcome.dryRun, 'dry run: nothing was killed');
      await evidence.json('recovery', { recovered: outcome.recovered, timeToRecoveryMs: outcome.timeToRecoveryMs, deadlineSeconds: config.chaos.slo.recoverySeconds, error: outcome.recoveryError });
      if (!outcome.recovered) await violation('slow-recovery');
      expect(outcome.recovered, `not back at capacity within ${config.chaos.slo.recoverySeconds} s: ${outcome.recoveryError}`).toBe(true);
    });

    test(`${CONTROLS.slo} errors and p99 latency during the chaos window stay within the SLO`, async ({ evidence }) => {
      await common('SLO under chaos', CONTROLS.slo, evidence);
      if (outcome.svg) await evidence.file('timeline.svg', outcome.svg, 'image/svg+xml');
      await evidence.json('buckets.json', { buckets: outcome.buckets, chaosWindow: outcome.chaosWindow, achievedRate: outcome.achievedRate });
      if (outcome.rateProblem) await probeError(outcome.rateProblem);
      test.skip(outcome.dryRun || !outcome.chaosWindow, 'dry run: no chaos window');
      const w = outcome.chaosWindow!;
      const slo = config.chaos.slo;
      if (outcome.aborted) await violation('slo-breach');
      expect(outcome.aborted, 'the experiment was aborted: the error rate crossed chaos.abortErrorRate').toBe(false);
      if (w.errorRate > slo.maxErrorRate || w.p99Ms > slo.p99Ms) await violation('slo-breach');
      expect(w.errorRate, `error rate ${(w.errorRate * 100).toFixed(2)}% > SLO ${(slo.maxErrorRate * 100).toFixed(2)}%`).toBeLessThanOrEqual(slo.maxErrorRate);
      expect(w.p99Ms, `p99 ${w.p99Ms} ms > SLO ${slo.p99Ms} ms`).toBeLessThanOrEqual(slo.p99Ms);
    });
  });
}
