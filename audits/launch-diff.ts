/**
 * What differs between how a host was launched and how the one that took its place was: the
 * settings that make a host immutable (read-only root, privileges, capabilities, mounts, security
 * options, user). A replacement from the same digest but an older template passes every digest
 * check; this says what drifted, from what to what. The diff is pure; `launchConfigsOf` reads the
 * predecessors' settings through the provider before they are killed or replaced.
 */
import { errorMessage } from '../core/errors.ts';
import type { Host } from '../core/inventory.ts';
import type { LaunchConfig, Provider } from '../providers/provider.ts';

export interface LaunchChange {
  setting: string;
  from: string;
  to: string;
}

/** A predecessor's launch configuration, or why it could not be read. */
export type LaunchReading = LaunchConfig | { error: string };

const yesNo = (b: boolean | undefined) => (b === undefined ? 'unknown' : b ? 'yes' : 'no');
const caps = (xs: readonly string[] | undefined) => [...new Set((xs ?? []).map((x) => x.toUpperCase().replace(/^CAP_/, '')))].sort().join(', ') || 'none';
const opts = (xs: readonly string[] | undefined) => [...new Set(xs ?? [])].sort().join(', ') || 'none';
const user = (u: string | undefined) => (u ? u : 'root (no user set)');
type Mount = NonNullable<LaunchConfig['mountDetails']>[number];
const mount = (m: Mount) => `${m.type} from ${m.source}, ${m.rw ? 'read-write' : 'read-only'}`;

/** Every setting that differs, from the predecessor's value to the successor's. */
export function launchDiff(before: LaunchConfig, after: LaunchConfig): LaunchChange[] {
  const out: LaunchChange[] = [];
  const add = (setting: string, from: string, to: string) => {
    if (from !== to) out.push({ setting, from, to });
  };
  add('read-only root', yesNo(before.readonlyRootfs), yesNo(after.readonlyRootfs));
  add('privileged', yesNo(before.privileged), yesNo(after.privileged));
  add('capabilities added', caps(before.capAdd), caps(after.capAdd));
  add('security options', opts(before.securityOpt), opts(after.securityOpt));
  add('user', user(before.user), user(after.user));
  const was = new Map((before.mountDetails ?? []).map((m) => [m.destination, m]));
  const is = new Map((after.mountDetails ?? []).map((m) => [m.destination, m]));
  for (const dest of [...new Set([...was.keys(), ...is.keys()])].sort()) {
    const a = was.get(dest);
    const b = is.get(dest);
    add(`mount ${dest}`, a ? mount(a) : 'none', b ? mount(b) : 'none');
  }
  return out;
}

/** "read-only root: yes → no; capabilities added: none → SYS_ADMIN". */
export function describeLaunchDiff(changes: readonly LaunchChange[]): string {
  return changes.map((c) => `${c.setting}: ${c.from} → ${c.to}`).join('; ');
}

/** The launch configuration of each host, by instance id, where the provider can read it. */
export async function launchConfigsOf(provider: Provider, hosts: readonly Host[]): Promise<Record<string, LaunchReading>> {
  if (!provider.launchConfig) return {};
  const out: Record<string, LaunchReading> = {};
  for (const h of hosts) {
    try {
      out[h.instanceId] = await provider.launchConfig(h);
    } catch (err) {
      out[h.instanceId] = { error: `could not read how ${h.id} was launched: ${errorMessage(err)}` };
    }
  }
  return out;
}
