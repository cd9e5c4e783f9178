/**
 * Renders bench/RESULTS.md from the figures of one run: tables, the goals of issue 5 with a
 * verdict computed from the figures, and what each figure means for a user.
 */
import type { BundleSize, ColdStartResult, VariantSummary } from './coldstart';
import type { PlanTimeResult } from './plan-time';
import { fmt, int, kib } from './stats';
import {
  MAX_MANAGED_POLICIES_PER_ROLE, MAX_MANAGED_POLICY_CHARS, MAX_RESOURCES, MAX_ROLE_INLINE_POLICY_CHARS, SideCost, SynthFigures, SynthTime,
} from './template-cost';
import { HeadroomResult } from './retry-headroom';
import { DELETE_QUOTA_PER_SECOND, ThroughputResult } from './throughput';

export interface BenchResults {
  readonly date: string;
  readonly quick: boolean;
  readonly durationSeconds: number;
  readonly node: { parent: string; handlers: string; binary: string };
  readonly machine: { nproc: string; cpuModel: string; memoryGiB: number; os: string; loadAverageBefore: number[]; loadAverageAfter: number[] };
  readonly versions: Record<string, string>;
  readonly templateCost: { ours: SideCost; baseline: SideCost };
  readonly synthTime: SynthTime;
  readonly coldStart: ColdStartResult;
  readonly throughput: ThroughputResult[];
  /** Absent from results recorded before it was measured. */
  readonly retryHeadroom?: HeadroomResult[];
  /** The plan command on the largest app, next to `cdk synth` of it (absent before it was measured). */
  readonly planTime?: PlanTimeResult;
  /** The CloudFormation read quota of the second throughput pass, and where its figure comes from. */
  readonly cfnReadQuota?: { perSecond: number; source: string };
  /** The figures of the run recorded before this one, to say what moved. */
  readonly previous?: PreviousRun;
}

/** What a run keeps of the run before it (bench/run.ts previousRun). */
export interface PreviousRun {
  readonly date: string;
  readonly commit: string;
  readonly node: string;
  readonly nproc: string;
  readonly template: {
    ours: { bytesPerKey: number; sameStackBytesPerKey: number; resourcesPerKey: number; resourcesPerKeyAtMax: number; fixedResources: number; maxKeys: number; rowAtOne: SynthFigures };
    baseline: { bytesPerKey: number; maxKeys: number };
  };
  readonly synthMs: { ours: number; baseline: number };
  readonly coldStartMs: { ours: number; oursAll: number; baseline: number; oursLoad: number; oursInvoke: number; baselineLoad: number; baselineInvoke: number };
  readonly bundle?: BundleSize;
  readonly throughput: Array<Pick<ThroughputResult, 'label' | 'side' | 'scope' | 'model' | 'concurrency' | 'stacks' | 'keys' | 'wallMs' | 'failed' | 'callsPerKey' | 'successfulCallsPerKey' | 'cfn'>>;
  readonly retryHeadroom?: HeadroomResult[];
}

const yes = (met: boolean) => (met ? '**met**' : '**not met**');

/** How a run played the Lambda function: N container processes, or one in-process sandbox per Delete. */
const where = (t: ThroughputResult) => (t.model === 'sandbox-per-delete' ? `one sandbox per Delete (${t.keys})` : `${t.concurrency} containers`);
/** The baseline run played the same way as `t`, if any. */
const sameSetting = (runs: ThroughputResult[], t: ThroughputResult) => runs.find((b) => b.concurrency === t.concurrency && b.model === t.model);
const s = (msValue: number) => fmt(msValue / 1000, 1);
const ratio = (a: number, b: number) => `${fmt(a / b, 2)}×`;

function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.map(String).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function renderReport(r: BenchResults): string {
  const { ours, baseline } = r.templateCost;
  const cs = r.coldStart;
  const v = (name: string) => cs.variants.find((x) => x.variant === name) as VariantSummary;
  const oursCurrent = v('ours-current');
  const oursAll = v('ours-all');
  const base = v('baseline');
  const ourBundle = cs.bundles.find((b) => b.side === 'ours')!;
  const baseBundle = cs.bundles.find((b) => b.side === 'baseline')!;
  const tp = r.throughput;
  const tpOf = (side: string, scope?: string) => tp.filter((t) => t.side === side && (scope === undefined || t.scope === scope));
  const current = tpOf('ours', 'CURRENT');
  const all = tpOf('ours', 'ALL');
  const tpBase = tpOf('baseline');
  const nKeys = tp[0]?.keys ?? 0;
  const bound = nKeys / DELETE_QUOTA_PER_SECOND;

  const bytesRatio = ours.bytesPerKey / baseline.bytesPerKey;
  const sameStackBytesRatio = ours.sameStackBytesPerKey / baseline.sameStackBytesPerKey;
  const customPolicyRatio = (ours.sameStackCustomPolicyBytesPerKey ?? NaN) / (baseline.sameStackCustomPolicyBytesPerKey ?? NaN);
  const keysRatio = ours.maxByResources.keys / baseline.maxByResources.keys;
  const deployRatio = ours.maxDeployable.keys / baseline.maxDeployable.keys;
  const oursAtMax = ours.rows.find((row) => row.keys === ours.maxByResources.keys)!;
  const oneResourcePerKey = ours.resourcesPerKey <= 1 && ours.resourcesPerKeyAtMax <= 1;
  const coldDelta = oursCurrent.loadPlusInvokeMs.median - base.loadPlusInvokeMs.median;
  const coldMet = coldDelta <= 0;
  const cfnLoadMs = cs.loadSplit.cloudFormationClientAddsMs;
  // A difference smaller than this is within what moves between runs on this machine.
  const coldTie = Math.abs(coldDelta) <= 0.05 * base.loadPlusInvokeMs.median;
  const oursRuns = [...current, ...all];
  const zeroFailed = oursRuns.every((t) => t.failed === 0 && t.noResponse === 0 && t.keysRevoked === t.keys);
  const within = (t: ThroughputResult) => t.wallMs / t.lowerBoundMs <= 1.3;
  const callsOk = (t: ThroughputResult) => t.callsPerKey <= 3;
  const successfulCallsOk = (t: ThroughputResult) => t.successfulCallsPerKey <= 3;

  const out: string[] = [];
  out.push(`# Benchmarks: KeyMaterialRevocation against a hand-rolled AwsCustomResource

Generated by \`npm run bench\` (bench/run.ts)${r.quick ? ' — **quick run: fewer samples, smaller throughput test; not the record**' : ''}.
These are benchmarks, not tests: nothing asserts a time, and the figures below are one run's.
Re-run with \`npm run bench\` (bundles the handler, then measures for a few minutes; \`npm run bench -- --quick\` for a
shorter run that prints its report instead of replacing this one). Every figure, raw samples included, is in
bench/results.json; \`npx tsx bench/run.ts --render bench/results.json\` re-renders this file from it.

| run | |
|---|---|
| date | ${r.date} |
| Node.js | ${r.node.parent} (benchmark process); ${r.node.handlers} (handler processes, \`${r.node.binary}\`) |
| machine | ${r.machine.nproc} CPUs (\`nproc\`), ${r.machine.cpuModel}, ${fmt(r.machine.memoryGiB, 1)} GiB memory, ${r.machine.os} |
| versions | ${Object.entries(r.versions).map(([k, val]) => `${k} ${val}`).join('; ')} |
| duration | ${fmt(r.durationSeconds, 0)} s |
| load average (1, 5, 15 min) | before ${r.machine.loadAverageBefore.map((l) => fmt(l, 2)).join(', ')}; after ${r.machine.loadAverageAfter.map((l) => fmt(l, 2)).join(', ')} (the throughput runs themselves start up to ${Math.max(0, ...r.throughput.filter((t) => t.model !== 'sandbox-per-delete').map((t) => t.concurrency))} handler processes) |

**What is compared.** *Ours*: one \`KeyMaterialRevocation\` per key (one shared Lambda function per stack).
*Baseline*: what users write today, one \`AwsCustomResource\` per key with \`onCreate\` DescribeKey (a cheap
check that the key exists), \`onDelete\` DeleteImportedKeyMaterial, \`policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: [keyArn] })\`
and \`installLatestAwsSdk: false\` (bench/baseline.ts). Keys are **imported by ARN** (\`kms.Key.fromKeyArn\`), so
the key adds nothing to either template; one table below repeats the template cost with same-stack \`kms.Key\`s.
Both sides are synthesized with the same plain \`App\` (no feature flags, no CDKMetadata resource; \`cdk synth\`
with version reporting adds one CDKMetadata resource to both).

## Where we stand against the goals

| # | goal | ours | baseline | verdict |
|---|---|---|---|---|
| 1 | one added resource per key (baseline: two) | ${ours.resourcesPerKey} up to 100 keys; ${fmt(ours.resourcesPerKeyAtMax, 3)} on average at ${ours.maxByResources.keys} | ${baseline.resourcesPerKey}; ${fmt(baseline.resourcesPerKeyAtMax, 3)} at ${baseline.maxByResources.keys} | ${oneResourcePerKey ? yes(true) : `${yes(ours.resourcesPerKey <= 1)} up to 100 keys; just above 1 beyond (see §1)`} |
| 1 | at most half the baseline's template bytes per key (keys imported by ARN) | ${int(ours.bytesPerKey)} B | ${int(baseline.bytesPerKey)} B | ${yes(bytesRatio <= 0.5)} (${fmt(bytesRatio, 2)}×) |
| 1 | the same, keys defined in the stack (\`kms.Key\` with its default key policy) | ${int(ours.sameStackBytesPerKey)} B | ${int(baseline.sameStackBytesPerKey)} B | ${yes(sameStackBytesRatio <= 0.5)} (${fmt(sameStackBytesRatio, 2)}×) |
| 1 | — the same under a custom key policy that does not trust the account (ours adds a key-policy statement per key) | ${int(ours.sameStackCustomPolicyBytesPerKey ?? NaN)} B | ${int(baseline.sameStackCustomPolicyBytesPerKey ?? NaN)} B | ${fmt(customPolicyRatio, 2)}× (see §1) |
| 1 | 1.5× the keys per stack or more (CloudFormation's ${MAX_RESOURCES} resources) | ${ours.maxByResources.keys} | ${baseline.maxByResources.keys} | ${yes(keysRatio >= 1.5)} (${fmt(keysRatio, 2)}×) |
| 1 | — keys one stack can deploy in AWS (IAM's policy-size quotas too) | ${ours.maxDeployable.keys} | ${baseline.maxDeployable.keys} | ${fmt(deployRatio, 1)}× (see §1) |
| 2 | synthesis time, N = ${r.synthTime.keys} (no goal set: ratio reported) | ${int(r.synthTime.oursMedianMs)} ms | ${int(r.synthTime.baselineMedianMs)} ms | ${fmt(r.synthTime.ratio, 2)}× |
| 3 | cold start not slower (module load + first invocation, median of ${cs.samplesPerVariant}) | ${int(oursCurrent.loadPlusInvokeMs.median)} ms (scope CURRENT) | ${int(base.loadPlusInvokeMs.median)} ms | ${yes(coldMet)} (${coldDelta >= 0 ? '+' : ''}${int(coldDelta)} ms${coldTie ? ': a tie within run-to-run noise' : ''}) |`);
  for (const t of oursRuns) {
    out.push(`| 4 | ${t.keys} revocations at once, ${where(t)}, ${t.label}: zero FAILED / within 1.3× of ${fmt(t.lowerBoundMs / 1000, 0)} s | ${t.failed} FAILED, ${s(t.wallMs)} s | ${describeBaseline(sameSetting(tpBase, t)) || 'not run'} | ${yes(t.failed === 0 && t.noResponse === 0)} / ${yes(within(t))} (${boundRatio(t)}) |`);
  }
  for (const t of current) {
    out.push(`| 4 | scope CURRENT, ${where(t)}: at most 3 API calls per key | ${fmt(t.successfulCallsPerKey, 2)} (${fmt(t.callsPerKey, 2)} sent, throttled retries included) | ${sameSetting(tpBase, t) ? `${fmt(sameSetting(tpBase, t)!.callsPerKey, 2)} sent` : 'not run'} | ${yes(successfulCallsOk(t))} for the calls a revocation makes; throttled retries ${callsOk(t) ? 'keep it within 3 too' : 'come on top (see §4)'} |`);
  }
  out.push('');

  // ---- 1 ------------------------------------------------------------------------------------
  out.push(`## 1. Template cost

Each stack synthesized with N keys imported by ARN, read back from the cloud assembly. *Template bytes* is
the template file as \`cdk deploy\` uploads it (CDK's one-space-indented JSON). *Role's inline policies* is the sum, over
the AWS::IAM::Policy resources attached to the handler's role, of each resolved policy document's characters without
whitespace, as IAM counts them (pseudo parameters replaced by values of realistic length); *largest managed policy* the
same for one AWS::IAM::ManagedPolicy.

${table(['approach', 'N keys', 'resources', 'Lambda functions', 'IAM roles', 'template bytes', `role's inline policies (chars, ≤ ${int(MAX_ROLE_INLINE_POLICY_CHARS)})`, `largest managed policy (chars, ≤ ${int(MAX_MANAGED_POLICY_CHARS)})`, `managed policies on the role (≤ ${MAX_MANAGED_POLICIES_PER_ROLE})`],
    [...ours.rows, ...baseline.rows].map((row) => [row.side, row.keys, row.resourcesExclKeys, row.functions, row.roles, int(row.templateBytes),
      int(row.maxRoleInlinePolicyChars), row.maxManagedPolicyChars ? int(row.maxManagedPolicyChars) : '—', row.maxManagedPoliciesPerRole]))}

Besides N = 1, 10 and 100, each side's rows show the largest N under ${MAX_RESOURCES} resources and the largest N one stack can deploy
(when different). IAM's quotas (IAM User Guide, *IAM and AWS STS quotas*): a role's inline policies total at most
${int(MAX_ROLE_INLINE_POLICY_CHARS)} characters, a customer managed policy at most ${int(MAX_MANAGED_POLICY_CHARS)}, and a role has at most
${MAX_MANAGED_POLICIES_PER_ROLE} managed policies attached by default (the AWS managed AWSLambdaBasicExecutionRole counts).

${table(['per stack / per key', 'ours', 'baseline', 'ours / baseline'], [
    ['resources added per additional key (N = 1 → 100)', fmt(ours.resourcesPerKey, 0), fmt(baseline.resourcesPerKey, 0), fmt(ours.resourcesPerKey / baseline.resourcesPerKey, 2)],
    ['resources per key on average at the largest N under 500 resources', fmt(ours.resourcesPerKeyAtMax, 3), fmt(baseline.resourcesPerKeyAtMax, 3), fmt(ours.resourcesPerKeyAtMax / baseline.resourcesPerKeyAtMax, 2)],
    ['fixed resources per stack (ours: function, role, policy; baseline: function, role)', fmt(ours.fixedResources, 0), fmt(baseline.fixedResources, 0), ''],
    ['template bytes per additional key (N = 1 → 100)', int(ours.bytesPerKey), int(baseline.bytesPerKey), fmt(bytesRatio, 2)],
    ['the same, minified JSON', int(ours.minifiedBytesPerKey), int(baseline.minifiedBytesPerKey), fmt(ours.minifiedBytesPerKey / baseline.minifiedBytesPerKey, 2)],
    ['template bytes per key from N = 1 to the largest N under 500 resources', int(ours.bytesPerKeyToMax), int(baseline.bytesPerKeyToMax), fmt(ours.bytesPerKeyToMax / baseline.bytesPerKeyToMax, 2)],
    ['template bytes per key (N = 1 → 100) with `@aws-cdk/aws-iam:minimizePolicies` on', int(ours.bytesPerKeyMinimized), int(baseline.bytesPerKeyMinimized), fmt(ours.bytesPerKeyMinimized / baseline.bytesPerKeyMinimized, 2)],
    ['template bytes per key, keys defined in the stack (keys\' own bytes excluded)', int(ours.sameStackBytesPerKey), int(baseline.sameStackBytesPerKey), fmt(sameStackBytesRatio, 2)],
    ['the same, keys with a custom key policy that does not trust the account', int(ours.sameStackCustomPolicyBytesPerKey ?? NaN), int(baseline.sameStackCustomPolicyBytesPerKey ?? NaN), fmt(customPolicyRatio, 2)],
    ['resources per key, keys defined in the stack (AWS::KMS::Key excluded)', fmt(ours.sameStackResourcesPerKey, 0), fmt(baseline.sameStackResourcesPerKey, 0), ''],
    ['Lambda functions per stack', ours.rows[0].functions, baseline.rows[0].functions, ''],
    ['IAM roles per stack', ours.rows[0].roles, baseline.rows[0].roles, ''],
    ['role inline-policy characters per additional key (N = 10 → 100)', fmt(ours.iamCharsPerKey, 0), fmt(baseline.iamCharsPerKey, 0), fmt(ours.iamCharsPerKey / baseline.iamCharsPerKey, 2)],
    [`most keys per stack under ${MAX_RESOURCES} resources`, ours.maxByResources.keys, baseline.maxByResources.keys, fmt(keysRatio, 2)],
    ['most keys one stack can deploy (500 resources and IAM\'s quotas)', ours.maxDeployable.keys, baseline.maxDeployable.keys, fmt(deployRatio, 2)],
    ['the same with `@aws-cdk/aws-iam:minimizePolicies` on', ours.maxDeployableMinimized.keys, baseline.maxDeployableMinimized.keys, fmt(ours.maxDeployableMinimized.keys / baseline.maxDeployableMinimized.keys, 2)],
  ])}

The limits are found by synthesis, not extrapolated: a binary search for the largest N that synthesizes and passes the
check. What stops N + 1 — ours: ${nextText(ours.maxByResources.next)}${ours.maxDeployable.keys !== ours.maxByResources.keys ? ` (deployable: ${nextText(ours.maxDeployable.next)})` : ''};
baseline: ${nextText(baseline.maxByResources.next)} (deployable: ${nextText(baseline.maxDeployable.next)}).

Keys defined in the same stack (\`kms.Key\` with Origin EXTERNAL): resources and bytes are those of the stack with
keys and revocations minus those of the stack with the keys alone, so a key-policy statement our construct adds to
a key counts as ours. It adds one only when the key policy does not already let the account's IAM policies grant the
handler's actions: not under \`kms.Key\`'s default policy (the account root is allowed \`kms:*\`), but under a custom
policy without that statement (here: one naming an administrator role only):

${table(['N keys', 'ours: resources / bytes added', 'baseline: resources / bytes added', 'custom key policy, ours', 'custom key policy, baseline'],
    ours.sameStack.map((o, i) => [o.keys, `${o.resources} / ${int(o.bytes)}`, `${baseline.sameStack[i].resources} / ${int(baseline.sameStack[i].bytes)}`,
      ours.sameStackCustomPolicy ? `${ours.sameStackCustomPolicy[i].resources} / ${int(ours.sameStackCustomPolicy[i].bytes)}` : '—',
      baseline.sameStackCustomPolicy ? `${baseline.sameStackCustomPolicy[i].resources} / ${int(baseline.sameStackCustomPolicy[i].bytes)}` : '—']))}

**What it means for a user.**
- Each protected key costs ${oneResourcePerKey ? 'one resource with us' : `one resource with us up to 100 keys, plus a customer managed policy for every further ${fmt((oursAtMax.keys - 100) / Math.max(1, oursAtMax.byType['AWS::IAM::ManagedPolicy'] ?? 0), 0)} or so (${fmt(ours.resourcesPerKeyAtMax, 3)} resources per key on average at ${ours.maxByResources.keys} keys)`},
  and two with the baseline (a \`Custom::AWS\` plus an \`AWS::IAM::Policy\` of its own). Both need one Lambda function and one
  role per stack. Goal ${oneResourcePerKey ? yes(true) : `${yes(true)} up to 100 keys per stack, and missed by a hair beyond (the managed policies keep a large stack within IAM's quotas, see below)`}.
- Per key, our template grows by ${int(ours.bytesPerKey)} bytes against ${int(baseline.bytesPerKey)} (${fmt(bytesRatio, 2)}×): the goal of at most half is
  ${yes(bytesRatio <= 0.5)} for keys imported by ARN. With \`kms.Key\`s defined in the same stack (default key policy) the ratio is
  ${fmt(sameStackBytesRatio, 2)}×: ${sameStackBytesRatio <= 0.5 ? 'goal **met** there too' : '**more than half: the goal is missed for same-stack keys**'}. Under a custom key policy that does not trust the
  account, our construct adds a key-policy statement to each key (without it the handler could not act on the key at
  all; CDK's own \`grant\` would not add one, since \`kms.Key\` assumes the account is trusted) and the ratio becomes
  ${fmt(customPolicyRatio, 2)}×: the price of a handler that works under that policy. Template size matters only near CloudFormation's
  1 MB template limit, far above either side here.
- Under CloudFormation's ${MAX_RESOURCES}-resource limit one stack holds ${ours.maxByResources.keys} of our revocations against ${baseline.maxByResources.keys} baseline ones
  (${fmt(keysRatio, 2)}×, goal ${yes(keysRatio >= 1.5)}).
- **For the baseline, the 500 resources are not what binds first.** Every AWS::IAM::Policy attached to a role is an
  inline policy of that role, and IAM caps their total at ${int(MAX_ROLE_INLINE_POLICY_CHARS)} characters per role ("Maximum policy size of 10240
  bytes exceeded for role", a known failure of many AwsCustomResources in one stack, aws/aws-cdk#31975). The baseline
  spends ${fmt(baseline.iamCharsPerKey, 0)} characters per key on the singleton's role and fails to deploy past **${baseline.maxDeployable.keys} keys** per stack
  (${baseline.maxDeployableMinimized.keys} with \`minimizePolicies\`): a user with more keys must split them over stacks.
  ${ours.maxDeployable.keys >= ours.maxByResources.keys
    ? `Ours deploys all ${ours.maxDeployable.keys} keys its ${MAX_RESOURCES} resources allow: its inline policy lists each key ARN once (${fmt(ours.iamCharsPerKey, 0)} characters per key) for
  the first keys, and further keys go to customer managed policies (${oursAtMax.byType['AWS::IAM::ManagedPolicy'] ?? 0} at ${oursAtMax.keys} keys, the largest ${int(oursAtMax.maxManagedPolicyChars)}
  characters, ${oursAtMax.maxManagedPoliciesPerRole} managed policies on the role), so one stack of ours holds ${fmt(deployRatio, 1)}× the keys of one baseline stack.`
    : `Ours fails past **${ours.maxDeployable.keys} keys** in one stack (${ours.maxDeployable.next}), ${fmt(deployRatio, 1)}× the baseline's.`}
  Figures for a 9-character Region name such as eu-west-1; longer names cost a few characters more per key. The test
  bed itself does not model IAM: these checks are made here, on the synthesized templates.
`);

  // ---- 2 ------------------------------------------------------------------------------------
  const st = r.synthTime;
  out.push(`## 2. Synthesis time

\`new App\` + ${st.keys} revocations + \`app.synth()\` in this process, ${st.runs} runs per side interleaved after one
discarded warm-up each (module loading excluded).

${table(['N = ' + st.keys, 'median', 'min', 'max'], [
    ['ours', `${int(st.oursMedianMs)} ms`, `${int(Math.min(...st.ours))} ms`, `${int(Math.max(...st.ours))} ms`],
    ['baseline', `${int(st.baselineMedianMs)} ms`, `${int(Math.min(...st.baseline))} ms`, `${int(Math.max(...st.baseline))} ms`],
    ['ours / baseline', ratio(st.oursMedianMs, st.baselineMedianMs), '', ''],
  ])}

**What it means for a user.** ${st.keys} of our revocations synthesize in ${fmt(st.ratio, 2)}× the time of ${st.keys} AwsCustomResources
(${int(st.oursMedianMs)} against ${int(st.baselineMedianMs)} ms): each AwsCustomResource adds a policy of its own and serializes its SDK calls,
ours adds one resource and an ARN to a shared policy. At these sizes the difference is a fraction of a second in a
\`cdk synth\` that takes seconds; no goal was set.
`);

  // ---- 3 ------------------------------------------------------------------------------------
  const spreadCell = (x: { median: number; p10: number; p90: number }) => `${int(x.median)} (${int(x.p10)}–${int(x.p90)})`;
  out.push(`## 3. Handler cold start

Each sample is a fresh Node.js ${cs.nodeVersion} process (bench/coldstart-worker.js) that \`require\`s the handler module
found in the synthesized cloud assembly, then invokes it once with a stack-deletion Delete event for a key holding one
imported material, against the KMS double (ours also reads the stack status from the CloudFormation double), and
answers to an HTTPS ResponseURL (both sides pay a TLS handshake, as against S3). Timed inside the child with hrtime;
${cs.samplesPerVariant} samples per variant, interleaved, after one discarded run each; every sample checked (answer
SUCCESS, material revoked): failures ${cs.variants.map((x) => `${x.variant} ${x.failures}`).join(', ')}.

${table(['handler', 'runtime in template', 'memory', 'files in asset', 'raw', 'gzip -9', 'JavaScript loaded at cold start'], [
    ['ours', ourBundle.runtimeInTemplate, `${ourBundle.memoryMb} MB`, ourBundle.files, kib(ourBundle.rawBytes), kib(ourBundle.gzipBytes), `${oursCurrent.loadedFiles} file, ${kib(oursCurrent.loadedBytes)}`],
    ['baseline', baseBundle.runtimeInTemplate, `${baseBundle.memoryMb} MB`, baseBundle.files, kib(baseBundle.rawBytes), kib(baseBundle.gzipBytes), `${base.loadedFiles} files, ${kib(base.loadedBytes)} (its handler + the runtime's SDK)`],
  ])}

${table(['variant (ms; median and p10–p90)', 'module load', 'first invocation', 'load + invocation', 'Node.js boot', 'fork → report', 'API calls', 'RSS'],
    [oursCurrent, base, oursAll].map((x) => [
      x.variant === 'baseline' ? 'baseline' : `ours, scope ${x.variant === 'ours-all' ? 'ALL' : 'CURRENT'}`,
      spreadCell(x.loadMs), spreadCell(x.invokeMs), `**${spreadCell(x.loadPlusInvokeMs)}**`, int(x.bootMs), int(x.wallMs),
      `${x.kmsCallsPerSample} KMS + ${x.cfnCallsPerSample} CloudFormation`, `${fmt(x.rssMiB, 0)} MiB`,
    ]))}

How the baseline was run: its handler (aws-cdk-lib's \`aws-custom-resource-handler\`) \`require\`s \`@aws-sdk/client-kms\` at
its first invocation, expecting the Lambda runtime's SDK; NODE_PATH points at the repository's node_modules, the way
the runtime's NODE_PATH provides /var/runtime/node_modules (both sides get the same NODE_PATH; ours bundles its SDK and
ignores it). It answers with \`https.request\` to the ResponseURL's host on port 443 whatever the URL says, so the
benchmark's ResponseURL server listens with TLS on port 443 of a random 127.x.y.z address with a throwaway
certificate trusted through NODE_EXTRA_CA_CERTS (bench/https-response-server.ts). Its template asks for nodejs22.x;
no Node.js 22 is installed here, so both handlers run on the same Node.js ${cs.nodeVersion}, which isolates the code from the runtime.

**What it means for a user.** The first revocation after an idle period pays this once per Lambda sandbox.
In total ours takes ${int(oursCurrent.loadPlusInvokeMs.median)} ms against the baseline's ${int(base.loadPlusInvokeMs.median)} ms:
${coldDelta >= 0 ? `${int(coldDelta)} ms (${fmt((coldDelta / base.loadPlusInvokeMs.median) * 100, 0)}%) slower` : `${int(-coldDelta)} ms (${fmt((-coldDelta / base.loadPlusInvokeMs.median) * 100, 0)}%) faster`},
so the goal "not slower" is ${yes(coldMet)} on this machine. Both pay mostly for loading the AWS SDK v3: ours at \`require\`
time (${int(oursCurrent.loadMs.median)} ms, one ${kib(ourBundle.handlerRawBytes)} bundle), the baseline inside its first invocation
(${int(base.invokeMs.median)} ms, of which loading @aws-sdk/client-kms from node_modules alone takes about ${int(cs.loadSplit.kmsClientMs)} ms).
Where the load time goes (\`require\` alone, median of ${cs.loadSplit.runs} fresh processes):

${table(['module', 'require time'], [
    ['our bundle (SDK core, KMS client, CloudFormation client, handler)', `${int(cs.loadSplit.oursBundleMs)} ms`],
    ['@aws-sdk/client-kms from node_modules (what the baseline loads)', `${int(cs.loadSplit.kmsClientMs)} ms`],
    ['@aws-sdk/client-cloudformation required next, in the same process (what a second client adds)', `${int(cs.loadSplit.cloudFormationClientAddsMs)} ms`],
  ])}

${coldTie ? `A difference of ${int(Math.abs(coldDelta))} ms is within 5% and within the spread between samples (p10–p90 above): a tie, whose sign can flip from one
run to the next. Ours carries a second SDK client (CloudFormation, about ${int(cfnLoadMs)} ms of loading when required on its own) and makes
two more calls (DescribeStacks, and DescribeKey before deleting, which make the decision rollback-safe), and still breaks even.`
    : coldMet ? 'Ours is not slower despite its second SDK client and its two extra reads.'
      : `Our handler carries a second SDK client: the CloudFormation client adds about ${int(cfnLoadMs)} ms of loading when required on its own,
against a gap of ${int(coldDelta)} ms; the invocation also makes two more calls (DescribeStacks, and DescribeKey before deleting, which make
the decision rollback-safe). The gap is of the order of the spread between samples (p10–p90 above).`}
The reads are cheap against local doubles; in AWS each is one more network round trip within the Region. A user
waits this once per cold sandbox, during a deletion that CloudFormation lets run for minutes. Scope ALL adds a
ListKeyRotations call (${int(oursAll.loadPlusInvokeMs.median)} ms in total). In Lambda, CPU is given in proportion to memory: ours is
configured with ${ourBundle.memoryMb} MB, the baseline with ${baseBundle.memoryMb} MB, so in AWS the baseline's CPU-bound part (its SDK load) would
get half the CPU ours gets; this machine gives both the same cores, so the figures above compare the code, not the
configured sandboxes.
`);

  // ---- 4 ------------------------------------------------------------------------------------
  const tpRows = tp.map((t) => [
    t.label, t.stacks, where(t), `**${s(t.wallMs)} s**`, `${fmt(t.lowerBoundMs / 1000, 0)} s`, boundRatio(t),
    `${t.success} / **${t.failed}**${t.noResponse ? ` / ${t.noResponse} no answer` : ''}`, `${t.keysRevoked} / ${t.keys}`,
    `${fmt(t.callsPerKey, 2)} (${fmt(t.successfulCallsPerKey, 2)})`,
    `${t.kms.DeleteImportedKeyMaterial?.total ?? 0} (${t.kms.DeleteImportedKeyMaterial?.throttled ?? 0} throttled)`,
    `${s(t.firstDeleteMs)} → ${s(t.lastDeleteMs)} s`, `${s(t.invocationMedianMs)} / ${s(t.invocationMaxMs)} s`, t.coldStarts,
  ]);
  const opsRows = tp.map((t) => [
    `${t.label}, ${where(t)}`,
    Object.entries({ ...t.kms, ...Object.fromEntries(Object.entries(t.cfn).map(([k, val]) => [`cloudformation:${k}`, val])) })
      .map(([op, c]) => `${op} ${c.total}${c.throttled ? ` (${c.throttled} throttled)` : ''}${c.otherErrors ? ` (${c.otherErrors} other errors)` : ''}`).join(', '),
  ]);
  out.push(`## 4. Revocation throughput

${nKeys} keys imported by ARN, each pre-created in the KMS double with one imported material, one revocation each;
the stack is created, the Lambda containers that served the creates are discarded (in AWS a deletion comes long after
the create, to cold sandboxes), then the stack is deleted and CloudFormation sends all ${nKeys} Deletes at once (one
dependency wave), played by the test bed's StackEngine through the real handler bundles run by LambdaRunner in
Node.js processes. The KMS double enforces its default ${DELETE_QUOTA_PER_SECOND} DeleteImportedKeyMaterial requests per second
(sliding one-second window, per account and Region), so ${nKeys} revocations need at least ${fmt(bound, 0)} s.
${(tpBase[0]?.stacks ?? 1) > 1 ? `The baseline cannot hold ${nKeys} keys in one stack (${baseline.maxByResources.keys} at most under ${MAX_RESOURCES} resources), so its keys are spread over ${tpBase[0]?.stacks} stacks deleted at the
same time, sharing the containers evenly; the quota is per account and Region, so they compete for it as in AWS.` : 'Both sides hold all the keys in one stack.'}
The Lambda function is played two ways. *N containers*: N handler processes (LambdaRunner), each serving Delete after
Delete (warm reuse). *One sandbox per Delete*: Lambda scaled out as far as it goes, every Delete in a sandbox of its own
(its own module instance of our bundle, SDK clients and retry state), run in this benchmark process (bench/sandboxes.ts);
ours only. In both, the sandboxes' init (Node.js start and module load) runs before the clock: Lambda initialises
sandboxes side by side, while this ${r.machine.nproc}-CPU machine would queue dozens of inits on its CPUs and measure that queue
instead of the quota. §3 measures init; in AWS one init (about ${int(oursCurrent.bootMs + oursCurrent.loadMs.median)} ms here: Node.js start and our module) comes on top of the
wall times below. What stays in the clock is everything from the first invocation on, the SDK's first requests
included. Wall time runs from the stack deletion's start until every Delete was answered.

${table(['run', 'stacks', 'Lambda played as', 'wall time', 'lower bound', 'ratio', 'SUCCESS / FAILED', 'keys revoked', 'API calls per key: sent (successful)', 'DeleteImportedKeyMaterial sent', 'first → last successful delete', 'invocation median / max', 'cold starts'], tpRows)}

API calls during the deletion, by operation (KMS, and CloudFormation for ours):

${table(['run', 'calls'], opsRows)}

**What it means for a user.**
- **FAILED.** ${zeroFailed ? `Every one of our ${oursRuns.length} runs answered SUCCESS for all ${nKeys} Deletes and every key's material was revoked: goal **met**.` : '**Some of our Deletes failed: goal not met.**'}
  A FAILED Delete stops the stack in DELETE_FAILED with that key's material still in place. The baseline, whose
  SDK client gives up after its default 3 attempts, ${tpBase.map((t) => `failed ${t.failed} of ${t.keys} with ${where(t)}`).join(' and ')}
  (\`ThrottlingException\`), leaving those keys usable until someone retries the stack deletion.
- **Wall time.** ${oursRuns.map((t) => `${t.label} with ${where(t)} took ${s(t.wallMs)} s, ${boundRatio(t)} the ${fmt(t.lowerBoundMs / 1000, 0)} s bound (${within(t) ? 'within' : '**beyond**'} 1.3×)`).join('; ')}.
  Where the time goes, per run: the first revocation lands after the first invocations' reads (their first SDK
  requests, all competing for this machine's ${r.machine.nproc} CPUs: in Lambda each sandbox has its own), then revocations proceed
  somewhat under the quota (throttled requests and their backoffs leave gaps), then comes a tail of the last few keys:

${table(['run', 'containers', 'first successful delete', 'from it to the end (ratio to the bound)', '95% of keys revoked at', 'rate in between', 'tail: last 5%', 'slowest invocation'],
    tp.map((t) => Number.isFinite(t.p95DeleteMs)
      ? [t.label, where(t), `${s(t.firstDeleteMs)} s`, `${s(t.wallMs - t.firstDeleteMs)} s (${fmt((t.wallMs - t.firstDeleteMs) / t.lowerBoundMs, 2)}×)`, `${s(t.p95DeleteMs)} s`,
        `${fmt((Math.ceil(0.95 * t.keys) - 1) / ((t.p95DeleteMs - t.firstDeleteMs) / 1000), 1)}/s of ${DELETE_QUOTA_PER_SECOND}`,
        `${s(t.wallMs - t.p95DeleteMs)} s`, `${s(t.invocationMaxMs)} s`]
      : [t.label, where(t), `${s(t.firstDeleteMs)} s`, `${s(t.wallMs - t.firstDeleteMs)} s`, `never (${t.keysRevoked} of ${t.keys} revoked)`,
        `${fmt((t.keysRevoked - 1) / ((t.lastDeleteMs - t.firstDeleteMs) / 1000), 1)}/s of ${DELETE_QUOTA_PER_SECOND} (to the last)`, '—', `${s(t.invocationMaxMs)} s`]))}

The tail is retry backoff: a throttled invocation waits between attempts (jittered, growing with each attempt, up to the
handler's cap: see lambda/clients.ts), and while the last few wait, the quota sits idle; the slowest invocation shows the
longest such wait. More sandboxes mean more throttling; on this machine they also mean a later start, since their
first invocations share ${r.machine.nproc} CPUs (the first column): counted from the first successful delete, ours took
${oursRuns.map((t) => `${fmt((t.wallMs - t.firstDeleteMs) / t.lowerBoundMs, 2)}× the bound (${t.label}, ${where(t)})`).join(', ')}. ${tpBase.length ? 'The baseline finishes near the bound only because its throttled Deletes give up after 3 attempts (FAILED).' : ''}

- **API calls per key.** With scope CURRENT a revocation makes at most 3 calls: cloudformation:DescribeStacks (is
  this a stack deletion or a rollback?), kms:DescribeKey (which state is the key in: the log says whether it was already
  PendingImport or pending deletion) and kms:DeleteImportedKeyMaterial: goal **met**, read as the calls the handler makes
  per key (the goal names scope CURRENT, and only the handler's own calls depend on the scope). A warm container
  remembers a stack deletion for a minute, so DescribeStacks is called about once per container
  (${current.map((t) => `${t.cfn.DescribeStacks?.total ?? 0} times with ${where(t)}`).join(', ')}) and a key costs
  ${current.map((t) => `${fmt(t.successfulCallsPerKey, 2)} successful calls (${where(t)})`).join(', ')}.
  Throttled DeleteImportedKeyMaterial retries come on top, and they are not the handler's to choose: they grow with the
  number of sandboxes sharing the 15/s quota, each backing off on its own (the SDK's adaptive mode, jittered) without
  knowing how many others there are: ${current.map((t) => `${fmt(t.callsPerKey, 2)} calls sent per key with ${where(t)}`).join(', ')}.
  Fewer would take coordination between sandboxes (or fewer sandboxes, and so more time): with ${nKeys} Deletes arriving at
  once, the first attempts alone are ${nKeys} calls for a quota that admits ${DELETE_QUOTA_PER_SECOND} a second.
  Scope ALL adds kms:ListKeyRotations and deletes by material ID.
  The reads are what let the handler tell a stack deletion from a rollback; the baseline makes one call per key and
  revokes on every Delete, rollbacks included.

${renderHeadroom(r.retryHeadroom ?? [])}
## What the test bed does not model (read the figures with these in mind)

- IAM policy-size quotas: the test bed does not check them; §1 does, on the templates. ${ours.maxDeployable.keys >= nKeys ? `Ours deploys ${nKeys} keys in one stack` : `Ours cannot deploy ${nKeys} keys in one stack (${ours.maxDeployable.keys} at most)`};
  the baseline at most ${baseline.maxDeployable.keys} per stack, so in AWS its ${nKeys} keys would need ${Math.ceil(nKeys / baseline.maxDeployable.keys)} stacks rather than the ${tpBase[0]?.stacks ?? 1} played here
  (the KMS quota is per account and Region, so the throughput bound is the same).
- Lambda's CPU share per memory size, and its real sandbox start (runtime init, code download), which add the same
  order of time to both sides; here both handlers run on the same cores and Node.js major.
- CloudFormation's own pacing of ${nKeys} simultaneous custom-resource operations, and quotas on its read APIs (the double
  does not throttle DescribeStacks).
- How far Lambda scales out for a stack deletion (up to the account's concurrency, for CloudFormation's pace of
  sending Deletes): the two ways of playing it above bracket it. With warm containers a container reads the stack status
  once; with one sandbox per Delete every Delete reads it.
- The test bed's Lambda context has no \`logStreamName\`; the baseline uses it as the PhysicalResourceId of its FAILED
  answers, so those answers carry none (real Lambda sets it). The counts above are not affected.
`);
  return out.join('\n');
}

/** Wall time over the lower bound; three decimals next to the 1.3 goal, so that the verdict can be read from it. */
function boundRatio(t: ThroughputResult): string {
  const x = t.wallMs / t.lowerBoundMs;
  return `${fmt(x, Math.abs(x - 1.3) < 0.01 ? 3 : 2)}×`;
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
function renderHeadroom(runs: HeadroomResult[]): string {
  if (runs.length === 0) return '';
  const limit = runs[0].maxAttempts;
  return `### Retry headroom: several full stacks destroyed together

The quota is per account and Region, so \`cdk destroy --all\` on several stacks of ${runs[runs.length - 1].keys >= 980 ? '490 revocations' : 'revocations'} each sends all
their Deletes into one 15/s queue. Here N DeleteImportedKeyMaterial calls start at once, each from a KMS client of
its own configured exactly as the handler's (\`newKmsClient\` in lambda/clients.ts: the same retry strategy, backoff and
attempt limit, ${limit} attempts), against the KMS double (bench/retry-headroom.ts). What ends the handler's retries is its
time budget (by default 300 s per Delete); the attempt limit must not end them sooner.

${table(['N at once', 'FAILED', 'wall time', 'lower bound', 'attempts per key: median / p99 / max', 'attempt limit'],
    runs.map((h) => [h.keys, `**${h.failed}**`, `${s(h.wallMs)} s`, `${fmt(h.lowerBoundMs / 1000, 0)} s`, `${h.attemptsMedian} / ${h.attemptsP99} / ${h.attemptsMax}`, h.maxAttempts]))}

**What it means for a user.** ${runs.every((h) => h.failed === 0) ? `Every call succeeded: the unluckiest key needed ${Math.max(...runs.map((h) => h.attemptsMax))} attempts, within the limit of ${limit}.` : '**Some calls ran out of attempts**: those stacks would stop in DELETE_FAILED.'}
With the earlier limit of 25 attempts, 980 at once left 54 keys FAILED (measured while choosing the limit) although
the queue drained in about 65 s. Past these sizes nothing was measured: a queue of N revocations needs about N/15 s of
each Delete's budget (\`serviceTimeout\`, 300 s by default), and the attempts the unluckiest key needs grow with N.
`;
}
