/**
 * Shared plumbing for the local AWS test doubles (KMS, CloudFormation).
 *
 * Node built-ins only. Everything here is protocol-agnostic: an HTTP server that tracks its
 * sockets so `close()` really closes keep-alive connections, a SigV4 `Authorization` header
 * parser (credential scope only — signatures are NOT verified, the doubles have no secrets),
 * a fault plan (injected errors / latency / dropped connections, each with a `times` budget),
 * and a per-bucket sliding-window rate limiter used to model AWS request quotas.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The credential scope of a SigV4 `Authorization` header: `Credential=AKID/DATE/REGION/SERVICE/aws4_request`. */
export interface SigV4Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

/**
 * Parses `AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/kms/aws4_request, SignedHeaders=..., Signature=...`.
 * Returns undefined when the header is missing or not a SigV4 header.
 */
export function parseSigV4Authorization(header: string | undefined): SigV4Scope | undefined {
  if (!header) return undefined;
  const m = /^AWS4-HMAC-SHA256\s+.*?Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/.exec(header);
  if (!m) return undefined;
  return { accessKeyId: m[1], date: m[2], region: m[3], service: m[4] };
}

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function newRequestId(): string {
  return randomUUID();
}

export function xmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A listening HTTP server on 127.0.0.1 that remembers its sockets so it can be closed for real. */
export interface LocalServer {
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function listenLocal(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    handler(req, res).catch((err: unknown) => {
      // A bug in a double must be loud but must not kill the test process.
      console.error('[aws-double] unhandled handler error', err);
      if (!res.headersSent && !res.destroyed) {
        res.statusCode = 500;
        res.end();
      } else {
        res.destroy();
      }
    });
  });
  // AWS front ends keep connections alive; so does the SDK's agent. Keep the default behaviour.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    close(): Promise<void> {
      if (!closed) {
        closed = new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
          for (const s of sockets) s.destroy();
          sockets.clear();
        });
      }
      return closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fault plan
// ---------------------------------------------------------------------------------------------

/** `'*'` as the op matches every operation. */
export interface ErrorFault {
  op: string;
  errorType: string;
  status: number;
  message?: string;
  remaining: number;
  /** Extra predicate (e.g. "only for this key"); evaluated against the double's request context. */
  matches?: (ctx: unknown) => boolean;
}

export interface LatencyFault {
  op: string;
  ms: number;
  remaining: number;
}

export interface DropFault {
  op: string;
  remaining: number;
  /** 'before': socket destroyed before any handling (no side effect). 'after': the operation ran, then the socket was destroyed. */
  when: 'before' | 'after';
}

/**
 * Ordered lists of faults. The first matching rule with budget left fires and its budget is
 * decremented; `times` defaults to Infinity (the fault stays until `clear()`).
 */
export class FaultPlan {
  private errors: ErrorFault[] = [];
  private latencies: LatencyFault[] = [];
  private drops: DropFault[] = [];

  addError(f: Omit<ErrorFault, 'remaining'> & { times?: number }): void {
    this.errors.push({ ...f, remaining: f.times ?? Infinity });
  }

  addLatency(op: string, ms: number, times?: number): void {
    this.latencies.push({ op, ms, remaining: times ?? Infinity });
  }

  addDrop(op: string, when: 'before' | 'after', times?: number): void {
    this.drops.push({ op, when, remaining: times ?? Infinity });
  }

  takeError(op: string, ctx: unknown): ErrorFault | undefined {
    const f = this.errors.find((e) => e.remaining > 0 && (e.op === op || e.op === '*') && (!e.matches || e.matches(ctx)));
    if (f) f.remaining--;
    return f;
  }

  takeLatency(op: string): number {
    const f = this.latencies.find((e) => e.remaining > 0 && (e.op === op || e.op === '*'));
    if (!f) return 0;
    f.remaining--;
    return f.ms;
  }

  takeDrop(op: string, when: 'before' | 'after'): boolean {
    const f = this.drops.find((e) => e.remaining > 0 && e.when === when && (e.op === op || e.op === '*'));
    if (!f) return false;
    f.remaining--;
    return true;
  }

  clear(): void {
    this.errors = [];
    this.latencies = [];
    this.drops = [];
  }
}

// ---------------------------------------------------------------------------------------------
// Rate limiting
// ---------------------------------------------------------------------------------------------

/**
 * Sliding-window limiter. For a quota of N requests per second (N >= 1) a request is accepted
 * when fewer than floor(N) requests were accepted in the preceding 1000 ms. Quotas below 1/s
 * (e.g. the historical 0.25/s of GetParametersForImport) allow one request per 1/N seconds.
 * Only accepted requests consume capacity (rejected ones do not extend the throttle).
 *
 * The KMS throttling page describes a per-second window ("AWS KMS throttles all subsequent
 * DescribeKey requests in that second"); a sliding window is the stricter reading and never lets
 * more than N through in any 1 s interval, which is what a client must be robust to.
 */
export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();

  tryAcquire(bucket: string, perSecond: number, now: number = Date.now()): boolean {
    if (!Number.isFinite(perSecond)) return true;
    if (perSecond <= 0) return false;
    const windowMs = perSecond >= 1 ? 1000 : 1000 / perSecond;
    const limit = perSecond >= 1 ? Math.floor(perSecond) : 1;
    const list = (this.hits.get(bucket) ?? []).filter((t) => now - t < windowMs);
    if (list.length >= limit) {
      this.hits.set(bucket, list);
      return false;
    }
    list.push(now);
    this.hits.set(bucket, list);
    return true;
  }

  reset(): void {
    this.hits.clear();
  }
}

/** Destroys the request's socket without writing a response (what a crashed front end looks like to a client). */
export function dropConnection(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.destroy();
  req.socket.destroy();
}

/**
 * Writes a response unless the client already went away (e.g. its request timeout fired during
 * injected latency). Returns false when the response could not be delivered.
 */
export function send(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string): boolean {
  if (res.destroyed || res.writableEnded || res.socket?.destroyed) return false;
  try {
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
    return true;
  } catch {
    // socket closed between the check and the write.
    return false;
  }
}

/** Counts requests being handled so tests can wait for in-flight side effects (e.g. after a client timeout). */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  async track<T>(work: () => Promise<T>): Promise<T> {
    this.count++;
    try {
      return await work();
    } finally {
      this.count--;
      if (this.count === 0) for (const w of this.waiters.splice(0)) w();
    }
  }

  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

// ---------------------------------------------------------------------------------------------
// What every double shares
// ---------------------------------------------------------------------------------------------

/**
 * The part of a service double that does not depend on the service: the local listener, the call
 * log, in-flight tracking, and the latency, drop and deny controls. Each double implements
 * `handle` (its wire protocol) and its own error injection and deny rule shape.
 */
export abstract class AwsDouble<Call extends { op: string }, DenyRule> {
  readonly calls: Call[] = [];
  protected readonly faults = new FaultPlan();
  protected denyRules: DenyRule[] = [];
  private readonly inFlight = new InFlight();
  private server?: LocalServer;

  get endpoint(): string {
    return this.listening().endpoint;
  }

  /** Closes the listener and destroys every open (keep-alive) socket. */
  stop(): Promise<void> {
    return this.listening().close();
  }

  /** Resolves once no request is being handled (e.g. a request whose client timed out during injected latency). */
  idle(): Promise<void> {
    return this.inFlight.idle();
  }

  callsTo(op: string): Call[] {
    return this.calls.filter((c) => c.op === op);
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  /** Delays the handling of `op` ('*' = any) by `ms`. The operation still runs afterwards even if the client gave up. */
  setLatency(op: string, ms: number, opts: { times?: number } = {}): void {
    this.faults.addLatency(op, ms, opts.times);
  }

  /**
   * Destroys the socket of `op` ('*' = any) requests without a response.
   * `afterHandling: true` applies the operation first (a response lost in flight).
   */
  dropConnections(op: string, opts: { times?: number; afterHandling?: boolean } = {}): void {
    this.faults.addDrop(op, opts.afterHandling ? 'after' : 'before', opts.times);
  }

  /** Removes all injected errors, latencies, drops and deny rules. */
  clearFaults(): void {
    this.faults.clear();
    this.denyRules = [];
  }

  /** Starts listening on 127.0.0.1 on an ephemeral port. */
  protected async listen(): Promise<void> {
    this.server = await listenLocal((req, res) => this.inFlight.track(() => this.handle(req, res)));
  }

  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;

  private listening(): LocalServer {
    if (!this.server) throw new Error('the double is not listening: create it with start()');
    return this.server;
  }
}
