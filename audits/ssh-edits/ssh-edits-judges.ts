/**
 * Judges the SSH edit audit, one judge per control: facts of a host in, a result out. Pure.
 * A login that failed, an edit that did not run, an outcome that could not be read: broken,
 * never passed.
 */
import { type CheckResult, json, type Judgement } from '../../core/check-result.ts';
import type { SshPolicy } from '../../core/config.ts';
import { expandHome } from '../../probes/edits.ts';
import type { Judge, Judges } from '../suite.ts';
import { mountOf, mountOfResolved, writableUnderImmutable } from './mounts.ts';
import type { HostAudit } from './ssh-edits-gather.ts';

const TAINTED = 'TAINTED: changed in place during the audit: replace it';

type Policy = Pick<SshPolicy, 'immutablePaths' | 'writablePaths'>;
const edit: Judge<HostAudit> = (j, a, check) => judgeEdit(j, a, check.item!);

/** One judge per control of the ssh-edits suite; the edits (010…050) share one, by the edit tried. */
export const SSH_EDITS_JUDGES: Judges<'ssh-edits', HostAudit> = {
  'DL-SSH-001': (j, a) => judgeLogin(j, a),
  'DL-SSH-010': edit,
  'DL-SSH-020': edit,
  'DL-SSH-030': edit,
  'DL-SSH-040': edit,
  'DL-SSH-050': edit,
  'DL-SSH-060': (j, a, _c, run) => judgeMounts(j, a, run.config.policy.ssh),
  'DL-SSH-099': (j, a) => judgeSweep(j, a),
};

/**
 * The endpoint answered as another host (or could not be tied to this one): nothing was tried
 * there, and no check of this host can say anything.
 */
function notThisHost(j: Judgement, a: HostAudit): CheckResult | undefined {
  if (a.login.kind !== 'endpoint-identity') return undefined;
  j.attach(json('login', a.login));
  return j.broken(`${a.login.message ?? `the SSH endpoint ${a.address} is not proven to be ${a.host}`}: none of ${a.host}'s SSH checks ran there`);
}

/** Only a read-only mount makes a path immutable (DL-SSH-060). */
function judgeMounts(j: Judgement, a: HostAudit, policy: Policy): CheckResult {
  const other = notThisHost(j, a);
  if (other) return other;
  if (!a.login.ok) return j.broken(`could not log in to ${a.host} to read its mount table: ${a.login.message}`);
  if (!a.mounts || a.mounts.error) return j.broken(`${a.host}: ${a.mounts?.error ?? `the audit stopped before the mount table was read: ${a.error}`}`);
  const home = a.login.home ?? '/';
  const immutable = policy.immutablePaths.map((p) => expandHome(p, home));
  // Each path's mount is the mount of where it leads (a link into a read-write volume is that volume).
  const r = a.resolved;
  if (!r || r.error) return j.broken(`${a.host}: where the immutable paths lead (readlink -f) is unknown: ${r?.error ?? 'not resolved'}`);
  const unknown = immutable.filter((p) => r.unresolved.includes(p) || r.paths[p] === undefined);
  if (unknown.length) return j.broken(`${a.host}: ${unknown.join(', ')} could not be resolved (readlink -f), so the mount they lead to is unknown`);
  const findings = writableUnderImmutable(
    immutable,
    policy.writablePaths.map((p) => expandHome(p, home)),
    a.mounts.list,
    r.paths,
  );
  j.attach(
    json('mounts', {
      immutablePaths: immutable.map((p) => ({ path: p, resolved: r.paths[p], mount: mountOfResolved(p, a.mounts!.list, r.paths) })),
      findings,
      table: a.mounts.list,
      endpoint: a.login.identity ?? null,
    }),
  );
  if (findings.length) return j.fail('writable-mount', `${a.host}: immutable paths on read-write mounts: ${findings.map((f) => f.why).join('; ')}`);
  return j.pass();
}

function judgeLogin(j: Judgement, a: HostAudit): CheckResult {
  const other = notThisHost(j, a);
  if (other) return other;
  j.attach(json('login', a.login));
  if (a.login.ok)
    return j.fail(
      'mutable-host',
      `ALLOWED: ${a.host} accepted a login as ${a.login.user} (uid ${a.login.uid}): any login is a violation under policy "forbidden"`,
    );
  // Proven refused: the server offers no authentication method, or hung up during authentication
  // before offering one. A server that offers one and rejected ours may only not know our key.
  if (a.login.kind === 'auth-refused' || a.login.kind === 'closed') return j.pass();
  if (a.login.kind === 'auth-denied') {
    return j.broken(
      `our credentials were rejected by ${a.host}, which offers ${a.login.offeredMethods?.join(', ') || '(methods not said)'}: not proof that logins are refused ` +
        `(a wrong ssh.user or a stale key looks the same); only a server that offers no method proves it — ${a.login.message}`,
    );
  }
  return j.broken(a.login.message ?? 'login failed for an unknown reason');
}

function judgeEdit(j: Judgement, a: HostAudit, item: string): CheckResult {
  const other = notThisHost(j, a);
  if (other) return other;
  if (!a.login.ok) {
    j.attach(json('login', a.login));
    return j.broken(`could not log in to ${a.host}, so this edit could not be tried: ${a.login.message}`);
  }
  const r = a.edits.find((e) => e.edit.id === item);
  if (!r) return j.broken(`${a.host}: the audit stopped before this edit: ${a.error ?? 'no result'}`);
  // The mount of where the edited path leads; unknown if it could not be resolved.
  const leadsTo = r.edit.path ? a.resolved?.paths[r.edit.path] : undefined;
  const mount = leadsTo !== undefined && a.mounts?.list.length ? mountOf(leadsTo, a.mounts.list) : undefined;
  j.attach(
    json('evidence', {
      host: a.host,
      address: a.address,
      user: a.login.user,
      // What proved the endpoint is this host (overlay upper directory, instance id, pinned key).
      endpoint: a.login.identity ?? null,
      outcome: r.outcome,
      reason: r.reason,
      errno: r.errno,
      command: r.evidence.command,
      exitCode: r.evidence.exitCode,
      stdout: r.evidence.stdout,
      stderr: r.evidence.stderr,
      durationMs: r.evidence.durationMs,
      tainted: r.tainted,
      reverted: r.reverted,
      ctime: r.ctime,
      resolved: leadsTo ?? null,
      mount: mount ? { mountPoint: mount.mountPoint, source: mount.source, fsType: mount.fsType, readOnly: mount.readOnly } : null,
    }),
  );
  if (r.tainted) j.taint();
  if (r.outcome === 'NOT_APPLICABLE') return j.notApplicable(`${item}: ${r.reason}`);
  if (r.outcome === 'UNKNOWN') return j.broken(`${a.host}: ${r.reason}`);
  if (r.outcome === 'ALLOWED') return j.fail('mutable-host', `ALLOWED on ${a.host}: ${r.reason}${r.tainted ? ` — ${TAINTED}` : ''}`);
  // BLOCKED: but what refused it, and did nothing change anyway?
  if (r.ctime && r.ctime.before !== r.ctime.after) {
    return j.fail(
      'refused-but-changed',
      `${a.host}: ${r.edit.path} was refused (${r.reason}) but its ctime moved during the attempt (${r.ctime.before} → ${r.ctime.after}): something was written`,
    );
  }
  if (r.edit.path && (r.errno === 'EACCES' || r.errno === 'EPERM')) {
    if (!mount)
      return j.broken(
        `${a.host}: refused by permissions (${r.errno}), but the mount of ${r.edit.path} is unknown: a refusal by permissions cannot be told from immutability (${a.mounts?.error ?? (a.mounts?.list.length ? (a.resolved?.error ?? `${r.edit.path} could not be resolved`) : 'no mount table')})`,
      );
    if (!mount.readOnly) {
      return j.fail(
        'mutable-by-privilege',
        `${a.host}: ${r.edit.path}${leadsTo !== r.edit.path ? ` (a link to ${leadsTo})` : ''} refused the login user by permissions only (${r.errno}) and is on ${mount.mountPoint} (${mount.source}, ${mount.fsType}), mounted read-write: mutable by a more privileged user`,
      );
    }
  }
  return j.pass();
}

function judgeSweep(j: Judgement, a: HostAudit): CheckResult {
  const other = notThisHost(j, a);
  if (other) return other;
  if (!a.login.ok) return j.broken(`could not log in to ${a.host} to sweep: ${a.login.message}`);
  // A cut-off edit may have changed the host: it is tainted-unknown whatever the sweep says.
  if (a.taintedUnknown) j.taint();
  // A remount the audit did not see undone: / is put back read-only by the sweep (sweep-plan.ts),
  // and the host is tainted until the mount table shows it read-only again.
  const root = a.rootRestore;
  if (root) {
    j.attach(json('root remount restored', root));
    if (!root.restored) j.taint();
    if (root.after === 'rw')
      return j.fail(
        'canary-left',
        `${a.host}: / was left mounted read-write (${root.why}) and could not be remounted read-only: remount it by hand, and replace the host`,
      );
    if (!root.restored)
      return j.broken(
        `${a.host}: TAINTED-UNKNOWN: ${root.why}, and / could not be proven read-only again: ${root.error ?? `the mount table says ${root.after ?? 'nothing'}`}`,
      );
  }
  if (!a.sweep || a.sweep.error) return j.broken(`${a.host}: the sweep did not finish: ${a.sweep?.error ?? a.error}`);
  const s = a.sweep;
  j.attach(
    json('sweep', {
      removed: s.removed,
      left: s.left,
      onNewConnection: s.onNewConnection,
      interrupted: a.error ?? null,
      endpoint: a.login.identity ?? null,
      command: s.evidence.command,
      stdout: s.evidence.stdout,
      stderr: s.evidence.stderr,
    }),
  );
  if (s.left.length) {
    j.taint();
    return j.fail('canary-left', `canaries of this run could NOT be removed from ${a.host}: ${s.left.join(', ')} — remove them by hand, and replace the host`);
  }
  if (s.removed.length) {
    j.taint();
    return j.fail(
      'canary-left',
      `canaries of this run were left on ${a.host} and have now been removed (checked gone): ${s.removed.join(', ')} — the host was changed in place: replace it`,
    );
  }
  if (a.taintedUnknown) {
    return j.broken(
      `${a.host}: an edit was cut off (${a.error}): whether it changed the host is unknown (TAINTED-UNKNOWN); the sweep on a new connection found nothing of this run left` +
        (root ? `, and put / back read-only (checked in the mount table)` : ''),
    );
  }
  return j.pass();
}
