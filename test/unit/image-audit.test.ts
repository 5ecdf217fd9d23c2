/** The pure parts of the image audit: diff classification, manifest comparison, tar reading. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import tarStream from 'tar-stream';
import { classifyChanges, compareManifests } from '../../audits/image/compare.ts';
import { imageChecksFor } from '../../audits/image/image-plan.ts';
import { firstFileOfTar } from '../../probes/docker.ts';
import { ENTRY_ERRORS, type Manifest, type ManifestEntry } from '../../probes/manifest.ts';

test('classifyChanges: parents of reported entries, mounts, runtime files and writable paths are not drift', () => {
  const changes = [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/motd', Kind: 0 },
    { Path: '/etc/ssh', Kind: 0 },
    { Path: '/etc/ssh/lab_authorized_keys', Kind: 1 },
    { Path: '/run', Kind: 0 },
    { Path: '/run/sshd.pid', Kind: 1 },
    { Path: '/etc/hosts', Kind: 0 },
    { Path: '/usr/bin/nc', Kind: 1 },
    { Path: '/opt/app/server.py', Kind: 2 },
    { Path: '/opt', Kind: 0 },
    { Path: '/var/lib/thing', Kind: 0 }, // a changed leaf: drift
  ];
  const c = classifyChanges(changes, { writablePaths: ['/tmp', '/run'], mounts: ['/etc/ssh/lab_authorized_keys', '/etc/ssh/keys'] });
  assert.deepEqual(c.drift, [
    { path: '/etc/motd', kind: 'changed' },
    { path: '/usr/bin/nc', kind: 'added' },
    { path: '/opt/app/server.py', kind: 'deleted' },
    { path: '/var/lib/thing', kind: 'changed' },
  ]);
  const why = Object.fromEntries(c.ignored.map((i) => [i.path, i.why]));
  assert.equal(why['/etc'], 'parent of a reported entry');
  assert.equal(why['/etc/ssh/lab_authorized_keys'], 'mount point /etc/ssh/lab_authorized_keys');
  assert.equal(why['/run/sshd.pid'], 'allowed writable path /run');
  assert.equal(why['/etc/hosts'], 'placed by the container runtime');
});

test('classifyChanges: /runner is not under the writable /run', () => {
  const c = classifyChanges([{ Path: '/runner', Kind: 1 }], { writablePaths: ['/run'], mounts: [] });
  assert.deepEqual(c.drift, [{ path: '/runner', kind: 'added' }]);
});

const f = (path: string, extra: Partial<ManifestEntry> = {}): ManifestEntry => ({
  path,
  type: 'file',
  mode: '0644',
  uid: 0,
  gid: 0,
  size: 3,
  sha256: 'a'.repeat(64),
  ...extra,
});
const man = (entries: ManifestEntry[]): Manifest => ({ version: 1, root: 'x', paths: ['/etc'], excludes: [], entries });

test('compareManifests: a file the host user cannot read is compared on metadata only, and listed', () => {
  const exp = man([f('/etc/motd'), f('/etc/shadow', { mode: '0640' }), f('/etc/x')]);
  const act = man([
    f('/etc/motd', { sha256: 'b'.repeat(64), size: 4 }),
    f('/etc/shadow', { mode: '0640', sha256: undefined, error: ENTRY_ERRORS.unreadable }),
    f('/etc/x'),
  ]);
  delete act.entries[1]!.sha256;
  const c = compareManifests(exp, act);
  assert.deepEqual(
    c.changed.map((x) => [x.path, x.fields]),
    [['/etc/motd', ['size', 'sha256']]],
  );
  assert.deepEqual(c.couldNotRead, [{ path: '/etc/shadow', side: 'actual', error: ENTRY_ERRORS.unreadable }]);
  assert.equal(c.driftCount, 1);
});

test('compareManifests: an unreadable file whose mode changed is still drift', () => {
  const exp = man([f('/etc/shadow', { mode: '0640' })]);
  const act = man([{ ...f('/etc/shadow', { mode: '0666' }), error: ENTRY_ERRORS.unreadable }]);
  delete act.entries[0]!.sha256;
  assert.deepEqual(
    compareManifests(exp, act).changed.map((x) => x.fields),
    [['mode']],
  );
});

test('compareManifests: contents of a directory the host user cannot list are left out', () => {
  const exp = man([f('/etc/ssl/private', { type: 'dir', mode: '0700', size: 0, sha256: undefined }), f('/etc/ssl/private/key.pem')]);
  delete exp.entries[0]!.sha256;
  const act = man([{ ...exp.entries[0]!, error: ENTRY_ERRORS.unlistable }]);
  const c = compareManifests(exp, act);
  assert.equal(c.driftCount, 0);
  assert.deepEqual(c.removed, []);
  assert.equal(c.couldNotRead[0]!.path, '/etc/ssl/private');
  assert.equal(c.comparedExpectedDigest, c.comparedActualDigest);
});

test('firstFileOfTar reads the first regular file and skips directories and PAX headers', async () => {
  const pack = tarStream.pack();
  pack.entry({ name: 'etc', type: 'directory' });
  pack.entry({ name: 'motd', pax: { path: 'etc/motd', comment: 'x'.repeat(200) } }, 'hello\n');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const b of pack) chunks.push(b as Buffer);
  assert.equal((await firstFileOfTar(Buffer.concat(chunks)))?.toString(), 'hello\n');
  assert.equal(await firstFileOfTar(Buffer.alloc(1024)), undefined);
});

test('imageChecksFor: each provider gets only the checks that apply to it', () => {
  const engine = ['DL-IMG-010', 'DL-IMG-011', 'DL-IMG-012', 'DL-IMG-013'];
  assert.deepEqual(imageChecksFor('docker', undefined), [
    'DL-IMG-001',
    'DL-IMG-002',
    'DL-IMG-003',
    'DL-IMG-004',
    'DL-IMG-005',
    'DL-IMG-006',
    ...engine,
    'DL-IMG-017',
  ]);
  assert.deepEqual(imageChecksFor('docker', undefined, { nonRoot: true }).at(-2), 'DL-IMG-014', 'DL-IMG-014 only when policy.container.nonRoot');
  assert.deepEqual(imageChecksFor('ec2', { ami: 'ami-1' }), ['DL-IMG-001', 'DL-IMG-007', 'DL-IMG-008', 'DL-IMG-015', 'DL-IMG-016']);
  assert.deepEqual(imageChecksFor('ec2', { ami: 'ami-1', manifest: '/m.json' }), [
    'DL-IMG-001',
    'DL-IMG-006',
    'DL-IMG-007',
    'DL-IMG-008',
    'DL-IMG-015',
    'DL-IMG-016',
    'DL-IMG-017',
  ]);
  assert.deepEqual(imageChecksFor('ssh', { manifest: '/m.json' }), ['DL-IMG-006', 'DL-IMG-017']);
  assert.deepEqual(imageChecksFor('ssh', {}), []);
});
