/** Immutability is a read-only mount, not one user's permissions: the mount table read and judged. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostAudit } from '../../audits/ssh-edits/ssh-edits-gather.ts';
import { classify } from '../../audits/ssh-edits/classify.ts';
import { sshEditsSuite } from '../../audits/ssh-edits/ssh-edits-suite.ts';
import type { Config } from '../../core/config.ts';
import { judge as judgeWith } from '../helpers/suite-run.ts';
import { mountOf, parseMountinfo, writableUnderImmutable } from '../../audits/ssh-edits/mounts.ts';
import { checkId, type PlannedCheck } from '../../core/run-plan.ts';
import { catalogue } from '../../probes/edits.ts';

// A container with a read-only root, tmpfs /run and /tmp, a read-only bind, and one writable bind under /opt/app.
const MOUNTINFO = `1022 900 0:74 / / ro,relatime master:421 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
1023 1022 0:78 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1030 1022 0:80 / /run rw,nosuid,nodev - tmpfs tmpfs rw,mode=755
1031 1022 0:81 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,mode=1777
1032 1022 8:1 /lab/hostkeys/dl-1 /etc/ssh/keys ro,relatime - ext4 /dev/sda1 rw
1033 1022 8:1 /srv/uploads /opt/app/up\\040loads rw,relatime - ext4 /dev/sda1 rw`;

describe('the mount table', () => {
  const mounts = parseMountinfo(MOUNTINFO);

  test('parses mount point (unescaped), type, source and read-only', () => {
    assert.equal(mounts.length, 6);
    assert.deepEqual(mountOf('/etc/passwd', mounts)?.mountPoint, '/');
    assert.equal(mountOf('/etc/passwd', mounts)?.readOnly, true);
    assert.equal(mountOf('/etc/ssh/keys/x', mounts)?.mountPoint, '/etc/ssh/keys');
    assert.equal(mountOf('/opt/app/up loads/f', mounts)?.readOnly, false);
    assert.equal(mountOf('/tmpfoo', mounts)?.mountPoint, '/', '/tmpfoo is not under /tmp');
  });

  test('a read-write mount under an immutable path is a finding, one under a writable path is not', () => {
    const f = writableUnderImmutable(['/etc', '/opt/app', '/usr/bin'], ['/tmp', '/run'], mounts);
    assert.deepEqual(
      f.map((x) => x.why),
      ['/opt/app/up loads (/dev/sda1, ext4) is mounted read-write under /opt/app'],
    );
  });

  test('an ordinary machine: / read-write, so every immutable path is mutable', () => {
    const plain = parseMountinfo('25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro');
    assert.deepEqual(
      writableUnderImmutable(['/etc', '/usr/bin'], ['/tmp'], plain).map((x) => x.why),
      ['/etc is on / (/dev/sda1, ext4), mounted read-write', '/usr/bin is on / (/dev/sda1, ext4), mounted read-write'],
    );
  });
});

describe('what refused a forbidden edit', () => {
  const [canary] = catalogue({ runId: 'r', immutablePaths: ['/etc'], home: '/home/audit', aggressive: false });
  const check: PlannedCheck = {
    id: checkId('f', 'h', canary!.control, canary!.id),
    control: canary!.control,
    suite: 'ssh-edits',
    fleet: 'f',
    host: 'h',
    item: canary!.id,
    title: 't',
    story: 's',
  };
  const audit = (mountinfo: string, stderr: string, ctime = 'T0|T0'): HostAudit => ({
    host: 'h',
    fleet: 'f',
    login: { ok: true, user: 'audit', uid: 1000, home: '/home/audit', durationMs: 1 },
    mounts: { list: parseMountinfo(mountinfo) },
    edits: [classify(canary!, { command: canary!.command, exitCode: 0, stdout: `DL:REFUSED\nDL:CTIME ${ctime}\n`, stderr, durationMs: 1 })],
    tainted: false,
  });
  const judge = (a: HostAudit) =>
    judgeWith(
      sshEditsSuite,
      [a],
      [check],
      { policy: { ssh: { immutablePaths: ['/etc'], writablePaths: ['/tmp'] } }, safety: { maxKills: 0 } } as unknown as Config,
      [{ target: 'f', provider: 'ssh', hosts: [] }],
    )[0]!;
  const RW = '25 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw';
  const RO = '25 1 8:1 / / ro,relatime - ext4 /dev/sda1 ro';

  test('EROFS on a read-only mount: passed', () => {
    assert.equal(judge(audit(RO, 'sh: 1: cannot create /etc/x: Read-only file system')).status, 'passed');
  });

  test('EACCES on a read-write mount: failed, "mutable by a more privileged user"', () => {
    const r = judge(audit(RW, 'sh: 1: cannot create /etc/x: Permission denied'));
    assert.equal(r.status, 'failed');
    assert.equal(r.violation, 'mutable-by-privilege');
    assert.match(
      r.message!,
      /refused the login user by permissions only \(EACCES\) and is on \/ \(\/dev\/sda1, ext4\), mounted read-write: mutable by a more privileged user/,
    );
  });

  test('EACCES with no mount table: broken, never passed', () => {
    const a = audit(RW, 'Permission denied');
    a.mounts = { list: [], error: 'could not read /proc/self/mountinfo' };
    assert.equal(judge(a).status, 'broken');
  });

  test('refused, yet the directory ctime moved: failed (something was written)', () => {
    const r = judge(audit(RO, 'Read-only file system', '2026-11-23 10:00:00.1|2026-11-23 10:00:00.9'));
    assert.equal(r.status, 'failed');
    assert.equal(r.violation, 'refused-but-changed');
  });
});
