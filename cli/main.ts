/**
 * `cdk-kms-key-material plan`: what deploying the app now would revoke, what it never would, and
 * what `cdk destroy` would revoke, stack by stack. Shipped bundled (assets/plan/cli.js): it needs
 * nothing beyond the package.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { plan, PlanItem, PlannedStack } from './plan';
import { isNoEcho, readAssembly, readDeployed, readOnline, synthesize, UserError } from './sources';

const USAGE = `usage: cdk-kms-key-material plan [options] [STACK...]

Shows, for each stack of the app, what deploying it now would revoke (DeleteImportedKeyMaterial),
what it would not and why, and what cdk destroy would revoke.

  --app DIR|COMMAND   a synthesized cloud assembly (cdk.out) or the command that synthesizes the
                      app; default: the "app" of ./cdk.json, synthesized now
  --deployed PATH     compare with a saved template or an earlier cloud assembly instead of the
                      deployed stacks (offline); default: read them from CloudFormation
  --profile NAME      AWS profile for reading the deployed stacks (else the SDK's default chain)
  --region REGION     Region of the stacks, when the app does not pin it
  --json              machine-readable output
  --fail-on-revoke    exit 2 when the deployment would revoke anything, or fail anywhere, not
                      allowed with --allow
  --allow KEY|PATH    a key ARN or construct path whose revocation is expected (repeatable)
  --parameters [STACK:]NAME=VALUE
                      a parameter value the deployment will pass, as cdk deploy takes it
                      (repeatable; online only); the others keep their deployed values
`;

export interface StackPlan {
  readonly stack: string;
  readonly deployed: 'deployed' | 'not deployed' | 'from file';
  readonly items: PlanItem[];
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command !== 'plan') {
    process.stderr.write(command === undefined ? USAGE : `unknown command ${command}\n\n${USAGE}`);
    return 1;
  }
  let parsed;
  try {
    parsed = parseArgs({
    args: rest, allowPositionals: true,
    options: {
      'app': { type: 'string' }, 'deployed': { type: 'string' }, 'profile': { type: 'string' }, 'region': { type: 'string' },
      'json': { type: 'boolean' }, 'fail-on-revoke': { type: 'boolean' }, 'allow': { type: 'string', multiple: true },
      'parameters': { type: 'string', multiple: true },
      'help': { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UserError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const app = values.app;
  const assemblyDir = app && !/\s/.test(app) && fs.existsSync(app) ? app : synthesize(app, process.cwd());
  const stacks = readAssembly(assemblyDir).filter((s) => positionals.length === 0 || positionals.includes(s.stackName));
  if (stacks.length === 0) throw new UserError(positionals.length ? `no stack named ${positionals.join(', ')} in the app` : 'the app has no stacks');
  const offline = values.deployed ? readDeployed(values.deployed) : undefined;
  const given = parseParameters(values.parameters ?? []);
  if (offline && given.length > 0) throw new UserError('--parameters needs the deployed stacks online (their other values are read from CloudFormation), not --deployed');
  const clients = new Map<string, CloudFormationClient>();
  const plans: StackPlan[] = [];
  for (const s of stacks) {
    let deployed: PlannedStack | undefined;
    let state: StackPlan['deployed'];
    if (offline) {
      deployed = offline.single ?? offline.byName.get(s.stackName);
      state = deployed ? 'from file' : 'not deployed';
    } else {
      const region = values.region ?? s.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
      const key = region ?? '';
      if (!clients.has(key)) clients.set(key, new CloudFormationClient({ region, profile: values.profile }));
      deployed = await readOnline(clients.get(key)!, s.stackName);
      state = deployed ? 'deployed' : 'not deployed';
    }
    // The next deployment keeps the values in force, but for those given (as cdk deploy does).
    const next = deployed?.parameters
      ? { ...s.stack, parameters: nextParameters(deployed, parametersFor(given, s.stackName), s.stack.template) } : s.stack;
    plans.push({ stack: s.stackName, deployed: state, items: plan(next, deployed) });
  }
  const allowed = new Set(values.allow ?? []);
  // A revocation not allowed, or a step the plan foresees failing: what the handler would then do is
  // past what the plan can see, so a guard rail does not let it through (allowed by construct path).
  const unexpected = plans.flatMap((p) => p.items).filter((i) => i.when === 'deploy' && (
    (i.verdict === 'revoke' && !i.keys.every((k) => allowed.has(k)) && !(i.constructPath && allowed.has(i.constructPath))) ||
    (i.verdict === 'fail' && !(i.constructPath && allowed.has(i.constructPath)) && !allowed.has(i.key))));
  process.stdout.write(values.json ? `${JSON.stringify({ stacks: plans, unexpectedRevocations: unexpected.length }, null, 2)}\n` : render(plans));
  if (values['fail-on-revoke'] && unexpected.length > 0) {
    process.stderr.write(`${unexpected.length} revocation(s) or foreseen failure(s) not allowed with --allow: failing (--fail-on-revoke)\n`);
    return 2;
  }
  return 0;
}

interface GivenParameter { readonly stack?: string; readonly name: string; readonly value: string }

/** `--parameters` as cdk deploy takes them: NAME=VALUE for every stack, STACK:NAME=VALUE for one. */
function parseParameters(list: readonly string[]): GivenParameter[] {
  return list.map((entry) => {
    const m = /^(?:([^:=]+):)?([^:=]+)=(.*)$/s.exec(entry);
    if (!m) throw new UserError(`--parameters ${entry}: expected NAME=VALUE or STACK:NAME=VALUE`);
    return { stack: m[1], name: m[2], value: m[3] };
  });
}

/** As cdk deploy merges them: the values for every stack, then this stack's own, which win. */
function parametersFor(given: readonly GivenParameter[], stackName: string): Record<string, string> {
  const entries = (forStack: (p: GivenParameter) => boolean) => given.filter(forStack).map((p) => [p.name, p.value] as const);
  return { ...Object.fromEntries(entries((p) => p.stack === undefined)), ...Object.fromEntries(entries((p) => p.stack === stackName)) };
}

/**
 * The next deployment's values: those in force, but for those given, and for a parameter new in
 * this template its Default, as cdk deploy passes them. A parameter whose value CloudFormation does
 * not show (NoEcho) is left out on both sides: the plan cannot compare it.
 */
function nextParameters(deployed: PlannedStack, given: Record<string, string>, template: PlannedStack['template']): Record<string, string> {
  const declared = (template.Parameters ?? {}) as Record<string, { Type?: unknown; Default?: unknown; NoEcho?: unknown }>;
  const defaults = Object.entries(declared).filter(([, d]) => typeof d?.Default === 'string').map(([k, d]) => [k, d.Default as string] as const);
  const all: Record<string, string> = { ...Object.fromEntries(defaults), ...deployed.parameters, ...given };
  for (const [name, d] of Object.entries(declared)) {
    if (isNoEcho(d)) delete all[name];
    // An SSM parameter type is given by the SSM parameter's name: the same name keeps the value in
    // force (the plan cannot see a new value stored under it); another one, a value only the deployment reads.
    const ssm = typeof d?.Type === 'string' && d.Type.startsWith('AWS::SSM::Parameter::Value');
    if (!ssm || given[name] === undefined) continue;
    all[name] = given[name] === deployed.parameterNames?.[name] ? deployed.parameters![name] : `the value of SSM parameter ${given[name]}`;
  }
  return all;
}

function line(i: PlanItem): string {
  const who = i.constructPath ?? `${i.stack}/${i.logicalId}`;
  if (i.verdict === 'revoke') return `  - ${i.keys.join(' and ')} (${who}): ${i.why}; ${i.phase}`;
  if (i.verdict === 'fail') return `  - ${i.key} (${who}): the handler would fail and revoke nothing: ${i.why}`;
  return `  - ${i.key} (${who}): ${i.why}`;
}

export function render(plans: StackPlan[]): string {
  const out: string[] = [];
  for (const p of plans) {
    out.push(`Stack ${p.stack} (${p.deployed})`);
    const section = (title: string, items: PlanItem[]) => {
      out.push(`${title}${items.length === 0 ? ' nothing' : ''}`);
      for (const i of items) out.push(line(i));
    };
    section('Deploying now would revoke:', p.items.filter((i) => i.when === 'deploy' && i.verdict === 'revoke'));
    section('Deploying now would not revoke:', p.items.filter((i) => i.when === 'deploy' && i.verdict !== 'revoke'));
    section('cdk destroy (after this deployment) would revoke:', p.items.filter((i) => i.when === 'destroy' && i.verdict === 'revoke'));
    out.push('');
  }
  out.push('This assumes the deployment succeeds: if it fails and rolls back, nothing is revoked. What only the deployment can know');
  out.push('is not foreseen: a key already PendingImport or gone (a success, logged), a denied call (the deployment fails loudly).');
  return `${out.join('\n')}\n`;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    process.stderr.write(`cdk-kms-key-material: ${err instanceof UserError ? err.message : `unexpected error: ${(err as Error).message}`}\n`);
    process.exitCode = 1;
  });
}
