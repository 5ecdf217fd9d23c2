/**
 * On the real engine: a container with a HEALTHCHECK has the engine exec its probe every second,
 * each probe logged as exec_create and exec_start like any `docker exec`. The Docker provider
 * sets exactly those aside (DL-IMG-005 does not count them as out-of-band access) and still
 * reports an exec of anything else. The container (no network, its own label) is removed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type Docker from 'dockerode';
import type { SnapshotHost } from '../../core/inventory.ts';
import { IMAGES } from '../../lab/lab-plan.ts';
import { connectEngine, execIn } from '../../probes/docker.ts';
import { sleep } from '../../probes/net.ts';
import { DockerProvider } from '../../providers/docker/provider.ts';

let docker: Docker;
let id: string;

before(async () => {
  docker = await connectEngine();
  const c = await docker.createContainer({
    Image: IMAGES.base,
    Cmd: ['sleep', '120'],
    Labels: { 'driftless.test': 'healthcheck-execs' },
    Healthcheck: { Test: ['CMD-SHELL', 'test -d /tmp || exit 1'], Interval: 1e9, Timeout: 2e9 },
    HostConfig: { NetworkMode: 'none' },
  });
  id = c.id;
  await c.start();
});

after(async () => {
  await docker.getContainer(id).remove({ force: true });
});

test('health-check probes are set aside; an exec by hand is still reported', async () => {
  await sleep(3500); // a few probes
  await execIn(docker, id, ['id', '-u']);
  await sleep(300);
  const provider = new DockerProvider({ name: 'hc', labels: { 'driftless.test': 'healthcheck-execs' } }, docker);
  const facts = await provider.imageFacts({ id: 'hc-1', instanceId: id } as SnapshotHost);
  assert.equal(facts.kind, 'docker');
  if (facts.kind !== 'docker') return;
  const ev = facts.events!;
  assert.equal(ev.complete, true, ev.error);
  assert.ok(ev.healthChecks && ev.healthChecks.count >= 4, JSON.stringify(ev));
  assert.equal(ev.healthChecks.command, '/bin/sh -c test -d /tmp || exit 1');
  assert.deepEqual(
    ev.execs.map((e) => e.action),
    ['exec_create: id -u', 'exec_start: id -u'],
  );
});
