/**
 * The SSH edit audit of whole fleets: one connection per host, reused for all its edits; hosts in
 * parallel up to policy.ssh.concurrency; every host ends with a sweep for this run's canaries.
 */
import type { SshPolicy, Target } from '../../core/config.ts';
import { mapLimit } from '../../core/concurrency.ts';
import type { SshError } from '../../core/errors.ts';
import type { FleetSnapshot, SnapshotHost } from '../../core/inventory.ts';
import { catalogue, expandHome, sweepCommand } from '../../probes/edits.ts';
import { SshSession, type CommandResult } from '../../probes/ssh.ts';
import { sshLoginFor } from '../../providers/ssh-login.ts';
import { classify, type EditResult } from './classify.ts';

export interface LoginResult {
  ok: boolean;
  user?: string;
  uid?: number;
  home?: string;
  hostKey?: string;
  /** Why login failed: host-key-mismatch, auth-denied, unreachable, ... */
  kind?: string;
  message?: string;
  durationMs: number;
}

export interface HostAudit {
  host: string;
  fleet: string;
  address?: string;
  login: LoginResult;
  edits: EditResult[];
  sweep?: { remaining: string[]; evidence: CommandResult; error?: string };
  tainted: boolean;
  /** A command failed mid-way (connection lost): the rest of this host's edits are unknown. */
  error?: string;
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
    res.login = { ok: false, kind: e.kind ?? 'protocol', message: e.message, durationMs: Date.now() - t0 };
    return res;
  }
  try {
    const who = await session.exec('id -u; id -un; printf %s "$HOME"');
    const [uid, user, home] = who.stdout.split('\n');
    res.login = { ok: true, uid: Number(uid), user: user ?? st.user, home: home || '/', hostKey: session.hostKey, durationMs: Date.now() - t0 };
    if (policy.mode === 'forbidden') return res; // the login itself is the finding
    const edits = catalogue({ runId, immutablePaths: policy.immutablePaths, home: res.login.home!, aggressive: policy.aggressive });
    for (const edit of edits) {
      const r = classify(edit, await session.exec(edit.command));
      res.edits.push(r);
      if (r.tainted) res.tainted = true;
    }
    const dirs = [...new Set([...policy.immutablePaths.map((p) => expandHome(p, res.login.home!)), '/usr/bin'])];
    const sweep = await session.exec(sweepCommand(runId, dirs));
    const remaining = sweep.stdout.split('\n').filter((l) => l.trim() && l.trim() !== 'DL:SWEPT');
    res.sweep = { remaining, evidence: sweep, ...(sweep.stdout.includes('DL:SWEPT') ? {} : { error: 'the sweep did not finish' }) };
  } catch (err) {
    res.error = (err as Error).message;
  } finally {
    session.close();
  }
  return res;
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
