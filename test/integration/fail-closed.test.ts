/**
 * Fail closed, through the real CLI against the lab: exit 0 only when every owed check ran and
 * passed. An empty fleet, a server that hangs up before key exchange, a stale run environment,
 * a missing shard or a shard of another run: each ends in exit 3 with the reason, never 0.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { labUp } from '../../lab/lab.ts';
import { LABELS, labDir } from '../../lab/lab-plan.ts';
import type { Verdict } from '../../reports/verdict.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-fail-closed-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ssh = () => ({ user: 'audit', identityFile: path.join(labDir(), 'id_ed25519'), knownHostsFile: path.join(labDir(), 'known_hosts') });
const cattle = () => ({ name: 'cattle', provider: 'docker', docker: { labels: { [LABELS.fleet]: 'cattle', [LABELS.role]: 'host' } }, ssh: ssh() });
const snowflake = () => ({
  name: 'snowflake',
  provider: 'docker',
  docker: { labels: { [LABELS.fleet]: 'snowflake', [LABELS.role]: 'host' } },
  ssh: { ...ssh(), user: 'root' },
});
const policy = { ssh: { mode: 'read-only', immutablePaths: ['/etc'], writablePaths: ['/tmp', '/run'] } };

function configFile(name: string, targets: unknown[], extra: Record<string, unknown> = {}): string {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ version: 1, targets, release: { file: path.join(labDir(), 'release.json') }, policy, ...extra }));
  return file;
}

async function run(
  name: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ cli: CliResult; verdict: Verdict; results: Rec[]; dir: string }> {
  const dir = path.join(tmp, `results-${name}`);
  const reports = path.join(tmp, `reports-${name}`);
  const cli = await driftless(['run', ...args, '--results-dir', dir], { env: { DRIFTLESS_OUTPUT_DIR: reports, ...env } });
  const verdict = JSON.parse(fs.readFileSync(path.join(reports, 'verdict.json'), 'utf8')) as Verdict;
  return { cli, verdict, results: readRecords(dir), dir };
}

before(async () => {
  await labUp();
});

describe('fleets that give nothing to check', () => {
  test('an empty fleet is exit 3 with the reason, though the rest is compliant', async () => {
    const ghost = { name: 'ghost', provider: 'docker', docker: { labels: { 'driftless.fleet': 'no-such-fleet' } }, ssh: ssh() };
    const r = await run('empty', ['--suite', 'ssh-edits', '--config', configFile('empty', [cattle(), ghost])]);
    assert.equal(r.cli.code, 3, r.cli.stdout.slice(-2000));
    assert.equal(r.verdict.verdict, 'not-fully-checked');
    const ghostFleet = r.verdict.coverage.fleets.find((f) => f.fleet === 'ghost')!;
    assert.equal(ghostFleet.verdict, 'not-fully-checked');
    assert.equal(r.verdict.coverage.fleets.find((f) => f.fleet === 'cattle')!.verdict, 'compliant');
    assert.match(r.verdict.uncheckedHosts.map((u) => u.reason).join('\n'), /fleet ghost has no hosts, so nothing of it was audited: .*mayBeEmpty: true/);
  });

  test('with mayBeEmpty, and a fleet without an ssh section: not applicable with the reasons, and exit 0', async () => {
    const ghost = { name: 'ghost', provider: 'docker', mayBeEmpty: true, docker: { labels: { 'driftless.fleet': 'no-such-fleet' } }, ssh: ssh() };
    const nossh = { name: 'nossh', provider: 'docker', docker: { labels: { [LABELS.fleet]: 'cattle', [LABELS.role]: 'host' } } };
    const r = await run('may-be-empty', ['--suite', 'ssh-edits', '--config', configFile('may-be-empty', [cattle(), ghost, nossh])]);
    assert.equal(r.cli.code, 0, r.cli.stdout.slice(-2000));
    const reasons = r.verdict.notApplicable.map((n) => `${n.fleet}: ${n.reason}`);
    assert.ok(reasons.includes('ghost: fleet "ghost" has no hosts, and targets[].mayBeEmpty says it may be empty'), reasons.join('\n'));
    assert.ok(reasons.includes('nossh: target "nossh" has no ssh section: SSH controls not applicable'), reasons.join('\n'));
    assert.match(r.cli.stdout, /not applicable: nossh ssh-edits: target "nossh" has no ssh section/);
    assert.equal(r.verdict.coverage.fleets.find((f) => f.fleet === 'nossh')!.verdict, 'not-applicable');
  });
});

describe('policy forbidden', () => {
  let server: net.Server;
  let port: number;
  before(async () => {
    // An SSH server in name only: it sends its banner and hangs up before any key exchange.
    server = net.createServer((s) => {
      s.write('SSH-2.0-OpenSSH_9.2p1\r\n');
      setTimeout(() => s.destroy(), 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => server.close());

  test('a host whose server sends its banner and drops the connection is broken, not "login refused": exit 3', async () => {
    const target = {
      name: 'banner',
      provider: 'ssh',
      hosts: [{ id: 'banner-1', address: '127.0.0.1', port, hostKey: 'SHA256:' + 'A'.repeat(43) }],
      ssh: { ...ssh(), knownHostsFile: undefined },
    };
    const file = configFile('forbidden', [target], { policy: { ssh: { ...policy.ssh, mode: 'forbidden' } } });
    const r = await run('forbidden', ['--suite', 'ssh-edits', '--config', file]);
    assert.equal(r.cli.code, 3, r.cli.stdout.slice(-2000));
    assert.equal(r.verdict.coverage.total.broken, 1);
    assert.match(r.verdict.uncheckedHosts[0]!.reason, /closed the connection before the SSH key exchange/);
  });
});

describe('the run is who the CLI says it is', () => {
  test('a stale DRIFTLESS_RUN_ID, seed and run file in the environment are ignored: a new run probes afresh', async () => {
    const first = await run('first', ['--suite', 'ssh-edits', '--config', configFile('first', [cattle()])]);
    assert.equal(first.cli.code, 0, first.cli.stdout.slice(-2000));
    const second = await run('second', ['--suite', 'ssh-edits', '--config', configFile('second', [cattle()])], {
      DRIFTLESS_RUN_ID: first.verdict.runId,
      DRIFTLESS_SEED: '5',
      DRIFTLESS_RUN_FILE: path.join(first.dir, 'driftless-run.json'),
      DRIFTLESS_RUN_DIR: first.dir,
    });
    assert.equal(second.cli.code, 0, second.cli.stdout.slice(-2000));
    assert.notEqual(second.verdict.runId, first.verdict.runId);
    assert.ok(second.results.length > 0 && second.results.every((x) => x.runId === second.verdict.runId), "every result is the new run's");
    assert.match(second.cli.stderr, /\[driftless ssh-edits\] auditing 3 hosts over SSH/, 'it probed');
  });

  test("a reused --run-id never reports an earlier run's outcome (issue 24, item 11)", async () => {
    // The same id twice, into the same results folder: first snowflake (violations), then cattle only.
    const dir = ['--run-id', 'reused-id', '--results-dir', path.join(tmp, 'results-reused')];
    const snow = await driftless(['run', '--suite', 'ssh-edits', '--config', configFile('reused-1', [snowflake()]), ...dir], {
      env: { DRIFTLESS_OUTPUT_DIR: path.join(tmp, 'reports-reused') },
    });
    assert.equal(snow.code, 1, snow.stdout.slice(-2000));
    const t = new Date().toISOString();
    const again = await driftless(['run', '--suite', 'ssh-edits', '--config', configFile('reused-2', [cattle()]), ...dir], {
      env: { DRIFTLESS_OUTPUT_DIR: path.join(tmp, 'reports-reused') },
    });
    assert.equal(again.code, 0, again.stdout.slice(-2000));
    const rs = readRecords(path.join(tmp, 'results-reused'));
    assert.ok(rs.length > 0 && rs.every((r) => r.fleet === 'cattle' && r.startedAt >= t), 'only the second run answers');
  });
});

describe('shards', () => {
  const runId = `shards-${process.pid}`;
  let one: string;
  let two: string;
  before(async () => {
    const file = configFile('shards', [cattle()]);
    const [a, b] = await Promise.all([
      run('shard1', ['--suite', 'ssh-edits', '--config', file, '--shard', '1/2', '--run-id', runId]),
      run('shard2', ['--suite', 'ssh-edits', '--config', file, '--shard', '2/2', '--run-id', runId]),
    ]);
    one = a.dir;
    two = b.dir;
    assert.equal(a.cli.code, 0, a.cli.stdout.slice(-1500));
    assert.equal(b.cli.code, 0, b.cli.stdout.slice(-1500));
    assert.ok(a.verdict.coverage.total.owed > 0 && b.verdict.coverage.total.owed > 0, 'both shards owe part of the plan');
  });

  const report = (name: string, dirs: string[]) =>
    driftless(['report', ...dirs.flatMap((d) => ['--results', d]), '--out', path.join(tmp, `report-${name}`)], {
      env: { DRIFTLESS_OUTPUT_DIR: path.join(tmp, `reports-${name}`) },
    });

  test('both shards merged: compliant, every owed check answered', async () => {
    const r = await report('both', [one, two]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const v = JSON.parse(fs.readFileSync(path.join(tmp, 'reports-both', 'verdict.json'), 'utf8')) as Verdict;
    assert.equal(v.coverage.total.missing, 0);
    assert.equal(v.coverage.total.owed, v.coverage.total.passed);
  });

  test('a shard folder missing: exit 3, naming the folder and the shard', async () => {
    const r = await report('missing', [one, path.join(tmp, 'results-never-uploaded')]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /results-never-uploaded does not exist/);
    assert.match(r.stdout, new RegExp(`shard 2/2 of run ${runId} is missing`));
  });

  test('a shard of another run is refused: exit 3', async () => {
    const other = await run('other', ['--suite', 'ssh-edits', '--config', configFile('other', [cattle()]), '--shard', '2/2', '--run-id', `${runId}-other`]);
    const r = await report('mixed', [one, other.dir]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /refusing to merge these results:\n.*must all carry the same --run-id/);
  });

  test('--shard without --run-id is a usage error: exit 2, nothing probed', async () => {
    const r = await driftless(['run', '--suite', 'ssh-edits', '--config', configFile('norunid', [cattle()]), '--shard', '1/2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--shard 1\/2 needs --run-id/);
    assert.doesNotMatch(r.stderr, /auditing/);
  });
});
