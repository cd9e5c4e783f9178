/**
 * Real CDK synthesis of a test app that uses the library, and what the test bed needs from the
 * cloud assembly: the template, the templates of its nested stacks (CDK `NestedStack`: file assets
 * of the assembly that the AWS::CloudFormation::Stack's TemplateURL names), and the revocation
 * handlers' functions (asset directory, Handler, Runtime, Timeout, environment): one in the stack,
 * and one in each nested stack that has a revocation (LIFECYCLE S11).
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
  Outputs?: Record<string, { Value: any; Description?: string; Export?: { Name: any } }>;
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
  return functionSpec(synth.assemblyDir, `${synth.stackName}-${logicalId}`, fn.Properties!);
}

/**
 * A function's spec from its (template or resolved) properties: the code asset is found by its
 * S3Key (`<hash>.zip`) in the asset manifests of the assembly (a nested stack's function assets
 * are listed in its top-level stack's manifest).
 */
export function functionSpec(assemblyDir: string, functionName: string, props: Record<string, any>): FunctionSpec {
  const hash = String(props.Code.S3Key).replace(/\.zip$/, '');
  const asset = findAsset(assemblyDir, hash);
  if (!asset) throw new Error(`the function's code asset ${hash} is not in the assembly's asset manifests`);
  return {
    functionName,
    assetDir: path.join(assemblyDir, asset.source.path),
    handler: props.Handler,
    runtime: props.Runtime,
    timeoutSeconds: Number(props.Timeout ?? 3),
    memorySize: Number(props.MemorySize ?? 128),
    region: REGION,
    environment: props.Environment?.Variables ?? {},
  };
}

/** A file asset of the assembly by its hash (any of its `*.assets.json` manifests), if there. */
export function findAsset(assemblyDir: string, hash: string): { source: { path: string; packaging?: string } } | undefined {
  for (const file of fs.readdirSync(assemblyDir).filter((f) => f.endsWith('.assets.json'))) {
    const manifest = JSON.parse(fs.readFileSync(path.join(assemblyDir, file), 'utf8'));
    if (manifest.files?.[hash]) return manifest.files[hash];
  }
  return undefined;
}

/**
 * A nested stack's template, by the TemplateURL its AWS::CloudFormation::Stack resolves to
 * (`https://s3.REGION.amazonaws.com/<assets bucket>/<hash>.json`): the file asset `<hash>` of the
 * assembly. Undefined when this assembly does not have it (assets are content-addressed, so any
 * assembly that has the hash has the same template).
 */
export function nestedTemplateIn(assemblyDir: string, templateUrl: string): Template | undefined {
  const hash = /\/([0-9a-f]{64})\.json$/.exec(templateUrl)?.[1];
  if (!hash) throw new Error(`TemplateURL ${templateUrl} does not name a CDK template asset (<hash>.json)`);
  const asset = findAsset(assemblyDir, hash);
  return asset ? JSON.parse(fs.readFileSync(path.join(assemblyDir, asset.source.path), 'utf8')) as Template : undefined;
}

/** The Lambda functions of a template and, recursively, of its nested stacks' templates (for S5/S11 checks). */
export function functionsIn(assemblyDir: string, template: Template, stackPath = ''): Array<{ stackPath: string; logicalId: string; definition: TemplateResource }> {
  const found: Array<{ stackPath: string; logicalId: string; definition: TemplateResource }> = [];
  for (const [logicalId, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::Lambda::Function') found.push({ stackPath, logicalId, definition: r });
    if (r.Type === 'AWS::CloudFormation::Stack') {
      const url = JSON.stringify(r.Properties?.TemplateURL ?? '');
      const hash = /([0-9a-f]{64})\.json/.exec(url)?.[1];
      const nested = hash ? nestedTemplateIn(assemblyDir, `/${hash}.json`) : undefined;
      if (nested) found.push(...functionsIn(assemblyDir, nested, stackPath ? `${stackPath}/${logicalId}` : logicalId));
    }
  }
  return found;
}
