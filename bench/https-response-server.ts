/**
 * An HTTPS stand-in for the presigned S3 URL CloudFormation puts in ResponseURL, for the benchmarks.
 *
 * Why not the test bed's plain-HTTP ResponseServer: the baseline's handler (aws-cdk-lib's
 * AwsCustomResource provider) answers with `require('https').request({ hostname, path, ... })`,
 * built from `url.parse(ResponseURL)`: it always speaks TLS and always goes to port 443, whatever
 * the URL says. So this server listens with TLS on port 443 of a random loopback address
 * (127.x.y.z, never 127.0.0.1, so that runs do not collide), with a throwaway self-signed
 * certificate whose SAN is that address. The handlers' processes trust it through
 * NODE_EXTRA_CA_CERTS. Our handler is given the same https URL, so both pay the same TLS
 * handshake, as both would against S3. Port 443 needs root (or a lowered
 * net.ipv4.ip_unprivileged_port_start); the benchmark says so if it cannot bind.
 *
 * It records answers like the test bed's ResponseServer (the same ResponseRecorder), so the
 * StackEngine can use it in its place.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { presignedQuery, ResponseRecorder } from '../test/support/response-server';

export class HttpsResponseServer extends ResponseRecorder {
  /** Starts on 127.x.y.z:443 with a fresh self-signed certificate for that address. */
  static async start(): Promise<HttpsResponseServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tls-'));
    for (let attempt = 0; ; attempt++) {
      const host = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(2, 255)}`;
      const certFile = path.join(dir, 'cert.pem');
      const keyFile = path.join(dir, 'key.pem');
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
        '-subj', `/CN=${host}`, '-addext', `subjectAltName=IP:${host}`,
      ], { stdio: 'ignore' });
      const server = new HttpsResponseServer(host, dir, certFile, fs.readFileSync(keyFile), fs.readFileSync(certFile));
      try {
        await server.listen();
        return server;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES') {
          throw new Error('the benchmark needs to listen on port 443 of a loopback address (the baseline handler '
            + 'always PUTs its answer to port 443): run it as root, or lower net.ipv4.ip_unprivileged_port_start', { cause: err });
        }
        if (code !== 'EADDRINUSE' || attempt >= 5) throw err;
      }
    }
  }

  private counter = 0;
  private readonly server: https.Server;

  private constructor(
    readonly host: string,
    private readonly dir: string,
    /** The certificate to trust (NODE_EXTRA_CA_CERTS) in the handlers' processes. */
    readonly caFile: string,
    key: Buffer,
    cert: Buffer,
  ) {
    super();
    this.server = https.createServer({ key, cert }, this.onRequest);
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(443, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * The server's origin (https, default port). Not an S3 host, so the handler accepts it only
   * through REVOCATION_TEST_RESPONSE_ORIGIN, which the benchmark sets as the test bed does.
   */
  get origin(): string {
    return `https://${this.host}`;
  }

  /** A fresh ResponseURL: https, default port, with a query string like a presigned URL. */
  newUrl(): string {
    const n = ++this.counter;
    return `https://${this.host}/cfn-response/${n}?${presignedQuery(n)}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
