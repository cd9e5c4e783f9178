// Checks what Construct Hub and the other languages need from the built jsii assembly:
// API.md is up to date (jsii-docgen), the README and API examples compile (jsii-rosetta --strict,
// with rosetta/default.ts-fixture), and code generates for Python, Java, .NET and Go
// (jsii-pacmak --code-only; nothing is published). Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (name, args) => execFileSync(bin(name), args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
const scratch = mkdtempSync(join(tmpdir(), 'check-generated-'));
let failed = false;

try {
  run('jsii-docgen', ['-o', join(scratch, 'API.md')]);
  if (readFileSync(join(scratch, 'API.md'), 'utf8') !== readFileSync(join(root, 'API.md'), 'utf8')) {
    console.error('API.md is stale: run `npm run docgen` and commit the result');
    failed = true;
  } else {
    console.log('API.md is up to date');
  }

  run('jsii-rosetta', ['extract', '--strict']);
  console.log('README and API examples compile (jsii-rosetta --strict)');

  run('jsii-pacmak', ['--code-only', '--targets', 'python,java,dotnet,go', '-o', join(scratch, 'pacmak')]);
  console.log('jsii-pacmak --code-only generated Python, Java, .NET and Go');

  // The docs of each language carry its own examples (rosetta's translations), not TypeScript.
  const files = (dir) => readdirSync(dir, { recursive: true }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
  const expectations = [
    ['python', /\.py$/, 'KeyMaterialRevocation(self, "Revocation", key=key)'],
    ['java', /\.java$/, 'KeyMaterialRevocation.Builder.create(this, "Revocation")'],
    ['dotnet', /\.cs$/, 'new KeyMaterialRevocation(this, "Revocation", new KeyMaterialRevocationProps'],
    ['go', /\.go$/, 'cdkkmskeymaterial.NewKeyMaterialRevocation(this, jsii.String("Revocation")'],
  ];
  for (const [language, pattern, example] of expectations) {
    const text = files(join(scratch, 'pacmak', language)).filter((f) => pattern.test(f)).map((f) => readFileSync(f, 'utf8')).join('\n');
    if (!text.includes(example)) {
      console.error(`the ${language} docs lack the translated example (${example}): is the rosetta tablet used?`);
      failed = true;
    }
  }
  if (!failed) console.log('the Python, Java, .NET and Go docs carry translated examples');
} finally {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(join(root, '.jsii.tabl.json'), { force: true });
}
process.exit(failed ? 1 : 0);
