/**
 * What the end-of-host sweep must put back besides this run's canaries. The aggressive remount
 * (DL-SSH-050) runs `remount,rw` then `remount,ro` in one command: cut off between the two, or
 * failing the second, it leaves `/` read-write, which removing files does not undo. The sweep then
 * remounts `/` read-only again, on a new connection like the canary sweep, and the host stays
 * tainted until the mount table shows `/` read-only. Pure: the audit's facts in, a plan out.
 */

import type { EditResult } from './classify.ts';
import { type Mount, mountOf } from './mounts.ts';

export interface SweepPlan {
  /** Put `/` back read-only (it was read-only when the audit began, and the remount was not seen undone). */
  restoreRoot?: { why: string };
  /** The remount was not seen undone, but the mode `/` was found in is unknown: it is not changed, and the host is tainted-unknown. */
  cannotRestore?: string;
}

/** The remount edit finished and its own output proves nothing is left changed. */
function confirmedFinished(r: EditResult | undefined): boolean {
  if (!r) return false;
  if (r.tainted) return r.reverted === true; // remounted: only a checked remount back counts
  return r.outcome !== 'UNKNOWN'; // refused, already read-write, or not there: nothing was changed
}

export function planSweep(a: { edits: readonly EditResult[]; interrupted?: string; mounts?: { list: Mount[] } }): SweepPlan {
  const remount = a.edits.find((e) => e.edit.control === 'DL-SSH-050');
  const started = !!remount || a.interrupted === 'remount';
  if (!started || confirmedFinished(remount)) return {};
  const why = remount
    ? `the remount edit did not confirm / was put back (${remount.reason})`
    : 'the remount edit was cut off after it started: / may have been left read-write';
  const root = a.mounts?.list.length ? mountOf('/', a.mounts.list) : undefined;
  if (!root) return { cannotRestore: `${why}, and the mode / was found in is unknown (no mount table), so it is not changed` };
  // Never made read-only if it was found read-write: the edit changes nothing on such a root.
  if (!root.readOnly) return {};
  return { restoreRoot: { why } };
}
