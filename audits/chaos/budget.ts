/**
 * One kill budget per run, across all fleets (safety.maxKills): every kill is taken from it
 * before it is issued, and a dry run reserves what it would have killed, so the budget it reports
 * is the one a real run would have had.
 */
export interface KillRecord {
  fleet: string;
  host: string;
  instanceId: string;
  at: string;
}

export class KillBudget {
  readonly spent: KillRecord[] = [];
  /** What a dry run would have killed. */
  readonly wouldKill: KillRecord[] = [];
  constructor(readonly max: number) {}

  get remaining(): number {
    return this.max - this.spent.length - this.wouldKill.length;
  }

  /** Takes one kill for `host`; false when the budget is spent (nothing may be killed then). */
  take(host: { fleet: string; id: string; instanceId: string }, dryRun = false): boolean {
    if (this.remaining <= 0) return false;
    (dryRun ? this.wouldKill : this.spent).push({ fleet: host.fleet, host: host.id, instanceId: host.instanceId, at: new Date().toISOString() });
    return true;
  }

  /** Where the budget went, in words, for a fleet that got none of it. */
  describe(): string {
    const by = new Map<string, number>();
    for (const k of [...this.spent, ...this.wouldKill]) by.set(k.fleet, (by.get(k.fleet) ?? 0) + 1);
    return `safety.maxKills ${this.max} spent (${[...by].map(([f, n]) => `${f}: ${n}`).join(', ') || 'none yet'})`;
  }
}
