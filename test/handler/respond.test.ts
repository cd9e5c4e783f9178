/**
 * LIFECYCLE L31: the answer to CloudFormation, against real local servers that misbehave the way a
 * network or a hostile endpoint can: trickling, refusing with 4xx, presenting a certificate that
 * does not verify. Every attempt has a wall-clock limit, one attempt is always made, and errors
 * that cannot mend are not retried.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { sendResponse } from '../../lambda/respond';

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(behaviour: Behaviour, tls?: { key: Buffer; cert: Buffer }) {
  const requests: number[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests.push(Date.now());
    req.resume();
    req.on('end', () => behaviour(req, res));
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/response?X-Amz-Signature=x`,
    requests,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

const logs: string[] = [];
const log = (m: string) => { logs.push(m); };
beforeEach(() => { logs.length = 0; });

describe('sendResponse (L31)', () => {
  test('L31: a server that accepts and then trickles a byte at a time is cut off by the attempt\'s wall-clock limit', async () => {
    const timers: NodeJS.Timeout[] = [];
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      timers.push(setInterval(() => res.write('.'), 100));
    });
    try {
      const started = Date.now();
      const sent = await sendResponse(server.url, '{}', Date.now() + 1_500, log);
      const took = Date.now() - started;
      expect(sent).toBe(false);
      // The idle timeout alone would never fire: a byte comes every 100 ms.
      expect(took).toBeLessThan(4_000);
      expect(logs.join('\n')).toContain('did not complete the answer within');
    } finally {
      timers.forEach(clearInterval);
      await server.close();
    }
  });

  test('L31: with no time left at all, one attempt is still made', async () => {
    const server = await serve((_req, res) => { res.writeHead(200); res.end(); });
    try {
      const sent = await sendResponse(server.url, '{}', Date.now() - 5_000, log);
      expect(sent).toBe(true);
      expect(server.requests).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  test.each([403, 400, 404, 429])('L31: HTTP %i is final: one attempt, no retry', async (status) => {
    const server = await serve((_req, res) => { res.writeHead(status); res.end(); });
    try {
      const sent = await sendResponse(server.url, '{}', Date.now() + 10_000, log);
      expect(sent).toBe(false);
      expect(server.requests).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  test('L31/L17: HTTP 503 is retried until the server takes the answer', async () => {
    let n = 0;
    const server = await serve((_req, res) => { res.writeHead(++n < 3 ? 503 : 200); res.end(); });
    try {
      const sent = await sendResponse(server.url, '{}', Date.now() + 10_000, log);
      expect(sent).toBe(true);
      expect(server.requests).toHaveLength(3);
    } finally {
      await server.close();
    }
  });

  test('L31: a TLS certificate that does not verify is final: one attempt, no retry', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'respond-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'),
      '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const server = await serve((_req, res) => { res.writeHead(200); res.end(); },
      { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) });
    try {
      const started = Date.now();
      const sent = await sendResponse(server.url, '{}', Date.now() + 10_000, log);
      expect(sent).toBe(false);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatch(/self.signed/i);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
