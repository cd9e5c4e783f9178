/**
 * Benchmark 4: revocation throughput. N custom resources, one per key imported by ARN (each key
 * pre-created in the KMS double with one imported material), are created, then the stack is
 * deleted and CloudFormation sends all N Deletes at once (one dependency wave), played by the test
 * bed's StackEngine through the real handler bundles run by LambdaRunner, against the KMS double
 * enforcing its default 15 requests/s on DeleteImportedKeyMaterial.
 *
 * The Lambda containers that served the creates are discarded before the deletion: in AWS a
 * stack is deleted long after it was created, so the deletion meets cold sandboxes. Their init
 * (Node.js start, module load) runs before the clock, side by side as in Lambda; the cold-start
 * benchmark measures it. Or, with `sandboxPerDelete`, one sandbox per Delete (bench/sandboxes.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { CloudFormationDouble } from '../test/doubles/cloudformation-double';
import { KMS_DEFAULT_QUOTAS, KmsDouble } from '../test/doubles/kms-double';
import { ACCOUNT, handlerFunction, REGION, synthesize } from '../test/lifecycle/assembly';
import { StackEngine } from '../test/lifecycle/engine';
import { InvocationResult, LambdaRunner } from '../test/lifecycle/lambda-runner';
import { ResponseServer } from '../test/support/response-server';
import { KeyMaterialScope } from '../lib/index';
import { buildApp, Side } from './baseline';
import { BENCH_RUNTIME } from './coldstart';
import { HttpsResponseServer } from './https-response-server';
import { InProcessSandboxes, withSandboxEnvironment, withSilencedConsole } from './sandboxes';
import { progress } from './stats';

const ROOT = path.join(__dirname, '..');
export const DELETE_QUOTA_PER_SECOND = KMS_DEFAULT_QUOTAS.DeleteImportedKeyMaterial;

export interface ThroughputOptions {
  readonly side: Side;
  readonly scope?: KeyMaterialScope;
  readonly keys: number;
  /** Lambda containers at once, all stacks together (LambdaRunner's maxConcurrency, split evenly). */
  readonly concurrency: number;
  /** Stacks the keys are spread over, deleted at the same time (default 1). */
  readonly stacks?: number;
  /**
   * Ours only: every Delete gets a sandbox of its own, in this process, initialised before the
   * clock (bench/sandboxes.ts), instead of `concurrency` container processes.
   */
  readonly sandboxPerDelete?: boolean;
  /** A read quota on the CloudFormation double during the deletion, per operation (requests per second); off when unset. */
  readonly cfnReadQuotaPerSecond?: number;
  /** Which part of the benchmark the run belongs to (default `at-once`). */
  readonly series?: ThroughputSeries;
  /** Ours only: the revocations' `serviceTimeout` (the construct's default, 5 minutes, when unset). */
  readonly serviceTimeout?: Duration;
}

/**
 * `at-once`: the N keys of the main test (300 in a full run) deleted at once; `many-stacks`: the
 * keys of several full stacks destroyed together (980 in a full run, issue 13 goal 1);
 * `congested-reads`: fresh sandboxes under a lowered CloudFormation read quota, with the default
 * and a raised `serviceTimeout` (what a Delete's read patience does when the reads queue).
 */
export type ThroughputSeries = 'at-once' | 'many-stacks' | 'congested-reads';

export interface OpCount {
  readonly total: number;
  readonly ok: number;
  readonly throttled: number;
  readonly otherErrors: number;
}

export interface ThroughputResult {
  readonly label: string;
  /** Absent from records made before there was more than one: `at-once`. */
  readonly series?: ThroughputSeries;
  /**
   * When the run was repeated: every repetition's wall time (ms), lowest first. The figures of
   * this result are the median repetition's (bench/run.ts).
   */
  readonly repeatWallMs?: number[];
  readonly side: Side;
  readonly scope?: KeyMaterialScope;
  readonly keys: number;
  readonly stacks: number;
  readonly concurrency: number;
  /** How the Lambda function was played: container processes, or one in-process sandbox per Delete. */
  readonly model?: 'containers' | 'sandbox-per-delete';
  readonly createStatus: string;
  readonly deleteStatus: string;
  /** Wall time of the stack deletion (all N Deletes answered). */
  readonly wallMs: number;
  /** Successful DeleteImportedKeyMaterial calls / quota: the least time the deletion can take. */
  readonly lowerBoundMs: number;
  readonly success: number;
  readonly failed: number;
  readonly noResponse: number;
  readonly timedOut: number;
  readonly crashed: number;
  /** Keys whose every material ended PENDING_IMPORT. */
  readonly keysRevoked: number;
  readonly kms: Record<string, OpCount>;
  readonly cfn: Record<string, OpCount>;
  /** KMS + CloudFormation requests sent during the deletion (throttled ones included), per key. */
  readonly callsPerKey: number;
  /** The same, successful requests only. */
  readonly successfulCallsPerKey: number;
  /** First and last successful DeleteImportedKeyMaterial, ms after the deletion started. */
  readonly firstDeleteMs: number;
  readonly lastDeleteMs: number;
  /** When 95% of the keys had their successful DeleteImportedKeyMaterial, ms after the deletion started. */
  readonly p95DeleteMs: number;
  /** Successful and throttled DeleteImportedKeyMaterial calls in each second of the deletion. */
  readonly okPerSecond: number[];
  readonly throttledPerSecond: number[];
  /** Containers started for the deletion (cold starts). */
  readonly coldStarts: number;
  /** Invocation durations (ms): median and max. */
  readonly invocationMedianMs: number;
  readonly invocationMaxMs: number;
  /** A few FAILED reasons, distinct. */
  readonly failedReasons: string[];
  /** The CloudFormation double's read quota during the deletion (per operation, requests per second), if any. */
  readonly cfnReadQuotaPerSecond?: number;
  /** Keys in each stack deleted at once. */
  readonly keysPerStack?: number[];
  /** The revocations' serviceTimeout (s), when the run set one. */
  readonly serviceTimeoutSeconds?: number;
  /** The handler's decision lines during the deletion, by decision (revoked, skipped, failed, refused, ...). */
  readonly decisions?: Record<string, number>;
  /** Per key: CloudFormation requests sent (throttled included) and successful; KMS the same. */
  readonly cfnSentPerKey?: number;
  readonly cfnOkPerKey?: number;
  readonly kmsSentPerKey?: number;
  readonly kmsOkPerKey?: number;
}

function countOps(calls: Array<{ op: string; status: number; errorType?: string }>): Record<string, OpCount> {
  const out: Record<string, { total: number; ok: number; throttled: number; otherErrors: number }> = {};
  for (const c of calls) {
    const o = (out[c.op] ??= { total: 0, ok: 0, throttled: 0, otherErrors: 0 });
    o.total++;
    if (c.status === 200) o.ok++;
    else if (c.errorType === 'ThrottlingException' || c.errorType === 'Throttling') o.throttled++;
    else o.otherErrors++;
  }
  return out;
}

const sum = (r: Record<string, OpCount>, f: (o: OpCount) => number) => Object.values(r).reduce((a, o) => a + f(o), 0);

/** The handler's CloudFormation reads: what a read quota applies to (the double's read operations). */
export const CFN_READ_OPERATIONS = ['DescribeStacks', 'DescribeStackEvents', 'DescribeStackResource', 'GetTemplate', 'ListStackResources'] as const;

/**
 * The read quota to play, requests per second per operation for the account and Region: the test
 * bed's default (test/lifecycle/testbed.ts CFN_READ_QUOTA_PER_SECOND, a GUESS of 10/s: AWS
 * documents no figure) when it defines one, else the benchmark's own setting of the same GUESS.
 */
export function cfnReadQuota(): { perSecond: number; source: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const testbed = require('../test/lifecycle/testbed') as { CFN_READ_QUOTA_PER_SECOND?: unknown };
  if (typeof testbed.CFN_READ_QUOTA_PER_SECOND === 'number') {
    return { perSecond: testbed.CFN_READ_QUOTA_PER_SECOND, source: 'the test bed\'s default (test/lifecycle/testbed.ts CFN_READ_QUOTA_PER_SECOND)' };
  }
  return { perSecond: 10, source: 'the benchmark\'s own setting (the test bed defines none)' };
}

/** Keys per stack for `keys` keys over `stacks` stacks (as even as possible). */
function split(keyArns: string[], stacks: number): string[][] {
  const out: string[][] = [];
  let from = 0;
  for (let i = 0; i < stacks; i++) {
    const n = Math.floor(keyArns.length / stacks) + (i < keyArns.length % stacks ? 1 : 0);
    out.push(keyArns.slice(from, from + n));
    from += n;
  }
  return out;
}

type Runner = { invoke(event: unknown): Promise<InvocationResult>; useEnvironment(environment: Record<string, unknown> | undefined): void };

/** The environment CloudFormation resolved for the stack's one function (REVOCATION_STACK_ID from AWS::StackId). */
function deployedEnvironment(engine: StackEngine): Record<string, unknown> | undefined {
  const fn = [...engine.resources.values()].find((r) => r.type === 'AWS::Lambda::Function');
  return fn?.properties.Environment?.Variables;
}

/**
 * One deletion of `o.keys` revocations spread over `o.stacks` stacks, all deleted at once in one
 * account and Region (one KMS quota, one CloudFormation double), each stack with its own function:
 * `o.concurrency` container processes shared evenly by the stacks' functions, or one in-process
 * sandbox per Delete.
 */
export async function measureThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const stacks = o.stacks ?? 1;
  const label = o.side === 'ours' ? `ours, scope ${o.scope ?? KeyMaterialScope.ALL}`
    : o.side === 'baseline' ? 'baseline (AwsCustomResource)' : 'baseline (AwsCustomResource, onDelete only)';
  const sandboxes = o.sandboxPerDelete === true;
  if (sandboxes && o.side !== 'ours') throw new Error('sandboxPerDelete runs our bundle only');
  progress(`throughput: ${label}, N = ${o.keys} in ${stacks} stack(s), ${sandboxes ? 'one sandbox per Delete' : `${o.concurrency} containers`}`
    + `${o.cfnReadQuotaPerSecond ? `, CloudFormation reads ${o.cfnReadQuotaPerSecond}/s per operation` : ''}`);
  // In-process sandboxes cannot trust a certificate after this process started (NODE_EXTRA_CA_CERTS
  // is read at start): they answer over plain HTTP, as in the test bed.
  const [kms, cfn, responses] = await Promise.all([
    KmsDouble.start({ defaultAccount: ACCOUNT, defaultRegion: REGION }),
    CloudFormationDouble.start(),
    sandboxes ? ResponseServer.start() : HttpsResponseServer.start(),
  ]);
  const keyArns = Array.from({ length: o.keys }, () => kms.addKey({ origin: 'EXTERNAL', importedMaterials: 1 }));
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
    AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.endpoint,
    // The ResponseURL server is on a loopback address, not S3: the handler accepts it only through
    // this setting, which the construct never passes (L29), as in the test bed.
    REVOCATION_TEST_RESPONSE_ORIGIN: responses.origin,
  };
  const runnerOptions = {
    // The machine's containers are shared evenly by the stacks' functions.
    maxConcurrency: Math.max(1, Math.floor(o.concurrency / stacks)),
    env: {
      ...env,
      // Where the Lambda Node.js runtime provides the AWS SDK v3 (its NODE_PATH has
      // /var/runtime/node_modules): the baseline (installLatestAwsSdk: false) loads it from there.
      // Here: the repository's @aws-sdk packages. Ours bundles its SDK and ignores it.
      NODE_PATH: path.join(ROOT, 'node_modules'),
      ...(responses instanceof HttpsResponseServer ? { NODE_EXTRA_CA_CERTS: responses.caFile } : {}),
    },
  };
  const perStack = split(keyArns, stacks);
  const deployments = perStack.map((arns, i) => {
    const stackName = stacks === 1 ? 'BenchStack' : `BenchStack${i + 1}`;
    const synth = synthesize(buildApp({ side: o.side, keyArns: arns, scope: o.scope, serviceTimeout: o.serviceTimeout }), stackName);
    // The baseline's template asks for nodejs22.x; both run on the Node.js major of ours (RESULTS.md).
    const spec = { ...handlerFunction(synth), runtime: BENCH_RUNTIME };
    const newRunner = (): LambdaRunner | InProcessSandboxes => (sandboxes
      ? new InProcessSandboxes(spec.assetDir, spec.timeoutSeconds * 1000)
      : new LambdaRunner(spec, runnerOptions));
    // The engine keeps its runner; this one forwards to whichever runner is current.
    const holder: { runner: LambdaRunner | InProcessSandboxes } = { runner: newRunner() };
    const forwarding: Runner = {
      invoke: (event) => holder.runner.invoke(event),
      useEnvironment: (environment) => holder.runner.useEnvironment(environment),
    };
    const engine = new StackEngine({ kms, cfn, responses, runner: forwarding, stackName });
    return { synth, spec, engine, holder, newRunner, keys: arns.length };
  });
  const decisionLines: Record<string, number> = {};
  const tally = (line: string) => {
    const j = safeJson(line);
    if (j?.message === 'decision') decisionLines[String(j.decision)] = (decisionLines[String(j.decision)] ?? 0) + 1;
  };
  let counting = false;
  const sandboxEnvironment = { ...env, AWS_REGION: REGION };
  const run = async () => {
    const createStatuses = await Promise.all(deployments.map((d) => d.engine.create(d.synth.template)));
    for (const d of deployments) {
      if (d.holder.runner instanceof LambdaRunner) await d.holder.runner.stop();
      d.holder.runner = d.newRunner();
      // The function's deployed environment before the init: the engine sets the same one at
      // each invocation, which then retires nothing.
      d.holder.runner.useEnvironment(deployedEnvironment(d.engine));
      // Init before the clock, side by side as in Lambda (§3 measures it), where this machine
      // would queue the inits on its CPUs.
      if (d.holder.runner instanceof LambdaRunner) {
        await d.holder.runner.prewarm(runnerOptions.maxConcurrency);
      } else {
        d.holder.runner.prepare(d.keys);
        d.holder.runner.freshPerInvocation = true;
        d.holder.runner.started = 0;
      }
    }
    kms.resetCalls();
    cfn.resetCalls();
    kms.resetQuotas();
    if (o.cfnReadQuotaPerSecond) for (const op of CFN_READ_OPERATIONS) cfn.setReadQuota(op, o.cfnReadQuotaPerSecond);
    const from = deployments.map((d) => d.engine.timeline.length);

    counting = true;
    const started = Date.now();
    const deleteStatuses = await Promise.all(deployments.map((d) => d.engine.deleteStack()));
    const wallMs = Date.now() - started;
    counting = false;

    const deletes = deployments.flatMap((d, i) => d.engine.timeline.slice(from[i]).filter((e) => e.requestType === 'Delete'));
    // Containers: the decision line of each invocation, as the engine recorded it.
    if (!sandboxes) for (const e of deletes) if (e.decision) tally(JSON.stringify(e.decision));
    return summarize({
      o, label, stacks, kms, cfn, keyArns, started, wallMs, deletes, createStatuses, deleteStatuses,
      coldStarts: deployments.reduce((a, d) => a + d.holder.runner.started, 0), model: sandboxes ? 'sandbox-per-delete' : 'containers',
      decisions: decisionLines, keysPerStack: deployments.map((d) => d.keys),
    });
  };
  try {
    if (!sandboxes) return await run();
    // Sandboxes: this process is their environment (endpoints, Region, role credentials), and
    // their log lines are tallied (decision lines) instead of printed.
    return await withSandboxEnvironment(sandboxEnvironment, () => withSilencedConsole(run, (line) => { if (counting) tally(line); }));
  } finally {
    await Promise.all([...deployments.map((d) => (d.holder.runner instanceof LambdaRunner ? d.holder.runner.stop() : undefined)),
      kms.stop(), cfn.stop(), responses.stop()]);
    for (const d of deployments) fs.rmSync(d.synth.assemblyDir, { recursive: true, force: true });
  }
}

function safeJson(line: string): Record<string, any> | undefined {
  try {
    const j = JSON.parse(line);
    return typeof j === 'object' && j !== null ? j : undefined;
  } catch {
    return undefined;
  }
}

type Timeline = StackEngine['timeline'];

interface SummaryInput {
  readonly o: ThroughputOptions;
  readonly label: string;
  readonly stacks: number;
  readonly kms: KmsDouble;
  readonly cfn: CloudFormationDouble;
  readonly keyArns: string[];
  readonly started: number;
  readonly wallMs: number;
  readonly deletes: Timeline;
  readonly createStatuses: string[];
  readonly deleteStatuses: string[];
  readonly coldStarts: number;
  readonly model: 'containers' | 'sandbox-per-delete';
  readonly decisions: Record<string, number>;
  readonly keysPerStack: number[];
}

/** The figures of one deletion, from the engine's timeline and the doubles' call logs. */
function summarize(input: SummaryInput): ThroughputResult {
  const { o, label, stacks, kms, cfn, keyArns, started, wallMs, deletes, createStatuses, deleteStatuses, model, coldStarts, decisions, keysPerStack } = input;
  const kmsOps = countOps(kms.calls);
  const cfnOps = countOps(cfn.calls);
  const okAt = kms.calls.filter((c) => c.op === 'DeleteImportedKeyMaterial' && c.status === 200).map((c) => c.at - started);
  const perSecond = (pick: (c: { status: number; errorType?: string }) => boolean) => {
    const counts = new Array<number>(Math.ceil(wallMs / 1000)).fill(0);
    for (const c of kms.calls) if (c.op === 'DeleteImportedKeyMaterial' && pick(c)) counts[Math.floor((c.at - started) / 1000)]++;
    return counts;
  };
  const durations = deletes.map((e) => e.invocation?.durationMs ?? 0).sort((a, b) => a - b);
  return {
    label,
    series: o.series ?? 'at-once',
    side: o.side,
    scope: o.scope,
    keys: o.keys,
    stacks,
    concurrency: o.concurrency,
    model,
    createStatus: [...new Set(createStatuses)].join(', '),
    deleteStatus: [...new Set(deleteStatuses)].join(', '),
    wallMs,
    lowerBoundMs: (o.keys / DELETE_QUOTA_PER_SECOND) * 1000,
    success: deletes.filter((e) => e.responseStatus === 'SUCCESS').length,
    failed: deletes.filter((e) => e.responseStatus === 'FAILED').length,
    noResponse: deletes.filter((e) => e.responseStatus === 'NO RESPONSE').length,
    timedOut: deletes.filter((e) => e.invocation?.timedOut).length,
    crashed: deletes.filter((e) => e.invocation?.crashed).length,
    keysRevoked: keyArns.filter((arn) => kms.key(arn)!.materials.every((m) => m.importState === 'PENDING_IMPORT')).length,
    kms: kmsOps,
    cfn: cfnOps,
    callsPerKey: (sum(kmsOps, (c) => c.total) + sum(cfnOps, (c) => c.total)) / o.keys,
    successfulCallsPerKey: (sum(kmsOps, (c) => c.ok) + sum(cfnOps, (c) => c.ok)) / o.keys,
    firstDeleteMs: okAt.length ? Math.min(...okAt) : NaN,
    lastDeleteMs: okAt.length ? Math.max(...okAt) : NaN,
    p95DeleteMs: [...okAt].sort((a, b) => a - b)[Math.ceil(0.95 * o.keys) - 1] ?? NaN,
    okPerSecond: perSecond((c) => c.status === 200),
    throttledPerSecond: perSecond((c) => c.errorType === 'ThrottlingException'),
    coldStarts,
    invocationMedianMs: durations[Math.floor(durations.length / 2)] ?? NaN,
    invocationMaxMs: durations[durations.length - 1] ?? NaN,
    failedReasons: [...new Set(deletes.filter((e) => e.responseStatus === 'FAILED').map((e) => String(e.reason).slice(0, 300)))].slice(0, 3),
    cfnReadQuotaPerSecond: o.cfnReadQuotaPerSecond,
    keysPerStack,
    ...(o.serviceTimeout ? { serviceTimeoutSeconds: o.serviceTimeout.toSeconds() } : {}),
    decisions,
    cfnSentPerKey: sum(cfnOps, (c) => c.total) / o.keys,
    cfnOkPerKey: sum(cfnOps, (c) => c.ok) / o.keys,
    kmsSentPerKey: sum(kmsOps, (c) => c.total) / o.keys,
    kmsOkPerKey: sum(kmsOps, (c) => c.ok) / o.keys,
  };
}
