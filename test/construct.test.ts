/**
 * Construct tests: the synthesized template for LIFECYCLE S1-S7.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KeyMaterialRevocation, KeyMaterialScope } from '../lib/index';

const ACCOUNT = '111111111111';
const ENV = { account: ACCOUNT, region: 'eu-west-1' };
const KMS_ACTIONS = ['kms:DeleteImportedKeyMaterial', 'kms:DescribeKey', 'kms:ListKeyRotations'];

function externalKey(stack: Stack, id: string): kms.Key {
  const key = new kms.Key(stack, id);
  (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
  return key;
}

function newStack(id = 'Stack', env: { account?: string; region?: string } | undefined = ENV, app = new App()) {
  return new Stack(app, id, { env });
}

/** The one AWS::IAM::Policy of the provider. */
function providerPolicy(template: Template): any {
  const policies = template.findResources('AWS::IAM::Policy');
  expect(Object.keys(policies)).toHaveLength(1);
  return Object.values(policies)[0];
}

function kmsStatement(template: Template): any {
  return providerPolicy(template).Properties.PolicyDocument.Statement.find((s: any) =>
    [s.Action].flat().some((a: string) => a.startsWith('kms:')));
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

  test('S4: a key in another Region of the same account is allowed and granted by its exact ARN', () => {
    const stack = newStack();
    const arn = `arn:aws:kms:us-west-2:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'Elsewhere', arn) });
    const template = Template.fromStack(stack);
    expect(kmsStatement(template).Resource).toEqual(arn);
    template.hasResourceProperties('Custom::KmsKeyMaterialRevocation', { KeyArn: arn, KeyLogicalId: '' });
  });

  test('S5: many revocations share one function and one role; IAM lists exactly their key ARNs, scoped to the stack', () => {
    const stack = newStack();
    const k1 = externalKey(stack, 'K1');
    const k2 = externalKey(stack, 'K2');
    const imported = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const k3 = kms.Key.fromKeyArn(stack, 'K3', imported);
    new KeyMaterialRevocation(stack, 'R1', { key: k1 });
    new KeyMaterialRevocation(stack, 'R2', { key: k2, materialScope: KeyMaterialScope.CURRENT });
    new KeyMaterialRevocation(stack, 'R3', { key: k3 });
    new KeyMaterialRevocation(stack, 'R1Again', { key: k1, revoked: true });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.resourceCountIs('Custom::KmsKeyMaterialRevocation', 4);
    const statements = providerPolicy(template).Properties.PolicyDocument.Statement;
    expect(statements).toHaveLength(2);
    const kmsS = kmsStatement(template);
    expect([kmsS.Action].flat().sort()).toEqual(KMS_ACTIONS);
    expect(kmsS.Resource).toEqual([
      { 'Fn::GetAtt': [stack.getLogicalId(k1.node.defaultChild as kms.CfnKey), 'Arn'] },
      { 'Fn::GetAtt': [stack.getLogicalId(k2.node.defaultChild as kms.CfnKey), 'Arn'] },
      imported,
    ]);
    const cfnS = statements.find((s: any) => s !== kmsS);
    expect([cfnS.Action].flat().sort()).toEqual(['cloudformation:DescribeStacks', 'cloudformation:GetTemplate', 'cloudformation:ListStackResources']);
    expect(cfnS.Resource).toEqual({ Ref: 'AWS::StackId' });
    // Nowhere in IAM: kms:* or a "*" resource.
    for (const s of statements) {
      expect([s.Action].flat()).not.toContain('kms:*');
      expect([s.Resource].flat()).not.toContain('*');
    }
  });

  test('S5: hundreds of keys stay within IAM\'s policy size quotas: exact ARNs spread over the inline and managed policies', () => {
    const stack = newStack();
    const arns = Array.from({ length: 250 }, (_, i) =>
      `arn:aws:kms:ap-southeast-4:${ACCOUNT}:key/mrk-${i.toString(16).padStart(32, '0')}`);
    arns.forEach((arn, i) => new KeyMaterialRevocation(stack, `R${i}`, { key: kms.Key.fromKeyArn(stack, `K${i}`, arn) }));
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    const inline = Object.values(template.findResources('AWS::IAM::Policy')) as any[];
    const managed = template.findResources('AWS::IAM::ManagedPolicy') as Record<string, any>;
    expect(inline).toHaveLength(1);
    expect(Object.keys(managed)).toHaveLength(3);
    const listed = (doc: any) => doc.Statement.filter((st: any) => [st.Action].flat().includes('kms:DeleteImportedKeyMaterial'))
      .flatMap((st: any) => [st.Resource].flat());
    const all = [...listed(inline[0].Properties.PolicyDocument), ...Object.values(managed).flatMap((m) => listed(m.Properties.PolicyDocument))];
    expect(all.sort()).toEqual([...arns].sort());
    // IAM counts characters without whitespace: 10,240 for a role's inline policies, 6,144 per managed policy.
    expect(JSON.stringify(inline[0].Properties.PolicyDocument).length).toBeLessThan(10_240);
    for (const m of Object.values(managed)) expect(JSON.stringify(m.Properties.PolicyDocument).length).toBeLessThan(6_144);
    const [role] = Object.keys(template.findResources('AWS::IAM::Role'));
    for (const m of Object.values(managed)) expect(m.Properties.Roles).toEqual([{ Ref: role }]);
    // S6: every revocation depends on the policy that grants its own key.
    const resources = template.toJSON().Resources;
    for (const [id, r] of Object.entries(resources) as Array<[string, any]>) {
      if (r.Type !== 'Custom::KmsKeyMaterialRevocation') continue;
      const granting = Object.entries(managed).find(([, m]) => listed(m.Properties.PolicyDocument).includes(r.Properties.KeyArn))?.[0]
        ?? Object.keys(template.findResources('AWS::IAM::Policy'))[0];
      expect({ id, dependsOn: r.DependsOn }).toEqual({ id, dependsOn: expect.arrayContaining([granting]) });
    }
  });

  test('S5: more keys than one handler role can be granted fails synth with a way out', () => {
    const stack = newStack();
    expect(() => {
      for (let i = 0; i < 600; i++) {
        new KeyMaterialRevocation(stack, `R${i}`, {
          key: kms.Key.fromKeyArn(stack, `K${i}`, `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`),
        });
      }
    }).toThrow(/more than 580 keys.*several stacks/);
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

  /** The key-policy statements naming the handler's role, for the one key in the stack. */
  function keyStatementsForRole(stack: Stack): any[] {
    const template = Template.fromStack(stack);
    const role = Object.keys(template.findResources('AWS::IAM::Role'))[0];
    const [key] = Object.values(template.findResources('AWS::KMS::Key')) as any[];
    return key.Properties.KeyPolicy.Statement.filter((s: any) => s.Principal?.AWS?.['Fn::GetAtt']?.[0] === role);
  }

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
    expect([kmsStatement(Template.fromStack(stack)).Action].flat().sort()).toEqual(KMS_ACTIONS);
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
    expect([forRole[0].Action].flat().sort()).toEqual(KMS_ACTIONS);
    expect(forRole[0]).toMatchObject({ Effect: 'Allow', Resource: '*' });
    expect(forRole[0].Condition).toBeUndefined();
  });

  test('S6: each revocation depends on its same-stack key and on the policy that lets it revoke', () => {
    const stack = newStack();
    const key = externalKey(stack, 'K');
    new KeyMaterialRevocation(stack, 'R', { key });
    const template = Template.fromStack(stack);
    const policy = Object.keys(template.findResources('AWS::IAM::Policy'))[0];
    const [cr] = Object.values(template.findResources('Custom::KmsKeyMaterialRevocation')) as any[];
    expect(cr.DependsOn).toEqual(expect.arrayContaining([stack.getLogicalId(key.node.defaultChild as kms.CfnKey), policy]));
    expect(cr.Properties.KeyLogicalId).toBe(stack.getLogicalId(key.node.defaultChild as kms.CfnKey));
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
    Template.fromStack(stack).hasResourceProperties('Custom::KmsKeyMaterialRevocation', { KeyLogicalId: '' });
  });

  test('S7: unresolved key ARN and account synthesize with warnings that the checks move to deploy time', () => {
    const stack = newStack('Agnostic', undefined);
    const param = new CfnParameter(stack, 'KeyArn');
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', param.valueAsString) });
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning('/Agnostic/R', Match.stringLikeRegexp('account.*deploy time'));
    annotations.hasWarning('/Agnostic/R', Match.stringLikeRegexp('key ARN is only known at deploy time'));
    Template.fromStack(stack).hasResourceProperties('Custom::KmsKeyMaterialRevocation', { KeyArn: { Ref: 'KeyArn' } });
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
    Template.fromStack(stack).hasResourceProperties('Custom::KmsKeyMaterialRevocation', {
      RevokeOnStackDelete: 'true', RevokeOnKeyReplacement: 'true', RevokeOnRemoval: 'false', Revoked: 'false',
      MaterialScope: 'ALL', ContractVersion: '1', ServiceTimeout: '300',
    });
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
