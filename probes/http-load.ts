/**
 * Open-loop HTTP load against one entrypoint, with every request recorded.
 *
 * Open loop: request i is scheduled at i / rate seconds after the start and is sent then,
 * whether or not earlier requests have been answered. Latency is measured from the SCHEDULED
 * send time, so a stall (or a client that fell behind) shows up as latency instead of being
 * hidden by sending less ("coordinated omission").
 *
 * Bounded always: at most ceil(rate * duration) requests, nothing is sent after the duration,
 * and whatever is still in flight timeoutMs after that is cut off and recorded as an error.
 * Only the origin of the URL given is ever contacted (one undici Pool against it).
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { errorMessage, RateNotSustainedError, UsageError } from '../core/errors.ts';

export { RateNotSustainedError };

export const BUCKET_MS = 100;
const CUT_OFF = 'cut off: still unanswered at the end of the run';
/** The generator counts as sustaining the rate when it sends at least this share of it on time. */
export const SUSTAINED_SHARE = 0.9;

export interface RequestRecord {
  /** Scheduled send time, ms since the start of the run. */
  t: number;
  /** HTTP status; 0 on a network error (refused, reset, timeout, cut off at the end). */
  status: number;
  /** From the scheduled send time to the end of the response body (or the error). */
  latencyMs: number;
  /** How late the request was handed to the connection pool, ms after its scheduled time. */
  lagMs: number;
  /** Error code or message for a network error. */
  error?: string;
  /** Still unanswered when the run ended and its wait was over: no outcome was measured. */
  cutOff?: true;
}

export interface Bucket {
  /** Start of the bucket, ms since the start of the run (buckets are BUCKET_MS wide). */
  t: number;
  sent: number;
  ok: number;
  errors: number;
  /** Latency percentiles of the bucket's requests (ms from their scheduled send); 0 when empty. */
  p50: number;
  p99: number;
  max: number;
}

/** A bucket reported live: requests of that window still unanswered are `pending`, not errors yet. */
export interface LiveBucket extends Bucket {
  pending: number;
}

export interface LoadRecording {
  url: string;
  /** Wall-clock time of t = 0. Use `loadClock(recording, date)` to place events on the chart. */
  startedAt: Date;
  requestedRate: number;
  /** Requested duration; `elapsedMs` is what actually ran (shorter when stopped). */
  durationMs: number;
  elapsedMs: number;
  stoppedEarly: boolean;
  /** Requests sent no later than one bucket after their scheduled time, per second of the run. */
  achievedRate: number;
  /** Scheduled within the run but never sent (the client could not keep up). */
  unsent: number;
  connections: number;
  records: RequestRecord[];
  buckets: Bucket[];
}

export interface LoadOptions {
  /** The entrypoint: an http(s) origin, e.g. http://127.0.0.1:21000. */
  url: string;
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /** Path requested (default /health); must stay on the url's origin. */
  path?: string;
  /** Per-request timeout (default 2000 ms): no headers or body progress for this long = error. */
  timeoutMs?: number;
  /** Connection cap of the pool; default rate/10 (100 ms of latency at full rate), 8..1024. */
  connections?: number;
  signal?: AbortSignal;
  /** Called every BUCKET_MS with the bucket before last (so most of its answers are in). */
  onBucket?: (bucket: LiveBucket) => void;
}

export interface LoadRun {
  /** Wall-clock time of t = 0, known as soon as the run starts. */
  startedAt: Date;
  /** Stops sending at once; in-flight requests finish (within timeoutMs). */
  stop(): void;
  done: Promise<LoadRecording>;
  /** The buckets reported so far (live; each lags one bucket, see onBucket). */
  liveBuckets(): LiveBucket[];
  /**
   * The error rate now, over the requests scheduled in the last `windowMs` that have an outcome:
   * answered ones by their status, and ones still unanswered past the request timeout as errors
   * (a dead backend that holds connections open must not look healthy). Requests younger than
   * the timeout and unanswered are not counted yet.
   */
  liveErrorRate(windowMs: number): LiveErrorRate;
}

/** What the live window holds: `decided` requests have an outcome; `sent` were scheduled in the window. */
export interface LiveErrorRate {
  /** errors / decided; 0 when nothing is decided, so read `decided` before trusting it. */
  rate: number;
  decided: number;
  errors: number;
  overdue: number;
  /** Requests scheduled in the window (answered or not): 0 means the load sent nothing in it. */
  sent: number;
}

/** Resolves `path` against `url` and refuses anything that would leave the url's origin. */
export function targetOf(url: string, path = '/'): { origin: string; path: string; href: string } {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new UsageError(`load target "${url}" is not a URL: give the entrypoint as http://host:port`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new UsageError(`load target "${url}" is not http(s): give the entrypoint as http://host:port`);
  }
  if (!path.startsWith('/')) throw new UsageError(`load path "${path}" must start with /`);
  const full = new URL(path, base.origin);
  if (full.origin !== base.origin) throw new UsageError(`load path "${path}" leaves the entrypoint ${base.origin}`);
  return { origin: base.origin, path: full.pathname + full.search, href: full.href };
}

/** Nearest-rank percentile of an ascending-sorted array; 0 when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
export const isOk = (status: number) => status >= 200 && status < 400;

function bucketOf(t: number, recs: RequestRecord[]): Bucket {
  const lat = recs.map((r) => r.latencyMs).sort((a, b) => a - b);
  const ok = recs.filter((r) => isOk(r.status)).length;
  return {
    t,
    sent: recs.length,
    ok,
    errors: recs.length - ok,
    p50: round1(percentile(lat, 50)),
    p99: round1(percentile(lat, 99)),
    max: round1(lat.length ? lat[lat.length - 1]! : 0),
  };
}

/** 100 ms buckets covering [0, elapsedMs), from the records (by scheduled send time). */
export function bucketize(records: RequestRecord[], elapsedMs: number): Bucket[] {
  const n = Math.max(1, Math.ceil(elapsedMs / BUCKET_MS));
  const groups: RequestRecord[][] = Array.from({ length: n }, () => []);
  for (const r of records) groups[Math.min(n - 1, Math.floor(r.t / BUCKET_MS))]!.push(r);
  return groups.map((g, i) => bucketOf(i * BUCKET_MS, g));
}

/** Errors / sent over the buckets starting in [from, to) ms (0 when nothing was sent). */
export function errorRate(buckets: Bucket[], from = 0, to = Infinity): number {
  let sent = 0;
  let errors = 0;
  for (const b of buckets) {
    if (b.t >= from && b.t < to) {
      sent += b.sent;
      errors += b.errors;
    }
  }
  return sent === 0 ? 0 : errors / sent;
}

/** p99 latency (ms from the scheduled send) of the requests scheduled in [from, to) ms. */
export function p99(records: RequestRecord[], from = 0, to = Infinity): number {
  const lat = records
    .filter((r) => r.t >= from && r.t < to)
    .map((r) => r.latencyMs)
    .sort((a, b) => a - b);
  return percentile(lat, 99);
}

/** Milliseconds on the recording's clock (0 = start of the load) of a wall-clock time. */
export function loadClock(startedAt: Date | { startedAt: Date }, at: Date): number {
  const t0 = startedAt instanceof Date ? startedAt : startedAt.startedAt;
  return at.getTime() - t0.getTime();
}

/** Whether the generator sent at least 90% of the requested rate; the message says what to change. */
export function checkSustained(rec: Pick<LoadRecording, 'requestedRate' | 'achievedRate'>): { ok: boolean; message?: string; error?: RateNotSustainedError } {
  if (rec.achievedRate >= SUSTAINED_SHARE * rec.requestedRate) return { ok: true };
  const error = new RateNotSustainedError(rec.requestedRate, rec.achievedRate);
  return { ok: false, message: error.message, error };
}

/** Throws RateNotSustainedError when the recording's achieved rate is under 90% of the request. */
export function assertSustained(rec: Pick<LoadRecording, 'requestedRate' | 'achievedRate'>): void {
  const c = checkSustained(rec);
  if (c.error) throw c.error;
}

export function netError(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code ?? e?.cause?.code ?? errorMessage(err);
}

/** Starts an open-loop run; `done` resolves with the full recording. */
export function startLoad(opts: LoadOptions): LoadRun {
  const { rate, durationMs } = opts;
  if (!Number.isFinite(rate) || rate <= 0) throw new UsageError(`load rate ${rate} is not a positive number of requests per second`);
  if (!Number.isFinite(durationMs) || durationMs <= 0) throw new UsageError(`load duration ${durationMs} ms is not a positive number`);
  const target = targetOf(opts.url, opts.path ?? '/health');
  const timeoutMs = opts.timeoutMs ?? 2000;
  const total = Math.ceil((rate * durationMs) / 1000); // the hard cap on requests
  const interval = 1000 / rate;
  const connections = opts.connections ?? Math.min(1024, Math.max(8, Math.ceil(rate / 10)));
  const pool = new Pool(target.origin, {
    connections,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    keepAliveTimeout: 4000,
  });

  const records: RequestRecord[] = [];
  // 1 once request i has its outcome; grows with the requests sent, so a long ceiling costs nothing up front.
  const answered: number[] = [];
  const live: LiveBucket[] = [];
  const startedAt = new Date();
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  let next = 0; // index of the next request to send
  let onTime = 0;
  let inFlight = 0;
  let stopped = false;
  let stopAt: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finish!: () => void;
  const sendingDone = new Promise<void>((r) => (finish = r));
  let drained: (() => void) | undefined;

  const stop = (natural = false) => {
    if (stopped) return;
    stopped = true;
    stopAt = natural ? durationMs : now();
    if (timer) clearTimeout(timer);
    finish();
  };
  const onAbort = () => stop();
  if (opts.signal?.aborted) stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const fire = (i: number) => {
    const scheduled = i * interval;
    const sentAt = now();
    const lag = sentAt - scheduled;
    if (lag <= BUCKET_MS) onTime++;
    const rec: RequestRecord = { t: round1(scheduled), status: 0, latencyMs: 0, lagMs: round1(lag) };
    records.push(rec);
    inFlight++;
    pool
      .request({ path: target.path, method: 'GET' })
      .then(async (res) => {
        await res.body.arrayBuffer();
        rec.status = res.statusCode;
      })
      .catch((err: unknown) => {
        rec.status = 0;
        rec.error = netError(err);
      })
      .finally(() => {
        rec.latencyMs = round1(now() - scheduled);
        answered[i] = 1;
        inFlight--;
        if (inFlight === 0 && drained) drained();
      });
  };

  const tick = () => {
    if (stopped) return;
    const t = now();
    while (next < total && next * interval <= t && next * interval < durationMs) fire(next++);
    if (next >= total || t >= durationMs) return stop(true);
    timer = setTimeout(tick, Math.max(0, Math.min(next * interval - now(), 50)));
  };

  // Live buckets: every BUCKET_MS, the window before last (its answers have had 100 ms to come in).
  let liveIdx = 0;
  let scanFrom = 0;
  const emitLive = (upTo: number) => {
    while ((liveIdx + 2) * BUCKET_MS <= upTo) {
      const from = liveIdx * BUCKET_MS;
      const to = from + BUCKET_MS;
      while (scanFrom < records.length && records[scanFrom]!.t < from) scanFrom++;
      const done: RequestRecord[] = [];
      let pending = 0;
      for (let j = scanFrom; j < records.length && records[j]!.t < to; j++) {
        if (answered[j]) done.push(records[j]!);
        else pending++;
      }
      const b: LiveBucket = { ...bucketOf(from, done), pending };
      b.sent = done.length + pending;
      live.push(b);
      liveIdx++;
      try {
        opts.onBucket?.(b);
      } catch {
        /* an observer's bug must not stop the load */
      }
    }
  };
  const bucketTimer = setInterval(() => emitLive(stopped ? (stopAt ?? now()) + BUCKET_MS : now()), BUCKET_MS);

  const done = (async (): Promise<LoadRecording> => {
    if (!stopped) tick();
    await sendingDone;
    const elapsedMs = Math.min(durationMs, stopAt ?? durationMs);
    // Let in-flight requests finish, within their timeout; then cut off whatever is left.
    if (inFlight > 0) {
      await Promise.race([new Promise<void>((r) => (drained = r)), new Promise<void>((r) => setTimeout(r, timeoutMs + 500).unref())]);
    }
    clearInterval(bucketTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    const unanswered: number[] = [];
    if (inFlight > 0) {
      records.forEach((_, i) => {
        if (!answered[i]) unanswered.push(i);
      });
      await pool.destroy(new Error(CUT_OFF)).catch(() => {});
      await new Promise<void>((r) => setImmediate(r));
    } else {
      await pool.close().catch(() => {});
    }
    for (const i of unanswered) {
      const r = records[i]!;
      r.status = 0;
      r.error = CUT_OFF;
      r.cutOff = true;
      r.latencyMs = round1(now() - i * interval);
    }
    emitLive(elapsedMs + BUCKET_MS);
    const scheduledInRun = Math.min(total, Math.ceil(elapsedMs / interval));
    const seconds = elapsedMs / 1000;
    return {
      url: target.href,
      startedAt,
      requestedRate: rate,
      durationMs,
      elapsedMs: round1(elapsedMs),
      stoppedEarly: elapsedMs < durationMs - interval,
      achievedRate: seconds > 0 ? round1(onTime / seconds) : 0,
      unsent: Math.max(0, scheduledInRun - records.length),
      connections,
      records,
      buckets: bucketize(records, elapsedMs),
    };
  })();

  const liveErrorRate = (windowMs: number): LiveErrorRate => {
    const t = now();
    const from = t - windowMs - timeoutMs;
    let decided = 0;
    let errors = 0;
    let overdue = 0;
    let sent = 0;
    for (let i = records.length - 1; i >= 0 && records[i]!.t >= from; i--) {
      const r = records[i]!;
      if (r.t >= t - windowMs) sent++;
      if (answered[i]) {
        if (r.t < t - windowMs && r.t + r.latencyMs < t - windowMs) continue; // decided before the window
        decided++;
        if (!isOk(r.status)) errors++;
      } else if (t - r.t > timeoutMs) {
        decided++;
        errors++;
        overdue++;
      }
    }
    return { rate: decided === 0 ? 0 : errors / decided, decided, errors, overdue, sent };
  };
  return { startedAt, stop: () => stop(), done, liveBuckets: () => live.slice(), liveErrorRate };
}

/** Runs an open-loop load to the end (or until the signal aborts it). */
export function runLoad(opts: LoadOptions): Promise<LoadRecording> {
  return startLoad(opts).done;
}
