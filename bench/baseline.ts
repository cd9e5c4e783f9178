/**
 * The two apps the benchmarks compare, built the same way for the same keys:
 *
 * - ours: one KeyMaterialRevocation per key;
 * - the baseline: what users hand-roll today, one AwsCustomResource (aws-cdk-lib/custom-resources)
 *   per key that calls DeleteImportedKeyMaterial in onDelete, with a DescribeKey in onCreate (a
 *   cheap call that checks the key exists, as users typically write), a policy from
 *   fromSdkCalls and installLatestAwsSdk: false (the SDK of the Lambda runtime).
 */
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { KeyMaterialRevocation, KeyMaterialScope } from '../lib/index';

export type Side = 'ours' | 'baseline';

/** The baseline for one key. */
export function baselineRevocation(scope: Construct, id: string, key: kms.IKey): AwsCustomResource {
  return new AwsCustomResource(scope, id, {
    onCreate: {
      service: 'KMS',
      action: 'DescribeKey',
      parameters: { KeyId: key.keyArn },
      physicalResourceId: PhysicalResourceId.of(key.keyArn),
    },
    onDelete: {
      service: 'KMS',
      action: 'DeleteImportedKeyMaterial',
      parameters: { KeyId: key.keyArn },
      physicalResourceId: PhysicalResourceId.of(key.keyArn),
    },
    policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: [key.keyArn] }),
    installLatestAwsSdk: false,
  });
}

/** A made-up but well-formed key ARN, distinct per index (same length for every index). */
export function fakeKeyArn(i: number, account = '111111111111', region = 'eu-west-1'): string {
  return `arn:aws:kms:${region}:${account}:key/${String(i).padStart(8, '0')}-1111-4111-8111-111111111111`;
}

export interface AppOptions {
  readonly side: Side;
  /** Keys imported by ARN (kms.Key.fromKeyArn): they add no resource to the template. */
  readonly keyArns?: string[];
  /** Or: this many keys defined in the stack (kms.Key with Origin EXTERNAL). */
  readonly sameStackKeys?: number;
  /**
   * Same-stack keys get a custom key policy (an administrator role only, no statement trusting
   * the account's IAM policies) instead of kms.Key's default one.
   */
  readonly customKeyPolicy?: boolean;
  /** Skip the revocations: the keys alone, to subtract them from a same-stack measurement. */
  readonly keysOnly?: boolean;
  readonly scope?: KeyMaterialScope;
}

/** A key policy that lets one administrator role manage the key and does not trust the account's IAM policies. */
function adminOnlyPolicy(stack: Stack): iam.PolicyDocument {
  return new iam.PolicyDocument({
    statements: [new iam.PolicyStatement({
      actions: ['kms:*'], resources: ['*'], principals: [new iam.ArnPrincipal(`arn:aws:iam::${stack.account}:role/KeyAdministrator`)],
    })],
  });
}

/** Builds one side's stack: a revocation per key. */
export function buildApp(o: AppOptions): (stack: Stack) => void {
  return (stack) => {
    const keys: kms.IKey[] = [];
    for (const [i, arn] of (o.keyArns ?? []).entries()) keys.push(kms.Key.fromKeyArn(stack, `Key${i}`, arn));
    for (let i = 0; i < (o.sameStackKeys ?? 0); i++) {
      const key = new kms.Key(stack, `Key${i}`, o.customKeyPolicy ? { policy: adminOnlyPolicy(stack) } : {});
      (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
      keys.push(key);
    }
    if (o.keysOnly) return;
    keys.forEach((key, i) => {
      if (o.side === 'ours') new KeyMaterialRevocation(stack, `Revocation${i}`, { key, materialScope: o.scope });
      else baselineRevocation(stack, `Revocation${i}`, key);
    });
  };
}
