// The example app behind cdk.json: `npm ci && npx cdk synth` prints its template, offline.
import { App } from 'aws-cdk-lib';
import { ExampleStack } from './stack';

const app = new App();
new ExampleStack(app, 'KmsKeyMaterialExample', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT ?? '111111111111', region: process.env.CDK_DEFAULT_REGION ?? 'eu-west-1' },
});
app.synth();
