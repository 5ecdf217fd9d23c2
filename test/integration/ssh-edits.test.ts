/**
 * The SSH edit suite end to end, through `driftless run`, against the real lab and real sshd:
 * cattle blocks every edit; snowflake's writable paths are caught and their canaries are gone;
 * a wrong pinned key, an unreachable host, a hung host, an unknown user and an encrypted key
 * without passphrase are reported broken on their own hosts while the others' results come in;
 * and no key or passphrase lands in a report.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { labUp } from '../../lab/lab.ts';
import { labDir, makePlan } from '../../lab/lab-plan.ts';
import { fingerprintOfPublicKey } from '../../probes/hostkey.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-ssh-edits-'));
const resultsDir = path.join(tmp, 'results');
const PASSPHRASE = 'correct-horse-battery-staple-42';
// Built from parts so this file does not itself look like a committed key to secret scanners.
const KEY_BLOCK = new RegExp(['BEGIN', '[A-Z]*', 'PRIVATE', 'KEY'].join(' ').replace(' [A-Z]* ', '( [A-Z]+)? '));
let run: CliResult;
let results: Rec[];
let hung: net.Server;
const sockets: net.Socket[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const of = (fleet: string) => results.filter((r) => r.fleet === fleet);

before(async () => {
  await labUp();
  const plan = makePlan();
  const lab = labDir();
  const key = path.join(lab, 'id_ed25519');
  // The lab key, encrypted with a passphrase: same key, so the hosts accept it.
  const enc = path.join(tmp, 'id_encrypted');
  fs.copyFileSync(key, enc);
  fs.chmodSync(enc, 0o600);
  execFileSync('ssh-keygen', ['-q', '-p', '-N', PASSPHRASE, '-f', enc]);
  const hostFp = (name: string) => fingerprintOfPublicKey(fs.readFileSync(path.join(lab, 'hostkeys', name, 'ssh_host_ed25519_key.pub'), 'utf8'));
  const cattle1 = plan.hosts.find((h) => h.name === 'dl-cattle-1')!;
  const closedPort = await freePort();
  hung = net.createServer((s) => sockets.push(s)).listen(0, '127.0.0.1'); // accepts, never speaks SSH
  await new Promise((r) => hung.once('listening', r));
  const hungPort = (hung.address() as net.AddressInfo).port;
  const staticTarget = (name: string, port: number, fp: string, ssh: Record<string, unknown>) => ({
    name,
    provider: 'ssh',
    hosts: [{ id: `${name}-1`, address: '127.0.0.1', port, hostKey: fp }],
    ssh: { user: 'audit', identityFile: key, connectTimeoutMs: 3000, ...ssh },
  });
  const config = {
    version: 1,
    targets: [
      {
        name: 'cattle',
        provider: 'docker',
        docker: { labels: { 'driftless.fleet': 'cattle', 'driftless.lab.role': 'host' } },
        ssh: { user: 'audit', identityFile: key, knownHostsFile: path.join(lab, 'known_hosts') },
      },
      {
        name: 'snowflake',
        provider: 'docker',
        docker: { labels: { 'driftless.fleet': 'snowflake', 'driftless.lab.role': 'host' } },
        ssh: { user: 'root', identityFile: key, knownHostsFile: path.join(lab, 'known_hosts') },
      },
      // dl-cattle-1's address, but pinned to another host's key: a man in the middle.
      staticTarget('mitm', cattle1.sshPort, hostFp('dl-snowflake-1'), {}),
      staticTarget('unreachable', closedPort, hostFp('dl-cattle-1'), {}),
      staticTarget('hung', hungPort, hostFp('dl-cattle-1'), {}),
      staticTarget('nosuchuser', cattle1.sshPort, hostFp('dl-cattle-1'), { user: 'nosuchuser' }),
      staticTarget('encrypted', cattle1.sshPort, hostFp('dl-cattle-1'), { identityFile: enc }),
      staticTarget('passphrase', cattle1.sshPort, hostFp('dl-cattle-1'), { identityFile: enc, passphraseEnv: 'DL_TEST_PASSPHRASE' }),
    ],
    release: { file: path.join(lab, 'release.json') },
    policy: {
      ssh: { mode: 'read-only', immutablePaths: ['/etc', '/usr/bin', '/opt/app', '/var/lib/dpkg', '~/.ssh'], writablePaths: ['/tmp', '/run'], concurrency: 8 },
    },
  };
  const file = path.join(tmp, 'driftless.config.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  run = await driftless(['run', '--suite', 'ssh-edits', '--config', file, '--results-dir', resultsDir], {
    env: { DL_TEST_PASSPHRASE: PASSPHRASE, DRIFTLESS_RUN_ID: undefined, DRIFTLESS_RUN_DIR: undefined, DRIFTLESS_SEED: undefined },
    timeoutMs: 600_000,
  });
  results = readRecords(resultsDir);
});

after(() => {
  for (const s of sockets) s.destroy();
  hung?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the run ends with exit 1 (violations found) and prints live progress', () => {
  assert.equal(run.code, 1, run.stderr.slice(-3000));
  assert.match(run.stderr, /\[driftless ssh-edits\] \d+\/\d+ hosts done, \d+ violations so far/);
});

test('every cattle host blocks every edit, with EROFS or a refusal as the reason', () => {
  const cattle = of('cattle');
  assert.equal(cattle.length, 3 * (5 + 4 + 1 + 1 + 1 + 1)); // canaries, appends, chmod, sudo, mounts, sweep
  for (const r of cattle) assert.equal(r.outcome, 'passed', `${r.host}: ${r.title}: ${r.message}`);
});

test('snowflake: writable paths come back ALLOWED (violations), the host is TAINTED, and no canary remains', () => {
  const snow = of('snowflake');
  assert.equal(snow.length, 2 * 13); // and the mount table (DL-SSH-060)
  const failedCanaries = snow.filter((r) => r.outcome === 'failed' && r.control === 'DL-SSH-010');
  assert.equal(failedCanaries.length, 2 * 5);
  for (const r of failedCanaries) assert.match(r.message ?? '', /ALLOWED on dl-snowflake-\d: created the canary; reverted and checked gone — TAINTED/);
  const sudo = snow.filter((r) => r.control === 'DL-SSH-040');
  for (const r of sudo) assert.equal(r.outcome, 'failed');
  const sweeps = snow.filter((r) => r.control === 'DL-SSH-099');
  assert.equal(sweeps.length, 2);
  for (const r of sweeps) assert.equal(r.outcome, 'passed', r.message);
});

test('a host whose key differs from the pinned one is refused as a possible man-in-the-middle (broken, never passed)', () => {
  const mitm = of('mitm');
  assert.ok(mitm.length > 0);
  for (const r of mitm) {
    assert.equal(r.outcome, 'broken');
    assert.match(r.message ?? '', /possible man-in-the-middle, refusing to connect/);
  }
});

test('unreachable and hung hosts are broken within the connect timeout; the others still report', () => {
  for (const r of of('unreachable')) {
    assert.equal(r.outcome, 'broken');
    assert.match(r.message ?? '', /unreachable \(ECONNREFUSED\)/);
  }
  for (const r of of('hung')) {
    assert.equal(r.outcome, 'broken');
    assert.match(r.message ?? '', /did not complete the SSH handshake within 3000 ms/);
  }
});

test('an unknown user and an encrypted key without passphrase get clear messages on their hosts', () => {
  for (const r of of('nosuchuser')) assert.match(r.message ?? '', /denied authentication for user "nosuchuser"/);
  for (const r of of('encrypted')) assert.match(r.message ?? '', /is encrypted and no passphrase was given: set ssh\.passphraseEnv/);
  for (const r of of('passphrase')) assert.equal(r.outcome, 'passed', 'the same key with its passphrase from the env var logs in');
});

test('no private key, passphrase or token appears in any result or attachment', () => {
  const key = fs.readFileSync(path.join(labDir(), 'id_ed25519'), 'utf8');
  const keyBody = key.split('\n').filter((l) => l && !l.startsWith('-----'))[1]!;
  let files = 0;
  for (const f of fs.readdirSync(resultsDir, { recursive: true, encoding: 'utf8' })) {
    if (!fs.statSync(path.join(resultsDir, f)).isFile()) continue;
    const text = fs.readFileSync(path.join(resultsDir, f), 'latin1');
    files++;
    assert.ok(!text.includes(PASSPHRASE), `${f} contains the passphrase`);
    assert.ok(!text.includes(keyBody), `${f} contains the private key`);
    assert.ok(!KEY_BLOCK.test(text), `${f} contains a private key block`);
  }
  assert.ok(files > 20, `typed results and their evidence were written (${files})`);
  assert.ok(!run.stdout.includes(PASSPHRASE) && !run.stderr.includes(PASSPHRASE));
});
