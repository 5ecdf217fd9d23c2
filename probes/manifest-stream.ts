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
  // Over SSH every chunk the script writes (find and sha256sum write a few KiB at a time) becomes
  // a packet the harness decrypts and handles: reblocked into 64 KiB by dd (coreutils, as
  // sha256sum is), a host's stream costs the harness about a quarter less CPU. A dd that does not
  // know these operands (busybox) fails before reading anything, and cat passes the stream on.
  return `sh -c ${shQuote(`{\n${remoteManifestCommand(paths, excludes, opts)}\n} | { dd ibs=16384 obs=65536 status=none 2>/dev/null || cat; }`)}`;
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
 * What the walk of a stream reports, record by record, so a caller keeps only what it needs
 * (parseManifestStream: entries; a golden comparison: flat fields per golden path).
 */
export interface ManifestStreamSink {
  /** An M record (path already stripped of the root); `target` is find's %l, empty but for symlinks. */
  entry(path: string, kind: string, perm: number, uid: number, gid: number, size: number, target: string): void;
  /** An E record: what could not be read of an entry listed before it (an unknown path is ignored). */
  error(path: string, message: string): void;
  /** A hash record; returns false when no file of that path was listed (fatal in one pass, ignored in two). */
  hash(path: string, hex: string): boolean;
}

const HEX_DIGIT = new Uint8Array(128);
for (const c of '0123456789abcdef') HEX_DIGIT[c.charCodeAt(0)] = 1;

/** 64 lowercase hex digits, without a regular expression or a slice (this runs once per file). */
function isHex64(s: string, from: number): boolean {
  for (let i = from; i < from + 64; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || !HEX_DIGIT[c]) return false;
  }
  return true;
}

/**
 * Walks what `remoteManifestCommand` printed, record by record, into `sink`. Both forms: one pass
 * (`H1` right after the header, hash records interleaved with the metadata records, each after
 * its file's `M` record) and two passes (`M`/`E` records, then an `H0` or `HL` hash section).
 * Fails closed: no header, no `END` where a record would start, a record it does not know, a hash
 * of a path outside the root or (one pass) of no file listed before it are errors.
 */
export function walkManifestStream(input: string | Buffer, sink: ManifestStreamSink, opts: { root?: string } = {}): void {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const root = opts.root ? normalizeRoot(opts.root) : '';
  const preview = JSON.stringify(text.slice(0, 120));
  if (!text.startsWith(HEADER))
    throw new ManifestStreamError(`not a driftless manifest stream (no header; it starts with ${preview}): does the target have sh, GNU find and sha256sum?`);
  const incomplete = 'the manifest stream is incomplete (no END marker): the scan was cut off or failed on the target';
  if (!text.endsWith(TRAILER)) throw new ManifestStreamError(incomplete);
  const strip = (p: string): string => {
    if (root && !p.startsWith(root + '/')) throw new ManifestStreamError(`manifest stream names "${p}", which is outside the scan root ${root}`);
    return root ? p.slice(root.length) : p;
  };
  let pos = HEADER.length;
  const field = (): string => {
    const end = text.indexOf('\0', pos);
    if (end < 0) throw new ManifestStreamError(`manifest stream truncated inside a record at byte ${pos}`);
    const f = text.slice(pos, end);
    pos = end + 1;
    return f;
  };
  // A number field read in place (no string made for it): what parseInt(field, base) gives, for a
  // field of decimal digits only; anything else, or past 2^53, is refused.
  const int = (what: string, base = 10): number => {
    const end = text.indexOf('\0', pos);
    if (end < 0) throw new ManifestStreamError(`manifest stream truncated inside a record at byte ${pos}`);
    let n = 0;
    let valid = 0;
    let ok = end > pos;
    for (let i = pos; i < end; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) ok = false;
      else if (valid === i - pos && d < base) {
        n = n * base + d;
        valid++;
      }
    }
    if (!ok || valid === 0 || !Number.isSafeInteger(n)) throw new ManifestStreamError(`manifest stream has a bad ${what} "${text.slice(pos, end)}"`);
    pos = end + 1;
    return n;
  };
  let mode: 'H0' | 'HL' | 'H1' | undefined;
  let ended = false;
  while (pos < text.length) {
    const at = pos;
    const tag = field();
    if (tag === 'M') {
      const kind = field();
      const [perm, uid, gid, size] = [int('mode', 8), int('uid'), int('gid'), int('size')];
      const p = strip(field());
      sink.entry(p, kind, perm, uid, gid, size, field());
    } else if (tag === 'E') {
      const p = strip(field());
      sink.error(p, field());
    } else if (mode === 'H1' && tag.length > 66 && tag.charCodeAt(64) === 32 && (tag[65] === ' ' || tag[65] === '*') && isHex64(tag, 0)) {
      // One pass: find printed the file's M record before it handed the file to sha256sum.
      const name = tag.slice(66);
      if (!sink.hash(strip(name), tag.slice(0, 64))) throw new ManifestStreamError(`manifest stream has a hash of "${name}" but no file record before it`);
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
    return;
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
    sink.hash(strip(name), sum.hex); // a file created between the two passes has no M record: ignored
  }
}

/**
 * Parses what `remoteManifestCommand` printed into entries (unsorted); see walkManifestStream. A
 * listed file without a hash becomes an entry with an `error`.
 */
export function parseManifestStream(input: string | Buffer, opts: { root?: string } = {}): ManifestEntry[] {
  const raws = new Map<string, RawEntry>();
  walkManifestStream(
    input,
    {
      entry(path, kind, perm, uid, gid, size, target) {
        const r: RawEntry = { path, kind, perm, uid, gid, size };
        if (kind === 'l') r.target = target;
        raws.set(path, r);
      },
      error(path, message) {
        const r = raws.get(path);
        if (r) r.error = message;
      },
      hash(path, hex) {
        const r = raws.get(path);
        if (r?.kind !== 'f') return false;
        r.sha256 = hex;
        return true;
      },
    },
    opts,
  );
  return [...raws.values()].map(makeEntry);
}
