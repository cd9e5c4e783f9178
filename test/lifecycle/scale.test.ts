/**
 * LIFECYCLE L18 (with S5) on the wire: 250 KeyMaterialRevocations (the per-stack maximum) in ONE stack, deleted at once.
 *
 * The keys are imported by ARN (kms.Key.fromKeyArn) and pre-created in the KMS double with one
 * imported material each: 250 same-stack keys plus their revocations would exceed CloudFormation's
 * 500-resource limit. On deletion the engine sends the 250 Deletes of one dependency wave at once;
 * the runner runs them in up to MAX_CONTAINERS Lambda containers, and the KMS double enforces the
 * default quota of 15 DeleteImportedKeyMaterial requests per second for the account and Region.
 * Every Delete must succeed (no FAILED), every key must end revoked, the stack DELETE_COMPLETE.
 *
 * The deletion's wall time is compared with its lower bound, 250 / 15 = 17 s, and stored in
 * .test-output/lifecycle-scale.json (git-ignored) as well as printed.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KeyMaterialRevocation } from '../../lib/index';
import { ACCOUNT, REGION } from './assembly';
import { REVOCATION_TYPE } from './engine';
import { KMS_DEFAULT_QUOTAS } from '../doubles/kms-double';
import { TestBed } from './testbed';

const REVOCATIONS = 250;
const MAX_CONTAINERS = 24;
const CFN_RESOURCE_LIMIT = 500;
const QUOTA_PER_SECOND = KMS_DEFAULT_QUOTAS.DeleteImportedKeyMaterial;
const LOWER_BOUND_MS = (REVOCATIONS / QUOTA_PER_SECOND) * 1000;
const RESULTS_FILE = path.join(__dirname, '..', '..', '.test-output', 'lifecycle-scale.json');

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

describe('L18 250 revocation resources in one stack, deleted at once', () => {
  let bed: TestBed | undefined;
  afterAll(async () => { await bed?.stop(); });

  test(`L18 S5 all ${REVOCATIONS} Deletes succeed under the ${QUOTA_PER_SECOND}/s DeleteImportedKeyMaterial quota: no FAILED, every key revoked, DELETE_COMPLETE`, async () => {
    // Key IDs chosen up front, so the app can name the keys before the double holds them.
    const keyIds = Array.from({ length: REVOCATIONS }, () => randomUUID());
    const arns = keyIds.map((id) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`);
    bed = await TestBed.start((stack: Stack) => {
      arns.forEach((arn, i) => new KeyMaterialRevocation(stack, `Revocation${i}`, { key: kms.Key.fromKeyArn(stack, `Key${i}`, arn) }));
    }, { maxConcurrency: MAX_CONTAINERS });
    for (const keyId of keyIds) {
      expect(bed.kms.addKey({ keyId, origin: 'EXTERNAL', importedMaterials: 1 })).toBe(arns[keyIds.indexOf(keyId)]);
    }

    // S5: one function (and one role) for all of them, within CloudFormation's resource limit.
    const resources = Object.values(bed.template.Resources);
    expect(resources.filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(1);
    expect(resources.filter((r) => r.Type === 'AWS::IAM::Role')).toHaveLength(1);
    expect(resources.filter((r) => r.Type === REVOCATION_TYPE)).toHaveLength(REVOCATIONS);
    expect(resources.length).toBeLessThanOrEqual(CFN_RESOURCE_LIMIT);

    const createStarted = Date.now();
    await bed.engine.create(bed.template);
    const createMs = Date.now() - createStarted;
    expect(bed.engine.status).toBe('CREATE_COMPLETE');
    expect(bed.engine.answers.filter((a) => a.requestType === 'Create' && a.responseStatus === 'SUCCESS')).toHaveLength(REVOCATIONS);
    expect(bed.kms.callsTo('DeleteImportedKeyMaterial')).toEqual([]);

    bed.kms.resetCalls();
    const deleteStarted = Date.now();
    await bed.engine.deleteStack();
    const deleteMs = Date.now() - deleteStarted;

    const deletes = bed.engine.answers.filter((a) => a.requestType === 'Delete');
    const failed = deletes.filter((a) => a.responseStatus !== 'SUCCESS');
    const deleteCalls = bed.kms.callsTo('DeleteImportedKeyMaterial');
    const throttled = deleteCalls.filter((c) => c.errorType === 'ThrottlingException');
    const succeeded = deleteCalls.filter((c) => c.status === 200);
    const durations = deletes.map((a) => a.invocation!.durationMs).sort((a, b) => a - b);
    const results = {
      at: new Date().toISOString(),
      revocations: REVOCATIONS,
      cores: os.cpus().length,
      maxContainers: MAX_CONTAINERS,
      containersStarted: bed.runner.started,
      quotaPerSecond: QUOTA_PER_SECOND,
      createWallMs: createMs,
      deleteWallMs: deleteMs,
      deleteLowerBoundMs: LOWER_BOUND_MS,
      deleteWallOverLowerBound: Number((deleteMs / LOWER_BOUND_MS).toFixed(2)),
      deleteAnswers: deletes.length,
      failedAnswers: failed.length,
      failedReasons: [...new Set(failed.map((a) => a.reason ?? a.responseStatus))].slice(0, 5),
      deleteImportedKeyMaterialAttempts: deleteCalls.length,
      throttledAttempts: throttled.length,
      maxAttemptsForOneKey: Math.max(0, ...Object.values(deleteCalls.reduce<Record<string, number>>((n, c) => {
        n[c.request.KeyId] = (n[c.request.KeyId] ?? 0) + 1;
        return n;
      }, {}))),
      invocationMs: { p50: percentile(durations, 50), p90: percentile(durations, 90), max: durations[durations.length - 1] },
      timedOut: deletes.filter((a) => a.invocation?.timedOut).length,
    };
    fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
    fs.writeFileSync(RESULTS_FILE, JSON.stringify(results, null, 2) + '\n');
    console.log(`L18 scale: ${JSON.stringify(results, null, 2)}`);

    expect(results.failedAnswers).toBe(0);
    expect(deletes).toHaveLength(REVOCATIONS);
    expect(results.timedOut).toBe(0);
    expect(bed.engine.status).toBe('DELETE_COMPLETE');
    // Every key revoked, each by exactly one successful call.
    for (const arn of arns) {
      const key = bed.kms.key(arn)!;
      expect({ arn, state: key.state, materials: key.materials.map((m) => m.importState) })
        .toEqual({ arn, state: 'PendingImport', materials: ['PENDING_IMPORT'] });
    }
    expect(new Set(succeeded.map((c) => c.request.KeyId)).size).toBe(REVOCATIONS);
    // The quota was really in play (otherwise this test proves nothing about L18), and the
    // containers really ran at once.
    expect(throttled.length).toBeGreaterThan(0);
    expect(bed.runner.started).toBeGreaterThan(1);
    expect(bed.runner.started).toBeLessThanOrEqual(MAX_CONTAINERS);
  }, 240_000);
});
