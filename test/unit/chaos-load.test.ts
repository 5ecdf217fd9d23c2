/**
 * The chaos experiment's load: the stop condition never reads an empty window as healthy, and
 * the chaos window is judged only on enough measured requests. Real load against 127.0.0.1.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { chaosSuite } from '../../audits/chaos/chaos-suite.ts';
import type { ChaosOutcome } from '../../audits/chaos/experiment.ts';
import { chaosWindowOf, thinWindow } from '../../audits/chaos/chaos-window.ts';
import { runExperiment } from '../../audits/chaos/kill-loop.ts';
import { LOAD_SLACK_MS, loadCeilingMs, underLoad } from '../../audits/chaos/load-span.ts';
import { stopCondition, stopDecision, stopWindowMs } from '../../audits/chaos/stop-condition.ts';
import type { Config } from '../../core/config.ts';
import type { Host } from '../../core/inventory.ts';
import { plannedCheck } from '../../core/run-plan.ts';
import { bucketize, type RequestRecord, startLoad } from '../../probes/http-load.ts';
import type { Provider } from '../../providers/provider.ts';
import { judge } from '../helpers/suite-run.ts';

/** What the chaos judges read of the config. */
const CONFIG = {
  chaos: { slo: { maxErrorRate: 0.01, p99Ms: 500, recoverySeconds: 30 }, abortErrorRate: 0.5 },
  safety: { maxKills: 1 },
} as unknown as Config;

const live = (over: Partial<{ rate: number; decided: number; errors: number; overdue: number; sent: number }>) => ({
  rate: 0,
  decided: 0,
  errors: 0,
  overdue: 0,
  sent: 0,
  ...over,
});

describe('the stop decision', () => {
  test('a window with no request sent stops the killing: the load is not running', () => {
    const d = stopDecision(live({}), 0.5, 1000);
    assert.equal(d.stop, true);
    assert.equal(d.cause, 'nothing-measured');
    assert.match(d.reason, /^no request was sent in the last 1 s \(the load is not running\): nothing shows whether the fleet still serves$/);
  });

  test('requests sent but none with an outcome yet: stop too, never 0% errors', () => {
    const d = stopDecision(live({ sent: 12 }), 0.5, 1000);
    assert.deepEqual([d.stop, d.cause], [true, 'nothing-measured']);
    assert.match(d.reason, /none of the 12 requests sent in the last 1 s has an outcome yet/);
  });

  test('the error rate over chaos.abortErrorRate stops; under it goes on', () => {
    const over = stopDecision(live({ rate: 0.6, decided: 10, errors: 6, sent: 10 }), 0.5, 1000);
    assert.deepEqual([over.stop, over.cause], [true, 'error-rate']);
    assert.match(over.reason, /error rate over the last 1 s is 60% \(6 of 10 requests, 0 unanswered past their timeout\), over chaos\.abortErrorRate 50%/);
    const under = stopDecision(live({ rate: 0.1, decided: 10, errors: 1, sent: 10 }), 0.5, 1000);
    assert.equal(under.stop, false);
    assert.equal(under.cause, undefined);
  });

  test('the window is a second, or 3 requests long at low rates', () => {
    assert.equal(stopWindowMs(50), 1000);
    assert.equal(stopWindowMs(3), 1000);
    assert.equal(stopWindowMs(1), 3000);
    assert.equal(stopWindowMs(0.5), 6000);
  });
});

describe('the stop condition over a real load, before each kill', () => {
  let server: http.Server;
  let url: string;
  let hang = false;
  before(async () => {
    server = http.createServer((_req, res) => {
      if (!hang) res.end('ok'); // hang: the connection is held, never answered
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const host = (id: string): Host => ({
    id,
    instanceId: `${id}-i1`,
    fleet: 'web',
    provider: 'docker',
    image: { id: 'sha256:' + 'a'.repeat(64) },
    launchedAt: new Date(),
    labels: {},
    chaosEligible: true,
    state: 'running',
  });
  function recorder() {
    const kills: string[] = [];
    const inv: Provider = {
      fleet: 'web',
      kind: 'docker',
      list: async () => [],
      imageFacts: async () => ({ kind: 'none' }),
      lookup: async (h) => h,
      desiredCapacity: async () => 2,
      kill: async (h) => void kills.push(h.id),
      waitForCapacity: async () => ({ desired: 2, running: 2, hosts: [], reachedAt: new Date() }),
    };
    return { inv, kills };
  }

  test('a load that has ended spares the next victim (it used to read 0% errors and kill)', async () => {
    hang = false;
    const load = startLoad({ url, rate: 50, durationMs: 400, timeoutMs: 300 });
    const stop = stopCondition(load, 0.5, 50);
    const { inv, kills } = recorder();
    await new Promise((r) => setTimeout(r, 300));
    const r = await runExperiment({ inventory: inv, victims: [host('a'), host('b')], kind: 'sigkill', dryRun: false, intervalMs: 1500, ...stop });
    await load.done;
    assert.deepEqual(kills, ['a'], 'the first kill had a healthy window; the second had none');
    assert.equal(r.aborted, true);
    assert.equal(stop.last()?.cause, 'nothing-measured');
    assert.match(r.timeline.find((e) => e.kind === 'abort')!.message, /no request was sent in the last 1 s \(the load is not running\).*spared: b/);
  });

  test('the load runs until the experiment (the last recovery) is over, past its minimum', async () => {
    hang = false;
    const load = startLoad({ url, rate: 50, durationMs: loadCeilingMs({ minMs: 300, victims: 1, intervalMs: 0, recoveryMs: 2000 }), timeoutMs: 300 });
    const ran = await underLoad(load, 300, async () => {
      await new Promise((r) => setTimeout(r, 1200)); // the kills and the wait for recovery
      return 'recovered';
    });
    assert.equal(ran.result, 'recovered');
    assert.equal(ran.endedEarly, undefined);
    assert.ok(ran.recording.elapsedMs >= 1200 && ran.recording.elapsedMs < 1500, `load ran ${ran.recording.elapsedMs} ms`);
    assert.ok(
      ran.recording.records.some((r) => r.t >= 1100),
      'requests were sent until the experiment ended',
    );
  });

  test('and at least its minimum when the experiment is quicker', async () => {
    hang = false;
    const load = startLoad({ url, rate: 50, durationMs: loadCeilingMs({ minMs: 800, victims: 1, intervalMs: 0, recoveryMs: 100 }), timeoutMs: 300 });
    const ran = await underLoad(load, 800, async () => 'done');
    // >= 790: the load's clock and the wall clock differ by a fraction of a millisecond.
    assert.ok(ran.recording.elapsedMs >= 790 && ran.recording.elapsedMs < 1100, `load ran ${ran.recording.elapsedMs} ms`);
  });

  test('a load that reached its ceiling before the experiment ended says so; a throw stops the load', async () => {
    hang = false;
    const short = startLoad({ url, rate: 50, durationMs: 300, timeoutMs: 300 });
    const ran = await underLoad(short, 100, () => new Promise((r) => setTimeout(r, 800)));
    assert.match(
      ran.endedEarly ?? '',
      /^the load stopped at 0\.3 s \(its ceiling\), before the experiment ended at 0\.[89] s: the chaos window misses the end of the experiment$/,
    );
    const long = startLoad({ url, rate: 50, durationMs: 60_000, timeoutMs: 300 });
    await assert.rejects(
      underLoad(long, 100, async () => {
        throw new Error('lookup failed');
      }),
      /lookup failed/,
    );
    const rec = await long.done;
    assert.ok(rec.elapsedMs < 500, `the load went on for ${rec.elapsedMs} ms after the experiment threw`);
  });

  test('the ceiling: the longest experiment the config allows, plus slack; never under the minimum', () => {
    assert.equal(loadCeilingMs({ minMs: 15_000, victims: 3, intervalMs: 3000, recoveryMs: 30_000 }), 1000 + 2 * 3000 + 30_000 + LOAD_SLACK_MS);
    assert.equal(loadCeilingMs({ minMs: 60_000, victims: 1, intervalMs: 3000, recoveryMs: 5000 }), 60_000 + LOAD_SLACK_MS);
  });

  test('a fleet that holds every request for a second stops the killing before its timeout makes them errors', async () => {
    hang = true;
    const load = startLoad({ url, rate: 50, durationMs: 3000, timeoutMs: 2000 });
    const stop = stopCondition(load, 0.5, 50);
    const { inv, kills } = recorder();
    await new Promise((r) => setTimeout(r, 1200));
    const r = await runExperiment({ inventory: inv, victims: [host('a')], kind: 'sigkill', dryRun: false, ...stop });
    load.stop();
    server.closeAllConnections();
    await load.done;
    assert.deepEqual(kills, []);
    assert.equal(r.aborted, true);
    assert.match(stop.last()!.reason, /none of the \d+ requests sent in the last 1 s has an outcome yet/);
  });
});

describe('chaos SLO (DL-CHAOS-004)', () => {
  const window = (over: Partial<NonNullable<ChaosOutcome['chaosWindow']>> = {}) => ({
    fromMs: 1000,
    toMs: 15000,
    requests: 700,
    measured: 700,
    errorRate: 0,
    p99Ms: 20,
    ...over,
  });
  const outcome = (over: Partial<ChaosOutcome>): ChaosOutcome => ({
    fleet: 'web',
    seed: 1,
    dryRun: false,
    eligible: ['h1'],
    victims: ['h1'],
    timeline: [{ t: new Date(), kind: 'kill', host: 'h1', message: 'sigkill h1' }],
    aborted: false,
    recovered: true,
    replacements: [],
    buckets: [],
    chaosWindow: window(),
    ...over,
  });
  const slo = (o: ChaosOutcome) => judge(chaosSuite, new Map([['web', o]]), [plannedCheck('DL-CHAOS-004', { fleet: 'web' })], CONFIG)[0]!;
  const abort = (message: string) => ({ t: new Date(), kind: 'abort' as const, message });

  test('a healthy window passes', () => {
    assert.equal(slo(outcome({})).status, 'passed');
  });

  test('an empty chaos window (no request measured) is broken, never error rate 0 and p99 0 passed', () => {
    const r = slo(outcome({ chaosWindow: window({ requests: 0, measured: 0, errorRate: 0, p99Ms: 0, toMs: 1000 }) }));
    assert.equal(r.status, 'broken');
    assert.match(
      r.message!,
      /the chaos window \(0\.0 s from the first kill\) holds 0 measured requests for 1 kill\(s\): at least 10 per kill \(10\) are needed/,
    );
  });

  test('a load that stopped before the experiment ended is broken, unless the window shows a breach', () => {
    const loadProblem = 'the load stopped at 61.0 s (its ceiling), before the experiment ended at 70.0 s: the chaos window misses the end of the experiment';
    const r = slo(outcome({ loadProblem }));
    assert.equal(r.status, 'broken');
    assert.equal(r.message, loadProblem);
    assert.equal(slo(outcome({ loadProblem, chaosWindow: window({ p99Ms: 900 }) })).status, 'failed');
  });

  test('fewer than 10 measured requests per kill is broken, naming the count; 10 per kill is judged', () => {
    const kills = [1, 2].map((i) => ({ t: new Date(), kind: 'kill' as const, host: `h${i}`, message: `sigkill h${i}` }));
    const thin = slo(outcome({ timeline: kills, victims: ['h1', 'h2'], chaosWindow: window({ requests: 25, measured: 19 }) }));
    assert.equal(thin.status, 'broken');
    assert.match(thin.message!, /holds 19 measured requests for 2 kill\(s\): at least 10 per kill \(20\)/);
    assert.equal(slo(outcome({ timeline: kills, victims: ['h1', 'h2'], chaosWindow: window({ requests: 20, measured: 20 }) })).status, 'passed');
  });

  test('stopped for the error rate: failed, the reason shown', () => {
    const r = slo(outcome({ aborted: true, abortCause: 'error-rate', timeline: [abort('stopped killing at once: error rate over the last 1 s is 80%')] }));
    assert.equal(r.status, 'failed');
    assert.equal(r.violation, 'slo-breach');
    assert.match(r.message!, /aborted: stopped killing at once: error rate over the last 1 s is 80%/);
  });

  test('stopped because nothing was measured: not a breach of the fleet, broken unless the window shows one', () => {
    const stopped = abort('stopped killing at once: no request was sent in the last 1 s (the load is not running)');
    const r = slo(
      outcome({ aborted: true, abortCause: 'nothing-measured', timeline: [{ t: new Date(), kind: 'kill', host: 'h1', message: 'sigkill h1' }, stopped] }),
    );
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /no request was sent in the last 1 s \(the load is not running\)/);
    const breach = slo(
      outcome({
        aborted: true,
        abortCause: 'nothing-measured',
        timeline: [{ t: new Date(), kind: 'kill', host: 'h1', message: 'sigkill h1' }, stopped],
        chaosWindow: window({ errorRate: 0.3 }),
      }),
    );
    assert.equal(breach.status, 'failed');
    assert.equal(breach.violation, 'slo-breach');
  });
});

describe('the chaos window', () => {
  const rec = (spec: Array<[number, number, boolean?]>): RequestRecord[] =>
    spec.map(([t, status, cutOff]) => ({ t, status, latencyMs: 10, lagMs: 0, ...(cutOff ? { cutOff: true as const } : {}) }));

  test('from the first kill to the end of the load; requests cut off at the end are not measured', () => {
    const records = rec([
      [0, 200],
      [500, 200],
      [1000, 200],
      [1500, 503],
      [1900, 0, true],
    ]);
    const w = chaosWindowOf({ records, buckets: bucketize(records, 2000), elapsedMs: 2000 }, 1000);
    assert.deepEqual(w, { fromMs: 1000, toMs: 2000, requests: 3, measured: 2, errorRate: 2 / 3, p99Ms: 10 });
  });

  test('at least 10 measured requests per kill', () => {
    assert.equal(thinWindow({ measured: 10, fromMs: 0, toMs: 1000 }, 1), undefined);
    assert.match(thinWindow({ measured: 9, fromMs: 0, toMs: 1000 }, 1) ?? '', /holds 9 measured requests for 1 kill\(s\)/);
    assert.match(thinWindow({ measured: 29, fromMs: 0, toMs: 1000 }, 3) ?? '', /\(30\) are needed/);
  });
});
