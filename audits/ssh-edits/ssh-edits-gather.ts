/**
 * The SSH edit audit of whole fleets: one connection per host, reused for all its edits; hosts in
 * parallel up to policy.ssh.concurrency; every host ends with a sweep for this run's canaries.
 */
import type { SshPolicy, Target } from '../../core/config.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { EndpointIdentityError, type SshError } from '../../core/errors.ts';
import type { FleetSnapshot, SnapshotHost } from '../../core/inventory.ts';
import {
  catalogue,
  expandHome,
  parseResolve,
  parseRestoreRoot,
  parseSweep,
  resolveCommand,
  type Resolution,
  restoreRootCommand,
  sweepCommand,
} from '../../probes/edits.ts';
import { SshSession, type CommandResult, type SshTarget } from '../../probes/ssh.ts';
import { sshLoginFor } from '../../providers/ssh-login.ts';
import { type EndpointIdentity, proveEndpoint, reachedHost } from '../endpoint-identity.ts';
import { classify, type EditResult } from './classify.ts';
import { type Mount, parseMountinfo } from './mounts.ts';
import { planSweep } from './sweep-plan.ts';

export interface LoginResult {
  ok: boolean;
  user?: string;
  uid?: number;
  home?: string;
  hostKey?: string;
  /** Why login failed: host-key-mismatch, auth-denied, auth-refused, unreachable, ... */
  kind?: string;
  /** The authentication methods the server offered, when it said (auth-denied, auth-refused). */
  offeredMethods?: string[];
  /** Whether the endpoint is the audited host, and what was compared (kind endpoint-identity: it is not). */
  identity?: EndpointIdentity;
  message?: string;
  durationMs: number;
}

export interface HostAudit {
  host: string;
  fleet: string;
  address?: string;
  login: LoginResult;
  edits: EditResult[];
  /** The host's mount table, read before any edit (/proc/self/mountinfo). */
  mounts?: { list: Mount[]; error?: string };
  /** Where each immutable, writable and edited path really leads (readlink -f), read with the mount table. */
  resolved?: Resolution;
  /** Canaries of this run the final sweep found: removed (and checked gone), or left. */
  sweep?: { removed: string[]; left: string[]; evidence: CommandResult; onNewConnection: boolean; error?: string };
  tainted: boolean;
  /**
   * An edit was cut off (timeout, connection lost): whether it changed the host is unknown, and
   * the rest of this host's edits were not tried.
   */
  error?: string;
  taintedUnknown?: boolean;
  /** The edit that was running when the audit was cut off. */
  interrupted?: string;
  /**
   * `/` put back read-only by the sweep after an aggressive remount that was cut off or not undone
   * (sweep-plan.ts); restored only when the mount table shows it read-only again.
   */
  rootRestore?: { why: string; restored: boolean; before?: string; after?: string; evidence?: CommandResult; error?: string };
}

async function auditHost(host: SnapshotHost, target: Target, policy: SshPolicy, runId: string): Promise<HostAudit> {
  const t0 = Date.now();
  const res: HostAudit = { host: host.id, fleet: target.name, login: { ok: false, durationMs: 0 }, edits: [], tainted: false };
  const st = sshLoginFor(host, target);
  if ('error' in st) {
    res.login = { ok: false, kind: 'config', message: st.error, durationMs: 0 };
    return res;
  }
  res.address = `${st.host}:${st.port}`;
  let session: SshSession;
  try {
    session = await SshSession.connect(st);
  } catch (err) {
    const e = err as SshError;
    res.login = {
      ok: false,
      kind: e.kind ?? 'protocol',
      message: e.message,
      ...(e.offeredMethods ? { offeredMethods: e.offeredMethods } : {}),
      durationMs: Date.now() - t0,
    };
    return res;
  }
  // Before anything else: an endpoint that is not this host (its labels point at another) is
  // neither edited nor swept in this host's name.
  const identity = await proveEndpoint(session, host, res.address);
  if (!reachedHost(identity)) {
    session.close();
    res.login = { ok: false, kind: 'endpoint-identity', message: identity.reason, hostKey: session.hostKey, identity, durationMs: Date.now() - t0 };
    return res;
  }
  let home = '/';
  try {
    const who = await session.exec('id -u; id -un; printf %s "$HOME"');
    const [uid, user, h] = who.stdout.split('\n');
    home = h || '/';
    res.login = { ok: true, uid: Number(uid), user: user ?? st.user, home, hostKey: session.hostKey, identity, durationMs: Date.now() - t0 };
    if (policy.mode === 'forbidden') {
      session.close();
      return res; // the login itself is the finding
    }
    const mi = await session.exec('cat /proc/self/mountinfo');
    const list = mi.exitCode === 0 ? parseMountinfo(mi.stdout) : [];
    res.mounts = list.length
      ? { list }
      : { list, error: `could not read /proc/self/mountinfo (exit ${mi.exitCode}): ${mi.stderr.trim().slice(0, 200) || 'no output'}` };
    const edits = catalogue({ runId, immutablePaths: policy.immutablePaths, home, aggressive: policy.aggressive });
    // A mount is judged where a path leads, not where it is written (a link into a read-write volume).
    const paths = [...policy.immutablePaths, ...policy.writablePaths].map((p) => expandHome(p, home));
    res.resolved = parseResolve(await session.exec(resolveCommand([...new Set([...paths, ...edits.flatMap((e) => (e.path ? [e.path] : []))])])));
    for (const edit of edits) {
      res.interrupted = edit.id;
      const r = classify(edit, await session.exec(edit.command));
      delete res.interrupted;
      res.edits.push(r);
      if (r.tainted) res.tainted = true;
    }
  } catch (err) {
    // Cut off mid-edit: the edit may or may not have landed. The rest is not tried; the sweep
    // below still runs, on a new connection. Cut off before any edit ran: nothing was tried.
    res.error = (err as Error).message;
    if (res.login.ok && res.interrupted) res.taintedUnknown = true;
    session.close();
  }
  if (res.login.ok) await sweep(res, host, st, session, runId, [...new Set([...policy.immutablePaths.map((p) => expandHome(p, home)), '/usr/bin'])]);
  session.close();
  return res;
}

/** Removes (and checks gone) every canary of this run, on the audit's connection or, if it broke, a new one. */
async function sweep(res: HostAudit, host: SnapshotHost, st: SshTarget, session: SshSession, runId: string, dirs: string[]): Promise<void> {
  const onNewConnection = !!res.error;
  let s = session;
  try {
    if (onNewConnection) {
      s = await SshSession.connect(st);
      // A new connection may reach a new occupant of the address: sweep only the host audited.
      const again = await proveEndpoint(s, host, res.address!);
      if (!reachedHost(again)) throw new EndpointIdentityError(again.reason, again);
    }
    const r = await s.exec(sweepCommand(runId, dirs));
    const found = parseSweep(r.stdout);
    res.sweep = { removed: found.removed, left: found.left, evidence: r, onNewConnection, ...(found.finished ? {} : { error: 'the sweep did not finish' }) };
    if (found.removed.length || found.left.length) res.tainted = true;
    await restoreRoot(res, s);
  } catch (err) {
    res.sweep = {
      removed: [],
      left: [],
      evidence: { command: sweepCommand(runId, dirs), exitCode: null, stdout: '', stderr: '', durationMs: 0 },
      onNewConnection,
      error: `the sweep could not run${onNewConnection ? ' on a new connection' : ''}: ${(err as Error).message}`,
    };
  } finally {
    if (s !== session) s.close();
  }
  if (!res.sweep?.error || res.rootRestore) return;
  // The canary sweep could not run, so neither could the restore: the plan still says whether one was owed.
  const plan = planSweep(res);
  if (plan.restoreRoot || plan.cannotRestore) {
    res.taintedUnknown = true;
    res.rootRestore = { why: plan.restoreRoot?.why ?? plan.cannotRestore!, restored: false, error: res.sweep.error };
  }
}

/** After the canary sweep (files first: / may be read-only again after this), puts / back read-only if the plan says so. */
async function restoreRoot(res: HostAudit, s: SshSession): Promise<void> {
  const plan = planSweep(res);
  if (plan.cannotRestore) {
    res.taintedUnknown = true;
    res.rootRestore = { why: plan.cannotRestore, restored: false, error: plan.cannotRestore };
    return;
  }
  if (!plan.restoreRoot) return;
  const cutOff = !!res.taintedUnknown;
  res.taintedUnknown = true; // until the mount table shows / read-only again
  const why = plan.restoreRoot.why;
  try {
    const r = await s.exec(restoreRootCommand());
    const m = parseRestoreRoot(r.stdout);
    res.rootRestore = { why, ...m, evidence: r };
    if (m.restored) res.taintedUnknown = cutOff; // proven read-only: only a cut-off edit keeps it unknown
    if (m.after === 'rw') res.tainted = true; // left read-write: changed in place, for certain
  } catch (err) {
    res.rootRestore = { why, restored: false, error: `could not put / back read-only: ${(err as Error).message}` };
  }
}

export async function auditFleets(
  fleets: Array<{ snapshot: FleetSnapshot; target: Target }>,
  policy: SshPolicy,
  runId: string,
  onProgress: (done: number, total: number, violations: number, last: HostAudit) => void = () => {},
): Promise<HostAudit[]> {
  const work = fleets.flatMap(({ snapshot, target }) => snapshot.hosts.map((host) => ({ host, target })));
  let done = 0;
  let violations = 0;
  return mapLimit(work, policy.concurrency, async ({ host, target }) => {
    const r = await auditHost(host, target, policy, runId);
    done++;
    violations += r.edits.filter((e) => e.outcome === 'ALLOWED').length + (policy.mode === 'forbidden' && r.login.ok ? 1 : 0);
    onProgress(done, work.length, violations, r);
    return r;
  });
}
