/**
 * LIFECYCLE L17 on the wire: a stack (an EXTERNAL key with two imported materials and a
 * KeyMaterialRevocation) is created, then deleted while the KMS or CloudFormation double
 * misbehaves. The shipped handler bundle runs in a Lambda-like child process with a timeout the
 * runner enforces by killing the container, so "answered before the Lambda timed out" is a fact of
 * the run, not an assumption.
 *
 * Transient faults must end in SUCCESS with every material revoked; faults that outlast the time
 * budget must end in a FAILED answer sent before the function's timeout, and the stack in
 * DELETE_FAILED (never a hung stack, never a silently skipped revocation).
 *
 * The scenarios are independent (each has its own doubles and runner) and mostly wait on
 * backoff timers, so they run concurrently to keep the file short.
 */
import { DeleteImportedKeyMaterialCommand, KMSClient } from '@aws-sdk/client-kms';
import { Stack } from 'aws-cdk-lib';
import { KeyMaterialRevocation } from '../../lib/index';
import { REGION } from './assembly';
import { TimelineEntry } from './engine';
import { externalKey, ScenarioContext } from './scenarios';
import { TestBed } from './testbed';
import { formatTimeline } from './timeline';

/** Long enough for every transient fault below to be retried away (budget: 90 s minus the reserve). */
const RETRY_TIMEOUT_MS = 90_000;
/** A short function timeout for the faults that must exhaust the budget (work budget 6.5 s). */
const SHORT_TIMEOUT_MS = 8_000;

const app = (stack: Stack) => {
  new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA') });
};

interface Run {
  readonly bed: TestBed;
  readonly arn: string;
  /** The key's material IDs before the deletion. */
  readonly materials: string[];
  /** The answer to the stack deletion's Delete. */
  readonly del: TimelineEntry;
  /** When the deletion started (the call logs are filtered from here). */
  readonly since: number;
}

/**
 * Creates the stack without faults, lets `inject` set up the faults, deletes the stack, then runs
 * `check` and the checks every run must pass. A failure prints the run's timeline.
 */
async function createThenDeleteUnder(timeoutMs: number, inject: (bed: TestBed, arn: string) => void,
  check: (run: Run) => void | Promise<void>): Promise<void> {
  const bed = await TestBed.start(app, { timeoutMs });
  const steps: string[] = [];
  const keys: Record<string, string> = {};
  const ctx: ScenarioContext = { bed, keys, steps, step: async (name, work) => { steps.push(name); return work(); } };
  try {
    await ctx.step('create the stack', () => bed.engine.create(bed.template));
    expect(bed.engine.status).toBe('CREATE_COMPLETE');
    const arn = bed.keyArn(bed.logicalId('AWS::KMS::Key', 'KeyA'));
    keys.KeyA = arn;
    const materials = bed.kms.key(arn)!.materials.map((m) => m.id);
    expect(materials).toHaveLength(2);
    const since = Date.now();
    await ctx.step('inject the faults', async () => inject(bed, arn));
    await ctx.step('delete the stack', () => bed.engine.deleteStack());
    const deletes = bed.engine.answers.filter((a) => a.requestType === 'Delete');
    expect(deletes).toHaveLength(1);
    await check({ bed, arn, materials, del: deletes[0], since });
    for (const answer of bed.engine.answers) {
      // Every event answered, exactly once, by an invocation that returned on its own.
      expect(answer.responseStatus).not.toBe('NO RESPONSE');
      expect(answer.invocation?.timedOut).toBe(false);
      expect(answer.invocation?.crashed).toBeUndefined();
      expect(answer.invocation?.error).toBeUndefined();
    }
    for (const [url, answers] of bed.responses.received) expect({ url, count: answers.length }).toEqual({ url, count: 1 });
  } catch (err) {
    (err as Error).message += `\n\nsteps: ${steps.join(' > ')}\nTimeline:\n${formatTimeline(ctx)}`;
    throw err;
  } finally {
    await bed.stop();
  }
}

function expectRevoked(run: Run): void {
  const key = run.bed.kms.key(run.arn)!;
  expect(key.state).toBe('PendingImport');
  expect(key.materials.map((m) => m.importState)).toEqual(['PENDING_IMPORT', 'PENDING_IMPORT']);
  expect(run.bed.engine.status).toBe('DELETE_COMPLETE');
  expect(run.del.responseStatus).toBe('SUCCESS');
  expect(run.del.decision?.decision).toBe('revoked');
  // The response names every material revoked, each once.
  const reported = String(run.del.response?.body.Data?.RevokedMaterialIds ?? '').split(',');
  expect([...reported].sort()).toEqual([...run.materials].sort());
}

function expectNothingRevoked(run: Run): void {
  const key = run.bed.kms.key(run.arn)!;
  expect(key.materials.map((m) => m.importState)).toEqual(['IMPORTED', 'IMPORTED']);
  expect(key.deletedMaterialIds).toEqual([]);
}

/** FAILED, sent by the handler itself before the runner's timeout killed anything; the stack stops in DELETE_FAILED. */
function expectFailedInTime(run: Run): void {
  expect(run.bed.engine.status).toBe('DELETE_FAILED');
  expect(run.del.responseStatus).toBe('FAILED');
  expect(run.del.invocation?.timedOut).toBe(false);
  expect(run.del.invocation!.durationMs).toBeLessThan(run.bed.runner.timeoutMs);
  expect(run.del.decision?.decision).toBe('failed');
  expect(run.del.decision?.responseSent).toBe(true);
}

const kmsCalls = (run: Run, op: string) => run.bed.kms.callsTo(op).filter((c) => c.at >= run.since);

describe('L17 transient faults during stack deletion are retried away', () => {
  // Five in a row: more than the SDK's default three attempts. (The handler's throttled retries
  // wait below 1 s each for the first 20: lambda/clients.ts, retryDelayMs.)
  test.concurrent('L17 a throttling storm on DeleteImportedKeyMaterial (5 ThrottlingExceptions in a row): SUCCESS, every material revoked', () =>
    createThenDeleteUnder(RETRY_TIMEOUT_MS, (bed) => {
      bed.kms.injectError('DeleteImportedKeyMaterial', 'ThrottlingException', { times: 5 });
    }, (run) => {
      expectRevoked(run);
      const deletes = kmsCalls(run, 'DeleteImportedKeyMaterial');
      expect(deletes.filter((c) => c.errorType === 'ThrottlingException' && c.status === 400)).toHaveLength(5);
      const ok = deletes.filter((c) => c.status === 200);
      expect(ok.map((c) => c.request.KeyMaterialId).sort()).toEqual([...run.materials].sort());
      // The throttled attempts were retries of the same request, not skipped materials.
      expect(deletes.filter((c) => c.status !== 200 && !run.materials.includes(c.request.KeyMaterialId))).toEqual([]);
    }));

  test.concurrent('L17 KMSInternalException (500) three times each on DescribeKey and ListKeyRotations: SUCCESS', () =>
    createThenDeleteUnder(RETRY_TIMEOUT_MS, (bed) => {
      bed.kms.injectError('DescribeKey', 'KMSInternalException', { times: 3 });
      bed.kms.injectError('ListKeyRotations', 'KMSInternalException', { times: 3 });
    }, (run) => {
      expectRevoked(run);
      for (const op of ['DescribeKey', 'ListKeyRotations']) {
        const calls = kmsCalls(run, op);
        expect(calls.filter((c) => c.status === 500 && c.errorType === 'KMSInternalException')).toHaveLength(3);
        expect(calls.filter((c) => c.status === 200).length).toBeGreaterThanOrEqual(1);
      }
    }));

  test.concurrent('L17 DependencyTimeoutException (500) three times on DeleteImportedKeyMaterial: SUCCESS', () =>
    createThenDeleteUnder(RETRY_TIMEOUT_MS, (bed) => {
      bed.kms.injectError('DeleteImportedKeyMaterial', 'DependencyTimeoutException', { times: 3 });
    }, (run) => {
      expectRevoked(run);
      const deletes = kmsCalls(run, 'DeleteImportedKeyMaterial');
      expect(deletes.filter((c) => c.status === 500 && c.errorType === 'DependencyTimeoutException')).toHaveLength(3);
    }));

  test.concurrent('L17 connections dropped before KMS handles DescribeKey and ListKeyRotations: SUCCESS', () =>
    createThenDeleteUnder(RETRY_TIMEOUT_MS, (bed) => {
      bed.kms.dropConnections('DescribeKey', { times: 2 });
      bed.kms.dropConnections('ListKeyRotations', { times: 2 });
    }, (run) => {
      expectRevoked(run);
      for (const op of ['DescribeKey', 'ListKeyRotations']) {
        const dropped = kmsCalls(run, op).filter((c) => c.errorType === 'ConnectionDropped');
        expect(dropped).toHaveLength(2);
        expect(dropped.every((c) => c.status === 0 && !c.applied)).toBe(true);
      }
    }));

  test.concurrent('L17 the answer to DeleteImportedKeyMaterial is lost after KMS applied it (twice): the retry deletes an already deleted material, SUCCESS', () =>
    createThenDeleteUnder(RETRY_TIMEOUT_MS, (bed) => {
      bed.kms.dropConnections('DeleteImportedKeyMaterial', { times: 2, afterHandling: true });
    }, async (run) => {
      expectRevoked(run);
      const deletes = kmsCalls(run, 'DeleteImportedKeyMaterial');
      const lost = deletes.filter((c) => c.errorType === 'ConnectionDroppedAfterHandling');
      expect(lost).toHaveLength(2);
      expect(lost.every((c) => c.applied && c.status === 0)).toBe(true);
      // The first material's delete was applied, its answer lost, and repeated: KMS (the double,
      // after the key-state table: "PendingImport: succeeds, no effect") answers 200 again.
      const first = lost[0].request.KeyMaterialId;
      const sameMaterial = deletes.filter((c) => c.request.KeyMaterialId === first);
      expect(sameMaterial.map((c) => c.errorType ?? c.status)).toEqual(['ConnectionDroppedAfterHandling', 'ConnectionDroppedAfterHandling', 200]);
      // Each material was deleted exactly once as far as the key is concerned.
      expect(run.bed.kms.key(run.arn)!.deletedMaterialIds.sort()).toEqual([...run.materials].sort());
      // What KMS answers to one more delete of an already deleted material ID, asked directly.
      const operator = new KMSClient({
        region: REGION, endpoint: run.bed.kms.endpoint, credentials: { accessKeyId: 'AKIAOPERATOR', secretAccessKey: 'operator' },
      });
      const again = await operator.send(new DeleteImportedKeyMaterialCommand({ KeyId: run.arn, KeyMaterialId: first }));
      expect(again.KeyMaterialId).toBe(first);
      operator.destroy();
    }));

  test.concurrent('L17 CloudFormation Throttling on DescribeStacks three times: SUCCESS', () =>
    createThenDeleteUnder(RETRY_TIMEOUT_MS, (bed) => {
      bed.cfn.injectError('DescribeStacks', 'Throttling', { times: 3 });
    }, (run) => {
      expectRevoked(run);
      const describes = run.bed.cfn.callsTo('DescribeStacks').filter((c) => c.at >= run.since);
      expect(describes.filter((c) => c.errorType === 'Throttling' && c.status === 400)).toHaveLength(3);
      expect(describes.filter((c) => c.status === 200)).toHaveLength(1);
      expect(run.del.decision?.stackStatus).toBe('DELETE_IN_PROGRESS');
    }));
});

describe('L17 faults that outlast the time budget: FAILED before the Lambda times out', () => {
  // 20 s: longer than the whole 8 s function, short enough that the double's held request ends
  // within the test (awaited below, so no timer outlives the file).
  test.concurrent(`L17 KMS answers slower than the remaining time (20 s latency, ${SHORT_TIMEOUT_MS / 1000} s function): FAILED in time, naming the time budget; DELETE_FAILED`, () =>
    createThenDeleteUnder(SHORT_TIMEOUT_MS, (bed) => {
      bed.kms.setLatency('*', 20_000);
    }, async (run) => {
      expectFailedInTime(run);
      expect(run.del.reason).toMatch(/time budget of [\d.]+s ran out during kms:DescribeKey on /);
      expect(run.del.reason).toContain(run.arn);
      // The stuck request was the first KMS call of the deletion; nothing was attempted after it.
      expect(kmsCalls(run, 'DeleteImportedKeyMaterial')).toEqual([]);
      // When KMS finally got to answer, the handler had hung up (its abort closed the socket).
      await run.bed.kms.idle();
      const stuck = kmsCalls(run, 'DescribeKey');
      expect(stuck.map((c) => c.errorType)).toEqual(['ClientDisconnected']);
      expectNothingRevoked(run);
    }));

  test.concurrent(`L17 persistent 500s on DeleteImportedKeyMaterial (${SHORT_TIMEOUT_MS / 1000} s function): FAILED in time, naming the action and the key; DELETE_FAILED`, () =>
    createThenDeleteUnder(SHORT_TIMEOUT_MS, (bed) => {
      bed.kms.injectError('DeleteImportedKeyMaterial', 'KMSInternalException', { times: Infinity });
    }, (run) => {
      expectFailedInTime(run);
      expect(run.del.reason).toContain('kms:DeleteImportedKeyMaterial');
      expect(run.del.reason).toContain(run.arn);
      // What the retries were waiting on, for whoever reads the stack event.
      expect(run.del.reason).toMatch(/The last error retried: KMSInternalException/);
      expectNothingRevoked(run);
      const deletes = kmsCalls(run, 'DeleteImportedKeyMaterial');
      // Retried (more than one attempt), every attempt refused, and no other material tried after it.
      expect(deletes.length).toBeGreaterThan(1);
      expect(deletes.every((c) => c.status === 500)).toBe(true);
      expect(new Set(deletes.map((c) => c.request.KeyMaterialId)).size).toBe(1);
    }));

  test.concurrent(`L17/L21 CloudFormation throttling on DescribeStacks that never lets up (${SHORT_TIMEOUT_MS / 1000} s function): the read is given up when the budget's reads end, before the budget; FAILED naming the read and the throttling; DELETE_FAILED, and deleting again finishes it`, () =>
    createThenDeleteUnder(SHORT_TIMEOUT_MS, (bed) => {
      bed.cfn.injectError('DescribeStacks', 'Throttling', { times: Infinity });
    }, async (run) => {
      expectFailedInTime(run);
      // Left to the rules as an unreadable status (they fail a Delete that would revoke), not a budget run out.
      expect(run.del.reason).toMatch(/cloudformation:DescribeStacks on \S+ failed \(ReadPatienceExhausted: no answer after [\d.]+s \(retries included\)/);
      expect(run.del.reason).toMatch(/the last error retried: Throttling: Rate exceeded/);
      expect(run.del.reason).toContain('the handler does not guess');
      expect(run.del.reason).not.toMatch(/time budget of [\d.]+s ran out/);
      expectNothingRevoked(run);
      expect(kmsCalls(run, 'DeleteImportedKeyMaterial')).toEqual([]);
      const describes = run.bed.cfn.callsTo('DescribeStacks').filter((c) => c.at >= run.since);
      // Retried within the quota's window until the reads' time ended, every attempt throttled.
      expect(describes.length).toBeGreaterThan(3);
      expect(describes.every((c) => c.errorType === 'Throttling')).toBe(true);
      // Deleting the stack again once the reads go through finishes it (README, "CloudFormation's read quota").
      run.bed.cfn.clearFaults();
      expect(await run.bed.engine.deleteStack()).toBe('DELETE_COMPLETE');
      const again = run.bed.engine.answers.filter((a) => a.requestType === 'Delete');
      expect(again.map((a) => a.responseStatus)).toEqual(['FAILED', 'SUCCESS']);
      expect(again[1].decision?.decision).toBe('revoked');
      expect(run.bed.kms.key(run.arn)!.materials.map((m) => m.importState)).toEqual(['PENDING_IMPORT', 'PENDING_IMPORT']);
    }));

  test.concurrent(`L17/L18 throttling that never lets up (${SHORT_TIMEOUT_MS / 1000} s function): FAILED in time, naming the throttling; DELETE_FAILED`, () =>
    createThenDeleteUnder(SHORT_TIMEOUT_MS, (bed) => {
      bed.kms.injectError('DeleteImportedKeyMaterial', 'ThrottlingException', { times: Infinity });
    }, (run) => {
      expectFailedInTime(run);
      expect(run.del.reason).toContain('kms:DeleteImportedKeyMaterial');
      expect(run.del.reason).toMatch(/The last error retried: ThrottlingException/);
      expectNothingRevoked(run);
      const deletes = kmsCalls(run, 'DeleteImportedKeyMaterial');
      // Retried within the quota's window until the budget ended it: several attempts per second.
      expect(deletes.length).toBeGreaterThan(5);
      expect(deletes.every((c) => c.errorType === 'ThrottlingException')).toBe(true);
    }));
});
