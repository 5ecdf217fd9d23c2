/** The docker inventory provider against the real lab: both fleets, their digests and labels. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type Docker from 'dockerode';
import { DockerProvider } from '../../providers/docker/provider.ts';
import { connectEngine } from '../../probes/docker.ts';
import { labUp } from '../../lab/lab.ts';
import { IMAGES } from '../../lab/lab-plan.ts';

let docker: Docker;
const fleet = (name: 'cattle' | 'snowflake') =>
  new DockerProvider({ name, labels: { 'driftless.fleet': name, 'driftless.lab.role': 'host' }, optInLabel: 'driftless.chaos=opt-in' });

before(async () => {
  await labUp();
  docker = await connectEngine();
});

test('both fleets are listed with the digests they run, their labels, ssh ports and chaos eligibility', async () => {
  for (const [name, n] of [
    ['cattle', 3],
    ['snowflake', 2],
  ] as const) {
    const inv = fleet(name);
    const hosts = await inv.list();
    const expected = (await docker.getImage(IMAGES[name]).inspect()).Id;
    assert.equal(hosts.length, n);
    assert.equal(await inv.desiredCapacity(), n);
    for (const h of hosts) {
      assert.equal(h.fleet, name);
      assert.equal(h.provider, 'docker');
      assert.equal(h.image.id, expected);
      assert.equal(h.labels['driftless.image.digest'], expected);
      assert.equal(h.service, `${name}-web`);
      assert.equal(h.state, 'running');
      assert.equal(h.ssh?.host, '127.0.0.1');
      assert.ok(h.ssh && h.ssh.port > 0);
      assert.equal(h.chaosEligible, true); // every lab fleet is opted in (snowflake and sticky are killed within the lab)
      assert.ok(h.launchedAt instanceof Date && !Number.isNaN(h.launchedAt.getTime()));
    }
  }
});

test('kill + waitForCapacity: the cattle fleet is back at desired capacity with a new instance', async () => {
  const inv = fleet('cattle');
  const [victim] = await inv.list();
  await inv.kill(victim!, 'sigkill');
  const report = await inv.waitForCapacity({ timeoutMs: 15_000 });
  assert.equal(report.running, 3);
  const replacement = report.hosts.find((h) => h.id === victim!.id);
  assert.ok(replacement);
  assert.notEqual(replacement.instanceId, victim!.instanceId);
  assert.equal(replacement.image.id, victim!.image.id);
});

test('a selector that matches nothing lists nothing (and desired capacity 0)', async () => {
  const inv = new DockerProvider({ name: 'none', labels: { 'driftless.fleet': 'no-such-fleet' } });
  assert.deepEqual(await inv.list(), []);
  assert.equal(await inv.desiredCapacity(), 0);
});
