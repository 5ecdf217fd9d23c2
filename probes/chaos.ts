/**
 * The chaos experiment's pieces: seeded victim choice under the safety rules, the kill loop with
 * its stop condition and dry run, the verdict on each victim's replacement, time to recovery.
 *
 * Safety is enforced here, not only in the config schema: only hosts with `chaosEligible` (the
 * provider's reading of the opt-in label/tag) that are running can be chosen, whatever the seed;
 * never more than `maxKills`; a cap of zero is an error, not a silent no-op.
 */
import { randomInt } from 'node:crypto';
import { type Bucket, BUCKET_MS } from './load.ts';
import { CapacityTimeoutError, DriftlessError, ExitCode, UsageError, errorMessage } from './errors.ts';
import type { CapacityReport, Host, Inventory, KillKind } from './inventory.ts';
import { sleep } from './net.ts';

// --- seeded randomness --------------------------------------------------------------------------

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit state PRNG, good enough to shuffle a fleet
 * and fully determined by its seed, so a run's victims can be chosen again from its printed seed.
 * Returns floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh random 32-bit seed (unsigned), to be printed and recorded with the run. */
export function newSeed(): number {
  return randomInt(0, 2 ** 32);
}

// --- errors -------------------------------------------------------------------------------------

/** Nothing in the fleet may be killed: no running host carries the opt-in label/tag. */
export class NoEligibleHostError extends DriftlessError {
  constructor(
    readonly fleet: string,
    optIn = 'label driftless.chaos=opt-in',
    detail = '',
  ) {
    super(
      `no host in fleet "${fleet}" opted in to chaos (${optIn}): nothing to kill${detail}; ` +
        `opt hosts in, or set chaos.dryRun: true to only report`,
      ExitCode.Usage,
    );
  }
}

/** The safety settings forbid the experiment as asked (cap of zero, bad count or percent). */
export class ChaosSafetyError extends UsageError {}

/** A victim handed to runExperiment that the safety rules do not allow (not opted in, other fleet). */
export class IneligibleVictimError extends DriftlessError {
  constructor(message: string) {
    super(message, ExitCode.HarnessFailure);
  }
}

// --- victim choice ------------------------------------------------------------------------------

export interface ChooseOptions {
  hosts: Host[];
  seed: number;
  /** How many to kill; or `percent` of the eligible hosts (rounded up, at least 1). Default: count 1. */
  count?: number;
  percent?: number;
  /** safety.maxKills: a hard cap, whatever count or percent ask for. */
  maxKills: number;
  /** For messages: how hosts opt in (default "label driftless.chaos=opt-in"). */
  optIn?: string;
  /** For messages when `hosts` is empty. */
  fleet?: string;
}

export interface VictimChoice {
  seed: number;
  /** Hosts that could be chosen (chaosEligible and running), sorted by id. */
  eligible: Host[];
  victims: Host[];
  /** How the number of victims came about, in words (for the report). */
  reason: string;
}

const byId = (a: Host, b: Host) => (a.id === b.id ? a.instanceId.localeCompare(b.instanceId) : a.id < b.id ? -1 : 1);

/**
 * Chooses victims among the opted-in, running hosts. Deterministic for a seed and a host list:
 * the hosts are sorted by id first, then shuffled by mulberry32(seed) (Fisher–Yates).
 */
export function chooseVictims(opts: ChooseOptions): VictimChoice {
  const { hosts, count, percent, maxKills } = opts;
  const seed = opts.seed >>> 0;
  if (!Number.isInteger(opts.seed)) throw new ChaosSafetyError(`chaos seed ${opts.seed} is not an integer`);
  if (!Number.isInteger(maxKills) || maxKills < 0) {
    throw new ChaosSafetyError(`safety.maxKills is ${maxKills}: it must be a whole number of 1 or more`);
  }
  if (maxKills === 0) {
    throw new ChaosSafetyError(
      'safety.maxKills is 0: a cap of zero kills nothing; set safety.maxKills to 1 or more, or set chaos.dryRun: true to only choose and report',
    );
  }
  if (count !== undefined && percent !== undefined) throw new ChaosSafetyError('chaos.kill: set count or percent, not both');
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw new ChaosSafetyError(`chaos.kill.count is ${count}: it must be a whole number of 1 or more`);
  }
  if (percent !== undefined && !(percent > 0 && percent <= 100)) {
    throw new ChaosSafetyError(`chaos.kill.percent is ${percent}: it must be more than 0 and at most 100`);
  }
  const fleet = opts.fleet ?? hosts[0]?.fleet ?? '(empty)';
  const eligible = hosts.filter((h) => h.chaosEligible === true && h.state === 'running').sort(byId);
  if (eligible.length === 0) {
    const optedIn = hosts.filter((h) => h.chaosEligible === true).length;
    const detail = optedIn > 0 ? ` (${optedIn} opted in, none of them running)` : hosts.length === 0 ? ' (the fleet has no hosts)' : '';
    throw new NoEligibleHostError(fleet, opts.optIn, detail);
  }

  let wanted: number;
  let how: string;
  if (percent !== undefined) {
    wanted = Math.max(1, Math.ceil((percent / 100) * eligible.length - 1e-9));
    how = `${percent}% of ${eligible.length} eligible, rounded up: ${wanted}`;
  } else {
    wanted = count ?? 1;
    how = `count ${wanted}`;
  }
  let n = Math.min(wanted, eligible.length);
  if (n < wanted) how += `; only ${eligible.length} eligible: ${n}`;
  if (n > maxKills) {
    n = maxKills;
    how += `; capped by safety.maxKills: ${n}`;
  }
  const order = eligible.slice();
  const rnd = mulberry32(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const victims = order.slice(0, n);
  const skipped = hosts.length - eligible.length;
  const reason =
    `${eligible.length} of ${hosts.length} hosts in fleet "${fleet}" eligible (opted in and running)` +
    `${skipped ? `, ${skipped} never chosen` : ''}; ${how}; seed ${seed} chose ${victims.map((v) => v.id).join(', ')}`;
  return { seed, eligible, victims, reason };
}

// --- the experiment -----------------------------------------------------------------------------

export type ExperimentEventKind = 'start' | 'dry-run' | 'kill' | 'kill-failed' | 'abort' | 'recovered' | 'recovery-timeout' | 'end';

export interface ExperimentEvent {
  t: Date;
  kind: ExperimentEventKind;
  host?: string;
  instanceId?: string;
  message: string;
}

export interface ExperimentOptions {
  inventory: Inventory;
  victims: Host[];
  kind: KillKind;
  dryRun: boolean;
  /** Checked before each kill: true = stop killing at once (e.g. the error rate crossed the abort threshold). */
  abortWhen?: () => boolean;
  /** Why abortWhen stops the run, for the abort event (e.g. "error rate 62% > chaos.abortErrorRate 50%"). */
  abortReason?: () => string;
  onEvent?: (e: ExperimentEvent) => void;
  /** Deadline for the fleet to be back at desired capacity after the last kill (default 30 s). */
  recoveryDeadlineMs?: number;
  /** Pause between two kills (default 0). */
  intervalMs?: number;
}

export interface ExperimentResult {
  timeline: ExperimentEvent[];
  dryRun: boolean;
  aborted: boolean;
  /** The victims actually killed (in order), with their kill times. */
  killed: Array<{ host: Host; at: Date }>;
  /** The fleet back at capacity after the kills, when it got there in time. */
  capacity?: CapacityReport;
  /** Why recovery was not seen (deadline passed, inventory failure). */
  recoveryError?: string;
}

/**
 * Kills the victims one by one (checking the abort condition before each), then waits for the
 * fleet to be back at desired capacity. A dry run records what it would kill and kills nothing.
 * Never throws for what happens to the fleet: kill failures and a missed deadline are events.
 */
export async function runExperiment(opts: ExperimentOptions): Promise<ExperimentResult> {
  const { inventory, victims, kind, dryRun } = opts;
  for (const v of victims) {
    if (!v.chaosEligible) throw new IneligibleVictimError(`refusing to run: victim ${v.id} is not opted in to chaos (chaosEligible is false)`);
    if (v.fleet !== inventory.fleet) {
      throw new IneligibleVictimError(`refusing to run: victim ${v.id} belongs to fleet "${v.fleet}", not "${inventory.fleet}"`);
    }
  }
  const timeline: ExperimentEvent[] = [];
  const emit = (e: Omit<ExperimentEvent, 't'>): ExperimentEvent => {
    const ev = { t: new Date(), ...e };
    timeline.push(ev);
    try {
      opts.onEvent?.(ev);
    } catch {
      /* an observer's bug must not change the experiment */
    }
    return ev;
  };
  const names = victims.map((v) => v.id).join(', ') || 'none';
  emit({ kind: 'start', message: `${dryRun ? 'dry run' : kind} on fleet "${inventory.fleet}": ${victims.length} victim(s): ${names}` });
  const result: ExperimentResult = { timeline, dryRun, aborted: false, killed: [] };

  if (dryRun) {
    for (const v of victims) {
      emit({ kind: 'dry-run', host: v.id, instanceId: v.instanceId, message: `would ${kind} ${v.id} (${v.instanceId.slice(0, 12)}); dry run, nothing killed` });
    }
    emit({ kind: 'end', message: 'dry run: nothing was killed' });
    return result;
  }

  for (const [i, v] of victims.entries()) {
    if (opts.abortWhen?.()) {
      result.aborted = true;
      const why = opts.abortReason?.() ?? 'the abort condition is met';
      emit({ kind: 'abort', message: `stopped killing at once: ${why}; ${victims.length - i} victim(s) spared: ${victims.slice(i).map((x) => x.id).join(', ')}` });
      break;
    }
    try {
      await inventory.kill(v, kind);
      const ev = emit({ kind: 'kill', host: v.id, instanceId: v.instanceId, message: `${kind} ${v.id} (${v.instanceId.slice(0, 12)})` });
      result.killed.push({ host: v, at: ev.t });
    } catch (err) {
      emit({ kind: 'kill-failed', host: v.id, instanceId: v.instanceId, message: `could not ${kind} ${v.id}: ${errorMessage(err)}` });
    }
    if (opts.intervalMs && i < victims.length - 1) await sleep(opts.intervalMs);
  }

  if (result.killed.length > 0) {
    const timeoutMs = opts.recoveryDeadlineMs ?? 30_000;
    try {
      result.capacity = await inventory.waitForCapacity({ timeoutMs });
      emit({ kind: 'recovered', message: `fleet "${inventory.fleet}" back at desired capacity ${result.capacity.desired} (${result.capacity.running} running)` });
      result.timeline[result.timeline.length - 1]!.t = result.capacity.reachedAt;
    } catch (err) {
      result.recoveryError = errorMessage(err);
      emit({ kind: 'recovery-timeout', message: err instanceof CapacityTimeoutError ? err.message : `waiting for capacity failed: ${errorMessage(err)}` });
    }
  }
  emit({ kind: 'end', message: `${result.killed.length} killed${result.aborted ? ', aborted' : ''}` });
  return result;
}

// --- replacement verdicts -----------------------------------------------------------------------

export type ReplacementVerdict = 'replaced' | 'restarted-in-place' | 'missing' | 'wrong-image' | 'unchanged';

export interface ReplacementCheck {
  host: string;
  verdict: ReplacementVerdict;
  /** The verdict in words, for the report. */
  detail: string;
  oldInstanceId: string;
  newInstanceId?: string;
  oldStart?: Date;
  newStart?: Date;
  /** What the replacement runs (image id, or AMI). */
  digest?: string;
  /** What it should run: the expected digest, or else the victim's own image. */
  expected?: string;
}

const imageOf = (h: Host): string | undefined => h.image.id ?? h.image.ami ?? h.image.repoDigests?.[0];

/** Whether `h` runs `expected`: image id, AMI, or a repo digest (with or without its repo@ prefix). */
export function runsImage(h: Host, expected: string): boolean {
  if (h.image.id === expected || h.image.ami === expected) return true;
  return (h.image.repoDigests ?? []).some((d) => d === expected || d.split('@')[1] === expected || d.split('@')[1] === expected.split('@')[1]);
}

/**
 * Per victim: was it replaced by a NEW instance (new instance id, later start) running the SAME
 * image (the release's digest when given, else the victim's own)? A replacement is found under the
 * victim's stable id (containers keep their name), or else among new hosts of the fleet that were
 * not there before (EC2: a new instance id), one per victim.
 */
export function verifyReplacements(before: Host[], after: Host[], victims: Host[], expectedDigest?: string): ReplacementCheck[] {
  const beforeIds = new Set(before.map((h) => h.instanceId));
  const claimed = new Set<string>();
  const beforeNames = new Set(before.map((h) => h.id));
  // New hosts under new names (EC2: a replacement is a new instance id); never another host's replacement.
  const fresh = after.filter((h) => !beforeIds.has(h.instanceId) && !beforeNames.has(h.id) && h.state === 'running').sort(byId);
  return victims.map((v): ReplacementCheck => {
    const expected = expectedDigest ?? imageOf(v);
    const base = { host: v.id, oldInstanceId: v.instanceId, ...(v.launchedAt ? { oldStart: v.launchedAt } : {}), ...(expected ? { expected } : {}) };
    let now = after.find((h) => h.id === v.id && h.state === 'running' && !claimed.has(h.instanceId));
    now ??= fresh.find((h) => h.fleet === v.fleet && !claimed.has(h.instanceId));
    if (!now) {
      const stopped = after.find((h) => h.id === v.id);
      const detail = stopped
        ? `${v.id} is ${stopped.state}, and no new running instance took its place`
        : `${v.id} is gone and no new running instance took its place`;
      return { ...base, verdict: 'missing', detail };
    }
    claimed.add(now.instanceId);
    const found = {
      ...base,
      newInstanceId: now.instanceId,
      ...(now.launchedAt ? { newStart: now.launchedAt } : {}),
      ...(imageOf(now) ? { digest: imageOf(now) } : {}),
    };
    const later = v.launchedAt && now.launchedAt ? now.launchedAt.getTime() > v.launchedAt.getTime() : undefined;
    if (now.instanceId === v.instanceId) {
      return later
        ? { ...found, verdict: 'restarted-in-place', detail: `${v.id} was restarted in place, not replaced: same instance ${v.instanceId.slice(0, 12)}, started again at ${now.launchedAt!.toISOString()}` }
        : {
            ...found,
            verdict: 'unchanged',
            detail: later === false
              ? `${v.id} is the same instance with the same start time: the kill did not take effect`
              : `${v.id} is the same instance and its start times are unknown: not replaced`,
          };
    }
    if (expected && !runsImage(now, expected)) {
      return { ...found, verdict: 'wrong-image', detail: `${v.id} was replaced by ${now.id} (${now.instanceId.slice(0, 12)}) running ${imageOf(now) ?? 'an unknown image'}, not ${expected}` };
    }
    const startNote = later === false ? ` (but its start time ${now.launchedAt!.toISOString()} is not after the victim's)` : '';
    return {
      ...found,
      verdict: 'replaced',
      detail: `${v.id} was replaced by a new instance ${now.instanceId.slice(0, 12)} of the same image ${imageOf(now) ?? expected ?? ''}${startNote}`.trim(),
    };
  });
}

// --- time to recovery ---------------------------------------------------------------------------

/**
 * Milliseconds from the kill until the fleet is healthy again: back at capacity AND past the last
 * bucket with errors. All times are on the load recording's clock (ms since its start; see
 * `loadClock`). Undefined when recovery is not seen in the recording (capacity never reached, or
 * no error-free bucket after the last error).
 */
export function timeToRecovery(killAt: number, buckets: Bucket[], capacityReachedAt: number | undefined): number | undefined {
  if (capacityReachedAt === undefined) return undefined;
  let healthyFrom = Math.max(killAt, capacityReachedAt);
  const after = buckets.filter((b) => b.t + BUCKET_MS > killAt).sort((a, b) => a.t - b.t);
  for (const b of after) if (b.errors > 0) healthyFrom = Math.max(healthyFrom, b.t + BUCKET_MS);
  // Every bucket reaching past healthyFrom is error-free by construction; one must have traffic.
  const seenHealthy = after.some((b) => b.t + BUCKET_MS > healthyFrom && b.sent > 0);
  if (!seenHealthy) return undefined;
  return Math.max(0, healthyFrom - killAt);
}
