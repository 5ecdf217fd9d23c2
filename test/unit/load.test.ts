/**
 * The load generator's arithmetic, and its open-loop timing against a local 127.0.0.1 server
 * that can stall on command (the lab cannot), so coordinated omission would show.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  bucketize,
  checkSustained,
  errorRate,
  loadClock,
  p99,
  percentile,
  RateNotSustainedError,
  type RequestRecord,
  runLoad,
  startLoad,
  targetOf,
  type LiveBucket,
} from '../../probes/http-load.ts';

const recs = (spec: Array<[number, number, number]>): RequestRecord[] => spec.map(([t, status, latencyMs]) => ({ t, status, latencyMs, lagMs: 0 }));

describe('load arithmetic', () => {
  test('bucketize, errorRate and p99 over windows', () => {
    const r = recs([
      [0, 200, 1],
      [50, 200, 3],
      [120, 503, 9],
      [150, 0, 2000],
      [250, 200, 2],
      [260, 200, 4],
    ]);
    const b = bucketize(r, 300);
    assert.equal(b.length, 3);
    assert.deepEqual(
      b.map((x) => [x.t, x.sent, x.ok, x.errors]),
      [
        [0, 2, 2, 0],
        [100, 2, 0, 2],
        [200, 2, 2, 0],
      ],
    );
    assert.equal(b[1]!.max, 2000);
    assert.equal(b[0]!.p50, 1);
    assert.equal(errorRate(b), 2 / 6);
    assert.equal(errorRate(b, 0, 100), 0);
    assert.equal(errorRate(b, 100, 200), 1);
    assert.equal(errorRate([], 0, 100), 0);
    assert.equal(p99(r, 200, 300), 4);
    assert.equal(p99(r), 2000);
    assert.equal(p99([], 0, 10), 0);
  });

  test('nearest-rank percentiles', () => {
    assert.equal(percentile([], 99), 0);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(hundred, 99), 99);
    assert.equal(percentile(hundred, 100), 100);
  });

  test('checkSustained: under 90% of the requested rate is a clear error', () => {
    assert.deepEqual(checkSustained({ requestedRate: 100, achievedRate: 90 }), { ok: true });
    const c = checkSustained({ requestedRate: 5000, achievedRate: 1830 });
    assert.equal(c.ok, false);
    assert.ok(c.error instanceof RateNotSustainedError);
    assert.match(c.message!, /^requested 5000 req\/s, achieved 1830 req\/s: lower chaos\.load\.rate/);
  });

  test('targets stay on the origin given', () => {
    assert.equal(targetOf('http://127.0.0.1:42000', '/health').href, 'http://127.0.0.1:42000/health');
    assert.equal(targetOf('http://127.0.0.1:42000/ignored', '/state/x?y=1').path, '/state/x?y=1');
    assert.throws(() => targetOf('http://127.0.0.1:42000', '//evil.example/x'), /leaves the entrypoint/);
    assert.throws(() => targetOf('ftp://127.0.0.1', '/'), /not http/);
    assert.throws(() => targetOf('not a url', '/'), /not a URL/);
    assert.throws(() => targetOf('http://127.0.0.1', 'health'), /must start with/);
  });

  test('loadClock places wall-clock events on the recording', () => {
    const startedAt = new Date(1_000_000);
    assert.equal(loadClock({ startedAt }, new Date(1_002_500)), 2500);
    assert.equal(loadClock(startedAt, new Date(999_000)), -1000);
  });
});

describe('open loop against a local server', () => {
  let server: http.Server;
  let url: string;
  let stallUntil = 0;
  let received = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      received++;
      const wait = Math.max(0, stallUntil - Date.now());
      setTimeout(() => {
        res.writeHead(req.url === '/fail' ? 503 : 200, { 'content-type': 'text/plain' });
        res.end('ok');
      }, wait).unref();
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('sends on schedule through a stall and charges the stall to latency from the scheduled time', async () => {
    received = 0;
    const run = startLoad({ url, path: '/', rate: 100, durationMs: 2000, timeoutMs: 3000 });
    setTimeout(() => (stallUntil = Date.now() + 500), 500); // every answer held until 1.0 s
    const rec = await run.done;
    assert.equal(rec.records.length, 200, 'the hard cap is rate x duration, and all of it was sent');
    assert.equal(received, 200, 'the server received every request, stall or not (open loop)');
    assert.ok(checkSustained(rec).ok, checkSustained(rec).message);
    assert.ok(rec.records.every((r) => r.status === 200));
    // A request scheduled at 0.6 s is answered at ~1.0 s: ~400 ms, although it waited ~400 ms in the server.
    const at600 = rec.records.find((r) => r.t === 600)!;
    assert.ok(at600.latencyMs >= 350 && at600.latencyMs < 800, `latency at 0.6 s: ${at600.latencyMs}`);
    assert.ok(p99(rec.records, 500, 1000) >= 400, `p99 during the stall: ${p99(rec.records, 500, 1000)}`);
    assert.ok(p99(rec.records, 1500, 2000) < 100, `p99 after the stall: ${p99(rec.records, 1500, 2000)}`);
    assert.equal(rec.buckets.length, 20);
    assert.deepEqual(
      rec.buckets.map((b) => b.sent),
      Array(20).fill(10),
    );
  });

  test('live buckets each 100 ms, and stop() ends the run early', async () => {
    stallUntil = 0;
    const live: LiveBucket[] = [];
    const run = startLoad({ url, path: '/fail', rate: 200, durationMs: 10_000, onBucket: (b) => live.push(b) });
    await new Promise((r) => setTimeout(r, 650));
    run.stop();
    const rec = await run.done;
    assert.equal(rec.stoppedEarly, true);
    assert.ok(rec.elapsedMs >= 600 && rec.elapsedMs < 1000, `elapsed ${rec.elapsedMs}`);
    assert.ok(rec.records.length >= 120 && rec.records.length <= 200, `${rec.records.length} requests`);
    assert.ok(rec.records.every((r) => r.status === 503));
    assert.equal(errorRate(rec.buckets), 1);
    assert.ok(live.length >= 5, `${live.length} live buckets`);
    assert.deepEqual(live.map((b) => b.t).slice(0, 5), [0, 100, 200, 300, 400]);
    assert.equal(live[0]!.errors, 20);
    assert.equal(live[0]!.pending, 0);
  });

  test('an AbortSignal ends the run too; bad rate or duration is refused', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const rec = await runLoad({ url, path: '/', rate: 50, durationMs: 5000, signal: ac.signal });
    assert.ok(rec.stoppedEarly && rec.records.length <= 20);
    assert.throws(() => startLoad({ url, rate: 0, durationMs: 100 }), /not a positive number/);
    assert.throws(() => startLoad({ url, rate: 10, durationMs: -1 }), /not a positive number/);
  });

  test('requests unanswered at the end are cut off within the timeout and recorded as errors', async () => {
    stallUntil = Date.now() + 10_000;
    const t0 = Date.now();
    const rec = await runLoad({ url, path: '/', rate: 20, durationMs: 300, timeoutMs: 400 });
    stallUntil = 0;
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    assert.equal(rec.records.length, 6);
    assert.ok(
      rec.records.every((r) => r.status === 0 && r.error),
      JSON.stringify(rec.records),
    );
  });
});

describe('requests still unanswered when the run ends', () => {
  test('are cut off and marked cutOff (no outcome measured); answered ones are not', async () => {
    // A body that trickles a byte every 100 ms never passes the 400 ms timeout: only the end of the run cuts it.
    const server = http.createServer((req, res) => {
      if (req.url === '/ok') return res.end('ok');
      res.writeHead(200);
      const t = setInterval(() => res.write('.'), 100);
      res.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const slow = await runLoad({ url: base, path: '/slow', rate: 20, durationMs: 200, timeoutMs: 400 });
      assert.ok(slow.records.length > 0);
      assert.ok(
        slow.records.every((r) => r.cutOff === true && r.status === 0 && /cut off/.test(r.error ?? '')),
        JSON.stringify(slow.records),
      );
      const ok = await runLoad({ url: base, path: '/ok', rate: 20, durationMs: 200, timeoutMs: 400 });
      assert.ok(ok.records.every((r) => r.cutOff === undefined && r.status === 200));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('the live error rate the stop condition reads', () => {
  let server: http.Server;
  let url: string;
  let mode: 'ok' | 'error' | 'hang' = 'ok';
  before(async () => {
    server = http.createServer((req, res) => {
      if (mode === 'ok') res.end('ok');
      else if (mode === 'error') {
        res.statusCode = 503;
        res.end('down');
      } // hang: never answers (a dead backend holding the connection)
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const measure = async (m: typeof mode) => {
    mode = m;
    const run = startLoad({ url, rate: 100, durationMs: 1500, timeoutMs: 300 });
    await new Promise((r) => setTimeout(r, 1000));
    const live = run.liveErrorRate(500);
    run.stop();
    await run.done;
    return live;
  };

  test('healthy: 0', async () => {
    const live = await measure('ok');
    assert.ok(live.decided > 20, JSON.stringify(live));
    assert.equal(live.rate, 0);
  });

  test('every answer an error: 1', async () => {
    assert.equal((await measure('error')).rate, 1);
  });

  test('a load that has ended: nothing sent, nothing decided in the window (the stop condition must not read that as 0%)', async () => {
    mode = 'ok';
    const run = startLoad({ url, rate: 100, durationMs: 200, timeoutMs: 300 });
    await run.done;
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(run.liveErrorRate(500), { rate: 0, decided: 0, errors: 0, overdue: 0, sent: 0 });
    const busy = startLoad({ url, rate: 100, durationMs: 1500, timeoutMs: 300 });
    await new Promise((r) => setTimeout(r, 800));
    const now = busy.liveErrorRate(500);
    busy.stop();
    await busy.done;
    assert.ok(now.sent >= 40 && now.sent <= 55, JSON.stringify(now));
  });

  test('nothing answered at all: the requests past their timeout count as errors (they used to count as nothing)', async () => {
    const live = await measure('hang');
    assert.ok(live.overdue > 20, JSON.stringify(live));
    assert.equal(live.rate, 1);
  });
});
