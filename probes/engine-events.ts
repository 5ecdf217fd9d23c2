/**
 * Pure judgements on what a Docker engine's events can prove. The engine keeps its last 256
 * events of any kind in memory (moby's eventsLimit) and drops the oldest as new ones come; so
 * the events it still holds are an unbroken stretch up to now, and it holds every event of a
 * window exactly when that stretch starts at or before the window's start. Counting the events
 * in the window proves nothing: 256 events after the window push its start out just the same.
 */

/** An event as the engine's API gives it (only its time matters here). */
export interface TimedEvent {
  time?: number;
  timeNano?: number;
}

const nanoOf = (e: TimedEvent): number | undefined => (e.timeNano ? Number(e.timeNano) : e.time ? Number(e.time) * 1e9 : undefined);

export interface Coverage {
  covers: boolean;
  /** The oldest event the engine still holds (ISO), if any. */
  oldest?: string;
  held: number;
  /** Why the window is not covered, in words an operator can act on. */
  why?: string;
}

/**
 * Whether the engine's buffer still reaches back to `sinceSec`. `held` is what it returned for a
 * query of its whole buffer (since the epoch, every kind of event); the window is covered only if
 * the oldest of them is at or before its start. Ask AFTER reading the window's events: the buffer
 * only moves forward, so if it reaches back then, it did while they were read.
 */
export function bufferReachesBack(held: readonly TimedEvent[], sinceSec: number): Coverage {
  const times = held.map(nanoOf).filter((n): n is number => n !== undefined && Number.isFinite(n));
  const oldestNano = times.length ? Math.min(...times) : undefined;
  const oldest = oldestNano !== undefined ? new Date(Math.floor(oldestNano / 1e6)).toISOString() : undefined;
  if (oldestNano !== undefined && oldestNano <= sinceSec * 1e9) return { covers: true, oldest, held: times.length };
  const start = new Date(sinceSec * 1000).toISOString();
  return {
    covers: false,
    ...(oldest ? { oldest } : {}),
    held: times.length,
    why: oldest
      ? `the engine's event buffer (its last 256 events) no longer reaches back to ${start}: the oldest event it holds is from ${oldest}, so events before that may have been dropped`
      : `the engine holds no events at all (was it restarted?), so nothing since ${start} can be vouched for`,
  };
}
