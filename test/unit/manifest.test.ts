/**
 * The golden file manifest on a small real tree: the Node walk and the remote shell command
 * (run here with `sh -c` against the same tree) agree byte for byte, diffs name exactly what
 * changed, the schema accepts what we write and refuses what is broken, the digest is stable.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../../core/config.ts';
import { LAB_MANIFEST_EXCLUDES } from '../../lab/lab-plan.ts';
import {
  buildManifest,
  CONTAINER_RUNTIME_FILES,
  diffManifests,
  ENTRY_ERRORS,
  type Manifest,
  type ManifestEntry,
  ManifestStreamError,
  MANIFEST_DEFAULTS,
  manifestDigest,
  manifestOfDirectory,
  manifestOfDirectoryViaShell,
  parseManifestStream,
  remoteManifestCommand,
  remoteManifestShellLine,
  validateManifest,
} from '../../probes/manifest.ts';
import { REPO_ROOT } from '../../core/paths.ts';

const PATHS = ['/etc', '/usr/bin'];
const EXCLUDES = ['/etc/hostname', '/etc/ssh/keys'];
const uid = process.getuid!();
const gid = process.getgid!();
const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
const tmpRoots: string[] = [];

after(() => {
  for (const d of tmpRoots) fs.rmSync(d, { recursive: true, force: true });
});

/** A tiny rootfs: a file, a dir, a symlink, a setuid binary, awkward names, and excluded paths. */
function makeTree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-manifest-'));
  tmpRoots.push(root);
  fs.chmodSync(root, 0o755);
  const w = (rel: string, text: string, mode = 0o644) => {
    fs.writeFileSync(path.join(root, rel), text);
    fs.chmodSync(path.join(root, rel), mode);
  };
  const d = (rel: string, mode = 0o755) => {
    fs.mkdirSync(path.join(root, rel), { recursive: true });
    fs.chmodSync(path.join(root, rel), mode);
  };
  d('etc');
  d('etc/app.d', 0o750);
  d('etc/ssh/keys', 0o700);
  d('usr', 0o755);
  d('usr/bin');
  d('var/log');
  w('etc/app.conf', 'listen 127.0.0.1\n');
  w('etc/app.d/name with space', 'spaced\n', 0o600);
  w('etc/app.d/tab\there', 'tab\n');
  w('etc/app.d/new\nline', 'newline\n');
  w('etc/app.d/back\\slash', 'backslash\n');
  w('etc/hostname', 'excluded\n');
  w('etc/ssh/keys/host_key', 'secret, excluded with its directory\n', 0o600);
  w('etc/ssh/sshd_config', 'Port 22\n');
  fs.symlinkSync('app.conf', path.join(root, 'etc/app.link'));
  w('usr/bin/suid-tool', '#!/bin/sh\necho hi\n', 0o4755);
  w('var/log/outside.log', 'not under a scanned path\n');
  return root;
}

function expectedEntries(): ManifestEntry[] {
  const f = (p: string, content: string, mode = '0644'): ManifestEntry => ({
    path: p,
    type: 'file',
    mode,
    uid,
    gid,
    size: Buffer.byteLength(content),
    sha256: sha(content),
  });
  const dir = (p: string, mode = '0755'): ManifestEntry => ({ path: p, type: 'dir', mode, uid, gid, size: 0 });
  return [
    dir('/etc'),
    f('/etc/app.conf', 'listen 127.0.0.1\n'),
    dir('/etc/app.d', '0750'),
    f('/etc/app.d/back\\slash', 'backslash\n'),
    f('/etc/app.d/name with space', 'spaced\n', '0600'),
    f('/etc/app.d/new\nline', 'newline\n'),
    f('/etc/app.d/tab\there', 'tab\n'),
    { path: '/etc/app.link', type: 'symlink', mode: '0777', uid, gid, size: 'app.conf'.length, target: 'app.conf' },
    dir('/etc/ssh'),
    f('/etc/ssh/sshd_config', 'Port 22\n'),
    dir('/usr/bin'),
    f('/usr/bin/suid-tool', '#!/bin/sh\necho hi\n', '4755'),
  ];
}

/** Runs the exact remote script locally with `sh -c`, paths prefixed with the tree. */
function runRemoteCommandLocally(root: string, env: NodeJS.ProcessEnv = process.env): ManifestEntry[] {
  const r = spawnSync('sh', ['-c', remoteManifestCommand(PATHS, EXCLUDES, { root })], { env, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr.toString());
  return parseManifestStream(r.stdout, { root });
}

const local = async (root: string): Promise<Manifest> => manifestOfDirectory(root, PATHS, EXCLUDES);

describe('one format, two producers', () => {
  test('the local manifest has exactly the expected entries, sorted by path in byte order', async () => {
    const m = await local(makeTree());
    assert.deepEqual(m.entries, expectedEntries());
    assert.deepEqual(m.paths, PATHS);
    assert.deepEqual(m.excludes, EXCLUDES);
    assert.equal(m.version, 1);
  });

  test('the remote command run with sh -c on the same tree gives identical entries', async () => {
    const root = makeTree();
    const viaShell = buildManifest(runRemoteCommandLocally(root), { root: 'x', paths: PATHS, excludes: EXCLUDES });
    assert.deepEqual(viaShell.entries, (await local(root)).entries);
    assert.deepEqual((await manifestOfDirectoryViaShell(root, PATHS, EXCLUDES)).entries, expectedEntries());
    // as an SSH exec request, interpreted by a login shell such as bash
    const viaBash = spawnSync('bash', ['-c', remoteManifestShellLine(PATHS, EXCLUDES, { root })]);
    assert.equal(viaBash.status, 0, viaBash.stderr.toString());
    assert.deepEqual(buildManifest(parseManifestStream(viaBash.stdout, { root }), { root: 'x', paths: PATHS, excludes: EXCLUDES }).entries, expectedEntries());
    // reblocked by dd; where dd refuses its operands (busybox's knows no status=none), cat passes the stream on whole
    const shim = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-shim-'));
    tmpRoots.push(shim);
    fs.writeFileSync(path.join(shim, 'dd'), `#!/bin/sh\necho "dd: invalid status level 'none'" >&2\nexit 1\n`, { mode: 0o755 });
    const noDd = spawnSync('bash', ['-c', remoteManifestShellLine(PATHS, EXCLUDES, { root })], {
      env: { ...process.env, PATH: `${shim}:${process.env.PATH}` },
    });
    assert.equal(noDd.status, 0, noDd.stderr.toString());
    assert.equal(noDd.stderr.toString(), '', 'the refused dd is quiet');
    assert.deepEqual(noDd.stdout, viaBash.stdout);
  });

  test('without `sha256sum --zero` (older coreutils) the escaped line format parses to the same entries', () => {
    const root = makeTree();
    const shim = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-shim-'));
    tmpRoots.push(shim);
    const real = spawnSync('sh', ['-c', 'command -v sha256sum']).stdout.toString().trim();
    fs.writeFileSync(
      path.join(shim, 'sha256sum'),
      `#!/bin/sh\nfor a; do [ "$a" = --zero ] && { echo "unrecognized option '--zero'" >&2; exit 1; }; done\nexec ${real} "$@"\n`,
      { mode: 0o755 },
    );
    const env = { ...process.env, PATH: `${shim}:${process.env.PATH}` };
    const raw = spawnSync('sh', ['-c', remoteManifestCommand(PATHS, EXCLUDES, { root })], { env }).stdout.toString();
    assert.match(raw, /\0HL\0/, 'the shim forces the line format');
    assert.deepEqual(buildManifest(runRemoteCommandLocally(root, env), { root: 'x', paths: PATHS, excludes: EXCLUDES }).entries, expectedEntries());
  });

  test('a missing scan path is skipped by both; a path under another one is scanned once', async () => {
    const root = makeTree();
    const paths = ['/etc', '/etc/ssh', '/opt/app', '/usr/bin/'];
    const a = await manifestOfDirectory(root, paths, EXCLUDES);
    const b = await manifestOfDirectoryViaShell(root, paths, EXCLUDES);
    assert.deepEqual(a.paths, ['/etc', '/opt/app', '/usr/bin']);
    assert.deepEqual(a.entries, expectedEntries());
    assert.deepEqual(b.entries, a.entries);
  });

  test(
    'unreadable files and unlistable directories become entries with an error (as an unprivileged user)',
    { skip: uid !== 0 && 'needs root to switch to nobody' },
    () => {
      const setpriv = spawnSync('sh', ['-c', 'command -v setpriv']).stdout.toString().trim();
      if (!setpriv) return;
      const root = makeTree(); // etc/app.d is 0750 root: nobody cannot list it; etc/ssh/sshd_config made 0600
      fs.chmodSync(path.join(root, 'etc/ssh/sshd_config'), 0o600);
      const r = spawnSync(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', remoteManifestCommand(PATHS, EXCLUDES, { root })]);
      const entries = parseManifestStream(r.stdout, { root });
      const byPath = new Map(entries.map((e) => [e.path, e]));
      assert.equal(byPath.get('/etc/app.d')?.error, ENTRY_ERRORS.unlistable);
      assert.equal(byPath.has('/etc/app.d/name with space'), false);
      assert.equal(byPath.get('/etc/ssh/sshd_config')?.error, ENTRY_ERRORS.unreadable);
      assert.equal(byPath.get('/etc/ssh/sshd_config')?.sha256, undefined);
      assert.equal(byPath.get('/etc/app.conf')?.sha256, sha('listen 127.0.0.1\n'));
      // the Node walk, run as the same user, agrees
      const script =
        `import { manifestOfDirectory } from ${JSON.stringify(path.join(REPO_ROOT, 'probes/manifest.ts'))};\n` +
        `const m = await manifestOfDirectory(process.argv[1], ${JSON.stringify(PATHS)}, ${JSON.stringify(EXCLUDES)});\nprocess.stdout.write(JSON.stringify(m.entries));\n`;
      const n = spawnSync(
        setpriv,
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, root],
        { cwd: REPO_ROOT },
      );
      assert.equal(n.status, 0, n.stderr.toString());
      assert.deepEqual(JSON.parse(n.stdout.toString()), buildManifest(entries, { root: 'x', paths: PATHS, excludes: EXCLUDES }).entries);
    },
  );

  test('a cut-off or foreign stream is an error, never an empty manifest', () => {
    const root = makeTree();
    const full = spawnSync('sh', ['-c', remoteManifestCommand(PATHS, EXCLUDES, { root })]).stdout;
    assert.throws(() => parseManifestStream(full.subarray(0, full.length - 10), { root }), ManifestStreamError);
    assert.throws(() => parseManifestStream('sh: find: not found\n'), /not a driftless manifest stream/);
    assert.throws(() => parseManifestStream(full.toString(), { root: '/elsewhere' }), /outside the scan root/, 'paths are checked against the root');
  });
});

describe('the one-pass stream (sha256sum --zero)', () => {
  const HEX = 'a'.repeat(40) + '0123456789abcdef01234567';
  const M = (p: string, kind = 'f', target = '') => `M\0${kind}\x00644\0${uid}\0${gid}\0${kind === 'd' ? 4096 : 3}\0${p}\0${target}\0`;
  const head = 'driftless-manifest-v1\0';

  test('one find pass: metadata and hashes interleaved, odd names (newline, a leading "<64 hex>  ") hashed right', () => {
    const root = makeTree();
    const odd = [`${HEX}  tail`, `${HEX}  `, `x\n${HEX}  app.conf\n`, 'END', 'M'];
    odd.forEach((n, i) => fs.writeFileSync(path.join(root, 'etc', n), `odd ${i}\n`));
    fs.symlinkSync('END', path.join(root, 'etc/end.link'));
    const raw = spawnSync('sh', ['-c', remoteManifestCommand(PATHS, EXCLUDES, { root })]).stdout;
    assert.ok(raw.toString().startsWith(`${head}H1\0`), 'coreutils here has --zero: one pass');
    assert.equal(raw.toString().match(/\0H[0L]\0/), null, 'no second pass');
    const byPath = new Map(parseManifestStream(raw, { root }).map((e) => [e.path, e]));
    odd.forEach((n, i) => assert.equal(byPath.get(`/etc/${n}`)?.sha256, sha(`odd ${i}\n`), JSON.stringify(n)));
    assert.equal(byPath.get('/etc/app.conf')?.sha256, sha('listen 127.0.0.1\n'));
    assert.equal(byPath.get('/etc/end.link')?.target, 'END');
    assert.equal(byPath.size, expectedEntries().length + odd.length + 1);
    for (const e of expectedEntries()) assert.deepEqual(byPath.get(e.path), e);
  });

  test('a file that vanishes before sha256sum reaches it is an entry with an error, as in two passes', () => {
    const root = makeTree();
    const shim = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-shim-'));
    tmpRoots.push(shim);
    const real = spawnSync('sh', ['-c', 'command -v sha256sum']).stdout.toString().trim();
    // Deletes the file between find's metadata record and the hashing of its batch.
    fs.writeFileSync(path.join(shim, 'sha256sum'), `#!/bin/sh\n[ $# -gt 1 ] && rm -f "$VANISH"\nexec ${real} "$@"\n`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${shim}:${process.env.PATH}`, VANISH: path.join(root, 'etc/app.conf') };
    const r = spawnSync('sh', ['-c', remoteManifestCommand(PATHS, EXCLUDES, { root })], { env });
    assert.equal(r.status, 0);
    assert.match(r.stderr.toString(), /app\.conf/);
    const byPath = new Map(parseManifestStream(r.stdout, { root }).map((e) => [e.path, e]));
    assert.deepEqual(byPath.get('/etc/app.conf'), { path: '/etc/app.conf', type: 'file', mode: '0644', uid, gid, size: 17, error: ENTRY_ERRORS.notHashed });
    assert.equal(byPath.get('/usr/bin/suid-tool')?.sha256, sha('#!/bin/sh\necho hi\n'));
  });

  test('the parser fails closed on a cut, a stray or misplaced record; accepts the H0 two-pass form', () => {
    const ok = `${head}H1\0${M('/etc/a')}${HEX}  /etc/a\0${M('/etc/l', 'l', 'END')}END\0`;
    assert.equal(parseManifestStream(ok).find((e) => e.path === '/etc/a')?.sha256, HEX);
    const bad: Array<[string, RegExp]> = [
      [`${head}H1\0${M('/etc/a')}${HEX}  /etc/a\0`, /incomplete/],
      [`${head}H1\0${M('/etc/a')}${M('/etc/l', 'l', 'END')}`, /incomplete/], // cut right after a link to "END"
      [`${head}H1\0${HEX}  /etc/a\0${M('/etc/a')}END\0`, /no file record before it/],
      [`${head}H1\0${M('/etc', 'd')}${HEX}  /etc\0END\0`, /no file record before it/],
      [`${head}H1\0${M('/etc/a')}${HEX}  /etc/a\0H1\0END\0`, /unknown record "H1"/],
      [`${head}H1\0${M('/etc/a')}${HEX.toUpperCase()}  /etc/a\0END\0`, /unknown record/],
      [`${head}${M('/etc/a')}${HEX}  /etc/a\0END\0`, /unknown record/], // a hash record outside a hash section
      [`${head}${M('/etc/a')}END\0`, /no hash section/],
      [`${head}H1\0${M('/etc/a')}${HEX}  /other/a\0END\0`, /outside the scan root/],
    ];
    for (const [s, re] of bad) assert.throws(() => parseManifestStream(s, { root: s.includes('/other/') ? '/etc' : undefined }), re, JSON.stringify(s));
    const two = parseManifestStream(`${head}${M('/etc/a')}${M('/etc/b')}H0\0${HEX}  /etc/a\0END\0`);
    assert.deepEqual(
      two.map((e) => [e.path, e.sha256, e.error]),
      [
        ['/etc/a', HEX, undefined],
        ['/etc/b', undefined, ENTRY_ERRORS.notHashed],
      ],
    );
  });
});

describe('diff', () => {
  test('finds an added, a removed, a changed (content) and a mode-changed file, and nothing else', async () => {
    const root = makeTree();
    const before = await local(root);
    fs.writeFileSync(path.join(root, 'etc/added.conf'), 'new\n');
    fs.rmSync(path.join(root, 'etc/app.d/tab\there'));
    fs.writeFileSync(path.join(root, 'etc/app.conf'), 'listen 0.0.0.0\n'); // one byte shorter
    fs.chmodSync(path.join(root, 'usr/bin/suid-tool'), 0o755);
    fs.writeFileSync(path.join(root, 'etc/hostname'), 'excluded paths never drift\n');
    fs.writeFileSync(path.join(root, 'var/log/outside.log'), 'neither do unscanned ones\n');
    const now = await local(root);
    const d = diffManifests(before, now);
    assert.deepEqual(
      d.added.map((e) => e.path),
      ['/etc/added.conf'],
    );
    assert.deepEqual(
      d.removed.map((e) => e.path),
      ['/etc/app.d/tab\there'],
    );
    assert.deepEqual(
      d.changed.map((c) => [c.path, c.fields]),
      [
        ['/etc/app.conf', ['size', 'sha256']],
        ['/usr/bin/suid-tool', ['mode']],
      ],
    );
    assert.equal(d.changed[1]!.expected.mode, '4755');
    assert.equal(d.changed[1]!.actual.mode, '0755');
    assert.deepEqual(diffManifests(now, now), { added: [], removed: [], changed: [] });
  });
});

describe('schema and digest', () => {
  test('what we write validates; broken manifests do not', async () => {
    const m = await local(makeTree());
    assert.deepEqual(validateManifest(m), { ok: true, errors: [] });
    assert.deepEqual(validateManifest(JSON.parse(JSON.stringify(m))), { ok: true, errors: [] }, 'survives a JSON round trip');
    const broken = (f: (x: Manifest) => void) => {
      const x = JSON.parse(JSON.stringify(m)) as Manifest;
      f(x);
      return validateManifest(x);
    };
    const cases: Array<[string, (x: Manifest) => void]> = [
      ['mode without 4 octal digits', (x) => (x.entries[1]!.mode = '644')],
      ['unknown field', (x) => ((x.entries[1] as unknown as Record<string, unknown>).mtime = 1)],
      ['sha256 on a directory', (x) => (x.entries[0]!.sha256 = 'a'.repeat(64))],
      ['file without sha256 or error', (x) => delete x.entries[1]!.sha256],
      ['short sha256', (x) => (x.entries[1]!.sha256 = 'abc')],
      ['symlink without target', (x) => delete x.entries.find((e) => e.type === 'symlink')!.target],
      ['wrong version', (x) => ((x as unknown as { version: number }).version = 2)],
      ['relative path', (x) => (x.entries[0]!.path = 'etc')],
      ['unsorted entries', (x) => x.entries.reverse()],
      ['duplicate entries', (x) => x.entries.splice(1, 0, x.entries[1]!)],
      ['extra top-level key', (x) => ((x as unknown as Record<string, unknown>).digest = 'x')],
    ];
    for (const [what, f] of cases) {
      const r = broken(f);
      assert.equal(r.ok, false, `${what} must fail validation`);
      assert.ok(r.errors.length > 0, what);
    }
    assert.throws(() => buildManifest([{ ...m.entries[1]!, mode: 'rwx' }], { root: 'x', paths: PATHS, excludes: [] }), /does not validate/);
  });

  test('the digest is stable across runs, ignores the root label, and changes when one byte changes', async () => {
    const root = makeTree();
    const a = await local(root);
    const b = await manifestOfDirectoryViaShell(root, PATHS, EXCLUDES);
    assert.match(manifestDigest(a), /^sha256:[0-9a-f]{64}$/);
    assert.equal(manifestDigest(a), manifestDigest(await local(root)));
    assert.equal(manifestDigest(a), manifestDigest({ ...b, root: 'host:elsewhere' }));
    // key order in the object does not matter: the digest is over canonical JSON
    const reordered = {
      entries: a.entries.map((e) => Object.fromEntries(Object.entries(e).reverse())),
      excludes: a.excludes,
      paths: a.paths,
      root: a.root,
      version: 1,
    } as unknown as Manifest;
    assert.equal(manifestDigest(reordered), manifestDigest(a));
    fs.writeFileSync(path.join(root, 'etc/app.conf'), 'listen 127.0.0.2\n'); // same size, one byte
    assert.notEqual(manifestDigest(await local(root)), manifestDigest(a));
    assert.notEqual(manifestDigest({ ...a, excludes: [] }), manifestDigest(a), 'the scope is part of the digest');
  });
});

describe('default scope', () => {
  test("nothing is left out of a rootfs directory by default: /etc/hosts and the lab's key paths are compared", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-manifest-defaults-'));
    tmpRoots.push(root);
    fs.mkdirSync(path.join(root, 'etc', 'ssh', 'keys'), { recursive: true });
    for (const f of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname', 'etc/ssh/lab_authorized_keys', 'etc/ssh/keys/k'])
      fs.writeFileSync(path.join(root, f), 'x\n');
    const m = await manifestOfDirectory(root);
    assert.deepEqual(m.excludes, []);
    for (const p of ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname', '/etc/ssh/lab_authorized_keys', '/etc/ssh/keys/k'])
      assert.ok(
        m.entries.some((e) => e.path === p),
        `${p} is compared`,
      );
  });

  test("the lab's own binds are excluded by the lab's config, and only container scans leave out the runtime's files", () => {
    assert.deepEqual(MANIFEST_DEFAULTS.excludes, []);
    assert.deepEqual([...CONTAINER_RUNTIME_FILES].sort(), ['/etc/hostname', '/etc/hosts', '/etc/mtab', '/etc/resolv.conf']);
    const lab = parseYaml(fs.readFileSync(path.join(REPO_ROOT, 'driftless.config.yaml'), 'utf8')) as Config;
    assert.deepEqual(lab.policy.manifest.excludes, LAB_MANIFEST_EXCLUDES);
  });
});
