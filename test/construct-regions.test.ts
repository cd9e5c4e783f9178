/**
 * Construct tests for multi-Region keys (LIFECYCLE M1): the handler's key grant names a
 * multi-Region key's ID in any Region of its account (every Region it may hold material in,
 * replicas added later included), single-Region keys stay exact; `revokeReplicas: false` writes
 * Regions KEY_REGION and warns at synth when the key is known to be multi-Region; the default
 * writes nothing new, so upgrading changes no template.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Aspects, Lazy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { KeyMaterialRevocation } from '../lib/index';
import { isMultiRegionAtSynth } from '../lib/provider';

const ACCOUNT = '111111111111';
const ENV = { account: ACCOUNT, region: 'eu-west-1' };
const MRK = `arn:aws:kms:us-east-1:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab`;
const SINGLE = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const WARNING = /multi-Region key and revokeReplicas is off/;

function newStack(app = new App()): Stack {
  return new Stack(app, 'Stack', { env: ENV });
}

function externalKey(stack: Stack, id: string, multiRegion: boolean): kms.Key {
  const key = new kms.Key(stack, id);
  const cfn = key.node.defaultChild as kms.CfnKey;
  cfn.addPropertyOverride('Origin', 'EXTERNAL');
  if (multiRegion) cfn.multiRegion = true;
  return key;
}

/** Every resource the key policies grant, as the template has it. */
function granted(template: Template): unknown[] {
  return Object.values(template.findResources('AWS::IAM::ManagedPolicy'))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Resource].flat()));
}

/** Resolves the Fn::Join / Fn::Select / Fn::Split / Fn::GetAtt / Ref of a grant the way CloudFormation would. */
function evaluate(node: any, arns: Record<string, string>): any {
  if (typeof node === 'string') return node;
  if (node['Fn::GetAtt']) return arns[node['Fn::GetAtt'][0]];
  if (node.Ref === 'AWS::Partition') return 'aws';
  if (node['Fn::Join']) return node['Fn::Join'][1].map((p: any) => evaluate(p, arns)).join(node['Fn::Join'][0]);
  if (node['Fn::Split']) return evaluate(node['Fn::Split'][1], arns).split(node['Fn::Split'][0]);
  if (node['Fn::Select']) return evaluate(node['Fn::Select'][1], arns)[node['Fn::Select'][0]];
  throw new Error(`not modelled: ${JSON.stringify(node)}`);
}

describe('M1: key grants of multi-Region keys', () => {
  test('M1/S5: a multi-Region key by ARN is granted as its key ID in any Region of its account; a single-Region key stays exact', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'Mrk', { key: kms.Key.fromKeyArn(stack, 'MrkKey', MRK) });
    new KeyMaterialRevocation(stack, 'Single', { key: kms.Key.fromKeyArn(stack, 'SingleKey', SINGLE) });
    expect(granted(Template.fromStack(stack)).sort()).toEqual([
      `arn:aws:kms:*:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab`, SINGLE,
    ]);
  });

  test('M1/S5: a same-stack CfnKey with MultiRegion true is granted through Fn::Split/Fn::Select on its ARN, which CloudFormation resolves to its key ID in any Region', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'Mrk', { key: externalKey(stack, 'MrkKey', true) });
    new KeyMaterialRevocation(stack, 'Single', { key: externalKey(stack, 'SingleKey', false) });
    const template = Template.fromStack(stack);
    const keys = Object.keys(template.findResources('AWS::KMS::Key'));
    const mrkId = keys.find((k) => k.startsWith('MrkKey'))!;
    const singleId = keys.find((k) => k.startsWith('SingleKey'))!;
    const arns = {
      [mrkId]: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/mrk-00000000000000000000000000000001`,
      [singleId]: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/00000000-0000-4000-8000-000000000001`,
    };
    expect(granted(template).map((g) => evaluate(g, arns)).sort()).toEqual([
      `arn:aws:kms:*:${ACCOUNT}:key/mrk-00000000000000000000000000000001`, arns[singleId],
    ]);
    // The single-Region key is still granted by its exact ARN reference.
    expect(granted(template)).toContainEqual({ 'Fn::GetAtt': [singleId, 'Arn'] });
  });

  test('M1/S5: MultiRegion set by an override is seen too', () => {
    const stack = newStack();
    const key = externalKey(stack, 'Key', false);
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('MultiRegion', true);
    new KeyMaterialRevocation(stack, 'R', { key });
    const [grant] = granted(Template.fromStack(stack));
    expect(JSON.stringify(grant)).toMatch(/"kms:\*"/);
  });

  test('M1/S5: MultiRegion as the template will have it, whatever the override: a token for all Properties, a deletion of them, a nested override', () => {
    const multiRegionGrant = (key: kms.Key, stack: Stack) => {
      new KeyMaterialRevocation(stack, 'R', { key });
      return /"kms:\*"/.test(JSON.stringify(granted(Template.fromStack(stack))));
    };
    // All Properties replaced by a token: MultiRegion comes from what it resolves to.
    const lazy = newStack();
    const lazyKey = new kms.Key(lazy, 'Key');
    (lazyKey.node.defaultChild as kms.CfnKey).addOverride('Properties', Lazy.any({ produce: () => ({ Origin: 'EXTERNAL', MultiRegion: true }) }));
    expect(multiRegionGrant(lazyKey, lazy)).toBe(true);
    // All Properties deleted: a key with multiRegion true is written without them, single-Region.
    const deleted = newStack();
    const deletedKey = externalKey(deleted, 'Key', true);
    const deletedCfn = deletedKey.node.defaultChild as kms.CfnKey;
    deletedCfn.addDeletionOverride('Properties');
    expect(Template.fromStack(deleted).toJSON().Resources[deleted.getLogicalId(deletedCfn)].Properties).toBeUndefined();
    expect(isMultiRegionAtSynth(deletedKey, deletedCfn)).toBe(false);
    // One property deleted, or turned on by a nested override.
    const off = newStack();
    const offKey = externalKey(off, 'Key', true);
    (offKey.node.defaultChild as kms.CfnKey).addPropertyDeletionOverride('MultiRegion');
    expect(multiRegionGrant(offKey, off)).toBe(false);
    const on = newStack();
    const onKey = externalKey(on, 'Key', false);
    (onKey.node.defaultChild as kms.CfnKey).addOverride('Properties.MultiRegion', 'true');
    expect(multiRegionGrant(onKey, on)).toBe(true);
  });

  test('M1/S5: 250 multi-Region keys by ARN still fit the 5 key policies, each under 6,144 characters', () => {
    const stack = newStack();
    for (let i = 0; i < 250; i++) {
      const arn = `arn:aws:kms:ap-southeast-4:${ACCOUNT}:key/mrk-${i.toString(16).padStart(32, '0')}`;
      new KeyMaterialRevocation(stack, `R${i}`, { key: kms.Key.fromKeyArn(stack, `K${i}`, arn) });
    }
    const template = Template.fromStack(stack);
    const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy')) as any[];
    expect(policies.length).toBeLessThanOrEqual(5);
    for (const p of policies) expect(JSON.stringify(p.Properties.PolicyDocument).length).toBeLessThan(6_144);
    expect(granted(template)).toHaveLength(250);
  });

  test('M1/S5: cdk-nag AwsSolutions-IAM5 for the Region wildcard is acknowledged with a reason, for that key only', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'nag-regions-')) });
    const stack = newStack(app);
    new KeyMaterialRevocation(stack, 'Mrk', { key: kms.Key.fromKeyArn(stack, 'MrkKey', MRK) });
    new KeyMaterialRevocation(stack, 'Own', { key: externalKey(stack, 'OwnKey', true) });
    Aspects.of(app).add(new AwsSolutionsChecks());
    app.synth();
    const annotations = Annotations.fromStack(stack);
    const findings = [...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-IAM5')),
      ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-IAM5'))];
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data).slice(0, 200)}`)).toEqual([]);
  });
});

describe('M1: revokeReplicas', () => {
  const regionsOf = (stack: Stack) => Object.values(Template.fromStack(stack).findResources('Custom::KmsKeyMaterialRevocation'))
    .map((r: any) => r.Properties.Regions);
  const warnings = (stack: Stack) => Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp(WARNING.source));

  test('M1: by default nothing new is written (absent means ALL) and nothing warns', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', MRK) });
    expect(regionsOf(stack)).toEqual([undefined]);
    expect(warnings(stack)).toEqual([]);
  });

  test('M1: revokeReplicas false on a multi-Region key by ARN writes Regions KEY_REGION and warns that one Region only is covered', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', MRK), revokeReplicas: false });
    expect(regionsOf(stack)).toEqual(['KEY_REGION']);
    expect(warnings(stack)).toHaveLength(1);
    expect(warnings(stack)[0].id).toBe('/Stack/R');
  });

  test('M1: revokeReplicas false on a same-stack MultiRegion CfnKey warns, set after the revocation too', () => {
    const stack = newStack();
    const key = externalKey(stack, 'Key', false);
    new KeyMaterialRevocation(stack, 'R', { key, revokeReplicas: false });
    (key.node.defaultChild as kms.CfnKey).multiRegion = true;
    expect(warnings(stack)).toHaveLength(1);
  });

  test('M1: revokeReplicas false on a single-Region key, or a key only known at deploy time, does not warn', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', SINGLE), revokeReplicas: false });
    new KeyMaterialRevocation(stack, 'S', { key: externalKey(stack, 'Own', false), revokeReplicas: false });
    expect(warnings(stack)).toEqual([]);
    expect(regionsOf(stack)).toEqual(['KEY_REGION', 'KEY_REGION']);
  });
});
