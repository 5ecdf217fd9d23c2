/**
 * Do no harm over SSH, on real sshd in real containers: the remount is put back to the mode it
 * was found in; the chmod fallback never follows a symlink; an edit cut off mid-way marks the host
 * tainted-unknown and a sweep on a new connection still runs; a canary left on a host is removed
 * and checked gone; a @revoked host key is refused. Each host is inspected afterwards from the
 * engine (docker exec as root), not from driftless's own word.
 */
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { labUp } from '../../lab/lab.ts';
import { IMAGES, labDir } from '../../lab/lab-plan.ts';
import { connectEngine } from '../../probes/docker.ts';
import { evidence, readRecords, type Rec } from '../helpers/records.ts';
import type { Verdict } from '../../reports/verdict.ts';
import { driftless } from '../helpers/cli.ts';
import { freePort, inHost, removeTestHosts, startTestHost, type TestHost } from '../helpers/test-hosts.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-no-harm-'));
const RUN = `noharm-${process.pid}`;
let docker: Docker;
const hosts: Record<'roPriv' | 'rwPriv' | 'trap' | 'fifo', TestHost> = {} as never;

/** The mount mode of / inside a host, as the kernel says it. */
const rootMode = async (name: string) =>
  (await inHost(docker, name, `awk '$2 == "/" { m = $4 } END { split(m, o, ","); print o[1] }' /proc/mounts`)).stdout.trim();

async function run(name: string, targets: unknown[], policy: Record<string, unknown>) {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({ version: 1, targets, release: { services: { web: { digest: 'sha256:' + 'a'.repeat(64) } } }, policy: { ssh: policy } }),
  );
  const dir = path.join(tmp, `results-${name}`);
  const reports = path.join(tmp, `reports-${name}`);
  const cli = await driftless(['run', '--suite', 'ssh-edits', '--config', file, '--results-dir', dir, '--run-id', `${RUN}-${name}`], {
    env: { DRIFTLESS_OUTPUT_DIR: reports },
  });
  const verdict = JSON.parse(fs.readFileSync(path.join(reports, 'verdict.json'), 'utf8')) as Verdict;
  return { cli, verdict, results: readRecords(dir) };
}

const target = (name: string, h: TestHost, user: string, extra: Record<string, unknown> = {}) => ({
  name,
  provider: 'ssh',
  service: 'web',
  hosts: [{ id: h.name, address: '127.0.0.1', port: h.sshPort, hostKey: h.hostKey }],
  ssh: { user, identityFile: path.join(labDir(), 'id_ed25519'), ...extra },
});
const one = (rs: Rec[], host: string, control: string, title?: RegExp) => {
  const r = rs.filter((x) => x.host === host && x.control === control && (!title || title.test(x.title)));
  assert.equal(r.length, 1, `one ${control} result for ${host}: ${rs.map((x) => x.title).join(' | ')}`);
  return r[0]!;
};
const attachment = (r: Rec, _dir: string, name: string) => evidence<Record<string, unknown>>(r, name);

before(async () => {
  await labUp();
  docker = await connectEngine();
  let port = 24100;
  const next = async () => (port = await freePort(port + 1));
  hosts.roPriv = await startTestHost(docker, {
    name: `dl-noharm-ro-${process.pid}`,
    image: IMAGES.snowflake,
    sshPort: await next(),
    httpPort: await next(),
    readOnlyRoot: true,
    sysAdmin: true,
  });
  hosts.rwPriv = await startTestHost(docker, {
    name: `dl-noharm-rw-${process.pid}`,
    image: IMAGES.snowflake,
    sshPort: await next(),
    httpPort: await next(),
    sysAdmin: true,
  });
  hosts.trap = await startTestHost(docker, { name: `dl-noharm-trap-${process.pid}`, image: IMAGES.snowflake, sshPort: await next(), httpPort: await next() });
  hosts.fifo = await startTestHost(docker, { name: `dl-noharm-fifo-${process.pid}`, image: IMAGES.snowflake, sshPort: await next(), httpPort: await next() });
});

after(async () => {
  await removeTestHosts(docker);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('remount (aggressive mode) puts / back the way it was found', () => {
  test('a read-only root that could be remounted read-write is reported, and is read-only again afterwards', async () => {
    assert.equal(await rootMode(hosts.roPriv.name), 'ro');
    const r = await run('remount-ro', [target('ro', hosts.roPriv, 'root')], { immutablePaths: ['/etc'], aggressive: true });
    const res = one(r.results, hosts.roPriv.name, 'DL-SSH-050');
    assert.equal(res.outcome, 'failed');
    assert.match(res.message ?? '', /remounted \/ read-write; reverted and checked gone/);
    assert.equal(await rootMode(hosts.roPriv.name), 'ro', 'the root is read-only again, as found');
  });

  test('a root found read-write is reported as writable and LEFT read-write (it used to be remounted read-only)', async () => {
    assert.equal(await rootMode(hosts.rwPriv.name), 'rw');
    const r = await run('remount-rw', [target('rw', hosts.rwPriv, 'root')], { immutablePaths: ['/etc'], aggressive: true });
    const res = one(r.results, hosts.rwPriv.name, 'DL-SSH-050');
    assert.equal(res.outcome, 'failed');
    assert.match(res.message ?? '', /already mounted read-write: nothing to remount, nothing changed/);
    assert.equal(await rootMode(hosts.rwPriv.name), 'rw', 'the root is still read-write, as found');
  });
});

describe('traps on the host', () => {
  test('the chmod fallback never follows a symlink (a link whose stat says 777 must not make its target 777)', async () => {
    // A link sorting first in /usr/bin, owned by the login user, pointing at a file it owns.
    const set = await inHost(
      docker,
      hosts.trap.name,
      'echo x > /tmp/dl-target && chmod 644 /tmp/dl-target && chown audit /tmp/dl-target && ln -sf /tmp/dl-target /usr/bin/0-dl-link && chown -h audit /usr/bin/0-dl-link && ls -1 /usr/bin | head -n 1',
    );
    assert.equal(set.stdout.trim(), '0-dl-link', set.stderr);
    await run('chmod', [target('trap', hosts.trap, 'audit')], { immutablePaths: ['/etc'] });
    const mode = await inHost(docker, hosts.trap.name, 'stat -c %a /tmp/dl-target');
    assert.equal(mode.stdout.trim(), '644', 'the link target keeps its mode');
  });

  test('a canary of this run already on the host is not written through; the sweep removes it and checks it gone; the host is tainted', async () => {
    const canary = `/etc/.driftless-canary-${RUN}-leftover`;
    await inHost(docker, hosts.trap.name, `echo left > ${canary}`);
    const r = await run('leftover', [target('trap', hosts.trap, 'root')], { immutablePaths: ['/etc'] });
    const edit = one(r.results, hosts.trap.name, 'DL-SSH-010');
    assert.equal(edit.outcome, 'broken');
    assert.match(edit.message ?? '', /already there .*not touched; the sweep removes it/);
    const sweep = one(r.results, hosts.trap.name, 'DL-SSH-099');
    assert.equal(sweep.outcome, 'failed');
    assert.match(sweep.message ?? '', new RegExp(`have now been removed \\(checked gone\\): ${canary.replace(/[.]/g, '\\.')}`));
    assert.ok(r.verdict.taintedHosts.includes(hosts.trap.name));
    assert.equal((await inHost(docker, hosts.trap.name, `test -e ${canary}`)).exitCode, 1, 'the engine confirms the canary is gone');
  });

  test('an edit cut off mid-way: the rest is not run (broken), the host is tainted-unknown, and a sweep on a new connection still runs', async () => {
    // The app's entrypoint becomes a FIFO: the zero-byte append-open blocks until the command times out.
    await inHost(docker, hosts.fifo.name, 'rm -f /opt/app/entrypoint.sh && mkfifo /opt/app/entrypoint.sh');
    const r = await run('cutoff', [target('fifo', hosts.fifo, 'root', { commandTimeoutMs: 2000 })], { immutablePaths: ['/etc'] });
    assert.equal(r.cli.code, 1, r.cli.stdout.slice(-1500)); // root login: the edits before the cut-off got through
    const cut = one(r.results, hosts.fifo.name, 'DL-SSH-020', /entrypoint\.sh/);
    assert.equal(cut.outcome, 'broken');
    assert.match(cut.message ?? '', /the audit stopped before this edit: .*did not finish within 2000 ms/);
    const after = one(r.results, hosts.fifo.name, 'DL-SSH-040');
    assert.equal(after.outcome, 'broken', 'the edits after the cut-off were not tried');
    const sweep = one(r.results, hosts.fifo.name, 'DL-SSH-099');
    assert.equal(sweep.outcome, 'broken');
    assert.match(sweep.message ?? '', /TAINTED-UNKNOWN.*the sweep on a new connection found nothing of this run left/);
    assert.equal(attachment(sweep, path.join(tmp, 'results-cutoff'), 'sweep')?.onNewConnection, true);
    assert.ok(r.verdict.taintedHosts.includes(hosts.fifo.name), 'a host whose edit was cut off is listed as tainted');
  });

  test('cut off with a canary of this run on the host: the sweep on the new connection removes it and the engine sees it gone', async () => {
    // The FIFO of the test above is still in place: the audit is cut off again.
    const canary = `/etc/.driftless-canary-${RUN}-cutoff-left`; // exactly the canary name of the run cutoff-left (the sweep matches no other)
    await inHost(
      docker,
      hosts.fifo.name,
      `test -p /opt/app/entrypoint.sh || (rm -f /opt/app/entrypoint.sh && mkfifo /opt/app/entrypoint.sh); echo left > ${canary}`,
    );
    const r = await run('cutoff-left', [target('fifo', hosts.fifo, 'root', { commandTimeoutMs: 2000 })], { immutablePaths: ['/etc'] });
    const sweep = one(r.results, hosts.fifo.name, 'DL-SSH-099');
    assert.equal(sweep.outcome, 'failed');
    assert.match(sweep.message ?? '', new RegExp(`have now been removed \\(checked gone\\): ${canary.replace(/[.]/g, '\\.')}`));
    assert.equal(attachment(sweep, path.join(tmp, 'results-cutoff-left'), 'sweep')?.onNewConnection, true);
    assert.ok(r.verdict.taintedHosts.includes(hosts.fifo.name));
    assert.equal((await inHost(docker, hosts.fifo.name, `test -e ${canary}`)).exitCode, 1, 'the engine confirms the canary is gone');
  });
});

describe('known_hosts', () => {
  test('a host key known_hosts marks @revoked is refused, even with a pinned line for it', async () => {
    const pub = fs
      .readFileSync(path.join(labDir(), 'hostkeys', 'dl-snowflake-1', 'ssh_host_ed25519_key.pub'), 'utf8')
      .trim()
      .split(/\s+/);
    const kh = path.join(tmp, 'known_hosts');
    fs.writeFileSync(kh, `[127.0.0.1]:${hosts.trap.sshPort} ${pub[0]} ${pub[1]}\n@revoked * ${pub[0]} ${pub[1]}\n`);
    const t = {
      ...target('revoked', hosts.trap, 'root', { knownHostsFile: kh }),
      hosts: [{ id: hosts.trap.name, address: '127.0.0.1', port: hosts.trap.sshPort }],
    };
    const r = await run('revoked', [t], { immutablePaths: ['/etc'] });
    assert.equal(r.cli.code, 3, r.cli.stdout.slice(-1500));
    assert.match(r.verdict.uncheckedHosts[0]!.reason, /known_hosts marks @revoked: refusing to connect/);
  });
});
