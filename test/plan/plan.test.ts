/**
 * The plan command (cli/): offline fixtures for every LIFECYCLE row a plan can foresee, two
 * versions of a real CDK app synthesized into cloud assemblies and compared. The plan uses the
 * handler's own decision rules, so these tests pin the facts it feeds them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, CfnParameter, CfnResource, NestedStack, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { plan, PlanItem } from '../../cli/plan';
import { readAssembly } from '../../cli/sources';
import { KeyMaterialRevocation, KeyMaterialRevocationProps } from '../../lib/index';

const ENV = { account: '111111111111', region: 'eu-west-1' };
const KEY_1 = 'arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-1111-1111-111111111111';
const KEY_2 = 'arn:aws:kms:eu-west-1:111111111111:key/22222222-2222-2222-2222-222222222222';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function synth(build: (stack: Stack) => void): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-test-'));
  dirs.push(outdir);
  // As `cdk synth` runs an app: construct paths in the template's metadata.
  const app = new App({ outdir, context: { 'aws:cdk:enable-path-metadata': true } });
  build(new Stack(app, 'Byok', { env: ENV }));
  app.synth();
  return outdir;
}

function externalKey(scope: Construct, id: string, removal = RemovalPolicy.RETAIN): kms.Key {
  const key = new kms.Key(scope, id, { removalPolicy: removal });
  (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
  return key;
}

const imported = (arn: string, props: Partial<KeyMaterialRevocationProps> = {}, id = 'Revocation') => (stack: Stack) =>
  new KeyMaterialRevocation(stack, id, { key: kms.Key.fromKeyArn(stack, `${id}Key`, arn), ...props });

const sameStack = (props: Partial<KeyMaterialRevocationProps> = {}) => (stack: Stack) =>
  new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA'), ...props });

function planOf(before: ((s: Stack) => void) | undefined, after: (s: Stack) => void): PlanItem[] {
  const next = readAssembly(synth(after))[0].stack;
  const deployed = before ? readAssembly(synth(before))[0].stack : undefined;
  return plan(next, deployed);
}

const deploying = (items: PlanItem[]) => items.filter((i) => i.when === 'deploy');
const revoked = (items: PlanItem[], when: 'deploy' | 'destroy' = 'deploy') =>
  items.filter((i) => i.when === when && i.verdict === 'revoke').flatMap((i) => i.keys);

describe('plan: what a deployment will revoke (offline)', () => {
  test('L1/L6: a new stack revokes nothing on deploy; destroying it would revoke its key', () => {
    const items = planOf(undefined, imported(KEY_1));
    expect(revoked(items)).toEqual([]);
    expect(deploying(items)[0].why).toContain('nothing revoked on create');
    expect(revoked(items, 'destroy')).toEqual([KEY_1]);
  });

  test('L7: with revokeOnStackDelete off, destroy revokes nothing and says why', () => {
    const items = planOf(undefined, imported(KEY_1, { revokeOnStackDelete: false }));
    expect(revoked(items, 'destroy')).toEqual([]);
    expect(items.find((i) => i.when === 'destroy')!.why).toContain('revokeOnStackDelete is off');
  });

  test('L8: an unchanged or in-place-updated revocation revokes nothing', () => {
    expect(revoked(planOf(imported(KEY_1), imported(KEY_1)))).toEqual([]);
    const items = planOf(imported(KEY_1), imported(KEY_1, { materialScope: undefined, revokeOnRemoval: true }));
    expect(revoked(items)).toEqual([]);
    expect(deploying(items)[0].why).toContain('in-place');
  });

  test('L9: pointing the construct at another key revokes the old key in the cleanup', () => {
    const items = planOf(imported(KEY_1), imported(KEY_2));
    expect(revoked(items)).toEqual([KEY_1]);
    const [item] = deploying(items).filter((i) => i.verdict === 'revoke');
    expect(item.why).toContain('key replaced');
    expect(item.phase).toContain('once the update has succeeded');
    expect(item.constructPath).toBe('Byok/Revocation');
  });

  test('L9/S7: a key given by a parameter: a new value is a key change (the old key revoked), the same value is no event', () => {
    const byParam = (stack: Stack) => {
      const param = new CfnParameter(stack, 'KeyArnParam', { type: 'String' });
      new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Key', param.valueAsString) });
    };
    const next = readAssembly(synth(byParam))[0].stack;
    const deployed = { ...readAssembly(synth(byParam))[0].stack, parameters: { KeyArnParam: KEY_1 } };
    const moved = plan({ ...next, parameters: { KeyArnParam: KEY_2 } }, deployed);
    expect(revoked(moved)).toEqual([KEY_1]);
    expect(revoked(moved, 'destroy')).toEqual([KEY_2]);
    const kept = plan({ ...next, parameters: { KeyArnParam: KEY_1 } }, deployed);
    expect(revoked(kept)).toEqual([]);
    expect(deploying(kept).map((i) => i.why)).toEqual(['unchanged: CloudFormation sends it no event']);
    // Values unknown on both sides (offline): the same description, no change foreseen.
    expect(revoked(plan(next, readAssembly(synth(byParam))[0].stack))).toEqual([]);
  });

  test('L9/S7: a key ARN built from a parameter (Fn::Join), and one passed into a nested stack, are named by the values', () => {
    const joined = (stack: Stack) => {
      const keyId = new CfnParameter(stack, 'KeyId', { type: 'String' });
      new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Key', `arn:aws:kms:eu-west-1:111111111111:key/${keyId.valueAsString}`) });
    };
    const id = (arn: string) => arn.split('/')[1];
    const next = readAssembly(synth(joined))[0].stack;
    const deployed = { ...readAssembly(synth(joined))[0].stack, parameters: { KeyId: id(KEY_1) } };
    expect(revoked(plan({ ...next, parameters: { KeyId: id(KEY_2) } }, deployed))).toEqual([KEY_1]);
    expect(revoked(plan({ ...next, parameters: { KeyId: id(KEY_1) } }, deployed))).toEqual([]);

    const nested = (stack: Stack) => {
      const arn = new CfnParameter(stack, 'KeyArnParam', { type: 'String' });
      const child = new NestedStack(stack, 'Child');
      new KeyMaterialRevocation(child, 'Revocation', { key: kms.Key.fromKeyArn(child, 'Key', arn.valueAsString) });
    };
    const nextTree = readAssembly(synth(nested))[0].stack;
    const deployedTree = { ...readAssembly(synth(nested))[0].stack, parameters: { KeyArnParam: KEY_1 } };
    expect(revoked(plan({ ...nextTree, parameters: { KeyArnParam: KEY_2 } }, deployedTree))).toEqual([KEY_1]);
    expect(revoked(plan({ ...nextTree, parameters: { KeyArnParam: KEY_1 } }, deployedTree))).toEqual([]);
  });

  test('L9: with revokeOnKeyReplacement off (in the new version), the old key is kept', () => {
    const items = planOf(imported(KEY_1), imported(KEY_2, { revokeOnKeyReplacement: false }));
    expect(revoked(items)).toEqual([]);
    expect(deploying(items)[0].why).toContain('revokeOnKeyReplacement is off');
  });

  test('L12: removing only the construct keeps the key, unless revokeOnRemoval was on', () => {
    const keep = (stack: Stack) => { new kms.CfnKey(stack, 'Other', { keyPolicy: {} }); };
    expect(revoked(planOf(imported(KEY_1), keep))).toEqual([]);
    expect(revoked(planOf(imported(KEY_1, { revokeOnRemoval: true }), keep))).toEqual([KEY_1]);
  });

  test('L12: a construct renamed (the same key under a new ID) revokes nothing, even with revokeOnRemoval', () => {
    const items = planOf(imported(KEY_1, { revokeOnRemoval: true }), imported(KEY_1, { revokeOnRemoval: true }, 'Renamed'));
    expect(revoked(items)).toEqual([]);
    expect(deploying(items).find((i) => i.logicalId.startsWith('Revocation'))!.why).toContain('still manages the same key');
  });

  test('L13: removing the construct together with its same-stack key revokes it', () => {
    const items = planOf(sameStack(), (stack) => { new kms.CfnKey(stack, 'Other', { keyPolicy: {} }); });
    const [item] = deploying(items);
    expect(item.verdict).toBe('revoke');
    expect(item.why).toContain('together with its key');
  });

  test('S10/L13/L12: a nested revocation of a root key: removed together revokes, the key staying keeps it (no gap in the plan)', () => {
    const both = (stack: Stack) => {
      const inner = new NestedStack(stack, 'Inner');
      new kms.CfnKey(inner, 'Other', { keyPolicy: {} });
      new KeyMaterialRevocation(inner, 'Revocation', { key: externalKey(stack, 'RootKey') });
    };
    const together = deploying(planOf(both, (stack) => { new kms.CfnKey(new NestedStack(stack, 'Inner'), 'Other', { keyPolicy: {} }); }));
    expect(together.map((i) => i.verdict)).toEqual(['revoke']);
    expect(together[0].why).toContain('together with its key, defined in another stack of this tree');
    const stays = deploying(planOf(both, (stack) => {
      externalKey(stack, 'RootKey');
      new kms.CfnKey(new NestedStack(stack, 'Inner'), 'Other', { keyPolicy: {} });
    }));
    expect(stays.map((i) => i.verdict)).toEqual(['keep']);
    expect(stays[0].why).toContain('no longer carries the tag');
    // The nested stack removed with the revocation in it: the same two answers (L24).
    expect(deploying(planOf(both, (stack) => { new kms.CfnKey(stack, 'Other', { keyPolicy: {} }); })).map((i) => i.verdict)).toEqual(['revoke']);
    expect(deploying(planOf(both, (stack) => { externalKey(stack, 'RootKey'); })).map((i) => i.verdict)).toEqual(['keep']);
  });

  test('L14: the switch turning on revokes in the cleanup; a create with the switch on revokes during the create', () => {
    const on = planOf(imported(KEY_1), imported(KEY_1, { revoked: true }));
    expect(revoked(on)).toEqual([KEY_1]);
    expect(deploying(on)[0].phase).toContain('cleanup');
    const created = planOf(undefined, imported(KEY_1, { revoked: true }));
    expect(revoked(created)).toEqual([KEY_1]);
    expect(deploying(created)[0].phase).toContain('during the create');
  });

  test('L14: the switch staying on while the key changes revokes the new key and the old one', () => {
    const items = planOf(imported(KEY_1, { revoked: true }), imported(KEY_2, { revoked: true }));
    expect(revoked(items).sort()).toEqual([KEY_1, KEY_2].sort());
  });

  test('L14: the switch turning off revokes nothing and says re-import is the way back', () => {
    const items = planOf(imported(KEY_1, { revoked: true }), imported(KEY_1));
    expect(revoked(items)).toEqual([]);
    expect(deploying(items)[0].why).toContain('re-import');
  });

  describe('nested stacks (L22, L24)', () => {
    const nested = (id: string, build: (s: Stack) => void) => (stack: Stack) => build(new NestedStack(stack, id));

    test('L24: a nested stack removed with a key defined in it revokes that key; destroy of the root revokes it too (L22)', () => {
      const withKey = nested('Inner', (s) => sameStack()(s));
      const before = planOf(undefined, withKey);
      expect(revoked(before, 'destroy')).toHaveLength(1);
      const items = planOf(withKey, (stack) => { new kms.CfnKey(stack, 'Other', { keyPolicy: {} }); });
      const [item] = deploying(items);
      expect(item.verdict).toBe('revoke');
      expect(item.stack).toBe('Byok/' + item.stack.split('/')[1]);
      expect(item.why).toContain('nested stack removed');
    });

    test('L24/L27: offline, a nested stack removed whose key a refactor may have renamed inside it is a foreseen failure, not a keep', () => {
      // A refactor renames resources and updates references, never properties: the revocation's
      // KeyLogicalId still names the key's logical ID from before it.
      const refactored = nested('Inner', (s) => {
        const revocation = sameStack()(s);
        (revocation.node.defaultChild as CfnResource).addPropertyOverride('KeyLogicalId', 'KeyBeforeRefactor');
      });
      const [item] = deploying(planOf(refactored, (stack) => { new kms.CfnKey(stack, 'Other', { keyPolicy: {} }); }));
      expect(item.verdict).toBe('fail');
      expect(item.why).toMatch(/lists key KeyA\w* without its key ID.*KeyBeforeRefactor renamed by a refactor/);
    });

    test('L24: a nested stack removed with a key from outside keeps it (revokeOnRemoval off)', () => {
      const items = planOf(nested('Inner', imported(KEY_1)), (stack) => { new kms.CfnKey(stack, 'Other', { keyPolicy: {} }); });
      expect(revoked(items)).toEqual([]);
      expect(deploying(items)[0].why).toContain('revokeOnRemoval is off');
    });

    test('L24: a nested stack renamed (revokeOnRemoval on, key from outside) revokes nothing: the new copy manages the key', () => {
      const items = planOf(nested('Inner', imported(KEY_1, { revokeOnRemoval: true })), nested('Renamed', imported(KEY_1, { revokeOnRemoval: true })));
      expect(revoked(items)).toEqual([]);
      expect(deploying(items).find((i) => i.why.includes('nested stack removed'))!.why).toContain('still manages the same key');
    });
  });
});
