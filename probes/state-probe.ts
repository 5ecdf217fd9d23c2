/**
 * The state probe: keys written through a fleet's entrypoint before instances die, read back
 * after, then deleted (DELETE /state/<key>; what could not be deleted is reported). Only the
 * entrypoint's origin is ever contacted.
 */
import { randomBytes } from 'node:crypto';
import { request as undiciRequest } from 'undici';
import { UsageError } from '../core/errors.ts';
import { isOk, netError, targetOf } from './http-load.ts';

export interface StateKey {
  key: string;
  value: string;
  /** The instances that answered the successful writes of this key (from the served-by header). */
  servedBy?: string[];
}

export interface StateWriteResult {
  written: StateKey[];
  /** Keys no PUT succeeded for (they are not in `written` and not checked later). */
  failed: Array<{ key: string; error: string }>;
}

export interface StateProbeResult {
  written: StateKey[];
  /** Keys some read answered 404 for. */
  missing: string[];
  /** Keys some read answered 200 for with another value. */
  changed: Array<{ key: string; expected: string; actual: string }>;
  /** Keys some read could not be made for (network error, 5xx): neither proof of loss nor of keeping. */
  unreadable: Array<{ key: string; error: string }>;
  /** Every read made: key, status, and the replica that answered when it says (X-Served-By). */
  reads: Array<{ key: string; status: number; servedBy?: string }>;
  /** The keys deleted from the target's store once read (the probe leaves nothing behind), or why not. */
  cleanup: StateCleanup;
}

export interface StateCleanup {
  /** DELETE answered 2xx. */
  deleted: string[];
  /** DELETE answered 404: the instance that answered does not hold it (lost, or never stored). */
  absent: string[];
  /** Left in the store, as far as the probe can tell: the answer, or the network error. */
  failed: Array<{ key: string; error: string }>;
}

export interface StateProbeOptions {
  /** PUTs per key (same value); default 1. 0 or absent = default. */
  writeRequests?: number;
  /** GETs per key; default 3, so a round-robin fleet keeping state in process memory is caught. */
  readRequests?: number;
  timeoutMs?: number;
  /** The response header naming the instance that answered (default x-served-by). */
  servedByHeader?: string;
  /** More keys to delete after reading (those a write failed for: the store may have taken them). */
  alsoDelete?: string[];
}

async function http(method: 'GET' | 'PUT' | 'DELETE', href: string, body: string | undefined, timeoutMs: number, header = 'x-served-by') {
  const res = await undiciRequest(href, {
    method,
    ...(body !== undefined ? { body, headers: { 'content-type': 'application/octet-stream' } } : {}),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await res.body.text();
  const servedBy = res.headers[header.toLowerCase()];
  return { status: res.statusCode, text, servedBy: Array.isArray(servedBy) ? servedBy[0] : servedBy };
}

const stateKey = (runId: string, i: number) => `dl-${runId}-${i}`;

/** PUTs `keys` keys /state/dl-<runId>-<i> with random values, each `writeRequests` times. */
export async function writeStateKeys(url: string, keys: number, runId: string, opts: StateProbeOptions = {}): Promise<StateWriteResult> {
  if (!Number.isInteger(keys) || keys < 1) throw new UsageError(`state probe key count ${keys} must be an integer of at least 1`);
  if (!/^[A-Za-z0-9._-]+$/.test(runId)) throw new UsageError(`state probe run id "${runId}" may only hold letters, digits, . _ -`);
  const writes = opts.writeRequests && opts.writeRequests > 0 ? opts.writeRequests : 1;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const written: StateKey[] = [];
  const failed: StateWriteResult['failed'] = [];
  for (let i = 0; i < keys; i++) {
    const key = stateKey(runId, i);
    const value = randomBytes(12).toString('hex');
    const href = targetOf(url, `/state/${key}`).href;
    let okOnce = false;
    let lastError = '';
    const servedBy = new Set<string>();
    for (let w = 0; w < writes; w++) {
      try {
        const r = await http('PUT', href, value, timeoutMs, opts.servedByHeader);
        if (isOk(r.status)) {
          okOnce = true;
          if (r.servedBy) servedBy.add(r.servedBy);
        } else lastError = `PUT answered ${r.status}`;
      } catch (err) {
        lastError = `PUT failed: ${netError(err)}`;
      }
    }
    if (okOnce) written.push({ key, value, ...(servedBy.size ? { servedBy: [...servedBy] } : {}) });
    else failed.push({ key, error: lastError });
  }
  return { written, failed };
}

/** GETs each written key `readRequests` times and compares with what was written. */
export async function readStateKeys(url: string, written: StateKey[], opts: StateProbeOptions = {}): Promise<StateProbeResult> {
  const reads = opts.readRequests && opts.readRequests > 0 ? opts.readRequests : 3;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const missing = new Set<string>();
  const changed: StateProbeResult['changed'] = [];
  const unreadable: StateProbeResult['unreadable'] = [];
  const log: StateProbeResult['reads'] = [];
  for (const { key, value } of written) {
    const href = targetOf(url, `/state/${key}`).href;
    for (let n = 0; n < reads; n++) {
      try {
        const r = await http('GET', href, undefined, timeoutMs, opts.servedByHeader);
        log.push({ key, status: r.status, ...(r.servedBy ? { servedBy: r.servedBy } : {}) });
        if (r.status === 404) missing.add(key);
        else if (r.status === 200) {
          if (r.text !== value && !changed.some((c) => c.key === key && c.actual === r.text)) changed.push({ key, expected: value, actual: r.text });
        } else unreadable.push({ key, error: `GET answered ${r.status}` });
      } catch (err) {
        log.push({ key, status: 0 });
        unreadable.push({ key, error: `GET failed: ${netError(err)}` });
      }
    }
  }
  const cleanup = await deleteStateKeys(url, [...new Set([...written.map((k) => k.key), ...(opts.alsoDelete ?? [])])], timeoutMs);
  return { written, missing: [...missing], changed, unreadable, reads: log, cleanup };
}

/** DELETEs each key once, after it was read: the probe's keys never pile up in the target's store. */
export async function deleteStateKeys(url: string, keys: string[], timeoutMs = 2000): Promise<StateCleanup> {
  const out: StateCleanup = { deleted: [], absent: [], failed: [] };
  for (const key of keys) {
    try {
      const r = await http('DELETE', targetOf(url, `/state/${key}`).href, undefined, timeoutMs);
      if (isOk(r.status)) out.deleted.push(key);
      else if (r.status === 404) out.absent.push(key);
      else out.failed.push({ key, error: `DELETE answered ${r.status}` });
    } catch (err) {
      out.failed.push({ key, error: `DELETE failed: ${netError(err)}` });
    }
  }
  return out;
}
