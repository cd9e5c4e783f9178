// The example app behind cdk.json: `npm ci && npx cdk synth` prints its template, offline.
import { App, Stack, StackProps } from 'aws-cdk-lib';
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

    new KeyMaterialRevocation(this, 'Revocation', {
      key,
      materialScope: KeyMaterialScope.ALL,
    });
  }
}

const app = new App();
new ExampleStack(app, 'KmsKeyMaterialExample', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT ?? '111111111111', region: process.env.CDK_DEFAULT_REGION ?? 'eu-west-1' },
});
app.synth();
