/**
 * The stop condition the kill loop reads before every kill: the outcomes of the last second of
 * load. A window in which nothing was measured is never read as 0% errors: it stops the killing.
 */
import type { LiveErrorRate } from '../../probes/http-load.ts';

/** Why the stop condition stopped the experiment: the fleet's errors, or no measurement at all. */
export type StopCause = 'error-rate' | 'nothing-measured';

export interface StopDecision {
  stop: boolean;
  cause?: StopCause;
  /** What the window held, in words (for the abort event and the log). */
  reason: string;
}

/** The live window: the last second, or as long as 3 requests take when the rate is under 3 per second. */
export function stopWindowMs(rate: number): number {
  return Math.max(1000, Math.ceil(3000 / rate));
}

/** Whether to stop killing, from the live window of the load and chaos.abortErrorRate. */
export function stopDecision(live: LiveErrorRate, abortErrorRate: number, windowMs: number): StopDecision {
  const span = `the last ${windowMs / 1000} s`;
  if (live.decided === 0) {
    // No outcome is no evidence: the load stopped or stalled, or the fleet holds every request.
    const why =
      live.sent === 0 ? `no request was sent in ${span} (the load is not running)` : `none of the ${live.sent} requests sent in ${span} has an outcome yet`;
    return { stop: true, cause: 'nothing-measured', reason: `${why}: nothing shows whether the fleet still serves` };
  }
  const reason = `error rate over ${span} is ${(live.rate * 100).toFixed(0)}% (${live.errors} of ${live.decided} requests, ${live.overdue} unanswered past their timeout)`;
  if (live.rate > abortErrorRate) return { stop: true, cause: 'error-rate', reason: `${reason}, over chaos.abortErrorRate ${abortErrorRate * 100}%` };
  return { stop: false, reason };
}

/** The stop condition of one experiment over its load: what the kill loop calls before each kill. */
export function stopCondition(load: { liveErrorRate(windowMs: number): LiveErrorRate }, abortErrorRate: number, rate: number) {
  const windowMs = stopWindowMs(rate);
  let last: StopDecision | undefined;
  return {
    /** Reads the window once; abortReason and last() tell what that reading was. */
    abortWhen: (): boolean => (last = stopDecision(load.liveErrorRate(windowMs), abortErrorRate, windowMs)).stop,
    abortReason: (): string => last?.reason ?? 'the stop condition is met',
    last: (): StopDecision | undefined => last,
  };
}
