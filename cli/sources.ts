/**
 * Where a plan's stacks come from: a cloud assembly (cdk.out, or one synthesized now the way
 * `cdk synth` does), a saved template or an earlier assembly, or the deployed stacks read from
 * CloudFormation with the user's credentials.
 */
import { execSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CloudFormationClient, DescribeStacksCommand, GetTemplateCommand, ListStackResourcesCommand, StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { PlannedStack } from './plan';

/** An error meant for the user: printed as it is, without a stack trace. */
export class UserError extends Error {}

interface Template { Resources?: Record<string, { Type?: string; Metadata?: Record<string, unknown>; Properties?: Record<string, unknown> }> }

export interface AssemblyStack {
  /** The artifact's stack name. */
  readonly stackName: string;
  readonly stack: PlannedStack;
  /** aws://ACCOUNT/REGION of the artifact (unknown-account / unknown-region when environment-agnostic). */
  readonly account?: string;
  readonly region?: string;
}

function readJson(file: string): any {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * The file of a nested stack's template in the assembly: its aws:asset:path metadata (the CDK CLI
 * turns asset metadata on), else the asset whose hash its TemplateURL names, from the assembly's
 * asset manifests.
 */
function nestedTemplateFile(resource: NonNullable<Template['Resources']>[string], dir: string): string | undefined {
  const file = resource.Metadata?.['aws:asset:path'];
  if (typeof file === 'string' && fs.existsSync(path.join(dir, file))) return path.join(dir, file);
  const hash = /[0-9a-f]{64}/.exec(JSON.stringify(resource.Properties?.TemplateURL ?? ''))?.[0];
  if (!hash) return undefined;
  for (const manifest of fs.readdirSync(dir).filter((f) => f.endsWith('.assets.json'))) {
    const source = readJson(path.join(dir, manifest)).files?.[hash]?.source?.path;
    if (typeof source === 'string' && fs.existsSync(path.join(dir, source))) return path.join(dir, source);
  }
  return undefined;
}

/** A template and its nested stacks, whose templates the assembly holds as files. */
function fromTemplate(name: string, template: Template, dir: string | undefined): PlannedStack {
  const nested = new Map<string, PlannedStack>();
  for (const [id, r] of Object.entries(template.Resources ?? {})) {
    if (r?.Type !== 'AWS::CloudFormation::Stack' || !dir) continue;
    const file = nestedTemplateFile(r, dir);
    if (!file) throw new UserError(`the template of nested stack ${name}/${id} is not in the assembly at ${dir}`);
    nested.set(id, fromTemplate(`${name}/${id}`, readJson(file), dir));
  }
  return { name, template: template as PlannedStack['template'], nested };
}

/** Every stack of a cloud assembly directory (manifest.json), nested assemblies (stages) included. */
export function readAssembly(dir: string): AssemblyStack[] {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new UserError(`${dir} is not a cloud assembly: it has no manifest.json (run cdk synth, or pass --app)`);
  const manifest = readJson(manifestFile);
  const out: AssemblyStack[] = [];
  for (const [id, artifact] of Object.entries<any>(manifest.artifacts ?? {})) {
    if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      out.push(...readAssembly(path.join(dir, artifact.properties.directoryName)));
      continue;
    }
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    const stackName = artifact.properties?.stackName ?? id;
    const env = /^aws:\/\/([^/]+)\/(.+)$/.exec(artifact.environment ?? '');
    const account = env && env[1] !== 'unknown-account' ? env[1] : undefined;
    const region = env && env[2] !== 'unknown-region' ? env[2] : undefined;
    out.push({
      stackName, account, region,
      stack: { ...fromTemplate(stackName, readJson(path.join(dir, artifact.properties.templateFile)), dir) },
    });
  }
  return out;
}

/**
 * Synthesizes the app the way `cdk synth` does: the `app` command of cdk.json (or `--app`), run
 * with CDK_OUTDIR set to a fresh directory, which then holds the cloud assembly.
 */
export function synthesize(appCommand: string | undefined, cwd: string): string {
  let command = appCommand;
  if (!command) {
    const cdkJson = path.join(cwd, 'cdk.json');
    if (!fs.existsSync(cdkJson)) throw new UserError('no cdk.json here and no --app: pass --app cdk.out (a synthesized assembly) or --app "<command>"');
    command = readJson(cdkJson).app;
    if (typeof command !== 'string') throw new UserError(`${cdkJson} has no "app" command`);
  }
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-key-material-plan-'));
  try {
    execSync(command, { cwd, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(contextOf(cwd)) } });
  } catch (err) {
    throw new UserError(`synthesizing the app (${command}) failed: ${(err as Error).message.split('\n')[0]}`);
  }
  return outdir;
}

/** The context `cdk synth` passes: cdk.json's and cdk.context.json's, with path and asset metadata on. */
function contextOf(cwd: string): Record<string, unknown> {
  const read = (f: string) => (fs.existsSync(path.join(cwd, f)) ? readJson(path.join(cwd, f)) : {});
  return { ...read('cdk.context.json'), ...(read('cdk.json').context ?? {}), 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true };
}

/** The deployed side from a file: a saved template (one stack) or an earlier cloud assembly. */
export function readDeployed(p: string): { byName: Map<string, PlannedStack>; single?: PlannedStack } {
  if (!fs.existsSync(p)) throw new UserError(`--deployed ${p}: no such file or directory`);
  if (fs.statSync(p).isDirectory()) {
    return { byName: new Map(readAssembly(p).map((s) => [s.stackName, s.stack])) };
  }
  const template = readJson(p) as Template;
  if (typeof template !== 'object' || !template || !template.Resources) throw new UserError(`--deployed ${p} is not a CloudFormation template (no Resources)`);
  return { byName: new Map(), single: fromTemplate(path.basename(p), template, path.dirname(p)) };
}

/** Reads a deployed stack and its nested stacks from CloudFormation; undefined when the stack does not exist. */
export async function readOnline(client: CloudFormationClient, stackName: string, display = stackName): Promise<PlannedStack | undefined> {
  const nestedStack = display !== stackName;
  let described;
  try {
    described = (await client.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (err) {
    const e = err as { name?: string; message?: string };
    if (e.name === 'ValidationError' && /does not exist/.test(e.message ?? '')) return undefined;
    throw new UserError(`cannot read stack ${stackName} from CloudFormation: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`);
  }
  if (!described?.StackId || described.StackStatus === 'DELETE_COMPLETE') return undefined;
  const stackId = described.StackId;
  const [templateOut, resources] = await Promise.all([
    client.send(new GetTemplateCommand({ StackName: stackId })),
    listAll(client, stackId),
  ]).catch((err) => {
    throw new UserError(`cannot read stack ${stackName} from CloudFormation: ${err.name ?? 'Error'}: ${err.message ?? String(err)}`);
  });
  const template = JSON.parse(templateOut.TemplateBody ?? '{}') as Template;
  const live = new Map(resources.map((r) => [r.LogicalResourceId ?? '', {
    physicalId: r.PhysicalResourceId, type: r.ResourceType ?? '', status: r.ResourceStatus ?? '',
  }]));
  const nested = new Map<string, PlannedStack>();
  for (const r of resources) {
    if (r.ResourceType !== 'AWS::CloudFormation::Stack' || !r.PhysicalResourceId || !r.LogicalResourceId) continue;
    const child = await readOnline(client, r.PhysicalResourceId, `${display}/${r.LogicalResourceId}`);
    if (child) nested.set(r.LogicalResourceId, child);
  }
  const m = /^arn:([^:]+):cloudformation:([^:]+):(\d{12}):/.exec(stackId);
  // Not for a nested stack: its values come from its parent's template and values, alike on both
  // sides (cli/plan.ts, withNestedParameters); read here, they would be known on one side only, and
  // a value known on one side only looks like a key change.
  // The values in force: an SSM parameter type's resolved value (its name kept apart, as
  // --parameters gives it); a NoEcho value ('****') is left out, the plan cannot compare it.
  const declared = ((template as { Parameters?: Record<string, { NoEcho?: unknown }> }).Parameters ?? {});
  const shown = (described.Parameters ?? []).filter((p) => p.ParameterKey !== undefined && p.ParameterValue !== undefined &&
    !isNoEcho(declared[p.ParameterKey]));
  const parameters = nestedStack ? undefined : Object.fromEntries(shown.map((p) => [p.ParameterKey!, p.ResolvedValue ?? p.ParameterValue!]));
  const parameterNames = nestedStack ? undefined : Object.fromEntries(shown.filter((p) => p.ResolvedValue !== undefined)
    .map((p) => [p.ParameterKey!, p.ParameterValue!]));
  return {
    name: display, template: template as PlannedStack['template'], status: described.StackStatus, live, nested,
    env: m ? { partition: m[1], region: m[2], account: m[3] } : undefined,
    ...(parameters ? { parameters, parameterNames } : {}),
  };
}

/** A parameter declared NoEcho: CloudFormation shows its value as '****'. */
export function isNoEcho(declaration: { NoEcho?: unknown } | undefined): boolean {
  return declaration?.NoEcho === true || declaration?.NoEcho === 'true';
}

async function listAll(client: CloudFormationClient, stackId: string): Promise<StackResourceSummary[]> {
  const all: StackResourceSummary[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListStackResourcesCommand({ StackName: stackId, NextToken: token }));
    all.push(...(out.StackResourceSummaries ?? []));
    token = out.NextToken;
  } while (token);
  return all;
}
