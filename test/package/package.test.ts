/**
 * The packed tarball works on its own: installed into an empty app with nothing but aws-cdk-lib
 * (the lowest version the README promises) and constructs, it synthesizes a stack with the
 * construct, and the handler asset is there. No esbuild, Docker or AWS SDK on the user's side.
 * The tarball ships no tests, benchmarks, example app or handler sources.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
/** "^2.93.0" -> "2.93.0": the floor the README states. */
const floor = (range: string) => range.replace(/^[^\d]*/, '');

let work: string;
let tarball: string;
let packed: string[];

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pack-test-'));
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const info = JSON.parse(out)[0];
  tarball = path.join(work, info.filename);
  packed = info.files.map((f: { path: string }) => f.path);
}, 120_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('the tarball holds the compiled library, the jsii assembly and the bundled handler, and nothing else', () => {
  for (const needed of ['lib/index.js', 'lib/index.d.ts', 'lib/revocation.js', 'lib/contract.js', '.jsii',
    'assets/revocation-handler/index.js', 'assets/plan/cli.js', 'README.md', 'LICENSE', 'API.md', 'package.json']) {
    expect(packed).toContain(needed);
  }
  const unexpected = packed.filter((f) => /^(test|bench|example|lambda|scripts|rosetta)\//.test(f) || /\.ts$/.test(f) && !/\.d\.ts$/.test(f)
    || /^(cdk\.json|jest\.config\.js|tsconfig.*\.json|eslint\.config\.mjs)$/.test(f));
  expect(unexpected).toEqual([]);
  expect(pkg.dependencies ?? {}).toEqual({});
});

test('installing the package runs no script of ours (no install-script warning): the bundle is made before packing', () => {
  for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(pkg.scripts[hook]).toBeUndefined();
  expect(pkg.scripts.prepack).toBe('npm run bundle');
  expect(pkg.bin['cdk-kms-key-material']).toBe('assets/plan/cli.js');
});

test(`installed with only aws-cdk-lib ${floor(pkg.peerDependencies['aws-cdk-lib'])} and constructs, it synthesizes a stack with the handler asset`, () => {
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball,
    `aws-cdk-lib@${floor(pkg.peerDependencies['aws-cdk-lib'])}`, `constructs@${floor(pkg.peerDependencies.constructs)}`],
  { cwd: app, stdio: 'pipe' });
  // Nothing that builds or bundles reached the user's app.
  for (const absent of ['esbuild', '@aws-sdk/client-kms', '@aws-sdk/client-cloudformation', 'typescript']) {
    expect(fs.existsSync(path.join(app, 'node_modules', absent))).toBe(false);
  }
  fs.writeFileSync(path.join(app, 'app.js'), `
    const { App, Stack } = require('aws-cdk-lib');
    const kms = require('aws-cdk-lib/aws-kms');
    const { KeyMaterialRevocation } = require('cdk-kms-key-material');
    const app = new App({ outdir: 'cdk.out' });
    const stack = new Stack(app, 'Consumer', { env: { account: '111111111111', region: 'eu-west-1' } });
    const key = new kms.Key(stack, 'Key');
    key.node.defaultChild.addPropertyOverride('Origin', 'EXTERNAL');
    new KeyMaterialRevocation(stack, 'Revocation', { key });
    app.synth();
  `);
  execFileSync(process.execPath, ['app.js'], { cwd: app, stdio: 'pipe' });
  const template = JSON.parse(fs.readFileSync(path.join(app, 'cdk.out', 'Consumer.template.json'), 'utf8'));
  const types = Object.values(template.Resources).map((r: any) => r.Type);
  expect(types).toEqual(expect.arrayContaining(['Custom::KmsKeyMaterialRevocation', 'AWS::Lambda::Function']));
  const fn: any = Object.values(template.Resources).find((r: any) => r.Type === 'AWS::Lambda::Function');
  const manifest = JSON.parse(fs.readFileSync(path.join(app, 'cdk.out', 'Consumer.assets.json'), 'utf8'));
  const asset = manifest.files[String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')];
  const shipped = fs.readFileSync(path.join(app, 'cdk.out', asset.source.path, 'index.js'));
  expect(shipped.equals(fs.readFileSync(path.join(ROOT, 'assets', 'revocation-handler', 'index.js')))).toBe(true);
  // The plan command is on the consumer's PATH through npm's bin link, and runs with what the package holds.
  const help = execFileSync(path.join(app, 'node_modules', '.bin', 'cdk-kms-key-material'), ['--help'], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(help).toContain('usage: cdk-kms-key-material plan');
  const plan = execFileSync(process.execPath, [path.join(app, 'node_modules', '.bin', 'cdk-kms-key-material'), 'plan', '--app', 'cdk.out', '--deployed', 'cdk.out'], { cwd: app, encoding: 'utf8' });
  expect(plan).toContain('Stack Consumer (from file)');
}, 300_000);
