/**
 * A mount is judged where a path leads: in a real container with a read-only root, /etc/cron.d is a
 * link into a read-write tmpfs. The audit's own commands (mount table, readlink -f), run by the
 * container's sh, must find it writable; taken as written it would pass. Needs the lab's base
 * image (any `driftless lab up` built it); the containers and the image made here are removed.
 */
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { after, before, test } from 'node:test';
import { parseMountinfo, writableUnderImmutable } from '../../audits/ssh-edits/mounts.ts';
import { IMAGES } from '../../lab/plan.ts';
import { connectEngine, execIn } from '../../probes/docker.ts';
import { parseResolve, resolveCommand } from '../../probes/edits.ts';
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
