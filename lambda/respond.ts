import * as http from 'node:http';
import * as https from 'node:https';

/** "The total size of the response body can't exceed 4096 bytes" (CloudFormation User Guide, crpg-ref.html). */
export const MAX_RESPONSE_BYTES = 4096;
/** Room kept for the material IDs attribute inside that limit. */
export const MAX_MATERIAL_IDS_BYTES = 2048;

export interface CfnResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/**
 * Material IDs as one attribute value, comma-separated. When they do not fit, as many as fit
 * followed by `+N more`, so the response stays under CloudFormation's limit.
 */
export function formatMaterialIds(ids: readonly string[], maxBytes = MAX_MATERIAL_IDS_BYTES): string {
  const all = ids.join(',');
  if (Buffer.byteLength(all) <= maxBytes) return all;
  const kept: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const suffix = `+${ids.length - i - 1} more`;
    const candidate = [...kept, ids[i], suffix].join(',');
    if (Buffer.byteLength(candidate) > maxBytes) break;
    kept.push(ids[i]);
  }
  return [...kept, `+${ids.length - kept.length} more`].join(',');
}

function truncateToBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const marker = ' [truncated]';
  let cut = text.slice(0, Math.max(0, maxBytes - marker.length));
  while (Buffer.byteLength(cut) > maxBytes - marker.length) cut = cut.slice(0, -1);
  return cut + marker;
}

/** The JSON body, with the Reason shortened as needed to stay within MAX_RESPONSE_BYTES. */
export function responseBody(response: CfnResponse): string {
  const withoutReason = JSON.stringify({ ...response, Reason: '' });
  const room = MAX_RESPONSE_BYTES - Buffer.byteLength(withoutReason);
  if (room < 0) {
    // Only oversized identifiers from a garbled event get here: drop the attributes and keep a
    // short reason. If the identifiers alone are still too long, send it anyway: it cannot be made
    // valid, and the answer is still the best report of what happened.
    const bare = { ...response, Data: undefined, Reason: truncateToBytes(response.Reason ?? '', 512) };
    return JSON.stringify(bare);
  }
  // JSON escaping can grow the reason (quotes, control characters): shrink until it fits.
  let reason = truncateToBytes(response.Reason ?? '', room);
  let body = JSON.stringify({ ...response, Reason: reason });
  while (Buffer.byteLength(body) > MAX_RESPONSE_BYTES && reason.length > 0) {
    reason = truncateToBytes(reason, Math.floor(Buffer.byteLength(reason) * 0.9));
    body = JSON.stringify({ ...response, Reason: reason });
  }
  return body;
}

/**
 * One PUT with a wall-clock limit on the whole exchange: a server that accepts the connection and
 * then trickles a byte at a time keeps the socket busy, so an idle timeout alone would never fire
 * (LIFECYCLE L31).
 */
function putOnce(url: URL, body: string, limitMs: number): Promise<number> {
  const transport = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, {
      method: 'PUT',
      // The presigned URL is signed for an empty content type.
      headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
      timeout: limitMs,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`the response URL did not complete the answer within ${limitMs} ms`)), limitMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`no answer from the response URL within ${limitMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A response URL that keeps failing this long will not recover: stop paying for retries. */
export const RESPONSE_RETRY_WINDOW_MS = 60_000;
/** The wall-clock limit of one attempt. */
export const RESPONSE_ATTEMPT_MS = 5_000;
/** The first attempt gets at least this long, however little time is left: an answer is always tried. */
export const MIN_FIRST_ATTEMPT_MS = 1_000;

/**
 * Errors that another attempt cannot mend: the server's TLS certificate does not verify (node's
 * error codes for that), or the URL names no host that resolves.
 */
const PERMANENT_ERROR_CODES = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH', 'ENOTFOUND',
]);

/**
 * PUTs the response to the presigned ResponseURL. Each attempt has a wall-clock limit; network
 * errors and 5xx answers are retried with backoff for up to a minute, never past `deadline` (the
 * Lambda's own timeout, less a margin); a 4xx answer (a signature or expiry problem) and a TLS
 * certificate that does not verify are final. At least one attempt is made whatever time is
 * left. Resolves true when CloudFormation's bucket took it.
 */
export async function sendResponse(responseUrl: string, body: string, deadline: number,
  log: (msg: string) => void): Promise<boolean> {
  let url: URL;
  try {
    url = new URL(responseUrl);
  } catch {
    log('the ResponseURL is not a URL: no response can be sent');
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    log(`the ResponseURL uses ${url.protocol}, not https: no response can be sent`);
    return false;
  }
  const giveUpAt = Math.min(deadline, Date.now() + RESPONSE_RETRY_WINDOW_MS);
  for (let attempt = 1; ; attempt++) {
    const remaining = giveUpAt - Date.now();
    if (remaining <= 0 && attempt > 1) return false;
    try {
      const limit = attempt === 1 ? Math.max(MIN_FIRST_ATTEMPT_MS, Math.min(remaining, RESPONSE_ATTEMPT_MS)) : Math.min(remaining, RESPONSE_ATTEMPT_MS);
      const status = await putOnce(url, body, limit);
      if (status >= 200 && status < 300) return true;
      log(`response attempt ${attempt}: HTTP ${status}`);
      if (status < 500) return false; // a signature or expiry problem: retrying cannot help
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      log(`response attempt ${attempt}: ${(err as Error).message}`);
      if (typeof code === 'string' && PERMANENT_ERROR_CODES.has(code)) return false;
    }
    const backoff = Math.min(2_000, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    if (Date.now() + backoff >= giveUpAt) return false;
    await sleep(backoff);
  }
}
