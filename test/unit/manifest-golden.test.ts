/**
 * The compiled golden manifest (audits/image/golden.ts) gives exactly what the general path gives:
 * compareManifests(golden, buildManifest(parseManifestStream(stream))) and manifestDigest of that
 * manifest, on an image-sized manifest and on hundreds of random hosts (drift of every kind, files
 * and directories either side could not read, odd names, both stream forms); and it refuses what
 * buildManifest refuses.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareManifests } from '../../audits/image/compare.ts';
import { compareWithGolden, compileGolden } from '../../audits/image/golden.ts';
import {
  buildManifest,
  ENTRY_ERRORS,
  type Manifest,
  type ManifestEntry,
  manifestDigest,
  ManifestStreamError,
  parseManifestStream,
} from '../../probes/manifest.ts';
import { random, streamOf, syntheticManifest } from '../helpers/manifest-stream.ts';

const under = (p: string, d: string) => p.startsWith(`${d}/`);

/** The general path: what manifestOverSsh did for every host before the golden was compiled. */
function general(golden: Manifest, stream: Buffer) {
  const actual = buildManifest(parseManifestStream(stream), { root: 'ssh:audit@h:22', paths: golden.paths, excludes: golden.excludes });
  return { comparison: compareManifests(golden, actual), actualDigest: manifestDigest(actual), actualEntries: actual.entries.length };
}

/** What a login user without root sees of the golden tree: unreadable files, unlisted directories. */
function userView(entries: ManifestEntry[]): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  const hidden: string[] = [];
  for (const e of entries) {
    if (hidden.some((d) => under(e.path, d))) continue;
    const perm = Number.parseInt(e.mode, 8);
    if (e.type === 'dir' && (perm & 0o5) !== 0o5) {
      hidden.push(e.path);
      out.push({ ...e, error: ENTRY_ERRORS.unlistable });
    } else if (e.type === 'file' && (perm & 0o4) === 0) {
      const { sha256: _s, ...rest } = e;
      out.push({ ...rest, error: ENTRY_ERRORS.unreadable });
    } else out.push({ ...e });
  }
  return out;
}

const ODD = ['é', '\u{1F600}', '\uFFFF', 'a b', 'new\nline', '-dash', 'Z', '~tilde', '\u00a0nbsp', 'x'.repeat(40)];

/** A host: the user's view of the golden tree with random drift of every kind. */
function driftedHost(golden: Manifest, rnd: () => number, rate: number): ManifestEntry[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const host: ManifestEntry[] = [];
  const removed: string[] = [];
  for (const e of userView(golden.entries)) {
    if (removed.some((d) => under(e.path, d))) continue;
    if (rnd() >= rate) {
      host.push(e);
      continue;
    }
    const r = rnd();
    if (r < 0.15) removed.push(e.path);
    else if (r < 0.3 && e.type === 'file' && e.sha256) host.push({ ...e, sha256: 'f'.repeat(64), size: e.size + 1 });
    else if (r < 0.4) host.push({ ...e, mode: pick(['0777', '4755', '0600', '0000']) });
    else if (r < 0.5) host.push({ ...e, uid: 1000, gid: 1000 });
    else if (r < 0.6 && e.type === 'file') {
      const { sha256: _s, error: _e, ...rest } = e;
      host.push({ ...rest, type: 'symlink', mode: '0777', target: '/tmp/evil', size: 9 });
    } else if (r < 0.7 && e.type === 'symlink') host.push({ ...e, target: `${e.target}.old` });
    else if (r < 0.8 && e.type === 'file') {
      const { sha256: _s, ...rest } = e;
      host.push({ ...rest, error: pick([ENTRY_ERRORS.notHashed, ENTRY_ERRORS.unreadable]) });
    } else if (r < 0.85 && e.type === 'dir') host.push({ ...e, error: ENTRY_ERRORS.unlistable });
    else host.push(e);
  }
  const dirs = host.filter((e) => e.type === 'dir').map((e) => e.path);
  const added = Math.floor(rnd() * 4 * rate * 10);
  for (let i = 0; i < added; i++) {
    const path = `${pick(dirs)}/${rnd() < 0.5 ? pick(ODD) : 'added'}${i}`;
    if (host.some((e) => e.path === path)) continue;
    host.push(
      rnd() < 0.8
        ? { path, type: 'file', mode: '0644', uid: 0, gid: 0, size: 5, sha256: 'e'.repeat(64) }
        : { path, type: 'dir', mode: '0755', uid: 0, gid: 0, size: 0 },
    );
  }
  return host;
}

/** A golden manifest that itself could not read some entries (a file made by another scan). */
function goldenWithErrors(m: Manifest, rnd: () => number): Manifest {
  const entries = m.entries.map((e) => {
    if (e.type === 'file' && rnd() < 0.01) {
      const { sha256: _s, ...rest } = e;
      return { ...rest, error: ENTRY_ERRORS.unreadable };
    }
    return e;
  });
  const dir = entries.find((e) => e.type === 'dir' && e.path.split('/').length > 3 && rnd() < 0.5);
  const out = dir ? entries.filter((e) => !under(e.path, dir.path)).map((e) => (e === dir ? { ...e, error: ENTRY_ERRORS.unlistable } : e)) : entries;
  return buildManifest(out, { root: m.root, paths: m.paths, excludes: m.excludes });
}

describe('the compiled golden manifest', () => {
  test('its digest is the manifest digest; a host that matches it compares as the general path does', () => {
    const golden = syntheticManifest(3900, 7);
    const g = compileGolden(golden);
    assert.equal(g.digest, manifestDigest(golden));
    const stream = streamOf(golden, { asUser: true });
    const got = compareWithGolden(g, stream);
    assert.deepEqual(got, general(golden, stream));
    assert.ok(got.comparison.couldNotRead.length > 0, 'some files only root may read');
    assert.equal(got.comparison.driftCount, 0);
    // The second host of the same image: the digests remembered, still the same answer.
    assert.deepEqual(compareWithGolden(g, stream), got);
  });

  test('random hosts: drift, unreadable and unlisted entries, odd names, both stream forms: the same answer', () => {
    const rnd = random(42);
    for (let round = 0; round < 300; round++) {
      const base = syntheticManifest(40 + Math.floor(rnd() * 300), round + 1);
      const golden = rnd() < 0.25 ? goldenWithErrors(base, rnd) : base;
      const g = compileGolden(golden);
      const host = driftedHost(golden, rnd, [0, 0.01, 0.1, 0.5][round % 4]!);
      const stream = streamOf({ entries: host }, { form: rnd() < 0.3 ? 'H0' : 'H1', batch: 1 + Math.floor(rnd() * 50), shuffle: rnd() < 0.7 });
      const want = general(golden, stream);
      assert.deepEqual(compareWithGolden(g, stream), want, `round ${round}`);
    }
  });

  test('a golden manifest with unnormalized paths: the host side is digested with the normalized scope', () => {
    const base = syntheticManifest(200, 3);
    const golden: Manifest = { ...base, paths: ['/var/lib/dpkg', '/etc', '/usr/lib', '/usr/bin', '/etc/ssh'] };
    const stream = streamOf(golden, { asUser: true });
    assert.deepEqual(compareWithGolden(compileGolden(golden), stream), general(golden, stream));
  });

  test('what buildManifest refuses is refused: a file with a hash and an error, an empty error, a relative path', () => {
    const golden = syntheticManifest(50, 5);
    const g = compileGolden(golden);
    const file = golden.entries.find((e) => e.type === 'file')!;
    const M = (p: string) => ['M', 'f', '644', '0', '0', '5', p, ''].map((f) => `${f}\0`).join('');
    const head = 'driftless-manifest-v1\0H1\0';
    const bad = [
      `${head}${M(file.path)}E\0${file.path}\0${ENTRY_ERRORS.unreadable}\0${'a'.repeat(64)}  ${file.path}\0END\0`,
      `${head}${M(file.path)}E\0${file.path}\0\0END\0`,
      `${head}${M('/etc/new')}E\0/etc/new\0${ENTRY_ERRORS.unreadable}\0${'a'.repeat(64)}  /etc/new\0END\0`,
      `${head}${M('etc/relative')}${'a'.repeat(64)}  etc/relative\0END\0`,
    ];
    for (const s of bad) {
      assert.throws(() => general(golden, Buffer.from(s)), ManifestStreamError, JSON.stringify(s));
      assert.throws(() => compareWithGolden(g, s), ManifestStreamError, JSON.stringify(s));
    }
  });
});
