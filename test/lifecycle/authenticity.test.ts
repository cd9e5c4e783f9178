/**
 * LIFECYCLE L26, L28, L29, L31 on the wire: requests CloudFormation did not send (or no longer
 * waits for), sent straight to the shipped handler bundle as Lambda runs it (bed.runner.invoke),
 * alone or interleaved with the engine's own event sequences; the answer's own failure modes; a
 * revocation that fails in a cleanup. Real SDK clients in the handler, the doubles on 127.0.0.1,
 * the CloudFormation double's read quota on (testbed.ts). Every test checks the keys in the KMS
 * double afterwards.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { Stack } from 'aws-cdk-lib';
import { KeyMaterialRevocation, KeyMaterialScope } from '../../lib/index';
import { ACCOUNT, REGION } from './assembly';
import { REVOCATION_TYPE } from './engine';
import { Deployed, eventFor, snapshot, withRunner } from './hand-made';
import { InvocationResult } from './lambda-runner';
import { presignedQuery } from '../support/response-server';
import { externalKey } from './scenarios';
import { TestBed } from './testbed';

type Event = Record<string, any>;

const NAMESPACE = 'CdkKmsKeyMaterial';
const HOUR_MS = 3_600_000;

// ---- helpers -------------------------------------------------------------------------------------

function jsonLines(invocation: InvocationResult): any[] {
  return invocation.logs.map((l) => { try { return JSON.parse(l.line); } catch { return undefined; } }).filter(Boolean);
}

function decisionOf(invocation: InvocationResult): any {
  const decisions = jsonLines(invocation).filter((j) => j.message === 'decision');
  expect(decisions).toHaveLength(1);
  return decisions[0];
}

/** Embedded-metric-format lines for `name` (CloudWatch turns them into metric data points). */
function metricLines(invocation: InvocationResult, name: string): any[] {
  return jsonLines(invocation).filter((j) => j._aws?.CloudWatchMetrics?.some((m: any) => m.Metrics?.some((x: any) => x.Name === name)));
}

function expectMetric(invocation: InvocationResult, name: string, stackName: string): void {
  const lines = metricLines(invocation, name);
  expect(lines).toHaveLength(1);
  const [line] = lines;
  expect(line._aws.CloudWatchMetrics).toEqual([{ Namespace: NAMESPACE, Dimensions: [['StackName']], Metrics: [{ Name: name, Unit: 'Count' }] }]);
  expect(typeof line._aws.Timestamp).toBe('number');
  expect(line.StackName).toBe(stackName);
  expect(line[name]).toBe(1);
}

function expectReturnedOnItsOwn(invocation: InvocationResult, timeoutMs?: number): void {
  expect(invocation.timedOut).toBe(false);
  expect(invocation.crashed).toBeUndefined();
  expect(invocation.error).toBeUndefined();
  if (timeoutMs !== undefined) expect(invocation.durationMs).toBeLessThan(timeoutMs);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** An HTTP server on another port that records every request it gets (nothing must reach it). */
async function recordingServer(): Promise<{ origin: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => { requests.push(`${req.method} ${req.url}`); req.resume(); res.writeHead(200).end(); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())); },
  };
}


const materials = (bed: TestBed, arn: string) => bed.kms.key(arn)!.materials.map((m) => m.importState);
const keyIdOf = (arn: string) => arn.split('/')[1];
const deleteCallsOn = (bed: TestBed, arn: string) =>
  bed.kms.callsTo('DeleteImportedKeyMaterial').filter((c) => String(c.request.KeyId).endsWith(keyIdOf(arn)));

// ---- L29, L26: one stack, idle, then deleted -----------------------------------------------------

describe('L29 L26 forged, stale and duplicate requests against one stack', () => {
  let bed: TestBed;
  let revocation: Deployed;
  let quiet: Deployed;
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    bed = await TestBed.start((stack: Stack) => {
      new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA'), materialScope: KeyMaterialScope.CURRENT });
      new KeyMaterialRevocation(stack, 'Quiet', { key: externalKey(stack, 'KeyB'), revokeOnStackDelete: false });
    }, { maxConcurrency: 12 });
    await bed.engine.create(bed.template);
    expect(bed.engine.status).toBe('CREATE_COMPLETE');
    revocation = snapshot(bed, bed.logicalId(REVOCATION_TYPE, 'Revocation'));
    quiet = snapshot(bed, bed.logicalId(REVOCATION_TYPE, 'Quiet'));
    keyA = bed.keyArn(bed.logicalId('AWS::KMS::Key', 'KeyA'));
    keyB = bed.keyArn(bed.logicalId('AWS::KMS::Key', 'KeyB'));
    expect(revocation.properties.MaterialScope).toBe('CURRENT');
    expect(quiet.properties.RevokeOnStackDelete).toBe('false');
  }, 120_000);

  afterAll(async () => { await bed?.stop(); });

  const untouched = () => {
    expect(bed.kms.callsTo('DeleteImportedKeyMaterial')).toEqual([]);
    expect(materials(bed, keyA)).toEqual(['IMPORTED', 'IMPORTED']);
    expect(materials(bed, keyB)).toEqual(['IMPORTED', 'IMPORTED']);
  };

  test('L29 (a) a hand-made Create with Revoked "true" while the stack is CREATE_COMPLETE, then UPDATE_COMPLETE: FAILED "refused:", RefusedRequests, key untouched', async () => {
    for (const idle of ['CREATE_COMPLETE', 'UPDATE_COMPLETE']) {
      if (idle === 'UPDATE_COMPLETE') await bed.engine.update(bed.template);
      expect(bed.engine.status).toBe(idle);
      // The deployed logical ID (its resource is idle), and one the stack does not have.
      for (const logicalId of [revocation.logicalId, 'ForgedRevocation']) {
        const url = bed.responses.newUrl();
        const e = eventFor(bed, 'Create', { ...revocation, logicalId }, url, { Revoked: 'true' });
        delete e.PhysicalResourceId;
        const invocation = await bed.runner.invoke(e);
        expectReturnedOnItsOwn(invocation);
        const answers = bed.responses.responsesFor(url);
        expect(answers).toHaveLength(1);
        expect(answers[0].body.Status).toBe('FAILED');
        expect(answers[0].body.Reason).toMatch(/^refused: /);
        // The stack is idle; the resource shows the status of its last change (an update that left it unchanged keeps CREATE_COMPLETE).
        const resourceStatus = bed.engine.resources.get(revocation.logicalId)!.status;
        expect(answers[0].body.Reason).toContain(logicalId === 'ForgedRevocation' ? 'not in the stack' : `shows it ${resourceStatus}`);
        expect(decisionOf(invocation)).toMatchObject({ decision: 'refused', responseSent: true });
        expectMetric(invocation, 'RefusedRequests', bed.stackName);
        expect(metricLines(invocation, 'RevocationFailures')).toEqual([]);
      }
    }
    untouched();
  });

  test('L29 (b) a hand-made Update switching Revoked on while the stack is idle: nothing revoked (no DeleteImportedKeyMaterial at all)', async () => {
    expect(bed.engine.status).toBe('UPDATE_COMPLETE');
    const url = bed.responses.newUrl();
    const invocation = await bed.runner.invoke(eventFor(bed, 'Update', revocation, url, { Revoked: 'true' }));
    expectReturnedOnItsOwn(invocation);
    expect(bed.responses.responsesFor(url)).toHaveLength(1);
    const decision = decisionOf(invocation);
    console.log(`L29 (b) forged Update while idle: answered ${bed.responses.responsesFor(url)[0].body.Status}, decision ${decision.decision}: ${decision.reason}`);
    untouched();
  });

  // Contract deviation (reported): L29 says a request while the resource is not in the matching
  // in-progress state ("a Create or Update while the resource is not being created or updated")
  // is answered FAILED and logged as refused. The handler demands the stack's evidence only for
  // decisions that revoke, so a forged Update while idle is answered SUCCESS ('skipped', after
  // the L28 precheck reads) and logged as an ordinary decision. Nothing is revoked either way.
  test('L29 (b) contract: a hand-made Update while the resource is not being updated is answered FAILED and logged as refused', async () => {
    const url = bed.responses.newUrl();
    const invocation = await bed.runner.invoke(eventFor(bed, 'Update', revocation, url, { Revoked: 'true' }));
    expectReturnedOnItsOwn(invocation);
    const [answer] = bed.responses.responsesFor(url);
    expect(decisionOf(invocation)).toMatchObject({ decision: 'refused' });
    expect(answer.body.Status).toBe('FAILED');
    expect(answer.body.Reason).toMatch(/^refused: /);
  });

  test('L29 (c) a Delete naming another stack\'s ID (a stack the double shows deleting this very resource): refused, nothing read from CloudFormation or KMS', async () => {
    const otherStackId = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/OtherStack/${randomUUID()}`;
    bed.cfn.putStack(otherStackId, {
      status: 'DELETE_IN_PROGRESS',
      template: bed.template,
      resources: [{ logicalId: revocation.logicalId, physicalId: revocation.physicalId, type: REVOCATION_TYPE, status: 'DELETE_IN_PROGRESS' }],
    });
    bed.cfn.addStackEvent(otherStackId, { logicalId: 'OtherStack', physicalId: otherStackId, type: 'AWS::CloudFormation::Stack', status: 'CREATE_COMPLETE' });
    bed.cfn.addStackEvent(otherStackId, { logicalId: 'OtherStack', physicalId: otherStackId, type: 'AWS::CloudFormation::Stack', status: 'DELETE_IN_PROGRESS' });
    try {
      bed.cfn.resetCalls();
      bed.kms.resetCalls();
      const url = bed.responses.newUrl();
      const invocation = await bed.runner.invoke(eventFor(bed, 'Delete', revocation, url, {}, { StackId: otherStackId }));
      expectReturnedOnItsOwn(invocation);
      const answers = bed.responses.responsesFor(url);
      expect(answers).toHaveLength(1);
      expect(answers[0].body).toMatchObject({ Status: 'FAILED', StackId: otherStackId, PhysicalResourceId: revocation.physicalId });
      expect(answers[0].body.Reason).toMatch(/^refused: the request names stack .*OtherStack.*, but this handler serves /);
      expect(decisionOf(invocation)).toMatchObject({ decision: 'refused', responseSent: true });
      expectMetric(invocation, 'RefusedRequests', 'OtherStack');
      expect(metricLines(invocation, 'RevocationFailures')).toEqual([]);
      expect(bed.cfn.calls).toEqual([]);
      expect(bed.kms.calls).toEqual([]);
    } finally {
      bed.cfn.removeStack(otherStackId);
    }
    untouched();
  });

  test('L29 (d) ResponseURLs that are not CloudFormation\'s (https://attacker.example, plain http to another origin): no answer sent to them, nothing revoked, refused', async () => {
    const other = await recordingServer();
    try {
      const urls = [
        `https://attacker.example/cfn-response/1?${presignedQuery(9001)}`,
        `${other.origin}/cfn-response/2?${presignedQuery(9002)}`,
      ];
      bed.kms.resetCalls();
      for (const url of urls) {
        for (const e of [
          eventFor(bed, 'Create', revocation, url, { Revoked: 'true' }),
          eventFor(bed, 'Delete', revocation, url),
        ]) {
          if (e.RequestType === 'Create') delete e.PhysicalResourceId;
          const invocation = await bed.runner.invoke(e);
          expectReturnedOnItsOwn(invocation);
          const decision = decisionOf(invocation);
          expect(decision).toMatchObject({ decision: 'refused', responseSent: false });
          expect(decision.reason).toMatch(/not a request from CloudFormation; nothing done, no answer sent/);
          expect(invocation.logs.some((l) => /response attempt/.test(l.line))).toBe(false);
          expectMetric(invocation, 'RefusedRequests', bed.stackName);
          // Nothing of the URL in the logs (it is a presigned credential when it is CloudFormation's).
          expect(invocation.logs.map((l) => l.line).join('\n')).not.toContain('secret-signature');
        }
      }
      expect(other.requests).toEqual([]);
      expect(bed.kms.calls).toEqual([]);
    } finally {
      await other.close();
    }
    untouched();
  });

  test('L29 a hand-made Delete while the stack is idle (UPDATE_COMPLETE): FAILED, nothing revoked', async () => {
    expect(bed.engine.status).toBe('UPDATE_COMPLETE');
    bed.kms.resetCalls();
    const url = bed.responses.newUrl();
    const invocation = await bed.runner.invoke(eventFor(bed, 'Delete', revocation, url));
    expectReturnedOnItsOwn(invocation);
    const answers = bed.responses.responsesFor(url);
    expect(answers).toHaveLength(1);
    expect(answers[0].body.Status).toBe('FAILED');
    const decision = decisionOf(invocation);
    console.log(`L29 forged Delete while idle: ${decision.decision}; metrics ${['RefusedRequests', 'RevocationFailures'].filter((m) => metricLines(invocation, m).length > 0).join(', ')}: ${decision.reason}`);
    expect(bed.kms.calls).toEqual([]);
    untouched();
  });

  // Contract deviation (reported): L29 "a Delete while it is not being deleted ... logged as
  // refused". The handler decides from the stack status first; an idle stack ends in "a Delete
  // arrived while the stack is UPDATE_COMPLETE, which is neither ..." with decision 'failed', and
  // a FAILED Delete counts in RevocationFailures: anyone allowed to invoke the function can raise
  // the revocation-failure alarm, and RefusedRequests misses the forged request.
  test('L29 contract: a hand-made Delete while the stack is idle is logged as refused (RefusedRequests), not as a revocation failure', async () => {
    const url = bed.responses.newUrl();
    const invocation = await bed.runner.invoke(eventFor(bed, 'Delete', revocation, url));
    expectReturnedOnItsOwn(invocation);
    expect(bed.responses.responsesFor(url)[0].body.Reason).toMatch(/^refused: /);
    expect(decisionOf(invocation).decision).toBe('refused');
    expectMetric(invocation, 'RefusedRequests', bed.stackName);
    expect(metricLines(invocation, 'RevocationFailures')).toEqual([]);
  });

  test('L26 a Delete for a physical ID that is live again (the stack deleting, the resource CREATE_COMPLETE in the double): refused, key untouched', async () => {
    const resourceStatus = bed.engine.resources.get(revocation.logicalId)!.status;
    expect(resourceStatus).toBe('CREATE_COMPLETE');
    bed.cfn.setStatus(bed.engine.stackId, 'DELETE_IN_PROGRESS');
    try {
      const url = bed.responses.newUrl();
      const invocation = await withRunner(bed, bed.responses.origin, 60_000, (runner) => runner.invoke(eventFor(bed, 'Delete', revocation, url)));
      expectReturnedOnItsOwn(invocation);
      const answers = bed.responses.responsesFor(url);
      expect(answers).toHaveLength(1);
      expect(answers[0].body.Status).toBe('FAILED');
      expect(answers[0].body.Reason).toMatch(/^refused: a Delete request for .* but the stack shows it CREATE_COMPLETE with physical ID .*, not DELETE_IN_PROGRESS/);
      expect(decisionOf(invocation)).toMatchObject({ decision: 'refused' });
      expectMetric(invocation, 'RefusedRequests', bed.stackName);
    } finally {
      bed.cfn.setStatus(bed.engine.stackId, bed.engine.status);
    }
    untouched();
  });

  test('L29 (e) L26 L29 (d) during a genuine stack deletion: forged Deletes (MaterialScope changed, RevokeOnStackDelete flipped on, another key), an expired ResponseURL, a passed ServiceTimeout, foreign ResponseURLs: all refused; the genuine Deletes revoke exactly what the template says', async () => {
    const other = await recordingServer();
    // Both genuine Deletes (one wave) are held in their first read, DescribeStacks, while the
    // stack and both resources are DELETE_IN_PROGRESS; the forged ones run meanwhile.
    const HOLD_MS = 12_000;
    bed.kms.resetCalls();
    bed.cfn.resetCalls();
    bed.cfn.setLatency('DescribeStacks', HOLD_MS, { times: 2 });
    const deletion = bed.engine.deleteStack();
    try {
      await until(() => bed.cfn.callsTo('DescribeStacks').length >= 2, 20_000, 'both genuine Deletes to read the stack');
      const heldAt = Date.now();
      expect(bed.engine.status).toBe('DELETE_IN_PROGRESS');
      expect(bed.engine.resources.get(revocation.logicalId)!.status).toBe('DELETE_IN_PROGRESS');
      expect(bed.engine.resources.get(quiet.logicalId)!.status).toBe('DELETE_IN_PROGRESS');

      const now = Date.now();
      interface Forged { readonly name: string; readonly event: Event; readonly url: string; readonly reason?: RegExp }
      const forged = (name: string, r: Deployed, props: Record<string, any>, reason?: RegExp, url = bed.responses.newUrl(), extra: Event = {}): Forged =>
        ({ name, url, reason, event: eventFor(bed, 'Delete', r, url, props, extra) });
      const cases: Forged[] = [
        forged('L29 (e) MaterialScope changed from CURRENT to ALL', revocation, { MaterialScope: 'ALL' },
          /^refused: the request's MaterialScope is 'ALL' but the stack's template says 'CURRENT'/),
        forged('L29 (e) RevokeOnStackDelete flipped on', quiet, { RevokeOnStackDelete: 'true' },
          /^refused: the request's RevokeOnStackDelete is 'true' but the stack's template says 'false'/),
        // Refused by the template (the key it names) or by the resource's own physical ID, whichever is checked first.
        forged('L29 (e) KeyArn and physical ID naming the other key', revocation, { KeyArn: keyB },
          /^refused: (the request names key .* but the stack's .* is |a Delete request for .* but the stack shows it DELETE_IN_PROGRESS with physical ID .*, not DELETE_IN_PROGRESS with physical ID )/,
          bed.responses.newUrl(), { PhysicalResourceId: quiet.physicalId }),
        forged('L26 ResponseURL signed 3 hours ago, X-Amz-Expires 7200', revocation, {},
          /^refused: the request's ResponseURL expired at .*: CloudFormation stopped waiting for it/,
          bed.responses.newUrl({ signedAt: new Date(now - 3 * HOUR_MS), expiresSeconds: 7200 })),
        forged('L26 signed 10 minutes ago with ServiceTimeout 300', revocation, { ServiceTimeout: '300' },
          /^refused: the request was sent at .* and its ServiceTimeout of 300 s has passed/,
          bed.responses.newUrl({ signedAt: new Date(now - 10 * 60_000) })),
        forged('L29 (d) ResponseURL https://attacker.example', revocation, {}, undefined, `https://attacker.example/cfn-response/3?${presignedQuery(9003)}`),
        forged('L29 (d) ResponseURL plain http to another origin', revocation, {}, undefined, `${other.origin}/cfn-response/4?${presignedQuery(9004)}`),
      ];
      const results = await Promise.all(cases.map((c) => bed.runner.invoke(c.event)));
      const heldFor = Date.now() - heldAt;
      // The genuine Deletes were still held: nothing revoked so far came from anyone but them.
      expect(heldFor).toBeLessThan(HOLD_MS);
      expect(bed.kms.calls).toEqual([]);

      cases.forEach((c, i) => {
        const invocation = results[i];
        expectReturnedOnItsOwn(invocation);
        const decision = decisionOf(invocation);
        expect({ name: c.name, decision: decision.decision }).toEqual({ name: c.name, decision: 'refused' });
        expectMetric(invocation, 'RefusedRequests', bed.stackName);
        expect(metricLines(invocation, 'RevocationFailures')).toEqual([]);
        if (c.reason) {
          const answers = bed.responses.responsesFor(c.url);
          expect(answers).toHaveLength(1);
          expect(answers[0].body.Status).toBe('FAILED');
          expect({ name: c.name, reason: answers[0].body.Reason }).toEqual({ name: c.name, reason: expect.stringMatching(c.reason) });
          expect(decision.responseSent).toBe(true);
        } else {
          expect(decision.responseSent).toBe(false);
        }
      });
      expect(other.requests).toEqual([]);
      console.log(`L29/L26 during the deletion: ${cases.length} forged Deletes refused within ${heldFor} ms of the ${HOLD_MS} ms hold`);
    } finally {
      await deletion;
      await other.close();
    }

    expect(bed.engine.status).toBe('DELETE_COMPLETE');
    const genuine = bed.engine.answers.filter((a) => a.requestType === 'Delete');
    expect(genuine.map((a) => [a.logicalId, a.responseStatus, a.decision?.decision]).sort()).toEqual([
      [quiet.logicalId, 'SUCCESS', 'skipped'],
      [revocation.logicalId, 'SUCCESS', 'revoked'],
    ].sort());
    // Exactly the genuine revocation: KeyA's current material, once; KeyB (revokeOnStackDelete off) untouched.
    const deletes = bed.kms.callsTo('DeleteImportedKeyMaterial');
    expect(deletes.filter((c) => c.status === 200)).toHaveLength(1);
    expect(deleteCallsOn(bed, keyA)).toHaveLength(1);
    expect(deleteCallsOn(bed, keyB)).toHaveLength(0);
    expect(bed.kms.key(keyA)!.state).toBe('PendingImport');
    expect(materials(bed, keyA)).toContain('PENDING_IMPORT');
    expect(materials(bed, keyB)).toEqual(['IMPORTED', 'IMPORTED']);
  }, 120_000);

  /** The stack deletion's Delete for Revocation delivered again, after DELETE_COMPLETE. */
  async function redeliver(cold: boolean): Promise<{ invocation: InvocationResult; url: string }> {
    const url = bed.responses.newUrl();
    const e = eventFor(bed, 'Delete', revocation, url);
    const invocation = cold
      ? await withRunner(bed, bed.responses.origin, 60_000, (runner) => runner.invoke(e))
      : await bed.runner.invoke(e);
    expectReturnedOnItsOwn(invocation);
    return { invocation, url };
  }

  test('L26 a second delivery of the stack deletion\'s Delete after the stack is DELETE_COMPLETE: FAILED, no second DeleteImportedKeyMaterial (refused in a warm container)', async () => {
    expect(bed.engine.status).toBe('DELETE_COMPLETE');
    const before = materials(bed, keyA);
    bed.kms.resetCalls();
    // A warm container remembers the stack as deleting (its lineage, L18): the resource's own state refuses it.
    const warm = await redeliver(false);
    // A fresh container reads the stack as DELETE_COMPLETE.
    const cold = await redeliver(true);
    for (const [name, { invocation, url }] of [['warm', warm], ['cold', cold]] as const) {
      const answers = bed.responses.responsesFor(url);
      expect(answers).toHaveLength(1);
      expect(answers[0].body.Status).toBe('FAILED');
      const decision = decisionOf(invocation);
      console.log(`L26 duplicate Delete after DELETE_COMPLETE (${name} container): ${decision.decision}, remembered=${!!decision.stackStatusRemembered}; ` +
        `metrics ${['RefusedRequests', 'RevocationFailures'].filter((m) => metricLines(invocation, m).length > 0).join(', ')}: ${decision.reason}`);
    }
    expect(bed.responses.responsesFor(warm.url)[0].body.Reason).toMatch(/^refused: .*not in the stack, not DELETE_IN_PROGRESS/);
    expect(decisionOf(warm.invocation)).toMatchObject({ decision: 'refused', stackStatusRemembered: true });
    expectMetric(warm.invocation, 'RefusedRequests', bed.stackName);
    expect(metricLines(warm.invocation, 'RevocationFailures')).toEqual([]);
    expect(bed.kms.calls).toEqual([]);
    expect(materials(bed, keyA)).toEqual(before);
    expect(materials(bed, keyB)).toEqual(['IMPORTED', 'IMPORTED']);
  }, 120_000);

  // Contract deviation (reported): the same duplicate in a container that does not remember the
  // stack (cold, or 60 s after the deletion) is decided from the stack status DELETE_COMPLETE:
  // "a Delete arrived while the stack is DELETE_COMPLETE, which is neither ...", decision
  // 'failed', and it counts in RevocationFailures although no revocation was due (the first
  // delivery did it). The warm container refuses the same request.
  test('L26 contract: the duplicate Delete handled by a fresh container is refused as well (RefusedRequests, no RevocationFailures)', async () => {
    bed.kms.resetCalls();
    const { invocation, url } = await redeliver(true);
    expect(bed.kms.calls).toEqual([]);
    expect(bed.responses.responsesFor(url)[0].body.Reason).toMatch(/^refused: /);
    expect(decisionOf(invocation).decision).toBe('refused');
    expectMetric(invocation, 'RefusedRequests', bed.stackName);
    expect(metricLines(invocation, 'RevocationFailures')).toEqual([]);
  }, 60_000);
});

// ---- L31, L28: the answer itself, and a revocation that fails in a cleanup -----------------------

describe('L31 L28 the answer on the wire, and cleanup failures', () => {
  let bed: TestBed;
  let revocationId: string;
  let keyA: string;

  const v2 = (stack: Stack) => {
    externalKey(stack, 'KeyA');
    new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyB') });
  };

  beforeAll(async () => {
    bed = await TestBed.start((stack: Stack) => {
      new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA') });
    });
    revocationId = bed.logicalId(REVOCATION_TYPE, 'Revocation');
    await bed.engine.create(bed.template);
    expect(bed.engine.status).toBe('CREATE_COMPLETE');
    keyA = bed.keyArn(bed.logicalId('AWS::KMS::Key', 'KeyA'));
  }, 120_000);

  afterAll(async () => { await bed?.stop(); });

  /** A ResponseURL server that accepts the PUT, then trickles a response head one byte per 100 ms, never ending it. */
  async function trickler() {
    const sockets = new Set<net.Socket>();
    const timers = new Set<NodeJS.Timeout>();
    const state = { bytes: 0, connections: 0 };
    const server = net.createServer((socket) => {
      sockets.add(socket);
      state.connections++;
      socket.on('error', () => undefined);
      let started = false;
      socket.on('data', () => {
        if (started) return;
        started = true;
        const head = 'HTTP/1.1 200 OK\r\nX-Trickle: ';
        let i = 0;
        const timer = setInterval(() => {
          if (socket.destroyed) { clearInterval(timer); return; }
          socket.write(i < head.length ? head[i] : 'a');
          i++;
          state.bytes++;
        }, 100);
        timers.add(timer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      origin: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      state,
      close: async () => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  test('L31 a ResponseURL that accepts the PUT and trickles one byte per 100 ms: every attempt has a wall-clock limit, the invocation ends before the function\'s timeout (20 s) and well before it (the function\'s own 900 s), responseSent false', async () => {
    const run = async (timeoutMs: number) => {
      const server = await trickler();
      try {
        const url = `${server.origin}/cfn-response/trickle?${presignedQuery(31)}`;
        const e = eventFor(bed, 'Create', snapshot(bed, revocationId), url);
        delete e.PhysicalResourceId;
        const invocation = await withRunner(bed, server.origin, timeoutMs, (runner) => runner.invoke(e));
        return { timeoutMs, invocation, ...server.state };
      } finally {
        await server.close();
      }
    };
    const functionTimeoutMs = bed.runner.spec.timeoutSeconds * 1000;
    expect(functionTimeoutMs).toBe(900_000);
    const runs = await Promise.all([run(20_000), run(functionTimeoutMs)]);
    for (const { timeoutMs, invocation, bytes, connections } of runs) {
      expectReturnedOnItsOwn(invocation, timeoutMs);
      // The request itself is a hand-made Create of an idle resource (validated, or refused where the
      // handler checks every request against the resource's state): only its answer matters here.
      const decision = decisionOf(invocation);
      expect(['validated', 'refused']).toContain(decision.decision);
      expect(decision.responseSent).toBe(false);
      const attempts = invocation.logs.map((l) => /response attempt (\d+): the response URL did not complete the answer within (\d+) ms/.exec(l.line))
        .filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[2]));
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(connections).toBe(attempts.length);
      for (const limit of attempts) expect(limit).toBeLessThanOrEqual(5_000);
      expect(bytes).toBeGreaterThan(10);
      console.log(`L31 trickling ResponseURL, ${timeoutMs} ms function timeout: ${attempts.length} attempts limited to ${attempts.join(', ')} ms; ` +
        `invocation ended after ${invocation.durationMs} ms (${timeoutMs - invocation.durationMs} ms before the timeout); ${bytes} bytes trickled`);
    }
    // Short timeout: the answer may use the time up to a moment before Lambda stops it.
    expect(runs[0].invocation.durationMs).toBeLessThanOrEqual(20_000 - 200);
    // The deployed timeout: retries stop after the one-minute retry window, long before 900 s.
    expect(runs[1].invocation.durationMs).toBeLessThan(75_000);
    expect(bed.kms.callsTo('DeleteImportedKeyMaterial')).toEqual([]);
    expect(materials(bed, keyA)).toEqual(['IMPORTED', 'IMPORTED']);
  }, 120_000);

  test('L31 a ResponseURL answering 403: exactly one attempt', async () => {
    const url = bed.responses.newUrl();
    const u = new URL(url);
    bed.responses.failNext.set(u.pathname + u.search, [403, 403, 403]);
    const r = snapshot(bed, revocationId);
    const e = eventFor(bed, 'Create', r, url);
    delete e.PhysicalResourceId;
    const invocation = await bed.runner.invoke(e);
    expectReturnedOnItsOwn(invocation);
    expect(bed.responses.failNext.get(u.pathname + u.search)).toEqual([403, 403]);
    const attempts = invocation.logs.filter((l) => /response attempt \d+/.test(l.line));
    expect(attempts).toHaveLength(1);
    expect(attempts[0].line).toMatch(/response attempt 1: HTTP 403/);
    expect(decisionOf(invocation)).toMatchObject({ responseSent: false });
    expect(materials(bed, keyA)).toEqual(['IMPORTED', 'IMPORTED']);
  });

  test('L28 a replacement whose old key cannot be described is caught in the UPDATE phase: the update fails and rolls back, nothing revoked', async () => {
    bed.kms.resetCalls();
    bed.kms.deny({ op: 'DescribeKey', keyArn: keyA });
    try {
      await bed.engine.update(bed.synth(v2));
    } finally {
      bed.kms.clearFaults();
    }
    expect(bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    const updates = bed.engine.answers.filter((a) => a.requestType === 'Update');
    const failed = updates.find((a) => a.stackStatus === 'UPDATE_IN_PROGRESS')!;
    expect(failed.responseStatus).toBe('FAILED');
    expect(failed.reason).toContain(keyA);
    expect(failed.reason).toMatch(/cannot be read now/);
    const rollback = updates.find((a) => a.stackStatus === 'UPDATE_ROLLBACK_IN_PROGRESS')!;
    expect(rollback.responseStatus).toBe('SUCCESS');
    expect(bed.engine.answers.filter((a) => a.requestType === 'Delete')).toEqual([]);
    expect(bed.kms.callsTo('DeleteImportedKeyMaterial')).toEqual([]);
    expect(materials(bed, keyA)).toEqual(['IMPORTED', 'IMPORTED']);
    for (const [, arn] of bed.engine.keysCreated) expect(materials(bed, arn)).toEqual(['IMPORTED', 'IMPORTED']);
  }, 120_000);

  test('L28 a cleanup revocation denied in the cleanup (kms:DeleteImportedKeyMaterial alone, which the precheck cannot test): UPDATE_COMPLETE, the Delete FAILED naming the key, a RevocationFailures metric line', async () => {
    bed.kms.resetCalls();
    bed.kms.deny({ op: 'DeleteImportedKeyMaterial', keyArn: keyA });
    const answersBefore = bed.engine.answers.length;
    try {
      await bed.engine.update(bed.synth(v2));
    } finally {
      bed.kms.clearFaults();
    }
    // CloudFormation cannot fail a cleanup: the stack ends UPDATE_COMPLETE whatever the Delete answered.
    expect(bed.engine.status).toBe('UPDATE_COMPLETE');
    const answers = bed.engine.answers.slice(answersBefore);
    const update = answers.find((a) => a.requestType === 'Update')!;
    expect(update.responseStatus).toBe('SUCCESS');
    expect(update.reason ?? '').not.toMatch(/FAILED/);
    const del = answers.find((a) => a.requestType === 'Delete')!;
    expect(del.stackStatus).toBe('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    expect(del.responseStatus).toBe('FAILED');
    expect(del.reason).toContain(keyA);
    expect(del.decision).toMatchObject({ decision: 'failed', requestType: 'Delete' });
    expectMetric(del.invocation!, 'RevocationFailures', bed.stackName);
    const [metric] = metricLines(del.invocation!, 'RevocationFailures');
    expect(metric).toMatchObject({ level: 'error', requestType: 'Delete', keyArn: keyA });
    expect(metricLines(del.invocation!, 'RefusedRequests')).toEqual([]);
    // The denial is what stopped it: tried, denied, nothing deleted.
    const attempts = deleteCallsOn(bed, keyA);
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts.every((c) => c.errorType === 'AccessDeniedException')).toBe(true);
    expect(materials(bed, keyA)).toEqual(['IMPORTED', 'IMPORTED']);
    const keyB = bed.keyArn(bed.logicalId('AWS::KMS::Key', 'KeyB', bed.engine.template));
    expect(deleteCallsOn(bed, keyB)).toEqual([]);
    expect(materials(bed, keyB)).toEqual(['IMPORTED', 'IMPORTED']);
    console.log(`L28 cleanup denial: Delete answered FAILED: ${del.reason}`);
  }, 120_000);
});
