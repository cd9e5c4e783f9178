/**
 * A stand-in for the presigned S3 URL CloudFormation puts in ResponseURL: records every PUT.
 */
import * as http from 'node:http';
import { AddressInfo } from 'node:net';

export interface CapturedResponse {
  readonly body: Record<string, any>;
  readonly rawBody: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly method: string;
}

/**
 * Records the answers PUT to ResponseURLs; the transport (HTTP here, HTTPS in bench/) is the
 * subclass's. Answers are keyed by path and query, like the presigned URLs they stand for.
 */
export abstract class ResponseRecorder {
  readonly received = new Map<string, CapturedResponse[]>();
  /** HTTP status to answer, per path, for the next requests (default 200). */
  readonly failNext = new Map<string, number[]>();

  /** A fresh ResponseURL (with a query string, like a presigned URL). */
  abstract newUrl(): string;
  abstract stop(): Promise<void>;

  responsesFor(url: string): CapturedResponse[] {
    const u = new URL(url);
    return this.received.get(u.pathname + u.search) ?? [];
  }

  /** The first response PUT to `url`, once it arrives; undefined after `timeoutMs`. */
  async waitFor(url: string, timeoutMs: number): Promise<CapturedResponse | undefined> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const [first] = this.responsesFor(url);
      if (first || Date.now() >= until) return first;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The request listener for the subclass's server. */
  protected readonly onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '';
      const queued = this.failNext.get(path);
      const status = queued && queued.length > 0 ? queued.shift()! : 200;
      if (status === 200) {
        let body: Record<string, any>;
        try {
          body = JSON.parse(rawBody);
        } catch {
          body = { unparseable: rawBody };
        }
        this.received.set(path, [...(this.received.get(path) ?? []), { body, rawBody, headers: req.headers, method: req.method ?? '' }]);
      }
      res.writeHead(status).end();
    });
  };
}

/** SigV4 presigned-URL query parameters, the signature a placeholder (nobody verifies it here). */
export function presignedQuery(n: number, signedAt = new Date(), expiresSeconds = 7200): string {
  const amzDate = signedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=${amzDate}&X-Amz-Expires=${expiresSeconds}` +
    `&X-Amz-SignedHeaders=host&X-Amz-Signature=secret-signature-${n}`;
}

/** A stand-in for CloudFormation's presigned S3 URL over plain HTTP on 127.0.0.1. */
export class ResponseServer extends ResponseRecorder {
  static async start(): Promise<ResponseServer> {
    const s = new ResponseServer();
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    return s;
  }

  private counter = 0;
  private readonly server = http.createServer(this.onRequest);

  /** The server's origin: the handler accepts it only through REVOCATION_TEST_RESPONSE_ORIGIN, which the construct never sets. */
  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /**
   * A URL in the shape of CloudFormation's presigned S3 URL (SigV4 query parameters; signed now,
   * valid for two hours: a public sample shows X-Amz-Expires=7199, the documentation gives no figure).
   */
  newUrl(options: { signedAt?: Date; expiresSeconds?: number } = {}): string {
    return `${this.origin}/cfn-response/${++this.counter}?${presignedQuery(this.counter, options.signedAt, options.expiresSeconds)}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
