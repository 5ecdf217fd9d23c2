/**
 * Whether an SSH session reached the host it audits (issue 24, item 13): the pure decision, what
 * it parses, and both SSH gatherings against a real SSH server (ssh2's Server on 127.0.0.1) that
 * answers as another container: nothing is edited or compared there, every SSH check is broken.
 * EC2 is decided as pure logic only: moto cannot serve IMDS to a host, so no session reads it here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { decideIdentity, type EndpointReading, rootOf } from '../../audits/endpoint-identity.ts';
import { auditImages } from '../../audits/image/image-gather.ts';
import { planImages } from '../../audits/image/image-plan.ts';
import { imageIntegritySuite } from '../../audits/image/image-suite.ts';
import { auditFleets } from '../../audits/ssh-edits/ssh-edits-gather.ts';
import { planSshEdits } from '../../audits/ssh-edits/ssh-edits-plan.ts';
import { sshEditsSuite } from '../../audits/ssh-edits/ssh-edits-suite.ts';
import type { Config, SshPolicy, Target } from '../../core/config.ts';
import type { FleetSnapshot, SnapshotHost } from '../../core/inventory.ts';
import { storageOf, type ContainerDetails } from '../../probes/docker.ts';
import { parseImdsInstanceId } from '../../probes/imds.ts';
import { manifestDigest, manifestOfDirectory } from '../../probes/manifest.ts';
import type { Provider } from '../../providers/provider.ts';
import { identityOf } from '../../providers/docker/provider.ts';
import { StaticSshProvider } from '../../providers/ssh/provider.ts';
import { streamOf, syntheticManifest } from '../helpers/manifest-stream.ts';
import { startSshServer, type TestSshServer } from '../helpers/ssh-server.ts';
import { judge } from '../helpers/suite-run.ts';

const OURS = '/var/lib/docker/overlay2/f60daa7ea56783278c24ffdb963cbd54734be5c33670c2e79dc62474388ef24c/diff';
const THEIRS = '/var/lib/docker/overlay2/d998b184c24b9ab3a419e5e1532ac60098bdb6e50f4754e4eb06bd17d0d52d2b/diff';
/** The first lines of /proc/self/mountinfo in a lab container (overlay2), with its upper directory. */
const mountinfo = (upper: string) =>
  [
    `618 255 0:180 / / ro,relatime master:15 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/3E4H2F2VYTN62YT5GSS52ITBCO:/var/lib/docker/overlay2/l/U32MSKSSJLCDN22KQV3EVBNUDN,upperdir=${upper},workdir=${upper.replace(/diff$/, 'work')}`,
    '619 618 0:183 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
    '620 618 0:184 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755',
    '',
  ].join('\n');
const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });

const docker = (identity?: SnapshotHost['identity']) => ({ id: 'dl-cattle-1', ...(identity ? { identity } : {}) });
const seen = (over: Partial<EndpointReading> = {}): EndpointReading => ({ address: '127.0.0.1:21022', hostKey: 'SHA256:k', ...over });

describe('the decision (pure)', () => {
  test('the root overlay names the upper directory the engine reports: proven', () => {
    const d = decideIdentity(docker({ kind: 'overlay-upperdir', value: OURS }), seen({ root: rootOf(ok(mountinfo(OURS))) }));
    assert.equal(d.status, 'proven', d.reason);
    assert.equal(d.expected, `upperdir ${OURS}`);
    assert.equal(d.observed, `upperdir ${OURS}`);
  });

  test("another container's upper directory: not proven, naming both sides and the labels", () => {
    const d = decideIdentity(docker({ kind: 'overlay-upperdir', value: OURS }), seen({ root: rootOf(ok(mountinfo(THEIRS))) }));
    assert.equal(d.status, 'not-proven');
    assert.equal(
      d.reason,
      `the SSH endpoint 127.0.0.1:21022 answered as another container (upperdir ${THEIRS}), not dl-cattle-1 (upperdir ${OURS}): its labels point at another host`,
    );
    assert.deepEqual([d.expected, d.observed], [`upperdir ${OURS}`, `upperdir ${THEIRS}`]);
  });

  test('no upper directory on the host side (another storage driver, or nothing recorded): not proven, saying why', () => {
    const btrfs = identityOf('dl-cattle-1', { driver: 'btrfs' });
    assert.equal(btrfs.kind, 'none');
    const d = decideIdentity(docker(btrfs), seen({ root: rootOf(ok(mountinfo(THEIRS))) }));
    assert.equal(d.status, 'not-proven');
    assert.match(
      d.reason,
      /^the SSH endpoint 127\.0\.0\.1:21022 cannot be proven to be dl-cattle-1: the engine stores dl-cattle-1's filesystem with storage driver "btrfs", which reports no upper directory/,
    );
    const none = decideIdentity(docker(), seen({ root: rootOf(ok(mountinfo(OURS))) }));
    assert.equal(none.status, 'not-proven');
    assert.match(none.reason, /nothing ties dl-cattle-1 to the SSH endpoint 127\.0\.0\.1:21022: its provider recorded no identity/);
  });

  test('no upper directory on the session side (an overlay without one): not proven', () => {
    const root = rootOf(ok('1 0 0:1 / / ro - overlay overlay ro,lowerdir=/a:/b\n'));
    assert.deepEqual(root, { fsType: 'overlay', source: 'overlay' });
    const d = decideIdentity(docker({ kind: 'overlay-upperdir', value: OURS }), seen({ root }));
    assert.equal(d.status, 'not-proven');
    assert.match(d.reason, /its root is overlay \(overlay\) with no upper directory/);
  });

  test('a root that is not an overlay (the machine itself, another driver): not proven', () => {
    const root = rootOf(ok('22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n'));
    const d = decideIdentity(docker({ kind: 'overlay-upperdir', value: OURS }), seen({ root }));
    assert.equal(d.status, 'not-proven');
    assert.match(d.reason, new RegExp(`cannot be tied to dl-cattle-1 \\(upperdir ${OURS}\\): its root is ext4 \\(/dev/sda1\\), not an overlay`));
  });

  test('a mount table that could not be read: not proven', () => {
    const root = rootOf({ exitCode: 1, stdout: '', stderr: 'cat: /proc/self/mountinfo: Permission denied' });
    const d = decideIdentity(docker({ kind: 'overlay-upperdir', value: OURS }), seen({ root }));
    assert.equal(d.status, 'not-proven');
    assert.match(d.reason, /its root mount is unknown: could not read \/proc\/self\/mountinfo \(exit 1\): cat: .*Permission denied/);
  });

  test('a static SSH host: not applicable, its pinned host key is its identity', async () => {
    const [h] = await new StaticSshProvider({ name: 'static', hosts: [{ id: 'h1', address: '127.0.0.1', hostKey: 'SHA256:k' }] }).list();
    const d = decideIdentity(h!, seen());
    assert.equal(d.status, 'not-applicable');
    assert.match(d.reason, /h1 is named by its own pinned host key: the key it presented \(SHA256:k\) is its identity/);
  });

  test('EC2 (pure logic: moto cannot serve IMDS to a host): the instance id read over IMDSv2 must be the host', () => {
    const ec2 = { id: 'i-0123456789abcdef0', identity: { kind: 'ec2-instance-id' as const, value: 'i-0123456789abcdef0' } };
    assert.equal(decideIdentity(ec2, seen({ instanceId: parseImdsInstanceId(ok('DL:IMDS:ID i-0123456789abcdef0\n')) })).status, 'proven');
    const other = decideIdentity(ec2, seen({ instanceId: parseImdsInstanceId(ok('DL:IMDS:ID i-0fedcba9876543210\n')) }));
    assert.equal(other.status, 'not-proven');
    assert.match(other.reason, /answered as instance i-0fedcba9876543210 \(IMDSv2\), not i-0123456789abcdef0 \(instance i-0123456789abcdef0\)/);
    const unreachable = decideIdentity(ec2, seen({ instanceId: parseImdsInstanceId(ok('DL:IMDS:NO-TOKEN curl\n')) }));
    assert.equal(unreachable.status, 'not-proven');
    assert.match(unreachable.reason, /no IMDSv2 token from 169\.254\.169\.254 \(curl\): the instance metadata service is not reachable there/);
    const noTool = decideIdentity(ec2, seen({ instanceId: parseImdsInstanceId(ok('DL:IMDS:NO-TOOL\n')) }));
    assert.match(noTool.reason, /neither curl nor wget exists there/);
    assert.equal(decideIdentity(ec2, seen()).status, 'not-proven', 'nothing read: not proven');
  });

  test("the engine's inspect carries the upper directory into the host's identity", () => {
    const info = { GraphDriver: { Name: 'overlay2', Data: { UpperDir: OURS, LowerDir: '/x' } } } as unknown as ContainerDetails;
    assert.deepEqual(identityOf('dl-cattle-1', storageOf(info)), { kind: 'overlay-upperdir', value: OURS });
    const vfs = { GraphDriver: { Name: 'vfs', Data: null } } as unknown as ContainerDetails;
    assert.deepEqual(storageOf(vfs), { driver: 'vfs' });
  });
});

// ---- both SSH gatherings, against a real SSH server that answers as another container ----

let server: TestSshServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-endpoint-identity-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A server whose root overlay has upper directory `upper`; every command it was asked is kept. */
async function containerAt(upper: string, manifestStream?: Buffer): Promise<{ server: TestSshServer; commands: string[] }> {
  const commands: string[] = [];
  server = await startSshServer({
    auth: 'accept',
    session: (stream, command) => {
      commands.push(command);
      if (command === 'cat /proc/self/mountinfo') stream.write(mountinfo(upper));
      if (manifestStream && command.includes('driftless-manifest-v1')) stream.write(manifestStream);
      stream.exit(0);
      stream.end();
    },
  });
  return { server, commands };
}

function fleetOf(s: TestSshServer): { target: Target; snapshot: FleetSnapshot; config: Config } {
  const t = s.target();
  const knownHosts = path.join(tmp, `known_hosts-${s.port}`);
  fs.writeFileSync(knownHosts, `${s.knownHostsLine}\n`);
  const target = {
    name: 'web',
    provider: 'docker',
    service: 'web',
    mayBeEmpty: false,
    docker: { labels: { app: 'web' } },
    ssh: { user: t.user, identityFile: t.identityFile, knownHostsFile: knownHosts },
  } as unknown as Target;
  const host: SnapshotHost = {
    id: 'dl-cattle-1',
    instanceId: 'c1',
    fleet: 'web',
    provider: 'docker',
    service: 'web',
    ssh: { host: '127.0.0.1', port: s.port },
    identity: { kind: 'overlay-upperdir', value: OURS },
    image: {},
    labels: {},
    chaosEligible: false,
    state: 'running',
  };
  const policy: SshPolicy = { mode: 'read-only', immutablePaths: ['/etc'], writablePaths: ['/tmp'], aggressive: false, concurrency: 1 };
  const config = {
    targets: [target],
    release: { services: {} },
    policy: { ssh: policy, manifest: { excludes: [], metadataOnly: [] }, container: { nonRoot: false }, disabledControls: [] },
    safety: { maxKills: 0 },
  } as unknown as Config;
  return { target, snapshot: { target: 'web', provider: 'docker', hosts: [host] }, config };
}

describe('ssh-edits: an endpoint that answers as another container', () => {
  test('is not edited at all (no command after the mount table), and every SSH check of the host is broken naming both sides', async () => {
    const { server: s, commands } = await containerAt(THEIRS);
    const { target, snapshot, config } = fleetOf(s);
    const [a] = await auditFleets([{ snapshot, target }], config.policy.ssh, 'run-1');
    assert.deepEqual(commands, ['cat /proc/self/mountinfo'], 'nothing but the mount table was run there');
    assert.equal(a!.login.ok, false);
    assert.equal(a!.login.kind, 'endpoint-identity');
    assert.equal(a!.edits.length, 0);
    assert.equal(a!.sweep, undefined, 'not swept either: nothing of ours was put there');
    assert.deepEqual([a!.login.identity?.expected, a!.login.identity?.observed], [`upperdir ${OURS}`, `upperdir ${THEIRS}`]);
    const results = judge(sshEditsSuite, [a], planSshEdits({ config, inventory: [snapshot] }).checks, config, [snapshot]);
    assert.ok(results.length >= 5, `${results.length} checks`);
    for (const r of results) {
      assert.equal(r.status, 'broken', `${r.check}: ${r.message}`);
      assert.match(
        r.message ?? '',
        new RegExp(
          `the SSH endpoint 127\\.0\\.0\\.1:${s.port} answered as another container \\(upperdir ${THEIRS}\\), not dl-cattle-1 \\(upperdir ${OURS}\\): its labels point at another host`,
        ),
      );
      const login = r.evidence.find((x) => x.name === 'login');
      assert.ok(login, `${r.check}: the login evidence is attached`);
      assert.match(String(login.body), new RegExp(`"observed": "upperdir ${THEIRS}"`));
    }
  });

  test('the audited container itself: proven, recorded in the login evidence, and its edits are tried', async () => {
    const { server: s, commands } = await containerAt(OURS);
    const { target, snapshot, config } = fleetOf(s);
    const [a] = await auditFleets([{ snapshot, target }], config.policy.ssh, 'run-1');
    assert.equal(a!.login.ok, true, a!.login.message);
    assert.equal(a!.login.identity?.status, 'proven');
    assert.equal(commands[0], 'cat /proc/self/mountinfo', 'proven before anything else');
    assert.ok(a!.edits.length > 0, 'its edits were tried');
  });
});

describe('image-integrity: the golden manifest over SSH at an endpoint that answers as another container', () => {
  test('is not compared there: DL-IMG-006 is broken naming both sides, the manifest command never ran', async () => {
    const { server: s, commands } = await containerAt(THEIRS);
    const { target, snapshot, config } = fleetOf(s);
    const rootfs = path.join(tmp, 'rootfs');
    fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(rootfs, 'etc', 'hostname'), 'x\n');
    const manifestFile = path.join(tmp, 'golden.json');
    fs.writeFileSync(manifestFile, JSON.stringify(await manifestOfDirectory(rootfs, ['/etc'], [])));
    const withManifest = { ...config, release: { services: { web: { manifest: manifestFile } } } } as unknown as Config;
    // What the engine says is not at stake here: only the session's endpoint.
    const provider = { fleet: 'web', kind: 'ssh', imageFacts: async () => ({ kind: 'none' }) } as unknown as Provider;
    const [a] = await auditImages([{ snapshot, target, provider }], withManifest, undefined, () => true);
    assert.deepEqual(commands, ['cat /proc/self/mountinfo'], 'the manifest command never ran there');
    assert.equal(a!.manifest?.identity?.status, 'not-proven');
    const checks = planImages({ config: withManifest, inventory: [snapshot] }).checks.filter((c) => c.control === 'DL-IMG-006');
    assert.equal(checks.length, 1);
    const [r] = judge(imageIntegritySuite, [a], checks, withManifest, [snapshot]);
    assert.equal(r!.status, 'broken');
    assert.match(r!.message ?? '', new RegExp(`answered as another container \\(upperdir ${THEIRS}\\), not dl-cattle-1 \\(upperdir ${OURS}\\)`));
    assert.ok(r!.evidence.some((x) => x.name === 'login'));
  });

  test('the audited container itself: its stream is compared with the compiled golden manifest, the drift named', async () => {
    const golden = syntheticManifest(300, 11);
    const file = golden.entries.find((e) => e.type === 'file' && e.mode === '0644')!;
    const host = golden.entries.map((e) => (e === file ? { ...e, sha256: 'f'.repeat(64) } : e));
    const { server: s, commands } = await containerAt(OURS, streamOf({ entries: host }, { asUser: true }));
    const { target, snapshot, config } = fleetOf(s);
    const manifestFile = path.join(tmp, 'golden-synthetic.json');
    fs.writeFileSync(manifestFile, JSON.stringify(golden));
    const withManifest = { ...config, release: { services: { web: { manifest: manifestFile } } } } as unknown as Config;
    const provider = { fleet: 'web', kind: 'ssh', imageFacts: async () => ({ kind: 'none' }) } as unknown as Provider;
    const [a] = await auditImages([{ snapshot, target, provider }], withManifest, undefined, () => true);
    assert.equal(commands.length, 3, 'the mount table, the process list (DL-IMG-017), then the manifest stream');
    const m = a!.manifest?.result;
    assert.ok(m, a!.manifest?.error);
    assert.deepEqual(
      m.changed.map((c) => [c.path, c.fields]),
      [[file.path, ['sha256']]],
    );
    assert.equal(m.expectedDigest, manifestDigest(golden));
    assert.deepEqual(m.entries, { expected: golden.entries.length, actual: golden.entries.length });
    const checks = planImages({ config: withManifest, inventory: [snapshot] }).checks.filter((c) => c.control === 'DL-IMG-006');
    const [r] = judge(imageIntegritySuite, [a], checks, withManifest, [snapshot]);
    assert.equal(r!.status, 'failed');
    assert.match(r!.message ?? '', new RegExp(`1 entries: changed ${file.path} \\(sha256\\)`));
  });

  test('where no check owed judges its processes (DL-IMG-017 switched off), they are not read; judged anyway, DL-IMG-017 is broken, never passed', async () => {
    const golden = syntheticManifest(50, 12);
    const { server: s, commands } = await containerAt(OURS, streamOf(golden, { asUser: true }));
    const { target, snapshot, config } = fleetOf(s);
    const manifestFile = path.join(tmp, 'golden-synthetic-50.json');
    fs.writeFileSync(manifestFile, JSON.stringify(golden));
    const withManifest = { ...config, release: { services: { web: { manifest: manifestFile } } } } as unknown as Config;
    const provider = { fleet: 'web', kind: 'ssh', imageFacts: async () => ({ kind: 'none' }) } as unknown as Provider;
    const [a] = await auditImages([{ snapshot, target, provider }], withManifest, undefined, () => false);
    assert.equal(commands.length, 2, `the mount table, then the manifest stream: ${commands.map((c) => c.slice(0, 40)).join(' | ')}`);
    assert.equal(a!.runtime, undefined);
    assert.ok(a!.manifest?.result, a!.manifest?.error);
    const checks = planImages({ config: withManifest, inventory: [snapshot] }).checks.filter((c) => c.control === 'DL-IMG-017');
    assert.equal(checks.length, 1);
    const [r] = judge(imageIntegritySuite, [a], checks, withManifest, [snapshot]);
    assert.equal(r!.status, 'broken');
    assert.match(r!.message ?? '', /no process list could be read/);
  });
});
