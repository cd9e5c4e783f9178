/**
 * `npm run bench`: KeyMaterialRevocation against the hand-rolled AwsCustomResource users write
 * today, side by side in one run. Benchmarks, not tests: nothing here asserts a time.
 *
 *   npm run bench [-- --quick] [-- --out FILE]      ("bench": "npm run bundle --silent && tsx bench/run.ts")
 *   npm run bundle && PATH=$PWD/node_modules/.bin:$PATH npx tsx bench/run.ts [--quick] [--out FILE]
 *
 * A full run writes bench/RESULTS.md (the record) and bench/results.json (every figure, raw
 * samples included). --quick runs fewer samples and a smaller throughput test, and prints its
 * report instead of overwriting the record (or writes it to --out FILE). --render results.json
 * only re-renders the report from recorded figures.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KeyMaterialScope } from '../lib/index';
import { measureColdStart } from './coldstart';
import { BenchResults, renderReport } from './report';
import { measureRetryHeadroom } from './retry-headroom';
import { progress } from './stats';
import { measureSynthTime, measureTemplateCost } from './template-cost';
import { measureThroughput, ThroughputResult } from './throughput';

const ROOT = path.join(__dirname, '..');

interface Config {
  readonly quick: boolean;
  readonly synthRuns: number;
  readonly coldSamples: number;
  readonly throughputKeys: number;
  readonly concurrencies: number[];
}

function machine() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  let nproc = String(os.availableParallelism());
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // os.availableParallelism() is the same figure
  }
  return { nproc, cpuModel: model, memoryGiB: os.totalmem() / 1024 ** 3, os: `${os.type()} ${os.release()} ${os.arch()}` };
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib', 'lambda'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} (lib/ or lambda/ modified)` : head;
  } catch {
    return 'unknown';
  }
}

const version = (pkg: string) => (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const outIndex = args.indexOf('--out');
  const out = outIndex >= 0 ? args[outIndex + 1] : undefined;
  const renderIndex = args.indexOf('--render');
  if (renderIndex >= 0) {
    // Re-renders the report from a results.json, without measuring anything.
    const results = JSON.parse(fs.readFileSync(args[renderIndex + 1], 'utf8')) as BenchResults;
    fs.writeFileSync(out ?? path.join(__dirname, 'RESULTS.md'), renderReport(results));
    return;
  }
  const config: Config = quick
    ? { quick, synthRuns: 3, coldSamples: 5, throughputKeys: 90, concurrencies: [8] }
    : { quick, synthRuns: 9, coldSamples: 15, throughputKeys: 300, concurrencies: [8, 32] };
  if (!fs.existsSync(path.join(ROOT, 'assets', 'revocation-handler', 'index.js'))) {
    throw new Error('assets/revocation-handler/index.js is missing: run `npm run bundle` first');
  }
  const started = Date.now();
  // The code measured is the code at the start (the run takes minutes; the tree may move meanwhile).
  const commit = gitCommit();
  const loadBefore = os.loadavg();
  progress(`${quick ? 'quick' : 'full'} run on Node.js ${process.versions.node}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  if (loadBefore[0] > os.availableParallelism()) {
    progress(`warning: the machine is busy (1-minute load average ${loadBefore[0].toFixed(1)} on ${os.availableParallelism()} CPUs): the timings will show it`);
  }

  const templateCost = { ours: measureTemplateCost('ours'), baseline: measureTemplateCost('baseline') };
  const synthTime = measureSynthTime(100, config.synthRuns);
  const coldStart = await measureColdStart(config.coldSamples);
  const throughput: ThroughputResult[] = [];
  // The baseline adds two resources per key: 300 keys do not fit one stack (500 resources), so
  // its keys are spread over as many stacks as needed, all deleted at once.
  const baselineStacks = Math.ceil(config.throughputKeys / templateCost.baseline.maxByResources.keys);
  for (const concurrency of config.concurrencies) {
    throughput.push(await measureThroughput({ side: 'ours', scope: KeyMaterialScope.CURRENT, keys: config.throughputKeys, concurrency }));
    throughput.push(await measureThroughput({ side: 'ours', scope: KeyMaterialScope.ALL, keys: config.throughputKeys, concurrency }));
    throughput.push(await measureThroughput({ side: 'baseline', keys: config.throughputKeys, concurrency, stacks: baselineStacks }));
  }
  // Lambda scaled out: one sandbox per Delete (ours only: see bench/sandboxes.ts).
  for (const scope of config.quick ? [KeyMaterialScope.CURRENT] : [KeyMaterialScope.CURRENT, KeyMaterialScope.ALL]) {
    const keys = config.throughputKeys;
    throughput.push(await measureThroughput({ side: 'ours', scope, keys, concurrency: keys, sandboxPerDelete: true }));
  }
  // Several full stacks destroyed together: 490 revocations each, one quota.
  const retryHeadroom = [];
  for (const keys of config.quick ? [300] : [490, 980, 1470]) retryHeadroom.push(await measureRetryHeadroom(keys));

  const results: BenchResults = {
    date: new Date().toISOString(),
    quick,
    durationSeconds: (Date.now() - started) / 1000,
    node: { parent: process.versions.node, handlers: coldStart.nodeVersion, binary: path.relative(ROOT, coldStart.node) || coldStart.node },
    machine: { ...machine(), loadAverageBefore: loadBefore, loadAverageAfter: os.loadavg() },
    versions: {
      'aws-cdk-lib': version('aws-cdk-lib'),
      constructs: version('constructs'),
      '@aws-sdk/client-kms (the baseline\'s SDK)': version('@aws-sdk/client-kms'),
      commit,
    },
    templateCost,
    synthTime,
    coldStart,
    throughput,
    retryHeadroom,
  };
  const report = renderReport(results);
  if (quick && !out) {
    process.stdout.write(report);
  } else {
    fs.writeFileSync(out ?? path.join(__dirname, 'RESULTS.md'), report);
    if (!quick) fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
    progress(`wrote ${out ?? 'bench/RESULTS.md and bench/results.json'}`);
  }
  progress(`done in ${results.durationSeconds.toFixed(0)} s`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
