/**
 * The precondition of a chaos experiment: the fleet is at its desired capacity and every request
 * of a warm-up load is answered OK.
 */
import { BUCKET_MS, checkSustained, isOk, type LoadRecording, runLoad, targetOf } from '../../probes/http-load.ts';
import type { Provider } from '../../providers/provider.ts';

export interface SteadyStateOptions {
  url: string;
  path?: string;
  warmupMs: number;
  rate: number;
  timeoutMs?: number;
  inventory?: Provider;
  /** Desired capacity; default: the inventory's desiredCapacity(). */
  desired?: number;
}

export interface SteadyStateResult {
  ok: boolean;
  reason?: string;
  running?: number;
  desired?: number;
  recording: LoadRecording;
}

/**
 * The precondition of an experiment: the fleet is at its desired capacity and every request of
 * a warm-up load is answered OK. `reason` names everything that is not so.
 */
export async function steadyState(opts: SteadyStateOptions): Promise<SteadyStateResult> {
  const problems: string[] = [];
  let running: number | undefined;
  let desired: number | undefined = opts.desired;
  if (opts.inventory) {
    const hosts = await opts.inventory.list();
    running = hosts.filter((h) => h.state === 'running').length;
    desired ??= await opts.inventory.desiredCapacity();
    if (running !== desired) problems.push(`${running} of ${desired} hosts running in fleet "${opts.inventory.fleet}"`);
  }
  const recording = await runLoad({
    url: opts.url,
    path: opts.path,
    rate: opts.rate,
    durationMs: Math.max(opts.warmupMs, BUCKET_MS),
    timeoutMs: opts.timeoutMs,
  });
  const bad = recording.records.filter((r) => !isOk(r.status));
  const origin = targetOf(opts.url).origin;
  if (recording.records.length === 0) {
    problems.push(`no request was sent to ${origin} in the warm-up`);
  } else if (bad.length === recording.records.length && bad.every((r) => r.status === 0)) {
    problems.push(`entrypoint ${origin} does not answer: ${bad[0]!.error ?? 'no response'}`);
  } else if (bad.length > 0) {
    const first = bad[0]!;
    const what = first.status === 0 ? (first.error ?? 'network error') : String(first.status);
    problems.push(`${bad.length} errors of ${recording.records.length} requests in warm-up (first: ${what} at ${(first.t / 1000).toFixed(1)} s)`);
  }
  const sustained = checkSustained(recording);
  if (!sustained.ok && problems.length === 0) problems.push(sustained.message!);
  return {
    ok: problems.length === 0,
    ...(problems.length ? { reason: problems.join('; ') } : {}),
    ...(running !== undefined ? { running } : {}),
    ...(desired !== undefined ? { desired } : {}),
    recording,
  };
}
