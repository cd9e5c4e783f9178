/**
 * Construct tests: the synthesized template for LIFECYCLE S1-S11, and the template changes that
 * the runtime rows L9, L12, L13 and L14 rely on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import {
  App, Aspects, CfnParameter, CfnResource, CfnStack, CfnWaitConditionHandle, Duration, IAspect, NestedStack, RemovalPolicy, Stack,
} from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { IConstruct } from 'constructs';
import { PROPERTY_DEFAULTS, WRITE_VERSION_1_CONTEXT } from '../lib/contract';
import { KeyMaterialRevocation, KeyMaterialScope } from '../lib/index';
import { renderedProperties } from '../lib/rendered';

const ACCOUNT = '111111111111';
const ENV = { account: ACCOUNT, region: 'eu-west-1' };
const KMS_ACTIONS = ['kms:DeleteImportedKeyMaterial', 'kms:DescribeKey', 'kms:ListKeyRotations'];
const CFN_READS = ['cloudformation:DescribeStackEvents', 'cloudformation:DescribeStackResource', 'cloudformation:DescribeStacks',
  'cloudformation:GetTemplate', 'cloudformation:ListStackResources'];
const IMPORTED = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

function externalKey(stack: Stack, id: string): kms.Key {
  const key = new kms.Key(stack, id);
  (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
  return key;
}

function newStack(id = 'Stack', env: { account?: string; region?: string } | undefined = ENV, app = new App()) {
  return new Stack(app, id, { env });
}

/** A realistic key ARN: a UUID key ID, or a multi-Region one, in one of a few Regions. */
function realisticArn(i: number): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const region = ['eu-west-1', 'us-east-1', 'ap-southeast-4', 'eu-central-2'][i % 4];
  const id = i % 3 === 0 ? `mrk-${hex(i, 8)}${hex(i * 7919, 24)}` : `${hex(i, 8)}-12ab-4cd5-8ef6-${hex(i * 7919, 12)}`;
  return `arn:aws:kms:${region}:${ACCOUNT}:key/${id}`;
}

/** What a key's grant names: its exact ARN, or for a multi-Region key its key ID in any Region (LIFECYCLE M1). */
const grantOf = (arn: string) => arn.replace(/^(arn:[^:]+:kms:)[^:]+(:\d{12}:key\/mrk-)/, '$1*$2');

const actionsOf = (s: any): string[] => [s.Action].flat().sort();
const resourcesOf = (s: any): any[] => [s.Resource].flat();

/** The one AWS::IAM::Policy of the provider: CloudFormation reads and logs, never a key. */
function readsPolicy(template: Template): { id: string; resource: any } {
  const policies = template.findResources('AWS::IAM::Policy');
  expect(Object.keys(policies)).toHaveLength(1);
  const [id, resource] = Object.entries(policies)[0];
  return { id, resource };
}

/** The key policies: the managed policies of the template, by logical ID. */
function keyPolicies(template: Template): Record<string, any> {
  return template.findResources('AWS::IAM::ManagedPolicy');
}

/** The key ARNs (resolved JSON) each key policy grants, by logical ID. */
function grantsOf(template: Template): Record<string, any[]> {
  return Object.fromEntries(Object.entries(keyPolicies(template)).map(([id, p]) => {
    const statements = p.Properties.PolicyDocument.Statement;
    expect(statements).toHaveLength(1);
    expect(actionsOf(statements[0])).toEqual(KMS_ACTIONS);
    return [id, resourcesOf(statements[0])];
  }));
}

/** The logical ID of the key policy that grants `arn` (resolved JSON). */
function policyGranting(template: Template, arn: any): string {
  const matches = Object.entries(grantsOf(template)).filter(([, arns]) => arns.some((a) => JSON.stringify(a) === JSON.stringify(arn)));
  expect(matches).toHaveLength(1);
  return matches[0][0];
}

function revocations(template: Template): Array<[string, any]> {
  return Object.entries(template.findResources('Custom::KmsKeyMaterialRevocation'));
}

/** S6: every revocation depends on the reads policy and on the key policy that grants its own key. */
function expectEachRevocationDependsOnItsGrant(template: Template): void {
  // The reads come first through the function, which every revocation's ServiceToken references.
  const reads = readsPolicy(template).id;
  const [functionId, fn] = Object.entries(template.findResources('AWS::Lambda::Function'))[0] as [string, any];
  expect(fn.DependsOn).toContain(reads);
  for (const [id, r] of revocations(template)) {
    const keyArn = r.Properties.KeyArn;
    const granting = policyGranting(template, typeof keyArn === 'string' ? grantOf(keyArn) : keyArn);
    expect({ id, dependsOn: r.DependsOn, token: r.Properties.ServiceToken })
      .toEqual({ id, dependsOn: expect.arrayContaining([granting]), token: { 'Fn::GetAtt': [functionId, 'Arn'] } });
  }
}

/** A stack with one revocation per ARN, each key imported by ARN. */
function stackOfArns(arns: readonly string[], app = new App()): Stack {
  const stack = newStack('Stack', ENV, app);
  arns.forEach((arn, i) => new KeyMaterialRevocation(stack, `R${arn.slice(-12)}${i}`, { key: kms.Key.fromKeyArn(stack, `K${i}`, arn) }));
  return stack;
}

/** Applies RemovalPolicy.RETAIN to every CfnResource: what RemovalPolicies.of(app).retain() does, on any version. */
class RetainEverything implements IAspect {
  visit(node: IConstruct): void {
    if (CfnResource.isCfnResource(node)) node.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}

describe('synth rules', () => {
  test('S1: a key in another account fails synth, naming both accounts', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Foreign', 'arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    expect(() => new KeyMaterialRevocation(stack, 'R', { key })).toThrow(/account 222222222222.*account 111111111111/);
  });

  test('S1: a key defined in a stack of another account fails synth too', () => {
    const app = new App();
    const keyStack = newStack('Keys', { account: '222222222222', region: 'eu-west-1' }, app);
    const key = externalKey(keyStack, 'Key');
    const stack = newStack('Revocations', ENV, app);
    expect(() => new KeyMaterialRevocation(stack, 'R', { key })).toThrow(/222222222222.*111111111111/);
  });

  test('S7: kms.Key.fromLookup after a successful lookup gives no warning (cdk synth --strict passes)', () => {
    const app = new App({ context: { [`key-provider:account=${ACCOUNT}:aliasName=alias/byok:region=eu-west-1`]: { keyId: '1234abcd-12ab-34cd-56ef-1234567890ab' } } });
    const stack = newStack('Lookup', ENV, app);
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromLookup(stack, 'K', { aliasName: 'alias/byok' }) });
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    // A key ARN that is a parameter still warns: only deploy time can check it.
    const other = newStack('Param', ENV, new App());
    new KeyMaterialRevocation(other, 'R', { key: kms.Key.fromKeyArn(other, 'K', new CfnParameter(other, 'Arn').valueAsString) });
    expect(Annotations.fromStack(other).findWarning('*', Match.stringLikeRegexp('key ARN is only known at deploy time'))).toHaveLength(1);
  });

  test('S1: the error names a key defined in the app by its construct path, never a raw token', () => {
    const app = new App();
    const key = externalKey(newStack('Keys', { account: '222222222222', region: 'eu-west-1' }, app), 'Key');
    const stack = newStack('Revocations', ENV, app);
    expect(() => new KeyMaterialRevocation(stack, 'R', { key })).toThrow(/^key Keys\/Key is in account 222222222222/);
    expect(() => new KeyMaterialRevocation(stack, 'R2', { key })).not.toThrow(/\$\{Token\[/);
  });

  test.each([
    ['an alias construct', (s: Stack) => new kms.Alias(s, 'A', { aliasName: 'alias/byok', targetKey: externalKey(s, 'K') })],
    ['an imported alias name', (s: Stack) => kms.Alias.fromAliasName(s, 'A', 'alias/byok')],
    ['a key imported by alias ARN', (s: Stack) => kms.Key.fromKeyArn(s, 'A', `arn:aws:kms:eu-west-1:${ACCOUNT}:alias/byok`)],
  ])('S2: %s fails synth, asking for the key ID or ARN', (_name, make) => {
    const stack = newStack();
    expect(() => new KeyMaterialRevocation(stack, 'R', { key: make(stack) })).toThrow(/alias.*key ID or key ARN/);
  });

  test('S3: a key in the app without Origin EXTERNAL fails synth, naming the key, its origin and the fix', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: new kms.Key(stack, 'PlainKey') });
    expect(() => Template.fromStack(stack)).toThrow(/Stack\/PlainKey\/Resource has origin AWS_KMS.*Origin to EXTERNAL/s);
  });

  test('S3: an explicit other origin is named in the error', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'HsmKey');
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'AWS_CLOUDHSM');
    new KeyMaterialRevocation(stack, 'R', { key });
    expect(() => Template.fromStack(stack)).toThrow(/origin AWS_CLOUDHSM/);
  });

  test('S3: Origin EXTERNAL set through the L1 property (after the construct) synthesizes', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    new KeyMaterialRevocation(stack, 'R', { key });
    (key.node.defaultChild as kms.CfnKey).origin = 'EXTERNAL';
    expect(() => Template.fromStack(stack)).not.toThrow();
  });

  test('S3, L28: the Origin, EnableKeyRotation and Tags the checks read without rendering a key are what its template entry has', () => {
    const stack = newStack();
    const keys: Record<string, kms.CfnKey> = {};
    const add = (id: string, change: (c: kms.CfnKey) => void, props: kms.KeyProps = {}) => {
      keys[id] = new kms.Key(stack, id, props).node.defaultChild as kms.CfnKey;
      change(keys[id]);
    };
    add('Plain', () => undefined);
    add('ByProperty', (c) => { c.origin = 'EXTERNAL'; });
    add('ByOverride', (c) => c.addPropertyOverride('Origin', 'EXTERNAL'));
    add('Deleted', (c) => { c.origin = 'EXTERNAL'; c.addPropertyDeletionOverride('Origin'); });
    add('TokenOverride', (c) => c.addPropertyOverride('Origin', cdk.Lazy.string({ produce: () => 'EXTERNAL' })));
    add('WholeProperties', (c) => c.addOverride('Properties', { Origin: 'EXTERNAL', EnableKeyRotation: true }));
    add('PropertiesToken', (c) => c.addOverride('Properties', cdk.Lazy.any({ produce: () => ({ Origin: 'EXTERNAL', KeyPolicy: {} }) })));
    add('PropertiesDeleted', (c) => c.addDeletionOverride('Properties'));
    add('Rotation', (c) => c.addPropertyOverride('Origin', 'EXTERNAL'), { enableKeyRotation: true });
    add('RotationOverride', (c) => c.addPropertyOverride('EnableKeyRotation', 'true'));
    add('Tagged', (c) => cdk.Tags.of(c).add('team', 'byok'));
    add('TagOverride', (c) => { cdk.Tags.of(c).add('team', 'byok'); c.addPropertyOverride('Tags.0.Value', 'other'); });
    add('TagsReplaced', (c) => c.addPropertyOverride('Tags', [{ Key: 'only', Value: 'this' }]));
    // Tokens on the L1 properties: CDK's mapping validates only resolved values.
    const condition = new cdk.CfnCondition(stack, 'Cond', { expression: cdk.Fn.conditionEquals('a', 'a') });
    add('EnabledCondition', (c) => { c.origin = 'EXTERNAL'; c.enabled = cdk.Fn.conditionIf(condition.logicalId, true, false); });
    add('MultiRegionCondition', (c) => { c.multiRegion = cdk.Fn.conditionIf(condition.logicalId, true, false); });
    add('RotationLazy', (c) => { c.origin = 'EXTERNAL'; c.enableKeyRotation = cdk.Lazy.any({ produce: () => true }); });
    add('TagsWithHole', (c) => c.addPropertyOverride('Tags', [{ Key: 'a', Value: 'b' }, undefined]));
    add('OriginNull', (c) => c.addPropertyOverride('Origin', null));
    keys.L1Only = new kms.CfnKey(stack, 'L1Only', { origin: 'EXTERNAL', enableKeyRotation: false, tags: [{ key: 'k', value: 'v' }] });
    keys.L1LazyTag = new kms.CfnKey(stack, 'L1LazyTag', { tags: [cdk.Lazy.any({ produce: () => ({ key: 'k', value: 'v' }) }) as unknown as cdk.CfnTag] });
    Template.fromStack(stack); // aspects (Tags) applied, as at validation
    const names = ['Origin', 'EnableKeyRotation', 'Tags'];
    for (const [id, cfnKey] of Object.entries(keys)) {
      const whole = (stack.resolve((cfnKey as unknown as { _toCloudFormation(): object })._toCloudFormation()) as
        { Resources: Record<string, { Properties?: Record<string, unknown> }> }).Resources;
      const expected = Object.fromEntries(names.flatMap((n) => {
        const value = Object.values(whole)[0].Properties?.[n];
        return value === undefined ? [] : [[n, value]];
      }));
      expect([id, renderedProperties(cfnKey, names).Properties]).toStrictEqual([id, expected]);
    }
    // The cases that must not be read alike: each one's figures differ from the plain key's.
    expect(renderedProperties(keys.Deleted, names).Properties).toEqual({});
    expect(renderedProperties(keys.TagOverride, names).Properties?.Tags).toEqual([{ Key: 'team', Value: 'other' }]);
    expect(renderedProperties(keys.PropertiesToken, names).Properties).toEqual({ Origin: 'EXTERNAL' });
    expect(renderedProperties(keys.RotationLazy, names).Properties).toEqual({ Origin: 'EXTERNAL', EnableKeyRotation: true });
    // The template writes the hole as null: a list not fully known (checkKeyTag warns instead of trusting it).
    expect(renderedProperties(keys.TagsWithHole, names).Properties?.Tags).toStrictEqual([{ Key: 'a', Value: 'b' }, undefined]);
  });

  test('S3: keys with tokens on other properties synthesize (a condition on Enabled); a lazy EnableKeyRotation true still fails', () => {
    const stack = newStack();
    const condition = new cdk.CfnCondition(stack, 'Cond', { expression: cdk.Fn.conditionEquals('a', 'a') });
    const cfnKey = new kms.CfnKey(stack, 'CK', { origin: 'EXTERNAL', enabled: cdk.Fn.conditionIf(condition.logicalId, true, false) });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'ByArn', cfnKey.attrArn) });
    expect(Template.fromStack(stack).findResources('AWS::KMS::Key').CK.Properties.Enabled).toEqual({ 'Fn::If': ['Cond', true, false] });

    const other = newStack('Other');
    const rotating = new kms.CfnKey(other, 'Rotating', { origin: 'EXTERNAL', enableKeyRotation: cdk.Lazy.any({ produce: () => true }) });
    new KeyMaterialRevocation(other, 'R', { key: kms.Key.fromKeyArn(other, 'ByArn', rotating.attrArn) });
    expect(() => Template.fromStack(other)).toThrow(/key Other\/Rotating has Origin EXTERNAL and EnableKeyRotation true/);
  });

  test('S4: a key in another Region of the same account is allowed and granted by its exact ARN', () => {
    const stack = newStack();
    const arn = `arn:aws:kms:us-west-2:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'Elsewhere', arn) });
    const template = Template.fromStack(stack);
    expect(Object.values(grantsOf(template))).toEqual([[arn]]);
    template.hasResourceProperties('Custom::KmsKeyMaterialRevocation', { KeyArn: arn, KeyLogicalId: Match.absent() });
  });

  test('S5: many revocations share one function and one role; IAM grants exactly their key ARNs, only in key policies', () => {
    const stack = newStack();
    const k1 = externalKey(stack, 'K1');
    const k2 = externalKey(stack, 'K2');
    const k3 = kms.Key.fromKeyArn(stack, 'K3', IMPORTED);
    new KeyMaterialRevocation(stack, 'R1', { key: k1 });
    new KeyMaterialRevocation(stack, 'R2', { key: k2, materialScope: KeyMaterialScope.CURRENT });
    new KeyMaterialRevocation(stack, 'R3', { key: k3, revoked: true });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.resourceCountIs('Custom::KmsKeyMaterialRevocation', 3);
    const granted = Object.values(grantsOf(template)).flat();
    expect(granted).toHaveLength(3);
    expect(granted).toEqual(expect.arrayContaining([
      { 'Fn::GetAtt': [stack.getLogicalId(k1.node.defaultChild as kms.CfnKey), 'Arn'] },
      { 'Fn::GetAtt': [stack.getLogicalId(k2.node.defaultChild as kms.CfnKey), 'Arn'] },
      IMPORTED,
    ]));
    // The inline policy holds no key permission: it is updated in place, which a key's must never be.
    const inline = readsPolicy(template).resource.Properties.PolicyDocument.Statement;
    expect(inline.flatMap(actionsOf).filter((a: string) => a.startsWith('kms:'))).toEqual([]);
    // Nowhere in IAM: kms:* or a "*" resource for KMS.
    for (const doc of [readsPolicy(template).resource, ...Object.values(keyPolicies(template))].map((p) => p.Properties.PolicyDocument)) {
      for (const s of doc.Statement) {
        expect(actionsOf(s)).not.toContain('kms:*');
        if (actionsOf(s).some((a) => a.startsWith('kms:'))) expect(resourcesOf(s)).not.toContain('*');
      }
    }
  });

  test('S5: the role has no AWS managed policy; the logs permission names the handler\'s own log group, without a dependency cycle', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    // Template.fromStack fails on a dependency cycle.
    const template = Template.fromStack(stack);
    const [role] = Object.values(template.findResources('AWS::IAM::Role')) as any[];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const [logGroup] = Object.keys(template.findResources('AWS::Logs::LogGroup'));
    const logs = readsPolicy(template).resource.Properties.PolicyDocument.Statement.filter((s: any) => actionsOf(s)[0].startsWith('logs:'));
    expect(logs).toHaveLength(1);
    // The log group exists before the function: no logs:CreateLogGroup.
    expect(actionsOf(logs[0])).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(logs[0].Resource).toEqual({ 'Fn::GetAtt': [logGroup, 'Arn'] });
  });

  test('issue 10: the handler logs to a log group of its own, kept a year by default and kept when the stack is deleted', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    const template = Template.fromStack(stack);
    const [logGroup] = Object.keys(template.findResources('AWS::Logs::LogGroup'));
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 365 }, DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: logGroup } } });
  });

  test('issue 10: logRetention sets the shared log group\'s retention; two revocations of a stack that disagree fail synth', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R1', { key: externalKey(stack, 'K1'), logRetention: logs.RetentionDays.TEN_YEARS });
    new KeyMaterialRevocation(stack, 'R2', { key: externalKey(stack, 'K2'), logRetention: logs.RetentionDays.TEN_YEARS });
    Template.fromStack(stack).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 3653 });
    expect(() => new KeyMaterialRevocation(stack, 'R3', { key: externalKey(stack, 'K3'), logRetention: logs.RetentionDays.ONE_WEEK }))
      .toThrow(/Stack\/R3 asks for a log retention of 7 days but Stack\/R1 .* 3653.*same logRetention/);
  });

  test('L28: metricRevocationFailures names what the handler emits; the alarm goes off at one failure', () => {
    const stack = newStack();
    const revocation = new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    const metric = revocation.metricRevocationFailures();
    expect(metric).toMatchObject({ namespace: 'CdkKmsKeyMaterial', metricName: 'RevocationFailures', statistic: 'Sum', dimensions: { StackName: 'Stack' } });
    expect(metric.period.toMinutes()).toBe(5);
    expect(revocation.metricRefusedRequests({ period: Duration.hours(1) })).toMatchObject({ metricName: 'RefusedRequests' });
    revocation.addRevocationFailureAlarm('Alarm');
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'CdkKmsKeyMaterial', MetricName: 'RevocationFailures', Dimensions: [{ Name: 'StackName', Value: 'Stack' }],
      Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching', Statistic: 'Sum',
    });
  });

  test('S5: 250 keys with realistic ARNs: at most 5 key policies, each under 6,144 characters, so any update stays within 10 attached', () => {
    const arns = Array.from({ length: 250 }, (_, i) => realisticArn(i));
    const template = Template.fromStack(stackOfArns(arns));
    template.resourceCountIs('AWS::Lambda::Function', 1);
    const grants = grantsOf(template);
    expect(Object.keys(grants).length).toBeLessThanOrEqual(5);
    // Every key exactly once, over all policies.
    expect(Object.values(grants).flat().sort()).toEqual(arns.map(grantOf).sort());
    // IAM counts characters without whitespace: 6,144 per managed policy.
    for (const p of Object.values(keyPolicies(template))) expect(JSON.stringify(p.Properties.PolicyDocument).length).toBeLessThan(6_144);
    // Attached to the handler's role by the policies themselves; the role has no other managed policy.
    const [roleId, role] = Object.entries(template.findResources('AWS::IAM::Role'))[0] as [string, any];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    for (const p of Object.values(keyPolicies(template))) expect(p.Properties.Roles).toEqual([{ Ref: roleId }]);
    expectEachRevocationDependsOnItsGrant(template);

    // The worst update changes every key: the old policies stay attached until cleanup, next to the new ones.
    const other = grantsOf(Template.fromStack(stackOfArns(Array.from({ length: 250 }, (_, i) => realisticArn(i + 1000)))));
    expect(new Set([...Object.keys(grants), ...Object.keys(other)]).size).toBeLessThanOrEqual(10);
  });

  test('S5: more than 250 keys in one stack fails synth with a way out', () => {
    expect(() => stackOfArns(Array.from({ length: 251 }, (_, i) => realisticArn(i)))).toThrow(/more than 250 keys.*several stacks/);
  });

  test('S5: a key policy that would exceed 6,144 characters fails synth, naming the count and the fix', () => {
    // Artificially long key IDs, so that 150 keys overflow a bucket (realistic ARNs need more than 250).
    const arns = Array.from({ length: 150 }, (_, i) => `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${i.toString(16).padStart(8, '0')}${'0'.repeat(200)}`);
    expect(() => Template.fromStack(stackOfArns(arns))).toThrow(/would grant \d+ keys, about \d+ characters, over IAM's limit of 6144.*150 keys in this stack.*several stacks/s);
  });

  test('S5: synthesizing again changes nothing, and a revocation added after synthesis fails the next one instead of going ungranted', () => {
    const app = new App();
    const stack = stackOfArns([IMPORTED], app);
    const first = app.synth().getStackByName('Stack').template;
    expect(app.synth({ force: true }).getStackByName('Stack').template).toEqual(first);
    new KeyMaterialRevocation(stack, 'Late', { key: kms.Key.fromKeyArn(stack, 'LateKey', realisticArn(1)) });
    expect(() => app.synth({ force: true })).toThrow(/changed after the stack was synthesized: create every revocation before synthesizing/);
  });

  test('S5: the handler runs on nodejs24.x from the bundle shipped in the package', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'kms-revocation-')) });
    const stack = newStack('Stack', ENV, app);
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Handler: 'index.handler', Timeout: 900 });
    // The function's code asset is the prebuilt bundle, copied as is: no bundling at synth time.
    const assembly = app.synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'Stack.assets.json'), 'utf8'));
    const zips = Object.values(manifest.files as Record<string, any>).filter((f) => f.source.packaging === 'zip');
    expect(zips).toHaveLength(1);
    const shipped = fs.readFileSync(path.join(assembly.directory, zips[0].source.path, 'index.js'));
    expect(shipped.equals(fs.readFileSync(path.join(__dirname, '..', 'assets', 'revocation-handler', 'index.js')))).toBe(true);
  });

  test('S5: each stack gets its own handler, and separate apps never share one', () => {
    const app = new App();
    const s1 = newStack('One', ENV, app);
    const s2 = newStack('Two', ENV, app);
    new KeyMaterialRevocation(s1, 'R', { key: externalKey(s1, 'K') });
    new KeyMaterialRevocation(s2, 'R', { key: externalKey(s2, 'K') });
    const otherApp = newStack('One', ENV, new App());
    new KeyMaterialRevocation(otherApp, 'R', { key: externalKey(otherApp, 'K') });
    for (const s of [s1, s2, otherApp]) Template.fromStack(s).resourceCountIs('AWS::Lambda::Function', 1);
  });

  test('S5: the key policies are made with aspect stabilization on too (newer aws-cdk-lib), and a second synth changes nothing', () => {
    const app = new App({ context: { '@aws-cdk/core:aspectStabilization': true } });
    const stack = stackOfArns([IMPORTED, realisticArn(1)], app);
    const first = Template.fromStack(stack).toJSON();
    expect(Object.values(grantsOf(Template.fromStack(stack))).flat().sort()).toEqual([IMPORTED, realisticArn(1)].sort());
    expect(Template.fromStack(stack).toJSON()).toEqual(first);
    expect(app.synth().getStackByName('Stack').template).toEqual(first);
  });

  function keyWithPolicy(stack: Stack, statements: iam.PolicyStatement[]): kms.Key {
    const key = new kms.Key(stack, 'K', { policy: new iam.PolicyDocument({ statements }) });
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
    return key;
  }

  const admin = (stack: Stack) => new iam.PolicyStatement({ actions: ['kms:Create*', 'kms:Put*'], principals: [new iam.ArnPrincipal(`arn:aws:iam::${stack.account}:role/Admin`)], resources: ['*'] });

  test('S5: a same-stack key whose policy trusts the account (kms.Key\'s default) gets no key-policy statement: the IAM policy is enough', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    expect(keyStatementsForRole(stack)).toEqual([]);
    expect(Object.values(grantsOf(Template.fromStack(stack))).flat()).toHaveLength(1);
  });

  test('S5: a same-stack key whose policy trusts the account through wildcards (the legacy admin statement) gets no statement', () => {
    const stack = newStack();
    const key = keyWithPolicy(stack, [new iam.PolicyStatement({
      actions: ['kms:Describe*', 'kms:List*', 'kms:Delete*', 'kms:Create*'], principals: [new iam.AccountRootPrincipal()], resources: ['*'],
    })]);
    new KeyMaterialRevocation(stack, 'R', { key });
    expect(keyStatementsForRole(stack)).toEqual([]);
  });

  test.each([
    ['trusts no account principal', () => []],
    ['trusts the account for some actions only', () => [new iam.PolicyStatement({
      actions: ['kms:Describe*', 'kms:List*'], principals: [new iam.AccountRootPrincipal()], resources: ['*'],
    })]],
    ['trusts the account under a condition', () => [new iam.PolicyStatement({
      actions: ['kms:*'], principals: [new iam.AccountRootPrincipal()], resources: ['*'],
      conditions: { StringEquals: { 'kms:CallerAccount': '111111111111' } },
    })]],
    ['denies, rather than allows, the account', () => [new iam.PolicyStatement({
      effect: iam.Effect.DENY, actions: ['kms:*'], principals: [new iam.AccountRootPrincipal()], resources: ['*'],
    })]],
  ])('S5: a same-stack key whose custom policy %s gets a statement letting the handler role act on it', (_name, extra) => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: keyWithPolicy(stack, [admin(stack), ...extra()]) });
    const forRole = keyStatementsForRole(stack);
    expect(forRole).toHaveLength(1);
    expect(actionsOf(forRole[0])).toEqual(KMS_ACTIONS);
    expect(forRole[0]).toMatchObject({ Effect: 'Allow', Resource: '*' });
    expect(forRole[0].Condition).toBeUndefined();
  });

  test('S6: each revocation depends on its same-stack key, the reads policy and the key policy that grants its key', () => {
    const stack = newStack();
    const key = externalKey(stack, 'K');
    new KeyMaterialRevocation(stack, 'R', { key });
    const template = Template.fromStack(stack);
    const keyId = stack.getLogicalId(key.node.defaultChild as kms.CfnKey);
    const [[, cr]] = revocations(template);
    // The key by Fn::GetAtt (a dependency already), the reads through the function, the grant by DependsOn.
    expect(cr.Properties.KeyArn).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(cr.DependsOn).toEqual([policyGranting(template, { 'Fn::GetAtt': [keyId, 'Arn'] })]);
    expectEachRevocationDependsOnItsGrant(template);
    expect(cr.Properties.KeyLogicalId).toBe(keyId);
  });

  test('S6: a key from another stack of the app is referenced without a dependency cycle and its policy is left alone', () => {
    const app = new App();
    const keyStack = newStack('Keys', ENV, app);
    const key = externalKey(keyStack, 'K');
    const stack = newStack('Revocations', ENV, app);
    new KeyMaterialRevocation(stack, 'R', { key });
    const assembly = app.synth();
    expect(assembly.getStackByName('Revocations').dependencies.map((d) => d.id)).toContain('Keys');
    const keyTemplate = Template.fromStack(keyStack).toJSON();
    expect(JSON.stringify(keyTemplate)).not.toContain('KmsKeyMaterialRevocationProvider');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::KmsKeyMaterialRevocation', { KeyLogicalId: Match.absent() });
    expect(Object.values(grantsOf(template)).flat()).toEqual([{ 'Fn::ImportValue': expect.stringContaining('Keys:ExportsOutput') }]);
  });

  test('S7: unresolved key ARN and account synthesize with warnings that the checks move to deploy time', () => {
    const stack = newStack('Agnostic', undefined);
    const param = new CfnParameter(stack, 'KeyArn');
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', param.valueAsString) });
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning('/Agnostic/R', Match.stringLikeRegexp('account.*deploy time'));
    annotations.hasWarning('/Agnostic/R', Match.stringLikeRegexp('key ARN is only known at deploy time'));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::KmsKeyMaterialRevocation', { KeyArn: { Ref: 'KeyArn' } });
    expect(Object.values(grantsOf(template)).flat()).toEqual([{ Ref: 'KeyArn' }]);
  });

  test('S7: a key created in an environment-agnostic stack needs no account warning', () => {
    const stack = newStack('Agnostic', undefined);
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  test('S7: an Origin only known at deploy time warns instead of failing', () => {
    const stack = newStack();
    const origin = new CfnParameter(stack, 'Origin');
    const key = new kms.Key(stack, 'K');
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', origin.valueAsString);
    new KeyMaterialRevocation(stack, 'R', { key });
    expect(() => Template.fromStack(stack)).not.toThrow();
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('Origin is only known at deploy time'));
  });
});

describe('S8: a revocation must receive its Delete', () => {
  const retained = /Stack\/R has DeletionPolicy Retain and UpdateReplacePolicy Retain: such a revocation never receives the Delete it acts on; remove the retention from this resource/;

  function stackWithRevocation(app = new App()) {
    const stack = newStack('Stack', ENV, app);
    const revocation = new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    return { stack, revocation, resource: revocation.node.defaultChild as CfnResource };
  }

  test('S8: applyRemovalPolicy(RETAIN) on the resource fails synth, naming the path, the policies and the fix', () => {
    const { stack, resource } = stackWithRevocation();
    resource.applyRemovalPolicy(RemovalPolicy.RETAIN);
    expect(() => Template.fromStack(stack)).toThrow(retained);
  });

  test('S8: an UpdateReplacePolicy alone is named too', () => {
    const { stack, resource } = stackWithRevocation();
    resource.cfnOptions.updateReplacePolicy = cdk.CfnDeletionPolicy.RETAIN;
    expect(() => Template.fromStack(stack)).toThrow(/Stack\/R has UpdateReplacePolicy Retain: such a revocation/);
  });

  test('S8: RETAIN_ON_UPDATE_OR_DELETE and a raw override are caught as well', () => {
    const a = stackWithRevocation();
    a.resource.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
    expect(() => Template.fromStack(a.stack)).toThrow(/DeletionPolicy RetainExceptOnCreate and UpdateReplacePolicy Retain/);
    const b = stackWithRevocation();
    b.resource.addOverride('DeletionPolicy', 'Snapshot');
    expect(() => Template.fromStack(b.stack)).toThrow(/Stack\/R has DeletionPolicy Snapshot: such a revocation/);
    // An override wins over the option, and a token is read as it resolves.
    const c = stackWithRevocation();
    c.resource.applyRemovalPolicy(RemovalPolicy.DESTROY);
    c.resource.addOverride('UpdateReplacePolicy', cdk.Lazy.string({ produce: () => 'Retain' }));
    expect(() => Template.fromStack(c.stack)).toThrow(/Stack\/R has UpdateReplacePolicy Retain: such a revocation/);
    const d = stackWithRevocation();
    d.resource.applyRemovalPolicy(RemovalPolicy.RETAIN);
    d.resource.addOverride('DeletionPolicy', 'Delete');
    d.resource.addOverride('UpdateReplacePolicy', 'Delete');
    expect(() => Template.fromStack(d.stack)).not.toThrow();
  });

  test('S8: a retention set by an aspect on the whole app fails synth (validations run after aspects)', () => {
    const app = new App();
    const { stack } = stackWithRevocation(app);
    Aspects.of(app).add(new RetainEverything());
    expect(() => Template.fromStack(stack)).toThrow(retained);
  });

  const RemovalPolicies = (cdk as unknown as { RemovalPolicies?: { of(scope: IConstruct): { retain(): void } } }).RemovalPolicies;
  (RemovalPolicies ? test : test.skip)('S8: RemovalPolicies.of(app).retain() fails synth (aws-cdk-lib versions that have it)', () => {
    const app = new App();
    const { stack } = stackWithRevocation(app);
    RemovalPolicies!.of(app).retain();
    expect(() => Template.fromStack(stack)).toThrow(retained);
  });

  test('S8: an aspect that spares the revocation but retains the handler\'s key policies fails synth too: retained old policies would pile up on the role', () => {
    const app = new App();
    const { stack } = stackWithRevocation(app);
    Aspects.of(app).add({
      visit: (node: IConstruct) => {
        if (CfnResource.isCfnResource(node) && node.cfnResourceType === 'AWS::IAM::ManagedPolicy') node.applyRemovalPolicy(RemovalPolicy.RETAIN);
      },
    });
    expect(() => Template.fromStack(stack)).toThrow(/key policy Stack\/KmsKeyMaterialRevocationProvider\/Keys\d-[0-9a-f]{8} has DeletionPolicy Retain.*10 managed policies per role/s);
  });

  test('S8: RemovalPolicy.DESTROY (Delete) synthesizes', () => {
    const { stack, resource } = stackWithRevocation();
    resource.applyRemovalPolicy(RemovalPolicy.DESTROY);
    expect(() => Template.fromStack(stack)).not.toThrow();
  });
});

describe('S9: one revocation per key in a stack tree', () => {
  const twoManagers = (a: string, b: string) => new RegExp(`managed by two KeyMaterialRevocation constructs.*${a} and ${b}`);

  test('S9: the same kms.Key twice in one stack fails synth, naming both constructs', () => {
    const stack = newStack();
    const key = externalKey(stack, 'K');
    new KeyMaterialRevocation(stack, 'First', { key });
    new KeyMaterialRevocation(stack, 'Second', { key: kms.Key.fromKeyArn(stack, 'Again', key.keyArn) });
    expect(() => Template.fromStack(stack)).toThrow(twoManagers('Stack/First', 'Stack/Second'));
  });

  test('S9: one CfnKey reached through fromCfnKey and through its attrArn is the same key', () => {
    const stack = newStack();
    const cfnKey = new kms.CfnKey(stack, 'CK', { origin: 'EXTERNAL', keyPolicy: { Version: '2012-10-17', Statement: [] } });
    new KeyMaterialRevocation(stack, 'A', { key: kms.Key.fromCfnKey(cfnKey) });
    new KeyMaterialRevocation(stack, 'B', { key: kms.Key.fromKeyArn(stack, 'ByArn', cfnKey.attrArn) });
    expect(() => Template.fromStack(stack)).toThrow(twoManagers('Stack/A', 'Stack/B'));
  });

  test('S9: a key of the root stack managed in the root and in a nested stack fails synth', () => {
    const stack = newStack();
    const key = externalKey(stack, 'K');
    // The nested one first: the check runs once the tree is complete, whatever the order.
    const nested = new NestedStack(stack, 'Nested');
    new KeyMaterialRevocation(nested, 'InNested', { key });
    new KeyMaterialRevocation(stack, 'InRoot', { key });
    expect(() => Template.fromStack(stack)).toThrow(/managed by two KeyMaterialRevocation constructs.*(Stack\/InRoot and Stack\/Nested\/InNested|Stack\/Nested\/InNested and Stack\/InRoot)/);
  });

  test('S9: the same literal ARN in the root and two levels down fails synth', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'Top', { key: kms.Key.fromKeyArn(stack, 'K', IMPORTED) });
    const deep = new NestedStack(new NestedStack(stack, 'L1'), 'L2');
    new KeyMaterialRevocation(deep, 'Deep', { key: kms.Key.fromKeyArn(deep, 'K', IMPORTED) });
    expect(() => Template.fromStack(stack)).toThrow(twoManagers('Stack/Top', 'Stack/L1/L2/Deep'));
  });

  test('S9: the same parameter ARN twice in one stack fails; token ARNs of different stacks are not compared', () => {
    const stack = newStack();
    const param = new CfnParameter(stack, 'KeyArn');
    new KeyMaterialRevocation(stack, 'A', { key: kms.Key.fromKeyArn(stack, 'KA', param.valueAsString) });
    new KeyMaterialRevocation(stack, 'B', { key: kms.Key.fromKeyArn(stack, 'KB', param.valueAsString) });
    expect(() => Template.fromStack(stack)).toThrow(twoManagers('Stack/A', 'Stack/B'));

    const other = newStack('Other');
    const p = new CfnParameter(other, 'KeyArn');
    new KeyMaterialRevocation(other, 'A', { key: kms.Key.fromKeyArn(other, 'KA', p.valueAsString) });
    const nested = new NestedStack(other, 'Nested');
    const q = new CfnParameter(nested, 'KeyArn');
    new KeyMaterialRevocation(nested, 'B', { key: kms.Key.fromKeyArn(nested, 'KB', q.valueAsString) });
    expect(() => Template.fromStack(other)).not.toThrow();
  });

  test('S9: one key reached by a literal ARN and by a nested stack\'s parameter carrying it, or a CfnKey by the parameter, is one key', () => {
    const stack = newStack('Root');
    new KeyMaterialRevocation(stack, 'ByArn', { key: kms.Key.fromKeyArn(stack, 'K', IMPORTED) });
    const nested = new NestedStack(stack, 'Nested', { parameters: { KeyArnParam: IMPORTED } });
    const param = new CfnParameter(nested, 'KeyArnParam', { type: 'String' });
    new KeyMaterialRevocation(nested, 'ByParameter', { key: kms.Key.fromKeyArn(nested, 'K', param.valueAsString) });
    expect(() => Template.fromStack(stack)).toThrow(twoManagers('Root/ByArn', 'Root/Nested/ByParameter'));

    // Two levels down, from a root key's Arn.
    const root = newStack('Root2');
    const key = externalKey(root, 'RootKey');
    new KeyMaterialRevocation(root, 'Direct', { key });
    const middle = new NestedStack(root, 'Middle', { parameters: { Arn: key.keyArn } });
    const middleParam = new CfnParameter(middle, 'Arn', { type: 'String' });
    const deep = new NestedStack(middle, 'Deep', { parameters: { Arn: middleParam.valueAsString } });
    const deepParam = new CfnParameter(deep, 'Arn', { type: 'String' });
    new KeyMaterialRevocation(deep, 'Passed', { key: kms.Key.fromKeyArn(deep, 'K', deepParam.valueAsString) });
    expect(() => Template.fromStack(root)).toThrow(twoManagers('Root2/Direct', 'Root2/Middle/Deep/Passed'));

    // A parameter carrying another ARN is another key.
    const third = newStack('Root3');
    new KeyMaterialRevocation(third, 'ByArn', { key: kms.Key.fromKeyArn(third, 'K', IMPORTED) });
    const other = new NestedStack(third, 'Nested', { parameters: { KeyArnParam: IMPORTED.replace('1234abcd', '9999abcd') } });
    const p = new CfnParameter(other, 'KeyArnParam', { type: 'String' });
    new KeyMaterialRevocation(other, 'ByParameter', { key: kms.Key.fromKeyArn(other, 'K', p.valueAsString) });
    expect(() => Template.fromStack(third)).not.toThrow();
  });

  test('S9: a revocation taken out of the tree (node.tryRemoveChild) no longer counts; three of one key: each later one reports', () => {
    const stack = newStack();
    const key = externalKey(stack, 'K');
    new KeyMaterialRevocation(stack, 'Removed', { key });
    new KeyMaterialRevocation(stack, 'Kept', { key });
    expect(stack.node.tryRemoveChild('Removed')).toBe(true);
    expect(() => Template.fromStack(stack)).not.toThrow();

    const three = newStack('Three');
    const shared = externalKey(three, 'K');
    for (const id of ['A', 'B', 'C']) new KeyMaterialRevocation(three, id, { key: shared });
    expect(() => Template.fromStack(three)).toThrow(/Three\/A and Three\/B.*\n.*Three\/A and Three\/C/s);
  });

  test('S9: different keys, and the same key in two separate stacks, synthesize', () => {
    const app = new App();
    const one = newStack('One', ENV, app);
    const two = newStack('Two', ENV, app);
    new KeyMaterialRevocation(one, 'A', { key: externalKey(one, 'K1') });
    new KeyMaterialRevocation(one, 'B', { key: externalKey(one, 'K2') });
    new KeyMaterialRevocation(one, 'C', { key: kms.Key.fromKeyArn(one, 'K3', IMPORTED) });
    new KeyMaterialRevocation(two, 'C', { key: kms.Key.fromKeyArn(two, 'K3', IMPORTED) });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('S10: a key defined in the app, however it reaches the construct', () => {
  const customPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:role/Admin' }, Action: 'kms:*', Resource: '*' }] };

  test('S10 (S3): a CfnKey passed through fromCfnKey without Origin EXTERNAL fails synth', () => {
    const stack = newStack();
    const cfnKey = new kms.CfnKey(stack, 'CK', { keyPolicy: customPolicy });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromCfnKey(cfnKey) });
    expect(() => Template.fromStack(stack)).toThrow(/key Stack\/CK has origin AWS_KMS/);
  });

  test('S10 (S6, L13, S5): fromCfnKey in the same stack: dependency, KeyLogicalId, and a statement in its custom key policy', () => {
    const stack = newStack();
    const cfnKey = new kms.CfnKey(stack, 'CK', { origin: 'EXTERNAL', keyPolicy: customPolicy });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromCfnKey(cfnKey) });
    const template = Template.fromStack(stack);
    const [[, cr]] = revocations(template);
    expect(cr.Properties.KeyLogicalId).toBe('CK');
    expect(cr.Properties.KeyArn).toEqual({ 'Fn::GetAtt': ['CK', 'Arn'] });
    expect(keyStatementsForRole(stack)).toHaveLength(1);
  });

  test.each([
    ['the literal root ARN', `arn:aws:iam::${ACCOUNT}:root`],
    ['the bare account ID', ACCOUNT],
  ])('S10/S5 (issue 11): fromCfnKey with a key policy trusting the account through %s gets no extra statement', (_name, principal) => {
    const stack = newStack();
    const cfnKey = new kms.CfnKey(stack, 'CK', {
      origin: 'EXTERNAL',
      keyPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'kms:*', Resource: '*' }] },
    });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromCfnKey(cfnKey) });
    expect(keyStatementsForRole(stack)).toHaveLength(0);
  });

  test('S10/S5: fromCfnKey trusting another account\'s root still gets the statement', () => {
    const stack = newStack();
    const cfnKey = new kms.CfnKey(stack, 'CK', {
      origin: 'EXTERNAL',
      keyPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::222222222222:root' }, Action: 'kms:*', Resource: '*' }] },
    });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromCfnKey(cfnKey) });
    expect(keyStatementsForRole(stack)).toHaveLength(1);
  });

  test('S10: a key given by its CfnKey\'s attrArn is app-defined; without a KeyPolicy (KMS\'s default trusts the account) it needs no statement', () => {
    const stack = newStack();
    const cfnKey = new kms.CfnKey(stack, 'CK', { origin: 'EXTERNAL' });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'ByArn', cfnKey.attrArn) });
    const template = Template.fromStack(stack);
    const [[, cr]] = revocations(template);
    expect(cr.Properties.KeyLogicalId).toBe('CK');
    // S6: KeyArn is Fn::GetAtt of the key, so the revocation is deleted before it.
    expect(cr.Properties.KeyArn).toEqual({ 'Fn::GetAtt': ['CK', 'Arn'] });
    template.hasResource('AWS::KMS::Key', { Properties: Match.objectEquals({ Origin: 'EXTERNAL' }) });
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  test('S10: a key given by attrArn whose CfnKey has a custom plain-JSON policy gets the statement through the CfnKey', () => {
    const stack = newStack();
    const cfnKey = new kms.CfnKey(stack, 'CK', { origin: 'EXTERNAL', keyPolicy: customPolicy });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'ByArn', cfnKey.attrArn) });
    expect(keyStatementsForRole(stack)).toHaveLength(1);
  });

  test('S10 (S3): a key of another stack with Origin AWS_KMS fails synth', () => {
    const app = new App();
    const keyStack = newStack('Keys', ENV, app);
    const stack = newStack('Revocations', ENV, app);
    new KeyMaterialRevocation(stack, 'R', { key: new kms.Key(keyStack, 'Plain') });
    expect(() => app.synth()).toThrow(/Keys\/Plain\/Resource has origin AWS_KMS/);
  });

  test('S10: a key of the parent stack used in a nested stack: origin checked, no cross-stack dependency, no account warning', () => {
    const stack = newStack('Root', undefined);
    const key = new kms.Key(stack, 'K');
    const nested = new NestedStack(stack, 'Nested');
    new KeyMaterialRevocation(nested, 'R', { key });
    expect(() => Template.fromStack(stack)).toThrow(/Root\/K\/Resource has origin AWS_KMS/);
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
    const template = Template.fromStack(nested);
    const [[, cr]] = revocations(template);
    expect(cr.Properties.KeyLogicalId).toBeUndefined();
    expect(cr.Properties.KeyArn).toEqual({ Ref: expect.stringMatching(/^referencetoRootK/) });
    expect(Annotations.fromStack(stack).findWarning('/Root/Nested/R', Match.stringLikeRegexp('account'))).toEqual([]);
  });
});

describe('S11: nested stacks', () => {
  /** The stacks whose own AWS::StackId feeds each resource of `resources` (a nested template's Refs). */
  function sourcesOf(chain: Stack[], resources: any[]): Array<Stack | any> {
    return resources.map((value) => {
      let i = 0;
      let v = value;
      while (v?.Ref && v.Ref !== 'AWS::StackId') {
        const nested = chain[i];
        const parentTemplate = Template.fromStack(chain[i + 1]).toJSON();
        v = parentTemplate.Resources[chain[i + 1].resolve(nested.nestedStackResource!.logicalId)].Properties.Parameters[v.Ref];
        i++;
      }
      return v?.Ref === 'AWS::StackId' ? chain[i] : v;
    });
  }

  function statementFor(template: Template, action: string): any {
    const matches = readsPolicy(template).resource.Properties.PolicyDocument.Statement.filter((s: any) => actionsOf(s).includes(action));
    expect(matches).toHaveLength(1);
    return matches[0];
  }

  const treeArn = (root: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:cloudformation:eu-west-1:111111111111:stack/${root}-*/*`]] });

  test('S11, L12, L24: a stack that is not nested reads its own stack, and lists the stacks named as its nested stacks would be', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    const statements = readsPolicy(Template.fromStack(stack)).resource.Properties.PolicyDocument.Statement
      .filter((s: any) => actionsOf(s)[0].startsWith('cloudformation:'));
    expect(statements).toHaveLength(2);
    expect(statements[0]).toMatchObject({ Resource: { Ref: 'AWS::StackId' } });
    expect(actionsOf(statements[0])).toEqual(CFN_READS.filter((a) => a !== 'cloudformation:ListStackResources'));
    expect(statements[1]).toMatchObject({ Action: 'cloudformation:ListStackResources', Resource: [{ Ref: 'AWS::StackId' }, treeArn('Stack')] });
  });

  test('L29/S11: the handler is bound to its own stack at deploy time (REVOCATION_STACK_ID), in a nested stack to the nested one', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { REVOCATION_STACK_ID: { Ref: 'AWS::StackId' } } },
    });
    const nested = new NestedStack(newStack('Root'), 'Nested');
    new KeyMaterialRevocation(nested, 'R', { key: externalKey(nested, 'K') });
    Template.fromStack(nested).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { REVOCATION_STACK_ID: { Ref: 'AWS::StackId' } } },
    });
  });

  test('S11: a revocation in a nested stack gets a handler there, reading its own stack and the root\'s', () => {
    const root = newStack('Root');
    const nested = new NestedStack(root, 'Nested');
    new KeyMaterialRevocation(nested, 'R', { key: externalKey(nested, 'K') });
    Template.fromStack(root).resourceCountIs('AWS::Lambda::Function', 0);
    const template = Template.fromStack(nested);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    const chain = [nested, root];
    const status = statementFor(template, 'cloudformation:DescribeStacks');
    expect(actionsOf(status)).toEqual(['cloudformation:DescribeStackEvents', 'cloudformation:DescribeStacks']);
    expect(sourcesOf(chain, status.Resource)).toEqual([nested, root]);
    expect(statementFor(template, 'cloudformation:GetTemplate').Resource).toEqual({ Ref: 'AWS::StackId' });
    const list = statementFor(template, 'cloudformation:ListStackResources');
    expect(sourcesOf(chain, list.Resource)).toEqual([nested, root, treeArn('Root')]);
    expectEachRevocationDependsOnItsGrant(template);
  });

  test('S11: two levels deep: its own stack, its parent and the root, each parent passing its own stack ID down', () => {
    const root = newStack('Root');
    const middle = new NestedStack(root, 'Middle');
    const deep = new NestedStack(middle, 'Deep');
    new KeyMaterialRevocation(deep, 'R', { key: kms.Key.fromKeyArn(deep, 'K', IMPORTED) });
    // Template.fromStack fails on a dependency cycle (a nested stack fed its own ID would be one).
    const template = Template.fromStack(deep);
    const chain = [deep, middle, root];
    expect(sourcesOf(chain, statementFor(template, 'cloudformation:DescribeStackEvents').Resource)).toEqual([deep, middle, root]);
    expect(statementFor(template, 'cloudformation:GetTemplate').Resource).toEqual({ Ref: 'AWS::StackId' });
    expect(sourcesOf(chain, statementFor(template, 'cloudformation:ListStackResources').Resource)).toEqual([deep, middle, root, treeArn('Root')]);
    for (const s of [root, middle]) Template.fromStack(s).resourceCountIs('AWS::Lambda::Function', 0);
  });

  /** The resources of every statement of the reads policy that grants `action`. */
  const resourcesFor = (template: Template, action: string) => readsPolicy(template).resource.Properties.PolicyDocument.Statement
    .filter((s: any) => actionsOf(s).includes(action)).flatMap((s: any) => [s.Resource].flat());

  test('S11, L12, L24: revocations in a root and its nested stack get one handler each; the root\'s also lists the nested stacks, nothing more', () => {
    const root = newStack('Root');
    new KeyMaterialRevocation(root, 'R', { key: externalKey(root, 'K') });
    const nested = new NestedStack(root, 'Nested');
    new KeyMaterialRevocation(nested, 'R', { key: externalKey(nested, 'K') });
    const rootTemplate = Template.fromStack(root);
    rootTemplate.resourceCountIs('AWS::Lambda::Function', 1);
    Template.fromStack(nested).resourceCountIs('AWS::Lambda::Function', 1);
    // A revocation moved from the root into a nested stack still manages its key: the root's handler looks there.
    expect(resourcesFor(rootTemplate, 'cloudformation:ListStackResources')).toEqual([{ Ref: 'AWS::StackId' }, treeArn('Root')]);
    for (const action of ['cloudformation:DescribeStacks', 'cloudformation:DescribeStackEvents', 'cloudformation:GetTemplate']) {
      expect(resourcesFor(rootTemplate, action)).toEqual([{ Ref: 'AWS::StackId' }]);
    }
  });

  test('S11: a root lists its tree whether or not it holds nested stacks (its policy before an update may be the one in force)', () => {
    const withNested = newStack('Root');
    new KeyMaterialRevocation(withNested, 'R', { key: kms.Key.fromKeyArn(withNested, 'K', IMPORTED) });
    new CfnWaitConditionHandle(new NestedStack(withNested, 'Plain'), 'Nothing');
    expect(resourcesFor(Template.fromStack(withNested), 'cloudformation:ListStackResources')).toEqual([{ Ref: 'AWS::StackId' }, treeArn('Root')]);
    const withCfnStack = newStack('Other');
    new KeyMaterialRevocation(withCfnStack, 'R', { key: kms.Key.fromKeyArn(withCfnStack, 'K', IMPORTED) });
    new CfnStack(withCfnStack, 'Legacy', { templateUrl: 'https://s3.eu-west-1.amazonaws.com/bucket/legacy.json' });
    expect(resourcesFor(Template.fromStack(withCfnStack), 'cloudformation:ListStackResources')).toEqual([{ Ref: 'AWS::StackId' }, treeArn('Other')]);
    const flat = newStack('Flat');
    new KeyMaterialRevocation(flat, 'R', { key: kms.Key.fromKeyArn(flat, 'K', IMPORTED) });
    expect(resourcesFor(Template.fromStack(flat), 'cloudformation:ListStackResources')).toEqual([{ Ref: 'AWS::StackId' }, treeArn('Flat')]);
  });
});

describe('key policies replaced, never updated, when their key list changes (L9, L12, L13)', () => {
  const arns = Array.from({ length: 20 }, (_, i) => realisticArn(i));

  /** The key policies of a template, by logical ID, with the keys each grants. */
  const policies = (stack: Stack) => grantsOf(Template.fromStack(stack));

  /** Policies of `before` missing from `after` (by logical ID), and the reverse. */
  function diff(before: Record<string, any[]>, after: Record<string, any[]>) {
    const gone = Object.keys(before).filter((id) => !(id in after));
    const added = Object.keys(after).filter((id) => !(id in before));
    const kept = Object.keys(before).filter((id) => id in after);
    for (const id of kept) expect(after[id]).toEqual(before[id]);
    return { gone, added };
  }

  test('L9: pointing one revocation at another key replaces the policy of each key, at most two, and keeps every other policy', () => {
    const before = policies(stackOfArns(arns));
    const replaced = arns.map((a, i) => (i === 7 ? realisticArn(99) : a));
    const after = policies(stackOfArns(replaced));
    const { gone, added } = diff(before, after);
    // The policy that granted the old key is gone from the new template (deleted in cleanup); the new key's is new.
    const oldHolder = Object.keys(before).find((id) => before[id].includes(grantOf(arns[7])))!;
    const newHolder = Object.keys(after).find((id) => after[id].includes(grantOf(realisticArn(99))))!;
    expect(gone).toContain(oldHolder);
    expect(added).toContain(newHolder);
    // Any other change is the new key's bucket, which grew (or was empty and gets its first policy).
    const bucket = (id: string) => /Keys(\d)/.exec(id)![1];
    expect(new Set([...gone, ...added].map(bucket))).toEqual(new Set([bucket(oldHolder), bucket(newHolder)]));
    expect(gone.length).toBeLessThanOrEqual(2);
    expect(added.length).toBeLessThanOrEqual(2);
  });

  test('L9: a change of one key changes exactly one bucket\'s logical ID when both keys fall in the same bucket', () => {
    const before = policies(stackOfArns(arns));
    const holder = (grants: Record<string, any[]>, arn: string) => Object.keys(grants).find((id) => grants[id].includes(grantOf(arn)))!;
    const bucket = (id: string) => /Keys(\d)/.exec(id)![1];
    // Find a replacement key that hashes to the old key's bucket.
    for (let candidate = 100; candidate < 200; candidate++) {
      const after = policies(stackOfArns(arns.map((a, i) => (i === 3 ? realisticArn(candidate) : a))));
      if (bucket(holder(after, realisticArn(candidate))) !== bucket(holder(before, arns[3]))) continue;
      expect(diff(before, after)).toEqual({ gone: [holder(before, arns[3])], added: [holder(after, realisticArn(candidate))] });
      return;
    }
    throw new Error('no replacement key in the same bucket among 100 candidates');
  });

  test('L12: removing one revocation replaces exactly the policy of its key; the old one is what the removed revocation depended on', () => {
    const beforeStack = stackOfArns(arns);
    const beforeTemplate = Template.fromStack(beforeStack);
    const before = grantsOf(beforeTemplate);
    const after = policies(stackOfArns(arns.filter((_, i) => i !== 11)));
    const { gone, added } = diff(before, after);
    const holder = policyGranting(beforeTemplate, arns[11]);
    expect(gone).toEqual([holder]);
    // A bucket left empty makes no policy; otherwise its replacement grants the rest.
    expect(added.length).toBe(before[holder].length > 1 ? 1 : 0);
    const [, removed] = revocations(beforeTemplate).find(([, r]) => r.Properties.KeyArn === arns[11])!;
    expect(removed.DependsOn).toContain(holder);
  });

  test('L13: removing a revocation with its same-stack key replaces that key\'s policy only', () => {
    const build = (withKey: boolean) => {
      const stack = stackOfArns(arns.slice(0, 8));
      if (withKey) new KeyMaterialRevocation(stack, 'Own', { key: externalKey(stack, 'OwnKey') });
      return stack;
    };
    const beforeStack = build(true);
    const beforeTemplate = Template.fromStack(beforeStack);
    const keyId = beforeStack.getLogicalId(beforeStack.node.findChild('OwnKey').node.defaultChild as kms.CfnKey);
    const holder = policyGranting(beforeTemplate, { 'Fn::GetAtt': [keyId, 'Arn'] });
    const { gone } = diff(grantsOf(beforeTemplate), policies(build(false)));
    expect(gone).toEqual([holder]);
    const [, own] = revocations(beforeTemplate).find(([, r]) => r.Properties.KeyLogicalId === keyId)!;
    expect(own.DependsOn).toEqual([holder]);
    expect(own.Properties.KeyArn).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
  });

  test('L9/S7: a policy granting a key known only at deploy time names its value in the Description (replaced when it changes); others keep a plain one', () => {
    const stack = newStack();
    const param = new CfnParameter(stack, 'KeyArnParam', { type: 'String' });
    new KeyMaterialRevocation(stack, 'ByParam', { key: kms.Key.fromKeyArn(stack, 'K', param.valueAsString) });
    const template = Template.fromStack(stack);
    const [policy] = Object.values(template.findResources('AWS::IAM::ManagedPolicy')) as any[];
    const description = policy.Properties.Description;
    expect(description['Fn::Join'][0]).toBe('');
    expect(JSON.stringify(description)).toContain('{"Ref":"KeyArnParam"}');
    expect(JSON.stringify(description)).toMatch(/Lets the KMS key material revocation handler act on 1 key/);
    const literal = Object.values(Template.fromStack(stackOfArns(arns)).findResources('AWS::IAM::ManagedPolicy')) as any[];
    for (const p of literal) expect(typeof p.Properties.Description).toBe('string');
    // Keys whose ARN cannot change under the same template keep a plain Description: app-defined keys
    // (this stack's, fromCfnKey, another stack's), pseudo parameters only, an imported export.
    const stable = newStack('Stable', undefined);
    new KeyMaterialRevocation(stable, 'Own', { key: externalKey(stable, 'OwnKey') });
    new KeyMaterialRevocation(stable, 'Wrapped', { key: kms.Key.fromCfnKey(new kms.CfnKey(stable, 'CK', {
      origin: 'EXTERNAL',
      keyPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] },
    })) });
    const pseudo = stable.formatArn({ service: 'kms', resource: 'key', resourceName: '1234abcd-12ab-34cd-56ef-1234567890ab' });
    new KeyMaterialRevocation(stable, 'Pseudo', { key: kms.Key.fromKeyArn(stable, 'PseudoKey', pseudo) });
    new KeyMaterialRevocation(stable, 'Imported', { key: kms.Key.fromKeyArn(stable, 'ImportedKey', cdk.Fn.importValue('KeyArnExport')) });
    const crossApp = new App();
    const crossKeys = newStack('Keys', ENV, crossApp);
    const crossStack = newStack('Uses', ENV, crossApp);
    new KeyMaterialRevocation(crossStack, 'Cross', { key: externalKey(crossKeys, 'Shared') });
    for (const st of [stable, crossStack]) {
      for (const p of Object.values(Template.fromStack(st).findResources('AWS::IAM::ManagedPolicy')) as any[]) {
        expect(typeof p.Properties.Description).toBe('string');
      }
    }
    // A dynamic reference is resolved at deploy time: it counts.
    const dynamic = newStack('Dynamic');
    new KeyMaterialRevocation(dynamic, 'R', { key: kms.Key.fromKeyArn(dynamic, 'K', cdk.Lazy.string({ produce: () => '{{resolve:ssm:/byok/key-arn}}' })) });
    const [dynamicPolicy] = Object.values(Template.fromStack(dynamic).findResources('AWS::IAM::ManagedPolicy')) as any[];
    expect(JSON.stringify(dynamicPolicy.Properties.Description)).toContain('{{resolve:ssm:/byok/key-arn}}');
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('deployTimeKeysUpdatedInPlace'))).toEqual([]);
  });

  test('L9/S7: more keys known only at deploy time than one Description can name are warned about', () => {
    const stack = newStack();
    for (let i = 0; i < 40; i++) {
      const param = new CfnParameter(stack, `KeyArn${i}`, { type: 'String' });
      new KeyMaterialRevocation(stack, `R${i}`, { key: kms.Key.fromKeyArn(stack, `K${i}`, param.valueAsString) });
    }
    const template = Template.fromStack(stack);
    const descriptions = (Object.values(template.findResources('AWS::IAM::ManagedPolicy')) as any[]).map((p) => p.Properties.Description);
    const plain = descriptions.filter((d) => typeof d === 'string').length;
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('deployTimeKeysUpdatedInPlace'));
    expect(plain).toBeGreaterThan(0);
    expect(warnings).toHaveLength(plain);
    // The ones that name their keys stay within IAM's 1,000 characters even for the longest ARNs (90 each).
    const longest = (x: any): number => {
      if (typeof x === 'string') return x.length;
      if (x.Ref) return 89;
      const [separator, items] = x['Fn::Join'];
      return items.reduce((sum: number, item: any) => sum + longest(item), 0) + separator.length * (items.length - 1);
    };
    for (const d of descriptions.filter((x) => typeof x !== 'string')) {
      expect(JSON.stringify(d)).toMatch(/"Ref":"KeyArn\d+"/);
      expect(longest(d)).toBeLessThanOrEqual(1000);
    }
  });

  test('L9: adding a key replaces one policy; the order in which revocations are declared changes nothing', () => {
    const before = policies(stackOfArns(arns));
    const { gone, added } = diff(before, policies(stackOfArns([...arns, realisticArn(500)])));
    expect(gone.length).toBeLessThanOrEqual(1);
    expect(added).toHaveLength(1);
    const shuffled = [...arns].reverse();
    const app = new App();
    const stack = newStack('Stack', ENV, app);
    shuffled.forEach((arn) => new KeyMaterialRevocation(stack, `R${arn.slice(-12)}${arns.indexOf(arn)}`, {
      key: kms.Key.fromKeyArn(stack, `K${arns.indexOf(arn)}`, arn),
    }));
    expect(policies(stack)).toEqual(before);
  });
});

describe('keys no revocation names, under a key policy that does not trust the account (L9, L12)', () => {
  const adminOnly = () => new iam.PolicyDocument({ statements: [new iam.PolicyStatement({
    principals: [new iam.ArnPrincipal(`arn:aws:iam::${ACCOUNT}:role/Admin`)], actions: ['kms:*'], resources: ['*'],
  })] });
  const adminOnlyJson = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/Admin` }, Action: 'kms:*', Resource: '*' }] };
  const external = (key: kms.Key) => {
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
    return key;
  };

  /** The statements of one key's policy (by its construct) that let the handler's role in, directly or through IAM. */
  function forRole(stack: Stack, cfnKey: kms.CfnKey) {
    const template = Template.fromStack(stack);
    const role = Object.keys(template.findResources('AWS::IAM::Role'))[0];
    const statements: any[] = template.toJSON().Resources[stack.getLogicalId(cfnKey)].Properties.KeyPolicy?.Statement ?? [];
    return {
      direct: statements.filter((st) => st.Principal?.AWS?.['Fn::GetAtt']?.[0] === role),
      throughIam: statements.filter((st) => st.Condition?.ArnEquals?.['aws:PrincipalArn']?.['Fn::GetAtt']?.[0] === role),
    };
  }

  test('L9/L12: an EXTERNAL key of the stack that no revocation names lets IAM grant the three actions to the handler\'s role alone', () => {
    const stack = newStack();
    const former = external(new kms.Key(stack, 'Former', { policy: adminOnly() }));
    new KeyMaterialRevocation(stack, 'R', { key: external(new kms.Key(stack, 'Named', { policy: adminOnly() })) });
    const { direct, throughIam } = forRole(stack, former.node.defaultChild as kms.CfnKey);
    expect(direct).toEqual([]);
    expect(throughIam).toHaveLength(1);
    const [statement] = throughIam;
    expect(statement.Effect).toBe('Allow');
    expect(statement.Principal.AWS).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${ACCOUNT}:root`]] });
    expect(actionsOf(statement)).toEqual(KMS_ACTIONS);
    expect(statement.Resource).toBe('*');
    expect(Object.keys(statement.Condition)).toEqual(['ArnEquals']);
    // It grants nothing by itself: no IAM policy of the handler names the key.
    const template = Template.fromStack(stack);
    const formerId = stack.getLogicalId(former.node.defaultChild as kms.CfnKey);
    expect(JSON.stringify(template.findResources('AWS::IAM::ManagedPolicy'))).not.toContain(formerId);
  });

  test('L9: a key a revocation names gets the statement for the role itself, never the one through IAM', () => {
    const stack = newStack();
    const named = external(new kms.Key(stack, 'Named', { policy: adminOnly() }));
    new KeyMaterialRevocation(stack, 'R', { key: named });
    const { direct, throughIam } = forRole(stack, named.node.defaultChild as kms.CfnKey);
    expect(direct).toHaveLength(1);
    expect(throughIam).toEqual([]);
  });

  test('S5: keys that need nothing are left alone: a policy that trusts the account, an Origin other than EXTERNAL, a stack without revocations', () => {
    const app = new App();
    const stack = newStack('Stack', ENV, app);
    const trusting = external(new kms.Key(stack, 'Trusting'));
    const notExternal = new kms.Key(stack, 'AwsKms', { policy: adminOnly() });
    new KeyMaterialRevocation(stack, 'R', { key: external(new kms.Key(stack, 'Named')) });
    const other = newStack('Other', ENV, app);
    const elsewhere = external(new kms.Key(other, 'Elsewhere', { policy: adminOnly() }));
    const policyOf = (st: Stack, key: kms.Key) => Template.fromStack(st).toJSON().Resources[st.getLogicalId(key.node.defaultChild as kms.CfnKey)].Properties.KeyPolicy;
    expect(policyOf(stack, trusting).Statement).toHaveLength(1);
    expect(policyOf(stack, notExternal).Statement).toHaveLength(1);
    expect(policyOf(other, elsewhere).Statement).toHaveLength(1);
  });

  test('L9/S10: a plain CfnKey (JSON policy, Origin EXTERNAL), and one behind kms.Key.fromCfnKey, get it in the template', () => {
    const stack = newStack();
    const plain = new kms.CfnKey(stack, 'Plain', { origin: 'EXTERNAL', keyPolicy: adminOnlyJson });
    const wrapped = new kms.CfnKey(stack, 'Wrapped', { origin: 'EXTERNAL', keyPolicy: adminOnlyJson });
    kms.Key.fromCfnKey(wrapped);
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'Imported', IMPORTED) });
    for (const cfnKey of [plain, wrapped]) {
      const { direct, throughIam } = forRole(stack, cfnKey);
      expect(direct).toEqual([]);
      expect(throughIam).toHaveLength(1);
    }
  });

  test('L9: a key in a nested stack is left to that stack\'s own handler', () => {
    const stack = newStack('Root', ENV);
    const nested = new NestedStack(stack, 'Nested');
    const inNested = external(new kms.Key(nested, 'InNested', { policy: adminOnly() }));
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'Imported', IMPORTED) });
    Template.fromStack(stack);
    const statements = Template.fromStack(nested).toJSON().Resources[nested.getLogicalId(inNested.node.defaultChild as kms.CfnKey)].Properties.KeyPolicy.Statement;
    expect(statements).toHaveLength(1);
  });

  test('L9: synthesizing twice adds the statement once, and a plain JSON policy keeps what the user wrote (its Id)', () => {
    const stack = newStack();
    // A plain CfnKey: unlike kms.Key's PolicyDocument, its JSON would show a second copy.
    const former = new kms.CfnKey(stack, 'Former', { origin: 'EXTERNAL', keyPolicy: { ...adminOnlyJson, Id: 'mine' } });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'Imported', IMPORTED) });
    Template.fromStack(stack);
    expect(forRole(stack, former).throughIam).toHaveLength(1);
    const policy = Template.fromStack(stack).toJSON().Resources.Former.Properties.KeyPolicy;
    expect(policy.Id).toBe('mine');
    expect(policy.Statement).toHaveLength(2);
    expect(policy.Statement[0]).toEqual(adminOnlyJson.Statement[0]);
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  test('L9: an Origin known only at deploy time (a parameter) counts as EXTERNAL', () => {
    const stack = newStack();
    const origin = new CfnParameter(stack, 'Origin', { default: 'EXTERNAL' });
    const former = new kms.CfnKey(stack, 'Former', { origin: origin.valueAsString, keyPolicy: adminOnlyJson });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'Imported', IMPORTED) });
    expect(forRole(stack, former).throughIam).toHaveLength(1);
  });

  test('L9: a key the statement could not reach (Origin set by an aspect after it ran) is warned about, not silently skipped', () => {
    const app = new App();
    const stack = newStack('Stack', ENV, app);
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'Imported', IMPORTED) });
    const late = new kms.Key(stack, 'Late', { policy: adminOnly() });
    Aspects.of(app).add({ visit: (node: IConstruct) => { if (node === late.node.defaultChild) (node as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL'); } });
    const template = Template.fromStack(stack);
    const statements: any[] = template.toJSON().Resources[stack.getLogicalId(late.node.defaultChild as kms.CfnKey)].Properties.KeyPolicy.Statement;
    const warnings = Annotations.fromStack(stack).findWarning('/Stack/Late/Resource', Match.stringLikeRegexp('formerKeyUnreachable'));
    // Which one depends on the order aws-cdk-lib visits aspects in (the installed one: after ours); never neither.
    expect([1, 2]).toContain(statements.length);
    expect(warnings).toHaveLength(statements.length === 1 ? 1 : 0);
    if (warnings.length > 0) expect(JSON.stringify(warnings[0].entry.data)).toContain('L9, L12');
  });

  test('L9: a key policy that cannot be edited (a token) is warned about', () => {
    const stack = newStack();
    const policy = cdk.Lazy.any({ produce: () => adminOnlyJson });
    new kms.CfnKey(stack, 'Opaque', { origin: 'EXTERNAL', keyPolicy: policy });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'Imported', IMPORTED) });
    expect(Template.fromStack(stack).toJSON().Resources.Opaque.Properties.KeyPolicy).toEqual(adminOnlyJson);
    expect(Annotations.fromStack(stack).findWarning('/Stack/Opaque', Match.stringLikeRegexp('formerKeyUnreachable'))).toHaveLength(1);
  });

  test('S10/L13: a key of another stack of the tree is tagged, its revocation says KeyTagged, its policy may read tags; other keys are left as they were', () => {
    const root = newStack('Root');
    const rootKey = externalKey(root, 'RootKey');
    const own = externalKey(root, 'Own');
    const nested = new NestedStack(root, 'Inner');
    new KeyMaterialRevocation(nested, 'OfRootKey', { key: rootKey });
    new KeyMaterialRevocation(root, 'OfOwn', { key: own });
    const other = newStack('Other', ENV, root.node.scope as App);
    const outside = externalKey(other, 'Outside');
    new KeyMaterialRevocation(newStack('Third', ENV, root.node.scope as App), 'OfOutside', { key: outside });
    const rootTemplate = Template.fromStack(root).toJSON().Resources;
    const tagsOf = (stack: Stack, key: kms.Key) => Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(key.node.defaultChild as kms.CfnKey)].Properties.Tags;
    expect(rootTemplate[root.getLogicalId(rootKey.node.defaultChild as kms.CfnKey)].Properties.Tags).toEqual([{ Key: 'cdk-kms-key-material:revocation', Value: 'true' }]);
    // A same-stack key, and a key of another top-level stack (deployed apart, in either order), get no tag.
    expect(tagsOf(root, own)).toBeUndefined();
    expect(tagsOf(other, outside)).toBeUndefined();
    const nestedTemplate = Template.fromStack(nested);
    const [[, revocation]] = revocations(nestedTemplate);
    expect(revocation.Properties.KeyTagged).toBe('true');
    expect(revocation.Properties.KeyLogicalId).toBeUndefined();
    const [policy] = Object.values(keyPolicies(nestedTemplate));
    expect(actionsOf(policy.Properties.PolicyDocument.Statement[0])).toEqual([...KMS_ACTIONS, 'kms:ListResourceTags'].sort());
    // The root's own revocation, and its key policy, are as before (grantsOf checks the actions).
    const rootTemplate2 = Template.fromStack(root);
    const [[, ofOwn]] = revocations(rootTemplate2);
    expect(ofOwn.Properties.KeyTagged).toBeUndefined();
    expect(Object.values(grantsOf(rootTemplate2))).toHaveLength(1);
  });

  test('S10: a root key passed into a nested stack by a parameter the user names is known by ARN alone: not tagged, checked on create', () => {
    const root = newStack('Root');
    const key = externalKey(root, 'RootKey');
    const nested = new NestedStack(root, 'Inner', { parameters: { KeyArnParam: key.keyArn } });
    const param = new CfnParameter(nested, 'KeyArnParam', { type: 'String' });
    new KeyMaterialRevocation(nested, 'R', { key: kms.Key.fromKeyArn(nested, 'K', param.valueAsString) });
    expect(Template.fromStack(root).toJSON().Resources[root.getLogicalId(key.node.defaultChild as kms.CfnKey)].Properties.Tags).toBeUndefined();
    const [[, revocation]] = revocations(Template.fromStack(nested));
    expect(revocation.Properties.KeyTagged).toBeUndefined();
    expect(Annotations.fromStack(root).findWarning('*', Match.stringLikeRegexp('keyCheckedAtDeploy')).map((w) => w.id)).toEqual(['/Root/Inner/R']);
  });

  test('S10: a sibling\'s key passed by a parameter whose logical ID equals one of the root\'s keys tags neither key (no lookup by logical ID across stacks)', () => {
    const root = newStack('Root');
    const rootKey = externalKey(root, 'Key');
    const sibling = new NestedStack(root, 'Sib');
    const sibKey = externalKey(sibling, 'Key');
    expect(root.getLogicalId(rootKey.node.defaultChild as kms.CfnKey)).toBe(sibling.getLogicalId(sibKey.node.defaultChild as kms.CfnKey));
    const nested = new NestedStack(root, 'N', { parameters: { P: sibKey.keyArn } });
    const param = new CfnParameter(nested, 'P', { type: 'String' });
    new KeyMaterialRevocation(nested, 'R', { key: kms.Key.fromKeyArn(nested, 'K', param.valueAsString) });
    // S9 does not take the root's key for the one passed: a revocation of it synthesizes.
    new KeyMaterialRevocation(root, 'OfRootKey', { key: rootKey });
    const tags = (stack: Stack, key: kms.Key) => Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(key.node.defaultChild as kms.CfnKey)].Properties.Tags;
    expect(tags(root, rootKey)).toBeUndefined();
    expect(tags(sibling, sibKey)).toBeUndefined();
    const [[, revocation]] = revocations(Template.fromStack(nested));
    expect(revocation.Properties.KeyTagged).toBeUndefined();
  });

  test('S10/L13: an override of the key\'s Tags that drops the tag fails synth; Tags given as a token warn', () => {
    const root = newStack('Root');
    const key = externalKey(root, 'RootKey');
    new KeyMaterialRevocation(new NestedStack(root, 'Inner'), 'R', { key });
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Tags', [{ Key: 'team', Value: 'crypto' }]);
    expect(() => Template.fromStack(root)).toThrow(/Root\/RootKey\/Resource lacks the tag cdk-kms-key-material:revocation=true.*keep the tag in the override/);

    const root2 = newStack('Root');
    const key2 = externalKey(root2, 'RootKey');
    new KeyMaterialRevocation(new NestedStack(root2, 'Inner'), 'R', { key: key2 });
    (key2.node.defaultChild as kms.CfnKey).addPropertyOverride('Tags', new CfnParameter(root2, 'TagsParam', { type: 'String' }).valueAsString);
    Template.fromStack(root2);
    expect(Annotations.fromStack(root2).findWarning('*', Match.stringLikeRegexp('keyTagUnknown')).map((w) => w.id)).toEqual(['/Root/Inner/R']);
  });

  test('L3/S10: a revocation in a nested stack of a root key that does not trust the account warns that its create would fail; a trusting root key does not', () => {
    const root = newStack('Root');
    const adminKey = external(new kms.Key(root, 'AdminOnly', { policy: adminOnly() }));
    const trusting = external(new kms.Key(root, 'Trusting'));
    const nested = new NestedStack(root, 'Inner');
    new KeyMaterialRevocation(nested, 'OfAdminOnly', { key: adminKey });
    new KeyMaterialRevocation(nested, 'OfTrusting', { key: trusting });
    const template = Template.fromStack(root);
    // Nothing is added to the root key's policy (a reference to the nested role would be a cycle)...
    expect(template.toJSON().Resources[root.getLogicalId(adminKey.node.defaultChild as kms.CfnKey)].Properties.KeyPolicy.Statement).toHaveLength(1);
    // ...so synth says what to add, on the revocation that needs it.
    const warnings = Annotations.fromStack(root).findWarning('*', Match.stringLikeRegexp('keyPolicyOfOtherStack'));
    expect(warnings.map((w) => w.id)).toEqual(['/Root/Inner/OfAdminOnly']);
    expect(JSON.stringify(warnings[0].entry.data)).toContain('Root/AdminOnly');
  });

  test('L3/S10: the other stack\'s key policy is judged as it ends up: trust added after the revocation silences the warning', () => {
    const root = newStack('Root');
    const key = external(new kms.Key(root, 'AdminOnly', { policy: adminOnly() }));
    new KeyMaterialRevocation(new NestedStack(root, 'Inner'), 'R', { key });
    key.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.AccountRootPrincipal()], actions: ['kms:*'], resources: ['*'] }));
    Template.fromStack(root);
    expect(Annotations.fromStack(root).findWarning('*', Match.stringLikeRegexp('keyPolicyOfOtherStack'))).toEqual([]);
  });

  test('L9/L12: the context key formerKeysThroughIam false leaves such keys alone, and silent', () => {
    const app = new App({ context: { 'cdk-kms-key-material:formerKeysThroughIam': false } });
    const stack = newStack('Stack', ENV, app);
    const former = external(new kms.Key(stack, 'Former', { policy: adminOnly() }));
    const named = external(new kms.Key(stack, 'Named', { policy: adminOnly() }));
    new KeyMaterialRevocation(stack, 'R', { key: named });
    expect(forRole(stack, former.node.defaultChild as kms.CfnKey)).toEqual({ direct: [], throughIam: [] });
    expect(forRole(stack, named.node.defaultChild as kms.CfnKey).direct).toHaveLength(1);
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('runtime', () => {
  test('the tests run on the Node.js major the handler deploys with', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    const [fn] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')) as any[];
    const runtimeMajor = /^nodejs(\d+)\.x$/.exec(fn.Properties.Runtime)![1];
    expect(process.versions.node.split('.')[0]).toBe(runtimeMajor);
  });
});

describe('properties', () => {
  test('defaults: revoke on stack delete and key replacement, not on removal, scope ALL, five-minute service timeout', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    // Contract version 2: a property at its default is left out (lib/contract.ts PROPERTY_DEFAULTS).
    Template.fromStack(stack).hasResourceProperties('Custom::KmsKeyMaterialRevocation', Match.objectEquals({
      ServiceToken: Match.anyValue(), KeyArn: Match.anyValue(), KeyLogicalId: Match.anyValue(), ContractVersion: '2', ServiceTimeout: '300',
    }));
    expect(PROPERTY_DEFAULTS).toEqual({
      KeyLogicalId: '', RevokeOnStackDelete: 'true', RevokeOnKeyReplacement: 'true', RevokeOnRemoval: 'false', Revoked: 'false', MaterialScope: 'ALL',
    });
  });

  test('L8: the context key cdk-kms-key-material:writeContractVersion1 writes every property, as version 1 did (for a two-step upgrade)', () => {
    const app = new App({ context: { [WRITE_VERSION_1_CONTEXT]: 'true' } });
    const stack = newStack('Stack', ENV, app);
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`) });
    Template.fromStack(stack).hasResourceProperties('Custom::KmsKeyMaterialRevocation', Match.objectEquals({
      ServiceToken: Match.anyValue(), ServiceTimeout: '300', KeyArn: Match.anyValue(), KeyLogicalId: '', RevokeOnStackDelete: 'true',
      RevokeOnKeyReplacement: 'true', RevokeOnRemoval: 'false', Revoked: 'false', MaterialScope: 'ALL', ContractVersion: '1',
    }));
  });

  test('every prop reaches the resource as CloudFormation delivers it: strings', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', {
      key: externalKey(stack, 'K'), revokeOnStackDelete: false, revokeOnKeyReplacement: false, revokeOnRemoval: true,
      revoked: true, materialScope: KeyMaterialScope.CURRENT, serviceTimeout: Duration.minutes(2),
    });
    Template.fromStack(stack).hasResourceProperties('Custom::KmsKeyMaterialRevocation', {
      RevokeOnStackDelete: 'false', RevokeOnKeyReplacement: 'false', RevokeOnRemoval: 'true', Revoked: 'true',
      MaterialScope: 'CURRENT', ServiceTimeout: '120',
    });
  });

  test('L14: revoked on warns at synth that a create revokes during the create, which a failed create cannot undo', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K'), revoked: true });
    new KeyMaterialRevocation(stack, 'Off', { key: externalKey(stack, 'K2') });
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning('/Stack/R', Match.stringLikeRegexp('revoked during the create.*cannot undo.*re-importing'));
    expect(annotations.findWarning('/Stack/Off', Match.anyValue())).toEqual([]);
  });

  test.each([Duration.seconds(10), Duration.hours(2)])('serviceTimeout %s is rejected with the bad value', (timeout) => {
    const stack = newStack();
    expect(() => new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K'), serviceTimeout: timeout }))
      .toThrow(new RegExp(`between 30 seconds and 1 hour, got ${timeout.toSeconds()} seconds`));
  });

  test('attributes read the handler\'s KeyArn and RevokedMaterialIds', () => {
    const stack = newStack();
    const r = new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    const logicalId = stack.getLogicalId(r.node.defaultChild as any);
    expect(stack.resolve(r.keyArn)).toEqual({ 'Fn::GetAtt': [logicalId, 'KeyArn'] });
    expect(stack.resolve(r.revokedMaterialIds)).toEqual({ 'Fn::GetAtt': [logicalId, 'RevokedMaterialIds'] });
  });
});

/** The key-policy statements naming the handler's role, for the one key in the stack. */
function keyStatementsForRole(stack: Stack): any[] {
  const template = Template.fromStack(stack);
  const role = Object.keys(template.findResources('AWS::IAM::Role'))[0];
  const [key] = Object.values(template.findResources('AWS::KMS::Key')) as any[];
  return (key.Properties.KeyPolicy?.Statement ?? []).filter((s: any) => s.Principal?.AWS?.['Fn::GetAtt']?.[0] === role);
}

describe('handler settings (issue 11, point 5)', () => {
  test('issue 11: in a VPC the handler gets its network permissions inline (no AWS managed policy, no slot taken from the key policies)', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K'), vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    const template = Template.fromStack(stack);
    const [fnId, fn] = Object.entries(template.findResources('AWS::Lambda::Function'))[0] as [string, any];
    expect(fn.Properties.VpcConfig.SubnetIds).toHaveLength(2);
    expect(fn.Properties.VpcConfig.SecurityGroupIds).toHaveLength(1);
    const [role] = Object.values(template.findResources('AWS::IAM::Role')) as any[];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const policy = readsPolicy(template);
    const eni = policy.resource.Properties.PolicyDocument.Statement.find((s: any) => actionsOf(s)[0].startsWith('ec2:'));
    expect(actionsOf(eni)).toEqual(['ec2:AssignPrivateIpAddresses', 'ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface',
      'ec2:DescribeNetworkInterfaces', 'ec2:UnassignPrivateIpAddresses']);
    expect(fn.DependsOn).toContain(policy.id);
    expect(fnId).toMatch(/^KmsKeyMaterialRevocationProviderHandler/);
  });

  test('issue 11: not in a VPC by default, and no EC2 permission then', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K') });
    const template = Template.fromStack(stack);
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    expect(fn.Properties.VpcConfig).toBeUndefined();
    expect(fn.Properties.Architectures).toEqual(['x86_64']);
    expect(JSON.stringify(readsPolicy(template).resource.Properties.PolicyDocument)).not.toContain('ec2:');
  });

  test('issue 11: the architecture can be arm64', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R', { key: externalKey(stack, 'K'), architecture: lambda.Architecture.ARM_64 });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Architectures: ['arm64'] });
  });

  test('issue 11: a later revocation asking for other handler settings fails synth instead of being ignored', () => {
    const stack = newStack();
    new KeyMaterialRevocation(stack, 'R1', { key: externalKey(stack, 'K1') });
    expect(() => new KeyMaterialRevocation(stack, 'R2', { key: externalKey(stack, 'K2'), architecture: lambda.Architecture.ARM_64 }))
      .toThrow(/Stack\/R2 asks for other handler settings .* than Stack\/R1/);
    // The same settings, or none, are fine.
    new KeyMaterialRevocation(stack, 'R3', { key: externalKey(stack, 'K3'), architecture: lambda.Architecture.X86_64 });
  });
});
