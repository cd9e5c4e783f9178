import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { KMSClient } from '@aws-sdk/client-kms';
import { AdaptiveRetryStrategy } from '@smithy/core/retry';

/**
 * Attempts per call, first one included. The SDK's adaptive retry strategy spaces them with
 * jittered exponential backoff and a client-side rate limiter that slows down after throttling.
 * What ends the retries is the invocation's time budget (LIFECYCLE L17: a FAILED answer goes out
 * before it runs out); this count only backs it up: at the 4 s cap, 100 attempts span about three
 * minutes, and the SDK's own retry quota (500 tokens, 5 per throttled retry) allows about as many.
 * A count low enough to end first would fail revocations the budget could still finish: with 25,
 * 980 Deletes at once (two full stacks destroyed together, one 15/s quota) left 54 keys FAILED
 * after 25 throttled attempts, while the queue drained in about 65 s of a 300 s budget.
 */
export const MAX_ATTEMPTS = 100;

/** The longest wait between two attempts. */
export const MAX_BACKOFF_MS = 4_000;

/**
 * The SDK's own backoff (full jitter: a random wait up to base x 2^attempt, the base larger after
 * throttling), capped at 4 s instead of 20 s. When hundreds of revocations share KMS's 15/s
 * DeleteImportedKeyMaterial quota (one stack deletion, LIFECYCLE L18), waits of up to 20 s leave
 * the quota idle while the last ones sleep; measured in bench/ (revocation throughput).
 */
export class CappedJitterBackoff {
  private base = 50;

  setDelayBase(delayBase: number): void {
    this.base = delayBase;
  }

  computeNextBackoffDelay(attempt: number): number {
    return Math.floor(Math.random() * Math.min(this.base * 2 ** attempt, MAX_BACKOFF_MS));
  }
}

const retryStrategy = () => new AdaptiveRetryStrategy(MAX_ATTEMPTS, { backoff: new CappedJitterBackoff() });

/**
 * Socket limits: a dropped or stalled connection becomes a retryable error, not a hang. Without
 * throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes.
 */
const REQUEST_HANDLER = { connectionTimeout: 3_000, requestTimeout: 15_000, throwOnRequestTimeout: true } as const;

// One client per Region, kept while the Lambda container is warm. The endpoint comes from the
// SDK's own configuration (AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL_CLOUDFORMATION are honoured).
const kms = new Map<string, KMSClient>();
const cloudFormation = new Map<string, CloudFormationClient>();

/**
 * Which KMS calls a client makes. DeleteImportedKeyMaterial has its own quota (15/s per account
 * and Region, against 2,000/s for DescribeKey and 100/s for ListKeyRotations), so it gets a client
 * of its own: the adaptive strategy's rate limiter then paces deletes by the deletes' throttling
 * alone, instead of also spending its tokens on reads that are never throttled.
 */
export type KmsUse = 'read' | 'delete';

/** The KMS client for the key's Region (LIFECYCLE S4: the key may live in another Region than the stack). */
export function kmsClient(region: string, use: KmsUse = 'read'): KMSClient {
  const id = `${use} ${region}`;
  let client = kms.get(id);
  if (!client) {
    client = newKmsClient(region);
    kms.set(id, client);
  }
  return client;
}

/** A KMS client configured as the handler's (retries, backoff, socket limits), not cached. */
export function newKmsClient(region: string): KMSClient {
  return new KMSClient({ region, retryStrategy: retryStrategy(), requestHandler: REQUEST_HANDLER });
}

export function cloudFormationClient(region: string): CloudFormationClient {
  let client = cloudFormation.get(region);
  if (!client) {
    client = new CloudFormationClient({ region, retryStrategy: retryStrategy(), requestHandler: REQUEST_HANDLER });
    cloudFormation.set(region, client);
  }
  return client;
}
