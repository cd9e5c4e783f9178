// Runs the construct tests against the lowest aws-cdk-lib and constructs versions the package
// promises (its peerDependencies floor), installed apart from the project's own (latest) copies.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const floor = (range) => range.replace(/^[^\d]*/, '');
const cdk = floor(pkg.peerDependencies['aws-cdk-lib']);
const constructs = floor(pkg.peerDependencies.constructs);
const dir = join(root, '.floor');

mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'floor', private: true }));
console.log(`installing aws-cdk-lib@${cdk} and constructs@${constructs} into .floor/`);
execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', `aws-cdk-lib@${cdk}`, `constructs@${constructs}`],
  { cwd: dir, stdio: 'inherit' });
execFileSync(join(root, 'node_modules', '.bin', 'jest'), ['--config', 'jest.floor.config.js'], {
  cwd: root, stdio: 'inherit', env: { ...process.env, FLOOR_DIR: join(dir, 'node_modules'), FLOOR_CDK_VERSION: cdk },
});
