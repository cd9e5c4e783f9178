/**
 * LIFECYCLE L6 with LIFECYCLE "Logging and data" on the wire: a key holding 150 imported materials
 * (scope ALL) is revoked on stack deletion. Every material must be deleted by ID in the KMS
 * double, and the answer PUT to the ResponseURL must stay within CloudFormation's 4096-byte limit,
 * listing as many material IDs as fit followed by "+N more", with the count adding up.
 *
 * 150 DeleteImportedKeyMaterial calls against the 15/s quota also make this one invocation ride
 * out its own throttling (LIFECYCLE L17) for at least ten seconds.
 */
import { Stack } from 'aws-cdk-lib';
import { KeyMaterialRevocation } from '../../lib/index';
import { externalKey, ScenarioContext } from './scenarios';
import { TestBed } from './testbed';
import { formatTimeline } from './timeline';

const MATERIALS = 150;
const CFN_RESPONSE_LIMIT_BYTES = 4096;

describe('L6 / Logging and data: a key with 150 imported materials', () => {
  let bed: TestBed | undefined;
  afterAll(async () => { await bed?.stop(); });

  test('L6 stack deletion revokes all 150 materials; the response is <= 4096 bytes and RevokedMaterialIds ends with "+N more" adding up to 150', async () => {
    bed = await TestBed.start((stack: Stack) => {
      new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA') });
    }, { materialsPerKey: MATERIALS });
    const steps: string[] = [];
    const ctx: ScenarioContext = { bed, keys: {}, steps, step: async (name, work) => { steps.push(name); return work(); } };
    try {
      await ctx.step('create the stack', () => bed!.engine.create(bed!.template));
      expect(bed.engine.status).toBe('CREATE_COMPLETE');
      const arn = bed.keyArn(bed.logicalId('AWS::KMS::Key', 'KeyA'));
      const materials = bed.kms.key(arn)!.materials.map((m) => m.id);
      expect(materials).toHaveLength(MATERIALS);
      expect(new Set(materials).size).toBe(MATERIALS);

      await ctx.step('delete the stack', () => bed!.engine.deleteStack());
      expect(bed.engine.status).toBe('DELETE_COMPLETE');
      const [del] = bed.engine.answers.filter((a) => a.requestType === 'Delete');
      expect(del.responseStatus).toBe('SUCCESS');
      expect(del.invocation?.timedOut).toBe(false);

      // Every material deleted in the double, each once.
      const key = bed.kms.key(arn)!;
      expect(key.state).toBe('PendingImport');
      expect(key.materials.every((m) => m.importState === 'PENDING_IMPORT')).toBe(true);
      expect([...key.deletedMaterialIds].sort()).toEqual([...materials].sort());

      // The raw answer as CloudFormation's bucket received it.
      const raw = del.response!.rawBody;
      expect(Buffer.byteLength(raw, 'utf8')).toBeLessThanOrEqual(CFN_RESPONSE_LIMIT_BYTES);
      const body = JSON.parse(raw);
      expect(body.Data.KeyArn).toBe(arn);
      const parts = String(body.Data.RevokedMaterialIds).split(',');
      const more = /^\+(\d+) more$/.exec(parts[parts.length - 1]);
      expect(more).not.toBeNull();
      const listed = parts.slice(0, -1);
      expect(listed.length).toBeGreaterThan(0);
      expect(new Set(listed).size).toBe(listed.length);
      expect(listed.every((id) => materials.includes(id))).toBe(true);
      expect(listed.length + Number(more![1])).toBe(MATERIALS);

      // The decision log line keeps the full list (it has no 4096-byte limit).
      expect([...(del.decision?.materialIds ?? [])].sort()).toEqual([...materials].sort());
      console.log(`L6 150 materials: response ${Buffer.byteLength(raw)} bytes, ${listed.length} IDs listed + ${more![1]} more; ` +
        `Delete invocation ${del.invocation!.durationMs} ms; DeleteImportedKeyMaterial calls ${bed.kms.callsTo('DeleteImportedKeyMaterial').length} ` +
        `(${bed.kms.callsTo('DeleteImportedKeyMaterial').filter((c) => c.errorType === 'ThrottlingException').length} throttled)`);
    } catch (err) {
      (err as Error).message += `\n\nsteps: ${steps.join(' > ')}\nTimeline:\n${formatTimeline(ctx)}`;
      throw err;
    }
  }, 120_000);
});
