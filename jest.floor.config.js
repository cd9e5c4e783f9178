/**
 * The construct tests against the aws-cdk-lib and constructs floor installed by
 * scripts/test-floor.mjs (npm run test:floor).
 */
const base = require('./jest.config');
const floor = process.env.FLOOR_DIR;
if (!floor) throw new Error('FLOOR_DIR is not set: run npm run test:floor');

module.exports = {
  ...base,
  testMatch: ['**/test/construct.test.ts'],
  setupFiles: ['<rootDir>/test/support/floor-setup.js'],
  moduleNameMapper: {
    '^aws-cdk-lib$': `${floor}/aws-cdk-lib`,
    '^aws-cdk-lib/(.*)$': `${floor}/aws-cdk-lib/$1`,
    '^constructs$': `${floor}/constructs`,
  },
};
