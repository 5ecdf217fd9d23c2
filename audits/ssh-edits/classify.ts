/**
 * Reads an edit's DL: markers and stderr into BLOCKED / ALLOWED / UNKNOWN / NOT_APPLICABLE: what
 * the host did with a forbidden edit, and whether anything was left changed.
 */
import type { Edit } from '../../probes/edits.ts';
import type { CommandResult } from '../../probes/ssh.ts';

export type Outcome = 'BLOCKED' | 'ALLOWED' | 'UNKNOWN' | 'NOT_APPLICABLE';

export interface EditResult {
  edit: Edit;
  outcome: Outcome;
  reason: string;
  errno?: string;
  /** Something was written on the host (then removed): the host changed in place. */
  tainted: boolean;
  /** For tainted results: was the change reverted and checked gone? */
  reverted?: boolean;
  /** ctime of the edited path before and after the attempt, where the command reports it. */
  ctime?: { before: string; after: string };
  evidence: CommandResult;
}

const ERRNO: Array<[RegExp, string, string]> = [
  [/Read-only file system/i, 'EROFS', 'read-only file system'],
  [/Permission denied/i, 'EACCES', 'permission denied'],
  [/Operation not permitted/i, 'EPERM', 'operation not permitted'],
  [/a password is required|is not in the sudoers|may not run sudo|not allowed to execute/i, 'EACCES', 'sudo refused'],
  [/"no new privileges" flag is set/i, 'EPERM', 'sudo refused: no-new-privileges is set'],
  [/restricted|This account is currently not available|not allowed/i, 'EPERM', 'command restricted'],
  [/must be superuser|only root can/i, 'EPERM', 'requires root'],
];

export function errnoOf(stderr: string): { errno: string; reason: string } | undefined {
  for (const [re, errno, reason] of ERRNO) if (re.test(stderr)) return { errno, reason };
  return undefined;
}

/** Reads an edit's markers and stderr into BLOCKED / ALLOWED / UNKNOWN / NOT_APPLICABLE. */
export function classify(edit: Edit, r: CommandResult): EditResult {
  const has = (m: string) => r.stdout.split('\n').some((l) => l.trim() === m || l.startsWith(`${m} `));
  const created = has('DL:CREATED') || has('DL:REMOUNTED');
  const reverted = created ? has('DL:REMOVED') && !has('DL:STILL_THERE') : undefined;
  const ct = r.stdout.split('\n').find((l) => l.startsWith('DL:CTIME '));
  const [before, after] = ct ? ct.slice('DL:CTIME '.length).split('|') : [];
  const base = {
    edit,
    evidence: r,
    tainted: created,
    ...(reverted !== undefined ? { reverted } : {}),
    ...(ct ? { ctime: { before: before ?? '', after: after ?? '' } } : {}),
  };
  const why = errnoOf(r.stderr);
  if (has('DL:ABSENT')) return { ...base, outcome: 'NOT_APPLICABLE', reason: 'not present on this host' };
  if (has('DL:PREEXISTING')) {
    return {
      ...base,
      outcome: 'UNKNOWN',
      reason: "a file with this run's canary name is already there (from an interrupted audit of this run?): not touched; the sweep removes it",
    };
  }
  if (has('DL:ALREADY_RW'))
    return { ...base, outcome: 'ALLOWED', reason: 'the root filesystem is already mounted read-write: nothing to remount, nothing changed' };
  if (has('DL:ROOT')) return { ...base, outcome: 'ALLOWED', reason: 'logged in as root (uid 0): no escalation needed' };
  if (has('DL:SUDO_OK')) return { ...base, outcome: 'ALLOWED', reason: 'sudo -n true succeeded: the login user can escalate without a password' };
  if (has('DL:NO_SUDO')) return { ...base, outcome: 'BLOCKED', reason: 'sudo is not installed', errno: 'ENOENT' };
  if (has('DL:CHMOD_OK'))
    return {
      ...base,
      outcome: 'ALLOWED',
      reason: created ? 'created a canary and changed its mode' : 'changed the mode of an existing file (to its own current mode)',
    };
  if (has('DL:OPENED')) return { ...base, outcome: 'ALLOWED', reason: 'opened for append: the file is writable (zero bytes written)' };
  if (created) {
    const what = has('DL:REMOUNTED') ? 'remounted / read-write' : 'created the canary';
    return { ...base, outcome: 'ALLOWED', reason: `${what}; ${reverted ? 'reverted and checked gone' : 'COULD NOT REVERT: remove it by hand'}` };
  }
  if (has('DL:REFUSED')) {
    if (why) return { ...base, outcome: 'BLOCKED', reason: why.reason, errno: why.errno };
    return {
      ...base,
      outcome: 'UNKNOWN',
      reason: `refused, but the reason could not be read (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200) || 'no stderr'}`,
    };
  }
  if (r.exitCode !== 0 && why) return { ...base, outcome: 'BLOCKED', reason: why.reason, errno: why.errno };
  return {
    ...base,
    outcome: 'UNKNOWN',
    reason: `no result marker in the output (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(0, 200) || 'no output'}`,
  };
}
