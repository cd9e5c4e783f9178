/**
 * The lifecycle scenarios, shared by the test suite (which checks them) and `npm run simulate`
 * (which prints their timeline). Each plays CloudFormation's event sequence against the real
 * handler bundle, then checks the keys' state in the KMS double.
 */
import { DeleteImportedKeyMaterialCommand, KMSClient } from '@aws-sdk/client-kms';
import { CfnWaitConditionHandle, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KeyMaterialRevocation, KeyMaterialRevocationProps, KeyMaterialScope } from '../../lib/index';
import { ACCOUNT, REGION } from './assembly';
import { TestBed, TestBedOptions } from './testbed';

/** A matcher API (jest's `expect`, or the standalone `expect` package in the simulator). */
export type Expect = (actual: unknown) => any;

export interface ScenarioContext {
  readonly bed: TestBed;
  /** Names the step under way: a failing check says which step it followed. */
  step<T>(name: string, work: () => Promise<T>): Promise<T>;
  readonly steps: string[];
  /** Key ARNs by name, as the scenario set them up. */
  readonly keys: Record<string, string>;
}

export interface Scenario {
  readonly name: string;
  /** LIFECYCLE rows it proves. */
  readonly rows: string[];
  readonly description: string;
  readonly options?: TestBedOptions;
  /** Keys that exist before the stack (imported by ARN): name -> how to create them in the double. */
  readonly preexistingKeys?: Record<string, { origin?: 'EXTERNAL' | 'AWS_KMS'; materials?: number; keySpec?: string }>;
  /** The first version of the app. `keys` holds the ARNs of the preexisting keys. */
  readonly app: (stack: Stack, keys: Record<string, string>) => void;
  readonly play: (ctx: ScenarioContext) => Promise<void>;
  readonly check: (ctx: ScenarioContext, expect: Expect) => void;
}

// ---- app building blocks -----------------------------------------------------------------------

/** A key for imported material defined in the stack. */
export function externalKey(stack: Stack, id: string, removal = RemovalPolicy.RETAIN): kms.Key {
  const key = new kms.Key(stack, id, { removalPolicy: removal });
  (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
  return key;
}

function keyAndRevocation(props: Partial<KeyMaterialRevocationProps> = {}, opts: { id?: string; removal?: RemovalPolicy } = {}) {
  return (stack: Stack) => {
    const key = externalKey(stack, 'KeyA', opts.removal);
    new KeyMaterialRevocation(stack, opts.id ?? 'Revocation', { key, ...props });
  };
}

/** A resource that the scenario makes CloudFormation fail on, after the revocation. */
function doomedAfter(stack: Stack): void {
  const handle = new CfnWaitConditionHandle(stack, 'Doomed');
  const revocation = stack.node.tryFindChild('Revocation');
  if (revocation) handle.node.addDependency(revocation);
}

const importedKey = (name: string) => (stack: Stack, keys: Record<string, string>) =>
  new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Imported', keys[name]) });

// ---- helpers for plays and checks --------------------------------------------------------------

/** ARN of a key the stack created (even one it later deleted or retained), by logical ID prefix. */
export function keyOf(ctx: ScenarioContext, prefix: string): string {
  if (ctx.keys[prefix]) return ctx.keys[prefix];
  for (const [id, arn] of ctx.bed.engine.keysCreated) if (id.startsWith(prefix)) return arn;
  throw new Error(`the stack created no key whose logical ID starts with ${prefix}`);
}

/** Material import states of a key, e.g. ['PENDING_IMPORT', 'PENDING_IMPORT']. */
export function importStates(ctx: ScenarioContext, arn: string): string[] {
  return ctx.bed.kms.key(arn)!.materials.map((m) => m.importState);
}

export const allRevoked = (ctx: ScenarioContext, arn: string) => importStates(ctx, arn).every((s) => s === 'PENDING_IMPORT');
export const noneRevoked = (ctx: ScenarioContext, arn: string) =>
  importStates(ctx, arn).length > 0 && importStates(ctx, arn).every((s) => s === 'IMPORTED');

/** Calls of a KMS operation that wrote (DeleteImportedKeyMaterial) on a key. */
export function deletesOn(ctx: ScenarioContext, arn: string) {
  return ctx.bed.kms.callsTo('DeleteImportedKeyMaterial').filter((c) => c.status === 200 && String(c.request.KeyId).endsWith(arn.split('/')[1]));
}

/** Revoked before the stack scheduled the key's deletion (L13), and the key then PendingDeletion. */
export function revokedBeforeScheduled(ctx: ScenarioContext, expect: Expect, arn: string): void {
  expect(allRevoked(ctx, arn)).toBe(true);
  const scheduled = ctx.bed.engine.scheduledKeyDeletions.find((s) => s.arn === arn);
  expect(scheduled).toBeDefined();
  expect(Math.max(...deletesOn(ctx, arn).map((c) => c.at))).toBeLessThanOrEqual(scheduled!.at);
  expect(ctx.bed.kms.key(arn)!.state).toBe('PendingDeletion');
}

/** A KMS client for an operator acting by hand, outside the stack. */
function operatorKms(ctx: ScenarioContext): KMSClient {
  return new KMSClient({
    region: REGION, endpoint: ctx.bed.kms.endpoint, credentials: { accessKeyId: 'AKIAOPERATOR', secretAccessKey: 'operator' },
  });
}

export function update(ctx: ScenarioContext, name: string, build: (stack: Stack) => void, failOn?: string): Promise<string> {
  return ctx.step(name, async () => ctx.bed.engine.update(ctx.bed.synth(build), { failOn }));
}

/** Results a play gathered for its check (checks are synchronous), by scenario run. */
export const gathered = new WeakMap<ScenarioContext, Record<string, unknown>>();

export function answersOf(ctx: ScenarioContext, requestType: string) {
  return ctx.bed.engine.answers.filter((a) => a.requestType === requestType);
}

// ---- the scenarios -----------------------------------------------------------------------------

export const SCENARIOS: Scenario[] = [
  {
    name: 'create',
    rows: ['L1'],
    description: 'Create validates the key (DescribeKey) and writes nothing; the physical ID is derived from the key ARN.',
    app: keyAndRevocation(),
    play: async (ctx) => { await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template)); },
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'KeyA');
      expect(ctx.bed.engine.status).toBe('CREATE_COMPLETE');
      const [create] = answersOf(ctx, 'Create');
      expect(create.responseStatus).toBe('SUCCESS');
      expect(create.physicalId).toBe(`kms-key-material-revocation:${arn}`);
      expect(ctx.bed.kms.calls.map((c) => c.op)).toEqual(['DescribeKey']);
      expect(noneRevoked(ctx, arn)).toBe(true);
    },
  },
  {
    name: 'create-wrong-origin',
    rows: ['L2', 'L5'],
    description: 'A key imported by ARN whose origin is AWS_KMS fails the create; the Delete of the rollback does nothing.',
    preexistingKeys: { Managed: { origin: 'AWS_KMS' } },
    app: importedKey('Managed'),
    play: async (ctx) => { await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template)); },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('ROLLBACK_COMPLETE');
      const [create] = answersOf(ctx, 'Create');
      expect(create.responseStatus).toBe('FAILED');
      expect(create.reason).toContain(ctx.keys.Managed);
      expect(create.reason).toContain('AWS_KMS');
      const [del] = answersOf(ctx, 'Delete');
      expect(del.responseStatus).toBe('SUCCESS');
      expect(del.physicalId).toBe(create.physicalId);
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial')).toHaveLength(0);
    },
  },
  {
    name: 'create-missing-key',
    rows: ['L3'],
    description: 'A key ARN that names no key fails the create with a reason naming the ARN.',
    app: (stack) => new KeyMaterialRevocation(stack, 'Revocation', {
      key: kms.Key.fromKeyArn(stack, 'Missing', `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000`),
    }),
    play: async (ctx) => { await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template)); },
    check: (ctx, expect) => {
      const [create] = answersOf(ctx, 'Create');
      expect(create.responseStatus).toBe('FAILED');
      expect(create.reason).toContain('00000000-0000-4000-8000-000000000000');
      expect(create.reason).toContain('not found');
      expect(ctx.bed.engine.status).toBe('ROLLBACK_COMPLETE');
    },
  },
  {
    name: 'create-denied',
    rows: ['L3'],
    description: 'DescribeKey denied by the key policy fails the create, naming the action and the key.',
    preexistingKeys: { Byok: {} },
    app: importedKey('Byok'),
    play: async (ctx) => {
      ctx.bed.kms.deny({ op: 'DescribeKey', keyArn: ctx.keys.Byok });
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
    },
    check: (ctx, expect) => {
      const [create] = answersOf(ctx, 'Create');
      expect(create.responseStatus).toBe('FAILED');
      expect(create.reason).toContain('kms:DescribeKey was denied');
      expect(create.reason).toContain(ctx.keys.Byok);
    },
  },
  {
    name: 'create-rollback',
    rows: ['L4', 'L20'],
    description: 'The stack create fails after the revocation was created: the rollback Delete revokes nothing.',
    app: (stack) => { keyAndRevocation()(stack); doomedAfter(stack); },
    play: async (ctx) => {
      await ctx.step('create the stack; Doomed fails', () => ctx.bed.engine.create(ctx.bed.template, { failOn: 'Doomed' }));
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('ROLLBACK_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del.stackStatus).toBe('ROLLBACK_IN_PROGRESS');
      expect(del.responseStatus).toBe('SUCCESS');
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'stack-delete',
    rows: ['L6'],
    description: 'Stack deletion with the defaults: every imported material is deleted by ID; the key ends PendingImport.',
    options: { materialsPerKey: 3 },
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'KeyA');
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      const key = ctx.bed.kms.key(arn)!;
      expect(key.state).toBe('PendingImport');
      expect(key.materials).toHaveLength(3);
      expect(allRevoked(ctx, arn)).toBe(true);
      expect(deletesOn(ctx, arn).every((c) => typeof c.request.KeyMaterialId === 'string')).toBe(true);
      expect(deletesOn(ctx, arn)).toHaveLength(3);
    },
  },
  {
    name: 'stack-delete-current',
    rows: ['L6'],
    description: 'Stack deletion with scope CURRENT: only the current material is deleted; the others stay stored.',
    options: { materialsPerKey: 3 },
    app: keyAndRevocation({ materialScope: KeyMaterialScope.CURRENT }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      const key = ctx.bed.kms.key(keyOf(ctx, 'KeyA'))!;
      expect(key.state).toBe('PendingImport');
      expect(key.materials.find((m) => m.state === 'CURRENT')!.importState).toBe('PENDING_IMPORT');
      expect(key.materials.filter((m) => m.importState === 'IMPORTED')).toHaveLength(2);
      expect(deletesOn(ctx, key.arn).map((c) => c.request.KeyMaterialId)).toEqual([undefined]);
    },
  },
  {
    name: 'stack-delete-off',
    rows: ['L7'],
    description: 'Stack deletion with revokeOnStackDelete off: nothing is revoked.',
    app: keyAndRevocation({ revokeOnStackDelete: false }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial')).toHaveLength(0);
    },
  },
  {
    name: 'in-place-update',
    rows: ['L8'],
    description: 'Updating other properties keeps the physical ID and revokes nothing.',
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'update scope and removal setting', keyAndRevocation({ materialScope: KeyMaterialScope.CURRENT, revokeOnRemoval: true }));
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [create] = answersOf(ctx, 'Create');
      const [upd] = answersOf(ctx, 'Update');
      expect(upd.responseStatus).toBe('SUCCESS');
      expect(upd.physicalId).toBe(create.physicalId);
      expect(answersOf(ctx, 'Delete')).toHaveLength(0);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'key-replacement',
    rows: ['L9'],
    description: 'The construct is pointed at another key and the update succeeds: the old key is revoked in cleanup, the new one untouched.',
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'point the revocation at KeyB', (stack) => {
        externalKey(stack, 'KeyA');
        new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyB') });
      });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del.stackStatus).toBe('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      expect(del.responseStatus).toBe('SUCCESS');
      expect(allRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyB'))).toBe(true);
      expect(deletesOn(ctx, keyOf(ctx, 'KeyB'))).toHaveLength(0);
    },
  },
  {
    name: 'key-replacement-rollback',
    rows: ['L10', 'L20'],
    description: 'The construct is pointed at another key but the update fails and rolls back: neither key is revoked.',
    app: (stack) => { keyAndRevocation()(stack); },
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'point the revocation at KeyB; Doomed fails', (stack) => {
        externalKey(stack, 'KeyA');
        new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyB') });
        doomedAfter(stack);
      }, 'Doomed');
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      const updates = answersOf(ctx, 'Update');
      expect(updates.map((u) => u.stackStatus)).toEqual(['UPDATE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS']);
      expect(updates.every((u) => u.responseStatus === 'SUCCESS')).toBe(true);
      const [create] = answersOf(ctx, 'Create');
      expect(updates[1].physicalId).toBe(create.physicalId);
      expect(answersOf(ctx, 'Delete').every((d) => d.stackStatus === 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS')).toBe(true);
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial')).toHaveLength(0);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'in-place-update-rollback',
    rows: ['L11', 'L20'],
    description: 'An in-place update that rolls back: the rollback Update arrives with the properties swapped and revokes nothing.',
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'change the scope; Doomed fails', (stack) => {
        keyAndRevocation({ materialScope: KeyMaterialScope.CURRENT })(stack);
        doomedAfter(stack);
      }, 'Doomed');
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      const [forward, back] = answersOf(ctx, 'Update');
      expect(back.stackStatus).toBe('UPDATE_ROLLBACK_IN_PROGRESS');
      expect(back.responseStatus).toBe('SUCCESS');
      expect(back.physicalId).toBe(forward.physicalId);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'key-immutable-change-rollback',
    rows: ['L11', 'L20'],
    description: 'An update that changes the key\'s KeySpec and KeyUsage, which KMS keys cannot change, fails on the key before the revocation\'s own update; the rollback revokes nothing.',
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'make KeyA an HMAC key and change the scope', (stack) => {
        const key = externalKey(stack, 'KeyA');
        const cfnKey = key.node.defaultChild as kms.CfnKey;
        cfnKey.keySpec = 'HMAC_256';
        cfnKey.keyUsage = 'GENERATE_VERIFY_MAC';
        new KeyMaterialRevocation(stack, 'Revocation', { key, materialScope: KeyMaterialScope.CURRENT });
      });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      const keyEvents = ctx.bed.cfn.stackEvents(ctx.bed.engine.stackId).filter((e) => e.type === 'AWS::KMS::Key');
      expect(keyEvents.find((e) => e.status === 'UPDATE_FAILED')?.statusReason).toMatch(/KeySpec, KeyUsage/);
      // The revocation depends on its key (S6): its update never started, so nothing was asked of it.
      expect(answersOf(ctx, 'Update')).toHaveLength(0);
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial')).toHaveLength(0);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'construct-removed',
    rows: ['L12'],
    description: 'Only the revocation construct is removed (the key stays): nothing is revoked by default.',
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the revocation construct', (stack) => { externalKey(stack, 'KeyA'); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del.responseStatus).toBe('SUCCESS');
      expect(del.decision?.reason).toContain('revokeOnRemoval is off');
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'construct-removed-revoke',
    rows: ['L12'],
    description: 'Only the revocation construct is removed, with revokeOnRemoval on: the key is revoked.',
    app: keyAndRevocation({ revokeOnRemoval: true }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the revocation construct', (stack) => { externalKey(stack, 'KeyA'); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
      expect(ctx.bed.kms.key(keyOf(ctx, 'KeyA'))!.state).toBe('PendingImport');
    },
  },
  {
    name: 'construct-renamed',
    rows: ['L12'],
    description: 'A refactor renames the construct (revokeOnRemoval on): the new one manages the same key, nothing is revoked.',
    app: keyAndRevocation({ revokeOnRemoval: true }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'rename the revocation construct', keyAndRevocation({ revokeOnRemoval: true }, { id: 'RenamedRevocation' }));
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del.decision?.reason).toContain('still manages the same key');
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'construct-and-key-removed',
    rows: ['L13'],
    description: 'The construct and its key (RemovalPolicy.DESTROY) are removed together: revoked before the key is scheduled for deletion.',
    app: keyAndRevocation({}, { removal: RemovalPolicy.DESTROY }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the key and the revocation', (stack) => { new CfnWaitConditionHandle(stack, 'Placeholder'); });
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      revokedBeforeScheduled(ctx, expect, keyOf(ctx, 'KeyA'));
    },
  },
  {
    name: 'revoked-switch',
    rows: ['L14'],
    description: 'The revoked switch turns on in an update: nothing is revoked while the update can roll back; the cleanup after its success revokes the key.',
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'set revoked: true', keyAndRevocation({ revoked: true }));
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [upd] = answersOf(ctx, 'Update');
      expect(upd.decision?.decision).toBe('skipped');
      expect(upd.physicalId).toBe(`kms-key-material-revocation-revoked:${keyOf(ctx, 'KeyA')}`);
      const [cleanup] = answersOf(ctx, 'Delete');
      expect(cleanup.stackStatus).toBe('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      expect(cleanup.decision?.decision).toBe('revoked');
      expect(allRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'revoked-switch-rollback',
    rows: ['L14', 'L20'],
    description: 'The revoked switch turns on, then the update fails: the rollback succeeds and nothing is revoked.',
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'set revoked: true; Doomed fails', (stack) => { keyAndRevocation({ revoked: true })(stack); doomedAfter(stack); }, 'Doomed');
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      const forward = answersOf(ctx, 'Update')[0];
      expect(forward.decision?.decision).toBe('skipped');
      for (const answer of ctx.bed.engine.answers) expect(answer.responseStatus).toBe('SUCCESS');
      expect(deletesOn(ctx, keyOf(ctx, 'KeyA'))).toHaveLength(0);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'revoked-switch-new-key',
    rows: ['L14', 'L9'],
    description: 'With revoked on, the construct is pointed at another key: the cleanup after the update revokes the new key (the switch) and the old one (replacement).',
    preexistingKeys: { First: { materials: 2 }, Second: { materials: 2 } },
    app: (stack, keys) => new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Imported', keys.First), revoked: true }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'point at Second, revoked stays on', (stack) =>
        new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Imported', ctx.keys.Second), revoked: true }));
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const update = answersOf(ctx, 'Update')[0];
      expect(update.decision?.decision).toBe('validated');
      expect(deletesOn(ctx, ctx.keys.Second).every((c) => c.at > update.at - 1)).toBe(true);
      const [cleanup] = answersOf(ctx, 'Delete');
      expect(cleanup.stackStatus).toBe('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      expect(allRevoked(ctx, ctx.keys.First)).toBe(true);
      expect(allRevoked(ctx, ctx.keys.Second)).toBe(true);
    },
  },
  {
    name: 'revoked-switch-new-key-rollback',
    rows: ['L14', 'L10'],
    description: 'With revoked on, the construct is pointed at another key, then the update fails: the new key is never revoked.',
    preexistingKeys: { First: { materials: 2 }, Second: { materials: 2 } },
    app: (stack, keys) => new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Imported', keys.First), revoked: true }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'point at Second, revoked stays on; Doomed fails', (stack) => {
        new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Imported', ctx.keys.Second), revoked: true });
        doomedAfter(stack);
      }, 'Doomed');
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      expect(deletesOn(ctx, ctx.keys.Second)).toHaveLength(0);
      expect(noneRevoked(ctx, ctx.keys.Second)).toBe(true);
    },
  },
  {
    name: 'revoked-on-create',
    rows: ['L14'],
    description: 'revoked: true from the start: the material is revoked during the create.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Imported', keys.Byok), revoked: true }),
    play: async (ctx) => { await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template)); },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('CREATE_COMPLETE');
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
    },
  },
  {
    name: 'already-pending-import',
    rows: ['L15'],
    description: 'The key is already PendingImport (material deleted by hand) when the stack is deleted: success, logged.',
    preexistingKeys: { Byok: { materials: 1 } },
    app: importedKey('Byok'),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the material by hand', () => operatorKms(ctx).send(new DeleteImportedKeyMaterialCommand({ KeyId: ctx.keys.Byok })));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del.responseStatus).toBe('SUCCESS');
      expect(ctx.bed.kms.key(ctx.keys.Byok)!.state).toBe('PendingImport');
    },
  },
  {
    name: 'pending-import-current-stored',
    rows: ['L15'],
    description: 'A non-current material was deleted by hand (the key is PendingImport) but the current one is stored: scope CURRENT still revokes it.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => new KeyMaterialRevocation(stack, 'Revocation', {
      key: kms.Key.fromKeyArn(stack, 'Imported', keys.Byok), materialScope: KeyMaterialScope.CURRENT,
    }),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      const older = ctx.bed.kms.key(ctx.keys.Byok)!.materials.find((m) => m.state === 'NON_CURRENT')!.id;
      await ctx.step('delete the older material by hand', () =>
        operatorKms(ctx).send(new DeleteImportedKeyMaterialCommand({ KeyId: ctx.keys.Byok, KeyMaterialId: older })));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      const key = ctx.bed.kms.key(ctx.keys.Byok)!;
      expect(key.materials.find((m) => m.state === 'CURRENT')!.importState).toBe('PENDING_IMPORT');
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
    },
  },
  {
    name: 'pending-deletion',
    rows: ['L15'],
    description: 'The key is pending deletion when the stack is deleted: its material is still deleted, the state unchanged.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: importedKey('Byok'),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      ctx.bed.kms.setKeyState(ctx.keys.Byok, 'PendingDeletion');
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect(ctx.bed.kms.key(ctx.keys.Byok)!.state).toBe('PendingDeletion');
      expect(answersOf(ctx, 'Delete')[0].decision?.reason).toContain('pending deletion');
    },
  },
  {
    name: 'access-denied',
    rows: ['L16'],
    description: 'An organization policy denies DeleteImportedKeyMaterial: stack deletion stops in DELETE_FAILED with the action, key and cause.',
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      ctx.bed.kms.deny({ op: 'DeleteImportedKeyMaterial', keyArn: keyOf(ctx, 'KeyA'), policy: 'scp' });
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_FAILED');
      const [del] = answersOf(ctx, 'Delete');
      expect(del.responseStatus).toBe('FAILED');
      expect(del.reason).toContain('kms:DeleteImportedKeyMaterial was denied');
      expect(del.reason).toContain(keyOf(ctx, 'KeyA'));
      expect(del.reason).toMatch(/service control policy/);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
  {
    name: 'stack-status-unreadable',
    rows: ['L21'],
    description: 'DescribeStacks is denied on stack deletion: the Delete fails instead of guessing; nothing revoked.',
    app: keyAndRevocation(),
    play: async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      ctx.bed.cfn.deny('DescribeStacks');
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    },
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_FAILED');
      const [del] = answersOf(ctx, 'Delete');
      expect(del.reason).toContain('cloudformation:DescribeStacks');
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
    },
  },
];

/** Sets up the preexisting keys and plays a scenario; the caller checks it. */
export async function playScenario(scenario: Scenario): Promise<ScenarioContext> {
  // Preexisting keys need the KMS double before synthesis: start with a placeholder app.
  const keys: Record<string, string> = {};
  // One placeholder per key, so that an app with two of them does not see one key twice (S9).
  const placeholder = (i: number) => `arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-4111-8111-${String(i).padStart(12, '1')}`;
  const names = Object.keys(scenario.preexistingKeys ?? {});
  const bed = await TestBed.start((stack) => scenario.app(stack, Object.fromEntries(names.map((n, i) => [n, keys[n] ?? placeholder(i)]))), scenario.options);
  for (const [name, spec] of Object.entries(scenario.preexistingKeys ?? {})) {
    keys[name] = bed.kms.addKey({
      origin: spec.origin ?? 'EXTERNAL', keySpec: spec.keySpec,
      importedMaterials: (spec.origin ?? 'EXTERNAL') === 'EXTERNAL' ? spec.materials ?? 2 : undefined,
    });
  }
  if (names.length > 0) bed.template = bed.synth((stack) => scenario.app(stack, keys));
  const steps: string[] = [];
  const ctx: ScenarioContext = {
    bed,
    keys,
    steps,
    step: async (name, work) => {
      steps.push(name);
      return work();
    },
  };
  await scenario.play(ctx);
  return ctx;
}
