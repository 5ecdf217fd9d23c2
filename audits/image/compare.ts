/**
 * Pure comparisons of the image audit: the engine's diff classified against what may change,
 * and a host's manifest against the golden one (what could not be read set aside, never hidden).
 */
import { createTwoFilesPatch } from 'diff';
import { diffManifests, ENTRY_ERRORS, type Manifest, manifestDigest, type ManifestEntry } from '../../probes/manifest.ts';
import { type Side, unlistedDirs } from './unlisted.ts';

/**
 * A container whose current run began more than this long after it was created was started again
 * later (every start moves State.StartedAt): restarted in place. Used when the engine's event
 * history no longer reaches back to the container's creation.
 */
export const START_GRACE_MS = 30_000;

/** Paths the container runtime itself places in a container's filesystem (never drift). */
export const RUNTIME_PATHS = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/mtab', '/.dockerenv'] as const;

export type DiffKind = 'changed' | 'added' | 'deleted';
const DIFF_KINDS: Record<number, DiffKind> = { 0: 'changed', 1: 'added', 2: 'deleted' };

export const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * The engine's diff (`docker diff`) classified: a changed directory that only contains other
 * reported entries is implied by them (the engine marks every parent of a change); mount
 * points, runtime files and allowed writable paths are not drift. Everything else is.
 */
export function classifyChanges(
  changes: Array<{ Path: string; Kind: number }>,
  opts: { writablePaths: readonly string[]; mounts: readonly string[] },
): { drift: Array<{ path: string; kind: DiffKind }>; ignored: Array<{ path: string; kind: DiffKind; why: string }> } {
  const drift: Array<{ path: string; kind: DiffKind }> = [];
  const ignored: Array<{ path: string; kind: DiffKind; why: string }> = [];
  const paths = changes.map((c) => c.Path);
  for (const c of changes) {
    const kind = DIFF_KINDS[c.Kind] ?? 'changed';
    const w = opts.writablePaths.find((d) => d.startsWith('/') && under(c.Path, d));
    const m = opts.mounts.find((d) => under(c.Path, d));
    if (w) ignored.push({ path: c.Path, kind, why: `allowed writable path ${w}` });
    else if (m) ignored.push({ path: c.Path, kind, why: `mount point ${m}` });
    else if ((RUNTIME_PATHS as readonly string[]).includes(c.Path)) ignored.push({ path: c.Path, kind, why: 'placed by the container runtime' });
    else if (kind === 'changed' && paths.some((p) => p !== c.Path && under(p, c.Path))) ignored.push({ path: c.Path, kind, why: 'parent of a reported entry' });
    else drift.push({ path: c.Path, kind });
  }
  return { drift, ignored };
}

export interface ManifestComparison {
  added: string[];
  removed: string[];
  changed: Array<{ path: string; fields: string[]; expected: Partial<ManifestEntry>; actual: Partial<ManifestEntry> }>;
  driftCount: number;
  /** Entries one side could not read: compared on metadata only (their contents were not). */
  couldNotRead: Array<{ path: string; side: Side; error: string }>;
  /** Directories one side could not list: nothing under them was compared (see unlisted.ts). */
  unlisted: Array<{ path: string; side: Side }>;
  /** Digests over the entries both sides could read (what the comparison used). */
  comparedExpectedDigest: string;
  comparedActualDigest: string;
}

function slim(e: ManifestEntry): Partial<ManifestEntry> {
  const { path: _p, ...rest } = e;
  return rest;
}

/** Entries either side could not read (and everything under a directory one side could not list) are set aside. */
export function compareManifests(expected: Manifest, actual: Manifest): ManifestComparison {
  const errE = new Map(expected.entries.filter((e) => e.error).map((e) => [e.path, e.error!]));
  const errA = new Map(actual.entries.filter((e) => e.error).map((e) => [e.path, e.error!]));
  const unlistable = [...expected.entries, ...actual.entries].filter((e) => e.error === ENTRY_ERRORS.unlistable).map((e) => e.path);
  const couldNotRead: ManifestComparison['couldNotRead'] = [];
  for (const p of new Set([...errE.keys(), ...errA.keys()])) {
    couldNotRead.push({ path: p, side: errE.has(p) && errA.has(p) ? 'both' : errE.has(p) ? 'expected' : 'actual', error: (errA.get(p) ?? errE.get(p))! });
  }
  couldNotRead.sort((a, b) => a.path.localeCompare(b.path));
  // An entry one side could not read is still compared on what both could see (type, mode,
  // owner, size): only its content hash is left out. What lies under an unlistable directory is left out.
  const underUnlistable = (p: string) => unlistable.some((d) => p !== d && under(p, d));
  const keep = (m: Manifest): Manifest => ({
    ...m,
    entries: m.entries
      .filter((e) => !underUnlistable(e.path))
      .map((e) => {
        if (!errE.has(e.path) && !errA.has(e.path)) return e;
        const { sha256: _s, error: _e, ...rest } = e;
        return rest;
      }),
  });
  const e = keep(expected);
  const a = keep(actual);
  const d = diffManifests(e, a);
  return {
    added: d.added.map((x) => x.path),
    removed: d.removed.map((x) => x.path),
    changed: d.changed.map((c) => ({ path: c.path, fields: c.fields, expected: slim(c.expected), actual: slim(c.actual) })),
    driftCount: d.added.length + d.removed.length + d.changed.length,
    couldNotRead,
    unlisted: unlistedDirs(expected, actual),
    comparedExpectedDigest: manifestDigest(e),
    comparedActualDigest: manifestDigest(a),
  };
}

/** Unified diffs are attached for at most this many changed files, each at most this big. */
export const TEXT_DIFFS = { files: 5, maxBytes: 64 * 1024 } as const;

const isText = (b: Buffer | string) => !(typeof b === 'string' ? b.includes('\0') : b.includes(0));

/** The changed regular files small enough for a unified diff (the first TEXT_DIFFS.files). */
export function smallChangedFiles(changed: ManifestComparison['changed']): ManifestComparison['changed'] {
  return changed
    .filter((c) => c.fields.includes('sha256') && c.expected.type === 'file' && c.actual.type === 'file')
    .filter((c) => (c.expected.size ?? Infinity) <= TEXT_DIFFS.maxBytes && (c.actual.size ?? Infinity) <= TEXT_DIFFS.maxBytes)
    .slice(0, TEXT_DIFFS.files);
}

/** A unified diff (image vs host) of one text file; undefined when either side is binary or they are equal. */
export function unifiedDiff(file: string, hostName: string, want: Buffer, got: string): string | undefined {
  if (!isText(want) || !isText(got)) return undefined;
  const before = want.toString('utf8');
  if (before === got) return undefined;
  return createTwoFilesPatch(`image${file}`, `${hostName}${file}`, before, got, undefined, undefined, { context: 3 }).replace(/^=+\n/, '').slice(0, 16_000);
}
