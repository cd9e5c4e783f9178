/**
 * Benchmark 3: handler cold start. Each sample is a fresh Node.js process of the runtime's major
 * (bench/coldstart-worker.js) that requires the handler module found in the synthesized cloud
 * assembly and invokes it once with a stack-deletion Delete event for a key that holds imported
 * material, against the KMS double (and, for ours, the CloudFormation double), answering to an
 * HTTPS ResponseURL. Timings are taken inside the child with hrtime. Sides are interleaved.
 */
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { CloudFormationDouble } from '../test/doubles/cloudformation-double';
import { KmsDouble } from '../test/doubles/kms-double';
import { ACCOUNT, handlerFunction, REGION, synthesize, Synthesized } from '../test/lifecycle/assembly';
import { isCustomResourceType } from '../test/lifecycle/engine';
import { FunctionSpec, nodeForRuntime } from '../test/lifecycle/lambda-runner';
import { PHYSICAL_ID_PREFIX } from '../lib/contract';
import { KeyMaterialScope } from '../lib/index';
import { buildApp, fakeKeyArn, Side } from './baseline';
import { HttpsResponseServer } from './https-response-server';
import { median, ms, progress, quantile } from './stats';

const ROOT = path.join(__dirname, '..');
const WORKER = path.join(__dirname, 'coldstart-worker.js');
/** The runtime our construct pins; both handlers are run on this Node.js major (see RESULTS.md). */
export const BENCH_RUNTIME = 'nodejs24.x';

export type Variant = 'ours-current' | 'ours-all' | 'baseline';

export interface Sample {
  readonly variant: Variant;
  /** Node.js boot, process start to the worker's first line (the same code for both sides). */
  readonly bootMs: number;
  /** require() of the handler module. */
  readonly loadMs: number;
  /** The first invocation, until the handler's promise settled (the answer was PUT by then). */
  readonly invokeMs: number;
  /** Parent's view: fork() to the report, i.e. boot + load + invoke + IPC. */
  readonly wallMs: number;
  readonly ok: boolean;
  readonly problem?: string;
  readonly kmsCalls: number;
  readonly cfnCalls: number;
  readonly loadedFiles: number;
  readonly loadedBytes: number;
  readonly rssBytes: number;
  readonly nodeVersion: string;
}

export interface VariantSummary {
  readonly variant: Variant;
  readonly samples: number;
  readonly failures: number;
  readonly loadMs: { median: number; p10: number; p90: number };
  readonly invokeMs: { median: number; p10: number; p90: number };
  readonly loadPlusInvokeMs: { median: number; p10: number; p90: number };
  readonly bootMs: number;
  readonly wallMs: number;
  readonly kmsCallsPerSample: number;
  readonly cfnCallsPerSample: number;
  readonly loadedFiles: number;
  readonly loadedBytes: number;
  readonly rssMiB: number;
}

export interface BundleSize {
  readonly side: Side;
  readonly runtimeInTemplate: string;
  /** MemorySize in the template (MB); Lambda gives CPU in proportion to it. */
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly files: number;
  readonly rawBytes: number;
  readonly gzipBytes: number;
  /** Only the handler's own index.js. */
  readonly handlerRawBytes: number;
  readonly handlerGzipBytes: number;
}

/**
 * Where module-load time goes: require() alone, in fresh processes (median), of our bundle; of the
 * unbundled @aws-sdk/client-kms from node_modules (what the baseline loads during its invocation);
 * and what @aws-sdk/client-cloudformation adds when required right after it in the same process
 * (the share of the second client, the SDK core being loaded already). Independent of how the
 * bundle is built.
 */
export interface LoadSplit {
  readonly runs: number;
  readonly oursBundleMs: number;
  readonly kmsClientMs: number;
  readonly cloudFormationClientAddsMs: number;
}

export interface ColdStartResult {
  readonly samplesPerVariant: number;
  /** The Node.js executable the samples ran on (for arm64 on another machine: a wrapper running it under an emulator). */
  readonly node: string;
  /** The architecture the handlers ran on (older records: the machine's). */
  readonly arch?: string;
  /** The emulator, when the handlers' architecture is not the machine's. */
  readonly emulator?: string;
  readonly nodeVersion: string;
  readonly bundles: BundleSize[];
  readonly variants: VariantSummary[];
  readonly loadSplit: LoadSplit;
  readonly raw: Sample[];
}

function spread(xs: number[]) {
  return { median: median(xs), p10: quantile(xs, 0.1), p90: quantile(xs, 0.9) };
}

function bundleSize(side: Side, spec: FunctionSpec, runtimeInTemplate: string): BundleSize {
  const files = fs.readdirSync(spec.assetDir).map((f) => path.join(spec.assetDir, f)).filter((f) => fs.statSync(f).isFile());
  const gz = (buf: Buffer) => zlib.gzipSync(buf, { level: 9 }).length;
  const all = Buffer.concat(files.map((f) => fs.readFileSync(f)));
  const handler = fs.readFileSync(path.join(spec.assetDir, 'index.js'));
  return {
    side, runtimeInTemplate, memoryMb: spec.memorySize, timeoutSeconds: spec.timeoutSeconds, files: files.length, rawBytes: all.length, gzipBytes: gz(all),
    handlerRawBytes: handler.length, handlerGzipBytes: gz(handler),
  };
}

/** The custom resource's properties as CloudFormation sends them: scalars as strings, ServiceToken resolved. */
function eventProperties(synth: Synthesized, serviceToken: string): Record<string, any> {
  const [resource] = Object.values(synth.template.Resources).filter((r) => isCustomResourceType(r.Type));
  const props = { ...resource.Properties!, ServiceToken: serviceToken };
  return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, typeof v === 'string' ? v : String(v)]));
}

const stringValues = (env: Record<string, unknown>) => Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));

interface Prepared {
  readonly variant: Variant;
  readonly spec: FunctionSpec;
  readonly resourceType: string;
  readonly properties: Record<string, any>;
  readonly synth: Synthesized;
  /** The custom resource's logical ID in the template. */
  readonly logicalId: string;
}

/** Another Node.js to run the handlers on than the runtime's on this machine: arm64 under an emulator (bench/arm64.ts). */
export interface ColdStartOptions {
  readonly node?: string;
  readonly arch?: string;
  readonly emulator?: string;
}

export async function measureColdStart(samplesPerVariant: number, options: ColdStartOptions = {}): Promise<ColdStartResult> {
  const arch = options.arch ?? process.arch;
  progress(`cold start (${arch}${options.emulator ? `, under ${options.emulator}` : ''}): ${samplesPerVariant} fresh processes per variant, interleaved`);
  const placeholder = fakeKeyArn(0);
  const serviceToken = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:BenchStack-Handler`;
  const prepare = (variant: Variant): Prepared => {
    const side: Side = variant === 'baseline' ? 'baseline' : 'ours';
    const scope = variant === 'ours-current' ? KeyMaterialScope.CURRENT : KeyMaterialScope.ALL;
    const synth = synthesize(buildApp({ side, keyArns: [placeholder], scope }), 'BenchStack');
    const spec = handlerFunction(synth);
    const [[logicalId, resource]] = Object.entries(synth.template.Resources).filter(([, r]) => isCustomResourceType(r.Type));
    return { variant, spec, resourceType: resource.Type, properties: eventProperties(synth, serviceToken), synth, logicalId };
  };
  const variants: Variant[] = ['ours-current', 'baseline', 'ours-all'];
  const prepared = new Map(variants.map((v) => [v, prepare(v)]));
  const bundles = [
    bundleSize('ours', prepared.get('ours-current')!.spec, prepared.get('ours-current')!.spec.runtime),
    bundleSize('baseline', prepared.get('baseline')!.spec, prepared.get('baseline')!.spec.runtime),
  ];

  const node = options.node ?? nodeForRuntime(BENCH_RUNTIME);
  // Under an emulator a sample takes seconds: the same sample, only slower.
  const sampleTimeoutMs = options.emulator ? 180_000 : 60_000;
  const [kms, cfn, responses] = await Promise.all([
    KmsDouble.start({ defaultAccount: ACCOUNT, defaultRegion: REGION }),
    CloudFormationDouble.start(),
    HttpsResponseServer.start(),
  ]);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-lambda-home-'));
  // Both handlers reach KMS (and ours CloudFormation) over TLS, as they do in Lambda.
  const [kmsEndpoint, cfnEndpoint] = await Promise.all([responses.tlsFront(kms.endpoint), responses.tlsFront(cfn.endpoint)]);

  /**
   * A stack of its own per sample, in the CloudFormation double as CloudFormation shows a stack
   * deletion under way: DELETE_IN_PROGRESS, a history that reached CREATE_COMPLETE, the template in
   * force naming the sample's key, and the revocation resource DELETE_IN_PROGRESS under its physical
   * ID. Ours reads all four (DescribeStacks, DescribeStackEvents, GetTemplate, DescribeStackResource).
   */
  const deletingStack = (p: Prepared, keyArn: string, physicalId: string): string => {
    const stackId = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/BenchStack/${randomUUID()}`;
    const template = JSON.parse(JSON.stringify(p.synth.template).split(placeholder).join(keyArn));
    const logicalId = p.logicalId;
    cfn.putStack(stackId, {
      status: 'DELETE_IN_PROGRESS', template,
      resources: [{ logicalId, physicalId, type: p.resourceType, status: 'DELETE_IN_PROGRESS' }],
    });
    const stackEvent = (status: string) => cfn.addStackEvent(stackId, { logicalId: 'BenchStack', physicalId: stackId, type: 'AWS::CloudFormation::Stack', status });
    stackEvent('CREATE_IN_PROGRESS');
    cfn.addStackEvent(stackId, { logicalId, physicalId, type: p.resourceType, status: 'CREATE_COMPLETE' });
    stackEvent('CREATE_COMPLETE');
    stackEvent('DELETE_IN_PROGRESS');
    cfn.addStackEvent(stackId, { logicalId, physicalId, type: p.resourceType, status: 'DELETE_IN_PROGRESS' });
    return stackId;
  };

  const one = async (p: Prepared): Promise<Sample> => {
    const keyArn = kms.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
    const properties = JSON.parse(JSON.stringify(p.properties).split(placeholder).join(keyArn));
    const responseUrl = responses.newUrl();
    const physicalId = p.variant === 'baseline' ? keyArn : PHYSICAL_ID_PREFIX + keyArn;
    const stackId = deletingStack(p, keyArn, physicalId);
    const event = {
      RequestType: 'Delete',
      ServiceToken: serviceToken,
      ResponseURL: responseUrl,
      StackId: stackId,
      RequestId: randomUUID(),
      LogicalResourceId: p.logicalId,
      PhysicalResourceId: physicalId,
      ResourceType: p.resourceType,
      ResourceProperties: properties,
    };
    const kmsBefore = kms.calls.length;
    const cfnBefore = cfn.calls.length;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      LAMBDA_TASK_ROOT: p.spec.assetDir,
      AWS_EXECUTION_ENV: `AWS_Lambda_${BENCH_RUNTIME}`,
      AWS_LAMBDA_FUNCTION_NAME: p.spec.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(p.spec.memorySize),
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'ASIAHANDLERROLE00001',
      AWS_SECRET_ACCESS_KEY: 'handler-role-secret',
      AWS_SESSION_TOKEN: 'handler-role-session-token',
      AWS_CONFIG_FILE: path.join(home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      // Where the Lambda Node.js runtime provides the AWS SDK v3 (/var/runtime/node_modules is on its
      // NODE_PATH): here the repository's own @aws-sdk packages. Ours bundles its SDK and ignores it.
      NODE_PATH: path.join(ROOT, 'node_modules'),
      NODE_EXTRA_CA_CERTS: responses.caFile,
      AWS_ENDPOINT_URL_KMS: kmsEndpoint,
      AWS_ENDPOINT_URL_CLOUDFORMATION: cfnEndpoint,
      ...stringValues(p.spec.environment),
      // What the construct's AWS::StackId resolves to, and the test-only origin of the HTTPS
      // ResponseURL server (not S3), as the test bed sets it.
      REVOCATION_STACK_ID: stackId,
      REVOCATION_TEST_RESPONSE_ORIGIN: responses.origin,
      BENCH_ASSET_DIR: p.spec.assetDir,
      BENCH_HANDLER: p.spec.handler,
      BENCH_EVENT: JSON.stringify(event),
      BENCH_TIMEOUT_MS: String(p.spec.timeoutSeconds * 1000),
    };
    const started = process.hrtime.bigint();
    const report = await new Promise<any>((resolve) => {
      const child: ChildProcess = fork(WORKER, [], { execPath: node, env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve({ error: `no report within ${sampleTimeoutMs / 1000} s` }); }, sampleTimeoutMs);
      child.once('message', (msg) => { clearTimeout(timer); resolve(msg); });
      child.once('exit', (code) => { clearTimeout(timer); resolve({ error: `exited with code ${code} before reporting` }); });
    });
    const wallMs = ms(started);
    const answer = (await responses.waitFor(responseUrl, 1000))?.body;
    const revoked = kms.key(keyArn)!.materials.every((m) => m.importState === 'PENDING_IMPORT');
    const problems = [
      report.error ? `handler error: ${report.error}` : '',
      answer?.Status === 'SUCCESS' ? '' : `answer ${answer ? `${answer.Status}: ${answer.Reason}` : 'missing'}`,
      revoked ? '' : 'material not revoked',
    ].filter(Boolean);
    if (problems.length > 0) progress(`${p.variant}: ${problems.join('; ')}${report.logs?.length ? `\n${report.logs.join('\n')}` : ''}`);
    return {
      variant: p.variant,
      bootMs: report.bootMs,
      loadMs: report.loadMs,
      invokeMs: report.invokeMs,
      wallMs,
      ok: problems.length === 0,
      problem: problems.join('; ') || undefined,
      kmsCalls: kms.calls.length - kmsBefore,
      cfnCalls: cfn.calls.length - cfnBefore,
      loadedFiles: report.loadedFiles,
      loadedBytes: report.loadedBytes,
      rssBytes: report.rssBytes,
      nodeVersion: report.nodeVersion,
    };
  };

  const raw: Sample[] = [];
  try {
    // One discarded run each: the first one reads the files from disk into the page cache.
    for (const v of variants) await one(prepared.get(v)!);
    for (let i = 0; i < samplesPerVariant; i++) {
      // Rotate the order so that no side always runs right after the same other one.
      const order = variants.map((_, j) => variants[(i + j) % variants.length]);
      for (const v of order) raw.push(await one(prepared.get(v)!));
    }
  } finally {
    await Promise.all([kms.stop(), cfn.stop(), responses.stop()]);
    fs.rmSync(home, { recursive: true, force: true });
    for (const p of prepared.values()) fs.rmSync(p.synth.assemblyDir, { recursive: true, force: true });
  }

  const summaries = variants.map((variant): VariantSummary => {
    const all = raw.filter((s) => s.variant === variant);
    const ok = all.filter((s) => s.ok);
    return {
      variant,
      samples: all.length,
      failures: all.length - ok.length,
      loadMs: spread(ok.map((s) => s.loadMs)),
      invokeMs: spread(ok.map((s) => s.invokeMs)),
      loadPlusInvokeMs: spread(ok.map((s) => s.loadMs + s.invokeMs)),
      bootMs: median(ok.map((s) => s.bootMs)),
      wallMs: median(ok.map((s) => s.wallMs)),
      kmsCallsPerSample: median(all.map((s) => s.kmsCalls)),
      cfnCallsPerSample: median(all.map((s) => s.cfnCalls)),
      loadedFiles: median(ok.map((s) => s.loadedFiles)),
      loadedBytes: median(ok.map((s) => s.loadedBytes)),
      rssMiB: median(ok.map((s) => s.rssBytes)) / 1024 / 1024,
    };
  });
  return {
    samplesPerVariant, node, arch, emulator: options.emulator, nodeVersion: raw[0]?.nodeVersion ?? '', bundles, variants: summaries,
    // The shipped bundle (the assembly's copy of it is gone by now).
    loadSplit: measureLoadSplit(node, path.join(ROOT, 'assets', 'revocation-handler'), Math.max(5, Math.min(9, samplesPerVariant))),
    raw,
  };
}

function measureLoadSplit(node: string, ourAssetDir: string, runs: number): LoadSplit {
  progress(`cold start: module load split, ${runs} fresh processes each`);
  const script = (targets: string[]) => `const out=[];for(const t of ${JSON.stringify(targets)}){const s=process.hrtime.bigint();require(t);`
    + 'out.push(Number(process.hrtime.bigint()-s)/1e6)}process.stdout.write(JSON.stringify(out))';
  const requireMs = (targets: string[]): number[] => {
    const samples: number[][] = [];
    for (let i = 0; i < runs + 1; i++) {
      const out = execFileSync(node, ['-e', script(targets)], {
        cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', NODE_PATH: path.join(ROOT, 'node_modules') },
      });
      if (i > 0) samples.push(JSON.parse(out) as number[]); // the first one warms the page cache
    }
    return targets.map((_, j) => median(samples.map((x) => x[j])));
  };
  const [oursBundleMs] = requireMs([path.join(ourAssetDir, 'index.js')]);
  const [kmsClientMs, cloudFormationClientAddsMs] = requireMs(['@aws-sdk/client-kms', '@aws-sdk/client-cloudformation']);
  return { runs, oursBundleMs, kmsClientMs, cloudFormationClientAddsMs };
}
