/** Rules of the chaos experiment that the config check and the chaos suite share. */

/** DL-CHAOS-004 judges a chaos window only when it holds at least this many measured requests per kill. */
export const MIN_REQUESTS_PER_KILL = 10;

/** Load sent before the first kill, so the chart shows the baseline: the chaos window starts after it. */
export const BASELINE_MS = 1000;

/** Longest a chaos load may need to run: the bound chaos.load.durationSeconds always had. */
export const MAX_LOAD_SECONDS = 3600;

interface ChaosShape {
  kill: { count?: number; percent?: number };
  killIntervalSeconds: number;
  load: { rate: number; durationSeconds: number };
  slo: { recoverySeconds: number };
}

/** The most kills one fleet can take: kill.count within safety.maxKills; under a percent, safety.maxKills. */
export function mostKills(chaos: ChaosShape, maxKills: number): number {
  return chaos.kill.count !== undefined ? Math.min(chaos.kill.count, maxKills) : maxKills;
}

/**
 * The longest load `kills` kills can need, in seconds: the load runs from before the first kill
 * until the last kill's recovery is judged (at most chaos.slo.recoverySeconds after it), and at
 * least chaos.load.durationSeconds.
 */
export function longestLoadSeconds(chaos: ChaosShape, kills: number): number {
  return Math.max(chaos.load.durationSeconds, BASELINE_MS / 1000 + Math.max(0, kills - 1) * chaos.killIntervalSeconds + chaos.slo.recoverySeconds);
}
