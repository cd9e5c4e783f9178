/**
 * The construct tests against an aws-cdk-lib installed apart by scripts/test-cdk-versions.mjs
 * (npm run test:cdk-versions): the peer floor and the newest version checked.
 */
const base = require('./jest.config');
const dir = process.env.CDK_DIR;
if (!dir) throw new Error('CDK_DIR is not set: run npm run test:cdk-versions');

module.exports = {
  ...base,
  // The nag suite runs cdk-nag v3 through the validation plugin where aws-cdk-lib supports it (the newest run).
  testMatch: ['**/test/construct.test.ts', '**/test/external-key.test.ts', '**/test/nag.test.ts'],
  setupFiles: ['<rootDir>/test/support/cdk-version-setup.js'],
  moduleNameMapper: {
    '^aws-cdk-lib$': `${dir}/aws-cdk-lib`,
    '^aws-cdk-lib/(.*)$': `${dir}/aws-cdk-lib/$1`,
    '^constructs$': `${dir}/constructs`,
  },
};
