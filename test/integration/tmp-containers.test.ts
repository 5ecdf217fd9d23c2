/**
 * On the real engine: an image whose own labels select a fleet (made here by committing a
 * never-started container of the lab's base image with LABEL changes), and a temporary container
 * driftless makes from it to read a file. The engine hands the image's labels down, yet the
 * Docker provider does not list the temporary container as a host of that fleet, and its
 * inherited labels are cleared. Everything made here is removed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type Docker from 'dockerode';
import { IMAGES } from '../../lab/lab-plan.ts';
import { connectEngine, imageFileReader, TMP_LABEL } from '../../probes/docker.ts';
import { DockerProvider } from '../../providers/docker/provider.ts';

const FLEET = 'dl-test-tmp-labels';
const IMAGE = `driftless-test/tmp-labels:${process.pid}`;
let docker: Docker;

before(async () => {
  docker = await connectEngine();
  const base = await docker.createContainer({ Image: IMAGES.base, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  try {
    const [repo, tag] = IMAGE.split(':');
    await base.commit({ repo, tag, changes: [`LABEL driftless.fleet=${FLEET}`, 'LABEL driftless.lab.role=host'] });
  } finally {
    await base.remove({ force: true });
  }
});

after(async () => {
  for (const c of await docker.listContainers({ all: true, filters: { ancestor: [IMAGE] } })) await docker.getContainer(c.Id).remove({ force: true });
  await docker.getImage(IMAGE).remove({ force: true });
});

test('a temporary container from an image labelled like the fleet is not listed as one of its hosts', async () => {
  const provider = new DockerProvider({ name: FLEET, labels: { 'driftless.fleet': FLEET, 'driftless.lab.role': 'host' } });
  const reader = imageFileReader(async () => docker, IMAGE);
  try {
    assert.ok(await reader.read('/etc/debian_version'));
    const [tmp] = await docker.listContainers({ all: true, filters: { ancestor: [IMAGE] } });
    assert.ok(tmp, 'the temporary container exists while the reader is open');
    assert.equal(tmp.Labels[TMP_LABEL.key], TMP_LABEL.value);
    assert.equal(tmp.Labels['driftless.fleet'], '', 'the inherited fleet label is cleared');
    assert.deepEqual(await provider.list(), []);
  } finally {
    await reader.close();
  }
});
