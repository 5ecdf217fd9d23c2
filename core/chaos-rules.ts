/** Rules of the chaos experiment that the config check and the chaos suite share. */

/** DL-CHAOS-004 judges a chaos window only when it holds at least this many measured requests per kill. */
export const MIN_REQUESTS_PER_KILL = 10;

/** Load sent before the first kill, so the chart shows the baseline: the chaos window starts after it. */
export const BASELINE_MS = 1000;
