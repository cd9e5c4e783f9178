/**
 * Lifecycle scenarios played with real policy evaluation (iam-state.ts): the KMS double decides
 * AccessDenied for the handler's role from the IAM policies and key policies the engine has in
 * force at that moment, instead of allowing everything.
 *
 * The bug class they catch: CloudFormation updates the handler's IAM policy in place during the
 * update phase, so a cleanup Delete (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS) that must revoke a key
 * the new template no longer names runs with a policy that may no longer grant that key. A
 * same-stack `kms.Key` with its default key policy only trusts the account, so there IAM is the
 * handler's only grant too. Each cleanup scenario keeps the provider in the stack (another
 * revocation stays, or the revocation itself stays pointed at another key): when the last
 * revocation goes, the whole provider goes with it and its policy is deleted after the Delete,
 * which hides the bug.
 */
import { CfnParameter, CfnResource, CfnWaitConditionHandle, NestedStack, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { CloudFormationClient, GetTemplateCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { KeyMaterialRevocation } from '../../lib/index';
import { REGION } from './assembly';
import { enforceIamPolicies } from './iam-state';
import { accessKeyIdOf, ROLE_CREDENTIALS } from './lambda-runner';
import {
  allRevoked, answersOf, deletesOn, Expect, externalKey, gathered, keyOf, noneRevoked, Scenario, ScenarioContext, update,
} from './scenarios';

// ---- helpers -----------------------------------------------------------------------------------

/** Enforcement on from the start of the play: every event of the scenario is evaluated. */
function enforced(play: (ctx: ScenarioContext) => Promise<void>): (ctx: ScenarioContext) => Promise<void> {
  return async (ctx) => {
    enforceIamPolicies(ctx.bed);
    await play(ctx);
  };
}

/** The access keys of the tree's handlers: the root's, and each nested stack function's that answered (iam-state.ts). */
function handlerAccessKeys(ctx: ScenarioContext): Set<string> {
  const names = ctx.bed.engine.answers.map((a) => a.function?.name).filter((n): n is string => n !== undefined);
  return new Set([ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID, ...names.map(accessKeyIdOf)]);
}

/** KMS requests of a handler's role that KMS denied. */
function deniedHandlerCalls(ctx: ScenarioContext) {
  const keys = handlerAccessKeys(ctx);
  return ctx.bed.kms.calls.filter((c) => keys.has(c.accessKeyId ?? '') && c.errorType === 'AccessDeniedException');
}

/** The KMS requests `op` were signed by the nested stack's handler, a principal the double evaluates, not by the root's. */
function expectNestedHandlerCalls(ctx: ScenarioContext, expect: Expect, op: string): void {
  const nested = ctx.bed.engine.answers.filter((a) => a.stackId !== ctx.bed.engine.stackId && a.function);
  const names = new Set(nested.map((a) => a.function!.name));
  expect(names.size).toBe(1);
  const calls = ctx.bed.kms.callsTo(op);
  expect(calls.length).toBeGreaterThan(0);
  expect(calls.map((c) => c.accessKeyId)).toEqual(calls.map(() => accessKeyIdOf([...names][0])));
}

/** CloudFormation reads of a handler's role that IAM denied (iam-state.ts evaluates them too). */
function deniedHandlerReads(ctx: ScenarioContext) {
  const keys = handlerAccessKeys(ctx);
  return ctx.bed.cfn.calls.filter((c) => keys.has(c.accessKeyId ?? '') && c.errorType === 'AccessDenied');
}

/** No request of the handler was denied (KMS or CloudFormation), and no answer reports a denial. */
function expectNoDenial(ctx: ScenarioContext, expect: Expect): void {
  expect(deniedHandlerCalls(ctx).map((c) => `${c.op}: ${c.errorMessage}`)).toEqual([]);
  expect(deniedHandlerReads(ctx).map((c) => `${c.op} ${c.params.StackName}: ${c.errorMessage}`)).toEqual([]);
  expect(ctx.bed.engine.answers.filter((a) => a.responseStatus !== 'SUCCESS').map((a) => `${a.requestType} ${a.logicalId}: ${a.reason}`)).toEqual([]);
}

const byArn = (stack: Stack, id: string, arn: string) => kms.Key.fromKeyArn(stack, id, arn);

/**
 * A same-stack key whose custom key policy names an administrator role only: it does not trust the
 * account, so IAM policies grant nothing on it and only a key-policy statement lets the handler act.
 */
function adminOnlyKey(stack: Stack, id: string): kms.Key {
  const key = new kms.Key(stack, id, {
    removalPolicy: RemovalPolicy.RETAIN,
    policy: new iam.PolicyDocument({ statements: [new iam.PolicyStatement({
      principals: [new iam.ArnPrincipal(`arn:aws:iam::${stack.account}:role/KeyAdministrator`)],
      actions: ['kms:*'],
      resources: ['*'],
    })] }),
  });
  (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
  return key;
}

/** The statements of a key's policy in force that let the handler's role in: naming it, or the account for it alone. */
function statementsNamingRole(ctx: ScenarioContext, keyArn: string): { direct: number; throughIam: number } {
  const statements = [ctx.bed.kms.keyPolicy(keyArn)?.Statement ?? []].flat();
  const role = /:role\/.*KmsKeyMaterialRevocationProviderRole/;
  return {
    direct: statements.filter((s) => typeof s.Principal === 'object' && [s.Principal.AWS ?? []].flat().some((p) => role.test(p))).length,
    throughIam: statements.filter((s) => JSON.stringify(s.Condition ?? {}).match(role)).length,
  };
}

/** The revocation handler's role (one per stack, S5), wherever the construct puts it. */
function handlerRole(stack: Stack): iam.IRole {
  const roles = stack.node.findAll().filter((c): c is iam.Role => c instanceof iam.Role);
  if (roles.length !== 1) throw new Error(`expected the revocation handler's role to be the only role in ${stack.stackName}, found ${roles.length}`);
  return roles[0];
}

/**
 * L9 with two same-stack keys made by `key`: the revocation is pointed from KeyA to KeyB while KeyA
 * stays in the template. KeyA is revoked in cleanup, KeyB untouched, nothing denied; `more` checks the rest.
 */
function pointedAwayToKeyB(name: string, description: string, key: (stack: Stack, id: string) => kms.Key,
  more?: (ctx: ScenarioContext, expect: Expect, oldKey: string, newKey: string) => void): Scenario {
  return {
    name, rows: ['L9'], description,
    app: (stack) => {
      key(stack, 'KeyB');
      new KeyMaterialRevocation(stack, 'Revocation', { key: key(stack, 'KeyA') });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'point the revocation at KeyB', (stack) => {
        key(stack, 'KeyA');
        new KeyMaterialRevocation(stack, 'Revocation', { key: key(stack, 'KeyB') });
      });
    }),
    check: (ctx, expect) => {
      const oldKey = keyOf(ctx, 'KeyA');
      const newKey = keyOf(ctx, 'KeyB');
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del?.stackStatus).toBe('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      expect(del?.responseStatus).toBe('SUCCESS');
      expect(allRevoked(ctx, oldKey)).toBe(true);
      expect(noneRevoked(ctx, newKey)).toBe(true);
      expect(deletesOn(ctx, newKey)).toHaveLength(0);
      expectNoDenial(ctx, expect);
      more?.(ctx, expect, oldKey, newKey);
    },
  };
}

// ---- the scenarios -----------------------------------------------------------------------------

export const PERMISSION_SCENARIOS: Scenario[] = [
  {
    name: 'permission-stack-delete-allowed',
    rows: ['L6'],
    description: 'Control: with policies enforced, stack deletion revokes a same-stack key (default key policy, IAM grant in force until after the Delete).',
    app: (stack) => { new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA') }); },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.kms.enforcingPolicies).toBe(true);
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
      // The role was really evaluated: its requests were signed by a mapped principal.
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial').every((c) => c.accessKeyId === ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID)).toBe(true);
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'cleanup-permission-key-replaced-imported',
    rows: ['L9'],
    description: 'A revocation of a key imported by ARN is pointed at another imported key: the old key is revoked in cleanup although the updated IAM policy is already in force; the new key is untouched.',
    preexistingKeys: { Old: { materials: 2 }, New: { materials: 2 } },
    app: (stack, keys) => { new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, 'Imported', keys.Old) }); },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'point the revocation at the New key', (stack) => {
        new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, 'Imported', ctx.keys.New) });
      });
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del?.stackStatus).toBe('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      expect(del?.responseStatus).toBe('SUCCESS');
      expect(allRevoked(ctx, ctx.keys.Old)).toBe(true);
      expect(ctx.bed.kms.key(ctx.keys.Old)!.state).toBe('PendingImport');
      expect(noneRevoked(ctx, ctx.keys.New)).toBe(true);
      expect(deletesOn(ctx, ctx.keys.New)).toHaveLength(0);
      expectNoDenial(ctx, expect);
    },
  },
  pointedAwayToKeyB('cleanup-permission-key-replaced-default-policy',
    'A revocation of a same-stack key (default key policy: only IAM grants the handler) is pointed at another same-stack key, the old key staying in the template: the old key is revoked in cleanup, the new one untouched.',
    (stack, id) => externalKey(stack, id)),
  pointedAwayToKeyB('cleanup-permission-key-replaced-admin-only-policy',
    'A revocation of a same-stack key whose key policy does not trust the account (only a key-policy statement grants the handler) is pointed at another such key, the old key staying in the template: the old key is revoked in cleanup, although the update phase already gave the old key its new policy.',
    adminOnlyKey, (ctx, expect, oldKey, newKey) => {
      // The cleanup really ran under the old key's new policy: no statement names the role itself any more.
      expect(statementsNamingRole(ctx, oldKey)).toEqual({ direct: 0, throughIam: 1 });
      expect(statementsNamingRole(ctx, newKey)).toEqual({ direct: 1, throughIam: 0 });
    }),
  {
    name: 'cleanup-permission-removed-revoke-on-removal-admin-only-policy',
    rows: ['L12'],
    description: 'A revocation with revokeOnRemoval is removed while its same-stack key, whose key policy does not trust the account, stays and another revocation keeps the handler: the key is revoked in cleanup.',
    app: (stack) => {
      new KeyMaterialRevocation(stack, 'Revocation', { key: adminOnlyKey(stack, 'KeyA'), revokeOnRemoval: true });
      new KeyMaterialRevocation(stack, 'Keeper', { key: externalKey(stack, 'KeeperKey') });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the revocation of KeyA', (stack) => {
        adminOnlyKey(stack, 'KeyA');
        new KeyMaterialRevocation(stack, 'Keeper', { key: externalKey(stack, 'KeeperKey') });
      });
    }),
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'KeyA');
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del?.stackStatus).toBe('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      expect(del?.responseStatus).toBe('SUCCESS');
      expect(allRevoked(ctx, arn)).toBe(true);
      expect(ctx.bed.kms.key(arn)!.state).toBe('PendingImport');
      expect(noneRevoked(ctx, keyOf(ctx, 'KeeperKey'))).toBe(true);
      expectNoDenial(ctx, expect);
      expect(statementsNamingRole(ctx, arn)).toEqual({ direct: 0, throughIam: 1 });
    },
  },
  ...[false, true].map((revoked): Scenario => {
    // S7: a key known only by a parameter. The template stays the same; only the value moves.
    const app = (stack: Stack) => {
      const param = new CfnParameter(stack, 'KeyArnParam', { type: 'String' });
      new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, 'ByParam', param.valueAsString), revoked });
    };
    return {
      name: `cleanup-permission-key-by-parameter${revoked ? '-revoked-switch' : ''}`,
      rows: revoked ? ['L14', 'S7'] : ['L9', 'S7'],
      description: `A revocation of a key given by a CfnParameter${revoked ? ' with the revoked switch on' : ''}; an update changes only the parameter's value: ` +
        `the old key is revoked in cleanup${revoked ? ', and the new one, which the switch names' : ', the new one untouched'}, although the template, and so the key policy's logical ID, did not change.`,
      preexistingKeys: { Old: { materials: 2 }, New: { materials: 2 } },
      app,
      play: enforced(async (ctx) => {
        ctx.bed.engine.parameters.KeyArnParam = ctx.keys.Old;
        await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
        await ctx.step('the same template, KeyArnParam = New', async () => ctx.bed.engine.update(ctx.bed.synth(app), { parameters: { KeyArnParam: ctx.keys.New } }));
      }),
      check: (ctx, expect) => {
        expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
        const deletes = answersOf(ctx, 'Delete');
        expect(deletes.map((a) => [a.stackStatus, a.responseStatus])).toEqual([['UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'SUCCESS']]);
        expect(allRevoked(ctx, ctx.keys.Old)).toBe(true);
        expect(allRevoked(ctx, ctx.keys.New)).toBe(revoked);
        if (!revoked) expect(deletesOn(ctx, ctx.keys.New)).toHaveLength(0);
        expectNoDenial(ctx, expect);
      },
    };
  }),
  {
    name: 'rollback-key-by-parameter',
    rows: ['L10', 'S7'],
    description: 'The same parameter moved to another key by an update that fails: the update rolls back, the replacement key policy is deleted in the rollback\'s cleanup, and nothing is revoked, neither key.',
    preexistingKeys: { Old: { materials: 2 }, New: { materials: 2 } },
    app: (stack) => {
      const param = new CfnParameter(stack, 'KeyArnParam', { type: 'String' });
      new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, 'ByParam', param.valueAsString) });
    },
    play: enforced(async (ctx) => {
      ctx.bed.engine.parameters.KeyArnParam = ctx.keys.Old;
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('KeyArnParam = New, and Doomed fails', async () => ctx.bed.engine.update(ctx.bed.synth((stack) => {
        const param = new CfnParameter(stack, 'KeyArnParam', { type: 'String' });
        const revocation = new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, 'ByParam', param.valueAsString) });
        // After the revocation, so after its key policy was replaced: the rollback has both to undo.
        new CfnWaitConditionHandle(stack, 'Doomed').addDependency(revocation.node.defaultChild as CfnResource);
      }), { failOn: 'Doomed', parameters: { KeyArnParam: ctx.keys.New } }));
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_ROLLBACK_COMPLETE');
      expect(ctx.bed.engine.parameters.KeyArnParam).toBe(ctx.keys.Old);
      expect(noneRevoked(ctx, ctx.keys.Old)).toBe(true);
      expect(noneRevoked(ctx, ctx.keys.New)).toBe(true);
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial')).toHaveLength(0);
      // The revocation was updated to New, then rolled back to Old: neither step revokes.
      expect(ctx.bed.engine.answers.filter((a) => a.requestType === 'Update').map((a) => [a.stackStatus, a.responseStatus]))
        .toEqual([['UPDATE_IN_PROGRESS', 'SUCCESS'], ['UPDATE_ROLLBACK_IN_PROGRESS', 'SUCCESS']]);
      // Only the old key policy is left in force: its replacement was deleted with the rollback.
      const policies = ctx.bed.engine.inForce().filter((r) => r.type === 'AWS::IAM::ManagedPolicy' && r.status !== 'DELETE_COMPLETE');
      expect(policies).toHaveLength(1);
      expect(JSON.stringify(policies[0].properties)).toContain(ctx.keys.Old);
      expect(JSON.stringify(policies[0].properties)).not.toContain(ctx.keys.New);
      const policyEvents = ctx.bed.cfn.stackEvents(ctx.bed.engine.stackId).filter((e) => e.type === 'AWS::IAM::ManagedPolicy');
      const replacement = policyEvents.find((e) => e.status === 'CREATE_COMPLETE' && e.physicalId !== policies[0].physicalId);
      expect(replacement).toBeDefined();
      expect(policyEvents.filter((e) => e.physicalId === replacement!.physicalId).map((e) => e.status)).toContain('DELETE_COMPLETE');
      expect(policyEvents.filter((e) => e.physicalId === policies[0].physicalId).map((e) => e.status)).not.toContain('DELETE_COMPLETE');
    },
  },
  {
    name: 'cleanup-permission-removed-revoke-on-removal',
    rows: ['L12'],
    description: 'A revocation with revokeOnRemoval is removed while its key (imported by ARN) stays and another revocation keeps the handler: the key is revoked in cleanup.',
    // One preexisting key only: before the keys exist, playScenario synthesizes every preexisting
    // key as the same placeholder ARN, which two revocations would manage twice (S9).
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => {
      new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, 'Imported', keys.Byok), revokeOnRemoval: true });
      new KeyMaterialRevocation(stack, 'Keeper', { key: externalKey(stack, 'KeeperKey') });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the revocation of Byok', (stack) => {
        new KeyMaterialRevocation(stack, 'Keeper', { key: externalKey(stack, 'KeeperKey') });
      });
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const [del] = answersOf(ctx, 'Delete');
      expect(del?.stackStatus).toBe('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      expect(del?.responseStatus).toBe('SUCCESS');
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(ctx.bed.kms.key(ctx.keys.Byok)!.state).toBe('PendingImport');
      expect(noneRevoked(ctx, keyOf(ctx, 'KeeperKey'))).toBe(true);
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'cleanup-permission-removed-with-key',
    rows: ['L13'],
    description: 'A revocation and its same-stack key (default key policy, RemovalPolicy.DESTROY) are removed together while another revocation keeps the handler: revoked before the key is scheduled for deletion.',
    preexistingKeys: { Other: { materials: 2 } },
    app: (stack, keys) => {
      new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA', RemovalPolicy.DESTROY) });
      new KeyMaterialRevocation(stack, 'Keeper', { key: byArn(stack, 'OtherKey', keys.Other) });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove KeyA and its revocation', (stack) => {
        new KeyMaterialRevocation(stack, 'Keeper', { key: byArn(stack, 'OtherKey', ctx.keys.Other) });
      });
    }),
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'KeyA');
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, arn)).toBe(true);
      const scheduled = ctx.bed.engine.scheduledKeyDeletions.find((s) => s.arn === arn);
      expect(scheduled).toBeDefined();
      expect(deletesOn(ctx, arn).length).toBeGreaterThan(0);
      expect(Math.max(...deletesOn(ctx, arn).map((c) => c.at))).toBeLessThanOrEqual(scheduled!.at);
      expect(ctx.bed.kms.key(arn)!.state).toBe('PendingDeletion');
      expect(noneRevoked(ctx, ctx.keys.Other)).toBe(true);
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'permission-denied-is-loud',
    rows: ['L16'],
    description: 'Negative control: an update adds an explicit Deny of kms:DeleteImportedKeyMaterial for the handler role to the key policy; stack deletion then stops in DELETE_FAILED with a reason naming the action, and the key is untouched.',
    app: (stack) => { new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA') }); },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'deny the handler role in the key policy', (stack) => {
        const key = externalKey(stack, 'KeyA');
        new KeyMaterialRevocation(stack, 'Revocation', { key });
        key.addToResourcePolicy(new iam.PolicyStatement({
          sid: 'DenyRevocation',
          effect: iam.Effect.DENY,
          principals: [new iam.ArnPrincipal(handlerRole(stack).roleArn)],
          actions: ['kms:DeleteImportedKeyMaterial'],
          resources: ['*'],
        }));
      });
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    }),
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'KeyA');
      expect(ctx.bed.engine.status).toBe('DELETE_FAILED');
      const [del] = answersOf(ctx, 'Delete');
      expect(del?.stackStatus).toBe('DELETE_IN_PROGRESS');
      expect(del?.responseStatus).toBe('FAILED');
      expect(del?.reason).toContain('kms:DeleteImportedKeyMaterial');
      expect(del?.reason).toContain(arn);
      expect(noneRevoked(ctx, arn)).toBe(true);
      expect(ctx.bed.kms.key(arn)!.state).toBe('Enabled');
      // Denied by the policy evaluation (no deny rule is set up), as KMS words it.
      expect(deniedHandlerCalls(ctx).some((c) => c.op === 'DeleteImportedKeyMaterial' && !!c.errorMessage?.endsWith('with an explicit deny in a resource-based policy'))).toBe(true);
      expect(deletesOn(ctx, arn)).toHaveLength(0);
    },
  },
];

/**
 * Nested stacks with policies enforced for their own handlers (S11: one handler per nested stack,
 * with its own role), for keys defined inside the nested stack and keys of the root.
 */
export const NESTED_PERMISSION_SCENARIOS: Scenario[] = [
  {
    name: 'nested-permission-revocation-removed-with-root-key',
    rows: ['S10', 'L13', 'S11'],
    description: 'A nested revocation and its root key removed by one update, policies enforced: the nested handler reads the key\'s tags and revokes it under the policy of the template before the update, still in force in the cleanup.',
    app: (stack) => {
      const inner = new NestedStack(stack, 'Inner');
      new CfnWaitConditionHandle(inner, 'Placeholder');
      new KeyMaterialRevocation(inner, 'Revocation', { key: externalKey(stack, 'RootKey', RemovalPolicy.DESTROY) });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the root key and the nested revocation', (stack) => {
        new CfnWaitConditionHandle(new NestedStack(stack, 'Inner'), 'Placeholder');
      });
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'RootKey'))).toBe(true);
      expectNestedHandlerCalls(ctx, expect, 'ListResourceTags');
      expectNestedHandlerCalls(ctx, expect, 'DeleteImportedKeyMaterial');
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'nested-permission-revocation-removed-root-key-stays',
    rows: ['S10', 'L12', 'S11'],
    description: 'A nested revocation of a root key removed while the key stays, policies enforced: the nested handler may still read the key\'s tags in the cleanup, finds the tag gone and keeps the key.',
    app: (stack) => {
      const inner = new NestedStack(stack, 'Inner');
      new CfnWaitConditionHandle(inner, 'Placeholder');
      new KeyMaterialRevocation(inner, 'Revocation', { key: externalKey(stack, 'RootKey') });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the nested revocation', (stack) => {
        externalKey(stack, 'RootKey');
        new CfnWaitConditionHandle(new NestedStack(stack, 'Inner'), 'Placeholder');
      });
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(noneRevoked(ctx, keyOf(ctx, 'RootKey'))).toBe(true);
      expectNestedHandlerCalls(ctx, expect, 'ListResourceTags');
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'nested-permission-destroy-admin-only-key',
    rows: ['L22', 'S11'],
    description: 'A nested stack\'s own key under a key policy that names an admin role only, revoked by the nested stack\'s handler when the root is deleted: its key-policy statement names the nested handler\'s role.',
    app: (stack) => {
      const inner = new NestedStack(stack, 'Inner');
      new KeyMaterialRevocation(inner, 'Revocation', { key: adminOnlyKey(inner, 'KeyA') });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
      expectNestedHandlerCalls(ctx, expect, 'DeleteImportedKeyMaterial');
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'nested-permission-pointed-away-admin-only',
    rows: ['L9', 'L24', 'S11'],
    description: 'Inside a nested stack, a revocation is pointed from one admin-only key to another while the first stays: the nested handler revokes the first in the cleanup, through the statement that lets IAM grant its role alone.',
    app: (stack) => {
      const inner = new NestedStack(stack, 'Inner');
      adminOnlyKey(inner, 'KeyB');
      new KeyMaterialRevocation(inner, 'Revocation', { key: adminOnlyKey(inner, 'KeyA') });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'point the nested revocation at KeyB', (stack) => {
        const inner = new NestedStack(stack, 'Inner');
        adminOnlyKey(inner, 'KeyA');
        new KeyMaterialRevocation(inner, 'Revocation', { key: adminOnlyKey(inner, 'KeyB') });
      });
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const del = ctx.bed.engine.answers.find((a) => a.requestType === 'Delete');
      expect(del).toMatchObject({ stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(allRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeyB'))).toBe(true);
      expectNestedHandlerCalls(ctx, expect, 'DeleteImportedKeyMaterial');
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'nested-permission-root-key',
    rows: ['L22', 'S10', 'S11'],
    description: 'A nested revocation of a root key with its default key policy (it trusts the account): the nested handler\'s own IAM key policy grants it, and deleting the root revokes it.',
    app: (stack) => { new KeyMaterialRevocation(new NestedStack(stack, 'Inner'), 'Revocation', { key: externalKey(stack, 'RootKey') }); },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await ctx.step('delete the stack', () => ctx.bed.engine.deleteStack());
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('DELETE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'RootKey'))).toBe(true);
      expectNestedHandlerCalls(ctx, expect, 'DeleteImportedKeyMaterial');
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'nested-permission-root-admin-only-key',
    rows: ['L3', 'S10', 'S11'],
    description: 'A nested revocation of a root key whose policy names an admin role only: the construct cannot name the nested role there (synth warns), so the nested handler\'s create check is denied and the deployment fails and rolls back, revoking nothing.',
    app: (stack) => { new KeyMaterialRevocation(new NestedStack(stack, 'Inner'), 'Revocation', { key: adminOnlyKey(stack, 'RootKey') }); },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('ROLLBACK_COMPLETE');
      const create = ctx.bed.engine.answers.find((a) => a.requestType === 'Create');
      expect(create?.responseStatus).toBe('FAILED');
      expect(create?.reason).toContain('kms:DescribeKey');
      expect(create?.reason).toContain(keyOf(ctx, 'RootKey'));
      expect(deniedHandlerCalls(ctx).map((c) => c.op)).toContain('DescribeKey');
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial')).toHaveLength(0);
    },
  },
  {
    name: 'nested-permission-removed-revoke-on-removal-admin-only',
    rows: ['L12', 'S11'],
    description: 'Inside a nested stack, a revocation with revokeOnRemoval of an admin-only key is removed while the key and another revocation stay: the nested handler revokes the key in the cleanup.',
    app: (stack) => {
      const inner = new NestedStack(stack, 'Inner');
      new KeyMaterialRevocation(inner, 'Revocation', { key: adminOnlyKey(inner, 'KeyA'), revokeOnRemoval: true });
      new KeyMaterialRevocation(inner, 'Keeper', { key: externalKey(inner, 'KeeperKey') });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the nested revocation of KeyA', (stack) => {
        const inner = new NestedStack(stack, 'Inner');
        adminOnlyKey(inner, 'KeyA');
        new KeyMaterialRevocation(inner, 'Keeper', { key: externalKey(inner, 'KeeperKey') });
      });
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, keyOf(ctx, 'KeyA'))).toBe(true);
      expect(noneRevoked(ctx, keyOf(ctx, 'KeeperKey'))).toBe(true);
      expectNestedHandlerCalls(ctx, expect, 'DeleteImportedKeyMaterial');
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'nested-permission-stack-removed-with-admin-only-key',
    rows: ['L24', 'L13', 'S11'],
    description: 'A successful root update removes a nested stack with its admin-only key (RemovalPolicy.DESTROY) and its revocation: the nested handler revokes the key before it is scheduled for deletion, while its role and policies are still there.',
    app: (stack) => {
      const inner = new NestedStack(stack, 'Inner');
      const key = adminOnlyKey(inner, 'KeyA');
      key.applyRemovalPolicy(RemovalPolicy.DESTROY);
      new KeyMaterialRevocation(inner, 'Revocation', { key });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the nested stack', (stack) => { new CfnWaitConditionHandle(stack, 'Placeholder'); });
    }),
    check: (ctx, expect) => {
      const arn = keyOf(ctx, 'KeyA');
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, arn)).toBe(true);
      expect(ctx.bed.kms.key(arn)!.state).toBe('PendingDeletion');
      expectNestedHandlerCalls(ctx, expect, 'DeleteImportedKeyMaterial');
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'root-permission-nested-admin-only-key',
    rows: ['L3', 'S10'],
    description: 'A root revocation of a nested stack\'s admin-only key: the construct cannot name the root\'s role in the nested key policy (synth warns), so the root handler\'s create check is denied and the deployment rolls back, revoking nothing.',
    app: (stack) => { new KeyMaterialRevocation(stack, 'Revocation', { key: adminOnlyKey(new NestedStack(stack, 'Inner'), 'InnerKey') }); },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('ROLLBACK_COMPLETE');
      const create = ctx.bed.engine.answers.find((a) => a.requestType === 'Create' && a.stackId === ctx.bed.engine.stackId);
      expect(create?.responseStatus).toBe('FAILED');
      expect(create?.reason).toContain('kms:DescribeKey');
      expect(ctx.bed.kms.callsTo('DeleteImportedKeyMaterial')).toHaveLength(0);
    },
  },
  {
    name: 'nested-permission-only-root-revocation-moved-into-nested',
    rows: ['L12', 'L24', 'S11'],
    description: 'The root\'s only revocation (revokeOnRemoval on, key imported by ARN) is moved into a new nested stack: the root\'s handler, whose policy before the update is the one in force, lists the new nested stack and skips; nothing is revoked and nothing denied.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => { new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, 'Imported', keys.Byok), revokeOnRemoval: true }); },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'move the revocation into a new nested stack', (stack) => {
        const inner = new NestedStack(stack, 'Inner');
        new KeyMaterialRevocation(inner, 'Revocation', { key: byArn(inner, 'Imported', ctx.keys.Byok), revokeOnRemoval: true });
      });
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      const del = answersOf(ctx, 'Delete').find((a) => a.stackId === ctx.bed.engine.stackId);
      expect(del).toMatchObject({ stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', responseStatus: 'SUCCESS' });
      expect(del!.decision).toMatchObject({ decision: 'skipped' });
      expect(noneRevoked(ctx, ctx.keys.Byok)).toBe(true);
      // The root's handler did list the nested stack, under IAM evaluation.
      const nestedId = ctx.bed.engine.nested('Inner').stackId;
      expect(ctx.bed.cfn.calls.some((c) => c.op === 'ListStackResources' && c.params.StackName === nestedId &&
        c.accessKeyId === ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID && c.status === 200)).toBe(true);
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'nested-permission-only-root-revocation-removed-nested-added',
    rows: ['L12', 'S11'],
    description: 'The root\'s only revocation (revokeOnRemoval on) is removed while the update adds a nested stack revoking another key: the root\'s handler lists the new nested stack, finds no other revocation of its key, and revokes it.',
    preexistingKeys: { Byok: { materials: 2 }, Other: { materials: 1 } },
    app: (stack, keys) => { new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, 'Imported', keys.Byok), revokeOnRemoval: true }); },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove the revocation, add a nested stack with another', (stack) => {
        const inner = new NestedStack(stack, 'Inner');
        new KeyMaterialRevocation(inner, 'Revocation', { key: byArn(inner, 'Other', ctx.keys.Other) });
      });
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(noneRevoked(ctx, ctx.keys.Other)).toBe(true);
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'nested-permission-root-loses-its-nested-stack',
    rows: ['L12', 'S11'],
    description: 'One update removes a root revocation (revokeOnRemoval on) and the root\'s only nested stack while another root revocation stays: the key is revoked, and no read of the departing nested stack is denied.',
    preexistingKeys: { Byok: { materials: 2 }, Other: { materials: 1 }, Third: { materials: 1 } },
    app: (stack, keys) => {
      new KeyMaterialRevocation(stack, 'Gone', { key: byArn(stack, 'Imported', keys.Byok), revokeOnRemoval: true });
      new KeyMaterialRevocation(stack, 'Keeper', { key: byArn(stack, 'Other', keys.Other) });
      new KeyMaterialRevocation(new NestedStack(stack, 'Inner'), 'Revocation', { key: byArn(stack, 'Third', keys.Third) });
    },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      await update(ctx, 'remove Gone and the nested stack', (stack) => {
        new KeyMaterialRevocation(stack, 'Keeper', { key: byArn(stack, 'Other', ctx.keys.Other) });
      });
    }),
    check: (ctx, expect) => {
      expect(ctx.bed.engine.status).toBe('UPDATE_COMPLETE');
      expect(allRevoked(ctx, ctx.keys.Byok)).toBe(true);
      expect(noneRevoked(ctx, ctx.keys.Other)).toBe(true);
      expect(noneRevoked(ctx, ctx.keys.Third)).toBe(true);
      expectNoDenial(ctx, expect);
    },
  },
  {
    name: 'permission-cloudformation-reads-evaluated',
    rows: ['S11', 'L21'],
    description: 'Control: with policies enforced, the CloudFormation double evaluates the handler\'s reads against its role\'s policies in force: its own stack and the stack-name pattern of its tree are allowed, another stack is denied.',
    preexistingKeys: { Byok: { materials: 2 } },
    app: (stack, keys) => { new KeyMaterialRevocation(stack, 'Revocation', { key: byArn(stack, 'Imported', keys.Byok) }); },
    play: enforced(async (ctx) => {
      await ctx.step('create the stack', () => ctx.bed.engine.create(ctx.bed.template));
      const client = new CloudFormationClient({
        region: REGION, endpoint: ctx.bed.cfn.endpoint,
        credentials: { accessKeyId: ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: ROLE_CREDENTIALS.AWS_SECRET_ACCESS_KEY },
      });
      const other = `arn:aws:cloudformation:${REGION}:${ctx.bed.engine.stackId.split(':')[4]}:stack/SomeoneElse/6f1e0a52-2b1c-4c7e-9a31-0d1f7a1b2c3d`;
      ctx.bed.cfn.putStack(other, { status: 'CREATE_COMPLETE', template: { Resources: {} } });
      const outcome = async (stackName: string, list = true) => {
        try {
          if (list) await client.send(new ListStackResourcesCommand({ StackName: stackName }));
          else await client.send(new GetTemplateCommand({ StackName: stackName }));
          return 'allowed';
        } catch (err) {
          return (err as Error).name;
        }
      };
      gathered.set(ctx, {
        own: await outcome(ctx.bed.engine.stackId),
        other: await outcome(other),
        ownTemplate: await outcome(ctx.bed.engine.stackId, false),
      });
      client.destroy();
    }),
    check: (ctx, expect) => {
      expect(gathered.get(ctx)).toEqual({ own: 'allowed', other: 'AccessDenied', ownTemplate: 'allowed' });
    },
  },
];

