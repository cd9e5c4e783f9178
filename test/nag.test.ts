/**
 * cdk-nag's AwsSolutions pack on the example stack and on a bare revocation: no unacknowledged
 * finding, and every acknowledgement the library makes carries its reason.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ExampleStack } from '../example/stack';
import { KeyMaterialRevocation } from '../lib/index';

const ENV = { account: '111111111111', region: 'eu-west-1' };

function nagReport(build: (app: App) => Stack): { report: any; stack: Stack } {
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'nag-')) });
  const stack = build(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let failure: Error | undefined;
  try {
    app.synth();
  } catch (err) {
    failure = err as Error;
  }
  const report = JSON.parse(fs.readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8'));
  if (failure && report.pluginReports.every((p: any) => p.violations.length === 0)) throw failure;
  return { report, stack };
}

const violations = (report: any) => report.pluginReports.flatMap((p: any) => p.violations.map((v: any) =>
  `${v.ruleName} at ${v.violatingConstructs.map((c: any) => c.constructPath).join(', ')}`));
const suppressed = (report: any) => report.pluginReports.flatMap((p: any) => p.suppressedViolations);

test('the example stack passes AwsSolutions with every finding acknowledged, each with a reason', () => {
  const { report } = nagReport((app) => new ExampleStack(app, 'Example', { env: ENV }));
  expect(violations(report)).toEqual([]);
  const acknowledged = suppressed(report);
  expect(acknowledged.map((s: any) => s.ruleName).sort()).toEqual([
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    'AwsSolutions-KMS5',
  ]);
  for (const s of acknowledged) expect(s.reason.length).toBeGreaterThan(40);
});

test('a revocation of a key imported by ARN needs no acknowledgement from the user', () => {
  const { report } = nagReport((app) => {
    const stack = new Stack(app, 'Bare', { env: ENV });
    new KeyMaterialRevocation(stack, 'R', {
      key: kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
    });
    return stack;
  });
  expect(violations(report)).toEqual([]);
});

test('the library\'s acknowledgement is also written for cdk-nag v2 (cdk_nag metadata with a reason)', () => {
  const stack = new Stack(new App(), 'Meta', { env: ENV });
  new KeyMaterialRevocation(stack, 'R', {
    key: kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
  });
  const [role] = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Role')) as any[];
  expect(role.Metadata.cdk_nag.rules_to_suppress).toEqual([{
    id: 'AwsSolutions-IAM4',
    applies_to: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
    reason: expect.stringContaining('CloudWatch Logs'),
  }]);
});
