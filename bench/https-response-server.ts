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
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
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
  private readonly fronts: tls.Server[] = [];

  private constructor(
    readonly host: string,
    private readonly dir: string,
    /** The certificate to trust (NODE_EXTRA_CA_CERTS) in the handlers' processes. */
    readonly caFile: string,
    private readonly key: Buffer,
    private readonly cert: Buffer,
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

  /**
   * An https origin for a plain-HTTP double (`http://127.0.0.1:port`): TLS on an ephemeral port of
   * this server's address, with its certificate, each connection piped to the double. The SDK then
   * calls KMS and CloudFormation over TLS as it does in Lambda. Over plain http the SDK's Node.js
   * handler takes another path: it loads node:http with a dynamic import() on its first request,
   * which in our bundle starts Node's ES module loader (about 20 ms of a cold start on this machine)
   * and which a handler calling AWS's https endpoints never takes.
   */
  async tlsFront(endpoint: string): Promise<string> {
    const target = new URL(endpoint);
    const front = tls.createServer({ key: this.key, cert: this.cert }, (socket) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      // No Nagle delay on either leg: a relay that holds back small writes meets the peer's delayed
      // ACK and stalls each exchange by about 40 ms.
      socket.setNoDelay(true);
      upstream.setNoDelay(true);
      socket.pipe(upstream).pipe(socket);
      const close = () => { socket.destroy(); upstream.destroy(); };
      socket.on('error', close);
      upstream.on('error', close);
      socket.on('close', close);
      upstream.on('close', close);
    });
    this.fronts.push(front);
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(0, this.host, () => resolve());
    });
    return `https://${this.host}:${(front.address() as net.AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const front of this.fronts) front.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
