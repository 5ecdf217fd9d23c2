/** The fleets a suite audits in a run: only the hosts this run (or shard) owes checks of, so nobody else is touched. */
import type { Target } from '../core/config.ts';
import type { FleetSnapshot } from '../core/inventory.ts';
import type { Provider } from '../providers/provider.ts';
import { providerFor } from '../providers/registry.ts';
import type { SuiteRun } from './suite.ts';

export interface OwedFleet {
  snapshot: FleetSnapshot;
  target: Target;
  provider: Provider;
}

export async function owedFleets(run: SuiteRun, keep: (t: Target) => boolean): Promise<OwedFleet[]> {
  const hosts = new Set(run.owed.map((c) => `${c.fleet}/${c.host}`));
  const out: OwedFleet[] = [];
  for (const snapshot of run.inventory.filter((s) => !s.error)) {
    const target = run.config.targets.find((t) => t.name === snapshot.target)!;
    const mine = { ...snapshot, hosts: snapshot.hosts.filter((h) => hosts.has(`${snapshot.target}/${h.id}`)) };
    if (keep(target) && mine.hosts.length) out.push({ snapshot: mine, target, provider: await providerFor(target, run.config) });
  }
  return out;
}

export const hostCount = (fleets: OwedFleet[]) => fleets.reduce((n, f) => n + f.snapshot.hosts.length, 0);
