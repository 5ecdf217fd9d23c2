/**
 * What `remoteManifestCommand` prints on a host for a given manifest, without a host: the stream as
 * GNU find and `sha256sum --zero` write it. An entry's `error` becomes its E record (a file not
 * hashed gets none, as when it vanished); with `asUser`, the login user's view is derived from the
 * modes instead (a file nobody else may read gets an E record and no hash; a directory nobody else
 * may list gets an E record and nothing under it). Siblings come in another order than the
 * sorted one, and hashes come in batches after their files' M records, as `-exec sha256sum --zero
 * {} +` writes them. Also a synthetic image-sized manifest. Used by the manifest tests and the
 * manifest cost bench (bench/manifest-cost.ts).
 */
import { createHash } from 'node:crypto';
import { mulberry32 } from '../../core/seed.ts';
import { ENTRY_ERRORS, type Manifest, type ManifestEntry, sortEntries } from '../../probes/manifest.ts';

const KIND: Record<ManifestEntry['type'], string> = { file: 'f', dir: 'd', symlink: 'l', other: 'p' };

export interface StreamOptions {
  /** How many files sha256sum gets per batch (find's -exec + fills a command line). */
  batch?: number;
  /** Derive what the login user cannot read from the modes (entries' own errors are then ignored). */
  asUser?: boolean;
  /** Reverse each directory's children: find lists them in directory order, not sorted. */
  shuffle?: boolean;
  /** H1 (one pass, the default) or H0 (metadata first, then every hash). */
  form?: 'H1' | 'H0';
}

/** The stream of `m`'s entries (an entry whose parent is not listed is a start point). */
export function streamOf(m: Pick<Manifest, 'entries'>, o: StreamOptions = {}): Buffer {
  const batch = o.batch ?? 500;
  const form = o.form ?? 'H1';
  const parts: string[] = [`driftless-manifest-v1\0${form === 'H1' ? 'H1\0' : ''}`];
  const hashes: string[] = [];
  let pending: ManifestEntry[] = [];
  const flush = () => {
    for (const f of pending) (form === 'H1' ? parts : hashes).push(`${f.sha256}  ${f.path}\0`);
    pending = [];
  };
  const children = new Map<string, ManifestEntry[]>();
  const byPath = new Map(m.entries.map((e) => [e.path, e]));
  const tops: ManifestEntry[] = [];
  for (const e of m.entries) {
    const parent = e.path.slice(0, e.path.lastIndexOf('/')) || '/';
    if (byPath.has(parent) && parent !== e.path) (children.get(parent) ?? children.set(parent, []).get(parent)!).push(e);
    else tops.push(e);
  }
  const visit = (e: ManifestEntry): void => {
    const perm = Number.parseInt(e.mode, 8);
    const size = e.type === 'dir' ? 4096 : e.size;
    parts.push(`M\0${KIND[e.type]}\0${perm.toString(8)}\0${e.uid}\0${e.gid}\0${size}\0${e.path}\0${e.target ?? ''}\0`);
    const error = o.asUser
      ? e.type === 'dir' && (perm & 0o5) !== 0o5
        ? ENTRY_ERRORS.unlistable
        : e.type === 'file' && (perm & 0o4) === 0
          ? ENTRY_ERRORS.unreadable
          : undefined
      : e.error;
    if (error && error !== ENTRY_ERRORS.notHashed) parts.push(`E\0${e.path}\0${error}\0`);
    if (e.type === 'dir') {
      if (error === ENTRY_ERRORS.unlistable) return;
      const kids = [...(children.get(e.path) ?? [])];
      if (o.shuffle ?? true) kids.reverse();
      for (const k of kids) visit(k);
    } else if (e.type === 'file' && !error && e.sha256) {
      pending.push(e);
      if (pending.length >= batch) flush();
    }
  };
  for (const t of tops) visit(t);
  flush();
  if (form === 'H0') parts.push('H0\0', ...hashes);
  parts.push('END\0');
  return Buffer.from(parts.join(''), 'utf8');
}

/** A small deterministic random source: the harness's own (core/seed.ts). */
export const random = mulberry32;

/**
 * An image-sized golden manifest (about `n` entries under /etc, /usr/bin, /usr/lib, /var/lib/dpkg),
 * shaped like the lab's: mostly files, some directories and symlinks, a few files only root may
 * read, as a root scan of an image records them (every file hashed).
 */
export function syntheticManifest(n: number, seed = 1): Manifest {
  const rnd = random(seed);
  const tops = ['/etc', '/usr/bin', '/usr/lib', '/var/lib/dpkg'];
  const entries: ManifestEntry[] = [];
  const dirs: string[] = [...tops];
  for (const t of tops) entries.push({ path: t, type: 'dir', mode: '0755', uid: 0, gid: 0, size: 0 });
  for (let i = 0; entries.length < n; i++) {
    const parent = dirs[Math.floor(rnd() * dirs.length)]!;
    const r = rnd();
    const path = `${parent}/${r < 0.08 ? 'd' : r < 0.13 ? 'l' : 'f'}${i.toString(36)}${rnd() < 0.02 ? '.conf' : ''}`;
    if (r < 0.08) {
      dirs.push(path);
      entries.push({ path, type: 'dir', mode: rnd() < 0.02 ? '0700' : '0755', uid: 0, gid: 0, size: 0 });
    } else if (r < 0.13) {
      const target = `../lib/x86_64-linux-gnu/lib${i}.so.${Math.floor(rnd() * 9)}`;
      entries.push({ path, type: 'symlink', mode: '0777', uid: 0, gid: 0, size: target.length, target });
    } else {
      const size = Math.floor(rnd() * 200_000);
      const secret = rnd() < 0.003;
      entries.push({
        path,
        type: 'file',
        mode: secret ? '0640' : rnd() < 0.3 ? '0755' : '0644',
        uid: 0,
        gid: secret ? 42 : 0,
        size,
        sha256: createHash('sha256').update(path).digest('hex'),
      });
    }
  }
  return { version: 1, root: 'image:synthetic', paths: tops, excludes: [], entries: sortEntries(entries) };
}
