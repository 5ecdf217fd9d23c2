/**
 * Immutability proven by the mount table and the engine, and state probes that stickiness cannot
 * fool, against the lab: an ordinary read-write host is not "compliant" because one user was
 * refused; each engine control fails on its negative control and passes on cattle; the sticky
 * in-memory fleet loses its state at every seed tried.
 */
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { labUp, type LabUpResult } from '../../lab/lab.ts';
import { IMAGES, LAB_MANIFEST_EXCLUDES, LAB_METADATA_ONLY, LABELS, labDir } from '../../lab/lab-plan.ts';
import { connectEngine } from '../../probes/docker.ts';
import { type Verdict } from '../../reports/verdict.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';
import { freePort, removeTestHosts, startTestHost, type TestHost } from '../helpers/test-hosts.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-hardening-'));
let docker: Docker;
let lab: LabUpResult;

async function run(name: string, config: Record<string, unknown>, args: string[]): Promise<{ cli: CliResult; verdict: Verdict; results: Rec[] }> {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ version: 1, release: { file: path.join(labDir(), 'release.json') }, ...config }));
  const dir = path.join(tmp, `results-${name}`);
  const reports = path.join(tmp, `reports-${name}`);
  const cli = await driftless(['run', '--config', file, '--results-dir', dir, ...args], { env: { DRIFTLESS_OUTPUT_DIR: reports }, timeoutMs: 300_000 });
  return { cli, verdict: JSON.parse(fs.readFileSync(path.join(reports, 'verdict.json'), 'utf8')) as Verdict, results: readRecords(dir) };
}
const ssh = (user = 'audit') => ({ user, identityFile: path.join(labDir(), 'id_ed25519'), knownHostsFile: path.join(labDir(), 'known_hosts') });
const fleet = (name: string, user = 'audit') => ({
  name,
  provider: 'docker',
  environment: 'lab',
  service: `${name}-web`,
  entrypoint: `http://127.0.0.1:${lab.plan.lbs.find((l) => l.fleet === name)!.port}`,
  docker: { labels: { [LABELS.fleet]: name, [LABELS.role]: 'host' } },
  ssh: ssh(user),
});
const of = (rs: Rec[], host: string, control: string) => rs.filter((r) => r.host === host && r.control === control);

before(async () => {
  lab = await labUp();
  docker = await connectEngine();
});
after(async () => {
  await removeTestHosts(docker);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('an ordinary host: root mounted read-write, an unprivileged login', () => {
  let host: TestHost;
  before(async () => {
    const port = await freePort(24300);
    host = await startTestHost(docker, { name: `dl-ordinary-${process.pid}`, image: IMAGES.cattle, sshPort: port, httpPort: await freePort(port + 1) });
  });

  test('is not "compliant" because the login user was refused: the mount table and EACCES on a read-write mount fail it', async () => {
    const target = {
      name: 'ordinary',
      provider: 'ssh',
      service: 'cattle-web',
      hosts: [{ id: host.name, address: '127.0.0.1', port: host.sshPort, hostKey: host.hostKey }],
      ssh: { ...ssh(), knownHostsFile: undefined },
    };
    const r = await run('ordinary', { targets: [target], policy: { ssh: { immutablePaths: ['/etc', '/usr/bin'] } } }, ['--suite', 'ssh-edits']);
    assert.equal(r.cli.code, 1, r.cli.stdout.slice(-1500));
    const mounts = of(r.results, host.name, 'DL-SSH-060')[0]!;
    assert.equal(mounts.outcome, 'failed');
    assert.match(mounts.message ?? '', /\/etc is on \/ \(overlay, overlay\), mounted read-write/);
    const canaries = of(r.results, host.name, 'DL-SSH-010');
    assert.equal(canaries.length, 2);
    for (const c of canaries) {
      assert.equal(c.outcome, 'failed');
      assert.ok(c.violation === 'mutable-by-privilege');
      assert.match(c.message ?? '', /refused the login user by permissions only \(EACCES\) .*mounted read-write: mutable by a more privileged user/);
    }
  });
});

describe('engine controls (CIS Docker v1.6.0): negative controls in the lab, cattle clean', () => {
  let r: Awaited<ReturnType<typeof run>>;
  before(async () => {
    r = await run(
      'engine',
      {
        targets: [fleet('cattle'), fleet('snowflake', 'root'), fleet('sticky')],
        policy: {
          ssh: { immutablePaths: ['/etc'] },
          manifest: { excludes: LAB_MANIFEST_EXCLUDES, metadataOnly: LAB_METADATA_ONLY },
          container: { nonRoot: true },
        },
      },
      ['--suite', 'image-integrity'],
    );
  });
  const status = (host: string, control: string) => of(r.results, host, control)[0]?.outcome;

  test('cattle and sticky pass DL-IMG-010..013', () => {
    for (const host of ['dl-cattle-1', 'dl-cattle-2', 'dl-cattle-3', 'dl-sticky-1', 'dl-sticky-2']) {
      for (const c of ['DL-IMG-010', 'DL-IMG-011', 'DL-IMG-012', 'DL-IMG-013']) assert.equal(status(host, c), 'passed', `${host} ${c}`);
    }
  });

  test('a writable bind mount (5.6) and CAP_SYS_ADMIN (5.5) on dl-snowflake-1, the engine socket (5.32) on dl-snowflake-2, no-new-privileges (5.26) on both', () => {
    assert.equal(status('dl-snowflake-1', 'DL-IMG-010'), 'failed');
    assert.match(of(r.results, 'dl-snowflake-1', 'DL-IMG-010')[0]!.message ?? '', /\/opt\/app\/uploads \(bind from /);
    assert.equal(status('dl-snowflake-1', 'DL-IMG-011'), 'failed');
    assert.match(of(r.results, 'dl-snowflake-1', 'DL-IMG-011')[0]!.message ?? '', /CAP_SYS_ADMIN/);
    assert.equal(status('dl-snowflake-2', 'DL-IMG-012'), 'failed');
    assert.equal(status('dl-snowflake-2', 'DL-IMG-011'), 'passed');
    assert.equal(status('dl-snowflake-1', 'DL-IMG-012'), 'passed');
    for (const h of ['dl-snowflake-1', 'dl-snowflake-2']) assert.equal(status(h, 'DL-IMG-013'), 'failed');
  });

  test('with policy.container.nonRoot, every lab host (they run sshd as root) fails DL-IMG-014', () => {
    for (const host of ['dl-cattle-1', 'dl-snowflake-1', 'dl-sticky-1']) assert.equal(status(host, 'DL-IMG-014'), 'failed', host);
  });
});

describe('state that survives the death of the instance that served it', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    test(`the sticky in-memory fleet loses its state (seed ${seed}): the victim is the replica that holds it`, async () => {
      const r = await run(
        `sticky-${seed}`,
        {
          targets: [fleet('sticky')],
          chaos: {
            kill: { count: 1 },
            killIntervalSeconds: 0,
            load: { rate: 20, durationSeconds: 4, warmupSeconds: 1, path: '/health' },
            stateProbe: { keys: 5 },
            slo: { maxErrorRate: 0.5, p99Ms: 2000, recoverySeconds: 20 },
          },
          safety: { maxKills: 1, allowedEnvironments: ['lab'] },
        },
        ['--suite', 'chaos', '--seed', String(seed)],
      );
      const state = r.results.find((x) => x.control === 'DL-CHAOS-001')!;
      assert.equal(state.outcome, 'failed', `${state.message}\n${r.cli.stderr.slice(-1500)}`);
      assert.match(r.cli.stderr, /\[driftless chaos\] sticky: state written through (dl-sticky-\d): .*seed \d+ chose \1/);
      await labUp(); // replaced by the supervisor; make sure before the next seed
    });
  }
});
