/**
 * Everything a lifecycle scenario needs, started once: the KMS and CloudFormation doubles on
 * 127.0.0.1, the ResponseURL server, the Lambda runner for the synthesized handler, and the
 * CloudFormation engine that plays the event sequences. A nested stack's handler is a function of
 * its own (LIFECYCLE S11): each gets a LambdaRunner of its own, started when the engine first
 * sends it an event, from the function's code asset in the cloud assembly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { CloudFormationDouble } from '../doubles/cloudformation-double';
import { KmsDouble } from '../doubles/kms-double';
import { ResponseServer } from '../support/response-server';
import {
  ACCOUNT, findAsset, functionSpec, functionsIn, handlerFunction, nestedTemplateIn, REGION, synthesize, Synthesized, Template,
} from './assembly';
import { DeployedFunction, StackEngine } from './engine';
import { accessKeyIdOf, FunctionSpec, LambdaRunner, RunnerOptions } from './lambda-runner';

export interface TestBedOptions extends RunnerOptions {
  readonly stackName?: string;
  readonly parameters?: Record<string, string>;
  /** Import material into EXTERNAL keys the stack creates: this many materials each (default 2). */
  readonly materialsPerKey?: number;
  /**
   * Read quota of the CloudFormation double, requests per second per operation (one double is one
   * account and Region); `false` turns it off. Default CFN_READ_QUOTA_PER_SECOND.
   */
  readonly cfnReadQuotaPerSecond?: number | false;
}

/**
 * The CloudFormation reads the handler makes (the double's operations), throttled by default.
 *
 * GUESS: AWS documents no per-operation request rate for these CloudFormation reads. The
 * CloudFormation quotas page of the User Guide (cloudformation-limits.html) lists template and
 * stack limits only; DescribeAccountLimits reports ConcurrentResourcesLimit, StackLimit and
 * StackOutputsLimit only; the re:Post knowledge-center article on CloudFormation "Rate exceeded"
 * errors advises exponential backoff and a quota increase without naming a figure. So a
 * conservative 10 requests per second per operation for the account and Region: below what
 * CloudFormation is commonly observed to sustain, so that a handler that reads too much per
 * request shows it here (L18) rather than only in a real account.
 */
export const CFN_READ_OPERATIONS = ['DescribeStacks', 'DescribeStackEvents', 'DescribeStackResource', 'GetTemplate', 'ListStackResources'] as const;
export const CFN_READ_QUOTA_PER_SECOND = 10;

export class TestBed {
  /** Synthesizes `build` as the first version of the app and starts everything around it. */
  static async start(build: (stack: Stack) => void, options: TestBedOptions = {}): Promise<TestBed> {
    const stackName = options.stackName ?? 'ByokStack';
    const first = synthesize(build, stackName);
    const [kms, cfn, responses] = await Promise.all([
      KmsDouble.start({ defaultAccount: ACCOUNT, defaultRegion: REGION }),
      CloudFormationDouble.start(),
      ResponseServer.start(),
    ]);
    const readQuota = options.cfnReadQuotaPerSecond ?? CFN_READ_QUOTA_PER_SECOND;
    if (readQuota !== false) for (const op of CFN_READ_OPERATIONS) cfn.setReadQuota(op, readQuota);
    const runnerOptions: RunnerOptions = {
      ...options,
      env: {
        AWS_ENDPOINT_URL_KMS: kms.endpoint,
        AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.endpoint,
        // The ResponseURL server is plain HTTP on 127.0.0.1: accepted only through this setting,
        // which the construct never passes (L29).
        REVOCATION_TEST_RESPONSE_ORIGIN: responses.origin,
        ...options.env,
      },
    };
    const runner = new LambdaRunner(rootHandlerSpec(first), runnerOptions);
    const bed = new TestBed(first.template, stackName, kms, cfn, responses, runner, options, runnerOptions, first.assemblyDir);
    return bed;
  }

  readonly engine: StackEngine;
  /** Cloud assemblies synthesized for this bed (newest last), removed on stop. */
  private readonly assemblyDirs: string[] = [];
  /** Runners of the nested stacks' functions, by function name. */
  readonly nestedRunners = new Map<string, LambdaRunner>();
  /** Requests each function received, by function name (the root's handler as `runner.spec.functionName`). */
  readonly invocations = new Map<string, number>();

  private constructor(
    /** The app's current first version (a scenario may re-synthesize it once its keys exist). */
    public template: Template,
    readonly stackName: string,
    readonly kms: KmsDouble,
    readonly cfn: CloudFormationDouble,
    readonly responses: ResponseServer,
    readonly runner: LambdaRunner,
    options: TestBedOptions,
    private readonly runnerOptions: RunnerOptions,
    firstAssemblyDir: string,
  ) {
    this.assemblyDirs.push(firstAssemblyDir);
    this.engine = new StackEngine({
      kms, cfn, responses, runner, stackName, parameters: options.parameters,
      runnerFor: (fn) => this.runnerFor(fn),
      nestedTemplate: (url) => this.nestedTemplate(url),
      onKeyCreated: (_logicalId, arn) => {
        if (kms.key(arn)?.origin !== 'EXTERNAL') return;
        for (let i = 0; i < (options.materialsPerKey ?? 2); i++) kms.importMaterial(arn);
      },
    });
  }

  /** Another version of the app (same stack name), for updates. */
  synth(build: (stack: Stack) => void): Template {
    return this.synthesized(build).template;
  }

  /** Another version of the app, with its cloud assembly (removed on stop). */
  synthesized(build: (stack: Stack) => void): Synthesized {
    const synth = synthesize(build, this.stackName);
    this.assemblyDirs.push(synth.assemblyDir);
    return synth;
  }

  /** The Lambda functions of a template of this bed and of its nested stacks' templates (S5, S11). */
  functionsIn(template: Template = this.template) {
    return functionsIn(this.assemblyDirs[this.assemblyDirs.length - 1], template);
  }

  /** The key ARN the engine created for a logical ID of the template. */
  keyArn(logicalId: string): string {
    const arn = this.engine.resources.get(logicalId)?.arn;
    if (!arn) throw new Error(`no deployed key ${logicalId}`);
    return arn;
  }

  /** Logical ID of the first resource of a type whose logical ID starts with `prefix`. */
  logicalId(type: string, prefix: string, template = this.template): string {
    const found = Object.keys(template.Resources).find((id) => template.Resources[id].Type === type && id.startsWith(prefix));
    if (!found) throw new Error(`no ${type} starting with ${prefix}`);
    return found;
  }

  /** The runner of a function of the tree: the bed's `runner` for the root stack's handler, one each for the others. */
  private runnerFor(fn: DeployedFunction) {
    const count = (name: string) => this.invocations.set(name, (this.invocations.get(name) ?? 0) + 1);
    const rootName = this.runner.spec.functionName;
    if (!fn.stack.parent && `${this.stackName}-${fn.logicalId}` === rootName) {
      return {
        invoke: (event: unknown) => { count(rootName); return this.runner.invoke(event); },
        useEnvironment: (env: Record<string, unknown> | undefined) => this.runner.useEnvironment(env),
      };
    }
    let runner = this.nestedRunners.get(fn.name);
    if (!runner) {
      const hash = String(fn.properties.Code?.S3Key ?? '').replace(/\.zip$/, '');
      const dir = [...this.assemblyDirs].reverse().find((d) => findAsset(d, hash));
      if (!dir) throw new Error(`function ${fn.name}: its code asset ${hash} is in none of the bed's assemblies`);
      // Credentials of its own role, as Lambda gives each function (iam-state.ts maps them to the role).
      const env = { ...this.runnerOptions.env, AWS_ACCESS_KEY_ID: accessKeyIdOf(fn.name) };
      runner = new LambdaRunner(functionSpec(dir, fn.name, fn.properties), { ...this.runnerOptions, env });
      this.nestedRunners.set(fn.name, runner);
    }
    const chosen = runner;
    return {
      invoke: (event: unknown) => { count(fn.name); return chosen.invoke(event); },
      useEnvironment: (env: Record<string, unknown> | undefined) => chosen.useEnvironment(env),
    };
  }

  private nestedTemplate(url: string): Template {
    for (const dir of [...this.assemblyDirs].reverse()) {
      const template = nestedTemplateIn(dir, url);
      if (template) return template;
    }
    throw new Error(`no assembly of this bed has the nested template ${url}`);
  }

  async stop(): Promise<void> {
    await Promise.all([this.runner.stop(), ...[...this.nestedRunners.values()].map((r) => r.stop()),
      this.kms.stop(), this.cfn.stop(), this.responses.stop()]);
    for (const dir of this.assemblyDirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The handler the bed's `runner` plays: the stack's own (exactly one: S5); when the stack has none
 * (every revocation in nested stacks), the first nested stack's; when the first version of the app
 * has no handler at all (a later update adds one), the library's bundle as the construct deploys it,
 * under a name no deployed function has (its containers start only if something invokes it).
 */
function rootHandlerSpec(synth: Synthesized): FunctionSpec {
  const own = Object.values(synth.template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
  if (own.length > 0) return handlerFunction(synth);
  const [first] = functionsIn(synth.assemblyDir, synth.template);
  if (first) return functionSpec(synth.assemblyDir, `${synth.stackName}-${first.stackPath}-${first.logicalId}`, first.definition.Properties!);
  return {
    functionName: `${synth.stackName}-NoHandlerInTheFirstVersion`,
    assetDir: path.join(__dirname, '..', '..', 'assets', 'revocation-handler'),
    handler: 'index.handler',
    runtime: 'nodejs24.x',
    timeoutSeconds: 900,
    memorySize: 256,
    region: REGION,
    environment: {},
  };
}
