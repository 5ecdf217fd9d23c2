/** The fleets as they are when a run starts: the inventory snapshot every suite and the plan read. */
import type { Config } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import type { FleetSnapshot, Host, SnapshotHost } from '../core/inventory.ts';
import { providerFor } from './registry.ts';

export async function snapshotFleets(config: Config): Promise<FleetSnapshot[]> {
  return Promise.all(
    config.targets.map(async (t): Promise<FleetSnapshot> => {
      try {
        const hosts = await (await providerFor(t, config)).list();
        return {
          target: t.name,
          provider: t.provider,
          hosts: hosts.map(snapshotHost),
        };
      } catch (err) {
        return { target: t.name, provider: t.provider, hosts: [], error: errorMessage(err) };
      }
    }),
  );
}

/** A host as a snapshot records it (JSON-safe: its launch time as an ISO string). */
export function snapshotHost({ launchedAt, ...h }: Host): SnapshotHost {
  return { ...h, ...(launchedAt ? { launchedAt: launchedAt.toISOString() } : {}) };
}
