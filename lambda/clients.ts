import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { KMSClient } from '@aws-sdk/client-kms';

/**
 * Attempts per call, first one included. The SDK's adaptive retry mode spaces them with
 * exponential backoff (capped at 20 s), full jitter and a client-side rate limiter that slows
 * down after throttling: 15 attempts span one to two minutes. The invocation's time budget ends
 * the retries sooner when it is shorter, and a FAILED answer goes out either way.
 */
export const MAX_ATTEMPTS = 15;

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
    client = new KMSClient({ region, retryMode: 'adaptive', maxAttempts: MAX_ATTEMPTS, requestHandler: REQUEST_HANDLER });
    kms.set(region, client);
  }
  return client;
}

export function cloudFormationClient(region: string): CloudFormationClient {
  let client = cloudFormation.get(region);
  if (!client) {
    client = new CloudFormationClient({ region, retryMode: 'adaptive', maxAttempts: MAX_ATTEMPTS, requestHandler: REQUEST_HANDLER });
    cloudFormation.set(region, client);
  }
  return client;
}
