/** Immutability is a read-only mount, not one user's permissions: the mount table read and judged. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { HostAudit } from '../../audits/ssh-edits/ssh-edits-gather.ts';
import { classify } from '../../audits/ssh-edits/classify.ts';
import { sshEditsSuite } from '../../audits/ssh-edits/ssh-edits-suite.ts';
import { judgeSshEdits } from '../helpers/suite-run.ts';
import type { Config } from '../../core/config.ts';
import { judge as judgeWith } from '../helpers/suite-run.ts';
import { mountOf, mountOfResolved, parseMountinfo, writableUnderImmutable } from '../../audits/ssh-edits/mounts.ts';
import { checkId, type PlannedCheck } from '../../core/run-plan.ts';
import { catalogue, parseResolve, resolveCommand } from '../../probes/edits.ts';

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
    resolved: { paths: { '/etc': '/etc' }, unresolved: [] },
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

  test('EACCES on /etc/cron.d, a link into a read-write volume on a read-only root: failed (judged where it leads)', () => {
    const [cron] = catalogue({ runId: 'r', immutablePaths: ['/etc/cron.d'], home: '/home/audit', aggressive: false });
    const a: HostAudit = {
      ...audit(RO_ROOT_RW_DATA, 'sh: 1: cannot create /etc/cron.d/x: Permission denied'),
      resolved: { paths: { '/etc/cron.d': '/data/cron' }, unresolved: [] },
      edits: [classify(cron!, { command: cron!.command, exitCode: 0, stdout: 'DL:REFUSED\nDL:CTIME T0|T0\n', stderr: 'Permission denied', durationMs: 1 })],
    };
    const c = { ...check, id: checkId('f', 'h', cron!.control, cron!.id), item: cron!.id };
    const r = judgeSshEdits([c], [a], [{ target: 'f', provider: 'ssh', hosts: [] }], { immutablePaths: ['/etc/cron.d'], writablePaths: ['/tmp'] })[0]!;
    assert.equal(r.status, 'failed', r.message);
    assert.match(r.message!, /\/etc\/cron\.d \(a link to \/data\/cron\) refused the login user by permissions only \(EACCES\) and is on \/data/);
  });

  test('a path whose resolution is unknown: an EACCES refusal is broken, an EROFS refusal still passes', () => {
    const a = audit(RW, 'Permission denied');
    a.resolved = { paths: {}, unresolved: ['/etc'] };
    assert.equal(judge(a).status, 'broken');
    const b = audit(RO, 'Read-only file system');
    b.resolved = { paths: {}, unresolved: ['/etc'] };
    assert.equal(judge(b).status, 'passed', 'the kernel said read-only itself');
  });
});

const RO_ROOT_RW_DATA = `25 1 8:1 / / ro,relatime - ext4 /dev/sda1 ro
40 25 8:2 / /data rw,relatime - ext4 /dev/sdb1 rw`;

describe('symlinks: a mount is judged where the path leads (DL-SSH-060)', () => {
  const mounts = parseMountinfo(RO_ROOT_RW_DATA);

  test('/etc/cron.d, a link to /data/cron on a read-write volume, is found writable', () => {
    const f = writableUnderImmutable(['/etc', '/etc/cron.d'], ['/tmp'], mounts, { '/etc': '/etc', '/etc/cron.d': '/data/cron' });
    assert.deepEqual(
      f.map((x) => x.why),
      ['/etc/cron.d (a link to /data/cron) is on /data (/dev/sdb1, ext4), mounted read-write'],
    );
    assert.equal(mountOfResolved('/etc/cron.d', mounts, { '/etc/cron.d': '/data/cron' })?.mountPoint, '/data');
  });

  test('the same path not resolved is taken as written (and the judge refuses to pass on that: see above)', () => {
    assert.deepEqual(writableUnderImmutable(['/etc/cron.d'], ['/tmp'], mounts), []);
  });

  test('a read-write mount under where an immutable path leads is found too', () => {
    const f = writableUnderImmutable(
      ['/opt/app'],
      ['/tmp'],
      parseMountinfo(`${RO_ROOT_RW_DATA.split('\n')[0]}\n41 25 8:3 / /srv/app/uploads rw - ext4 /dev/sdc1 rw`),
      {
        '/opt/app': '/srv/app',
      },
    );
    assert.deepEqual(
      f.map((x) => x.why),
      ['/srv/app/uploads (/dev/sdc1, ext4) is mounted read-write under /opt/app (a link to /srv/app)'],
    );
  });

  test('the resolve command, run by sh on real links, says where each path leads', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-resolve-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.join(dir, 'data', 'cron'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'etc'));
    fs.symlinkSync(path.join(dir, 'data', 'cron'), path.join(dir, 'etc', 'cron.d'));
    fs.symlinkSync('/nonexistent-dir/x', path.join(dir, 'etc', 'dangling'));
    const paths = [`${dir}/etc/cron.d`, `${dir}/etc`, `${dir}/etc/dangling`, '/nonexistent-dir/y', `${dir}/etc/new`];
    const r = spawnSync('sh', ['-c', resolveCommand(paths)], { encoding: 'utf8' });
    const res = parseResolve({ stdout: r.stdout, stderr: r.stderr, exitCode: r.status });
    assert.equal(res.error, undefined);
    assert.equal(res.paths[`${dir}/etc/cron.d`], `${dir}/data/cron`);
    assert.equal(res.paths[`${dir}/etc`], `${dir}/etc`);
    assert.equal(res.paths[`${dir}/etc/new`], `${dir}/etc/new`, 'a path not there yet leads to itself');
    assert.equal(res.paths['/nonexistent-dir/y'], '/nonexistent-dir/y', 'nor does one whose directory is missing');
    assert.deepEqual(res.unresolved, [`${dir}/etc/dangling`], 'a link that leads nowhere known is unresolved');
    assert.match(parseResolve({ stdout: 'R\0/etc\0/etc\0', stderr: 'killed', exitCode: null }).error!, /no END|killed/);
  });
});
