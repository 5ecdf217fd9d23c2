/**
 * The audit's mount commands in real containers with a read-only root. A mount is judged where a
 * path leads: /etc/cron.d is a link into a read-write tmpfs, and the mount table with readlink -f,
 * run by the container's sh, must find it writable (taken as written it would pass). And the
 * sweep's restore puts a root left read-write by a cut-off remount back read-only. Needs the lab's
 * base image (any `driftless lab up` built it); the containers and the image made here are removed.
 */
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { after, before, test } from 'node:test';
import { parseMountinfo, writableUnderImmutable } from '../../audits/ssh-edits/mounts.ts';
import { IMAGES } from '../../lab/lab-plan.ts';
import { connectEngine, execIn } from '../../probes/docker.ts';
import { parseResolve, parseRestoreRoot, resolveCommand, restoreRootCommand } from '../../probes/edits.ts';
import { TMP_LABEL } from '../../probes/tmp-label.ts';

const TAG = `driftless-test/resolved-mounts:${process.pid}`;
let docker: Docker;
let box: Docker.Container | undefined;

before(async () => {
  docker = await connectEngine();
  const HostConfig = { NetworkMode: 'none' }; // no network at all: nothing here needs one
  const prep = await docker.createContainer({
    Image: IMAGES.base,
    Cmd: ['sh', '-c', 'rm -rf /etc/cron.d && ln -s /data/cron /etc/cron.d'],
    Labels: { [TMP_LABEL.key]: TMP_LABEL.value },
    HostConfig,
  });
  try {
    await prep.start();
    assert.equal((await prep.wait()).StatusCode, 0);
    await prep.commit({ repo: TAG.split(':')[0], tag: TAG.split(':')[1] });
  } finally {
    await prep.remove({ force: true });
  }
  box = await docker.createContainer({
    Image: TAG,
    Cmd: ['sleep', '120'],
    Labels: { [TMP_LABEL.key]: TMP_LABEL.value },
    HostConfig: { ...HostConfig, ReadonlyRootfs: true, Tmpfs: { '/data': 'rw' } },
  });
  await box.start();
});

after(async () => {
  await box?.remove({ force: true }).catch(() => {});
  await docker
    ?.getImage(TAG)
    .remove({ force: true })
    .catch(() => {});
});

test('/etc/cron.d linked into a read-write tmpfs on a read-only root: found writable where it leads, not where it is written', async () => {
  const sh = (c: string) => execIn(docker, box!.id, ['sh', '-c', c]);
  const mi = await sh('cat /proc/self/mountinfo');
  const mounts = parseMountinfo(mi.stdout);
  const r = await sh(resolveCommand(['/etc', '/etc/cron.d', '/tmp']));
  const resolved = parseResolve({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode });
  assert.equal(resolved.error, undefined, r.stderr);
  assert.equal(resolved.paths['/etc/cron.d'], '/data/cron');
  assert.deepEqual(writableUnderImmutable(['/etc', '/etc/cron.d'], ['/tmp'], mounts), [], 'as written, both are on the read-only root');
  const f = writableUnderImmutable(['/etc', '/etc/cron.d'], ['/tmp'], mounts, resolved.paths);
  assert.deepEqual(
    f.map((x) => x.why),
    ['/etc/cron.d (a link to /data/cron) is on /data (tmpfs, tmpfs), mounted read-write'],
  );
});

test("a root left read-write by a cut-off remount is put back read-only by the sweep's restore, and proven so", async (t) => {
  // CAP_SYS_ADMIN, as the lab's snowflake-1 has: root inside can remount /.
  const c = await docker.createContainer({
    Image: IMAGES.base,
    Cmd: ['sleep', '120'],
    Labels: { [TMP_LABEL.key]: TMP_LABEL.value },
    HostConfig: { NetworkMode: 'none', ReadonlyRootfs: true, CapAdd: ['SYS_ADMIN'] },
  });
  t.after(() => c.remove({ force: true }).catch(() => {}));
  await c.start();
  const sh = (cmd: string) => execIn(docker, c.id, ['sh', '-c', cmd], '0');
  // What the remount edit does before it is cut off:
  assert.equal((await sh('mount -o remount,rw / && echo DL:REMOUNTED')).stdout.trim(), 'DL:REMOUNTED');
  const r = await sh(restoreRootCommand());
  assert.deepEqual(parseRestoreRoot(r.stdout), { before: 'rw', after: 'ro', restored: true }, r.stdout + r.stderr);
  assert.match((await sh('touch /etc/x 2>&1; true')).stdout, /Read-only file system/, 'the kernel refuses writes again');
});
