/**
 * The manifest stream: the POSIX sh script that lists and hashes a scope on the host it runs on
 * (no per-file round trips, nothing written), and the parser of what it prints.
 */
import path from 'node:path';
import { ManifestStreamError, UsageError } from '../core/errors.ts';
import { ENTRY_ERRORS, makeEntry, type ManifestEntry, normalizeScope, type RawEntry } from './manifest-format.ts';
import { shQuote } from './shell.ts';

export { shQuote };

/** Escapes glob metacharacters so find's -path matches the exact path. */
function globEscape(s: string): string {
  return s.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/**
 * A POSIX sh script that streams the manifest of `paths` (minus `excludes`) on the machine it
 * runs on, hashing on the target, no per-file round trips. With `sha256sum --zero` (coreutils
 * >= 9) it is ONE `find` pass: each entry's metadata record, and `-exec sha256sum --zero {} +`
 * for the readable regular files, whose `<hex>  <path>\0` records come interleaved (GNU find
 * flushes its output before it runs a batch and waits for it, so records never mix). Without
 * `--zero` it falls back to two passes: the metadata, then `find -print0 | xargs -0 sha256sum`.
 * It writes nothing anywhere (no temp files) and exits 0 even when some files cannot be read:
 * those come back as entries with an `error`. Needs GNU find (-printf, -readable) and sha256sum
 * (coreutils); run it with `sh -c`.
 *
 * `root` scans a tree mounted somewhere else (`<root>/etc`, ...) and is stripped again by
 * `parseManifestStream(text, { root })`: that is how the tests run this exact script locally.
 */
export function remoteManifestCommand(paths: readonly string[], excludes: readonly string[], opts: { root?: string } = {}): string {
  const scope = normalizeScope(paths, excludes);
  const root = opts.root ? normalizeRoot(opts.root) : '';
  const starts = scope.paths.map((p) => shQuote(root + p)).join(' ');
  const prune = scope.excludes.length ? `\\( ${scope.excludes.map((e) => `-path ${shQuote(globEscape(root + e))}`).join(' -o ')} \\) -prune -o ` : '';
  const find = `find "$@" -xdev ${prune}`;
  // Metadata of every entry, then an E record for what cannot be read, else `last` (a file's hash).
  const meta = (last: string) =>
    `-printf 'M\\0%y\\0%m\\0%U\\0%G\\0%s\\0%p\\0%l\\0' ` +
    `\\( -type d \\( ! -readable -o ! -executable \\) -printf 'E\\0%p\\0${ENTRY_ERRORS.unlistable}\\0' ` +
    `-o -type f ! -readable -printf 'E\\0%p\\0${ENTRY_ERRORS.unreadable}\\0' -o ${last} \\)`;
  return [
    'LC_ALL=C; export LC_ALL',
    'set --',
    `for p in ${starts}; do if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; fi; done`,
    `printf 'driftless-manifest-v1\\0'`,
    'if sha256sum --zero </dev/null >/dev/null 2>&1; then',
    `  printf 'H1\\0'`,
    `  if [ $# -gt 0 ]; then ${find}${meta('-type f -exec sha256sum --zero {} +')}; fi`,
    'else',
    `  if [ $# -gt 0 ]; then ${find}${meta('-true')}; fi`,
    `  printf 'HL\\0'`,
    `  if [ $# -gt 0 ]; then ${find}-type f -readable -print0 | xargs -0 -r sha256sum; fi`,
    'fi',
    `printf 'END\\0'`,
  ].join('\n');
}

/**
 * The remote command as one line for an SSH exec request, which the login shell interprets
 * (bash, zsh, ...): the script is handed to `sh -c` so it always runs under a POSIX shell.
 */
export function remoteManifestShellLine(paths: readonly string[], excludes: readonly string[], opts: { root?: string } = {}): string {
  return `sh -c ${shQuote(remoteManifestCommand(paths, excludes, opts))}`;
}

function normalizeRoot(root: string): string {
  if (!root.startsWith('/')) throw new UsageError(`scan root "${root}" must be an absolute directory`);
  const r = path.posix.normalize(root).replace(/\/+$/, '');
  return r === '/' ? '' : r;
}

const HEADER = 'driftless-manifest-v1\0';
const TRAILER = 'END\0';

function unescapeSumName(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/** A sha256sum record without its terminator, "<64 hex>  <path>" (or " *" in binary mode), split. */
function sumRecord(rec: string): { hex: string; name: string } | undefined {
  const hex = rec.slice(0, 64);
  if (rec.length <= 66 || !/^[0-9a-f]{64}$/.test(hex) || rec[64] !== ' ' || (rec[65] !== ' ' && rec[65] !== '*')) return undefined;
  return { hex, name: rec.slice(66) };
}

/**
 * Parses what `remoteManifestCommand` printed into entries (unsorted). Both forms: one pass
 * (`H1` right after the header, hash records interleaved with the metadata records, each after
 * its file's `M` record) and two passes (`M`/`E` records, then an `H0` or `HL` hash section).
 * Fails closed: no header, no `END` where a record would start, a record it does not know, a hash
 * of a path outside the root or (one pass) of no file listed before it are errors; a listed file
 * without a hash becomes an entry with an `error`.
 */
export function parseManifestStream(input: string | Buffer, opts: { root?: string } = {}): ManifestEntry[] {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const root = opts.root ? normalizeRoot(opts.root) : '';
  const preview = JSON.stringify(text.slice(0, 120));
  if (!text.startsWith(HEADER))
    throw new ManifestStreamError(`not a driftless manifest stream (no header; it starts with ${preview}): does the target have sh, GNU find and sha256sum?`);
  const incomplete = 'the manifest stream is incomplete (no END marker): the scan was cut off or failed on the target';
  if (!text.endsWith(TRAILER)) throw new ManifestStreamError(incomplete);
  const strip = (p: string): string => {
    if (root && !p.startsWith(root + '/')) throw new ManifestStreamError(`manifest stream names "${p}", which is outside the scan root ${root}`);
    return p.slice(root.length);
  };
  const raws = new Map<string, RawEntry>();
  let pos = HEADER.length;
  const field = (): string => {
    const end = text.indexOf('\0', pos);
    if (end < 0) throw new ManifestStreamError(`manifest stream truncated inside a record at byte ${pos}`);
    const f = text.slice(pos, end);
    pos = end + 1;
    return f;
  };
  const int = (s: string, what: string, base = 10): number => {
    const n = parseInt(s, base);
    if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(n)) throw new ManifestStreamError(`manifest stream has a bad ${what} "${s}"`);
    return n;
  };
  let mode: 'H0' | 'HL' | 'H1' | undefined;
  let ended = false;
  while (pos < text.length) {
    const at = pos;
    const tag = field();
    const sum = mode === 'H1' ? sumRecord(tag) : undefined;
    if (tag === 'M') {
      const [kind, perm, uid, gid, size, p, target] = [field(), field(), field(), field(), field(), field(), field()];
      const r: RawEntry = { path: strip(p), kind, perm: int(perm, 'mode', 8), uid: int(uid, 'uid'), gid: int(gid, 'gid'), size: int(size, 'size') };
      if (kind === 'l') r.target = target;
      raws.set(r.path, r);
    } else if (tag === 'E') {
      const p = strip(field());
      const msg = field();
      const r = raws.get(p);
      if (r) r.error = msg;
    } else if (sum) {
      // One pass: find printed the file's M record before it handed the file to sha256sum.
      const r = raws.get(strip(sum.name));
      if (r?.kind !== 'f') throw new ManifestStreamError(`manifest stream has a hash of "${sum.name}" but no file record before it`);
      r.sha256 = sum.hex;
    } else if (tag === 'H1' && at === HEADER.length) {
      mode = tag;
    } else if ((tag === 'H0' || tag === 'HL') && mode === undefined) {
      mode = tag;
      break;
    } else if (tag === 'END') {
      ended = true;
      break;
    } else {
      throw new ManifestStreamError(`manifest stream has an unknown record "${tag.slice(0, 40)}" at byte ${at}`);
    }
  }
  if (mode === 'H1') {
    if (!ended || pos !== text.length) throw new ManifestStreamError(incomplete);
    return [...raws.values()].map(makeEntry);
  }
  if (!mode) throw new ManifestStreamError('manifest stream has no hash section');
  const body = text.slice(pos, text.length - TRAILER.length);
  const records = body.split(mode === 'H0' ? '\0' : '\n');
  if (records[records.length - 1] === '') records.pop();
  for (let rec of records) {
    let escaped = false;
    if (mode === 'HL' && rec.startsWith('\\')) {
      escaped = true;
      rec = rec.slice(1);
    }
    const sum = sumRecord(rec);
    if (!sum) throw new ManifestStreamError(`manifest stream has a bad hash record ${JSON.stringify(rec.slice(0, 120))}`);
    const name = escaped ? unescapeSumName(sum.name) : sum.name;
    const r = raws.get(strip(name));
    if (r && r.kind === 'f') r.sha256 = sum.hex; // a file created between the two passes has no M record: ignored
  }
  return [...raws.values()].map(makeEntry);
}
