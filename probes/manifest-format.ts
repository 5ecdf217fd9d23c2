/**
 * The golden file manifest: what every file under a host's immutable paths must look like.
 *
 * One format, two producers that must agree byte for byte:
 *  - `remoteManifestCommand`: a POSIX sh script that runs ON the target (over SSH, or `docker exec
 *    sh -c`) and streams every entry in one command, hashing on the target. Parsed by
 *    `parseManifestStream`.
 *  - `manifestOfDirectory` (manifest.ts): the same walk in Node over a local rootfs directory.
 * Both turn raw observations into entries with `makeEntry`, the single place that decides how a
 * type, a mode or a size is written.
 *
 * Wire format of the remote stream: NUL-separated fields, because NUL is the only byte a path
 * cannot contain (tabs, newlines, spaces and backslashes in names all survive unescaped):
 *
 *   driftless-manifest-v1 \0
 *   H1 \0                                              one pass (coreutils with `sha256sum --zero`):
 *   M \0 %y \0 %m \0 %U \0 %G \0 %s \0 %p \0 %l \0      one per entry (find -printf)
 *   E \0 %p \0 <message> \0                            after an entry it could not fully read
 *   <hex>  <path> \0                                   a file's hash (`find -exec sha256sum --zero
 *                                                      {} +`), after that file's M record, names
 *                                                      unescaped; M, E and hash records interleave
 *   END \0                                             the stream is complete
 *
 * or, two passes (older coreutils; the parser also reads H0, the former form with --zero):
 *
 *   driftless-manifest-v1 \0
 *   M ... \0 and E ... \0 records                      as above, for every entry
 *   HL \0 then plain `sha256sum` lines                 "<hex>  <path>\n", names with \ or newline
 *                                                      escaped by sha256sum and the line prefixed
 *                                                      with a backslash
 *   | H0 \0 then `sha256sum --zero` records            "<hex>  <path>\0"
 *   END \0                                             the stream is complete
 *
 * A hash record is told from the M and E tags by its form (64 lowercase hex digits, two spaces);
 * record boundaries are NULs, so a path that starts with one ("<hex>  x") cannot pass for one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020Module, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { ManifestStreamError, UsageError } from '../core/errors.ts';
import { REPO_ROOT, schemaFile } from '../core/paths.ts';
import { HARNESS_AJV_OPTIONS } from '../core/schema-check.ts';

const Ajv2020 = Ajv2020Module.default;

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface ManifestEntry {
  path: string;
  type: EntryType;
  /** Permission bits incl. setuid/setgid/sticky, octal, at least 4 digits: "0755", "4755". */
  mode: string;
  uid: number;
  gid: number;
  /** Bytes for files, target length for symlinks, 0 for directories. */
  size: number;
  sha256?: string;
  target?: string;
  error?: string;
}

export interface Manifest {
  version: 1;
  root: string;
  paths: string[];
  excludes: string[];
  entries: ManifestEntry[];
}

export interface ManifestMeta {
  root: string;
  paths: readonly string[];
  excludes: readonly string[];
}

export interface ChangedEntry {
  path: string;
  fields: string[];
  expected: ManifestEntry;
  actual: ManifestEntry;
}

export interface ManifestDiff {
  added: ManifestEntry[];
  removed: ManifestEntry[];
  changed: ChangedEntry[];
}

/**
 * What a host may never change (`paths`). Nothing is excluded by default: no file under them is
 * rewritten at run time on every kind of host (on a VM or an EC2 instance /etc/hosts and
 * /etc/resolv.conf are files anyone with root may edit, a classic redirect). What a deployment
 * places there itself, such as the lab's bind-mounted SSH keys, belongs in its own config
 * (policy.manifest.excludes) or `driftless manifest --excludes`. Allowed writable paths (/run,
 * /tmp, /var/tmp, /var/log, /home, /root) are not under any scanned path, so they never show up
 * as drift.
 */
export const MANIFEST_DEFAULTS: { readonly paths: readonly string[]; readonly excludes: readonly string[] } = {
  paths: ['/etc', '/usr/bin', '/usr/sbin', '/usr/lib', '/opt/app', '/var/lib/dpkg', '/bin', '/sbin', '/lib'],
  excludes: [],
};

/**
 * What every container runtime writes into every container, whatever the image: Docker's init
 * layer and bind mounts give each its own /etc/hostname, an /etc/hosts with its own name and
 * address, the engine's /etc/resolv.conf, and /etc/mtab as a link to /proc/mounts (containerd
 * and Podman do the same). They are never the image's and differ from container to container,
 * so a scan of an image (made in a container) or of a container always leaves them out. A rootfs
 * directory or an SSH host keeps them: there they are ordinary files.
 */
export const CONTAINER_RUNTIME_FILES: readonly string[] = ['/etc/hostname', '/etc/hosts', '/etc/mtab', '/etc/resolv.conf'];

// probes never import fixtures: the schema is found relative to this file.
export const MANIFEST_SCHEMA_FILE = schemaFile('manifest');

export const ENTRY_ERRORS = {
  unlistable: 'directory not listable by the scanning user; its contents are missing',
  unreadable: 'file not readable by the scanning user; not hashed',
  notHashed: 'file could not be hashed (it vanished or failed to read during the scan)',
} as const;

export { ManifestStreamError };

// ---------------------------------------------------------------------------------------------
// Paths

/** Absolute, normalized, no trailing slash; refuses relative paths and "..". */
export function normalizeAbsPath(p: string, what = 'path'): string {
  if (typeof p !== 'string' || !p.startsWith('/')) throw new UsageError(`${what} "${p}" must be an absolute path (start with /)`);
  if (p.includes('\0')) throw new UsageError(`${what} "${p}" contains a NUL byte`);
  if (p.split('/').includes('..')) throw new UsageError(`${what} "${p}" must not contain ".."`);
  const n = path.posix.normalize(p).replace(/\/+$/, '');
  if (n === '') throw new UsageError(`${what} "/" is not allowed: name the immutable directories (e.g. /etc,/usr/bin)`);
  return n;
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir + '/');

/** Sorted, de-duplicated; a path under another listed path is dropped (it is scanned anyway). */
export function normalizeScope(paths: readonly string[], excludes: readonly string[]): { paths: string[]; excludes: string[] } {
  if (paths.length === 0) throw new UsageError('no paths to scan: name at least one immutable directory (e.g. /etc)');
  const ps = [...new Set(paths.map((p) => normalizeAbsPath(p, 'scan path')))].sort(compareBytes);
  const kept = ps.filter((p) => !ps.some((q) => q !== p && under(p, q)));
  const ex = [...new Set(excludes.map((p) => normalizeAbsPath(p, 'exclude')))].sort(compareBytes);
  return { paths: kept, excludes: ex };
}

// ---------------------------------------------------------------------------------------------
// Entries

/** Byte order of the UTF-8 encodings (what `LC_ALL=C sort` does), not UTF-16 code unit order. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface RawEntry {
  path: string;
  /** find's %y letter: f d l, or b c p s D for everything else. */
  kind: string;
  /** Permission bits as a number (st_mode & 07777). */
  perm: number;
  uid: number;
  gid: number;
  size: number;
  target?: string;
  sha256?: string;
  error?: string;
}

const KINDS: Record<string, EntryType> = { f: 'file', d: 'dir', l: 'symlink' };

/** The one place that decides how an observation is written down. */
export function makeEntry(r: RawEntry): ManifestEntry {
  const type = KINDS[r.kind] ?? 'other';
  const e: ManifestEntry = {
    path: r.path,
    type,
    mode: (r.perm & 0o7777).toString(8).padStart(4, '0'),
    uid: r.uid,
    gid: r.gid,
    size: type === 'dir' ? 0 : r.size,
  };
  if (type === 'file' && r.sha256 !== undefined) e.sha256 = r.sha256;
  if (type === 'symlink') e.target = r.target ?? '';
  if (type === 'file' && r.sha256 === undefined && r.error === undefined) e.error = ENTRY_ERRORS.notHashed;
  else if (r.error !== undefined) e.error = r.error;
  return e;
}

export function sortEntries(entries: ManifestEntry[]): ManifestEntry[] {
  const keyed = entries.map((e) => ({ k: Buffer.from(e.path, 'utf8'), e }));
  keyed.sort((a, b) => Buffer.compare(a.k, b.k));
  return keyed.map((x) => x.e);
}

// ---------------------------------------------------------------------------------------------
// Schema, build, digest, diff

let validator: ValidateFunction | undefined;

function compiled(): ValidateFunction {
  if (validator) return validator;
  const ajv = new Ajv2020({ allErrors: true, ...HARNESS_AJV_OPTIONS, strictRequired: false });
  validator = ajv.compile(JSON.parse(fs.readFileSync(MANIFEST_SCHEMA_FILE, 'utf8')) as object);
  return validator;
}

/** Schema validation plus what a schema cannot say: entries unique and sorted by path in byte order. */
export function validateManifest(m: unknown): { ok: boolean; errors: string[] } {
  const v = compiled();
  if (!v(m)) {
    const errors = (v.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    return { ok: false, errors };
  }
  const entries = (m as Manifest).entries;
  const errors: string[] = [];
  for (let i = 1; i < entries.length; i++) {
    const c = compareBytes(entries[i - 1]!.path, entries[i]!.path);
    if (c === 0) errors.push(`/entries/${i} duplicates the path ${entries[i]!.path}`);
    else if (c > 0) errors.push(`/entries/${i} (${entries[i]!.path}) is out of order: entries must be sorted by path in byte order`);
  }
  return { ok: errors.length === 0, errors };
}

/** Sorts, validates against schemas/manifest.schema.json and returns the manifest. */
export function buildManifest(entries: ManifestEntry[], meta: ManifestMeta): Manifest {
  const scope = normalizeScope(meta.paths, meta.excludes);
  const m: Manifest = { version: 1, root: meta.root, paths: scope.paths, excludes: scope.excludes, entries: sortEntries(entries) };
  const r = validateManifest(m);
  if (!r.ok)
    throw new ManifestStreamError(
      `the manifest of ${meta.root} does not validate against ${path.relative(REPO_ROOT, MANIFEST_SCHEMA_FILE)}: ${r.errors.slice(0, 5).join('; ')}`,
    );
  return m;
}

/** JSON with object keys sorted (code point order) and no whitespace. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The filesystem digest: sha256 of the canonical JSON of the manifest WITHOUT `root`, so an image
 * and a host that runs it unmodified have the same digest (the scope, paths and excludes, is in it:
 * two digests over different scopes never match by accident).
 */
export function manifestDigest(m: Manifest): string {
  const { root: _root, entries, ...rest } = m;
  // Byte for byte canonicalJson(rest with entries), built from per-entry strings that are cached:
  // a fleet audit digests the same golden entries once per host, and each host's entries twice.
  const shell = canonicalJson({ ...rest, entries: [] });
  const at = shell.indexOf(EMPTY_ENTRIES);
  const hash = crypto.createHash('sha256').update(shell.slice(0, at)).update('"entries":[');
  entries.forEach((e, i) => hash.update(i === 0 ? canonicalEntry(e) : `,${canonicalEntry(e)}`));
  return `sha256:${hash.update(shell.slice(at + EMPTY_ENTRIES.length - 1)).digest('hex')}`;
}

const EMPTY_ENTRIES = '"entries":[]';
const entryJson = new WeakMap<ManifestEntry, string>();

/** Entries are never mutated once built, so their canonical form is computed once. */
function canonicalEntry(e: ManifestEntry): string {
  let s = entryJson.get(e);
  if (s === undefined) {
    s = canonicalJson(e);
    entryJson.set(e, s);
  }
  return s;
}

const COMPARED = ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'target', 'error'] as const;

/** What differs between a golden manifest and what a host actually has. */
export function diffManifests(expected: Manifest, actual: Manifest): ManifestDiff {
  const exp = new Map(expected.entries.map((e) => [e.path, e]));
  const act = new Map(actual.entries.map((e) => [e.path, e]));
  const diff: ManifestDiff = { added: [], removed: [], changed: [] };
  for (const [p, e] of exp) if (!act.has(p)) diff.removed.push(e);
  for (const [p, a] of act) {
    const e = exp.get(p);
    if (!e) {
      diff.added.push(a);
      continue;
    }
    const fields = COMPARED.filter((f) => e[f] !== a[f]);
    if (fields.length) diff.changed.push({ path: p, fields: [...fields], expected: e, actual: a });
  }
  diff.added = sortEntries(diff.added);
  diff.removed = sortEntries(diff.removed);
  diff.changed.sort((x, y) => compareBytes(x.path, y.path));
  return diff;
}

export function isEmptyDiff(d: ManifestDiff): boolean {
  return d.added.length === 0 && d.removed.length === 0 && d.changed.length === 0;
}
