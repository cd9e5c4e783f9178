/**
 * Everything a lifecycle scenario needs, started once: the KMS and CloudFormation doubles on
 * 127.0.0.1, the ResponseURL server, the Lambda runner for the synthesized handler, and the
 * CloudFormation engine that plays the event sequences.
 */
import * as fs from 'node:fs';
import { Stack } from 'aws-cdk-lib';
import { CloudFormationDouble } from '../doubles/cloudformation-double';
import { KmsDouble } from '../doubles/kms-double';
import { ResponseServer } from '../support/response-server';
import { ACCOUNT, handlerFunction, REGION, synthesize, Template } from './assembly';
import { StackEngine } from './engine';
import { LambdaRunner, RunnerOptions } from './lambda-runner';

export interface TestBedOptions extends RunnerOptions {
  readonly stackName?: string;
  readonly parameters?: Record<string, string>;
  /** Import material into EXTERNAL keys the stack creates: this many materials each (default 2). */
  readonly materialsPerKey?: number;
}

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
    const runner = new LambdaRunner(handlerFunction(first), {
      ...options,
      env: {
        AWS_ENDPOINT_URL_KMS: kms.endpoint,
        AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.endpoint,
        ...options.env,
      },
    });
    const bed = new TestBed(first.template, stackName, kms, cfn, responses, runner, options);
    bed.assemblyDirs.push(first.assemblyDir);
    return bed;
  }

  readonly engine: StackEngine;
  /** Cloud assemblies synthesized for this bed, removed on stop. */
  private readonly assemblyDirs: string[] = [];

  private constructor(
    /** The app's current first version (a scenario may re-synthesize it once its keys exist). */
    public template: Template,
    readonly stackName: string,
    readonly kms: KmsDouble,
    readonly cfn: CloudFormationDouble,
    readonly responses: ResponseServer,
    readonly runner: LambdaRunner,
    options: TestBedOptions,
  ) {
    this.engine = new StackEngine({
      kms, cfn, responses, runner, stackName, parameters: options.parameters,
      onKeyCreated: (_logicalId, arn) => {
        if (kms.key(arn)?.origin !== 'EXTERNAL') return;
        for (let i = 0; i < (options.materialsPerKey ?? 2); i++) kms.importMaterial(arn);
      },
    });
  }

  /** Another version of the app (same stack name), for updates. */
  synth(build: (stack: Stack) => void): Template {
    const synth = synthesize(build, this.stackName);
    this.assemblyDirs.push(synth.assemblyDir);
    return synth.template;
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

  async stop(): Promise<void> {
    await Promise.all([this.runner.stop(), this.kms.stop(), this.cfn.stop(), this.responses.stop()]);
    for (const dir of this.assemblyDirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}
