/**
 * Integration test in the CDK convention (integ-runner + @aws-cdk/integ-tests-alpha). Deployed for
 * real with `integ-runner --directory test/integ --language typescript --app "npx tsx {filePath}"`
 * and AWS credentials; in CI only its committed snapshot is verified, offline.
 *
 * It deploys an EXTERNAL key with a revocation (creating the revocation validates the key) and asks
 * KMS whether the key's Origin is EXTERNAL. Stack deletion then revokes (nothing was imported, so
 * the key is already PendingImport: the handler logs it and succeeds).
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { KeyMaterialRevocation } from '../../lib/index';

const app = new App();
const stack = new Stack(app, 'KmsKeyMaterialRevocationInteg');
const key = new kms.Key(stack, 'ByokKey', { removalPolicy: RemovalPolicy.DESTROY });
(key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
const revocation = new KeyMaterialRevocation(stack, 'Revocation', { key });

const integ = new IntegTest(app, 'KeyMaterialRevocation', { testCases: [stack] });
integ.assertions
  .awsApiCall('KMS', 'describeKey', { KeyId: revocation.keyArn })
  .expect(ExpectedResult.objectLike({ KeyMetadata: { Origin: 'EXTERNAL', KeyState: 'PendingImport' } }));
