/**
 * The lab on the real Docker engine: comes up from nothing, serves through its load balancer,
 * replaces dead cattle with NEW containers of the SAME image, restarts snowflakes in place,
 * and `lab down` takes away exactly what it made.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { connectEngine, execIn } from '../../probes/docker.ts';
import { sleep } from '../../probes/net.ts';
import { labContainers, readLabState, SNOWFLAKE_DRIFT } from '../../lab/lab.ts';
import { IMAGES, makePlan } from '../../lab/lab-plan.ts';
import { driftless } from '../helpers/cli.ts';

const plan = makePlan();
let docker: Docker;

async function inspect(name: string) {
  return docker.getContainer(name).inspect();
}

/** Polls until `check` returns a value, or fails after `ms`. */
async function within<T>(ms: number, what: string, check: () => Promise<T | undefined>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return { value: v, ms: Date.now() - t0 };
    await sleep(100);
  }
  assert.fail(`${what} did not happen within ${ms} ms`);
}

before(async () => {
  docker = await connectEngine();
});

describe('lab up from nothing', () => {
  test('after `lab down`, `lab up` builds or reuses the images and starts both fleets healthy', async () => {
    await driftless(['lab', 'down']);
    assert.equal((await labContainers(docker)).length, 0);
    const r = await driftless(['lab', 'up']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const h of plan.hosts)
      assert.match(r.stdout, new RegExp(`${h.name}\\s+${h.fleet}\\s+host\\s+sha256:[0-9a-f]{64}\\s+http ${h.httpPort}, ssh ${h.sshPort}\\s+healthy`));
    assert.equal((await labContainers(docker)).filter((c) => c.State === 'running').length, plan.hosts.length + plan.lbs.length + 3); // + store, supervisor, recorder
    assert.equal(readLabState(plan)?.status, 'up');
  });

  test('a second `lab up` reuses the running lab', async () => {
    const r = await driftless(['lab', 'up']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /already up/);
  });

  test('every container carries fleet, service, digest labels and the chaos opt-in', async () => {
    for (const h of plan.hosts) {
      const info = await inspect(h.name);
      const labels = info.Config.Labels;
      assert.equal(labels['driftless.fleet'], h.fleet);
      assert.equal(labels['driftless.service'], `${h.fleet}-web`);
      assert.equal(labels['driftless.image.digest'], info.Image, 'the expected digest label is the image it runs');
      assert.equal(labels['driftless.chaos'], 'opt-in'); // every lab fleet is killed within the lab
      assert.equal(info.HostConfig.NetworkMode, 'host');
    }
  });
});

describe('cattle (compliant)', () => {
  test('the load balancer answers and state written through it is readable from any replica', async () => {
    const lb = `http://127.0.0.1:${plan.lbs[0]!.port}`;
    const health = await fetch(`${lb}/health`);
    assert.equal(health.status, 200);
    const servedBy = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const put = await fetch(`${lb}/state/lab-test-${i}`, { method: 'PUT', body: `value-${i}` });
      assert.equal(put.status, 200);
      servedBy.add(put.headers.get('x-served-by') ?? '');
    }
    assert.ok(servedBy.size >= 2, `round robin spreads requests (served by ${[...servedBy]})`);
    for (let i = 0; i < 6; i++) assert.equal(await (await fetch(`${lb}/state/lab-test-${i}`)).text(), `value-${i}`);
  });

  test('the root filesystem is read-only and the login user cannot escalate', async () => {
    const w = await execIn(docker, 'dl-cattle-1', ['touch', '/etc/driftless-lab-probe']);
    assert.notEqual(w.exitCode, 0);
    assert.match(w.stderr, /Read-only file system/);
    assert.equal((await inspect('dl-cattle-1')).HostConfig.ReadonlyRootfs, true);
    const sudo = await execIn(docker, 'dl-cattle-1', ['sudo', '-n', 'true'], 'audit');
    assert.notEqual(sudo.exitCode, 0);
  });

  test('a killed cattle container is replaced by a NEW container of the SAME digest within 10 s', async () => {
    const before = await inspect('dl-cattle-2');
    await docker.getContainer(before.Id).kill({ signal: 'SIGKILL' });
    const { value: after, ms } = await within(10_000, 'replacement of dl-cattle-2', async () => {
      const c = await inspect('dl-cattle-2');
      return c.Id !== before.Id && c.State.Running ? c : undefined;
    });
    assert.notEqual(after.Id, before.Id);
    assert.equal(after.Image, before.Image);
    assert.equal(after.Config.Labels['driftless.image.digest'], before.Image);
    assert.equal(after.HostConfig.ReadonlyRootfs, true);
    assert.ok(ms < 10_000);
    // and it serves again
    await within(10_000, 'dl-cattle-2 healthy', async () => ((await fetch(`http://127.0.0.1:${plan.hosts[1]!.httpPort}/health`)).ok ? true : undefined));
  });
});

describe('snowflake (the negative control)', () => {
  test('a killed dl-snowflake-1 comes back as the SAME container (restarted in place)', async () => {
    const before = await inspect('dl-snowflake-1');
    await docker.getContainer(before.Id).kill({ signal: 'SIGKILL' });
    await within(10_000, 'dl-snowflake-1 restarted', async () => {
      const c = await inspect('dl-snowflake-1');
      return c.State.Running && c.State.StartedAt !== before.State.StartedAt ? c : undefined;
    });
    const after = await inspect('dl-snowflake-1');
    assert.equal(after.Id, before.Id, 'same container id: restarted in place, not replaced');
  });

  test('a killed dl-snowflake-2 stays dead: nothing replaces it', async () => {
    const before = await inspect('dl-snowflake-2');
    await docker.getContainer(before.Id).kill({ signal: 'SIGKILL' });
    await new Promise((r) => setTimeout(r, 3000));
    const after = await inspect('dl-snowflake-2');
    assert.equal(after.Id, before.Id);
    assert.equal(after.State.Running, false);
    const fleet = await docker.listContainers({ filters: { label: ['driftless.fleet=snowflake', 'driftless.lab.role=host'] } });
    assert.equal(fleet.length, 1, 'one snowflake host running');
  });

  test('the engine negative controls: a writable bind mount and CAP_SYS_ADMIN on dl-snowflake-1, the engine socket on dl-snowflake-2', async () => {
    const one = await inspect('dl-snowflake-1');
    assert.ok((one.Mounts ?? []).some((m) => m.Destination === '/opt/app/uploads' && m.RW));
    assert.deepEqual(one.HostConfig.CapAdd, ['SYS_ADMIN']);
    const two = await inspect('dl-snowflake-2');
    assert.ok((two.Mounts ?? []).some((m) => m.Destination === '/var/run/docker.sock'));
  });

  test('the root filesystem is writable, root may log in, and one host carries a hand-applied change', async () => {
    const w = await execIn(docker, 'dl-snowflake-1', ['sh', '-c', 'touch /etc/driftless-lab-probe && rm /etc/driftless-lab-probe']);
    assert.equal(w.exitCode, 0, w.stderr);
    const sshd = await execIn(docker, 'dl-snowflake-1', ['grep', '^PermitRootLogin', '/etc/ssh/sshd_config']);
    assert.match(sshd.stdout, /PermitRootLogin prohibit-password/);
    const changes = await docker.getContainer(SNOWFLAKE_DRIFT.host).changes();
    assert.ok(
      (changes ?? []).some((c: { Path: string; Kind: number }) => c.Path === SNOWFLAKE_DRIFT.path && c.Kind === 0),
      `${SNOWFLAKE_DRIFT.path} shows as changed in the engine's diff`,
    );
  });
});

describe('bad input', () => {
  test('no engine: exits 3 with one line naming where it looked and how to start one', async () => {
    const r = await driftless(['lab', 'up'], { env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    assert.equal(r.code, 3);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no Docker engine answers at unix:\/\/\/nonexistent\/docker\.sock: start one/);
  });

  test('a port already in use is named with the setting that moves it, and nothing is started on it', async () => {
    const base = 25100; // below the ephemeral range, or lab up refuses it for that first
    const blocker = net.createServer().listen(base + 11, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const r = await driftless(['lab', 'up', '--port-base', String(base)]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /port 25111 on 127\.0\.0\.1 \(dl-cattle-1 http\) is already in use.*DRIFTLESS_LAB_PORT_BASE/);
      assert.equal((await labContainers(docker)).length, 0, 'no lab container was started');
    } finally {
      blocker.close();
    }
  });

  test('a bad port base is a usage error', async () => {
    const r = await driftless(['lab', 'status', '--port-base', 'eighty']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /lab port base "eighty" is not a port/);
  });

  test('an interrupted `lab up` is cleaned up by the next one', async () => {
    await driftless(['lab', 'down']);
    let killedAt = '';
    await driftless(['lab', 'up'], {
      onStdout: (chunk, child) => {
        if (!killedAt && /\[4\/5\]/.test(chunk)) {
          killedAt = chunk.trim();
          child.kill('SIGKILL');
        }
      },
    });
    assert.ok(killedAt, 'lab up was interrupted while starting containers');
    assert.equal(readLabState(plan)?.status, 'building');
    const r = await driftless(['lab', 'up']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cleaning \d+ containers of an earlier lab/);
    assert.equal((await labContainers(docker)).filter((c) => c.State === 'running').length, plan.hosts.length + plan.lbs.length + 3); // + store, supervisor, recorder
  });
});

describe('lab down', () => {
  let bystander: Docker.Container;
  after(async () => {
    await bystander?.remove({ force: true }).catch(() => {});
    // leave the lab up for the suites that follow
    await driftless(['lab', 'up']);
  });

  test('removes every lab container and nothing else', async () => {
    bystander = await docker.createContainer({ Image: IMAGES.base, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'host' } });
    await bystander.start();
    const r = await driftless(['lab', 'down']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed 13 lab containers/);
    assert.equal((await labContainers(docker)).length, 0);
    const still = await bystander.inspect();
    assert.equal(still.State.Running, true, 'a container the lab did not make is left alone');
    const s = await driftless(['lab', 'status']);
    assert.match(s.stdout, /the lab is down/);
  });
});
