/** The verdict on each victim's replacement, and time to recovery on the load recording's clock. */
import type { Host } from '../../core/inventory.ts';
import { BUCKET_MS, type Bucket } from '../../probes/http-load.ts';
import { runningImage, runsImage } from '../declared-image.ts';
import { byId } from './victims.ts';

export type ReplacementVerdict = 'replaced' | 'restarted-in-place' | 'missing' | 'wrong-image' | 'unchanged';

export interface ReplacementCheck {
  host: string;
  verdict: ReplacementVerdict;
  /** The verdict in words, for the report. */
  detail: string;
  oldInstanceId: string;
  newInstanceId?: string;
  oldStart?: Date;
  newStart?: Date;
  /** What the replacement runs (image id, or AMI). */
  digest?: string;
  /** What it should run: the expected digest, or else the victim's own image. */
  expected?: string;
}

/**
 * Per victim: was it replaced by a NEW instance (new instance id, later start) running the SAME
 * image (the release's digest when given, else the victim's own)? A replacement is found under the
 * victim's stable id (containers keep their name), or else among new hosts of the fleet that were
 * not there before (EC2: a new instance id), one per victim.
 */
export function verifyReplacements(before: Host[], after: Host[], victims: Host[], expectedDigest?: string): ReplacementCheck[] {
  const beforeIds = new Set(before.map((h) => h.instanceId));
  const claimed = new Set<string>();
  const beforeNames = new Set(before.map((h) => h.id));
  // New hosts under new names (EC2: a replacement is a new instance id); never another host's replacement.
  const fresh = after.filter((h) => !beforeIds.has(h.instanceId) && !beforeNames.has(h.id) && h.state === 'running').sort(byId);
  return victims.map((v): ReplacementCheck => {
    const expected = expectedDigest ?? runningImage(v.image);
    const base = { host: v.id, oldInstanceId: v.instanceId, ...(v.launchedAt ? { oldStart: v.launchedAt } : {}), ...(expected ? { expected } : {}) };
    let now = after.find((h) => h.id === v.id && h.state === 'running' && !claimed.has(h.instanceId));
    now ??= fresh.find((h) => h.fleet === v.fleet && !claimed.has(h.instanceId));
    if (!now) {
      const stopped = after.find((h) => h.id === v.id);
      const detail = stopped
        ? `${v.id} is ${stopped.state}, and no new running instance took its place`
        : `${v.id} is gone and no new running instance took its place`;
      return { ...base, verdict: 'missing', detail };
    }
    claimed.add(now.instanceId);
    const found = {
      ...base,
      newInstanceId: now.instanceId,
      ...(now.launchedAt ? { newStart: now.launchedAt } : {}),
      ...(runningImage(now.image) ? { digest: runningImage(now.image) } : {}),
    };
    const later = v.launchedAt && now.launchedAt ? now.launchedAt.getTime() > v.launchedAt.getTime() : undefined;
    if (now.instanceId === v.instanceId) {
      return later
        ? {
            ...found,
            verdict: 'restarted-in-place',
            detail: `${v.id} was restarted in place, not replaced: same instance ${v.instanceId.slice(0, 12)}, started again at ${now.launchedAt!.toISOString()}`,
          }
        : {
            ...found,
            verdict: 'unchanged',
            detail:
              later === false
                ? `${v.id} is the same instance with the same start time: the kill did not take effect`
                : `${v.id} is the same instance and its start times are unknown: not replaced`,
          };
    }
    if (expected && !runsImage(now.image, expected)) {
      return {
        ...found,
        verdict: 'wrong-image',
        detail: `${v.id} was replaced by ${now.id} (${now.instanceId.slice(0, 12)}) running ${runningImage(now.image) ?? 'an unknown image'}, not ${expected}`,
      };
    }
    const startNote = later === false ? ` (but its start time ${now.launchedAt!.toISOString()} is not after the victim's)` : '';
    return {
      ...found,
      verdict: 'replaced',
      detail:
        `${v.id} was replaced by a new instance ${now.instanceId.slice(0, 12)} of the same image ${runningImage(now.image) ?? expected ?? ''}${startNote}`.trim(),
    };
  });
}

/**
 * Milliseconds from the kill until the fleet is healthy again: back at capacity AND past the last
 * bucket with errors. All times are on the load recording's clock (ms since its start; see
 * `loadClock`). Undefined when recovery is not seen in the recording (capacity never reached, or
 * no error-free bucket after the last error).
 */
export function timeToRecovery(killAt: number, buckets: Bucket[], capacityReachedAt: number | undefined): number | undefined {
  if (capacityReachedAt === undefined) return undefined;
  let healthyFrom = Math.max(killAt, capacityReachedAt);
  const after = buckets.filter((b) => b.t + BUCKET_MS > killAt).sort((a, b) => a.t - b.t);
  for (const b of after) if (b.errors > 0) healthyFrom = Math.max(healthyFrom, b.t + BUCKET_MS);
  // Every bucket reaching past healthyFrom is error-free by construction; one must have traffic.
  const seenHealthy = after.some((b) => b.t + BUCKET_MS > healthyFrom && b.sent > 0);
  if (!seenHealthy) return undefined;
  return Math.max(0, healthyFrom - killAt);
}
