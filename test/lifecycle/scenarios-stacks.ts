/**
 * Lifecycle scenarios of stack shapes beyond a single stack that deploys cleanly: nested stacks
 * (CDK NestedStack, LIFECYCLE L22-L24, S11), creates that fail without a rollback status (L25),
 * stack refactoring (L27), and an update rollback continued with skipped resources (L20). Played
 * and checked like SCENARIOS (test/lifecycle/lifecycle.test.ts, `npm run simulate`).
 *
 * The event orders are the engine's (test/lifecycle/engine.ts, which cites the CloudFormation
 * documentation for each and marks GUESS where it is silent). Results are the contract's.
 */
import { CloudFormationClient, DescribeStacksCommand, Stack as CfnStack } from '@aws-sdk/client-cloudformation';
import { CfnWaitConditionHandle, NestedStack, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { KeyMaterialRevocation, KeyMaterialRevocationProps } from '../../lib/index';
import { REGION } from './assembly';
import { StackEngine, TimelineEntry } from './engine';
import {
  allRevoked, answersOf, deletesOn, Expect, externalKey, gathered, keyOf, noneRevoked, Scenario, ScenarioContext, update,
} from './scenarios';

// ---- app building blocks -----------------------------------------------------------------------

/** A key imported by ARN into `scope` (a stack or nested stack). */
const byArn = (scope: Construct, keys: Record<string, string>, name = 'Byok') => kms.Key.fromKeyArn(scope, `Imported${name}`, keys[name]);

/** A NestedStack `id` with a revocation of the preexisting key Byok, imported by ARN. */
function nestedWithImported(stack: Stack, keys: Record<string, string>, props: Partial<KeyMaterialRevocationProps> = {}, id = 'Inner'): NestedStack {
  const nested = new NestedStack(stack, id);
  new KeyMaterialRevocation(nested, 'Revocation', { key: byArn(nested, keys), ...props });
  return nested;
}

/** A resource of the root that the scenario makes CloudFormation fail on, after `after` completed. */
function doomedAfter(stack: Stack, after: Construct): void {
  new CfnWaitConditionHandle(stack, 'Doomed').node.addDependency(after);
}

/** Something for the root to hold when everything else is gone (a stack cannot be empty). */
const placeholder = (stack: Stack) => new CfnWaitConditionHandle(stack, 'Placeholder');

// ---- helpers for plays and checks --------------------------------------------------------------

/** The nested stack (engine) of the root whose logical ID starts with `prefix`. */
const nestedOf = (ctx: ScenarioContext, prefix = 'Inner'): StackEngine => ctx.bed.engine.nested(prefix);

/** Answers sent by a nested stack (any nested stack when no engine is given). */
function nestedAnswers(ctx: ScenarioContext, engine?: StackEngine): TimelineEntry[] {
  return ctx.bed.engine.answers.filter((a) => (engine ? a.stackId === engine.stackId : a.stackId !== ctx.bed.engine.stackId && a.rootStatus !== undefined));
}

/** Stack statuses a stack went through, from its events in the CloudFormation double. */
function statusesOf(ctx: ScenarioContext, stackId: string): string[] {
  return ctx.bed.cfn.stackEvents(stackId)
    .filter((e) => e.type === 'AWS::CloudFormation::Stack' && e.physicalId === stackId)
    .map((e) => e.status);
}


async function describeStack(ctx: ScenarioContext, stackId: string): Promise<CfnStack> {
  const client = new CloudFormationClient({
    region: REGION, endpoint: ctx.bed.cfn.endpoint, credentials: { accessKeyId: 'AKIAOPERATOR', secretAccessKey: 'operator' },
  });
  try {
    return (await client.send(new DescribeStacksCommand({ StackName: stackId }))).Stacks![0];
  } finally {
    client.destroy();
  }
}

const NO_WRITES = (ctx: ScenarioContext) => ctx.bed.kms.callsTo('DeleteImportedKeyMaterial').filter((c) => c.status === 200);

/** The first Delete the nested stack's handler answered. */
function nestedDelete(ctx: ScenarioContext, nested: StackEngine): TimelineEntry {
  const del = nestedAnswers(ctx, nested).find((a) => a.requestType === 'Delete');
  if (!del) throw new Error(`nested stack ${nested.stackName} answered no Delete`);
  return del;
}

/** The nested stack was created, then deleted by its root in `rootStatus`, and revoked nothing (L23, L25). */
function expectNestedCreatedThenDeletedRevokingNothing(ctx: ScenarioContext, expect: Expect, rootStatus: string): void {
  const nested = nestedOf(ctx);
  expect(statusesOf(ctx, nested.stackId)).toEqual(['CREATE_IN_PROGRESS', 'CREATE_COMPLETE', 'DELETE_IN_PROGRESS', 'DELETE_COMPLETE']);
  expect(nestedDelete(ctx, nested)).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', rootStatus, responseStatus: 'SUCCESS' });
  expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
  expect(NO_WRITES(ctx)).toHaveLength(0);
}

// ---- the scenarios -----------------------------------------------------------------------------

export const STACK_SCENARIOS: Scenario[] = [
  {
    name: 'nested-stack-delete',
    rows: ['L22', 'L6'],
    description: 'A revocation in a NestedStack of a key imported by ARN; the root is deleted: the nested stack is DELETE_IN_PROGRESS under a root DELETE_IN_PROGRESS, and the key is revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => { nestedWithImported(stack, keys); },
    play: async (ctx) => {
      await ctx.step('create the root (with the nested stack)', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the root', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      const nested = nestedOf(ctx);
      expect(nested.status).toBe('DELETE_COMPLETE');
      const del = answersOf(ctx, 'Delete').find((a) => a.stackId === nested.stackId)!;
      expect(del).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', rootStatus: 'DELETE_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(ctx.bed.kms.key(ctx.keys.Byok)!.state).toBe('PendingImport');
    },
  },
  {
    name: 'nested-stack-delete-off',
    rows: ['L22', 'L7'],
    description: 'The same, with revokeOnStackDelete off: the root is deleted and nothing is revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => { nestedWithImported(stack, keys, { revokeOnStackDelete: false }); },
    play: async (ctx) => {
      await ctx.step('create the root (with the nested stack)', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the root', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      const [del] = nestedAnswers(ctx).filter((a) => a.requestType === 'Delete');
      expect(del).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', rootStatus: 'DELETE_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'nested-create-rollback',
    rows: ['L23', 'L4', 'L20'],
    description: 'The root\'s create fails on a root resource after the nested stack completed: the root rolls back and deletes the nested stack (nested DELETE_IN_PROGRESS, root ROLLBACK_IN_PROGRESS): nothing revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => { doomedAfter(stack, nestedWithImported(stack, keys)); },
    play: async (ctx) => {
      await ctx.step('create the root; Doomed (after the nested stack) fails', () => ctx.bed.engine.create(ctx.bed.template, { failOn: 'Doomed' }));
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('ROLLBACK_COMPLETE');
      expectNestedCreatedThenDeletedRevokingNothing(ctx, expect, 'ROLLBACK_IN_PROGRESS');
    },
  },
  {
    name: 'nested-added-update-rollback',
    rows: ['L23', 'L20'],
    description: 'A root update that adds the nested stack fails: the rollback deletes the added nested stack (nested DELETE_IN_PROGRESS, root UPDATE_ROLLBACK_*): nothing revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack) => { placeholder(stack); },
    play: async (ctx) => {
      await ctx.step('create the root', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'add the nested stack; Doomed (after it) fails', (stack) => {
        placeholder(stack);
        doomedAfter(stack, nestedWithImported(stack, ctx.keys));
      }, 'Doomed');
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      const nested = nestedOf(ctx);
      expect(nested.status).toBe('DELETE_COMPLETE');
      const del = nestedDelete(ctx, nested);
      expect(del.stackStatus).toBe('DELETE_IN_PROGRESS');
      expect(del.rootStatus).toMatch(/^UPDATE_ROLLBACK_/);
      expect(del.responseStatus).toBe('SUCCESS');
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'nested-removed',
    rows: ['L24', 'L12'],
    description: 'A successful root update removes the nested stack, whose revocations manage a key imported by ARN and a key of the root passed in as a parameter (revokeOnRemoval off): neither is revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => {
      const rootKey = externalKey(stack, 'RootKey');
      const nested = nestedWithImported(stack, keys);
      new KeyMaterialRevocation(nested, 'ParentKeyRevocation', { key: rootKey });
    },
    play: async (ctx) => {
      await ctx.step('create the root (with the nested stack)', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the nested stack; RootKey stays', (stack) => { externalKey(stack, 'RootKey'); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const nested = nestedOf(ctx);
      expect(nested.status).toBe('DELETE_COMPLETE');
      const parameterised = Object.values(nested.template.Resources).find((r) => r.Type === 'Custom::KmsKeyMaterialRevocation' &&
        JSON.stringify(r.Properties?.KeyArn).includes('"Ref"'));
      expect(parameterised).toBeDefined(); // the root's key arrives as a parameter of the nested stack
      const deletes = nestedAnswers(ctx, nested).filter((a) => a.requestType === 'Delete');
      expect(deletes).toHaveLength(2);
      for (const del of deletes) {
        expect(del).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', rootStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      }
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(noneRevoked(ctx, keyOf(ctx, 'RootKey'))).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'nested-removed-with-key',
    rows: ['L24', 'L13'],
    description: 'A successful root update removes the nested stack with the key defined inside it (RemovalPolicy.DESTROY): revoked before the key is scheduled for deletion.',
    app: (stack) => {
      const nested = new NestedStack(stack, 'Inner');
      new KeyMaterialRevocation(nested, 'Revocation', { key: externalKey(nested, 'InnerKey', RemovalPolicy.DESTROY) });
    },
    play: async (ctx) => {
      await ctx.step('create the root (with the nested stack)', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the nested stack', (stack) => { placeholder(stack); });
    },
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'InnerKey');
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [del] = nestedAnswers(ctx, nestedOf(ctx)).filter((a) => a.requestType === 'Delete');
      expect(del).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', rootStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(allRevoked(ctx, arn)).toBe(true);
      const scheduled = ctx.bed.engine.scheduledKeyDeletions.find((s) => s.arn === arn)!;
      expect(scheduled).toBeDefined();
      expect(Math.max(...deletesOn(ctx, arn).map((c) => c.at))).toBeLessThanOrEqual(scheduled.at);
      expect(ctx.bed.kms.key(arn)!.state).toBe('PendingDeletion');
    },
  },
  {
    name: 'nested-renamed',
    rows: ['L24', 'L12'],
    description: 'A successful root update renames the nested stack (new logical ID, same content), revokeOnRemoval on, key imported by ARN: the new nested stack\'s revocation manages the same key, nothing is revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => { nestedWithImported(stack, keys, { revokeOnRemoval: true }); },
    play: async (ctx) => {
      await ctx.step('create the root (with the nested stack)', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'rename the nested stack', (stack) => { nestedWithImported(stack, ctx.keys, { revokeOnRemoval: true }, 'Renamed'); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [oldNested, newNested] = [nestedOf(ctx, 'Inner'), nestedOf(ctx, 'Renamed')];
      expect(oldNested.status).toBe('DELETE_COMPLETE');
      expect(newNested.status).toBe('CREATE_COMPLETE');
      const [create] = nestedAnswers(ctx, newNested).filter((a) => a.requestType === 'Create');
      expect(create.rootStatus).toBe('UPDATE_IN_PROGRESS');
      const [del] = nestedAnswers(ctx, oldNested).filter((a) => a.requestType === 'Delete');
      expect(del).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', rootStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(del.at).toBeGreaterThan(create.at);
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'moved-into-nested-stack',
    rows: ['L24', 'L12', 'S11', 'L22'],
    description: 'A root revocation of a key imported by ARN (revokeOnRemoval on) is moved by an update into a new nested stack: the nested revocation manages the key, so the root\'s cleanup Delete revokes nothing; deleting the stack then revokes it.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => { new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, keys), revokeOnRemoval: true }); },
    play: async (ctx) => {
      await ctx.step('create the root (the revocation in it)', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'move the revocation into a nested stack', (stack) => { nestedWithImported(stack, ctx.keys, { revokeOnRemoval: true }); });
      gathered.set(ctx, { afterUpdate: noneRevoked(ctx, ctx.keys.Byok), answered: ctx.bed.engine.answers.length });
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      const { afterUpdate, answered } = gathered.get(ctx) as { afterUpdate: boolean; answered: number };
      expect(afterUpdate).toBe(true);
      const rootDelete = ctx.bed.engine.answers.slice(0, answered)
        .find((a) => a.stackId === ctx.bed.engine.stackId && a.requestType === 'Delete' && a.logicalId.startsWith('Revocation'));
      expect(rootDelete).toMatchObject({ stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(rootDelete!.decision).toMatchObject({ decision: 'skipped' });
      expect(rootDelete!.decision!.reason).toMatch(/still manages the same key/);
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
    },
  },
  {
    name: 'removed-beside-nested-stack',
    rows: ['L12', 'S11'],
    description: 'A root revocation (revokeOnRemoval on) is removed while the root keeps a nested stack whose revocation manages another key: the root\'s handler reads the nested stack, finds no other revocation of its key, and revokes it; the other key is untouched.',
    preexistingKeys: { Byok: { materials: 2 }, Other: { materials: 1 } },
    app: (stack, keys) => {
      new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, keys), revokeOnRemoval: true });
      new KeyMaterialRevocation(new NestedStack(stack, 'Inner'), 'Revocation', { key: byArn(stack, keys, 'Other') });
    },
    play: async (ctx) => {
      await ctx.step('create the root with its nested stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the root revocation', (stack) => {
        new KeyMaterialRevocation(new NestedStack(stack, 'Inner'), 'Revocation', { key: byArn(stack, ctx.keys, 'Other') });
      });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete').filter((a) => a.stackId === ctx.bed.engine.stackId);
      expect(del).toMatchObject({ stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(noneRevoked(ctx, ctx.keys.Other)).toBe(true);
    },
  },
  {
    name: 'removed-with-nested-stack-removed',
    rows: ['L12', 'S11'],
    description: 'A root revocation (revokeOnRemoval on) and the root\'s only nested stack are removed by one update while another root revocation stays: the key is revoked, and the root\'s handler does not read the departing nested stack, which its updated policy no longer lets it list.',
    preexistingKeys: { Byok: { materials: 2 }, Other: { materials: 1 } },
    app: (stack, keys) => {
      new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, keys), revokeOnRemoval: true });
      new KeyMaterialRevocation(stack, 'Keeper', { key: byArn(stack, keys, 'Other') });
      placeholder(new NestedStack(stack, 'Inner'));
    },
    play: async (ctx) => {
      await ctx.step('create the root with its nested stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the revocation and the nested stack', (stack) => {
        new KeyMaterialRevocation(stack, 'Keeper', { key: byArn(stack, ctx.keys, 'Other') });
      });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(nestedOf(ctx).status).toBe('DELETE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete').filter((a) => a.stackId === ctx.bed.engine.stackId);
      expect(del).toMatchObject({ stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(noneRevoked(ctx, ctx.keys.Other)).toBe(true);
      const listings = ctx.bed.cfn.calls.filter((c) => c.op === 'ListStackResources').map((c) => c.params.StackName);
      expect(listings).toContain(ctx.bed.engine.stackId);
      expect(listings).not.toContain(nestedOf(ctx).stackId);
    },
  },
  ...(['nested stack stays', 'nested stack removed'] as const).map((how): Scenario => ({
    name: `refactor-key-out-of-nested-stack-${how === 'nested stack stays' ? 'stays' : 'removed'}`,
    rows: ['L27', 'L24', 'L12'],
    description: `A stack refactoring moves a nested stack's key (RemovalPolicy.DESTROY) into the root, sending no event; an update then removes its revocation (${how}): the key, still live in the root, is neither revoked nor deleted.`,
    app: (stack) => {
      placeholder(stack);
      const inner = new NestedStack(stack, 'Inner');
      placeholder(inner);
      new KeyMaterialRevocation(inner, 'Revocation', { key: externalKey(inner, 'InnerKey', RemovalPolicy.DESTROY) });
    },
    play: async (ctx) => {
      await ctx.step('create the root and its nested stack', () => ctx.bed.engine.create(ctx.bed.template));
      const inner = ctx.bed.engine.nested('Inner');
      const keyId = Object.keys(inner.template.Resources).find((id) => id.startsWith('InnerKey'))!;
      await ctx.step('refactor: move the key into the root as MovedKey', () => inner.refactorInto(ctx.bed.engine, { [keyId]: 'MovedKey' }));
      await update(ctx, `the key in the root, the revocation gone (${how})`, (stack) => {
        placeholder(stack);
        (externalKey(stack, 'InnerKey', RemovalPolicy.DESTROY).node.defaultChild as kms.CfnKey).overrideLogicalId('MovedKey');
        if (how === 'nested stack stays') placeholder(new NestedStack(stack, 'Inner'));
      });
    },
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'InnerKey');
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const del = ctx.bed.engine.answers.find((a) => a.requestType === 'Delete');
      expect(del).toMatchObject({ responseStatus: 'SUCCESS' });
      expect(del!.decision!.reason).toMatch(/no longer a resource of this stack.*revokeOnRemoval is off/);
      expect(noneRevoked(ctx, arn)).toBe(true);
      expect(ctx.bed.kms.key(arn)!.state).not.toBe('PendingDeletion');
      expect(ctx.bed.engine.resources.get('MovedKey')?.physicalId).toBe(arn.split('/')[1]);
    },
  })),
  {
    name: 'nested-key-replacement',
    rows: ['L9', 'L24'],
    description: 'An update points a nested stack\'s revocation at another key of that nested stack: the nested stack waits in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS and revokes the old key in the root\'s cleanup.',
    app: (stack) => {
      const nested = new NestedStack(stack, 'Inner');
      new KeyMaterialRevocation(nested, 'Revocation', { key: externalKey(nested, 'InnerKeyA') });
    },
    play: async (ctx) => {
      await ctx.step('create the root (with the nested stack)', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'point the nested revocation at InnerKeyB', (stack) => {
        const nested = new NestedStack(stack, 'Inner');
        externalKey(nested, 'InnerKeyA');
        new KeyMaterialRevocation(nested, 'Revocation', { key: externalKey(nested, 'InnerKeyB') });
      });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const nested = nestedOf(ctx);
      expect(statusesOf(ctx, nested.stackId).slice(-3)).toEqual(['UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_COMPLETE']);
      const del = nestedDelete(ctx, nested);
      expect(del).toMatchObject({ stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', rootStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(allRevoked(ctx, keyOf(ctx, 'InnerKeyA'))).toBe(true);
      expect(noneRevoked(ctx, keyOf(ctx, 'InnerKeyB'))).toBe(true);
    },
  },
  {
    name: 'nested-update-rollback',
    rows: ['L23', 'L10', 'L20'],
    description: 'An update points a nested revocation at another key, then a root resource fails: the nested stack rolls back with the root (nested UPDATE_ROLLBACK_*): neither key is revoked.',
    app: (stack) => {
      const nested = new NestedStack(stack, 'Inner');
      new KeyMaterialRevocation(nested, 'Revocation', { key: externalKey(nested, 'InnerKeyA') });
    },
    play: async (ctx) => {
      await ctx.step('create the root (with the nested stack)', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'point the nested revocation at InnerKeyB; Doomed (after the nested stack) fails', (stack) => {
        const nested = new NestedStack(stack, 'Inner');
        externalKey(nested, 'InnerKeyA');
        new KeyMaterialRevocation(nested, 'Revocation', { key: externalKey(nested, 'InnerKeyB') });
        doomedAfter(stack, nested);
      }, 'Doomed');
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      const nested = nestedOf(ctx);
      expect(statusesOf(ctx, nested.stackId).slice(-5)).toEqual(['UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
        'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE']);
      const updates = nestedAnswers(ctx, nested).filter((a) => a.requestType === 'Update');
      expect(updates.map((u) => [u.stackStatus, u.rootStatus])).toEqual([
        ['UPDATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS'], ['UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS']]);
      expect(updates.every((u) => u.responseStatus === 'SUCCESS')).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
      expect(noneRevoked(ctx, keyOf(ctx, 'InnerKeyA'))).toBe(true);
    },
  },
  {
    name: 'create-on-failure-delete',
    rows: ['L25', 'L4'],
    description: 'CreateStack OnFailure=DELETE: a later resource fails and the stack goes straight to DELETE_IN_PROGRESS (no rollback status): the key imported by ARN is not revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => {
      const revocation = new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, keys) });
      doomedAfter(stack, revocation);
    },
    play: async (ctx) => {
      await ctx.step('create with OnFailure=DELETE; Doomed fails', () => ctx.bed.engine.create(ctx.bed.template, { failOn: 'Doomed', onFailure: 'DELETE' }));
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect(statusesOf(ctx, ctx.bed.engine.stackId)).toEqual(['CREATE_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'DELETE_COMPLETE']);
      const [del] = answersOf(ctx, 'Delete');
      expect(del).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'create-no-rollback-then-delete',
    rows: ['L25', 'L4'],
    description: 'A --no-rollback create fails (CREATE_FAILED, resources kept), then the stack is deleted: the key imported by ARN is not revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => {
      const revocation = new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, keys) });
      doomedAfter(stack, revocation);
    },
    play: async (ctx) => {
      await ctx.step('create with rollback disabled; Doomed fails', () => ctx.bed.engine.create(ctx.bed.template, { failOn: 'Doomed', disableRollback: true }));
      gathered.set(ctx, { described: await describeStack(ctx, ctx.bed.engine.stackId) });
      await ctx.step('delete the CREATE_FAILED stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect((gathered.get(ctx)!.described as CfnStack)).toMatchObject({ StackStatus: 'CREATE_FAILED', DisableRollback: true });
      expect(statusesOf(ctx, ctx.bed.engine.stackId)).toEqual(['CREATE_IN_PROGRESS', 'CREATE_FAILED', 'DELETE_IN_PROGRESS', 'DELETE_COMPLETE']);
      const [del] = answersOf(ctx, 'Delete');
      expect(del).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'create-no-rollback-then-rollback',
    rows: ['L25', 'L4', 'L20'],
    description: 'A --no-rollback create fails, then RollbackStack (cdk rollback) rolls it back (ROLLBACK_IN_PROGRESS): nothing revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => {
      const revocation = new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, keys) });
      doomedAfter(stack, revocation);
    },
    play: async (ctx) => {
      await ctx.step('create with rollback disabled; Doomed fails', () => ctx.bed.engine.create(ctx.bed.template, { failOn: 'Doomed', disableRollback: true }));
      await ctx.step('RollbackStack', () => ctx.bed.engine.rollbackStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('ROLLBACK_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del).toMatchObject({ stackStatus: 'ROLLBACK_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'rollback-failed-cdk-redeploy',
    rows: ['L25'],
    description: 'A failed create whose rollback fails (ROLLBACK_FAILED, the revocation still there); the CDK CLI deletes the stack before deploying again, then creates a new stack (new stack ID): nothing revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => {
      const revocation = new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, keys) });
      doomedAfter(stack, revocation);
    },
    play: async (ctx) => {
      await ctx.step('create; Doomed fails, and its deletion in the rollback fails', () =>
        ctx.bed.engine.create(ctx.bed.template, { failOn: 'Doomed', failDeleteOn: 'Doomed' }));
      gathered.set(ctx, { firstStackId: ctx.bed.engine.stackId, statusBefore: ctx.bed.engine.status });
      await ctx.step('cdk deploy again (deletes the ROLLBACK_FAILED stack first)', () => ctx.bed.engine.cdkRedeploy(ctx.bed.template));
    },
    check: (ctx, expect) => {
      const { firstStackId, statusBefore } = gathered.get(ctx) as { firstStackId: string; statusBefore: string };
      expect(statusBefore).toBe('ROLLBACK_FAILED');
      expect(ctx.bed.engine.status).toBe('CREATE_COMPLETE');
      expect(ctx.bed.engine.stackId).not.toBe(firstStackId);
      expect(statusesOf(ctx, firstStackId).slice(-2)).toEqual(['DELETE_IN_PROGRESS', 'DELETE_COMPLETE']);
      const dels = answersOf(ctx, 'Delete');
      expect(dels).toHaveLength(1);
      expect(dels[0]).toMatchObject({ stackId: firstStackId, stackStatus: 'DELETE_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'rollback-complete-cdk-redeploy',
    rows: ['L25', 'L4'],
    description: 'A failed create rolls back (ROLLBACK_COMPLETE); the CDK CLI deletes it before deploying again and creates a new stack: nothing revoked, the new stack is in place.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => {
      const revocation = new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, keys) });
      doomedAfter(stack, revocation);
    },
    play: async (ctx) => {
      await ctx.step('create; Doomed fails', () => ctx.bed.engine.create(ctx.bed.template, { failOn: 'Doomed' }));
      gathered.set(ctx, { firstStackId: ctx.bed.engine.stackId });
      await ctx.step('cdk deploy again without Doomed', () => ctx.bed.engine.cdkRedeploy(ctx.bed.synth((stack) => {
        new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, ctx.keys) });
      })));
    },
    check: (ctx, expect) => {
      const { firstStackId } = gathered.get(ctx) as { firstStackId: string };
      expect(ctx.bed.engine.status).toBe('CREATE_COMPLETE');
      expect(ctx.bed.engine.stackId).not.toBe(firstStackId);
      expect(statusesOf(ctx, firstStackId)).toEqual(['CREATE_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS', 'ROLLBACK_COMPLETE', 'DELETE_IN_PROGRESS', 'DELETE_COMPLETE']);
      expect(answersOf(ctx, 'Create').map((a) => a.stackId)).toEqual([firstStackId, ctx.bed.engine.stackId]);
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'nested-root-never-stable',
    rows: ['L25', 'L23'],
    description: 'A root created with OnFailure=DELETE fails after its nested stack completed: root and nested stack are deleted (both DELETE_IN_PROGRESS) although the root never became stable: nothing revoked.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => { doomedAfter(stack, nestedWithImported(stack, keys)); },
    play: async (ctx) => {
      await ctx.step('create the root with OnFailure=DELETE; Doomed (after the nested stack) fails', () =>
        ctx.bed.engine.create(ctx.bed.template, { failOn: 'Doomed', onFailure: 'DELETE' }));
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expectNestedCreatedThenDeletedRevokingNothing(ctx, expect, 'DELETE_IN_PROGRESS');
    },
  },
  {
    name: 'refactor-renamed-key',
    rows: ['L27', 'L12'],
    description: 'Stack refactoring renames the key\'s logical ID (no event); the next deploy moves the revocation with KeyLogicalId following, and its cleanup deletes the old revocation whose KeyLogicalId is gone: the key stays live, nothing revoked.',
    app: (stack) => { new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA', RemovalPolicy.DESTROY) }); },
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      const oldKeyId = ctx.bed.logicalId('AWS::KMS::Key', 'KeyA');
      const answersBefore = ctx.bed.engine.answers.length;
      await ctx.step(`refactor: ${oldKeyId} -> KeyRenamed`, () => ctx.bed.engine.refactor({ [oldKeyId]: 'KeyRenamed' }));
      gathered.set(ctx, { oldKeyId, answersDuringRefactor: ctx.bed.engine.answers.length - answersBefore });
      await update(ctx, 'deploy the renamed key and a moved revocation (KeyLogicalId KeyRenamed)', (stack) => {
        const key = externalKey(stack, 'KeyA', RemovalPolicy.DESTROY);
        (key.node.defaultChild as kms.CfnKey).overrideLogicalId('KeyRenamed');
        new KeyMaterialRevocation(stack, 'MovedRevocation', { key });
      });
    },
    check: (ctx, expect) => {
      const { oldKeyId, answersDuringRefactor } = gathered.get(ctx) as { oldKeyId: string; answersDuringRefactor: number };
      expect(answersDuringRefactor).toBe(0);
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const arn = keyOf(ctx, 'KeyA');
      expect(ctx.bed.engine.resources.get('KeyRenamed')?.arn).toBe(arn);
      expect(ctx.bed.engine.resources.has(oldKeyId)).toBe(false);
      const [del] = answersOf(ctx, 'Delete');
      expect(del).toMatchObject({ stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(del.logicalId).toMatch(/^Revocation/);
      expect(ctx.bed.engine.scheduledKeyDeletions).toHaveLength(0);
      expect(noneRevoked(ctx, arn)).toBe(true);
      expect(NO_WRITES(ctx)).toHaveLength(0);
    },
  },
  {
    name: 'nested-handler-own-function',
    rows: ['S11'],
    description: 'A revocation in the root and one in a nested stack: two handler functions in the assembly; the nested stack\'s events go to its own function, the root\'s to the root\'s.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => {
      new KeyMaterialRevocation(stack, 'RootRevocation', { key: externalKey(stack, 'RootKey') });
      nestedWithImported(stack, keys);
    },
    play: async (ctx) => {
      await ctx.step('create the root (with the nested stack)', () => ctx.bed.engine.create(ctx.bed.template));
      gathered.set(ctx, { nestedDescribed: await describeStack(ctx, nestedOf(ctx).stackId) });
      await ctx.step('delete the root', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      const functions = ctx.bed.functionsIn();
      expect(functions).toHaveLength(2);
      expect(functions.filter((f) => f.stackPath === '')).toHaveLength(1);
      expect(functions.filter((f) => f.stackPath.startsWith('InnerNestedStack'))).toHaveLength(1);
      const root = ctx.bed.engine;
      const nested = nestedOf(ctx);
      expect(nested.stackName.startsWith(`${root.stackName}-${nested.logicalIdInParent}-`)).toBe(true);
      expect(nested.stackId).toMatch(new RegExp(`^arn:aws:cloudformation:${REGION}:\\d{12}:stack/${nested.stackName}/[0-9a-f-]{36}$`));
      expect(gathered.get(ctx)!.nestedDescribed).toMatchObject({ ParentId: root.stackId, RootId: root.stackId, StackStatus: 'CREATE_COMPLETE' });
      const nestedEvents = nestedAnswers(ctx, nested);
      const rootEvents = ctx.bed.engine.answers.filter((a) => a.stackId === root.stackId);
      expect(nestedEvents.map((a) => a.requestType)).toEqual(['Create', 'Delete']);
      expect(rootEvents.map((a) => a.requestType)).toEqual(['Create', 'Delete']);
      const nestedFn = nestedEvents[0].function!;
      expect(nestedFn.stackName).toBe(nested.stackName);
      expect(nestedEvents.every((a) => a.function?.name === nestedFn.name)).toBe(true);
      expect(rootEvents.every((a) => a.function?.stackName === root.stackName)).toBe(true);
      expect(rootEvents[0].function!.name).not.toBe(nestedFn.name);
      expect(ctx.bed.nestedRunners.has(nestedFn.name)).toBe(true);
      expect(ctx.bed.invocations.get(nestedFn.name)).toBe(2);
      expect(ctx.bed.invocations.get(ctx.bed.runner.spec.functionName)).toBe(2);
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(allRevoked(ctx, keyOf(ctx, 'RootKey'))).toBe(true);
    },
  },
  {
    name: 'continue-update-rollback-skip',
    rows: ['L20', 'L10'],
    description: 'An update points the revocation at another key and fails; the revocation\'s rollback fails (UPDATE_ROLLBACK_FAILED); ContinueUpdateRollback skips it: it receives nothing more, and nothing is revoked.',
    app: (stack) => { new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA') }); },
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      const revocationId = ctx.bed.logicalId('Custom::KmsKeyMaterialRevocation', 'Revocation');
      const next = ctx.bed.synth((stack) => {
        externalKey(stack, 'KeyA');
        const revocation = new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyB') });
        doomedAfter(stack, revocation);
      });
      await ctx.step('point the revocation at KeyB; Doomed fails; the revocation\'s rollback fails', () =>
        ctx.bed.engine.update(next, { failOn: 'Doomed', failRollbackOn: revocationId }));
      gathered.set(ctx, { revocationId, statusBefore: ctx.bed.engine.status, answersBefore: ctx.bed.engine.answers.length });
      await ctx.step('ContinueUpdateRollback, skipping the revocation', () =>
        ctx.bed.engine.continueUpdateRollback({ resourcesToSkip: [revocationId] }));
    },
    check: (ctx, expect) => {
      const { revocationId, statusBefore, answersBefore } = gathered.get(ctx) as { revocationId: string; statusBefore: string; answersBefore: number };
      expect(statusBefore).toBe('UPDATE_ROLLBACK_FAILED');
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      expect(ctx.bed.engine.answers.filter((a) => a.logicalId === revocationId).map((a) => a.requestType)).toEqual(['Create', 'Update']);
      expect(ctx.bed.engine.answers.slice(answersBefore)).toHaveLength(0);
      expect(ctx.bed.engine.resources.get(revocationId)!.status).toBe('UPDATE_COMPLETE');
      expect(NO_WRITES(ctx)).toHaveLength(0);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyB'))).toBe(true);
    },
  },
];
