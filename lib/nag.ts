import * as cdk from 'aws-cdk-lib';
import { CfnResource, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * Acknowledges a cdk-nag finding on one of our resources, with its reason, for both cdk-nag
 * majors: v2 reads the `cdk_nag` metadata; v3 reads acknowledgements made through aws-cdk-lib's
 * `Validations`, which only newer aws-cdk-lib versions have (hence the feature test).
 * Findings of one resource must be acknowledged in one call: the metadata entry is replaced.
 */
export function acknowledgeNagFindings(resource: CfnResource, findings: ReadonlyArray<NagFinding>): void {
  if (findings.length === 0) return;
  resource.addMetadata('cdk_nag', {
    rules_to_suppress: findings.map((f) => ({ id: f.ruleId, reason: f.reason, applies_to: [f.finding] })),
  });
  const validations = (cdk as unknown as { Validations?: { of(c: Construct): { acknowledge(r: object): void } } }).Validations;
  for (const f of findings) {
    try {
      validations?.of(resource).acknowledge({ id: `AwsSolutions::${f.ruleId}[${f.finding}]`, reason: f.reason });
    } catch {
      // Some aws-cdk-lib versions reject characters such as '::' inside a rule ID, which finding
      // IDs contain. An acknowledgement is never worth failing the user's synth.
    }
  }
}

/** One finding to acknowledge: rule, the exact finding ID, and why it is acceptable. */
export interface NagFinding {
  readonly ruleId: string;
  readonly finding: string;
  readonly reason: string;
}

/**
 * The finding ID cdk-nag gives a wildcard resource in a policy (`Resource::` and the ARN with each
 * Ref written `<LogicalId>` and each Fn::GetAtt `<LogicalId.Attribute>`), resolved in `stack`.
 */
export function nagResourceFinding(stack: Stack, arn: string): string {
  return `Resource::${flatten(stack.resolve(arn))}`;
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\${/g, '<').replace(/}/g, '>');
  const o = node as Record<string, any>;
  if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(flatten).join(o['Fn::Join'][0]);
  if (o['Fn::Sub']) return flatten(o['Fn::Sub']);
  if (o['Fn::GetAtt']) return `<${flatten(o['Fn::GetAtt'][0])}.${flatten(o['Fn::GetAtt'][1])}>`;
  if (o['Fn::ImportValue']) return flatten(o['Fn::ImportValue']);
  if (o.Ref) return `<${flatten(o.Ref)}>`;
  return JSON.stringify(node);
}
