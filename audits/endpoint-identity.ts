/**
 * Whether an SSH session reached the host it audits. A docker host's SSH address comes from its
 * labels, an EC2 host's from a tag or an IP: they name a place, not the instance, so a container
 * labelled with another host's port would have that other host audited (and edited) in its name.
 * The session proves where it is: a container's root overlay names its upper directory
 * (/proc/self/mountinfo), which the engine's inspect reports too; an EC2 instance says its own id
 * (IMDSv2). A static SSH host is proven by its pinned host key, which the session already checked.
 * The decision is pure (decideIdentity); proveEndpoint reads what it needs over the session.
 */
import { EndpointIdentityError, errorMessage } from '../core/errors.ts';
import type { HostIdentity, SnapshotHost } from '../core/inventory.ts';
import { IMDS_INSTANCE_ID_COMMAND, parseImdsInstanceId } from '../probes/imds.ts';
import type { CommandResult } from '../probes/ssh.ts';
import { mountOf, parseMountinfo } from './ssh-edits/mounts.ts';

/** The root mount (/) of the endpoint, as its kernel lists it; or why it could not be read. */
export type RootReading = { fsType: string; source: string; upperdir?: string } | { error: string };

/** What the session read at the SSH endpoint. */
export interface EndpointReading {
  /** host:port the session connected to. */
  address: string;
  /** The host key the endpoint presented (already checked against the pinned keys). */
  hostKey: string;
  root?: RootReading;
  /** The EC2 instance id read through IMDSv2 there; or why not. */
  instanceId?: { value: string } | { error: string };
}

export interface EndpointIdentity {
  /** proven: the endpoint is the host; not-proven: it is another, or cannot be told; not-applicable: the pinned host key is the identity. */
  status: 'proven' | 'not-proven' | 'not-applicable';
  basis: HostIdentity['kind'];
  address: string;
  /** The host's side, as its provider knows it. */
  expected?: string;
  /** What the session read at the endpoint. */
  observed?: string;
  /** One sentence naming both sides. */
  reason: string;
}

/** The identity decides whether the host's SSH checks may run: only a not-proven one stops them. */
export const reachedHost = (i: EndpointIdentity): boolean => i.status !== 'not-proven';

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The root mount of a /proc/self/mountinfo text: the topmost mount on /, its overlay upper directory if any. */
export function rootOf(mountinfo: CommandResult | { exitCode: number | null; stdout: string; stderr: string }): RootReading {
  const list = mountinfo.exitCode === 0 ? parseMountinfo(mountinfo.stdout) : [];
  const root = list.length ? mountOf('/', list) : undefined;
  if (!root || root.mountPoint !== '/')
    return { error: `could not read /proc/self/mountinfo (exit ${mountinfo.exitCode}): ${mountinfo.stderr.trim().slice(0, 200) || 'no root mount in it'}` };
  const upper = root.superOptions.find((o) => o.startsWith('upperdir='));
  return { fsType: root.fsType, source: root.source, ...(upper ? { upperdir: unescape(upper.slice('upperdir='.length)) } : {}) };
}

const describeRoot = (r: RootReading | undefined): string =>
  !r ? 'not read' : 'error' in r ? r.error : `${r.fsType} (${r.source})${r.upperdir ? `, upperdir ${r.upperdir}` : ''}`;

/** Pure: the host as its provider knows it, and what the session read at its SSH address. */
export function decideIdentity(host: Pick<SnapshotHost, 'id' | 'identity'>, seen: EndpointReading): EndpointIdentity {
  const at = `the SSH endpoint ${seen.address}`;
  const want = host.identity;
  if (want?.kind === 'pinned-host-key') {
    return {
      status: 'not-applicable',
      basis: 'pinned-host-key',
      address: seen.address,
      observed: `host key ${seen.hostKey}`,
      reason: `${host.id} is named by its own pinned host key: the key it presented (${seen.hostKey}) is its identity`,
    };
  }
  const no = (basis: EndpointIdentity['basis'], reason: string, expected?: string, observed?: string): EndpointIdentity => ({
    status: 'not-proven',
    basis,
    address: seen.address,
    ...(expected !== undefined ? { expected } : {}),
    ...(observed !== undefined ? { observed } : {}),
    reason,
  });
  if (!want) return no('none', `nothing ties ${host.id} to ${at}: its provider recorded no identity of it (an overlay upper directory, an instance id)`);
  if (want.kind === 'none') {
    const observed = seen.root ? describeRoot(seen.root) : undefined;
    return no('none', `${at} cannot be proven to be ${host.id}: ${want.why}`, undefined, observed);
  }
  if (want.kind === 'overlay-upperdir') {
    const expected = `upperdir ${want.value}`;
    const r = seen.root;
    if (!r || 'error' in r)
      return no(want.kind, `${at} cannot be tied to ${host.id} (${expected}): its root mount is unknown: ${r?.error ?? 'not read'}`, expected, describeRoot(r));
    const observed = describeRoot(r);
    if (r.fsType !== 'overlay' || !r.upperdir) {
      return no(
        want.kind,
        `${at} cannot be tied to ${host.id} (${expected}): its root is ${r.fsType} (${r.source})${r.fsType === 'overlay' ? ' with no upper directory' : ', not an overlay'}: not a container of this engine's overlay storage`,
        expected,
        observed,
      );
    }
    if (r.upperdir !== want.value) {
      return no(
        want.kind,
        `${at} answered as another container (upperdir ${r.upperdir}), not ${host.id} (${expected}): its labels point at another host`,
        expected,
        `upperdir ${r.upperdir}`,
      );
    }
    return {
      status: 'proven',
      basis: want.kind,
      address: seen.address,
      expected,
      observed: `upperdir ${r.upperdir}`,
      reason: `${at}'s root overlay has upperdir ${r.upperdir}, the upper directory the engine reports for ${host.id}`,
    };
  }
  const expected = `instance ${want.value}`;
  const got = seen.instanceId;
  if (!got || 'error' in got)
    return no(want.kind, `${at} cannot be tied to ${host.id}: its instance id could not be read there: ${got?.error ?? 'not read'}`, expected, got?.error);
  if (got.value !== want.value) {
    return no(
      want.kind,
      `${at} answered as instance ${got.value} (IMDSv2), not ${host.id} (${expected}): its SSH address points at another instance`,
      expected,
      `instance ${got.value}`,
    );
  }
  return {
    status: 'proven',
    basis: want.kind,
    address: seen.address,
    expected,
    observed: `instance ${got.value}`,
    reason: `${at} says (IMDSv2) it is instance ${got.value}, which is ${host.id}`,
  };
}

/** What proveEndpoint needs of a session: run a command. */
export interface Exec {
  exec(command: string): Promise<CommandResult>;
  readonly hostKey: string;
}

/** Reads over the session what the host's identity needs, and decides. Never throws for a read that failed: that is "not proven". */
export async function proveEndpoint(session: Exec, host: Pick<SnapshotHost, 'id' | 'identity'>, address: string): Promise<EndpointIdentity> {
  const seen: EndpointReading = { address, hostKey: session.hostKey };
  const kind = host.identity?.kind;
  const failed = (err: unknown) => ({ error: `the session failed while reading it: ${errorMessage(err)}` });
  if (kind === 'overlay-upperdir') seen.root = await session.exec('cat /proc/self/mountinfo').then(rootOf, failed);
  if (kind === 'ec2-instance-id') seen.instanceId = await session.exec(IMDS_INSTANCE_ID_COMMAND).then(parseImdsInstanceId, failed);
  return decideIdentity(host, seen);
}

/** Throws EndpointIdentityError when the endpoint is not proven to be the host; returns the identity otherwise. */
export async function requireEndpoint(session: Exec, host: Pick<SnapshotHost, 'id' | 'identity'>, address: string): Promise<EndpointIdentity> {
  const identity = await proveEndpoint(session, host, address);
  if (!reachedHost(identity)) throw new EndpointIdentityError(identity.reason, identity);
  return identity;
}
