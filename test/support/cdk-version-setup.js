// Fails the run at once if the tests would not exercise the aws-cdk-lib version asked for.
const expected = process.env.CDK_VERSION;
const actual = require('aws-cdk-lib/package.json').version;
if (expected && actual !== expected) {
  throw new Error(`this run loaded aws-cdk-lib ${actual}, expected ${expected}`);
}
