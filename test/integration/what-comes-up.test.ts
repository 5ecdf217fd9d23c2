/**
 * What comes up during a run is audited, and what runs must be the image (issue #25), through one
 * `driftless run` of every suite against the lab and test hosts of its cattle image:
 *  - cattle (the lab's; audited, neither killed nor deployed): compliant, DL-IMG-017 included, so
 *    nothing of the lab's own (sshd sessions of the audit, `sh -c`, the server) is a false positive;
 *  - drifty: two hosts whose own supervisor (lab/images/infra/supervisor.py, SUPERVISOR_DRIFT) brings
 *    a chaos victim back from the same image with a writable root, no no-new-privileges and
 *    CAP_SYS_ADMIN: the replacement fails, naming what drifted from its predecessor;
 *  - rolling: two hosts that a deploy (test/helpers/drifting-deploy.mjs) replaces by containers of
 *    the same image without the read-only root: every digest right, the deployed instances fail;
 *  - dropped: a host that runs a copy of sleep from /tmp: DL-IMG-017 fails.
 * The lab is only read. Everything this file starts is removed after it, the supervisor first.
 */
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../../core/paths.ts';
import { haproxyConfig } from '../../lab/haproxy.ts';
import { eventLogPath, labUp } from '../../lab/lab.ts';
import { type HostSpec, IMAGES, type LbSpec, LAB_MANIFEST_EXCLUDES, LAB_METADATA_ONLY, LABELS, labDir, makePlan } from '../../lab/lab-plan.ts';
import { connectEngine } from '../../probes/docker.ts';
import type { Verdict } from '../../reports/verdict.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';
import { evidence, readRecords, type Rec } from '../helpers/records.ts';
import { freePort, startTestHost, TEST_HOST_LABEL, type TestHost } from '../helpers/test-hosts.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-what-comes-up-'));
const SELECT = 'driftless.test.what-comes-up';
const MANAGED = 'driftless.test.on-death';
const SUPERVISOR = `dl-test-supervisor-${process.pid}`;
const LB = `dl-test-drifty-lb-${process.pid}`;
const name = (fleet: string, n: number) => `dl-${fleet}-${n}-${process.pid}`;
let docker: Docker;
let cli: CliResult;
let verdict: Verdict;
let rs: Rec[];
const hosts: TestHost[] = [];

async function remove(filter: string): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { label: [filter] } }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
}

before(async () => {
  await labUp();
  docker = await connectEngine();
  const plan = makePlan();
  const release = JSON.parse(fs.readFileSync(path.join(labDir(), 'release.json'), 'utf8')) as { services: Record<string, { digest: string }> };
  const image = release.services['cattle-web']!.digest; // what the release declares: every digest is right
  let port = await freePort(24900);
  const next = async () => (port = await freePort(port + 1));

  // drifty's supervisor: the repo's supervisor.py, managing only hosts with MANAGED, replacing them drifted.
  await remove(`${SELECT}-supervisor`);
  const sup = await docker.createContainer({
    name: SUPERVISOR,
    Image: IMAGES.infra,
    Cmd: ['python3', '-u', '/opt/lab/supervisor.py'],
    Env: [`SUPERVISOR_MANAGED_LABEL=${MANAGED}`, 'SUPERVISOR_DRIFT=writable-root,new-privileges,cap-sys-admin'],
    Labels: { [`${SELECT}-supervisor`]: 'true' },
    HostConfig: {
      NetworkMode: 'host',
      Binds: ['/var/run/docker.sock:/var/run/docker.sock', `${path.join(REPO_ROOT, 'lab', 'images', 'infra', 'supervisor.py')}:/opt/lab/supervisor.py:ro`],
    },
  });
  await sup.start();

  const start = async (fleet: string, n: number, extra: { labels?: Record<string, string>; entrypoint?: string[]; execTmp?: boolean } = {}) => {
    const sshPort = await next();
    const h = await startTestHost(docker, {
      name: name(fleet, n),
      image,
      sshPort,
      httpPort: await next(),
      readOnlyRoot: true,
      noNewPrivileges: true,
      labels: { [SELECT]: fleet, [LABELS.service]: 'cattle-web', [LABELS.sshPort]: String(sshPort), ...extra.labels },
      ...(extra.entrypoint ? { entrypoint: extra.entrypoint } : {}),
      ...(extra.execTmp ? { execTmp: true } : {}),
    });
    hosts.push(h);
    return h;
  };
  const drifty = [];
  for (const n of [1, 2]) {
    drifty.push(await start('drifty', n, { labels: { [MANAGED]: 'replace', [LABELS.chaos]: 'opt-in', [LABELS.desired]: '2' } }));
  }
  for (const n of [1, 2]) await start('rolling', n);
  // A binary dropped into the scratch tmpfs and started, beside the lab's own programs (its /tmp is
  // mounted exec: the lab's cattle mount it noexec, where such a binary could not even start).
  await start('dropped', 1, {
    execTmp: true,
    entrypoint: ['/bin/sh', '-c', 'cp /bin/sleep /tmp/payload && /tmp/payload 3600 & exec /opt/app/entrypoint.sh'],
  });

  // drifty's load balancer, as the lab's: health-checked, so chaos has an entrypoint to load.
  const lbPort = await next();
  const lbConfig = path.join(tmp, 'haproxy.cfg');
  const backends = drifty.map((h) => ({ name: h.name, httpPort: h.httpPort }) as HostSpec);
  fs.writeFileSync(lbConfig, haproxyConfig({ name: LB, fleet: 'drifty' as LbSpec['fleet'], port: lbPort, sticky: false, backends }));
  const lb = await docker.createContainer({
    name: LB,
    Image: IMAGES.infra,
    Cmd: ['haproxy', '-db', '-f', '/etc/haproxy/lab.cfg'],
    Labels: { [TEST_HOST_LABEL]: 'true', [`${SELECT}-lb`]: 'true' },
    HostConfig: { NetworkMode: 'host', Binds: [`${lbConfig}:/etc/haproxy/lab.cfg:ro`] },
  });
  await lb.start();
  for (
    let i = 0;
    i < 100 &&
    !(await fetch(`http://127.0.0.1:${lbPort}/health`)
      .then((r) => r.ok)
      .catch(() => false));
    i++
  )
    await new Promise((r) => setTimeout(r, 100));

  // Every test host uses dl-snowflake-1's host key (startTestHost): pinned at each of their ports.
  const pub = fs
    .readFileSync(path.join(labDir(), 'hostkeys', 'dl-snowflake-1', 'ssh_host_ed25519_key.pub'), 'utf8')
    .trim()
    .split(/\s+/);
  const knownHosts = path.join(tmp, 'known_hosts');
  fs.writeFileSync(
    knownHosts,
    [fs.readFileSync(path.join(labDir(), 'known_hosts'), 'utf8').trim(), ...hosts.map((h) => `[127.0.0.1]:${h.sshPort} ${pub[0]} ${pub[1]}`)].join('\n') + '\n',
  );
  const ssh = { user: 'audit', identityFile: path.join(labDir(), 'id_ed25519'), knownHostsFile: knownHosts };
  const eventLog = eventLogPath(plan);
  const target = (fleet: string, labels: Record<string, string>, extra: Record<string, unknown> = {}) => ({
    name: fleet,
    provider: 'docker',
    environment: 'lab',
    service: 'cattle-web',
    docker: { labels, eventLog },
    ssh,
    ...extra,
  });
  const file = path.join(tmp, 'config.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      targets: [
        target('cattle', { [LABELS.fleet]: 'cattle', [LABELS.role]: 'host' }), // no entrypoint: audited, never killed
        target('drifty', { [SELECT]: 'drifty' }, { entrypoint: `http://127.0.0.1:${lbPort}`, desiredCapacity: 2 }),
        target('rolling', { [SELECT]: 'rolling' }),
        target('dropped', { [SELECT]: 'dropped' }),
      ],
      release: { file: path.join(labDir(), 'release.json') },
      policy: { manifest: { excludes: LAB_MANIFEST_EXCLUDES, metadataOnly: LAB_METADATA_ONLY } },
      chaos: {
        kill: { count: 1 },
        killIntervalSeconds: 0,
        load: { rate: 20, durationSeconds: 4, warmupSeconds: 1, path: '/health' },
        stateProbe: { keys: 5 },
        slo: { maxErrorRate: 0.5, p99Ms: 2000, recoverySeconds: 20 },
        abortErrorRate: 0.9,
      },
      safety: { optInLabel: `${LABELS.chaos}=opt-in`, maxKills: 1, allowedEnvironments: ['lab'] },
      deploy: {
        command: [process.execPath, path.join(REPO_ROOT, 'test', 'helpers', 'drifting-deploy.mjs'), `${SELECT}=rolling`],
        fleets: ['rolling'],
        timeoutSeconds: 120,
        minHealthyShare: 0.5,
      },
    }),
  );
  const reports = path.join(tmp, 'reports');
  const results = path.join(tmp, 'results');
  cli = await driftless(['run', '--config', file, '--results-dir', results], { env: { DRIFTLESS_OUTPUT_DIR: reports }, timeoutMs: 400_000 });
  verdict = JSON.parse(fs.readFileSync(path.join(reports, 'verdict.json'), 'utf8')) as Verdict;
  rs = readRecords(results);
});

after(async () => {
  // The supervisor first: it would bring back the hosts removed after it.
  if (docker) {
    await remove(`${SELECT}-supervisor`);
    await remove(SELECT);
    await remove(`${SELECT}-lb`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fleet-wide check's host is "-". */
const of = (fleet: string, host: string, control: string) => rs.filter((r) => r.fleet === fleet && (r.host ?? '-') === host && r.control === control);
const one = (fleet: string, host: string, control: string) => {
  const r = of(fleet, host, control);
  assert.equal(r.length, 1, `one ${control} for ${fleet}/${host} (got ${r.length})`);
  return r[0]!;
};
const why = () => cli.stdout.slice(-3000) + cli.stderr.slice(-2000);

describe('one run: the violations are caught (exit 1), and cattle stays compliant', () => {
  test('exit 1; cattle compliant on every check, DL-IMG-017 included', () => {
    assert.equal(cli.code, 1, why());
    assert.equal(
      verdict.coverage.fleets.find((f) => f.fleet === 'cattle')?.verdict,
      'compliant',
      JSON.stringify(verdict.violations.filter((v) => v.fleet === 'cattle')),
    );
    const cattle = rs.filter((r) => r.fleet === 'cattle');
    assert.ok(cattle.length > 30);
    for (const r of cattle) assert.equal(r.outcome, 'passed', `${r.check}: ${r.message}`);
    for (const h of ['dl-cattle-1', 'dl-cattle-2', 'dl-cattle-3']) {
      const run = evidence<{ how: string }>(one('cattle', h, 'DL-IMG-017'), 'processes')!;
      assert.match(run.how, /^as audit \(uid \d+\) at 127\.0\.0\.1:\d+: the command lines of \d+ processes .* and the executables of \d+ /);
    }
  });

  test('the test hosts start compliant: what fails below came up during the run', () => {
    for (const h of [name('drifty', 1), name('drifty', 2), name('rolling', 1), name('rolling', 2)]) {
      const fleet = h.includes('drifty') ? 'drifty' : 'rolling';
      for (const c of ['DL-IMG-001', 'DL-IMG-003', 'DL-IMG-011', 'DL-IMG-013', 'DL-IMG-017', 'DL-SSH-060'])
        assert.equal(one(fleet, h, c).outcome, 'passed', `${h} ${c}: ${one(fleet, h, c).message}`);
    }
  });
});

describe('a replacement brought back with a drifted launch configuration', () => {
  test('fails the controls it breaks, naming what drifted from its predecessor, the instance and its origin', () => {
    const ro = one('drifty', 'replacement-of-kill-1', 'DL-IMG-003');
    assert.equal(ro.outcome, 'failed', ro.message);
    assert.equal(ro.suite, 'replacements');
    assert.match(
      ro.message ?? '',
      /^(dl-drifty-\d-\d+) runs with a writable root filesystem \(HostConfig\.ReadonlyRootfs is false\); its launch configuration differs from \1's before: read-only root: yes → no; capabilities added: none → SYS_ADMIN; security options: no-new-privileges → none$/,
    );
    assert.match(ro.parameters.origin ?? '', /^replacement of dl-drifty-\d-\d+ \(kill 1 of fleet drifty\)$/);
    assert.match(ro.parameters.instance ?? '', /^dl-drifty-\d-\d+ \([0-9a-f]{12}\)$/);
    const launch = evidence<{ changes: Array<{ setting: string }> }>(ro, 'launch configuration vs its predecessor')!;
    assert.deepEqual(launch.changes.map((c) => c.setting).sort(), ['capabilities added', 'read-only root', 'security options']);
    assert.equal(one('drifty', 'replacement-of-kill-1', 'DL-IMG-011').outcome, 'failed');
    assert.equal(one('drifty', 'replacement-of-kill-1', 'DL-IMG-013').outcome, 'failed');
    assert.equal(one('drifty', 'replacement-of-kill-1', 'DL-SSH-060').outcome, 'failed');
    assert.equal(one('drifty', 'replacement-of-kill-1', 'DL-IMG-001').outcome, 'passed', 'the same, right digest');
    assert.equal(one('drifty', 'replacement-of-kill-1', 'DL-IMG-017').outcome, 'passed', 'nothing foreign runs on it');
  });

  test('appears in the verdict and the matrix as its slot', () => {
    const drifty = verdict.coverage.fleets.find((f) => f.fleet === 'drifty')!;
    assert.equal(drifty.hosts.find((h) => h.host === 'replacement-of-kill-1')?.verdict, 'violations');
    assert.ok(
      verdict.violations.some((v) => v.fleet === 'drifty' && v.host === 'replacement-of-kill-1' && v.control === 'DL-IMG-003' && v.category === 'Mutable host'),
    );
  });
});

describe('a deploy whose instances run the right digest with a writable root', () => {
  test('passes the digest checks and fails the deployed instances, each named with its drift', () => {
    assert.equal(one('rolling', '-', 'DL-DEP-002').outcome, 'passed', one('rolling', '-', 'DL-DEP-002').message);
    const ro = one('rolling', 'deployed-instances', 'DL-IMG-003');
    assert.equal(ro.outcome, 'failed', ro.message);
    assert.equal(ro.suite, 'new-release');
    assert.match(
      ro.message ?? '',
      /^2 of 2 instances of fleet rolling fail: dl-rolling-1-\d+: .*writable root filesystem.*read-only root: yes → no \| dl-rolling-2-\d+: /,
    );
    assert.match(ro.parameters.origin ?? '', /^deployed by release /);
    assert.match(ro.parameters.instances ?? '', /^dl-rolling-1-\d+ \([0-9a-f]{12}\), dl-rolling-2-\d+ \([0-9a-f]{12}\)$/);
    assert.equal(one('rolling', 'deployed-instances', 'DL-IMG-001').outcome, 'passed', 'every digest is right');
    assert.equal(one('rolling', 'deployed-instances', 'DL-SSH-060').outcome, 'failed');
  });
});

describe('a binary dropped into /tmp and started', () => {
  test('fails DL-IMG-017 as foreign code, naming the process and why', () => {
    const r = one('dropped', name('dropped', 1), 'DL-IMG-017');
    assert.equal(r.outcome, 'failed', r.message);
    assert.equal(r.category, 'Foreign code');
    assert.match(
      r.message ?? '',
      /runs code that is not part of its image: pid \d+ \(uid 0\) \/tmp\/payload: its command \/tmp\/payload is in a writable path \(\/tmp\)/,
    );
    assert.doesNotMatch(r.message ?? '', /sshd|python3|entrypoint|sh -c/, 'only the payload');
    assert.equal(one('dropped', name('dropped', 1), 'DL-IMG-006').outcome, 'passed', 'its files are the image: only what runs is not');
  });
});
