/**
 * The golden manifest compiled once per image (or manifest file), and a host's manifest stream
 * compared with it as it is walked: no manifest object, no entry object and no canonical JSON is
 * built for an entry that matches the golden one. A fleet audit compares thousands of hosts with
 * the same golden manifest, so everything per golden entry is done here once:
 *
 *   - the path index and each entry's fields, flat (typed arrays);
 *   - the canonical JSON of the whole manifest as one buffer, with each entry's byte range, so a
 *     host's digest is the golden bytes hashed in a few long runs, with only the entries that
 *     differ written out.
 *
 * The result is exactly what `compareManifests(golden, buildManifest(parseManifestStream(stream)))`
 * and `manifestDigest` of that manifest give (test/unit/manifest-golden.test.ts holds the two
 * equal on real-sized and random manifests); the general path stays for everything else.
 */
import { createHash } from 'node:crypto';
import {
  canonicalJson,
  compareBytes,
  ENTRY_ERRORS,
  type EntryType,
  makeEntry,
  type Manifest,
  type ManifestEntry,
  ManifestStreamError,
  normalizeScope,
  type RawEntry,
  walkManifestStream,
} from '../../probes/manifest.ts';
import { type ManifestComparison, under } from './compare.ts';
import { unlistedDirs } from './unlisted.ts';

const TYPES: readonly EntryType[] = ['file', 'dir', 'symlink', 'other'];
const TYPE_CODE: Record<string, number> = { f: 0, d: 1, l: 2 };
const FILE = 0;
const DIR = 1;
const SYMLINK = 2;

export interface GoldenManifest {
  manifest: Manifest;
  /** manifestDigest(manifest). */
  digest: string;
  size: number;
  index: Map<string, number>;
  type: Uint8Array;
  mode: Uint16Array;
  uid: Float64Array;
  gid: Float64Array;
  bytes: Float64Array;
  sha256: Array<string | undefined>;
  target: Array<string | undefined>;
  error: Array<string | undefined>;
  /** Canonical JSON of the manifest without its root; entry i is canon[start[i], end[i]). */
  canon: Buffer;
  start: Uint32Array;
  end: Uint32Array;
  /** A host's manifest has the golden scope, normalized: its canonical JSON around the entries. */
  hostShell: { head: string; tail: string };
  goldenShell: { head: string; tail: string };
  /** Digests already computed, by their plan (see Digest). */
  digests: Map<string, string>;
}

function shellOf(rest: Omit<Manifest, 'entries' | 'root'>): { head: string; tail: string } {
  const s = canonicalJson({ ...rest, entries: [] });
  const at = s.indexOf('"entries":[]') + '"entries":['.length;
  return { head: s.slice(0, at), tail: s.slice(at) };
}

/** Compiles a golden manifest (validated, sorted) for comparing many hosts with it. */
export function compileGolden(m: Manifest): GoldenManifest {
  const n = m.entries.length;
  const g: GoldenManifest = {
    manifest: m,
    digest: '',
    size: n,
    index: new Map(),
    type: new Uint8Array(n),
    mode: new Uint16Array(n),
    uid: new Float64Array(n),
    gid: new Float64Array(n),
    bytes: new Float64Array(n),
    sha256: new Array(n),
    target: new Array(n),
    error: new Array(n),
    canon: Buffer.alloc(0),
    start: new Uint32Array(n),
    end: new Uint32Array(n),
    goldenShell: shellOf({ version: m.version, paths: m.paths, excludes: m.excludes }),
    hostShell: shellOf({ version: 1, ...normalizeScope(m.paths, m.excludes) }),
    digests: new Map(),
  };
  const parts: string[] = [g.goldenShell.head];
  let at = Buffer.byteLength(g.goldenShell.head);
  m.entries.forEach((e, i) => {
    g.index.set(e.path, i);
    g.type[i] = TYPES.indexOf(e.type);
    g.mode[i] = Number.parseInt(e.mode, 8);
    g.uid[i] = e.uid;
    g.gid[i] = e.gid;
    g.bytes[i] = e.size;
    g.sha256[i] = e.sha256;
    g.target[i] = e.target;
    g.error[i] = e.error;
    const s = canonicalJson(e);
    if (i > 0) {
      parts.push(',');
      at += 1;
    }
    parts.push(s);
    g.start[i] = at;
    at += Buffer.byteLength(s);
    g.end[i] = at;
  });
  parts.push(g.goldenShell.tail);
  g.canon = Buffer.from(parts.join(''), 'utf8');
  g.digest = `sha256:${createHash('sha256').update(g.canon).digest('hex')}`;
  return g;
}

/**
 * The canonical JSON of a manifest's entries as a plan: runs of golden bytes where entries match,
 * the JSON of those that do not. Hosts of one image mostly make the same plan (the same files
 * unreadable to the login user), so its digest is hashed once and remembered by the plan.
 */
class Digest {
  private readonly ops: Array<number | string> = [];
  private runStart = -1;
  private runEnd = -1;
  private last = -2;
  constructor(
    private readonly g: GoldenManifest,
    private readonly shell: { head: string; tail: string },
  ) {}
  golden(i: number): void {
    if (this.runStart >= 0 && this.last === i - 1) this.runEnd = this.g.end[i]!;
    else {
      this.flush();
      if (this.ops.length) this.ops.push(',');
      this.runStart = this.g.start[i]!;
      this.runEnd = this.g.end[i]!;
    }
    this.last = i;
  }
  json(s: string): void {
    this.flush();
    this.ops.push(this.ops.length ? `,${s}` : s);
    this.last = -2;
  }
  private flush(): void {
    if (this.runStart >= 0) this.ops.push(this.runStart, this.runEnd);
    this.runStart = -1;
  }
  digest(): string {
    this.flush();
    const key = `${this.shell.head}\0${this.ops.join('\0')}\0${this.shell.tail}`;
    const known = this.g.digests.get(key);
    if (known) return known;
    const h = createHash('sha256').update(this.shell.head);
    for (let k = 0; k < this.ops.length; k++) {
      const op = this.ops[k]!;
      if (typeof op === 'string') h.update(op);
      else h.update(this.g.canon.subarray(op, this.ops[++k] as number));
    }
    const d = `sha256:${h.update(this.shell.tail).digest('hex')}`;
    // Bounded, for fleets whose hosts all differ: a few plans, each small, are remembered.
    if (key.length <= 64 * 1024) {
      if (this.g.digests.size >= 64) this.g.digests.clear();
      this.g.digests.set(key, d);
    }
    return d;
  }
}

const COMPARED = ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'target', 'error'] as const;

/** An entry without its content hash and error: how an entry one side could not read is compared. */
function stripped(e: ManifestEntry): ManifestEntry {
  const { sha256: _s, error: _e, ...rest } = e;
  return rest;
}
function slim(e: ManifestEntry): Partial<ManifestEntry> {
  const { path: _p, ...rest } = e;
  return rest;
}

export interface GoldenComparison {
  comparison: ManifestComparison;
  actualDigest: string;
  actualEntries: number;
}

/**
 * Walks a host's manifest stream against the golden manifest: what differs, what either side could
 * not read, and the digests, as compareManifests and manifestDigest give them. A stream that would
 * not make a valid manifest is refused (ManifestStreamError), as buildManifest refuses it.
 */
export function compareWithGolden(g: GoldenManifest, stream: string | Buffer, opts: { root?: string; label?: string } = {}): GoldenComparison {
  const n = g.size;
  // Per golden path: 0 not listed, else the host's type code + 1. The fields, flat.
  const seen = new Uint8Array(n);
  const perm = new Uint16Array(n);
  const uid = new Float64Array(n);
  const gid = new Float64Array(n);
  const size = new Float64Array(n);
  const sha: Array<string | undefined> = new Array(n);
  const target: Array<string | undefined> = new Array(n);
  const err: Array<string | undefined> = new Array(n);
  const extra = new Map<string, RawEntry>(); // paths the golden manifest does not have: drift
  walkManifestStream(
    stream,
    {
      entry(path, kind, p, u, gr, s, t) {
        const i = g.index.get(path);
        if (i === undefined) {
          extra.set(path, { path, kind, perm: p, uid: u, gid: gr, size: s, ...(kind === 'l' ? { target: t } : {}) });
          return;
        }
        const type = TYPE_CODE[kind] ?? 3;
        seen[i] = type + 1;
        perm[i] = p & 0o7777;
        uid[i] = u;
        gid[i] = gr;
        size[i] = type === DIR ? 0 : s;
        target[i] = type === SYMLINK ? t : undefined;
        sha[i] = undefined;
        err[i] = undefined;
      },
      error(path, message) {
        const i = g.index.get(path);
        if (i === undefined) {
          const r = extra.get(path);
          if (r) r.error = message;
        } else if (seen[i]) err[i] = message;
      },
      hash(path, hex) {
        const i = g.index.get(path);
        if (i === undefined) {
          const r = extra.get(path);
          if (r?.kind !== 'f') return false;
          r.sha256 = hex;
          return true;
        }
        if (seen[i] !== FILE + 1) return false;
        sha[i] = hex;
        return true;
      },
    },
    opts,
  );
  const label = opts.label ?? 'the host';
  const invalid = (path: string, why: string) =>
    new ManifestStreamError(`the manifest of ${label} does not validate against schemas/manifest.schema.json: ${path} ${why}`);
  // makeEntry's rule (a listed file without a hash or an error was not hashed), and what the schema refuses.
  for (let i = 0; i < n; i++) {
    if (seen[i] !== FILE + 1) {
      if (seen[i] && err[i] === '') throw invalid(g.manifest.entries[i]!.path, 'has an empty error');
      continue;
    }
    if (sha[i] === undefined && err[i] === undefined) err[i] = ENTRY_ERRORS.notHashed;
    else if (sha[i] !== undefined && err[i] !== undefined) throw invalid(g.manifest.entries[i]!.path, 'has both a hash and an error');
    else if (err[i] === '') throw invalid(g.manifest.entries[i]!.path, 'has an empty error');
  }
  const extras = [...extra.values()].map(makeEntry).sort((a, b) => compareBytes(a.path, b.path));
  for (const e of extras) {
    if (!e.path.startsWith('/')) throw invalid(e.path, 'is not an absolute path');
    if (e.sha256 !== undefined && e.error !== undefined) throw invalid(e.path, 'has both a hash and an error');
    if (e.error === '') throw invalid(e.path, 'has an empty error');
  }

  /** The host's entry at golden path i, as makeEntry writes it (built only where one is needed). */
  const hostEntry = (i: number): ManifestEntry => {
    const type = TYPES[seen[i]! - 1]!;
    const e: ManifestEntry = {
      path: g.manifest.entries[i]!.path,
      type,
      mode: perm[i]!.toString(8).padStart(4, '0'),
      uid: uid[i]!,
      gid: gid[i]!,
      size: size[i]!,
    };
    if (sha[i] !== undefined) e.sha256 = sha[i];
    if (type === 'symlink') e.target = target[i] ?? '';
    if (err[i] !== undefined) e.error = err[i];
    return e;
  };
  const sameAsGolden = (i: number): boolean =>
    seen[i] === g.type[i]! + 1 &&
    perm[i] === g.mode[i] &&
    uid[i] === g.uid[i] &&
    gid[i] === g.gid[i] &&
    size[i] === g.bytes[i] &&
    sha[i] === g.sha256[i] &&
    target[i] === g.target[i] &&
    err[i] === g.error[i];

  // What either side could not read, and the directories either could not list (compareManifests' rules).
  const goldenErrors: number[] = [];
  const hostErrors: number[] = [];
  for (let i = 0; i < n; i++) {
    if (g.error[i] !== undefined) goldenErrors.push(i);
    if (seen[i] && err[i] !== undefined) hostErrors.push(i);
  }
  const hostErrorPaths = [
    ...hostErrors.map((i) => ({ path: g.manifest.entries[i]!.path, error: err[i]! })),
    ...extras.filter((e) => e.error !== undefined).map((e) => ({ path: e.path, error: e.error! })),
  ].sort((a, b) => compareBytes(a.path, b.path));
  const errE = new Map(goldenErrors.map((i) => [g.manifest.entries[i]!.path, g.error[i]!]));
  const errA = new Map(hostErrorPaths.map((x) => [x.path, x.error]));
  const couldNotRead: ManifestComparison['couldNotRead'] = [];
  for (const p of new Set([...errE.keys(), ...errA.keys()]))
    couldNotRead.push({ path: p, side: errE.has(p) && errA.has(p) ? 'both' : errE.has(p) ? 'expected' : 'actual', error: (errA.get(p) ?? errE.get(p))! });
  couldNotRead.sort((a, b) => a.path.localeCompare(b.path));
  const unlistableOf = (errors: Map<string, string>) => [...errors].filter(([, e]) => e === ENTRY_ERRORS.unlistable).map(([p]) => p);
  const unlistable = [...unlistableOf(errE), ...unlistableOf(errA)];
  const hidden = (p: string) => unlistable.length > 0 && unlistable.some((d) => p !== d && under(p, d));
  const asEntries = (paths: string[]) => paths.map((path) => ({ path, error: ENTRY_ERRORS.unlistable }) as ManifestEntry);
  const unlisted = unlistedDirs({ ...g.manifest, entries: asEntries(unlistableOf(errE)) }, { ...g.manifest, entries: asEntries(unlistableOf(errA)) });

  // One walk in golden order, the host's extra entries merged in where they sort.
  const at = extras.map((e) => lowerBound(g, e.path));
  const digest = new Digest(g, g.hostShell);
  const keptExpected = new Digest(g, g.goldenShell);
  const keptActual = new Digest(g, g.hostShell);
  const added: string[] = [];
  const removed: string[] = [];
  const changed: ManifestComparison['changed'] = [];
  let x = 0;
  const extrasBefore = (limit: number) => {
    for (; x < extras.length && at[x]! <= limit; x++) {
      const e = extras[x]!;
      digest.json(canonicalJson(e));
      if (hidden(e.path)) continue;
      keptActual.json(canonicalJson(errE.has(e.path) || errA.has(e.path) ? stripped(e) : e));
      added.push(e.path);
    }
  };
  for (let i = 0; i < n; i++) {
    extrasBefore(i);
    const path = g.manifest.entries[i]!.path;
    const same = seen[i] !== 0 && sameAsGolden(i);
    if (seen[i]) {
      if (same) digest.golden(i);
      else digest.json(canonicalJson(hostEntry(i)));
    }
    if (hidden(path)) continue;
    const strip = errE.has(path) || errA.has(path);
    const goldenEntry = g.manifest.entries[i]!;
    const exp = strip ? stripped(goldenEntry) : goldenEntry;
    if (strip) keptExpected.json(canonicalJson(exp));
    else keptExpected.golden(i);
    if (!seen[i]) {
      removed.push(path);
      continue;
    }
    if (same && !strip) {
      keptActual.golden(i);
      continue;
    }
    const act = strip ? stripped(hostEntry(i)) : hostEntry(i);
    const fields = COMPARED.filter((f) => exp[f] !== act[f]);
    if (fields.length === 0 && !strip) keptActual.golden(i);
    else keptActual.json(canonicalJson(act));
    if (fields.length) changed.push({ path, fields: [...fields], expected: slim(exp), actual: slim(act) });
  }
  extrasBefore(n);

  let actualEntries = extras.length;
  for (let i = 0; i < n; i++) if (seen[i]) actualEntries++;
  return {
    comparison: {
      added,
      removed,
      changed,
      driftCount: added.length + removed.length + changed.length,
      couldNotRead,
      unlisted,
      comparedExpectedDigest: keptExpected.digest(),
      comparedActualDigest: keptActual.digest(),
    },
    actualDigest: digest.digest(),
    actualEntries,
  };
}

/** How many golden paths sort before `p` (byte order). */
function lowerBound(g: GoldenManifest, p: string): number {
  let lo = 0;
  let hi = g.size;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(g.manifest.entries[mid]!.path, p) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
