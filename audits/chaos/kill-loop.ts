/**
 * The kill loop: victims killed one by one, the stop condition checked before each, a dry run
 * that kills nothing, and the wait for the fleet to be back at its desired capacity.
 */
import { CapacityTimeoutError, errorMessage, IneligibleVictimError } from '../../core/errors.ts';
import type { CapacityReport, Host, KillKind } from '../../core/inventory.ts';
import { sleep } from '../../probes/net.ts';
import type { Provider } from '../../providers/provider.ts';
import type { KillBudget } from './budget.ts';

export { IneligibleVictimError };

export type ExperimentEventKind = 'start' | 'dry-run' | 'kill' | 'kill-failed' | 'spared' | 'budget-spent' | 'abort' | 'recovered' | 'recovery-timeout' | 'end';

export interface ExperimentEvent {
  t: Date;
  kind: ExperimentEventKind;
  host?: string;
  instanceId?: string;
  message: string;
}

export interface ExperimentOptions {
  inventory: Provider;
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
  /** Pause between two kills (default 0); the stop condition is read after it, before the next kill. */
  intervalMs?: number;
  /** The run's kill budget, shared by every fleet; absent: only the victims list limits. */
  budget?: KillBudget;
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
      const taken = opts.budget ? opts.budget.take(v, true) : true;
      if (!taken) {
        emit({ kind: 'budget-spent', host: v.id, message: `would spare ${v.id}: ${opts.budget!.describe()}` });
        break;
      }
      emit({ kind: 'dry-run', host: v.id, instanceId: v.instanceId, message: `would ${kind} ${v.id} (${v.instanceId.slice(0, 12)}); dry run, nothing killed` });
    }
    emit({ kind: 'end', message: 'dry run: nothing was killed' });
    return result;
  }

  for (const [i, v] of victims.entries()) {
    if (i > 0 && opts.intervalMs) await sleep(opts.intervalMs);
    // The stop condition, read now: after the pause, before this kill.
    if (opts.abortWhen?.()) {
      result.aborted = true;
      const why = opts.abortReason?.() ?? 'the abort condition is met';
      emit({
        kind: 'abort',
        message: `stopped killing at once: ${why}; ${victims.length - i} victim(s) spared: ${victims
          .slice(i)
          .map((x) => x.id)
          .join(', ')}`,
      });
      break;
    }
    // A fresh look: the opt-in may have been removed, or the host replaced, since it was chosen.
    let now: Host | undefined;
    try {
      now = await inventory.lookup(v);
    } catch (err) {
      emit({
        kind: 'spared',
        host: v.id,
        instanceId: v.instanceId,
        message: `spared ${v.id}: could not look it up right before the kill (${errorMessage(err)})`,
      });
      continue;
    }
    const spare = !now
      ? 'it is gone'
      : now.instanceId !== v.instanceId
        ? `it was replaced by ${now.instanceId.slice(0, 12)} since it was chosen`
        : now.state !== 'running'
          ? `it is ${now.state}`
          : !now.chaosEligible
            ? 'it no longer carries the opt-in label/tag'
            : undefined;
    if (spare) {
      emit({ kind: 'spared', host: v.id, instanceId: v.instanceId, message: `spared ${v.id}: ${spare} (fresh look-up right before the kill)` });
      continue;
    }
    if (opts.budget && !opts.budget.take(v)) {
      emit({
        kind: 'budget-spent',
        host: v.id,
        message: `spared ${victims
          .slice(i)
          .map((x) => x.id)
          .join(', ')}: ${opts.budget.describe()}`,
      });
      break;
    }
    try {
      await inventory.kill(now!, kind);
      const ev = emit({ kind: 'kill', host: v.id, instanceId: v.instanceId, message: `${kind} ${v.id} (${v.instanceId.slice(0, 12)})` });
      result.killed.push({ host: v, at: ev.t });
    } catch (err) {
      emit({ kind: 'kill-failed', host: v.id, instanceId: v.instanceId, message: `could not ${kind} ${v.id}: ${errorMessage(err)}` });
    }
  }

  if (result.killed.length > 0) {
    const timeoutMs = opts.recoveryDeadlineMs ?? 30_000;
    try {
      result.capacity = await inventory.waitForCapacity({ timeoutMs });
      emit({
        kind: 'recovered',
        message: `fleet "${inventory.fleet}" back at desired capacity ${result.capacity.desired} (${result.capacity.running} running)`,
      });
      result.timeline[result.timeline.length - 1]!.t = result.capacity.reachedAt;
    } catch (err) {
      result.recoveryError = errorMessage(err);
      emit({ kind: 'recovery-timeout', message: err instanceof CapacityTimeoutError ? err.message : `waiting for capacity failed: ${errorMessage(err)}` });
    }
  }
  emit({ kind: 'end', message: `${result.killed.length} killed${result.aborted ? ', aborted' : ''}` });
  return result;
}
