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
}

export interface OpCount {
  readonly total: number;
  readonly ok: number;
  readonly throttled: number;
  readonly otherErrors: number;
}

export interface ThroughputResult {
  readonly label: string;
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

export async function measureThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const stacks = o.stacks ?? 1;
  const label = o.side === 'ours' ? `ours, scope ${o.scope ?? KeyMaterialScope.ALL}` : 'baseline (AwsCustomResource)';
  if (o.sandboxPerDelete) {
    if (o.side !== 'ours') throw new Error('sandboxPerDelete runs our bundle only');
    return measureWithSandboxPerDelete(o, label);
  }
  progress(`throughput: ${label}, N = ${o.keys} in ${stacks} stack(s), ${o.concurrency} containers`);
  const [kms, cfn, responses] = await Promise.all([
    KmsDouble.start({ defaultAccount: ACCOUNT, defaultRegion: REGION }),
    CloudFormationDouble.start(),
    HttpsResponseServer.start(),
  ]);
  const keyArns = Array.from({ length: o.keys }, () => kms.addKey({ origin: 'EXTERNAL', importedMaterials: 1 }));
  const perStack = Math.ceil(o.keys / stacks);
  const runnerOptions = {
    // The machine's containers are shared evenly by the stacks' functions.
    maxConcurrency: Math.max(1, Math.floor(o.concurrency / stacks)),
    env: {
      AWS_ENDPOINT_URL_KMS: kms.endpoint,
      AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.endpoint,
      // Where the Lambda Node.js runtime provides the AWS SDK v3 (its NODE_PATH has
      // /var/runtime/node_modules): the baseline (installLatestAwsSdk: false) loads it from there.
      // Here: the repository's @aws-sdk packages. Ours bundles its SDK and ignores it.
      NODE_PATH: path.join(ROOT, 'node_modules'),
      NODE_EXTRA_CA_CERTS: responses.caFile,
    },
  };
  const deployments = Array.from({ length: stacks }, (_, i) => {
    const stackName = stacks === 1 ? 'BenchStack' : `BenchStack${i + 1}`;
    const synth = synthesize(buildApp({ side: o.side, keyArns: keyArns.slice(i * perStack, (i + 1) * perStack), scope: o.scope }), stackName);
    // The baseline's template asks for nodejs22.x; both run on the Node.js major of ours (RESULTS.md).
    const spec = { ...handlerFunction(synth), runtime: BENCH_RUNTIME };
    // The engine keeps its runner; this one forwards to whichever runner is current.
    const holder = { runner: new LambdaRunner(spec, runnerOptions) };
    const forwarding = { invoke: (event: unknown): Promise<InvocationResult> => holder.runner.invoke(event) };
    const engine = new StackEngine({
      kms, cfn, responses, runner: forwarding, stackName,
    });
    return { synth, spec, engine, holder };
  });
  try {
    const createStatuses = await Promise.all(deployments.map((d) => d.engine.create(d.synth.template)));
    for (const d of deployments) {
      await d.holder.runner.stop();
      d.holder.runner = new LambdaRunner(d.spec, runnerOptions);
      // Init before the clock, as for one sandbox per Delete: §3 measures it, and Lambda runs the
      // inits side by side where this machine would queue them on its CPUs.
      await d.holder.runner.prewarm(runnerOptions.maxConcurrency);
    }
    kms.resetCalls();
    cfn.resetCalls();
    kms.resetQuotas();
    const from = deployments.map((d) => d.engine.timeline.length);

    const started = Date.now();
    const deleteStatuses = await Promise.all(deployments.map((d) => d.engine.deleteStack()));
    const wallMs = Date.now() - started;

    const deletes = deployments.flatMap((d, i) => d.engine.timeline.slice(from[i]).filter((e) => e.requestType === 'Delete'));
    return summarize({
      o, label, stacks, kms, cfn, keyArns, started, wallMs, deletes, createStatuses, deleteStatuses,
      coldStarts: deployments.reduce((a, d) => a + d.holder.runner.started, 0), model: 'containers',
    });
  } finally {
    await Promise.all([...deployments.map((d) => d.holder.runner.stop()), kms.stop(), cfn.stop(), responses.stop()]);
    for (const d of deployments) fs.rmSync(d.synth.assemblyDir, { recursive: true, force: true });
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
}

/** The figures of one deletion, from the engine's timeline and the doubles' call logs. */
function summarize(input: SummaryInput): ThroughputResult {
  const { o, label, stacks, kms, cfn, keyArns, started, wallMs, deletes, createStatuses, deleteStatuses, model, coldStarts } = input;
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
  };
}

/**
 * The deletion with one sandbox per Delete (bench/sandboxes.ts): our bundle, loaded once per
 * Delete before the clock, in this process, with the SDK pointed at the doubles as LambdaRunner
 * points its containers.
 */
async function measureWithSandboxPerDelete(o: ThroughputOptions, label: string): Promise<ThroughputResult> {
  progress(`throughput: ${label}, N = ${o.keys}, one sandbox per Delete`);
  const [kms, cfn, responses] = await Promise.all([
    KmsDouble.start({ defaultAccount: ACCOUNT, defaultRegion: REGION }),
    CloudFormationDouble.start(),
    ResponseServer.start(),
  ]);
  const keyArns = Array.from({ length: o.keys }, () => kms.addKey({ origin: 'EXTERNAL', importedMaterials: 1 }));
  const synth = synthesize(buildApp({ side: o.side, keyArns, scope: o.scope }), 'BenchStack');
  const spec = handlerFunction(synth);
  const sandboxes = new InProcessSandboxes(spec.assetDir, spec.timeoutSeconds * 1000);
  const engine = new StackEngine({ kms, cfn, responses, runner: sandboxes, stackName: 'BenchStack' });
  const environment = {
    AWS_ENDPOINT_URL_KMS: kms.endpoint, AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.endpoint, AWS_REGION: spec.region, ...spec.environment,
  };
  try {
    return await withSandboxEnvironment(environment, () => withSilencedConsole(async () => {
      const createStatus = await engine.create(synth.template);
      sandboxes.prepare(o.keys);
      sandboxes.freshPerInvocation = true;
      sandboxes.started = 0;
      kms.resetCalls();
      cfn.resetCalls();
      kms.resetQuotas();
      const from = engine.timeline.length;
      const started = Date.now();
      const deleteStatus = await engine.deleteStack();
      const wallMs = Date.now() - started;
      return summarize({
        o, label, stacks: 1, kms, cfn, keyArns, started, wallMs,
        deletes: engine.timeline.slice(from).filter((e) => e.requestType === 'Delete'),
        createStatuses: [createStatus], deleteStatuses: [deleteStatus], coldStarts: sandboxes.started, model: 'sandbox-per-delete',
      });
    }));
  } finally {
    await Promise.all([kms.stop(), cfn.stop(), responses.stop()]);
    fs.rmSync(synth.assemblyDir, { recursive: true, force: true });
  }
}
