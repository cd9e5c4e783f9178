import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { KMSClient } from '@aws-sdk/client-kms';
import { errorDetail } from './errors';

/**
 * Attempts per KMS call or CloudFormation read, first one included. What ends the retries is the
 * invocation's time budget (LIFECYCLE L17: a FAILED answer goes out before it runs out), and for a
 * read the part of it given to reads (Budget.readPatienceMs); this count only backs them up: at
 * the waits of `retryDelayMs`, 600 attempts span about 19 minutes, beyond the longest budget (the
 * handler's 15-minute Lambda timeout, lib/provider.ts, for a raised `serviceTimeout`). A count low
 * enough to end first would fail revocations the budget could still finish: 1,470 Deletes at once
 * (six full stacks destroyed together, one 15/s quota) drain in about 100 s, and the unluckiest
 * needed 82 to 84 attempts (bench/: retry headroom).
 */
export const MAX_ATTEMPTS = 600;

/** The longest wait between two attempts. */
export const MAX_BACKOFF_MS = 4_000;

/**
 * KMS and CloudFormation quotas are requests per second: a throttled request can succeed within
 * the next second, so this is the widest wait of a throttled call's first retries.
 */
export const THROTTLED_RETRY_WINDOW_MS = 1_000;

/** Throttled retries at the quota's window before the wait widens (to 2 s, then 4 s). */
export const RETRIES_PER_WIDTH = 20;

/** The first wait of a transient error (a dropped connection, a timeout, a 500/502/503/504), as the SDK's: doubled after each. */
const TRANSIENT_BASE_MS = 50;

/** Which errors are retried: the SDK's standard classification (`RetryErrorInfo.errorType`). */
type RetryErrorType = 'TRANSIENT' | 'THROTTLING' | 'SERVER_ERROR' | 'CLIENT_ERROR';

/**
 * The wait before retry number `retry` (0 for the first), full jitter: a random wait below a
 * width. For throttling the width stays at the quota's one-second window for the first 20 retries:
 * when revocations of several stacks share the 15/s quota, a wider wait leaves the quota idle
 * while the last ones sleep (bench/: revocation throughput, 1.22x the bound with the SDK's waits of
 * 1-4 s, 1.05-1.11x with these). Only a call throttled for about ten seconds, one in a crowd of
 * hundreds, waits longer (2 s, then 4 s), which keeps such a crowd within MAX_ATTEMPTS.
 */
export function retryDelayMs(errorType: RetryErrorType, retry: number, random: () => number = Math.random): number {
  const width = errorType === 'THROTTLING'
    ? THROTTLED_RETRY_WINDOW_MS * 2 ** Math.min(2, Math.floor(retry / RETRIES_PER_WIDTH))
    : TRANSIENT_BASE_MS * 2 ** retry;
  return Math.floor(random() * Math.min(width, MAX_BACKOFF_MS));
}

interface Attempt {
  getRetryCount(): number;
  getRetryDelay(): number;
}

const attempt = (retries: number, delayMs: number): Attempt => ({ getRetryCount: () => retries, getRetryDelay: () => delayMs });

/**
 * The clients' retry strategy: the SDK's standard one (same errors retried) with `retryDelayMs`
 * waits, and without two of its parts. No client-side rate limiter (the SDK's adaptive mode): after
 * a throttle it paced a fresh container at 0.5 requests/s, stalling the quota for seconds in a
 * stack deletion. No retry token bucket: it stops retrying after about 100 throttled retries per
 * client, and one warm container serves dozens of Deletes of a deletion; the time budget bounds
 * the retries instead. The SDK sleeps `getRetryDelay()` under the call's abort signal, so the
 * budget can end a wait.
 */
export class RevocationRetryStrategy {
  readonly mode = 'standard';

  constructor(readonly maxAttempts: number) {}

  // One strategy for every scope (the SDK passes the partition): nothing is shared between calls.
  async acquireInitialRetryToken(): Promise<Attempt> {
    return attempt(0, 0);
  }

  async refreshRetryTokenForRetry(token: Attempt, errorInfo: RetriedError): Promise<Attempt> {
    const retry = token.getRetryCount();
    const retryable = errorInfo.errorType === 'THROTTLING' || errorInfo.errorType === 'TRANSIENT';
    // The SDK answers the call with the error itself when this throws.
    if (!retryable || retry + 1 >= this.maxAttempts) throw new Error('no retry');
    lastRetried = { at: Date.now(), error: errorInfo.error };
    let delay = retryDelayMs(errorInfo.errorType, retry);
    const hint = errorInfo.retryAfterHint?.getTime();
    if (hint !== undefined) delay = Math.max(delay, Math.min(hint - Date.now(), MAX_BACKOFF_MS));
    return attempt(retry + 1, delay);
  }

  recordSuccess(): void {
    // Nothing to refill: no token bucket.
  }
}

interface RetriedError {
  readonly errorType: RetryErrorType;
  readonly error?: unknown;
  readonly retryAfterHint?: Date;
}

/** The error this container's clients retried last, and when. */
let lastRetried: { at: number; error: RetriedError['error'] } | undefined;

/**
 * The error retried last, if a retry happened at or after `since` (ms since the epoch): what a
 * budget that ran out while retrying was waiting on, for the FAILED reason.
 */
export function lastRetriedSince(since: number): string | undefined {
  if (!lastRetried || lastRetried.at < since) return undefined;
  return errorDetail(lastRetried.error).slice(0, 200);
}

/**
 * Socket limits: a dropped or stalled connection becomes a retryable error, not a hang. Without
 * throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes.
 */
const REQUEST_HANDLER = { connectionTimeout: 3_000, requestTimeout: 15_000, throwOnRequestTimeout: true } as const;

// One client per Region, kept while the Lambda container is warm. The endpoint comes from the
// SDK's own configuration (AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL_CLOUDFORMATION are honoured).
const kms = new Map<string, KMSClient>();
const cloudFormation = new Map<string, CloudFormationClient>();

/** The KMS client for the key's Region (LIFECYCLE S4: the key may live in another Region than the stack). */
export function kmsClient(region: string): KMSClient {
  let client = kms.get(region);
  if (!client) {
    client = newKmsClient(region);
    kms.set(region, client);
  }
  return client;
}

/** A KMS client configured as the handler's (retries, backoff, socket limits), not cached. */
export function newKmsClient(region: string): KMSClient {
  return new KMSClient({ region, retryStrategy: new RevocationRetryStrategy(MAX_ATTEMPTS), requestHandler: REQUEST_HANDLER });
}

export function cloudFormationClient(region: string): CloudFormationClient {
  let client = cloudFormation.get(region);
  if (!client) {
    // A read's retries are ended by its patience (Budget.readPatienceMs), a part of the budget, not by a count.
    client = new CloudFormationClient({ region, retryStrategy: new RevocationRetryStrategy(MAX_ATTEMPTS), requestHandler: REQUEST_HANDLER });
    cloudFormation.set(region, client);
  }
  return client;
}
