/**
 * Multi-Region keys over the wire (LIFECYCLE M1): the real handler bundle against the KMS double,
 * which keeps a multi-Region key's primary and replicas as keys of their own Regions (same mrk-
 * key ID, material per Region) and serves every Region on one endpoint, telling them apart by the
 * Region each request is signed for. Policies are enforced from the stack's own IAM policies, so
 * the handler's Region-wildcard grant is what lets it act in the replicas' Regions.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KeyMaterialRevocation, KeyMaterialRevocationProps } from '../../lib/index';
import { ACCOUNT, REGION } from './assembly';
import { enforceIamPolicies } from './iam-state';
import { ROLE_CREDENTIALS } from './lambda-runner';
import { allRevoked, Expect, externalKey, keyOf, noneRevoked, Scenario, ScenarioContext } from './scenarios';

const KEY_ID = 'mrk-5eed0000000000000000000000000001';
/** The primary, imported by its ARN: known at synth to be multi-Region by its mrk- key ID. */
const PRIMARY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`;
const replicaIn = (region: string) => PRIMARY.replace(`:${REGION}:`, `:${region}:`);
const EAST = replicaIn('us-east-1');
const SOUTH = replicaIn('ap-south-1');

/** The primary in the stack's Region with two materials, and replicas in us-east-1 and ap-south-1 holding the same. */
function primaryWithTwoReplicas(ctx: ScenarioContext): void {
  ctx.bed.kms.addKey({ keyId: KEY_ID, multiRegion: true, origin: 'EXTERNAL', importedMaterials: 2 });
  ctx.bed.kms.replicateKey(PRIMARY, 'us-east-1');
  ctx.bed.kms.replicateKey(PRIMARY, 'ap-south-1');
}

const revocationOf = (props: Partial<KeyMaterialRevocationProps> = {}) => (stack: Stack) => {
  new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Imported', PRIMARY), ...props });
};

function answersOf(ctx: ScenarioContext, requestType: string) {
  return ctx.bed.engine.answers.filter((a) => a.requestType === requestType);
}

/** The Regions the handler's DeleteImportedKeyMaterial calls were signed for, and that each was the handler's. */
function deleteRegions(ctx: ScenarioContext, expect: Expect): string[] {
  const calls = ctx.bed.kms.callsTo('DeleteImportedKeyMaterial').filter((c) => c.status === 200);
  for (const c of calls) expect(c.accessKeyId).toBe(ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID);
  return [...new Set(calls.map((c) => c.region!))];
}

/** The warnings an app gives at synth, as a user's `cdk synth` would show them. */
function synthWarnings(build: (stack: Stack) => void): string[] {
  const stack = new Stack(new App(), 'Warnings', { env: { account: ACCOUNT, region: REGION } });
  build(stack);
  return Annotations.fromStack(stack).findWarning('*', Match.anyValue()).map((w) => String(w.entry.data));
}

export const REGION_SCENARIOS: Scenario[] = [
  {
    name: 'multi-region-stack-delete',
    rows: ['M1', 'L6'],
    description: 'Stack deletion of a revocation of a multi-Region primary (by ARN) with two replicas revokes every material in all three Regions, under the stack\'s own IAM policies.',
    app: revocationOf(),
    play: async (ctx) => {
      primaryWithTwoReplicas(ctx);
      enforceIamPolicies(ctx.bed);
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.kms.enforcingPolicies).toBe(true);
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      for (const arn of [PRIMARY, EAST, SOUTH]) {
        expect({ arn, revoked: allRevoked(ctx, arn), state: ctx.bed.kms.key(arn)!.state }).toEqual({ arn, revoked: true, state: 'PendingImport' });
        expect(ctx.bed.kms.key(arn)!.deletedMaterialIds).toHaveLength(2);
      }
      expect(deleteRegions(ctx, expect).sort()).toEqual(['ap-south-1', 'eu-west-1', 'us-east-1']);
      const [del] = answersOf(ctx, 'Delete');
      expect(del.responseStatus).toBe('SUCCESS');
      expect(del.decision?.reason).toContain('multi-Region key revoked in 3 Region(s)');
      expect(ctx.bed.kms.calls.filter((c) => c.errorType === 'AccessDeniedException')).toEqual([]);
    },
  },
  {
    name: 'multi-region-replica-added-after-deployment',
    rows: ['M1', 'L6'],
    description: 'A same-stack key with MultiRegion true gets a replica after deployment (material imported there too): stack deletion revokes the primary and the replica, granted by the key ID in any Region.',
    app: (stack) => {
      const key = externalKey(stack, 'KeyA');
      (key.node.defaultChild as kms.CfnKey).multiRegion = true;
      new KeyMaterialRevocation(stack, 'Revocation', { key });
    },
    play: async (ctx) => {
      enforceIamPolicies(ctx.bed);
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('replicate the key into us-west-2 and import the same material there', async () => {
        ctx.bed.kms.replicateKey(keyOf(ctx, 'KeyA'), 'us-west-2');
      });
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      const primary = keyOf(ctx, 'KeyA');
      const replica = primary.replace(`:${REGION}:`, ':us-west-2:');
      expect(primary.split('/')[1]).toMatch(/^mrk-/);
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect(allRevoked(ctx, primary)).toBe(true);
      expect(allRevoked(ctx, replica)).toBe(true);
      expect(ctx.bed.kms.key(replica)!.state).toBe('PendingImport');
      expect(deleteRegions(ctx, expect).sort()).toEqual(['eu-west-1', 'us-west-2']);
      expect(ctx.bed.kms.calls.filter((c) => c.errorType === 'AccessDeniedException')).toEqual([]);
    },
  },
  {
    name: 'multi-region-key-region-only',
    rows: ['M1', 'L6'],
    description: 'revokeReplicas off: stack deletion revokes the primary\'s own Region only, the replicas keep their material, and synth warns that one Region only is covered.',
    app: revocationOf({ revokeReplicas: false }),
    play: async (ctx) => {
      primaryWithTwoReplicas(ctx);
      enforceIamPolicies(ctx.bed);
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect(allRevoked(ctx, PRIMARY)).toBe(true);
      expect(noneRevoked(ctx, EAST)).toBe(true);
      expect(noneRevoked(ctx, SOUTH)).toBe(true);
      expect(ctx.bed.kms.key(EAST)!.state).toBe('Enabled');
      expect(deleteRegions(ctx, expect)).toEqual([REGION]);
      expect(answersOf(ctx, 'Delete')[0].decision?.reason).toContain('own Region eu-west-1 only');
      expect(synthWarnings(revocationOf({ revokeReplicas: false }))).toEqual([(expect as any).stringMatching(/multi-Region key and revokeReplicas is off/)]);
      expect(synthWarnings(revocationOf())).toEqual([]);
    },
  },
  {
    name: 'multi-region-replica-denied',
    rows: ['M1', 'L16'],
    description: 'DeleteImportedKeyMaterial denied in one replica\'s Region: the Delete answers FAILED naming that Region and the action, the other Regions are revoked, and the stack stops in DELETE_FAILED.',
    app: revocationOf(),
    play: async (ctx) => {
      primaryWithTwoReplicas(ctx);
      ctx.bed.kms.deny({ op: 'DeleteImportedKeyMaterial', keyArn: SOUTH, policy: 'scp' });
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_FAILED');
      const dels = answersOf(ctx, 'Delete');
      expect(dels.length).toBeGreaterThan(0);
      for (const del of dels) {
        expect(del.responseStatus).toBe('FAILED');
        expect(del.reason).toContain('failed in 1 of 3 Regions (ap-south-1)');
        expect(del.reason).toContain(`in ap-south-1: kms:DeleteImportedKeyMaterial was denied on ${SOUTH}`);
      }
      expect(allRevoked(ctx, PRIMARY)).toBe(true);
      expect(allRevoked(ctx, EAST)).toBe(true);
      expect(noneRevoked(ctx, SOUTH)).toBe(true);
    },
  },
];
