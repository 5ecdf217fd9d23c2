/**
 * The chaos window: the load from the first kill to the end of the load, which DL-CHAOS-004
 * judges. A window with too few measured requests is no evidence of meeting the SLO.
 */
import { MIN_REQUESTS_PER_KILL } from '../../core/chaos-rules.ts';
import { errorRate, type LoadRecording, p99 } from '../../probes/http-load.ts';

export interface ChaosWindow {
  fromMs: number;
  toMs: number;
  /** Requests scheduled in the window. */
  requests: number;
  /** Of those, the ones with an outcome: an answer, or a network error (refused, reset, timeout); not the ones cut off at the end. */
  measured: number;
  /** 0 with nothing measured: read `measured` first. */
  errorRate: number;
  p99Ms: number;
}

/** The window of a recording from `fromMs` (the first kill, on the load's clock) to its end. */
export function chaosWindowOf(rec: Pick<LoadRecording, 'records' | 'buckets' | 'elapsedMs'>, fromMs: number): ChaosWindow {
  const inWindow = rec.records.filter((r) => r.t >= fromMs);
  return {
    fromMs,
    toMs: rec.elapsedMs,
    requests: inWindow.length,
    measured: inWindow.filter((r) => !r.cutOff).length,
    errorRate: errorRate(rec.buckets, fromMs),
    p99Ms: p99(rec.records, fromMs),
  };
}

/** Why the window cannot be judged (too few measured requests for its kills); undefined when it can. */
export function thinWindow(w: Pick<ChaosWindow, 'measured' | 'fromMs' | 'toMs'>, kills: number): string | undefined {
  const needed = MIN_REQUESTS_PER_KILL * Math.max(1, kills);
  if (w.measured >= needed) return undefined;
  const span = ((w.toMs - w.fromMs) / 1000).toFixed(1);
  return (
    `the chaos window (${span} s from the first kill) holds ${w.measured} measured requests for ${kills} kill(s): ` +
    `at least ${MIN_REQUESTS_PER_KILL} per kill (${needed}) are needed to judge the SLO; raise chaos.load.rate or chaos.load.durationSeconds`
  );
}
