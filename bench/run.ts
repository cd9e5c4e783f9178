/**
 * `npm run bench`: KeyMaterialRevocation against the hand-rolled AwsCustomResource users write
 * today, side by side in one run. Benchmarks, not tests: nothing here asserts a time.
 *
 *   npm run bench [-- --quick] [-- --out FILE] [-- --json FILE]   ("bench": "npm run bundle --silent && tsx bench/run.ts")
 *   npm run bundle && PATH=$PWD/node_modules/.bin:$PATH npx tsx bench/run.ts [--quick] [--out FILE]
 *
 * A full run writes bench/RESULTS.md (the record) and bench/results.json (every figure, raw
 * samples included). --quick runs fewer samples and a smaller throughput test, and prints its
 * report instead of overwriting the record (or writes it to --out FILE; --json FILE writes its
 * figures too). --render results.json only re-renders the report from recorded figures.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { KeyMaterialScope } from '../lib/index';
import { arm64Node } from './arm64';
import { measureColdStart } from './coldstart';
import { BenchResults, PreviousRun, renderReport } from './report';
import { measureRetryHeadroom } from './retry-headroom';
import { progress } from './stats';
import { measureShapes, measureSynthTime, measureTemplateCost } from './template-cost';
import { measurePlanTime, planKeysPerStack } from './plan-time';
import { cfnReadQuota, measureThroughput, ThroughputResult } from './throughput';

const ROOT = path.join(__dirname, '..');

/**
 * The congested-reads runs' read quota, as a share of the guessed one: 300 fresh sandboxes at
 * 2/s read about as long as 1,500 at 10/s (six full stacks destroyed together), more sandboxes
 * than fit in this machine's memory and CPUs; longer than the default serviceTimeout gives reads.
 */
const CONGESTED_READ_SHARE = 0.2;

interface Config {
  readonly quick: boolean;
  readonly synthRuns: number;
  readonly coldSamples: number;
  /** Samples per variant of the arm64 cold start, under an emulator (seconds each). */
  readonly coldArm64Samples: number;
  readonly throughputKeys: number;
  readonly concurrencies: number[];
  /** Several full stacks destroyed together (issue 13: 980), ours, scope CURRENT, end to end. */
  readonly manyStacks: { keys: number; fullStack: number; concurrency: number };
  readonly planRuns: number;
  readonly planSynthRuns: number;
  /** The plan app: keys per stack (issue 13 goal 4: 489 keys). */
  readonly planKeysPerStack: number[];
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
  return { nproc, cpuModel: model, memoryGiB: os.totalmem() / 1024 ** 3, os: `${os.type()} ${os.release()} ${os.arch()}`, arch: os.arch() };
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

/**
 * The figures of the run recorded before this one (bench/results.json), kept in the new record so
 * that the report can say what moved; a previous record's own `previous` is dropped.
 */
function previousRun(file: string): PreviousRun | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResults;
    if (p.quick) return undefined;
    const v = (name: string) => p.coldStart.variants.find((x) => x.variant === name);
    const tc = p.templateCost;
    return {
      date: p.date,
      commit: p.versions.commit,
      node: p.node.parent,
      nproc: p.machine.nproc,
      template: {
        ours: { bytesPerKey: tc.ours.bytesPerKey, sameStackBytesPerKey: tc.ours.sameStackBytesPerKey, resourcesPerKey: tc.ours.resourcesPerKey,
          resourcesPerKeyAtMax: tc.ours.resourcesPerKeyAtMax, fixedResources: tc.ours.fixedResources, maxKeys: tc.ours.maxDeployable.keys,
          rowAtOne: tc.ours.rows[0] },
        baseline: { bytesPerKey: tc.baseline.bytesPerKey, maxKeys: tc.baseline.maxByResources.keys },
        baselineDeleteOnly: tc.baselineDeleteOnly ? { bytesPerKey: tc.baselineDeleteOnly.bytesPerKey, maxKeys: tc.baselineDeleteOnly.maxByResources.keys } : undefined,
        shapes: tc.shapes?.map((x) => ({
          shape: x.shape, ours: x.ours.bytesPerKey, baseline: x.baseline.bytesPerKey, baselineDeleteOnly: x.baselineDeleteOnly.bytesPerKey,
          oursResourcesPerKey: x.ours.resourcesPerKey,
        })),
      },
      synthMs: {
        ours: p.synthTime.oursMedianMs, baseline: p.synthTime.baselineMedianMs, baselineDeleteOnly: p.synthTime.baselineDeleteOnlyMedianMs,
        externalKey: p.synthTime.externalKey ? { ours: p.synthTime.externalKey.oursMedianMs, baseline: p.synthTime.externalKey.baselineMedianMs,
          baselineDeleteOnly: p.synthTime.externalKey.baselineDeleteOnlyMedianMs } : undefined,
      },
      coldStartMs: { ours: v('ours-current')?.loadPlusInvokeMs.median ?? NaN, oursAll: v('ours-all')?.loadPlusInvokeMs.median ?? NaN, baseline: v('baseline')?.loadPlusInvokeMs.median ?? NaN,
        oursLoad: v('ours-current')?.loadMs.median ?? NaN, oursInvoke: v('ours-current')?.invokeMs.median ?? NaN, baselineLoad: v('baseline')?.loadMs.median ?? NaN, baselineInvoke: v('baseline')?.invokeMs.median ?? NaN },
      bundle: p.coldStart.bundles.find((b) => b.side === 'ours'),
      throughput: p.throughput.map((t) => ({
        label: t.label, series: t.series, side: t.side, scope: t.scope, model: t.model, concurrency: t.concurrency, stacks: t.stacks, keys: t.keys, wallMs: t.wallMs,
        failed: t.failed, callsPerKey: t.callsPerKey, successfulCallsPerKey: t.successfulCallsPerKey, cfn: t.cfn, kms: t.kms, cfnReadQuotaPerSecond: t.cfnReadQuotaPerSecond,
        lowerBoundMs: t.lowerBoundMs,
      })),
      retryHeadroom: p.retryHeadroom,
      planTime: p.planTime ? { keys: p.planTime.keys ?? planKeysPerStack(p.planTime).reduce((a, n) => a + n, 0), planMedianMs: p.planTime.planMedianMs, synthMedianMs: p.planTime.synthMedianMs } : undefined,
    };
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const outIndex = args.indexOf('--out');
  const out = outIndex >= 0 ? args[outIndex + 1] : undefined;
  // --json FILE: also write the figures there (a quick run writes no bench/results.json).
  const jsonIndex = args.indexOf('--json');
  const jsonOut = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
  const renderIndex = args.indexOf('--render');
  if (renderIndex >= 0) {
    // Re-renders the report from a results.json, without measuring anything.
    const results = JSON.parse(fs.readFileSync(args[renderIndex + 1], 'utf8')) as BenchResults;
    fs.writeFileSync(out ?? path.join(__dirname, 'RESULTS.md'), renderReport(results));
    return;
  }
  // The plan app of issue 13 goal 4 has 489 keys: two stacks within our 250 keys per stack.
  const planKeysPerStack = [245, 244];
  const config: Config = quick
    ? { quick, synthRuns: 3, coldSamples: 5, coldArm64Samples: 3, throughputKeys: 90, concurrencies: [8], manyStacks: { keys: 120, fullStack: 30, concurrency: 8 }, planRuns: 3, planSynthRuns: 1, planKeysPerStack }
    : { quick, synthRuns: 15, coldSamples: 31, coldArm64Samples: 15, throughputKeys: 300, concurrencies: [8, 32], manyStacks: { keys: 980, fullStack: 490, concurrency: 32 }, planRuns: 9, planSynthRuns: 5, planKeysPerStack };
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

  const templateCost = {
    ours: measureTemplateCost('ours'),
    baseline: measureTemplateCost('baseline'),
    baselineDeleteOnly: measureTemplateCost('baseline-delete-only'),
    shapes: measureShapes(),
  };
  const synthTime = measureSynthTime(100, config.synthRuns);
  const coldStart = await measureColdStart(config.coldSamples);
  // arm64 handlers where this machine can run them: under an emulator, the same Node.js version.
  const arm = arm64Node(coldStart.nodeVersion);
  const coldStartArm64 = arm.available
    ? await measureColdStart(config.coldArm64Samples, { node: arm.execPath, arch: 'arm64', emulator: arm.emulator })
    : { notMeasured: arm.reason };
  if (!arm.available) progress(`cold start on arm64 not measured: ${arm.reason}`);
  const planTime = measurePlanTime({ keysPerStack: config.planKeysPerStack, synthRuns: config.planSynthRuns, planRuns: config.planRuns });
  const throughput: ThroughputResult[] = [];
  // Neither side holds 300 keys in one stack: ours at most 250 (the construct refuses more at
  // synthesis), the baseline 249 (500 resources). The keys are spread over as many stacks as
  // needed, all deleted at once in one account and Region, each stack with its own function.
  const oursStacks = Math.ceil(config.throughputKeys / templateCost.ours.maxDeployable.keys);
  const baselineStacks = Math.ceil(config.throughputKeys / templateCost.baseline.maxByResources.keys);
  const quota = cfnReadQuota();
  progress(`CloudFormation read quota for every run of ours: ${quota.perSecond}/s per operation, ${quota.source}`);
  const keys = config.throughputKeys;
  const scopes = config.quick ? [KeyMaterialScope.CURRENT] : [KeyMaterialScope.CURRENT, KeyMaterialScope.ALL];
  const cfnReadQuotaPerSecond = quota.perSecond;
  // Every run of ours with the read quota on; the baseline reads nothing from CloudFormation, so
  // the quota does not matter to it (its runs are made without).
  // The container runs of ours are repeated: on this 2-CPU machine their wall time moves by
  // about a tenth from run to run (measured 1.14-1.28x of the bound for the same code), as much
  // as the margin the goal leaves. The median repetition is recorded, with every wall time.
  const repeats = config.quick ? 1 : 3;
  const medianRun = async (o: Parameters<typeof measureThroughput>[0]): Promise<ThroughputResult> => {
    const runs: ThroughputResult[] = [];
    for (let i = 0; i < repeats; i++) runs.push(await measureThroughput(o));
    runs.sort((a, b) => a.wallMs - b.wallMs);
    const median = runs[Math.floor(runs.length / 2)];
    return repeats > 1 ? { ...median, repeatWallMs: runs.map((t) => t.wallMs) } : median;
  };
  for (const concurrency of config.concurrencies) {
    for (const scope of scopes) {
      throughput.push(await medianRun({ side: 'ours', scope, keys, concurrency, stacks: oursStacks, cfnReadQuotaPerSecond }));
    }
    throughput.push(await measureThroughput({ side: 'baseline', keys, concurrency, stacks: baselineStacks }));
  }
  // Lambda scaled out: one sandbox per Delete (ours only: see bench/sandboxes.ts).
  for (const scope of scopes) {
    throughput.push(await measureThroughput({ side: 'ours', scope, keys, concurrency: keys, sandboxPerDelete: true, stacks: oursStacks, cfnReadQuotaPerSecond }));
  }
  // Several full stacks destroyed together (issue 13: 980, "two full stacks" of 490 under the old
  // limit): as many stacks as our per-stack limit needs (4 of 245 under 250), end to end.
  const many = config.manyStacks;
  const manyStacks = Math.ceil(many.keys / Math.min(many.fullStack, templateCost.ours.maxDeployable.keys));
  throughput.push(await measureThroughput({
    side: 'ours', scope: KeyMaterialScope.CURRENT, keys: many.keys, concurrency: many.concurrency, stacks: manyStacks, cfnReadQuotaPerSecond, series: 'many-stacks',
  }));
  // Fresh sandboxes whose reads queue: the read quota lowered to a share of the guess, which puts
  // on 300 Deletes the read pressure of more Deletes than this machine can run as sandboxes; with
  // the default serviceTimeout and with a raised one (a read retries for a share of its budget).
  const congestedQuota = Math.max(1, Math.round(cfnReadQuotaPerSecond * CONGESTED_READ_SHARE));
  for (const serviceTimeout of config.quick ? [Duration.minutes(15)] : [undefined, Duration.minutes(15)]) {
    throughput.push(await measureThroughput({
      side: 'ours', scope: KeyMaterialScope.CURRENT, keys, concurrency: keys, sandboxPerDelete: true, stacks: oursStacks,
      cfnReadQuotaPerSecond: congestedQuota, serviceTimeout, series: 'congested-reads',
    }));
  }
  // Several full stacks destroyed together: 245 revocations each (2, 4 and 6 stacks), one quota.
  const retryHeadroom = [];
  for (const n of config.quick ? [300] : [490, 980, 1470]) retryHeadroom.push(await measureRetryHeadroom(n));

  const previous = previousRun(path.join(__dirname, 'results.json'));
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
    coldStartArm64,
    throughput,
    retryHeadroom,
    planTime,
    cfnReadQuota: quota,
    previous,
  };
  // The figures first: a report that fails to render can be rendered again from them (--render).
  if (!quick) fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  if (jsonOut) fs.writeFileSync(jsonOut, `${JSON.stringify(results, null, 1)}\n`);
  const report = renderReport(results);
  if (quick && !out) {
    process.stdout.write(report);
  } else {
    fs.writeFileSync(out ?? path.join(__dirname, 'RESULTS.md'), report);
    progress(`wrote ${out ?? 'bench/RESULTS.md and bench/results.json'}`);
  }
  progress(`done in ${results.durationSeconds.toFixed(0)} s`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
