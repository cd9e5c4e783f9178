/**
 * Keys and revocations on either side of a NestedStack boundary, each moved by an update: a root
 * revocation of a nested stack's key (named by the nested stack's output), a nested revocation of a
 * root key (passed down by CDK's reference parameter, or by a parameter of the user's). Found by a
 * hunt for plan/handler disagreements (test/plan/agreement.test.ts plays these too): the plan named
 * such keys by descriptions that did not change with the key, and the handler took a nested stack's
 * output for a same-stack key at destroy (DELETE_FAILED).
 */
import { CfnParameter, CfnWaitConditionHandle, NestedStack, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KeyMaterialRevocation } from '../../lib/index';
import { KEY_TAG } from '../../lib/contract';
import { allRevoked, Expect, externalKey, keyOf, noneRevoked, revokedBeforeScheduled, Scenario, ScenarioContext, update } from './scenarios';

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

// ---- S10, L13 across the tree: a key of another stack removed together with its revocation ------

/** A stack with no revocation left in it keeps one resource (a template needs one). */
const placeholder = (stack: Stack) => new CfnWaitConditionHandle(stack, 'Placeholder');

const noFailure = (ctx: ScenarioContext, expect: Expect) =>
  expect(ctx.bed.engine.answers.filter((a) => a.responseStatus !== 'SUCCESS').map((a) => `${a.requestType} ${a.logicalId}: ${a.reason}`)).toEqual([]);

/** One Delete was answered, for the revocation, and its reason says `why`. */
function expectOneDelete(ctx: ScenarioContext, expect: Expect, why: string): void {
  const deletes = ctx.bed.engine.answers.filter((a) => a.requestType === 'Delete');
  expect(deletes.map((a) => a.logicalId.startsWith('Revocation'))).toEqual([true]);
  expect(deletes[0].decision?.reason).toContain(why);
}

/** A root key (DESTROY) and a nested stack whose revocation manages it (CDK's reference parameter). */
const rootKeyNestedRevocation = (props: { revokeOnStackDelete?: boolean; revokeOnRemoval?: boolean } = {}) => (stack: Stack) => {
  const key = externalKey(stack, 'RootKey', RemovalPolicy.DESTROY);
  const inner = new NestedStack(stack, 'Inner');
  placeholder(inner);
  new KeyMaterialRevocation(inner, 'Revocation', { key, ...props });
};

/** A nested stack's key (DESTROY) and a root revocation of it (the nested stack's output). */
const nestedKeyRootRevocation = (props: { revokeOnRemoval?: boolean } = {}) => (stack: Stack) => {
  const inner = new NestedStack(stack, 'Inner');
  placeholder(inner);
  new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(inner, 'InnerKey', RemovalPolicy.DESTROY), ...props });
};

const TAGGED_KEY_SCENARIOS: Scenario[] = [
  {
    name: 'nested-revocation-removed-with-root-key',
    rows: ['S10', 'L13'],
    description: 'A nested revocation of a root key; one update removes both (the nested stack stays): the key still carries the tag the construct gave it, so the nested handler revokes it before the root schedules its deletion.',
    app: rootKeyNestedRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the root key and the nested revocation', (stack) => { placeholder(new NestedStack(stack, 'Inner')); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      revokedBeforeScheduled(ctx, expect, keyOf(ctx, 'RootKey'));
      expectOneDelete(ctx, expect, 'together with its key, defined in another stack of this tree');
      noFailure(ctx, expect);
    },
  },
  {
    name: 'nested-stack-removed-with-root-key',
    rows: ['S10', 'L24', 'L13'],
    description: 'A nested stack holding the revocation of a root key is removed together with the key: the key goes with its revocation, and is revoked before its deletion is scheduled.',
    app: rootKeyNestedRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the root key and the nested stack', placeholder);
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      revokedBeforeScheduled(ctx, expect, keyOf(ctx, 'RootKey'));
      noFailure(ctx, expect);
    },
  },
  {
    name: 'nested-revocation-removed-root-key-stays',
    rows: ['S10', 'L12'],
    description: 'A nested revocation of a root key is removed and the key stays: the update takes the tag off the key in its update phase, so the cleanup keeps the key.',
    app: rootKeyNestedRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the nested revocation', (stack) => {
        externalKey(stack, 'RootKey', RemovalPolicy.DESTROY);
        placeholder(new NestedStack(stack, 'Inner'));
      });
    },
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'RootKey');
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(noneRevoked(ctx, arn)).toBe(true);
      expect(ctx.bed.kms.key(arn)!.tags[KEY_TAG]).toBeUndefined();
      expectOneDelete(ctx, expect, 'revokeOnRemoval is off');
      noFailure(ctx, expect);
    },
  },
  {
    name: 'nested-stack-removed-root-key-stays',
    rows: ['S10', 'L24', 'L12'],
    description: 'A nested stack holding the revocation of a root key is removed and the key stays (revokeOnRemoval off): nothing is revoked.',
    app: rootKeyNestedRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the nested stack', (stack) => { externalKey(stack, 'RootKey', RemovalPolicy.DESTROY); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(noneRevoked(ctx, keyOf(ctx, 'RootKey'))).toBe(true);
      noFailure(ctx, expect);
    },
  },
  {
    name: 'nested-revocation-and-root-key-removal-rolls-back',
    rows: ['S10', 'L13', 'L20'],
    description: 'The update that removes a root key and its nested revocation fails: the rollback gives everything back, revokes nothing, and the key keeps its tag.',
    app: rootKeyNestedRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('remove both, with a failing resource', () => ctx.bed.engine.update(ctx.bed.synth((stack) => {
        placeholder(new NestedStack(stack, 'Inner'));
        new CfnWaitConditionHandle(stack, 'Doomed');
      }), { failOn: 'Doomed' }));
    },
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'RootKey');
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      expect(noneRevoked(ctx, arn)).toBe(true);
      expect(ctx.bed.kms.key(arn)!.tags[KEY_TAG]).toBe('true');
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial')).toHaveLength(0);
    },
  },
  {
    name: 'nested-revocation-removed-with-root-key-revoke-on-stack-delete-off',
    rows: ['S10', 'L13', 'L7'],
    description: 'As removal together, with revokeOnStackDelete off: the key keeps its material until deleted, as for a same-stack key.',
    app: rootKeyNestedRevocation({ revokeOnStackDelete: false }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the root key and the nested revocation', (stack) => { placeholder(new NestedStack(stack, 'Inner')); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(noneRevoked(ctx, keyOf(ctx, 'RootKey'))).toBe(true);
      expectOneDelete(ctx, expect, 'revokeOnStackDelete is off');
    },
  },
  {
    name: 'root-revocation-removed-with-nested-key',
    rows: ['S10', 'L13'],
    description: 'A root revocation of a nested stack\'s key; one update removes both (the nested stack stays): the root handler revokes the key, which still carries its tag. In the order the bed models (GUESS: nested stacks clean up before the root), the nested stack has scheduled the key\'s deletion by then, and KMS deletes the material of a key pending deletion.',
    app: nestedKeyRootRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the nested key and the root revocation', (stack) => { placeholder(new NestedStack(stack, 'Inner')); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'InnerKey'))).toBe(true);
      expect(ctx.bed.kms.key(keyOf(ctx, 'InnerKey'))!.state).toBe('PendingDeletion');
      noFailure(ctx, expect);
    },
  },
  {
    name: 'root-revocation-removed-nested-key-stays',
    rows: ['S10', 'L12'],
    description: 'A root revocation of a nested stack\'s key is removed and the key stays (revokeOnRemoval off): the nested stack\'s update took the tag off, nothing is revoked.',
    app: nestedKeyRootRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the root revocation', (stack) => {
        const inner = new NestedStack(stack, 'Inner');
        placeholder(inner);
        externalKey(inner, 'InnerKey', RemovalPolicy.DESTROY);
      });
    },
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'InnerKey');
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(noneRevoked(ctx, arn)).toBe(true);
      expect(ctx.bed.kms.key(arn)!.tags[KEY_TAG]).toBeUndefined();
      noFailure(ctx, expect);
    },
  },
  {
    name: 'nested-stack-with-revocation-of-root-key-renamed',
    rows: ['S10', 'L24', 'L12'],
    description: 'The nested stack holding the revocation of a root key is renamed: the copy in the new nested stack keeps the key tagged, and the old one\'s Delete finds it managing the key: nothing revoked.',
    app: rootKeyNestedRevocation({ revokeOnRemoval: true }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'rename the nested stack', (stack) => {
        const key = externalKey(stack, 'RootKey', RemovalPolicy.DESTROY);
        const renamed = new NestedStack(stack, 'Renamed');
        placeholder(renamed);
        new KeyMaterialRevocation(renamed, 'Revocation', { key, revokeOnRemoval: true });
      });
    },
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'RootKey');
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(noneRevoked(ctx, arn)).toBe(true);
      expect(ctx.bed.kms.key(arn)!.tags[KEY_TAG]).toBe('true');
      expectOneDelete(ctx, expect, 'still manages the same key');
      noFailure(ctx, expect);
    },
  },
  {
    name: 'tag-removed-outside-cloudformation-fails-the-update',
    rows: ['S10', 'L28', 'L10'],
    description: 'Someone takes the tag off a root key outside CloudFormation; the next update of its nested revocation fails in the update phase (a later cleanup would take the key for one that stays) and rolls back, revoking nothing.',
    app: rootKeyNestedRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('untag the key by hand', async () => ctx.bed.kms.retag(keyOf(ctx, 'RootKey'), {}, [KEY_TAG]));
      await update(ctx, 'change the revocation in place', rootKeyNestedRevocation({ revokeOnRemoval: true }));
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      const failed = ctx.bed.engine.answers.filter((a) => a.responseStatus === 'FAILED');
      expect(failed.map((a) => a.requestType)).toEqual(['Update']);
      expect(failed[0].reason).toContain(`does not carry the tag ${KEY_TAG}`);
      expect(noneRevoked(ctx, keyOf(ctx, 'RootKey'))).toBe(true);
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial')).toHaveLength(0);
    },
  },
  {
    name: 'sibling-nested-revocation-removed-with-key',
    rows: ['S10', 'L13', 'L24'],
    description: 'A revocation in one nested stack of a key in a sibling nested stack; one update removes the revocation\'s nested stack and the key: revoked.',
    app: (stack) => {
      const keys = new NestedStack(stack, 'Keys');
      placeholder(keys);
      const key = externalKey(keys, 'SiblingKey', RemovalPolicy.DESTROY);
      new KeyMaterialRevocation(new NestedStack(stack, 'Revocations'), 'Revocation', { key });
    },
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the key and the revocations\' nested stack', (stack) => { placeholder(new NestedStack(stack, 'Keys')); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'SiblingKey'))).toBe(true);
      noFailure(ctx, expect);
    },
  },
];

NESTED_KEY_SCENARIOS.push(...TAGGED_KEY_SCENARIOS);
