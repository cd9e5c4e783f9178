/**
 * Keys and revocations on either side of a NestedStack boundary, each moved by an update: a root
 * revocation of a nested stack's key (named by the nested stack's output), a nested revocation of a
 * root key (passed down by CDK's reference parameter, or by a parameter of the user's). Found by a
 * hunt for plan/handler disagreements (test/plan/agreement.test.ts plays these too): the plan named
 * such keys by descriptions that did not change with the key, and the handler took a nested stack's
 * output for a same-stack key at destroy (DELETE_FAILED).
 */
import { CfnParameter, NestedStack, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KeyMaterialRevocation } from '../../lib/index';
import { allRevoked, Expect, externalKey, keyOf, noneRevoked, Scenario, ScenarioContext, update } from './scenarios';

type Build = (stack: Stack) => void;

/** Create with `first`, update to `second`, then (when asked) delete the stack. */
const play = (first: Build, second: Build, destroy: boolean) => async (ctx: ScenarioContext) => {
  await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.synth(first)));
  await update(ctx, 'the update', second);
  if (destroy) await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
};

/** A root revocation of one of two keys defined in a nested stack. */
const rootOfNestedKey = (which: 'A' | 'B'): Build => (stack) => {
  const inner = new NestedStack(stack, 'Inner');
  const a = externalKey(inner, 'InnerKeyA');
  const b = externalKey(inner, 'InnerKeyB');
  new KeyMaterialRevocation(stack, 'Revocation', { key: which === 'A' ? a : b });
};

/** A nested revocation of one of two root keys, passed down as a parameter the user names. */
const nestedByParameter = (which: 'A' | 'B'): Build => (stack) => {
  const a = externalKey(stack, 'RootKeyA');
  const b = externalKey(stack, 'RootKeyB');
  const inner = new NestedStack(stack, 'Inner', { parameters: { KeyArnParam: (which === 'A' ? a : b).keyArn } });
  const param = new CfnParameter(inner, 'KeyArnParam', { type: 'String' });
  new KeyMaterialRevocation(inner, 'Revocation', { key: kms.Key.fromKeyArn(inner, 'Key', param.valueAsString) });
};

/** A nested revocation of one of two root keys, passed down by CDK's own reference parameter. */
const nestedOfRootKey = (which: 'A' | 'B'): Build => (stack) => {
  const a = externalKey(stack, 'RootKeyA');
  const b = externalKey(stack, 'RootKeyB');
  new KeyMaterialRevocation(new NestedStack(stack, 'Inner'), 'Revocation', { key: which === 'A' ? a : b });
};

const movedFromAtoB = (prefix: string) => (ctx: ScenarioContext, expect: Expect) => {
  expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
  // A in the update's cleanup, B when the stack was deleted: both revoked, each once.
  expect(allRevoked(ctx, keyOf(ctx, `${prefix}A`))).toBe(true);
  expect(allRevoked(ctx, keyOf(ctx, `${prefix}B`))).toBe(true);
  const failed = ctx.bed.engine.answers.filter((a) => a.responseStatus !== 'SUCCESS');
  expect(failed.map((a) => `${a.requestType} ${a.logicalId}: ${a.reason}`)).toEqual([]);
};

/** A revocation moved by an update from the key `build('A')` names to the one `build('B')` names, then the stack deleted. */
const moved = (name: string, rows: string[], description: string, build: (which: 'A' | 'B') => Build, prefix: string): Scenario => ({
  name, rows, description, app: build('A'), play: play(build('A'), build('B'), true), check: movedFromAtoB(prefix),
});

export const NESTED_KEY_SCENARIOS: Scenario[] = [
  moved('root-revocation-of-nested-key-moved', ['L9', 'L6', 'S10'],
    'A root revocation pointed from one key of a nested stack to the other (both named by the nested stack\'s outputs): the first is revoked in cleanup; deleting the stack revokes the second.',
    rootOfNestedKey, 'InnerKey'),
  moved('nested-revocation-of-root-key-by-named-parameter-moved', ['L9', 'L22', 'S7'],
    'A nested revocation whose key comes from a root key through a parameter the user names; the update passes the other root key: the first is revoked in cleanup, the second when the stack is deleted.',
    nestedByParameter, 'RootKey'),
  moved('nested-revocation-of-root-key-moved', ['L9', 'L22', 'S10'],
    'A nested revocation pointed from one root key to another (CDK\'s own reference parameter): the first is revoked in cleanup, the second when the stack is deleted.',
    nestedOfRootKey, 'RootKey'),
  {
    name: 'nested-stack-with-revocation-of-root-key-removed',
    rows: ['L24', 'L12'],
    description: 'A nested stack holding the only revocation of a root key (revokeOnRemoval) is removed by a successful update: the key, which stays, is revoked.',
    app: (stack) => { new KeyMaterialRevocation(new NestedStack(stack, 'Inner'), 'Revocation', { key: externalKey(stack, 'RootKey'), revokeOnRemoval: true }); },
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the nested stack', (stack) => { externalKey(stack, 'RootKey'); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'RootKey'))).toBe(true);
    },
  },
  {
    name: 'root-revocations-of-nested-keys-one-removed',
    rows: ['L12', 'L6'],
    description: 'Two root revocations of two keys of one nested stack, both with revokeOnRemoval; one is removed: its key is revoked, the other key not until the stack is deleted.',
    app: (stack) => {
      const inner = new NestedStack(stack, 'Inner');
      new KeyMaterialRevocation(stack, 'RevA', { key: externalKey(inner, 'InnerKeyA'), revokeOnRemoval: true });
      new KeyMaterialRevocation(stack, 'RevB', { key: externalKey(inner, 'InnerKeyB'), revokeOnRemoval: true });
    },
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove RevA', (stack) => {
        const inner = new NestedStack(stack, 'Inner');
        externalKey(inner, 'InnerKeyA');
        new KeyMaterialRevocation(stack, 'RevB', { key: externalKey(inner, 'InnerKeyB'), revokeOnRemoval: true });
      });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'InnerKeyA'))).toBe(true);
      expect(noneRevoked(ctx, keyOf(ctx, 'InnerKeyB'))).toBe(true);
    },
  },
];
