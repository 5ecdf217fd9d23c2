/**
 * Judges the SSH edit audit: one result per planned check. Pure: facts in, results out.
 * A login that failed, an edit that did not run, an outcome that could not be read: broken,
 * never passed.
 */
import { type CheckResult, json, type Judgement } from '../../core/check-result.ts';
import type { FleetSnapshot } from '../../core/inventory.ts';
import type { PlannedCheck } from '../../core/plan.ts';
import { CONTROLS } from '../../probes/edits.ts';
import { judgePerHost } from '../per-host.ts';
import type { HostAudit } from './audit.ts';

const TAINTED = 'TAINTED: changed in place during the audit: replace it';

export function judgeSshEdits(checks: PlannedCheck[], audits: HostAudit[], inventory: FleetSnapshot[]): CheckResult[] {
  return judgePerHost('SSH audit', checks, audits, inventory, (j, a, check) => {
    if (check.control === CONTROLS.login) return judgeLogin(j, a);
    if (check.control === CONTROLS.sweep) return judgeSweep(j, a);
    return judgeEdit(j, a, check.item!);
  });
}

function judgeLogin(j: Judgement, a: HostAudit): CheckResult {
  j.attach(json('login', a.login));
  if (!a.login.ok && a.login.kind !== 'auth-denied' && a.login.kind !== 'closed') return j.broken(a.login.message ?? 'login failed for an unknown reason');
  if (a.login.ok)
    return j.fail(
      'mutable-host',
      `ALLOWED: ${a.host} accepted a login as ${a.login.user} (uid ${a.login.uid}): any login is a violation under policy "forbidden"`,
    );
  return j.pass();
}

function judgeEdit(j: Judgement, a: HostAudit, item: string): CheckResult {
  if (!a.login.ok) {
    j.attach(json('login', a.login));
    return j.broken(`could not log in to ${a.host}, so this edit could not be tried: ${a.login.message}`);
  }
  const r = a.edits.find((e) => e.edit.id === item);
  if (!r) return j.broken(`${a.host}: the audit stopped before this edit: ${a.error ?? 'no result'}`);
  j.attach(
    json('evidence', {
      host: a.host,
      address: a.address,
      user: a.login.user,
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
    }),
  );
  if (r.tainted) j.taint();
  if (r.outcome === 'NOT_APPLICABLE') return j.notApplicable(`${item}: ${r.reason}`);
  if (r.outcome === 'UNKNOWN') return j.broken(`${a.host}: ${r.reason}`);
  if (r.outcome === 'ALLOWED') return j.fail('mutable-host', `ALLOWED on ${a.host}: ${r.reason}${r.tainted ? ` — ${TAINTED}` : ''}`);
  return j.pass();
}

function judgeSweep(j: Judgement, a: HostAudit): CheckResult {
  if (!a.login.ok) return j.broken(`could not log in to ${a.host} to sweep: ${a.login.message}`);
  if (!a.sweep || a.sweep.error) return j.broken(`${a.host}: the sweep did not finish: ${a.sweep?.error ?? a.error}`);
  const s = a.sweep;
  j.attach(
    json('sweep', {
      removed: s.removed,
      left: s.left,
      onNewConnection: s.onNewConnection,
      interrupted: a.error ?? null,
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
      `${a.host}: an edit was cut off (${a.error}): whether it changed the host is unknown (TAINTED-UNKNOWN); the sweep on a new connection found nothing of this run left`,
    );
  }
  return j.pass();
}
