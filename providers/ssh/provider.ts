/** A static list of SSH hosts from the config. It cannot kill anything, and says so. */
import type { SshTarget } from '../../core/config.ts';
import { UnsupportedOperationError } from '../../core/errors.ts';
import type { CapacityReport, Host, KillKind, WaitOptions } from '../../core/inventory.ts';
import type { ImageFacts, Provider } from '../provider.ts';

export class StaticSshProvider implements Provider {
  readonly kind = 'ssh' as const;
  readonly fleet: string;
  constructor(private readonly target: Pick<SshTarget, 'name' | 'hosts' | 'service'>) {
    this.fleet = target.name;
  }

  async list(): Promise<Host[]> {
    return this.target.hosts.map((h) => {
      const service = h.service ?? this.target.service;
      return {
        id: h.id,
        instanceId: h.id,
        fleet: this.fleet,
        provider: 'ssh',
        ...(service !== undefined ? { service } : {}),
        ssh: { host: h.address, port: h.port ?? 22 },
        // Its own entry pins its key (hosts[].hostKey or known_hosts): the key is the host.
        identity: { kind: 'pinned-host-key' as const },
        image: {},
        labels: h.labels ?? {},
        chaosEligible: false,
        state: 'unknown',
      };
    });
  }

  async lookup(host: Host): Promise<Host | undefined> {
    return (await this.list()).find((h) => h.id === host.id);
  }

  async desiredCapacity(): Promise<number> {
    return this.target.hosts.length;
  }

  async kill(host: Host, _kind: KillKind): Promise<void> {
    throw new UnsupportedOperationError(
      `fleet "${this.fleet}" is a static list of SSH hosts: driftless cannot kill ${host.id}; use a docker or ec2 target for chaos`,
    );
  }

  async waitForCapacity(_opts: WaitOptions): Promise<CapacityReport> {
    throw new UnsupportedOperationError(`fleet "${this.fleet}" is a static list of SSH hosts: it has no capacity to wait for`);
  }

  /** Nothing but the host itself knows what it runs: the golden manifest over SSH says it. */
  async imageFacts(): Promise<ImageFacts> {
    return { kind: 'none' };
  }
}
