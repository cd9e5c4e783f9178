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

/** A stand-in for CloudFormation's presigned S3 URL: records every PUT. */
export class ResponseServer {
  static async start(): Promise<ResponseServer> {
    const s = new ResponseServer();
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    return s;
  }

  readonly received = new Map<string, CapturedResponse[]>();
  /** HTTP status to answer, per path, for the next requests (default 200). */
  readonly failNext = new Map<string, number[]>();
  private counter = 0;
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '';
      const queued = this.failNext.get(path);
      const status = queued && queued.length > 0 ? queued.shift()! : 200;
      if (status === 200) {
        const list = this.received.get(path) ?? [];
        let body: Record<string, any>;
        try {
          body = JSON.parse(rawBody);
        } catch {
          body = { unparseable: rawBody };
        }
        list.push({ body, rawBody, headers: req.headers, method: req.method ?? '' });
        this.received.set(path, list);
      }
      res.writeHead(status).end();
    });
  });

  /** A fresh ResponseURL (with a query string, like a presigned URL). */
  newUrl(): string {
    const port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${port}/cfn-response/${++this.counter}?X-Amz-Signature=secret-signature-${this.counter}`;
  }

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

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

