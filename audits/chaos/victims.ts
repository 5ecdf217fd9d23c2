/**
 * Seeded victim choice under the safety rules. Safety is enforced here, not only in the config
 * schema: only hosts with `chaosEligible` (the provider's reading of the opt-in label/tag) that
 * are running can be chosen, whatever the seed; never more than `maxKills`; a cap of zero is an
 * error, not a silent no-op.
 */
import { ChaosSafetyError, NoEligibleHostError } from '../../core/errors.ts';
import type { Host } from '../../core/inventory.ts';
import { mulberry32 } from '../../core/seed.ts';

export { ChaosSafetyError, NoEligibleHostError };

export interface ChooseOptions {
  hosts: Host[];
  seed: number;
  /** How many to kill; or `percent` of the eligible hosts (rounded down; below one host is an error). Default: count 1. */
  count?: number;
  percent?: number;
  /** safety.maxKills: a hard cap, whatever count or percent ask for. */
  maxKills: number;
  /** For messages: how hosts opt in (default "label driftless.chaos=opt-in"). */
  optIn?: string;
  /** For messages when `hosts` is empty. */
  fleet?: string;
  /**
   * Host ids that hold the state the probe wrote (they answered its writes): drawn first, so a
   * load balancer with session affinity cannot hide the loss of that state behind a kill of an
   * idle replica.
   */
  prefer?: ReadonlySet<string>;
}

export interface VictimChoice {
  seed: number;
  /** Hosts that could be chosen (chaosEligible and running), sorted by id. */
  eligible: Host[];
  victims: Host[];
  /** How the number of victims came about, in words (for the report). */
  reason: string;
}

export const byId = (a: Host, b: Host) => (a.id === b.id ? a.instanceId.localeCompare(b.instanceId) : a.id < b.id ? -1 : 1);

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
    // Rounded down: never more victims than the share the user opted into; a share below one
    // host is an error, not a silent zero (nothing killed) nor a silent one (more than asked).
    const exact = (percent / 100) * eligible.length;
    wanted = Math.floor(exact + 1e-9);
    if (wanted < 1) {
      throw new ChaosSafetyError(
        `chaos.kill.percent ${percent} of the ${eligible.length} eligible hosts of fleet ${fleet} is ${exact.toFixed(2)} of a host: it rounds down to zero victims. ` +
          `Set chaos.kill.percent to at least ${Math.ceil((100 / eligible.length) * 100) / 100}, or use chaos.kill.count`,
      );
    }
    how = `${percent}% of ${eligible.length} eligible, rounded down: ${wanted}`;
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
  // Stable: the seeded order within each group, the state's holders first.
  const holders = opts.prefer ? order.filter((h) => opts.prefer!.has(h.id)) : [];
  if (holders.length) {
    order.splice(0, order.length, ...holders, ...order.filter((h) => !opts.prefer!.has(h.id)));
    how += `; drawn first among the ${holders.length} that hold the written state (${holders.map((h) => h.id).join(', ')})`;
  }
  const victims = order.slice(0, n);
  const skipped = hosts.length - eligible.length;
  const reason =
    `${eligible.length} of ${hosts.length} hosts in fleet "${fleet}" eligible (opted in and running)` +
    `${skipped ? `, ${skipped} never chosen` : ''}; ${how}; seed ${seed} chose ${victims.map((v) => v.id).join(', ')}`;
  return { seed, eligible, victims, reason };
}
