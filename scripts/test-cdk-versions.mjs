// Runs the construct tests against other aws-cdk-lib versions than the project's own dev copy:
// the lowest the package promises (its peerDependencies floor) and the newest it was checked
// with (package.json config.latestAwsCdkLib). Each is installed apart, under .cdk-versions/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const floor = (range) => range.replace(/^[^\d]*/, '');
const targets = [
  { label: 'floor', cdk: floor(pkg.peerDependencies['aws-cdk-lib']), constructs: floor(pkg.peerDependencies.constructs) },
  { label: 'latest', cdk: pkg.config.latestAwsCdkLib, constructs: pkg.config.latestConstructs },
];

for (const t of targets) {
  const dir = join(root, '.cdk-versions', t.cdk);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `cdk-${t.label}`, private: true }));
  console.log(`\n${t.label}: aws-cdk-lib@${t.cdk}, constructs@${t.constructs}`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock',
    `aws-cdk-lib@${t.cdk}`, `constructs@${t.constructs}`], { cwd: dir, stdio: 'inherit' });
  execFileSync(join(root, 'node_modules', '.bin', 'jest'), ['--config', 'jest.cdk-version.config.js'], {
    cwd: root, stdio: 'inherit', env: { ...process.env, CDK_DIR: join(dir, 'node_modules'), CDK_VERSION: t.cdk },
  });
}
