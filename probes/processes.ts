/**
 * What runs on a host, read over SSH as the login user: every process's command line
 * (/proc/<pid>/cmdline, readable by any user unless /proc is mounted with hidepid), its status
 * (name, state, parent, real uid), and, where the login user may read them (its own processes, or
 * all of them as root), where its executable and working directory are (/proc/<pid>/exe and cwd,
 * readlink) and the executable's sha256 (read through /proc/<pid>/exe, which still opens a file
 * deleted since the process started). One POSIX sh script; nothing is written on the host.
 */
import { ProcessListError } from '../core/errors.ts';
import { shQuote } from './shell.ts';

export interface ProcessEntry {
  pid: number;
  ppid?: number;
  /** The real uid (Uid: in /proc/<pid>/status). */
  uid?: number;
  /** The kernel's name of the process (Name:, from the executable's file name unless the process renamed itself). */
  name?: string;
  /** The state letter: R, S, D, Z (zombie), T, I... */
  state?: string;
  /** /proc/<pid>/cmdline split at NUL bytes (trailing empty arguments dropped); empty for kernel threads and zombies. */
  argv: string[];
  /** readlink /proc/<pid>/exe: absent when the login user may not read it. May end in " (deleted)". */
  exe?: string;
  /** sha256 (hex) of the executable, read through /proc/<pid>/exe. */
  exeSha256?: string;
  /** readlink /proc/<pid>/cwd, where readable (resolves relative commands). */
  cwd?: string;
}

export interface ProcessList {
  /** The login user's uid (what it may read). */
  uid: number;
  processes: ProcessEntry[];
}

const SCRIPT = [
  'LC_ALL=C; export LC_ALL',
  `printf 'driftless-ps-v1 %s\\n' "$(id -u)"`,
  'for d in /proc/[0-9]*; do',
  '  p=${d#/proc/}',
  // A process that ended since the glob was expanded is simply not listed.
  '  c=$(base64 -w0 "$d/cmdline" 2>/dev/null) || continue',
  '  s=$(base64 -w0 "$d/status" 2>/dev/null) || continue',
  '  e=$(readlink -n "$d/exe" 2>/dev/null | base64 -w0)',
  '  w=$(readlink -n "$d/cwd" 2>/dev/null | base64 -w0)',
  '  h=',
  '  if [ -n "$e" ]; then h=$(sha256sum < "$d/exe" 2>/dev/null) && h=${h%% *}; fi',
  `  printf 'P %s %s %s %s %s %s\\n' "$p" "\${c:--}" "\${s:--}" "\${e:--}" "\${w:--}" "\${h:--}"`,
  'done',
  `printf 'END\\n'`,
].join('\n');

/** The command for an SSH exec request: the script under `sh -c`, whatever the login shell. */
export const PROCESS_LIST_COMMAND = `sh -c ${shQuote(SCRIPT)}`;

const b64 = (s: string): string => (s === '-' ? '' : Buffer.from(s, 'base64').toString('utf8'));

/** The fields of /proc/<pid>/status the judgement needs. */
export function parseStatus(text: string): Pick<ProcessEntry, 'name' | 'state' | 'ppid' | 'uid'> {
  const out: Pick<ProcessEntry, 'name' | 'state' | 'ppid' | 'uid'> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 1).trim();
    if (key === 'Name') out.name = value;
    else if (key === 'State') out.state = value.slice(0, 1);
    else if (key === 'PPid' && /^\d+$/.test(value)) out.ppid = Number(value);
    else if (key === 'Uid' && /^\d+/.test(value)) out.uid = Number(value.split(/\s+/)[0]);
  }
  return out;
}

/** The arguments of a /proc/<pid>/cmdline: NUL-separated; the padding a rewritten title leaves is dropped. */
export function splitCmdline(raw: string): string[] {
  const argv = raw.split('\0');
  while (argv.length && argv[argv.length - 1] === '') argv.pop();
  return argv;
}

/**
 * Parses what PROCESS_LIST_COMMAND printed. Fails closed: no header (the script did not run: no
 * sh, no base64?) or no END line (the output was cut off) is an error, never a shorter list.
 */
export function parseProcessList(stdout: string, stderr = ''): ProcessList {
  const lines = stdout.split('\n');
  const head = /^driftless-ps-v1 (\d+)$/.exec(lines[0] ?? '');
  const why = stderr.trim() ? `; stderr: ${stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 300)}` : '';
  if (!head) throw new ProcessListError(`the process list did not start (is there sh, base64, readlink and sha256sum on the host?)${why}`);
  if (!lines.includes('END')) throw new ProcessListError(`the process list was cut off (no END line)${why}`);
  const processes: ProcessEntry[] = [];
  for (const line of lines.slice(1)) {
    if (line === 'END') break;
    if (!line) continue;
    const f = line.split(' ');
    if (f[0] !== 'P' || f.length !== 7 || !/^\d+$/.test(f[1]!))
      throw new ProcessListError(`the process list has a line it does not know: ${JSON.stringify(line.slice(0, 120))}`);
    const [, pid, cmdline, status, exe, cwd, hash] = f as [string, string, string, string, string, string, string];
    processes.push({
      pid: Number(pid),
      ...parseStatus(b64(status)),
      argv: splitCmdline(b64(cmdline)),
      ...(exe !== '-' ? { exe: b64(exe) } : {}),
      ...(hash !== '-' && /^[0-9a-f]{64}$/.test(hash) ? { exeSha256: hash } : {}),
      ...(cwd !== '-' ? { cwd: b64(cwd) } : {}),
    });
  }
  return { uid: Number(head[1]), processes };
}
