/**
 * The catalogue of forbidden edits, each non-destructive by construction: canary files named
 * with the run id (removed in the same command if they were created), opens for append that
 * write zero bytes, a mode change only on a canary (or to a file's own current mode), and
 * `sudo -n true`. Each edit is one shell command whose stdout carries DL: markers the
 * classifier (audits/ssh-edits/classify.ts) reads; stderr carries the kernel's reason (EROFS,
 * EACCES, EPERM).
 */
import type { ControlId } from '../core/controls.ts';
import { UsageError } from '../core/errors.ts';
import { shQuote } from './shell.ts';

export interface Edit {
  /** Stable id within a run, e.g. "canary:/etc". */
  id: string;
  /** Control id an auditor can cite across runs. */
  control: ControlId;
  /** What is attempted, in an auditor's words. */
  title: string;
  command: string;
  /** The file or directory the edit tries to change (its mount and ctime are evidence); absent for sudo. */
  path?: string;
}

/**
 * The ctime of `watch` before and after the attempt (ctime cannot be set from userspace): a
 * refusal that still moved it means something was written.
 */
const ctime = (watch: string, command: string) =>
  `ct() { stat -c %z -- "$1" 2>/dev/null; }; w=${shQuote(watch)}; c0=$(ct "$w"); ${command}; echo "DL:CTIME $c0|$(ct "$w")"`;

/** Prints the mode `/` is mounted with (ro, rw), from the kernel's mount table. */
const ROOT_MODE = `mode() { awk '$2 == "/" { m = $4 } END { split(m, o, ","); print o[1] }' /proc/mounts; }`;

/** Files whose append-open proves writability without changing a byte. */
export const CRITICAL_FILES = ['/etc/passwd', '/etc/shadow', '/etc/ssh/sshd_config', '/opt/app/entrypoint.sh'];

/** What --run-id allows: a canary name built from it cannot contain the separator below. */
const RUN_ID = /^[A-Za-z0-9._-]{1,100}$/;

export function canaryName(runId: string): string {
  if (!RUN_ID.test(runId)) throw new UsageError(`run id "${runId}": canary names need 1 to 100 letters, digits, '.', '_' or '-'`);
  return `.driftless-canary-${runId}`;
}

/**
 * The canary a mode change writes: "@" is not a run id character, so no other run's canary can
 * have this name (a "-mode" suffix would be run "<id>-mode"'s own canary).
 */
export function modeCanaryName(runId: string): string {
  return `${canaryName(runId)}@mode`;
}

/** Every name this run writes, and nothing else: the sweep matches these exactly. */
export function canaryNames(runId: string): string[] {
  return [canaryName(runId), modeCanaryName(runId)];
}

/** `~` and `~/x` in policy paths mean the login user's home. */
export function expandHome(p: string, home: string): string {
  return p === '~' ? home : p.startsWith('~/') ? `${home}/${p.slice(2)}` : p;
}

export function catalogue(opts: { runId: string; immutablePaths: string[]; home: string; aggressive: boolean; criticalFiles?: string[] }): Edit[] {
  const name = canaryName(opts.runId);
  const edits: Edit[] = [];
  for (const raw of opts.immutablePaths) {
    const dir = expandHome(raw, opts.home);
    const f = `${dir}/${name}`;
    edits.push({
      id: `canary:${raw}`,
      control: 'DL-SSH-010',
      title: `create a canary file in ${raw}`,
      path: dir,
      // Never write through something that is already there (a link, a FIFO, an earlier canary).
      command: ctime(
        dir,
        `f=${shQuote(f)}; if [ ! -d ${shQuote(dir)} ]; then echo DL:ABSENT; elif [ -e "$f" ] || [ -L "$f" ]; then echo DL:PREEXISTING; elif ( : > "$f" ); then echo DL:CREATED; rm -f -- "$f"; if [ -e "$f" ]; then echo DL:STILL_THERE; else echo DL:REMOVED; fi; else echo DL:REFUSED; fi`,
      ),
    });
  }
  for (const file of opts.criticalFiles ?? CRITICAL_FILES) {
    edits.push({
      id: `append:${file}`,
      control: 'DL-SSH-020',
      title: `open ${file} for append (writing zero bytes)`,
      path: file,
      command: ctime(file, `f=${shQuote(file)}; if [ ! -e "$f" ]; then echo DL:ABSENT; elif ( : >> "$f" ); then echo DL:OPENED; else echo DL:REFUSED; fi`),
    });
  }
  const modeDir = '/usr/bin';
  const mf = `${modeDir}/${modeCanaryName(opts.runId)}`;
  edits.push({
    id: `chmod:${modeDir}`,
    control: 'DL-SSH-030',
    title: `change the mode of a file in ${modeDir} (a canary, or a file to its own current mode)`,
    path: modeDir,
    command:
      `f=${shQuote(mf)}; if [ -e "$f" ] || [ -L "$f" ]; then echo DL:PREEXISTING; elif ( : > "$f" ) 2>/dev/null; then echo DL:CREATED; if chmod 0700 "$f"; then echo DL:CHMOD_OK; else echo DL:REFUSED; fi; ` +
      `rm -f -- "$f"; if [ -e "$f" ]; then echo DL:STILL_THERE; else echo DL:REMOVED; fi; ` +
      // The fallback changes a REGULAR file to its own mode: chmod follows symlinks, so a link
      // (whose stat says 777) must never be its target.
      `else t=$(find ${modeDir} -maxdepth 1 -type f -print 2>/dev/null | head -n 1); if [ -z "$t" ] || [ -L "$t" ]; then echo DL:ABSENT; else m=$(stat -c %a -- "$t"); echo "DL:TARGET $t $m"; if chmod -- "$m" "$t"; then echo DL:CHMOD_OK; else echo DL:REFUSED; fi; fi; fi`,
  });
  edits.push({
    id: 'sudo',
    control: 'DL-SSH-040',
    title: 'escalate privileges with sudo -n true',
    command: `if [ "$(id -u)" = 0 ]; then echo DL:ROOT; elif command -v sudo >/dev/null 2>&1; then if sudo -n true; then echo DL:SUDO_OK; else echo DL:REFUSED; fi; else echo DL:NO_SUDO; fi`,
  });
  if (opts.aggressive) {
    edits.push({
      id: 'remount',
      control: 'DL-SSH-050',
      title: 'remount / read-write (aggressive mode; put back at once to the mode it was found in)',
      path: '/',
      // The mode found is restored and checked, never assumed: a root found read-write stays so.
      command:
        `${ROOT_MODE}; before=$(mode); echo "DL:MODE $before"; ` +
        `if [ "$before" = rw ]; then echo DL:ALREADY_RW; elif mount -o remount,rw / ; then echo DL:REMOUNTED; mount -o remount,ro / ; ` +
        `if [ "$(mode)" = "$before" ]; then echo DL:REMOVED; else echo DL:STILL_THERE; fi; else echo DL:REFUSED; fi`,
    });
  }
  return edits;
}

/**
 * The sweep: every entry in `dirs` with one of this run's canary names (exactly: no glob, so a
 * concurrent run whose id starts with this one's is left alone) is removed and checked gone
 * (DL:GONE), or named as left behind (DL:LEFT). Run at the end of every host's audit, on a new
 * connection when the audit's own broke.
 */
export function sweepCommand(runId: string, dirs: string[]): string {
  const names = canaryNames(runId).map(shQuote).join(' ');
  return (
    `for d in ${dirs.map(shQuote).join(' ')}; do for n in ${names}; do f="$d/$n"; [ -e "$f" ] || [ -L "$f" ] || continue; echo "DL:FOUND $f"; ` +
    `rm -f -- "$f" 2>/dev/null; if [ -e "$f" ] || [ -L "$f" ]; then echo "DL:LEFT $f"; else echo "DL:GONE $f"; fi; done; done; echo DL:SWEPT`
  );
}

/** What a sweep found: removed and checked gone, or left behind (could not be removed). */
export function parseSweep(stdout: string): { removed: string[]; left: string[]; finished: boolean } {
  const lines = stdout.split('\n');
  const pick = (marker: string) => lines.filter((l) => l.startsWith(`${marker} `)).map((l) => l.slice(marker.length + 1));
  return { removed: pick('DL:GONE'), left: pick('DL:LEFT'), finished: lines.includes('DL:SWEPT') };
}

/**
 * Puts `/` back read-only after an aggressive remount that was cut off or not undone (run by the
 * sweep, on a new connection), and reports the mode before and after from the mount table.
 */
export function restoreRootCommand(): string {
  return (
    `${ROOT_MODE}; m=$(mode); echo "DL:MODE $m"; if [ "$m" != ro ]; then if mount -o remount,ro / ; then echo DL:REMOUNTED_RO; else echo DL:REFUSED; fi; fi; ` +
    `echo "DL:MODE_AFTER $(mode)"`
  );
}

/** Restored only when the mount table, read after, shows `/` read-only. */
export function parseRestoreRoot(stdout: string): { before?: string; after?: string; restored: boolean } {
  const pick = (m: string) =>
    stdout
      .split('\n')
      .find((l) => l.startsWith(`${m} `))
      ?.slice(m.length + 1)
      .trim();
  const before = pick('DL:MODE');
  const after = pick('DL:MODE_AFTER');
  return { ...(before ? { before } : {}), ...(after ? { after } : {}), restored: after === 'ro' };
}

/**
 * Where each path really leads on the host (`readlink -f`, in the audit's own session): a mount is
 * judged at the resolved path, since /etc/cron.d may be a link into a read-write volume. NUL
 * separated (a link's target is anyone's choice of bytes): `R path resolved`, or `U path` when it
 * exists but cannot be resolved, or `A path` when a directory above it is missing.
 */
export function resolveCommand(paths: string[]): string {
  return (
    `for p in ${paths.map(shQuote).join(' ')}; do if r=$(readlink -f -- "$p" 2>/dev/null) && [ -n "$r" ]; then printf 'R\\0%s\\0%s\\0' "$p" "$r"; ` +
    `elif [ -e "$p" ] || [ -L "$p" ]; then printf 'U\\0%s\\0\\0' "$p"; else printf 'A\\0%s\\0\\0' "$p"; fi; done; printf 'END\\0'`
  );
}

export interface Resolution {
  /** Path as written → the path the kernel reaches (a missing path maps to itself: nothing to follow). */
  paths: Record<string, string>;
  /** Paths that exist (or are links) but could not be resolved: where they lead is unknown. */
  unresolved: string[];
  error?: string;
}

export function parseResolve(r: { stdout: string; stderr: string; exitCode: number | null }): Resolution {
  const f = r.stdout.split('\0');
  const out: Resolution = { paths: {}, unresolved: [] };
  let i = 0;
  for (; i + 2 < f.length && f[i] !== 'END'; i += 3) {
    const [tag, p, to] = [f[i], f[i + 1]!, f[i + 2]!];
    if (tag === 'R') out.paths[p] = to;
    else if (tag === 'A') out.paths[p] = p;
    else out.unresolved.push(p);
  }
  if (f[i] !== 'END') out.error = `could not resolve the paths with readlink -f (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200) || 'no END marker'}`;
  return out;
}
