/** A static list of SSH hosts from the config. It cannot kill anything, and says so. */
import { UnsupportedOperationError } from './errors.ts';
import type { CapacityReport, Host, Inventory, KillKind, WaitOptions } from './inventory.ts';

export interface StaticHostSpec {
  id: string;
  address: string;
  port?: number;
  service?: string;
  labels?: Record<string, string>;
}

export class StaticSshInventory implements Inventory {
  readonly provider = 'ssh' as const;
  constructor(readonly fleet: string, private readonly hosts: StaticHostSpec[], private readonly service?: string) {}

  async list(): Promise<Host[]> {
    return this.hosts.map((h) => ({
      id: h.id,
      instanceId: h.id,
      fleet: this.fleet,
      provider: 'ssh',
      ...(h.service ?? this.service ? { service: h.service ?? this.service } : {}),
      ssh: { host: h.address, port: h.port ?? 22 },
      image: {},
      labels: h.labels ?? {},
      chaosEligible: false,
      state: 'unknown',
    }));
  }

  async desiredCapacity(): Promise<number> {
    return this.hosts.length;
  }

  async kill(host: Host, _kind: KillKind): Promise<void> {
    throw new UnsupportedOperationError(`fleet "${this.fleet}" is a static list of SSH hosts: driftless cannot kill ${host.id}; use a docker or ec2 target for chaos`);
  }

  async waitForCapacity(_opts: WaitOptions): Promise<CapacityReport> {
    throw new UnsupportedOperationError(`fleet "${this.fleet}" is a static list of SSH hosts: it has no capacity to wait for`);
  }
}
