/**
 * Real CDK synthesis of a test app that uses the library, and what the test bed needs from the
 * cloud assembly: the template and the revocation handler's function (asset directory, Handler,
 * Runtime, Timeout, environment).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { FunctionSpec } from './lambda-runner';

export const ACCOUNT = '111111111111';
export const REGION = 'eu-west-1';

export interface Synthesized {
  readonly stackName: string;
  readonly template: Template;
  readonly assemblyDir: string;
}

export interface Template {
  Resources: Record<string, TemplateResource>;
  Parameters?: Record<string, { Type: string; Default?: string }>;
}

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, any>;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, any>;
}

/** Synthesizes one stack built by `build`, into a fresh temporary cloud assembly. */
export function synthesize(build: (stack: Stack) => void, stackName = 'ByokStack'): Synthesized {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'revocation-assembly-'));
  const app = new App({ outdir });
  const stack = new Stack(app, stackName, { env: { account: ACCOUNT, region: REGION } });
  build(stack);
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stackName);
  return { stackName, template: artifact.template as Template, assemblyDir: assembly.directory };
}

/** The single revocation handler function of a synthesized stack, located in its assembly. */
export function handlerFunction(synth: Synthesized): FunctionSpec {
  const functions = Object.entries(synth.template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
  if (functions.length !== 1) {
    throw new Error(`expected exactly one Lambda function in ${synth.stackName}, found ${functions.length} (LIFECYCLE S5)`);
  }
  const [logicalId, fn] = functions[0];
  const props = fn.Properties!;
  const manifest = JSON.parse(fs.readFileSync(path.join(synth.assemblyDir, `${synth.stackName}.assets.json`), 'utf8'));
  const hash = String(props.Code.S3Key).replace(/\.zip$/, '');
  const asset = manifest.files[hash];
  if (!asset) throw new Error(`the function's code asset ${hash} is not in the assembly's asset manifest`);
  return {
    functionName: `${synth.stackName}-${logicalId}`,
    assetDir: path.join(synth.assemblyDir, asset.source.path),
    handler: props.Handler,
    runtime: props.Runtime,
    timeoutSeconds: props.Timeout ?? 3,
    memorySize: props.MemorySize ?? 128,
    region: REGION,
    environment: props.Environment?.Variables ?? {},
  };
}
