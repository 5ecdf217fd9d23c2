/**
 * Immutability — forbidden edits over SSH.
 *
 * For every host: log in with the auditor's key (host key pinned), try each forbidden edit,
 * and expect every one to be refused. Whatever got through is reverted at once and the host is
 * reported TAINTED. The last check on each host proves no canary of this run remains.
 */
import { catalogue, CONTROLS } from '../probes/edits.ts';
import { labelCheck, probeError, violation } from '../fixtures/evidence.ts';
import { fleetSnapshot, runConfig } from '../fixtures/run-context.ts';
import type { HostAudit } from '../fixtures/ssh-audit.ts';
import { expect, test } from '../fixtures/test.ts';

const config = runConfig();
const policy = config.policy.ssh;
const FEATURE = 'SSH edits';
// Titles and ids only: the real commands are built per host once its home directory is known.
const plannedEdits = catalogue({ runId: 'plan', immutablePaths: policy.immutablePaths, home: '~', aggressive: policy.aggressive });

function auditOf(audits: HostAudit[], host: string, fleet: string): HostAudit {
  const a = audits.find((x) => x.host === host && x.fleet === fleet);
  if (!a) throw new Error(`no audit result for ${host} in fleet ${fleet}`);
  return a;
}

const TAINTED = 'TAINTED: changed in place during the audit: replace it';

for (const snap of fleetSnapshot()) {
  const target = config.targets.find((t) => t.name === snap.target)!;
  if (!target.ssh && target.provider !== 'ssh') continue;

  test.describe(`fleet ${snap.target}`, () => {
    if (snap.error) {
      test(`${CONTROLS.login} hosts of fleet ${snap.target} can be listed`, async ({ config }) => {
        await labelCheck({ epic: 'Immutability', feature: FEATURE, story: 'inventory', control: CONTROLS.login, fleet: snap.target, config });
        await probeError(`could not list the hosts of fleet ${snap.target}: ${snap.error}`);
      });
      return;
    }

    for (const host of snap.hosts) {
      test.describe(host.id, () => {
        if (policy.mode === 'forbidden') {
          test(`${CONTROLS.login} login is refused (policy: forbidden)`, async ({ sshAudit, config, evidence }) => {
            await labelCheck({ epic: 'Immutability', feature: FEATURE, story: 'login refused', control: CONTROLS.login, host: host.id, fleet: snap.target, config });
            const a = auditOf(sshAudit, host.id, snap.target);
            await evidence.json('login', a.login);
            if (!a.login.ok && a.login.kind !== 'auth-denied' && a.login.kind !== 'closed') {
              await probeError(a.login.message ?? 'login failed for an unknown reason');
            }
            if (a.login.ok) await violation('mutable-host');
            expect(a.login.ok, `ALLOWED: ${host.id} accepted a login as ${a.login.user} (uid ${a.login.uid}): any login is a violation under policy "forbidden"`).toBe(false);
          });
        } else {
          for (const planned of plannedEdits) {
            test(`${planned.control} ${planned.title}`, async ({ sshAudit, config, evidence }) => {
              await labelCheck({ epic: 'Immutability', feature: FEATURE, story: planned.title, control: planned.control, host: host.id, fleet: snap.target, config });
              const a = auditOf(sshAudit, host.id, snap.target);
              if (!a.login.ok) {
                await evidence.json('login', a.login);
                await probeError(`could not log in to ${host.id}, so this edit could not be tried: ${a.login.message}`);
              }
              const r = a.edits.find((e) => e.edit.id === planned.id);
              if (!r) await probeError(`${host.id}: the audit stopped before this edit: ${a.error ?? 'no result'}`);
              await evidence.json('evidence', {
                host: host.id,
                address: a.address,
                user: a.login.user,
                outcome: r!.outcome,
                reason: r!.reason,
                errno: r!.errno,
                command: r!.evidence.command,
                exitCode: r!.evidence.exitCode,
                stdout: r!.evidence.stdout,
                stderr: r!.evidence.stderr,
                durationMs: r!.evidence.durationMs,
                tainted: r!.tainted,
                reverted: r!.reverted,
              });
              test.skip(r!.outcome === 'NOT_APPLICABLE', `${planned.id}: ${r!.reason}`);
              if (r!.outcome === 'UNKNOWN') await probeError(`${host.id}: ${r!.reason}`);
              if (r!.outcome === 'ALLOWED') await violation('mutable-host');
              if (r!.tainted) await violation('tainted');
              expect(r!.outcome, `ALLOWED on ${host.id}: ${r!.reason}${r!.tainted ? ` — ${TAINTED}` : ''}`).toBe('BLOCKED');
            });
          }

          test(`${CONTROLS.sweep} no canary of this run remains`, async ({ sshAudit, config, evidence }) => {
            await labelCheck({ epic: 'Immutability', feature: FEATURE, story: 'nothing left behind', control: CONTROLS.sweep, host: host.id, fleet: snap.target, config });
            const a = auditOf(sshAudit, host.id, snap.target);
            if (!a.login.ok) await probeError(`could not log in to ${host.id} to sweep: ${a.login.message}`);
            if (!a.sweep || a.sweep.error) await probeError(`${host.id}: the sweep did not finish: ${a.sweep?.error ?? a.error}`);
            await evidence.json('sweep', { remaining: a.sweep!.remaining, command: a.sweep!.evidence.command, stderr: a.sweep!.evidence.stderr, tainted: a.tainted });
            expect(a.sweep!.remaining, `canaries of this run left on ${host.id}`).toEqual([]);
          });
        }
      });
    }
  });
}
