/**
 * An aggressive remount cut off after `remount,rw` leaves / read-write, and removing files does not
 * undo it: the sweep plan owes a remount back to read-only, and the host is tainted until the
 * mount table shows / read-only again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostAudit } from '../../audits/ssh-edits/ssh-edits-gather.ts';
import { classify } from '../../audits/ssh-edits/classify.ts';
import { judgeSshEdits } from '../helpers/suite-run.ts';
import { parseMountinfo } from '../../audits/ssh-edits/mounts.ts';
import { planSweep } from '../../audits/ssh-edits/sweep-plan.ts';
import { checkId, type PlannedCheck } from '../../core/run-plan.ts';
import { catalogue, parseRestoreRoot, restoreRootCommand } from '../../probes/edits.ts';

const edits = catalogue({ runId: 'r', immutablePaths: ['/etc'], home: '/home/audit', aggressive: true });
const remount = edits.find((e) => e.id === 'remount')!;
const RO = { list: parseMountinfo('25 1 8:1 / / ro,relatime - ext4 /dev/sda1 ro') };
const RW = { list: parseMountinfo('25 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw') };
const ran = (stdout: string, stderr = '') => classify(remount, { command: remount.command, exitCode: 0, stdout, stderr, durationMs: 1 });

describe('the sweep plan after an aggressive remount', () => {
  test('cut off after it started, / read-only when the audit began: restore / read-only', () => {
    const p = planSweep({ edits: [], interrupted: 'remount', mounts: RO });
    assert.match(p.restoreRoot?.why ?? 'no restore', /cut off after it started/);
  });

  test('finished and checked back (REMOUNTED, REMOVED): nothing to restore', () => {
    assert.deepEqual(planSweep({ edits: [ran('DL:MODE ro\nDL:REMOUNTED\nDL:REMOVED\n')], mounts: RO }), {});
  });

  test('remounted but not put back (STILL_THERE), or no marker at all: restore', () => {
    assert.ok(planSweep({ edits: [ran('DL:MODE ro\nDL:REMOUNTED\nDL:STILL_THERE\n')], mounts: RO }).restoreRoot);
    assert.ok(planSweep({ edits: [ran('DL:MODE ro\n')], mounts: RO }).restoreRoot, 'no result marker: not confirmed');
  });

  test('refused, or / already read-write: nothing was changed, nothing to restore', () => {
    assert.deepEqual(
      planSweep({ edits: [ran('DL:MODE ro\nDL:REFUSED\n', 'mount: permission denied (are you root?)\nOperation not permitted')], mounts: RO }),
      {},
    );
    assert.deepEqual(planSweep({ edits: [ran('DL:MODE rw\nDL:ALREADY_RW\n')], mounts: RW }), {});
  });

  test('/ found read-write: never made read-only by the sweep', () => {
    assert.deepEqual(planSweep({ edits: [], interrupted: 'remount', mounts: RW }), {});
  });

  test('the mode / was found in is unknown: not changed, and said so (tainted-unknown)', () => {
    assert.match(planSweep({ edits: [], interrupted: 'remount' }).cannotRestore ?? '', /mode \/ was found in is unknown/);
  });

  test('cut off at another edit, before the remount: nothing to restore', () => {
    assert.deepEqual(planSweep({ edits: [], interrupted: 'sudo', mounts: RO }), {});
  });

  test('restored only when the mount table read after shows / read-only', () => {
    assert.match(restoreRootCommand(), /mount -o remount,ro \//);
    assert.deepEqual(parseRestoreRoot('DL:MODE rw\nDL:REMOUNTED_RO\nDL:MODE_AFTER ro\n'), { before: 'rw', after: 'ro', restored: true });
    assert.deepEqual(parseRestoreRoot('DL:MODE rw\nDL:REFUSED\nDL:MODE_AFTER rw\n'), { before: 'rw', after: 'rw', restored: false });
    assert.equal(parseRestoreRoot('DL:MODE rw\n').restored, false, 'cut off before the check: not proven');
  });
});

describe('the sweep check (DL-SSH-099) reports it', () => {
  const check: PlannedCheck = { id: checkId('f', 'h', 'DL-SSH-099'), control: 'DL-SSH-099', suite: 'ssh-edits', fleet: 'f', host: 'h', title: 't', story: 's' };
  const audit = (rootRestore: HostAudit['rootRestore']): HostAudit => ({
    host: 'h',
    fleet: 'f',
    login: { ok: true, user: 'root', uid: 0, home: '/root', durationMs: 1 },
    edits: [],
    mounts: RO,
    sweep: { removed: [], left: [], evidence: { command: 'sweep', exitCode: 0, stdout: 'DL:SWEPT\n', stderr: '', durationMs: 1 }, onNewConnection: true },
    tainted: false,
    error: 'h: command did not finish within 2000 ms',
    taintedUnknown: true,
    interrupted: 'remount',
    ...(rootRestore ? { rootRestore } : {}),
  });
  const judge = (a: HostAudit) =>
    judgeSshEdits([check], [a], [{ target: 'f', provider: 'ssh', hosts: [] }], { immutablePaths: ['/etc'], writablePaths: ['/tmp'] })[0]!;
  const why = 'the remount edit was cut off after it started: / may have been left read-write';

  test('/ left read-write and the remount back refused: failed, tainted', () => {
    const r = judge(audit({ why, restored: false, before: 'rw', after: 'rw' }));
    assert.equal(r.status, 'failed');
    assert.equal(r.tainted, true);
    assert.match(r.message!, /\/ was left mounted read-write .* could not be remounted read-only/);
  });

  test('the restore could not run: broken, TAINTED-UNKNOWN, tainted', () => {
    const r = judge(audit({ why, restored: false, error: 'could not put / back read-only: connection refused' }));
    assert.equal(r.status, 'broken');
    assert.equal(r.tainted, true);
    assert.match(r.message!, /TAINTED-UNKNOWN.*could not be proven read-only again: could not put \/ back/);
  });

  test('put back and proven read-only: still tainted-unknown (cut off), and the report says / was restored', () => {
    const r = judge(audit({ why, restored: true, before: 'rw', after: 'ro' }));
    assert.equal(r.status, 'broken');
    assert.equal(r.tainted, true);
    assert.match(r.message!, /put \/ back read-only \(checked in the mount table\)/);
    assert.ok(r.evidence.some((e) => e.name === 'root remount restored'));
  });
});
