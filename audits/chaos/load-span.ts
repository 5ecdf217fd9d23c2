/**
 * How long the chaos load runs: from before the first kill until the last kill's recovery has
 * been judged, and at least chaos.load.durationSeconds. The load never ends on its own clock
 * while the experiment goes on; its ceiling only bounds a hung experiment.
 */
import { BASELINE_MS } from '../../core/chaos-rules.ts';
import { loadClock, type LoadRecording, type LoadRun } from '../../probes/http-load.ts';
import { sleep } from '../../probes/net.ts';

/** On top of the longest experiment: look-ups, kill calls and the capacity poll. Only a hung experiment reaches it. */
export const LOAD_SLACK_MS = 60_000;

/** The load's hard ceiling (its durationMs): the longest experiment the config allows, plus slack. */
export function loadCeilingMs(o: { minMs: number; victims: number; intervalMs: number; recoveryMs: number }): number {
  return Math.max(o.minMs, BASELINE_MS + Math.max(0, o.victims - 1) * o.intervalMs + o.recoveryMs) + LOAD_SLACK_MS;
}

export interface UnderLoad<T> {
  result: T;
  recording: LoadRecording;
  /** When the experiment ended, on the load's clock. */
  endedAtMs: number;
  /** Set when the load stopped (at its ceiling) before the experiment ended: the chaos window misses its end. */
  endedEarly?: string;
}

/**
 * Runs `experiment` (the kills and the wait for recovery) under `load`, then stops the load once
 * it has run `minMs`. The load is stopped however the experiment ends, a throw included.
 */
export async function underLoad<T>(load: LoadRun, minMs: number, experiment: () => Promise<T>): Promise<UnderLoad<T>> {
  let result: T;
  try {
    result = await experiment();
  } catch (err) {
    load.stop();
    await load.done.catch(() => {});
    throw err;
  }
  const endedAtMs = loadClock(load, new Date());
  if (endedAtMs < minMs) await sleep(minMs - endedAtMs);
  load.stop();
  const recording = await load.done;
  const out: UnderLoad<T> = { result, recording, endedAtMs };
  // Not stopped by us before its ceiling: the load ran out while the experiment went on.
  if (!recording.stoppedEarly && recording.elapsedMs < endedAtMs) {
    out.endedEarly =
      `the load stopped at ${(recording.elapsedMs / 1000).toFixed(1)} s (its ceiling), before the experiment ended at ${(endedAtMs / 1000).toFixed(1)} s: ` +
      'the chaos window misses the end of the experiment';
  }
  return out;
}
