/**
 * Benchmarks 1 and 2: what each approach adds to the template, and how long synthesis takes.
 *
 * Everything is synthesized in this process with the real aws-cdk-lib, both sides with the same
 * App settings, and read back from the cloud assembly (the template file as `cdk deploy` uploads it).
 * The largest N a stack holds is found by synthesis (a binary search: it fits at N, not at N + 1),
 * not extrapolated, since the cost per key need not be constant.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { AppOptions, buildApp, fakeKeyArn, Side } from './baseline';
import { median, ms, progress } from './stats';

/** CloudFormation's quota on resources per stack. */
export const MAX_RESOURCES = 500;
/**
 * IAM and AWS STS quotas (IAM User Guide), whitespace not counted: a role's inline policies
 * (AWS::IAM::Policy resources attached to it) total at most 10,240 characters; a customer managed
 * policy at most 6,144; a role has at most 10 managed policies attached (default quota, can be
 * raised to 20). Exceeding one fails the deployment ("Maximum policy size of 10240 bytes exceeded
 * for role ...").
 */
export const MAX_ROLE_INLINE_POLICY_CHARS = 10_240;
export const MAX_MANAGED_POLICY_CHARS = 6_144;
export const MAX_MANAGED_POLICIES_PER_ROLE = 10;

const ACCOUNT = '111111111111';
const REGION = 'eu-west-1';
const STACK_NAME = 'BenchStack';
/** A stack ARN of realistic length, for policies that name the stack. */
const STACK_ARN = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${STACK_NAME}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;

export interface SynthFigures {
  readonly side: Side;
  readonly keys: number;
  /** Every resource in the template. */
  readonly resources: number;
  /** Resources other than the keys themselves (AWS::KMS::Key). */
  readonly resourcesExclKeys: number;
  readonly byType: Record<string, number>;
  readonly functions: number;
  readonly roles: number;
  /** Size of the template file in the cloud assembly (what is uploaded), in bytes. */
  readonly templateBytes: number;
  /** Same template without whitespace. */
  readonly minifiedBytes: number;
  /** Largest aggregate of inline policies (AWS::IAM::Policy) on one role, in non-whitespace characters, resolved. */
  readonly maxRoleInlinePolicyChars: number;
  /** Largest customer managed policy (AWS::IAM::ManagedPolicy) document, same count. */
  readonly maxManagedPolicyChars: number;
  /** Most managed policies (AWS managed ones included) attached to one role. */
  readonly maxManagedPoliciesPerRole: number;
}

interface SynthOptions extends AppOptions {
  readonly context?: Record<string, unknown>;
  /** Version reporting on, as `cdk synth` has it by default: the stack gets a CDKMetadata resource. */
  readonly analyticsReporting?: boolean;
}

type Resources = Record<string, { Type: string; Properties?: any }>;

/** Synthesizes one stack and measures it. Throws what synthesis throws. */
export function synthFigures(o: SynthOptions): SynthFigures {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
  try {
    const app = new App({ outdir, context: o.context, analyticsReporting: o.analyticsReporting ?? false });
    const stack = new Stack(app, STACK_NAME, { env: { account: ACCOUNT, region: REGION } });
    buildApp(o)(stack);
    const artifact = app.synth().getStackByName(STACK_NAME);
    const text = fs.readFileSync(artifact.templateFullPath, 'utf8');
    const template = JSON.parse(text) as { Resources: Resources };
    const byType: Record<string, number> = {};
    for (const r of Object.values(template.Resources)) byType[r.Type] = (byType[r.Type] ?? 0) + 1;
    const resources = Object.keys(template.Resources).length;
    return {
      side: o.side,
      keys: (o.keyArns?.length ?? 0) + (o.sameStackKeys ?? 0),
      resources,
      resourcesExclKeys: resources - (byType['AWS::KMS::Key'] ?? 0),
      byType,
      functions: byType['AWS::Lambda::Function'] ?? 0,
      roles: byType['AWS::IAM::Role'] ?? 0,
      templateBytes: Buffer.byteLength(text),
      minifiedBytes: Buffer.byteLength(JSON.stringify(template)),
      ...iamFigures(template.Resources),
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** Resolves what IAM would receive: pseudo parameters, ARNs from Fn::GetAtt, Fn::Join. */
function resolveForIam(value: any, resources: Resources): any {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => resolveForIam(v, resources));
  if ('Ref' in value) {
    const pseudo: Record<string, string> = {
      'AWS::StackId': STACK_ARN, 'AWS::StackName': STACK_NAME, 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT,
      'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com',
    };
    return pseudo[value.Ref] ?? `${STACK_NAME}-${value.Ref}-ABCDEFGHIJKL`;
  }
  if ('Fn::GetAtt' in value) {
    const [id] = value['Fn::GetAtt'];
    if (resources[id]?.Type === 'AWS::KMS::Key') return `arn:aws:kms:${REGION}:${ACCOUNT}:key/0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0`;
    return `arn:aws:iam::${ACCOUNT}:role/${STACK_NAME}-${id}-ABCDEFGHIJKL`;
  }
  if ('Fn::Join' in value) {
    const [sep, parts] = value['Fn::Join'];
    return (resolveForIam(parts, resources) as string[]).join(sep);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveForIam(v, resources)]));
}

/** JSON.stringify writes no whitespace, and the values (ARNs, actions) contain none: IAM's count. */
const policyChars = (doc: unknown, resources: Resources) => JSON.stringify(resolveForIam(doc, resources)).length;

function iamFigures(resources: Resources) {
  const inline = new Map<string, number>();
  const managed = new Map<string, number>();
  let maxManagedPolicyChars = 0;
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::Role') managed.set(id, (managed.get(id) ?? 0) + (r.Properties?.ManagedPolicyArns?.length ?? 0));
  }
  for (const r of Object.values(resources)) {
    const roles: string[] = (r.Properties?.Roles ?? []).map((role: any) => role.Ref ?? JSON.stringify(role));
    if (r.Type === 'AWS::IAM::Policy') {
      const chars = policyChars(r.Properties.PolicyDocument, resources);
      for (const role of roles) inline.set(role, (inline.get(role) ?? 0) + chars);
    } else if (r.Type === 'AWS::IAM::ManagedPolicy') {
      maxManagedPolicyChars = Math.max(maxManagedPolicyChars, policyChars(r.Properties.PolicyDocument, resources));
      for (const role of roles) managed.set(role, (managed.get(role) ?? 0) + 1);
    }
  }
  return {
    maxRoleInlinePolicyChars: Math.max(0, ...inline.values()),
    maxManagedPolicyChars,
    maxManagedPoliciesPerRole: Math.max(0, ...managed.values()),
  };
}

const arns = (n: number) => Array.from({ length: n }, (_, i) => fakeKeyArn(i));

/** Why a stack of N keys cannot be deployed, or undefined when it can (as far as these quotas go). */
type Check = (f: SynthFigures) => string | undefined;

const fitsResources: Check = (f) => (f.resources > MAX_RESOURCES ? `${f.resources} resources` : undefined);
const fitsIam: Check = (f) => fitsResources(f)
  ?? (f.maxRoleInlinePolicyChars > MAX_ROLE_INLINE_POLICY_CHARS ? `the role's inline policies have ${f.maxRoleInlinePolicyChars} characters` : undefined)
  ?? (f.maxManagedPolicyChars > MAX_MANAGED_POLICY_CHARS ? `a managed policy has ${f.maxManagedPolicyChars} characters` : undefined)
  ?? (f.maxManagedPoliciesPerRole > MAX_MANAGED_POLICIES_PER_ROLE ? `the role has ${f.maxManagedPoliciesPerRole} managed policies` : undefined);

export interface Limit {
  /** The largest N that synthesizes and passes the check. */
  readonly keys: number;
  /** Why N + 1 does not: the check's reason, or the synthesis error. */
  readonly next: string;
}

/** Binary search by synthesis for the largest N that synthesizes and passes `check` (N = 1 must). */
function largestN(synth: (n: number) => SynthFigures, check: Check): Limit {
  const why = (n: number): string | undefined => {
    try {
      return check(synth(n));
    } catch (err) {
      return `synthesis fails: ${String((err as Error).message ?? err).split('\n')[0].slice(0, 160)}`;
    }
  };
  if (why(1) !== undefined) throw new Error(`not even one key fits: ${why(1)}`);
  let lo = 1;
  let hi = 2;
  while (why(hi) === undefined) {
    lo = hi;
    hi *= 2;
    if (hi > 100_000) throw new Error('no limit found below 100,000 keys');
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (why(mid) === undefined) lo = mid;
    else hi = mid;
  }
  return { keys: lo, next: why(lo + 1)! };
}

export interface SideCost {
  readonly side: Side;
  /** Template figures at N = 1, 10, 100, the largest N under 500 resources, and the largest deployable N. */
  readonly rows: SynthFigures[];
  /** Slope from N = 1 to 100. */
  readonly resourcesPerKey: number;
  readonly fixedResources: number;
  /** (resources(max) - fixed) / max, at the largest N under 500 resources. */
  readonly resourcesPerKeyAtMax: number;
  /** (bytes(100) - bytes(1)) / 99, template file bytes. */
  readonly bytesPerKey: number;
  readonly minifiedBytesPerKey: number;
  /** From N = 1 to the largest N under 500 resources. */
  readonly bytesPerKeyToMax: number;
  /** Largest N with at most 500 resources that synthesizes. */
  readonly maxByResources: Limit;
  /** Role inline-policy characters per key (slope from N = 10 to 100). */
  readonly iamCharsPerKey: number;
  /** Largest N that also passes IAM's policy quotas: what one stack can deploy. */
  readonly maxDeployable: Limit;
  /** The same with the recommended feature flag @aws-cdk/aws-iam:minimizePolicies on. */
  readonly maxDeployableMinimized: Limit;
  readonly bytesPerKeyMinimized: number;
  /** Same-stack kms.Key instead of imported ARNs: keys' own resources and bytes subtracted. */
  readonly sameStack: Array<{ keys: number; resources: number; bytes: number }>;
  readonly sameStackBytesPerKey: number;
  readonly sameStackResourcesPerKey: number;
  /** The same with a custom key policy that does not trust the account (ours then adds a key-policy statement). */
  readonly sameStackCustomPolicy?: Array<{ keys: number; resources: number; bytes: number }>;
  readonly sameStackCustomPolicyBytesPerKey?: number;
  /**
   * The largest stack that synthesizes under 500 resources counted as `cdk synth` counts it:
   * version reporting on (a CDKMetadata resource), resources by type.
   */
  readonly cdkSynthAtMax?: { keys: number; resources: number; byType: Record<string, number> };
}

export function measureTemplateCost(side: Side): SideCost {
  progress(`template cost: ${side}`);
  const cache = new Map<string, SynthFigures>();
  const at = (n: number, context?: Record<string, unknown>): SynthFigures => {
    const key = `${n}|${JSON.stringify(context ?? {})}`;
    let f = cache.get(key);
    if (!f) {
      f = synthFigures({ side, keyArns: arns(n), context });
      cache.set(key, f);
    }
    return f;
  };
  const minimize = { '@aws-cdk/aws-iam:minimizePolicies': true };
  const one = at(1);
  const ten = at(10);
  const hundred = at(100);
  const resourcesPerKey = (hundred.resources - one.resources) / 99;
  const fixedResources = one.resources - resourcesPerKey;
  const maxByResources = largestN((n) => at(n), fitsResources);
  const maxDeployable = largestN((n) => at(n), fitsIam);
  const maxDeployableMinimized = largestN((n) => at(n, minimize), fitsIam);
  const atMax = at(maxByResources.keys);
  const rows = [one, ten, hundred, atMax];
  if (![1, 10, 100, maxByResources.keys].includes(maxDeployable.keys)) rows.push(at(maxDeployable.keys));
  rows.sort((a, b) => a.keys - b.keys);

  const sameStackRows = (customKeyPolicy: boolean) => [1, 10, 100].map((n) => {
    const withRevocations = synthFigures({ side, sameStackKeys: n, customKeyPolicy });
    const keysOnly = synthFigures({ side, sameStackKeys: n, customKeyPolicy, keysOnly: true });
    return {
      keys: n,
      resources: withRevocations.resources - keysOnly.resources,
      bytes: withRevocations.templateBytes - keysOnly.templateBytes,
    };
  });
  const sameStack = sameStackRows(false);
  const sameStackCustomPolicy = sameStackRows(true);

  // CDKMetadata is one more resource: the largest N under 500 may be one less with it.
  const metadataLimit = largestN((n) => synthFigures({ side, keyArns: arns(n), analyticsReporting: true }), fitsResources);
  const withMetadata = synthFigures({ side, keyArns: arns(metadataLimit.keys), analyticsReporting: true });

  return {
    side,
    rows,
    cdkSynthAtMax: { keys: metadataLimit.keys, resources: withMetadata.resources, byType: withMetadata.byType },
    resourcesPerKey,
    fixedResources,
    resourcesPerKeyAtMax: (atMax.resources - fixedResources) / atMax.keys,
    bytesPerKey: (hundred.templateBytes - one.templateBytes) / 99,
    minifiedBytesPerKey: (hundred.minifiedBytes - one.minifiedBytes) / 99,
    bytesPerKeyToMax: (atMax.templateBytes - one.templateBytes) / (atMax.keys - 1),
    maxByResources,
    // From N = 10 to 100: from 1 to 2 keys a single Resource string also becomes a list.
    iamCharsPerKey: (hundred.maxRoleInlinePolicyChars - ten.maxRoleInlinePolicyChars) / 90,
    maxDeployable,
    maxDeployableMinimized,
    bytesPerKeyMinimized: (at(100, minimize).templateBytes - at(1, minimize).templateBytes) / 99,
    sameStack,
    sameStackBytesPerKey: (sameStack[2].bytes - sameStack[0].bytes) / 99,
    sameStackResourcesPerKey: (sameStack[2].resources - sameStack[0].resources) / 99,
    sameStackCustomPolicy,
    sameStackCustomPolicyBytesPerKey: (sameStackCustomPolicy[2].bytes - sameStackCustomPolicy[0].bytes) / 99,
  };
}

export interface SynthTime {
  readonly keys: number;
  readonly runs: number;
  readonly ours: number[];
  readonly baseline: number[];
  readonly oursMedianMs: number;
  readonly baselineMedianMs: number;
  /** ours / baseline, of the medians. */
  readonly ratio: number;
}

/** Wall time of `new App` + building N constructs + `app.synth()`, interleaved, after one warm-up each. */
export function measureSynthTime(keys: number, runs: number): SynthTime {
  progress(`synthesis time: N = ${keys}, ${runs} runs per side`);
  const once = (side: Side): number => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-time-'));
    try {
      const started = process.hrtime.bigint();
      const app = new App({ outdir });
      const stack = new Stack(app, STACK_NAME, { env: { account: ACCOUNT, region: REGION } });
      buildApp({ side, keyArns: arns(keys) })(stack);
      app.synth();
      return ms(started);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  };
  once('ours');
  once('baseline');
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate which side goes first, so that neither always follows the other's garbage.
    if (i % 2 === 0) {
      ours.push(once('ours'));
      baseline.push(once('baseline'));
    } else {
      baseline.push(once('baseline'));
      ours.push(once('ours'));
    }
  }
  const oursMedianMs = median(ours);
  const baselineMedianMs = median(baseline);
  return { keys, runs, ours, baseline, oursMedianMs, baselineMedianMs, ratio: oursMedianMs / baselineMedianMs };
}
