// Fails the floor run at once if the tests would not exercise the floor versions.
const expected = process.env.FLOOR_CDK_VERSION;
const actual = require('aws-cdk-lib/package.json').version;
if (expected && actual !== expected) {
  throw new Error(`the floor run loaded aws-cdk-lib ${actual}, expected ${expected}`);
}
