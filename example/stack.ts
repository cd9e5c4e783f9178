// The example stack: an EXTERNAL (BYOK) key and the revocation construct.
import { Stack, StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { KeyMaterialRevocation, KeyMaterialScope } from '../lib/index';

/** A key for imported material (BYOK) whose material is revoked when the stack is deleted. */
export class ExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const key = new kms.Key(this, 'ByokKey', {
      description: 'Holds key material imported from our HSM',
      // Keys with imported material cannot rotate automatically; rotate by importing new material.
      enableKeyRotation: false,
    });
    // Origin EXTERNAL: the key is created without material (PendingImport); import yours next.
    (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');

    // Keys with imported material cannot rotate automatically (rotate them on demand by importing
    // new material), so cdk-nag's rule asking for automatic rotation does not apply to them.
    (key.node.defaultChild as kms.CfnKey).addMetadata('cdk_nag', {
      rules_to_suppress: [{
        id: 'AwsSolutions-KMS5',
        reason: 'Keys with imported key material (Origin EXTERNAL) do not support automatic rotation',
      }],
    });

    new KeyMaterialRevocation(this, 'Revocation', {
      key,
      materialScope: KeyMaterialScope.ALL,
    });
  }
}

