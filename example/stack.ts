// The example stack: a key for imported material (BYOK) with its revocation built in.
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ExternalKey, KeyMaterialScope } from '../lib/index';

/** A key for imported material (BYOK) whose material is revoked when the stack is deleted. */
export class ExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    // Origin EXTERNAL: the key is created without material (PendingImport); import yours next.
    // No automatic rotation (imported material rotates on demand), cdk-nag's KMS5 acknowledged.
    const key = new ExternalKey(this, 'ByokKey', {
      description: 'Holds key material imported from our HSM',
      // On cdk destroy: the material is revoked first, then the key is scheduled for deletion.
      pendingWindow: Duration.days(30),
      revocation: { materialScope: KeyMaterialScope.ALL },
    });
    // Warn 30 days before imported material that was given an expiry runs out.
    key.addExpiryAlarm('MaterialExpiresSoon', { before: Duration.days(30) });
  }
}
