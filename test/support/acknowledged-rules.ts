import * as cdk from 'aws-cdk-lib';
import { CfnResource } from 'aws-cdk-lib';

/** Whether this aws-cdk-lib has `Validations` (cdk-nag v3's acknowledgements); versions before 2.257-ish do not. */
export const hasValidations = (cdk as unknown as { Validations?: unknown }).Validations !== undefined;

/**
 * The acknowledgements cdk-nag v3 reads on a resource (`Validations.acknowledge`, construct
 * metadata, not the template), as [`annotation::RuleId`, reason] pairs: the last entry's.
 */
export function acknowledgedRules(resource: CfnResource): Array<[string, string]> {
  const acknowledged = resource.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules');
  return Object.entries((acknowledged.pop()?.data ?? {}) as Record<string, string>);
}
