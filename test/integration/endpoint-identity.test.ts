/**
 * A docker host's SSH address comes from its labels (issue 24, item 13): a container labelled with
 * dl-cattle-1's SSH port must not have dl-cattle-1 audited, and edited, in its name. Through the
 * real CLI against the running lab (its dl-cattle-1 answers there; the lab is only read, never
 * brought up or down): two test containers of the cattle image, one mislabelled, one labelled with
 * its own port (both removed after); and the lab's own fleets, each proven by its upper directory.
 */
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LABELS, labDir } from '../../lab/lab-plan.ts';
import { connectEngine, inspectContainer } from '../../probes/docker.ts';
import type { Verdict } from '../../reports/verdict.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { freePort, startTestHost, type TestHost } from '../helpers/test-hosts.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-endpoint-identity-'));
const SELECT = 'driftless.test.endpoint-identity';
const LAB_FLEETS = ['cattle', 'snowflake', 'sticky'];
const names = { rogue: `dl-ident-rogue-${process.pid}`, honest: `dl-ident-honest-${process.pid}` };
let docker: Docker;
let cattle1: { port: number; upper: string };
const hosts: Partial<Record<'rogue' | 'honest', TestHost & { upper: string }>> = {};
let cli: CliResult;
let verdict: Verdict;
let results: Rec[];

const upperOf = async (name: string) => {
  const info = await inspectContainer(docker, name);
  const upper = (info?.GraphDriver as { Data?: { UpperDir?: string } } | undefined)?.Data?.UpperDir;
  assert.ok(upper, `${name} has an overlay upper directory (the lab's engine uses overlay2)`);
  return upper;
};

before(async () => {
  docker = await connectEngine();
  const info = await inspectContainer(docker, 'dl-cattle-1');
  assert.ok(info?.State.Running, 'the lab is up (dl-cattle-1 running); this test only reads it');
  cattle1 = { port: Number(info.Config.Labels['driftless.port.ssh']), upper: await upperOf('dl-cattle-1') };
  // Ports below the lab's and the ephemeral range, away from other tests' (24300+).
  const port = await freePort(24700);
  const ports = [port, await freePort(port + 1), await freePort(port + 2), await freePort(port + 3)];
  // rogue: its sshd listens on its own port, but its label names dl-cattle-1's.
  const start = async (which: 'rogue' | 'honest', sshPort: number, httpPort: number, labelledPort: number) => {
    const h = await startTestHost(docker, {
      name: names[which],
      image: info.Image,
      sshPort,
      httpPort,
      readOnlyRoot: true,
      labels: { [SELECT]: `${process.pid}-${which}`, 'driftless.port.ssh': String(labelledPort), 'driftless.service': 'cattle-web' },
    });
    hosts[which] = { ...h, upper: await upperOf(names[which]) };
  };
  await Promise.all([start('rogue', ports[0]!, ports[1]!, cattle1.port), start('honest', ports[2]!, ports[3]!, ports[2]!)]);

  // The lab's pins, and the honest container's own (it uses dl-snowflake-1's host key).
  const knownHosts = path.join(tmp, 'known_hosts');
  const pub = fs
    .readFileSync(path.join(labDir(), 'hostkeys', 'dl-snowflake-1', 'ssh_host_ed25519_key.pub'), 'utf8')
    .trim()
    .split(/\s+/);
  fs.writeFileSync(knownHosts, `${fs.readFileSync(path.join(labDir(), 'known_hosts'), 'utf8')}\n[127.0.0.1]:${hosts.honest!.sshPort} ${pub[0]} ${pub[1]}\n`);
  const ssh = { user: 'audit', identityFile: path.join(labDir(), 'id_ed25519'), knownHostsFile: knownHosts };
  const lab = (fleet: string, user: string) => ({
    name: fleet,
    provider: 'docker',
    docker: { labels: { [LABELS.fleet]: fleet, [LABELS.role]: 'host' } },
    ssh: { ...ssh, user },
  });
  const target = (which: 'rogue' | 'honest') => ({ name: which, provider: 'docker', docker: { labels: { [SELECT]: `${process.pid}-${which}` } }, ssh });
  // The honest container again, as a static SSH host: its pinned host key is its identity.
  const staticTarget = {
    name: 'static',
    provider: 'ssh',
    hosts: [{ id: 'honest-static', address: '127.0.0.1', port: hosts.honest!.sshPort, hostKey: hosts.honest!.hostKey }],
    ssh: { ...ssh, knownHostsFile: undefined },
  };
  const file = path.join(tmp, 'config.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      targets: [target('rogue'), target('honest'), staticTarget, ...LAB_FLEETS.map((f) => lab(f, f === 'snowflake' ? 'root' : 'audit'))],
      release: { file: path.join(labDir(), 'release.json') },
      policy: { ssh: { mode: 'read-only', immutablePaths: ['/etc'], writablePaths: ['/tmp', '/run'] } },
    }),
  );
  const dir = path.join(tmp, 'results');
  const reports = path.join(tmp, 'reports');
  cli = await driftless(['run', '--suite', 'ssh-edits', '--config', file, '--results-dir', dir], { env: { DRIFTLESS_OUTPUT_DIR: reports }, timeoutMs: 60_000 });
  verdict = JSON.parse(fs.readFileSync(path.join(reports, 'verdict.json'), 'utf8')) as Verdict;
  results = readRecords(dir);
});

after(async () => {
  // Only the containers this file made (other files' test hosts may be running).
  for (const name of Object.values(names))
    await docker
      ?.getContainer(name)
      .remove({ force: true })
      .catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("a container labelled with dl-cattle-1's SSH port", () => {
  test('has every SSH check broken, naming both upper directories: never a pass', () => {
    // Not a pass (exit 1 here: the lab's snowflake has violations, which outrank "not fully checked").
    assert.equal(cli.code, 1, cli.stdout.slice(-2000) + cli.stderr.slice(-2000));
    const rogue = results.filter((r) => r.fleet === 'rogue');
    assert.ok(rogue.length >= 5, `${rogue.length} results`);
    const want =
      `the SSH endpoint 127.0.0.1:${cattle1.port} answered as another container (upperdir ${cattle1.upper}), ` +
      `not ${names.rogue} (upperdir ${hosts.rogue!.upper}): its labels point at another host`;
    for (const r of rogue) {
      assert.equal(r.outcome, 'broken', `${r.control}: ${r.message}`);
      assert.ok((r.message ?? '').startsWith(want), `${r.control}: ${r.message}`);
    }
    assert.equal(verdict.coverage.fleets.find((f) => f.fleet === 'rogue')?.verdict, 'not-fully-checked');
  });

  test('nothing was tried on dl-cattle-1: the only evidence is the login, with what was compared', () => {
    for (const r of results.filter((x) => x.fleet === 'rogue')) {
      assert.deepEqual(
        r.attachments.map((a) => a.name),
        ['login'],
        `${r.control}: no edit, mount table or sweep evidence`,
      );
      const login = JSON.parse(r.attachments[0]!.body) as { kind: string; identity: { status: string; expected: string; observed: string } };
      assert.equal(login.kind, 'endpoint-identity');
      assert.deepEqual(login.identity.status, 'not-proven');
      assert.equal(login.identity.expected, `upperdir ${hosts.rogue!.upper}`);
      assert.equal(login.identity.observed, `upperdir ${cattle1.upper}`);
      assert.doesNotMatch(r.attachments[0]!.body, /dl-canary|DL:/, 'no canary command or marker');
    }
  });
});

describe('a container labelled with its own SSH port', () => {
  test('is proven by its own upper directory and audited as usual', () => {
    const honest = results.filter((r) => r.fleet === 'honest');
    assert.ok(honest.length >= 5, `${honest.length} results`);
    for (const r of honest) assert.notEqual(r.outcome, 'broken', `${r.control}: ${r.message}`);
    const edit = honest.find((r) => r.control === 'DL-SSH-010')!;
    const ev = JSON.parse(edit.attachments.find((a) => a.name === 'evidence')!.body) as { endpoint: { status: string; observed: string } };
    assert.equal(ev.endpoint.status, 'proven');
    assert.equal(ev.endpoint.observed, `upperdir ${hosts.honest!.upper}`);
  });
});

describe('a static SSH host', () => {
  test('needs nothing more than its pinned host key: not applicable, audited as usual', () => {
    const rs = results.filter((r) => r.fleet === 'static');
    assert.ok(rs.length >= 5, `${rs.length} results`);
    for (const r of rs) assert.notEqual(r.outcome, 'broken', `${r.control}: ${r.message}`);
    const edit = rs.find((r) => r.control === 'DL-SSH-010')!;
    const ev = JSON.parse(edit.attachments.find((a) => a.name === 'evidence')!.body) as { endpoint: { status: string; basis: string } };
    assert.deepEqual([ev.endpoint.status, ev.endpoint.basis], ['not-applicable', 'pinned-host-key']);
  });
});

describe("the lab's fleets (overlay2)", () => {
  test('cattle, snowflake and sticky: every host is proven, none broken by its endpoint', () => {
    for (const fleet of LAB_FLEETS) {
      const rs = results.filter((r) => r.fleet === fleet);
      assert.ok(rs.length > 0, fleet);
      for (const r of rs) assert.doesNotMatch(r.message ?? '', /SSH endpoint/, `${r.host} ${r.control}`);
      const hostsSeen = new Set(rs.map((r) => r.host));
      for (const host of hostsSeen) {
        const mounts = rs.find((r) => r.host === host && r.control === 'DL-SSH-060')!;
        assert.ok(
          mounts.attachments.some((a) => a.name === 'mounts'),
          `${host}: ${mounts.outcome} ${mounts.message} ${mounts.attachments.map((a) => a.name).join(',')}`,
        );
        const m = JSON.parse(mounts.attachments.find((a) => a.name === 'mounts')!.body) as { endpoint: { status: string } };
        assert.equal(m.endpoint.status, 'proven', `${host}`);
      }
    }
  });
});
