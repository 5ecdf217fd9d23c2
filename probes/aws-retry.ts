/**
 * Throttling retries and error classification for AWS API calls.
 *
 * The SDK clients are configured with their own retry strategy (see probes/ec2.ts), which also
 * retries throttling. This wrapper is a second, outer layer for throttling only, with full-jitter
 * exponential backoff: it is what keeps a chaos run going when an account is throttled for longer
 * than the SDK's few quick attempts, and, unlike SDK middleware, it also holds when `send` is
 * replaced (aws-sdk-client-mock stubs `send`, so middleware retries never run under it).
 */

import { ThrottlingExhaustedError } from '../core/errors.ts';

export { ThrottlingExhaustedError };

/** Error codes AWS uses for "slow down". */
export const THROTTLING_CODES: ReadonlySet<string> = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
  'SlowDown',
]);

/** Error codes meaning "these credentials are expired, invalid or unknown". */
export const CREDENTIAL_CODES: ReadonlySet<string> = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'AuthFailure',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
]);

/** The AWS error code of an SDK v3 error (its `name`), or of a plain `{ Code }` / `{ code }` object. */
export function awsErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { name?: unknown; Code?: unknown; code?: unknown };
  for (const v of [e.Code, e.code, e.name]) {
    if (typeof v === 'string' && v !== '' && v !== 'Error') return v;
  }
  return undefined;
}

export function httpStatusOf(err: unknown): number | undefined {
  const m = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  return typeof m?.httpStatusCode === 'number' ? m.httpStatusCode : undefined;
}

export function isThrottling(err: unknown): boolean {
  const code = awsErrorCode(err);
  if (code !== undefined && THROTTLING_CODES.has(code)) return true;
  if (httpStatusOf(err) === 429) return true;
  return (err as { $retryable?: { throttling?: boolean } } | null)?.$retryable?.throttling === true;
}

export function isCredentialError(err: unknown): boolean {
  const code = awsErrorCode(err);
  return code !== undefined && CREDENTIAL_CODES.has(code);
}

export interface RetryPolicy {
  /** Total attempts, the first one included. */
  attempts: number;
  /** Backoff before retry n (1-based) is random in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Injectable for tests. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called before each backoff sleep (for logs/evidence). */
  onRetry?: (info: { attempt: number; delayMs: number; code: string | undefined }) => void;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 20_000 };

export function backoffDelay(retry: number, p: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'random'>): number {
  const ceiling = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (retry - 1));
  return Math.floor((p.random ?? Math.random)() * ceiling);
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs fn; on a throttling error, waits (full jitter, exponential) and tries again, up to
 * `attempts` in all. Any other error is rethrown at once. When all attempts are throttled,
 * throws ThrottlingExhaustedError.
 */
export async function withThrottleRetry<T>(fn: () => Promise<T>, policy: Partial<RetryPolicy> = {}): Promise<T> {
  const p: RetryPolicy = { ...DEFAULT_RETRY, ...policy };
  const attempts = Math.max(1, Math.floor(p.attempts));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isThrottling(err)) throw err;
      if (attempt >= attempts) throw new ThrottlingExhaustedError(attempts, awsErrorCode(err), err);
      const delayMs = backoffDelay(attempt, p);
      p.onRetry?.({ attempt, delayMs, code: awsErrorCode(err) });
      await (p.sleep ?? defaultSleep)(delayMs);
    }
  }
}
