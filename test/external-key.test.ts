/**
 * ExternalKey, the expiry metric and alarm, and the guard rails (issue 11, points 1, 3 and 4),
 * with the LIFECYCLE rows they keep true (S3, S6, S9).
 */
import { App, Aspects, CfnResource, Duration, NestedStack, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  ExternalKey, ExternalKeyGuard, KeyMaterialExpiration, KeyMaterialRevocation, KeyMaterialScope, MissingRevocationAction,
} from '../lib/index';
import { acknowledgedRules, hasValidations } from './support/acknowledged-rules';

const ENV = { account: '111111111111', region: 'eu-west-1' };
const IMPORTED = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const REVOCATION = 'Custom::KmsKeyMaterialRevocation';

const newStack = (app = new App(), id = 'Stack') => new Stack(app, id, { env: ENV });
const keysOf = (t: Template) => Object.entries(t.findResources('AWS::KMS::Key'));
/** The template's keys by construct ID (the logical ID without its hash). */
const keysById = (t: Template) => Object.fromEntries(keysOf(t).map(([id, r]) => [id.replace(/[0-9A-F]{8}$/, ''), r]));
const onlyKey = (t: Template) => { const keys = keysOf(t); expect(keys).toHaveLength(1); return keys[0]; };
const revocationsOf = (t: Template) => Object.entries(t.findResources(REVOCATION));
const errorsOf = (stack: Stack) => Annotations.fromStack(stack).findError('*', Match.anyValue()).map((m) => String(m.entry.data));
const warningsOf = (stack: Stack) => Annotations.fromStack(stack).findWarning('*', Match.anyValue()).map((m) => String(m.entry.data));

describe('issue 11 point 1: ExternalKey', () => {
  test('creates the key with Origin EXTERNAL through the L1 property, automatic rotation off', () => {
    const stack = newStack();
    const key = new ExternalKey(stack, 'Key');
    expect((key.node.defaultChild as kms.CfnKey).origin).toBe('EXTERNAL');
    const [, resource] = onlyKey(Template.fromStack(stack));
    expect(resource.Properties.Origin).toBe('EXTERNAL');
    expect(resource.Properties.EnableKeyRotation).toBe(false);
    expect(resource.Properties.KeySpec).toBe('SYMMETRIC_DEFAULT');
    expect(resource.Properties.KeyUsage).toBe('ENCRYPT_DECRYPT');
  });

  test('is a kms.IKey wherever a kms.Key is accepted: grants, addAlias, addToResourcePolicy, an S3 bucket', () => {
    const stack = newStack();
    const key = new ExternalKey(stack, 'Key');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    key.grantEncryptDecrypt(role);
    key.grant(role, 'kms:ImportKeyMaterial', 'kms:GetParametersForImport');
    key.addAlias('alias/byok');
    expect(key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountPrincipal('222222222222')], actions: ['kms:Decrypt'], resources: ['*'],
    })).statementAdded).toBe(true);
    const asKey: kms.IKey = key;
    new s3.Bucket(stack, 'Bucket', { encryptionKey: asKey });
    const template = Template.fromStack(stack);
    const [keyId, resource] = onlyKey(template);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/byok', TargetKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Action: ['kms:ImportKeyMaterial', 'kms:GetParametersForImport'], Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
      })]) },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({
        ServerSideEncryptionByDefault: { KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] }, SSEAlgorithm: 'aws:kms' },
      })] },
    });
    expect(JSON.stringify(resource.Properties.KeyPolicy)).toContain('222222222222');
  });

  test('keeps the logical ID a kms.Key of the same ID has: moving to ExternalKey does not replace the key', () => {
    const before = newStack();
    new kms.Key(before, 'ByokKey');
    const after = newStack();
    new ExternalKey(after, 'ByokKey');
    expect(onlyKey(Template.fromStack(after))[0]).toBe(onlyKey(Template.fromStack(before))[0]);
  });

  test('asking for rotation is a synth error naming on-demand rotation: the prop', () => {
    expect(() => new ExternalKey(newStack(), 'Key', { enableKeyRotation: true }))
      .toThrow(/cannot rotate automatically.*NEW_KEY_MATERIAL.*rotate-key-on-demand/);
    expect(() => new ExternalKey(newStack(), 'Key', { enableKeyRotation: false })).not.toThrow();
  });

  test.each([
    ['the L1 property', (c: kms.CfnKey) => { c.enableKeyRotation = true; }],
    ['an override', (c: kms.CfnKey) => c.addPropertyOverride('EnableKeyRotation', true)],
  ])('asking for rotation is a synth error naming on-demand rotation: %s (with and without the revocation)', (_, turnOn) => {
    for (const withRevocation of [true, false]) {
      const stack = newStack();
      const key = new ExternalKey(stack, 'Key', { withRevocation });
      turnOn(key.node.defaultChild as kms.CfnKey);
      expect(() => Template.fromStack(stack)).toThrow(/Stack\/Key\/Resource has Origin EXTERNAL and EnableKeyRotation true.*rotate-key-on-demand/);
    }
  });

  const ALLOWED: Array<[kms.KeySpec, kms.KeyUsage[], kms.KeyUsage]> = [
    [kms.KeySpec.SYMMETRIC_DEFAULT, [kms.KeyUsage.ENCRYPT_DECRYPT], kms.KeyUsage.ENCRYPT_DECRYPT],
    [kms.KeySpec.RSA_2048, [kms.KeyUsage.ENCRYPT_DECRYPT, kms.KeyUsage.SIGN_VERIFY], kms.KeyUsage.ENCRYPT_DECRYPT],
    [kms.KeySpec.RSA_3072, [kms.KeyUsage.ENCRYPT_DECRYPT, kms.KeyUsage.SIGN_VERIFY], kms.KeyUsage.ENCRYPT_DECRYPT],
    [kms.KeySpec.RSA_4096, [kms.KeyUsage.ENCRYPT_DECRYPT, kms.KeyUsage.SIGN_VERIFY], kms.KeyUsage.ENCRYPT_DECRYPT],
    [kms.KeySpec.ECC_NIST_P256, [kms.KeyUsage.SIGN_VERIFY, kms.KeyUsage.KEY_AGREEMENT], kms.KeyUsage.SIGN_VERIFY],
    [kms.KeySpec.ECC_NIST_P384, [kms.KeyUsage.SIGN_VERIFY, kms.KeyUsage.KEY_AGREEMENT], kms.KeyUsage.SIGN_VERIFY],
    [kms.KeySpec.ECC_NIST_P521, [kms.KeyUsage.SIGN_VERIFY, kms.KeyUsage.KEY_AGREEMENT], kms.KeyUsage.SIGN_VERIFY],
    [kms.KeySpec.ECC_SECG_P256K1, [kms.KeyUsage.SIGN_VERIFY], kms.KeyUsage.SIGN_VERIFY],
    [kms.KeySpec.HMAC_224, [kms.KeyUsage.GENERATE_VERIFY_MAC], kms.KeyUsage.GENERATE_VERIFY_MAC],
    [kms.KeySpec.HMAC_256, [kms.KeyUsage.GENERATE_VERIFY_MAC], kms.KeyUsage.GENERATE_VERIFY_MAC],
    [kms.KeySpec.HMAC_384, [kms.KeyUsage.GENERATE_VERIFY_MAC], kms.KeyUsage.GENERATE_VERIFY_MAC],
    [kms.KeySpec.HMAC_512, [kms.KeyUsage.GENERATE_VERIFY_MAC], kms.KeyUsage.GENERATE_VERIFY_MAC],
  ];

  test.each(ALLOWED)('accepts %s with the usages KMS allows for imported material (%j), defaulting to %s', (keySpec, usages, byDefault) => {
    for (const keyUsage of [...usages, undefined]) {
      const stack = newStack();
      new ExternalKey(stack, 'Key', { keySpec, keyUsage });
      const [, resource] = onlyKey(Template.fromStack(stack));
      expect(resource.Properties).toMatchObject({ KeySpec: keySpec, KeyUsage: keyUsage ?? byDefault, Origin: 'EXTERNAL' });
    }
    const refused = Object.values(kms.KeyUsage).filter((u) => !usages.includes(u));
    for (const keyUsage of refused) {
      expect(() => new ExternalKey(newStack(), 'Key', { keySpec, keyUsage }))
        .toThrow(`keyUsage ${keyUsage} is not allowed for keySpec ${keySpec} with imported key material; use ${usages.join(' or ')}`);
    }
  });

  test('refuses every other key spec, naming the allowed ones; SM2 with the China Regions\' reason', () => {
    const allowed = ALLOWED.map(([spec]) => spec);
    const others = Object.values(kms.KeySpec).filter((s) => !allowed.includes(s) && s !== kms.KeySpec.SYMMETRIC_DEFAULT);
    // ML-DSA and Ed25519 specs exist only in newer aws-cdk-lib versions than the floor.
    expect(others).toEqual(expect.arrayContaining([kms.KeySpec.SM2, ...((kms.KeySpec as Record<string, string>).ML_DSA_44 ? [kms.KeySpec.ML_DSA_44] : [])]));
    for (const keySpec of others) {
      expect(() => new ExternalKey(newStack(), 'Key', { keySpec })).toThrow(
        new RegExp(`keySpec ${keySpec} cannot hold imported key material.*; use one of ${allowed.join(', ')}$`));
    }
    expect(() => new ExternalKey(newStack(), 'Key', { keySpec: kms.KeySpec.SM2 })).toThrow(/China Regions, where KMS imports symmetric/);
  });

  test('multiRegion makes a multi-Region primary key', () => {
    const stack = newStack();
    new ExternalKey(stack, 'Key', { multiRegion: true });
    expect(onlyKey(Template.fromStack(stack))[1].Properties.MultiRegion).toBe(true);
    const single = newStack();
    new ExternalKey(single, 'Key');
    expect(onlyKey(Template.fromStack(single))[1].Properties.MultiRegion).toBeUndefined();
  });

  test('acknowledges cdk-nag\'s KMS5 with a reason for v2 (cdk_nag metadata, with a pack applied) and v3 (Validations)', () => {
    const app = new App();
    const stack = newStack(app);
    const key = new ExternalKey(stack, 'Key');
    // The cdk_nag metadata stays only where a cdk-nag v2 pack is applied (test/nag.test.ts has the rest).
    Aspects.of(app).add(new AwsSolutionsChecks({ reports: false }));
    const [, resource] = onlyKey(Template.fromStack(stack));
    expect(resource.Metadata.cdk_nag.rules_to_suppress).toEqual([
      { id: 'AwsSolutions-KMS5', reason: expect.stringMatching(/cannot rotate automatically; rotate on demand with new material/) },
    ]);
    // v3 reads Validations' acknowledgements, which aws-cdk-lib versions before 2.257-ish do not have.
    if (!hasValidations) return;
    expect(acknowledgedRules(key.node.defaultChild as kms.CfnKey))
      .toEqual([[expect.stringMatching(/^annotation::AwsSolutions-KMS5$/i), expect.stringMatching(/imported key material/i)]]);
  });

  test('carries its revocation: revoke on stack deletion by default, after the key (S6), reachable as `revocation`', () => {
    const stack = newStack();
    const key = new ExternalKey(stack, 'Key');
    expect(key.revocation).toBeInstanceOf(KeyMaterialRevocation);
    expect(key.revocation!.node.path).toBe('Stack/Key/Revocation');
    const template = Template.fromStack(stack);
    const [keyId] = onlyKey(template);
    const [[, revocation]] = revocationsOf(template);
    // The defaults (revoke on stack deletion and key replacement, not on removal, scope ALL) are
    // left out of the template (contract version 2); KeyArn by Fn::GetAtt orders it after the key (S6).
    expect(revocation.Properties).toEqual({
      ServiceToken: expect.anything(), ServiceTimeout: '300', KeyArn: { 'Fn::GetAtt': [keyId, 'Arn'] }, KeyLogicalId: keyId, ContractVersion: '2',
    });
    expect(revocation.DeletionPolicy ?? 'Delete').toBe('Delete');
  });

  test('takes the KeyMaterialRevocation options', () => {
    const stack = newStack();
    new ExternalKey(stack, 'Key', { revocation: { materialScope: KeyMaterialScope.CURRENT, revokeOnStackDelete: false, revokeOnRemoval: true } });
    const [[, revocation]] = revocationsOf(Template.fromStack(stack));
    expect(revocation.Properties).toMatchObject({ MaterialScope: 'CURRENT', RevokeOnStackDelete: 'false', RevokeOnRemoval: 'true' });
  });

  test('the key policy needs no statement for the handler: kms.Key\'s default policy lets IAM grant it (S5)', () => {
    const stack = newStack();
    new ExternalKey(stack, 'Key');
    const template = Template.fromStack(stack);
    const [, resource] = onlyKey(template);
    expect(resource.Properties.KeyPolicy.Statement).toHaveLength(1);
    const [keyId] = onlyKey(template);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } })] },
    });
  });

  test('opts out with withRevocation: false; revocation options then are an error', () => {
    const stack = newStack();
    const key = new ExternalKey(stack, 'Key', { withRevocation: false });
    expect(key.revocation).toBeUndefined();
    expect(revocationsOf(Template.fromStack(stack))).toEqual([]);
    expect(() => new ExternalKey(newStack(), 'Key', { withRevocation: false, revocation: { revoked: true } }))
      .toThrow(/withRevocation is false/);
  });

  test('S9: another KeyMaterialRevocation of the same key is a synth error naming both', () => {
    const stack = newStack();
    const key = new ExternalKey(stack, 'Key');
    new KeyMaterialRevocation(stack, 'Second', { key });
    expect(() => Template.fromStack(stack)).toThrow(/Stack\/Key\/Revocation and Stack\/Second/);
  });

  test('removal: scheduled for deletion by default (30-day window unless told), after the revocation; RETAIN keeps it', () => {
    const stack = newStack();
    new ExternalKey(stack, 'Destroyed');
    new ExternalKey(stack, 'Explicit', { removalPolicy: RemovalPolicy.DESTROY });
    new ExternalKey(stack, 'Short', { pendingWindow: Duration.days(7) });
    new ExternalKey(stack, 'Kept', { removalPolicy: RemovalPolicy.RETAIN });
    const keys = keysById(Template.fromStack(stack));
    // Delete is CloudFormation's default for both: written nowhere, as kms.Key's DESTROY means it.
    expect(keys.Destroyed.DeletionPolicy).toBeUndefined();
    expect(keys.Destroyed.UpdateReplacePolicy).toBeUndefined();
    expect(keys.Explicit).toEqual(keys.Destroyed);
    expect(keys.Destroyed.Properties.PendingWindowInDays).toBeUndefined(); // KMS's default: 30 days
    expect(keys.Short.Properties.PendingWindowInDays).toBe(7);
    expect(keys.Kept).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('removal: a retention set after the constructor (applyRemovalPolicy, an aspect, an override) is written as it is', () => {
    const stack = newStack();
    new ExternalKey(stack, 'Plain');
    new ExternalKey(stack, 'Later').applyRemovalPolicy(RemovalPolicy.RETAIN);
    const byAspect = new ExternalKey(stack, 'ByAspect');
    Aspects.of(byAspect).add({ visit: (node) => { if (node instanceof kms.CfnKey) node.applyRemovalPolicy(RemovalPolicy.RETAIN); } });
    const overridden = new ExternalKey(stack, 'Overridden');
    (overridden.node.defaultChild as CfnResource).addOverride('DeletionPolicy', 'RetainExceptOnCreate');
    const keys = keysById(Template.fromStack(stack));
    expect(keys.Plain.DeletionPolicy).toBeUndefined();
    expect(keys.Later).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(keys.ByAspect).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(keys.Overridden.DeletionPolicy).toBe('RetainExceptOnCreate');
    expect(keys.Overridden.UpdateReplacePolicy).toBeUndefined();
  });
});

describe('issue 11 point 3: expiry', () => {
  test('metricSecondsUntilKeyMaterialExpiration: AWS/KMS, dimension KeyId (the key ID), Minimum over 5 minutes', () => {
    const stack = newStack();
    const key = new ExternalKey(stack, 'Key');
    const metric = key.metricSecondsUntilKeyMaterialExpiration();
    expect(metric.namespace).toBe('AWS/KMS');
    expect(metric.metricName).toBe('SecondsUntilKeyMaterialExpiration');
    expect(metric.statistic).toBe('Minimum');
    expect(metric.period.toSeconds()).toBe(300);
    expect(stack.resolve(metric.dimensions)).toEqual({ KeyId: { Ref: onlyKey(Template.fromStack(stack))[0] } });
    expect(key.metricSecondsUntilKeyMaterialExpiration({ period: Duration.hours(1), statistic: 'Average' }))
      .toMatchObject({ statistic: 'Average' });
  });

  test('the same metric for any IKey, such as a key imported by ARN', () => {
    const stack = newStack();
    const metric = KeyMaterialExpiration.metricSecondsUntilKeyMaterialExpiration(kms.Key.fromKeyArn(stack, 'K', IMPORTED));
    expect(metric.dimensions).toEqual({ KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab' });
  });

  test('addExpiryAlarm warns the chosen time before expiry: threshold in seconds, LessThanThreshold, missing data ignored', () => {
    const stack = newStack();
    const key = new ExternalKey(stack, 'Key');
    const alarm = key.addExpiryAlarm('Expiry', { before: Duration.days(30) });
    expect(alarm).toBeInstanceOf(cloudwatch.Alarm);
    KeyMaterialExpiration.addExpiryAlarm(stack, 'Imported', kms.Key.fromKeyArn(stack, 'K', IMPORTED), {
      before: Duration.days(7), treatMissingData: cloudwatch.TreatMissingData.BREACHING, alarmName: 'byok-expiry',
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/KMS', MetricName: 'SecondsUntilKeyMaterialExpiration', Statistic: 'Minimum', Period: 300,
      Dimensions: [{ Name: 'KeyId', Value: { Ref: onlyKey(template)[0] } }],
      Threshold: 30 * 24 * 3600, ComparisonOperator: 'LessThanThreshold', EvaluationPeriods: 1, TreatMissingData: 'ignore',
      AlarmDescription: Match.stringLikeRegexp('expires in less than 30 days: re-import'),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'KeyId', Value: '1234abcd-12ab-34cd-56ef-1234567890ab' }],
      Threshold: 7 * 24 * 3600, TreatMissingData: 'breaching', AlarmName: 'byok-expiry',
    });
    expect(() => key.addExpiryAlarm('Zero', { before: Duration.seconds(0) })).toThrow(/before must be a positive duration/);
  });
});

describe('issue 11 point 4: guard rails (ExternalKeyGuard)', () => {
  /** A stack with EXTERNAL keys made every way, none managed; and an AWS_KMS key. */
  function unmanaged(app: App): Stack {
    const stack = newStack(app);
    new kms.CfnKey(stack, 'ByProperty', { origin: 'EXTERNAL' });
    const overridden = new kms.Key(stack, 'ByOverride');
    (overridden.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
    new ExternalKey(stack, 'OptedOut', { withRevocation: false });
    new kms.Key(stack, 'AwsKms');
    return stack;
  }
  const flagged = ['Stack/ByProperty', 'Stack/ByOverride/Resource', 'Stack/OptedOut/Resource'];

  test('reports every EXTERNAL key without a revocation as an error by default, however Origin is set', () => {
    const app = new App();
    const stack = unmanaged(app);
    ExternalKeyGuard.apply(app);
    const errors = errorsOf(stack);
    expect(errors).toHaveLength(3);
    flagged.forEach((path, i) => expect(errors[i]).toMatch(new RegExp(`^key ${path} has Origin EXTERNAL but no KeyMaterialRevocation manages it`)));
    expect(warningsOf(stack).filter((w) => w.includes('KeyMaterialRevocation manages'))).toEqual([]);
  });

  test('warns instead when told to', () => {
    const app = new App();
    const stack = unmanaged(app);
    ExternalKeyGuard.apply(app, { onMissingRevocation: MissingRevocationAction.WARN });
    expect(errorsOf(stack)).toEqual([]);
    expect(warningsOf(stack).filter((w) => w.includes('no KeyMaterialRevocation manages it'))).toHaveLength(3);
  });

  test('adds a default revocation when told to, with the options given, granted like any other (S5, S6)', () => {
    const app = new App();
    const stack = unmanaged(app);
    new KeyMaterialRevocation(stack, 'Existing', { key: kms.Key.fromKeyArn(stack, 'Imported', IMPORTED) });
    ExternalKeyGuard.apply(app, { onMissingRevocation: MissingRevocationAction.ADD_REVOCATION, revocation: { materialScope: KeyMaterialScope.CURRENT } });
    const template = Template.fromStack(stack);
    expect(errorsOf(stack)).toEqual([]);
    const added = revocationsOf(template).filter(([, r]) => r.Properties.MaterialScope === 'CURRENT');
    expect(added).toHaveLength(3);
    const granted = JSON.stringify(template.findResources('AWS::IAM::ManagedPolicy'));
    for (const [, r] of added) {
      expect(r.Properties.KeyArn).toEqual({ 'Fn::GetAtt': [r.Properties.KeyLogicalId, 'Arn'] });
      expect(granted).toContain(JSON.stringify(r.Properties.KeyArn));
    }
    expect(stack.node.tryFindChild('ByOverride')!.node.tryFindChild('KeyMaterialRevocation')).toBeInstanceOf(KeyMaterialRevocation);
    expect(stack.node.tryFindChild('ByPropertyKeyMaterialRevocation')).toBeInstanceOf(KeyMaterialRevocation);
  });

  test('a key managed by a KeyMaterialRevocation (in its stack or another) or an ExternalKey passes; AWS_KMS keys are ignored', () => {
    const app = new App();
    const stack = newStack(app);
    const key = new kms.Key(stack, 'Managed');
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
    new KeyMaterialRevocation(stack, 'Revocation', { key });
    const elsewhere = new kms.CfnKey(stack, 'Elsewhere', { origin: 'EXTERNAL' });
    const other = newStack(app, 'Other');
    new KeyMaterialRevocation(other, 'Revocation', { key: kms.Key.fromKeyArn(other, 'K', elsewhere.attrArn) });
    new ExternalKey(new NestedStack(stack, 'Nested'), 'Byok');
    new kms.Key(stack, 'AwsKms');
    ExternalKeyGuard.apply(app);
    app.synth();
    expect(errorsOf(stack)).toEqual([]);
  });

  test('rotation on an EXTERNAL key is a synth error whether or not a revocation manages it, and in every mode', () => {
    for (const mode of [MissingRevocationAction.ERROR, MissingRevocationAction.WARN]) {
      const app = new App();
      const stack = newStack(app);
      new kms.CfnKey(stack, 'Rotating', { origin: 'EXTERNAL', enableKeyRotation: true });
      ExternalKeyGuard.apply(app, { onMissingRevocation: mode });
      expect(errorsOf(stack)).toEqual(expect.arrayContaining([
        expect.stringMatching(/^key Stack\/Rotating has Origin EXTERNAL and EnableKeyRotation true.*rotate-key-on-demand/),
      ]));
    }
    const stack = newStack();
    const key = new kms.Key(stack, 'Managed', { enableKeyRotation: true });
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
    new KeyMaterialRevocation(stack, 'Revocation', { key });
    expect(() => Template.fromStack(stack)).toThrow(/Stack\/Managed\/Resource has Origin EXTERNAL and EnableKeyRotation true/);
    // Automatic rotation on a key with KMS material is what KMS5 asks for: no error.
    const plain = newStack();
    new kms.Key(plain, 'Plain', { enableKeyRotation: true });
    Aspects.of(plain).add(new ExternalKeyGuard());
    expect(errorsOf(plain)).toEqual([]);
  });

  test('revocation options without ADD_REVOCATION are an error', () => {
    expect(() => new ExternalKeyGuard({ revocation: { revoked: true } })).toThrow(/only with onMissingRevocation ADD_REVOCATION/);
  });
});
