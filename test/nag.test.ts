/**
 * cdk-nag's AwsSolutions pack on the example stack, on ExternalKey and on a bare revocation: no
 * unacknowledged finding, and every acknowledgement carries its reason. cdk-nag v2 (the Aspect,
 * `cdk_nag` metadata) and v3 (issue 11, point 8: a policy validation plugin reading
 * `Validations.acknowledge`).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import { App, Aspects, CfnResource, NestedStack, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks, NagReportFormat, NagSuppressions } from 'cdk-nag';
import { AwsSolutionsChecks as AwsSolutionsChecksV3 } from 'cdk-nag-v3';
import { Construct } from 'constructs';
import { ExampleStack } from '../example/stack';
import { ExternalKey, KeyMaterialRevocation } from '../lib/index';
import { acknowledgedRules, hasValidations } from './support/acknowledged-rules';

const ENV = { account: '111111111111', region: 'eu-west-1' };
const IMPORTED = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER_IMPORTED = 'arn:aws:kms:eu-west-1:111111111111:key/2234abcd-12ab-34cd-56ef-1234567890ab';

interface NagLine { ruleId: string; resourceId: string; compliance: string; exceptionReason: string }

/**
 * Runs AwsSolutions on one stack; returns its unacknowledged findings (nested stacks' included)
 * and its report lines (those of `reportOf`, the stack itself by default).
 */
function nag(build: (app: App) => Stack, reportOf: (stack: Stack) => Stack = (s) => s): { findings: string[]; report: NagLine[] } {
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'nag-')) });
  const stack = build(app);
  Aspects.of(app).add(new AwsSolutionsChecks({ reports: true, reportFormats: [NagReportFormat.JSON] }));
  app.synth();
  const annotations = Annotations.fromStack(stack);
  const findings = [...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-')),
    ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-'))].map((m) => `${m.id}: ${String(m.entry.data).slice(0, 120)}`);
  const reported = reportOf(stack);
  const file = fs.readdirSync(app.outdir).find((f) => f.startsWith('AwsSolutions-') && f.endsWith(`-${reported.artifactId}-NagReport.json`));
  if (!file) throw new Error(`cdk-nag wrote no JSON report in ${app.outdir}`);
  const report = JSON.parse(fs.readFileSync(path.join(app.outdir, file), 'utf8')).lines;
  return { findings, report };
}

/** Acknowledged findings, one per rule and resource (the report may repeat a line). */
const acknowledged = (report: NagLine[]) => [...new Map(report.filter((l) => l.compliance === 'Suppressed')
  .map((l) => [`${l.ruleId} ${l.resourceId}`, l])).values()];

/** The provider's inline policy (CloudFormation reads and logs), where the library acknowledges IAM5. */
const readsPolicyOf = (stack: Stack) => stack.node.findAll().find((c) => (c as any).cfnResourceType === 'AWS::IAM::Policy') as any;

test('the example stack (ExternalKey, issue 11 point 1) passes AwsSolutions with every finding acknowledged, each with a reason', () => {
  const { findings, report } = nag((app) => new ExampleStack(app, 'Example', { env: ENV }));
  expect(findings).toEqual([]);
  // KMS5 on the key (imported material cannot rotate automatically), acknowledged by ExternalKey;
  // IAM5 for the handler's listing of the stack's nested stacks (the stack-name pattern), by the library.
  expect(acknowledged(report).map((l) => l.ruleId).sort()).toEqual(['AwsSolutions-IAM5', 'AwsSolutions-KMS5']);
  for (const line of acknowledged(report)) expect(line.exceptionReason.length).toBeGreaterThan(40);
});

test('issue 11 point 1: every key spec ExternalKey accepts passes AwsSolutions (v2) without acknowledgements from the user', () => {
  const { findings } = nag((app) => {
    const stack = new Stack(app, 'Specs', { env: ENV });
    new ExternalKey(stack, 'Symmetric');
    new ExternalKey(stack, 'Rsa', { keySpec: kms.KeySpec.RSA_4096, keyUsage: kms.KeyUsage.SIGN_VERIFY });
    new ExternalKey(stack, 'Hmac', { keySpec: kms.KeySpec.HMAC_256 });
    return stack;
  });
  expect(findings).toEqual([]);
});

/**
 * cdk-nag v3's AwsSolutions on the app: its violations as "rule path" lines. Through the policy
 * validation plugin where aws-cdk-lib hands plugins the construct tree (`appConstruct`, newer than
 * the dev version 2.257.0), otherwise through `validateScope` after synthesis, which reads the
 * same acknowledgements.
 */
function nagV3(build: (app: App) => void): string[] {
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'nag3-')) });
  build(app);
  const pack = new AwsSolutionsChecksV3(app);
  cdk.Validations.of(app).addPlugins(pack);
  // aws-cdk-lib sets process.exitCode when a validation plugin reports a failure (on 2.257.0 also
  // the plugin's own "no construct tree" error): that would make jest exit 1 with every test passed.
  const exitCode = process.exitCode;
  try {
    app.synth();
  } catch (e) {
    // Newer aws-cdk-lib versions fail synth on a violation, and write validation-report.json.
    if (!fs.existsSync(path.join(app.outdir, 'validation-report.json'))) throw e;
  } finally {
    process.exitCode = exitCode;
  }
  const file = ['policy-validation-report.json', 'validation-report.json'].map((f) => path.join(app.outdir, f)).find((f) => fs.existsSync(f));
  if (file === undefined) return []; // a successful validation writes no report
  const [plugin] = JSON.parse(fs.readFileSync(file, 'utf8')).pluginReports;
  if (plugin === undefined) return [];
  if (String(plugin.summary?.metadata?.error ?? '').includes('appConstruct')) {
    // aws-cdk-lib 2.257.0 does not hand plugins the construct tree yet.
    const report = pack.validateScope(app);
    return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`));
  }
  return (plugin.violations as Array<{ ruleName: string; violatingConstructs?: Array<{ constructPath?: string }> }>)
    .flatMap((v) => (v.violatingConstructs ?? []).map((c) => `${v.ruleName} ${String(c.constructPath).replace(/^\//, '')}`));
}

const v3 = hasValidations ? describe : describe.skip;

v3('issue 11 point 8: cdk-nag v3', () => {
  test('the example stack passes AwsSolutions: ExternalKey acknowledges KMS5 through Validations', () => {
    expect(nagV3((app) => new ExampleStack(app, 'Example', { env: ENV }))).toEqual([]);
  });

  test('ExternalKey of every family and a revocation of a key imported by ARN pass', () => {
    expect(nagV3((app) => {
      const stack = new Stack(app, 'Bare', { env: ENV });
      new ExternalKey(stack, 'Symmetric');
      new ExternalKey(stack, 'Ecc', { keySpec: kms.KeySpec.ECC_NIST_P256 });
      new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', IMPORTED) });
    })).toEqual([]);
  });

  test('the library\'s IAM5 acknowledgement in a nested stack reaches v3 too (finding IDs contain \'::\')', () => {
    expect(nagV3((app) => {
      const nested = new NestedStack(new Stack(app, 'Root', { env: ENV }), 'Inner');
      new KeyMaterialRevocation(nested, 'R', { key: kms.Key.fromKeyArn(nested, 'K', IMPORTED) });
    })).toEqual([]);
  });

  test('the check is real: a symmetric AWS_KMS key without rotation, and the EXTERNAL key of the old README, are reported', () => {
    const violations = nagV3((app) => {
      const stack = new Stack(app, 'Old', { env: ENV });
      const key = new kms.Key(stack, 'ByokKey', { enableKeyRotation: false });
      (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
      // The old README's v2-only suppression, which v3 ignores (issue 11).
      (key.node.defaultChild as kms.CfnKey).addMetadata('cdk_nag', { rules_to_suppress: [{ id: 'AwsSolutions-KMS5', reason: 'imported material' }] });
      new KeyMaterialRevocation(stack, 'Revocation', { key });
    });
    expect(violations).toEqual(['AwsSolutions-KMS5 Old/ByokKey/Resource']);
  });
});

test('S5: a revocation of a key imported by ARN needs no acknowledgement from the user; no AWS managed policy (IAM4) is left', () => {
  const { findings, report } = nag((app) => {
    const stack = new Stack(app, 'Bare', { env: ENV });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', IMPORTED) });
    return stack;
  });
  expect(findings).toEqual([]);
  // Exact ARNs everywhere, the log group's own ARN for the logs; the one pattern, the listing of
  // the stack's nested stacks by name, acknowledged by the library.
  expect(acknowledged(report).map((l) => `${l.ruleId} ${l.resourceId}`)).toEqual([expect.stringMatching(/^AwsSolutions-IAM5 .*KmsKeyMaterialRevocationProvider\/Policy/)]);
  expect(report.filter((l) => l.ruleId === 'AwsSolutions-IAM4' && l.compliance !== 'Compliant' && l.compliance !== 'N/A')).toEqual([]);
});

test('S11: a revocation two nested stacks down passes too: the tree\'s stack-name pattern is acknowledged', () => {
  let deep: Stack | undefined;
  const { findings, report } = nag((app) => {
    const root = new Stack(app, 'Root', { env: ENV });
    deep = new NestedStack(new NestedStack(root, 'Middle'), 'Deep');
    new KeyMaterialRevocation(deep, 'R', { key: kms.Key.fromKeyArn(deep, 'K', IMPORTED) });
    return root;
  }, () => deep!);
  expect(findings).toEqual([]);
  const iam5 = acknowledged(report).filter((l) => l.ruleId === 'AwsSolutions-IAM5');
  expect(iam5).toHaveLength(1);
  const [policy] = Object.values(Template.fromStack(deep!).findResources('AWS::IAM::Policy')) as any[];
  expect(policy.Metadata.cdk_nag.rules_to_suppress.map((r: any) => r.applies_to[0])).toEqual([
    'Resource::arn:<AWS::Partition>:cloudformation:eu-west-1:111111111111:stack/Root-*/*',
  ]);
});

test('S11: a root holding a nested stack passes too: its handler\'s listing of the tree is acknowledged on the root\'s policy', () => {
  let root: Stack | undefined;
  const { findings, report } = nag((app) => {
    root = new Stack(app, 'Holder', { env: ENV });
    new KeyMaterialRevocation(root, 'R', { key: kms.Key.fromKeyArn(root, 'K', IMPORTED) });
    new KeyMaterialRevocation(new NestedStack(root, 'Inner'), 'R', { key: kms.Key.fromKeyArn(root, 'Other', OTHER_IMPORTED) });
    return root;
  }, () => root!);
  expect(findings).toEqual([]);
  expect(acknowledged(report).filter((l) => l.ruleId === 'AwsSolutions-IAM5')).toHaveLength(1);
  const [policy] = Object.values(Template.fromStack(root!).findResources('AWS::IAM::Policy')) as any[];
  expect(policy.Metadata.cdk_nag.rules_to_suppress.map((r: any) => r.applies_to[0])).toEqual([
    'Resource::arn:<AWS::Partition>:cloudformation:eu-west-1:111111111111:stack/Holder-*/*',
  ]);
});

test('without the library\'s acknowledgement the wildcard finding would show: the check is real', () => {
  let nested: Stack | undefined;
  const { findings } = nag((app) => {
    const root = new Stack(app, 'Stripped', { env: ENV });
    nested = new NestedStack(root, 'Inner');
    new KeyMaterialRevocation(nested, 'R', { key: kms.Key.fromKeyArn(nested, 'K', IMPORTED) });
    const policy = readsPolicyOf(nested);
    // Drop the acknowledgement to prove the pack does flag what the library acknowledges.
    const entries = policy.node.metadata as Array<{ type: string }>;
    entries.splice(0, entries.length, ...entries.filter((m) => m.type !== 'cdk_nag'));
    delete policy.cfnOptions.metadata?.cdk_nag;
    return root;
  }, () => nested!);
  expect(findings.some((f) => f.includes('AwsSolutions-IAM5'))).toBe(true);
});

test('the library\'s acknowledgement carries the exact finding and its reason in the cdk_nag metadata (a v2 pack applied)', () => {
  const app = new App();
  Aspects.of(app).add(new AwsSolutionsChecks({ reports: false }));
  const stack = new Stack(app, 'Meta', { env: ENV });
  new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', IMPORTED) });
  const [flatPolicy] = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')) as any[];
  // A flat stack lists the stacks named like its nested stacks: the one acknowledgement.
  expect(flatPolicy.Metadata.cdk_nag.rules_to_suppress.map((r: any) => r.applies_to[0])).toEqual([
    'Resource::arn:<AWS::Partition>:cloudformation:eu-west-1:111111111111:stack/Meta-*/*',
  ]);
  const otherApp = new App();
  Aspects.of(otherApp).add(new AwsSolutionsChecks({ reports: false }));
  const nested = new NestedStack(new Stack(otherApp, 'Meta2', { env: ENV }), 'Inner');
  new KeyMaterialRevocation(nested, 'R', { key: kms.Key.fromKeyArn(nested, 'K', IMPORTED) });
  const [policy] = Object.values(Template.fromStack(nested).findResources('AWS::IAM::Policy')) as any[];
  expect(policy.Metadata.cdk_nag.rules_to_suppress).toEqual([{
    id: 'AwsSolutions-IAM5',
    applies_to: ['Resource::arn:<AWS::Partition>:cloudformation:eu-west-1:111111111111:stack/Meta2-*/*'],
    reason: expect.stringContaining('nested'),
  }]);
  const [role] = Object.values(Template.fromStack(nested).findResources('AWS::IAM::Role')) as any[];
  expect(role.Metadata).toBeUndefined();
});

test('issue 11: a handler in a VPC passes AwsSolutions too: its network permissions are acknowledged with their reason', () => {
  const { findings, report } = nag((app) => {
    const stack = new Stack(app, 'InVpc', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    new KeyMaterialRevocation(stack, 'R', { key: kms.Key.fromKeyArn(stack, 'K', IMPORTED), vpc });
    return stack;
  });
  // The user's VPC itself (flow logs) is the user's to judge; the construct adds no finding of its own.
  expect(findings.filter((f) => !/AwsSolutions-VPC7/.test(f))).toEqual([]);
  expect(acknowledged(report).filter((l) => l.ruleId === 'AwsSolutions-IAM5')).toHaveLength(1);
});

/**
 * The `cdk_nag` metadata (about 236 template bytes per ExternalKey) stays in the template only
 * where a cdk-nag v2 pack is applied to the resource or one of its scopes: the pack reads it while
 * it visits the resource, during aspect invocation, never from the template. The v3
 * acknowledgements (`Validations`, construct metadata) are recorded always.
 */
describe('the cdk_nag metadata is left in the template only where a cdk-nag v2 pack is applied', () => {
  /**
   * An ExternalKey and a multi-Region one, whose key policy acknowledges IAM5 (its key in every
   * Region); their revocations bring the handler, whose inline policy acknowledges IAM5 too.
   */
  const buildKeys = (scope: Construct) => {
    new ExternalKey(scope, 'Key');
    new ExternalKey(scope, 'Mrk', { multiRegion: true });
  };
  /** What carries the library's acknowledgements, by resource type: both keys, the inline policy, the multi-Region key's key policy. */
  const ACKNOWLEDGING = ['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy', 'AWS::KMS::Key', 'AWS::KMS::Key'];
  const resourcesOf = (stack: Stack) => Object.values(Template.fromStack(stack).toJSON().Resources ?? {}) as any[];
  /** The types of the resources whose template entry carries `Metadata.cdk_nag`. */
  const withNagMetadata = (stack: Stack) => resourcesOf(stack).filter((r) => r.Metadata?.cdk_nag !== undefined).map((r) => r.Type).sort();
  const unacknowledged = (stack: Stack) => [...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-')),
    ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-'))].map((m) => m.id);
  const pack = () => new AwsSolutionsChecks({ reports: false });

  // Both aspect algorithms: invokeAspects, and invokeAspectsV2 (by priority) under the flag, on versions that have it.
  test.each([false, true])('a pack added on the App after the constructs are built: every acknowledgement stays (aspectStabilization %s)', (stabilization) => {
    const app = new App({ context: { '@aws-cdk/core:aspectStabilization': stabilization } });
    const stack = new Stack(app, 'Nagged', { env: ENV });
    buildKeys(stack);
    Aspects.of(app).add(pack());
    expect(withNagMetadata(stack)).toEqual(ACKNOWLEDGING);
    expect(unacknowledged(stack)).toEqual([]);
  });

  test('a pack added only on another stack of the app: this stack\'s template carries none', () => {
    const app = new App();
    const nagged = new Stack(app, 'Nagged', { env: ENV });
    buildKeys(nagged);
    const plain = new Stack(app, 'Plain', { env: ENV });
    buildKeys(plain);
    Aspects.of(nagged).add(pack());
    expect(withNagMetadata(nagged)).toEqual(ACKNOWLEDGING);
    expect(JSON.stringify(Template.fromStack(plain).toJSON())).not.toContain('cdk_nag');
  });

  test('a pack added on a nested stack\'s parent covers the nested stack\'s resources', () => {
    const app = new App();
    const root = new Stack(app, 'Root', { env: ENV });
    const nested = new NestedStack(root, 'Inner');
    buildKeys(nested);
    Aspects.of(root).add(pack());
    expect(withNagMetadata(nested)).toEqual(ACKNOWLEDGING);
    expect(unacknowledged(root)).toEqual([]);
  });

  test('without a pack no cdk_nag metadata anywhere in the templates, while the v3 acknowledgements are recorded', () => {
    const app = new App();
    const stack = new Stack(app, 'Plain', { env: ENV });
    buildKeys(stack);
    const nested = new NestedStack(stack, 'Inner');
    buildKeys(nested);
    for (const s of [stack, nested]) {
      // The same resources as with a pack, none of them with the entry.
      expect(resourcesOf(s).filter((r) => ACKNOWLEDGING.includes(r.Type)).map((r) => r.Type).sort()).toEqual(expect.arrayContaining(ACKNOWLEDGING));
      expect(JSON.stringify(Template.fromStack(s).toJSON())).not.toContain('cdk_nag');
    }
    if (!hasValidations) return; // aws-cdk-lib versions without Validations have no v3 acknowledgements
    for (const s of [stack, nested]) {
      const cfn = (type: string) => s.node.findAll()
        .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && c.cfnResourceType === type && Stack.of(c) === s);
      for (const key of cfn('AWS::KMS::Key')) {
        expect(acknowledgedRules(key)).toEqual([[expect.stringMatching(/^annotation::AwsSolutions-KMS5$/i), expect.stringMatching(/imported key material/i)]]);
      }
      const [inlinePolicy] = cfn('AWS::IAM::Policy');
      expect(acknowledgedRules(inlinePolicy).map(([id]) => id)).toEqual([expect.stringMatching(/^annotation::AwsSolutions-IAM5\[Resource::arn:.*:stack\/Plain-\*\/\*\]$/i)]);
      const keyPolicies = cfn('AWS::IAM::ManagedPolicy').map(acknowledgedRules).filter((a) => a.length > 0);
      expect(keyPolicies.map((a) => a.map(([id]) => id))).toEqual([[expect.stringMatching(/^annotation::AwsSolutions-IAM5\[Resource::arn:.*:kms:\*:.*Mrk.*\]$/i)]]);
    }
  });

  test('acknowledging leaves the CLI\'s error file alone: no refused finding ID is handed to Validations (a later synth failure would be reported as it)', () => {
    const errorFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nag-error-file-')), 'error.txt');
    const saved = process.env.CDK_ERROR_FILE;
    process.env.CDK_ERROR_FILE = errorFile;
    try {
      const app = new App();
      const stack = new Stack(app, 'Plain', { env: ENV });
      buildKeys(stack);
      buildKeys(new NestedStack(stack, 'Inner'));
      app.synth();
      // The check is real: an error aws-cdk-lib creates does write its code there.
      expect(fs.existsSync(errorFile)).toBe(false);
      if (hasValidations) {
        expect(() => (cdk as unknown as { Validations: { of(c: Construct): { acknowledge(r: object): void } } }).Validations
          .of(stack).acknowledge({ id: 'a::b::c', reason: 'x' })).toThrow();
        expect(fs.readFileSync(errorFile, 'utf-8')).toBe('InvalidValidationId');
      }
    } finally {
      if (saved === undefined) delete process.env.CDK_ERROR_FILE;
      else process.env.CDK_ERROR_FILE = saved;
    }
  });

  test('a pack added after the app was synthesized once still finds every acknowledgement (the entry is left out of the template, never taken out of the resource)', () => {
    const app = new App();
    const stack = new Stack(app, 'Twice', { env: ENV });
    buildKeys(stack);
    expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toContain('cdk_nag');
    Aspects.of(app).add(pack());
    // Annotations.fromStack synthesizes again (force), running the new pack over the same resources.
    expect(unacknowledged(stack)).toEqual([]);
    expect(withNagMetadata(stack)).toEqual(ACKNOWLEDGING);
  });

  test('a nested stack\'s template asset is named by the hash of the template written (the entry decided when it is rendered, not after)', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nag-nested-'));
    const app = new App({ outdir });
    const root = new Stack(app, 'Root', { env: ENV });
    buildKeys(new NestedStack(root, 'Inner'));
    const assembly = app.synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, `${root.artifactId}.assets.json`), 'utf8'));
    const nested = Object.entries(manifest.files as Record<string, any>).filter(([, f]) => String(f.source.path).endsWith('.nested.template.json'));
    expect(nested).toHaveLength(1);
    const [hash, file] = nested[0];
    const written = JSON.parse(fs.readFileSync(path.join(assembly.directory, file.source.path), 'utf8'));
    expect(JSON.stringify(written)).not.toContain('cdk_nag');
    // NestedStack hashes its template (compact JSON) when it prepares it; the file is that template.
    expect(crypto.createHash('sha256').update(JSON.stringify(written)).digest('hex')).toBe(hash);
  });

  test('an entry that replaced the library\'s (the user\'s NagSuppressions) stays without a pack: not the library\'s to take out', () => {
    const stack = new Stack(new App(), 'Suppressed', { env: ENV });
    const key = new ExternalKey(stack, 'Key');
    NagSuppressions.addResourceSuppressions(key, [{ id: 'AwsSolutions-KMS2', reason: 'a reason of the user, ten characters or more' }]);
    const [resource] = Object.values(Template.fromStack(stack).findResources('AWS::KMS::Key')) as any[];
    expect(resource.Metadata.cdk_nag.rules_to_suppress.map((r: any) => r.id)).toEqual(['AwsSolutions-KMS5', 'AwsSolutions-KMS2']);
  });

  (hasValidations ? test : test.skip)('cdk-nag v3\'s writeSuppressionsToCloudFormation (its aspect writes the entry from the v3 acknowledgements) keeps it', () => {
    const app = new App();
    const stack = new Stack(app, 'Audit', { env: ENV });
    new ExternalKey(stack, 'Key');
    new AwsSolutionsChecksV3(app, { writeSuppressionsToCloudFormation: true });
    const [resource] = Object.values(Template.fromStack(stack).findResources('AWS::KMS::Key')) as any[];
    expect(resource.Metadata.cdk_nag.rules_to_suppress).toEqual([{ id: 'AwsSolutions-KMS5', reason: expect.stringMatching(/imported key material/i) }]);
  });
});
