/**
 * Is this request one CloudFormation sent, for this stack, and is it still fresh (LIFECYCLE L26,
 * L29)? The checks here need no I/O: the ResponseURL's form and signing time, the StackId bound at
 * deploy time, the custom resource's ServiceTimeout. The evidence that needs CloudFormation reads
 * (the stack's and the resource's own state) is asked for by the decision rules.
 *
 * Anyone allowed lambda:InvokeFunction on the handler can send it any event; these checks and the
 * state checks make such an event unable to revoke, but they cannot stop it from being answered
 * or logged, so invoke permission on the handler still matters.
 */

/**
 * DNS suffixes of S3 per partition: the ResponseURL is "a presigned Amazon S3 URL" (AWS
 * CloudFormation User Guide, "Custom resource request objects", ResponseURL). Partitions not
 * listed here are refused: a revocation there fails loudly instead of trusting an unknown host.
 */
const S3_SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  'aws': ['.amazonaws.com'],
  'aws-us-gov': ['.amazonaws.com'],
  'aws-cn': ['.amazonaws.com.cn'],
};

/** Partitions whose ResponseURLs are recognised. */
export const SUPPORTED_PARTITIONS = Object.keys(S3_SUFFIXES);

/**
 * An origin (`http://127.0.0.1:PORT`) accepted besides S3: only the test bed sets it, on a
 * function it runs itself; the construct never passes it.
 */
export const TEST_RESPONSE_ORIGIN_ENV = 'REVOCATION_TEST_RESPONSE_ORIGIN';
/** The stack ID bound at deploy time (`AWS::StackId` of the handler's own stack), set by the construct. */
export { BOUND_STACK_ID_ENV } from '../lib/contract';
import { BOUND_STACK_ID_ENV } from '../lib/contract';

export interface ResponseUrlFacts {
  /** When the URL was signed (ms since the epoch). */
  readonly signedAt: number;
  /** When it stops being accepted (ms since the epoch). */
  readonly expiresAt: number;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: string };

/** `20261201T101500Z` (SigV4's X-Amz-Date) to ms since the epoch. */
function parseAmzDate(value: string | null): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * The ResponseURL must be an https URL of S3 in the stack's partition, without credentials or a
 * port of its own, presigned (SigV4: X-Amz-Date and X-Amz-Expires; SigV2: Expires).
 */
export function checkResponseUrl(raw: string, partition: string | undefined, testOrigin?: string): Checked<ResponseUrlFacts> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, why: 'the ResponseURL is not a URL' };
  }
  const fromTestBed = testOrigin !== undefined && testOrigin !== '' && url.origin === testOrigin;
  if (!fromTestBed) {
    if (url.protocol !== 'https:') return { ok: false, why: `the ResponseURL uses ${url.protocol.replace(':', '')}, not https` };
    if (url.username || url.password) return { ok: false, why: 'the ResponseURL carries credentials' };
    if (url.port) return { ok: false, why: 'the ResponseURL names a port of its own' };
    // An event too garbled to name its partition still gets its answer, on an S3 host of any known one (L19).
    const suffixes = partition === undefined ? Object.values(S3_SUFFIXES).flat() : S3_SUFFIXES[partition];
    if (!suffixes) return { ok: false, why: `ResponseURLs of partition ${partition} are not recognised (known: ${SUPPORTED_PARTITIONS.join(', ')})` };
    const host = url.hostname.toLowerCase();
    const isS3 = suffixes.some((suffix) => host.endsWith(suffix)) &&
      host.split('.').some((label) => label === 's3' || label.startsWith('s3-'));
    if (!isS3) return { ok: false, why: `the ResponseURL's host ${host} is not Amazon S3${partition ? ` in partition ${partition}` : ''}` };
  }
  const q = url.searchParams;
  if (q.has('X-Amz-Signature')) {
    const signedAt = parseAmzDate(q.get('X-Amz-Date'));
    const expires = Number(q.get('X-Amz-Expires'));
    if (signedAt === undefined || !Number.isFinite(expires) || expires <= 0) {
      return { ok: false, why: 'the ResponseURL is presigned without a readable X-Amz-Date and X-Amz-Expires' };
    }
    return { ok: true, value: { signedAt, expiresAt: signedAt + expires * 1000 } };
  }
  if (q.has('Signature') && q.has('Expires')) {
    const expiresAt = Number(q.get('Expires')) * 1000;
    if (!Number.isFinite(expiresAt)) return { ok: false, why: 'the ResponseURL\'s Expires is not a time' };
    // SigV2 URLs carry no signing time: CloudFormation's are valid for about two hours (GUESS:
    // observed X-Amz-Expires of 7199 s; the documentation gives no figure).
    return { ok: true, value: { signedAt: expiresAt - 7_200_000, expiresAt } };
  }
  return { ok: false, why: 'the ResponseURL is not presigned' };
}

/**
 * When CloudFormation stops waiting for the answer: the ServiceTimeout after the URL was signed
 * (X-Amz-Date is truncated to the second, so this errs early, never late). The handler's own time
 * budget ends there too, so a request that waited in Lambda's queue never acts after it.
 */
export function cloudFormationDeadline(url: ResponseUrlFacts, serviceTimeoutSeconds: number | undefined): number {
  return Math.min(url.expiresAt, serviceTimeoutSeconds === undefined ? Infinity : url.signedAt + serviceTimeoutSeconds * 1000);
}

/** Why a request is refused, when it is: a foreign stack, or a request CloudFormation no longer waits for. */
export function refusalOf(o: {
  readonly stackId: string;
  readonly boundStackId?: string;
  readonly url: ResponseUrlFacts;
  readonly serviceTimeoutSeconds?: number;
  readonly now: number;
}): string | undefined {
  if (!o.boundStackId) return `the handler has no ${BOUND_STACK_ID_ENV} to check the request's StackId against`;
  if (o.stackId !== o.boundStackId) return `the request names stack ${o.stackId}, but this handler serves ${o.boundStackId}`;
  if (o.now > o.url.expiresAt) return `the request's ResponseURL expired at ${new Date(o.url.expiresAt).toISOString()}: CloudFormation stopped waiting for it`;
  if (o.serviceTimeoutSeconds !== undefined && o.now > o.url.signedAt + o.serviceTimeoutSeconds * 1000) {
    return `the request was sent at ${new Date(o.url.signedAt).toISOString()} and its ServiceTimeout of ${o.serviceTimeoutSeconds} s has passed: CloudFormation stopped waiting for it`;
  }
  return undefined;
}
