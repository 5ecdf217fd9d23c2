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
 * runs on: one `find` pass for the metadata, one `find | xargs sha256sum` pass for the hashes,
 * both on the target, no per-file round trips. It writes nothing anywhere (no temp files) and
 * exits 0 even when some files cannot be read: those come back as entries with an `error`.
 * Needs GNU find (-printf, -readable) and sha256sum (coreutils); run it with `sh -c`.
 *
 * `root` scans a tree mounted somewhere else (`<root>/etc`, ...) and is stripped again by
 * `parseManifestStream(text, { root })`: that is how the tests run this exact script locally.
 */
export function remoteManifestCommand(paths: readonly string[], excludes: readonly string[], opts: { root?: string } = {}): string {
  const scope = normalizeScope(paths, excludes);
  const root = opts.root ? normalizeRoot(opts.root) : '';
  const starts = scope.paths.map((p) => shQuote(root + p)).join(' ');
  const prune = scope.excludes.length ? `\\( ${scope.excludes.map((e) => `-path ${shQuote(globEscape(root + e))}`).join(' -o ')} \\) -prune -o ` : '';
  const meta =
    `-printf 'M\\0%y\\0%m\\0%U\\0%G\\0%s\\0%p\\0%l\\0' ` +
    `\\( -type d \\( ! -readable -o ! -executable \\) -printf 'E\\0%p\\0${ENTRY_ERRORS.unlistable}\\0' ` +
    `-o -type f ! -readable -printf 'E\\0%p\\0${ENTRY_ERRORS.unreadable}\\0' -o -true \\)`;
  return [
    'LC_ALL=C; export LC_ALL',
    'set --',
    `for p in ${starts}; do if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; fi; done`,
    `printf 'driftless-manifest-v1\\0'`,
    `if [ $# -gt 0 ]; then find "$@" -xdev ${prune}${meta}; fi`,
    `if sha256sum --zero </dev/null >/dev/null 2>&1; then z=--zero; printf 'H0\\0'; else z=; printf 'HL\\0'; fi`,
    `if [ $# -gt 0 ]; then find "$@" -xdev ${prune}-type f -readable -print0 | xargs -0 -r sha256sum $z; fi`,
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

/** Parses what `remoteManifestCommand` printed into entries (unsorted). */
export function parseManifestStream(input: string | Buffer, opts: { root?: string } = {}): ManifestEntry[] {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const root = opts.root ? normalizeRoot(opts.root) : '';
  const preview = JSON.stringify(text.slice(0, 120));
  if (!text.startsWith(HEADER))
    throw new ManifestStreamError(`not a driftless manifest stream (no header; it starts with ${preview}): does the target have sh, GNU find and sha256sum?`);
  if (!text.endsWith(TRAILER)) throw new ManifestStreamError('the manifest stream is incomplete (no END marker): the scan was cut off or failed on the target');
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
  let mode: 'H0' | 'HL' | undefined;
  while (pos < text.length - TRAILER.length) {
    const tag = field();
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
    } else if (tag === 'H0' || tag === 'HL') {
      mode = tag;
      break;
    } else {
      throw new ManifestStreamError(`manifest stream has an unknown record "${tag.slice(0, 40)}" at byte ${pos}`);
    }
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
    const hex = rec.slice(0, 64);
    if (!/^[0-9a-f]{64}$/.test(hex) || rec[64] !== ' ' || (rec[65] !== ' ' && rec[65] !== '*')) {
      throw new ManifestStreamError(`manifest stream has a bad hash record ${JSON.stringify(rec.slice(0, 120))}`);
    }
    const name = escaped ? unescapeSumName(rec.slice(66)) : rec.slice(66);
    const r = raws.get(strip(name));
    if (r && r.kind === 'f') r.sha256 = hex; // a file created between the two passes has no M record: ignored
  }
  return [...raws.values()].map(makeEntry);
}
