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

/** A container's health check as its inspect gives it (Config.Healthcheck, Config.Shell). */
export interface HealthcheckConfig {
  Test?: string[] | null;
}

/**
 * The command text of this container's health check as the engine writes it into the exec events
 * it logs for each probe: "exec_create: " + entrypoint + " " + args joined by spaces (moby's
 * daemon/health.go; CMD-SHELL runs under Config.Shell, else /bin/sh -c). Undefined: no health
 * check that execs (none, NONE, or an unknown type).
 */
export function healthCheckCommand(healthcheck: HealthcheckConfig | null | undefined, shell?: string[] | null): string | undefined {
  const test = healthcheck?.Test ?? [];
  let cmd: string[];
  if (test[0] === 'CMD') cmd = test.slice(1);
  else if (test[0] === 'CMD-SHELL') cmd = [...(shell?.length ? shell : ['/bin/sh', '-c']), ...test.slice(1)];
  else return undefined;
  if (!cmd.length) return undefined;
  return `${cmd[0]} ${cmd.slice(1).join(' ')}`;
}

/**
 * The exec events of a container split into the engine's own health-check probes and everything
 * else. The engine does not mark a probe's exec (Docker 20.10 and moby master alike: the event
 * carries only the execID), so a probe is recognised by its command text being exactly the
 * container's health-check command; any other exec, and any event whose text was cut short,
 * stays out-of-band access.
 */
export function splitHealthChecks<E extends { action: string }>(execs: readonly E[], healthCommand: string | undefined): { execs: E[]; healthChecks: E[] } {
  if (healthCommand === undefined) return { execs: [...execs], healthChecks: [] };
  const probe = new Set([`exec_create: ${healthCommand}`, `exec_start: ${healthCommand}`]);
  return { execs: execs.filter((e) => !probe.has(e.action)), healthChecks: execs.filter((e) => probe.has(e.action)) };
}
