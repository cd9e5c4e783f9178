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
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  AppOptions, buildApp, buildShape, EXTERNAL_KEY_RETAIN, fakeKeyArn, KEY_SHAPES, KeyShape, ShapeAppOptions, ShapeBuild, Side,
} from './baseline';
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
  return synthesizeWith(o, buildApp(o), (o.keyArns?.length ?? 0) + (o.sameStackKeys ?? 0)).root;
}

/** The figures of one template file's text. */
function figuresOf(text: string, side: Side, keys: number): SynthFigures {
  const template = JSON.parse(text) as { Resources: Resources };
  const byType: Record<string, number> = {};
  for (const r of Object.values(template.Resources ?? {})) byType[r.Type] = (byType[r.Type] ?? 0) + 1;
  const resources = Object.keys(template.Resources ?? {}).length;
  return {
    side,
    keys,
    resources,
    resourcesExclKeys: resources - (byType['AWS::KMS::Key'] ?? 0),
    byType,
    functions: byType['AWS::Lambda::Function'] ?? 0,
    roles: byType['AWS::IAM::Role'] ?? 0,
    templateBytes: Buffer.byteLength(text),
    minifiedBytes: Buffer.byteLength(JSON.stringify(template)),
    ...iamFigures(template.Resources ?? {}),
  };
}

interface Synthesized {
  readonly root: SynthFigures;
  /** The nested stack's own template, when the build made one. */
  readonly nested?: SynthFigures;
}

/** Synthesizes one stack built by `build` and measures its template (and its nested stack's). */
function synthesizeWith(o: { side: Side; context?: Record<string, unknown>; analyticsReporting?: boolean; nagPack?: boolean },
  build: (stack: Stack) => void, keys: number, built?: ShapeBuild): Synthesized {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
  try {
    const app = new App({ outdir, context: o.context, analyticsReporting: o.analyticsReporting ?? false });
    const stack = new Stack(app, STACK_NAME, { env: { account: ACCOUNT, region: REGION } });
    build(stack);
    // cdk-nag's AwsSolutions pack, as a user who runs it applies it: the library then writes its
    // acknowledgements into the template (Metadata.cdk_nag), which it leaves out without a pack.
    if (o.nagPack) Aspects.of(app).add(new AwsSolutionsChecks({ reports: false }));
    const artifact = app.synth().getStackByName(STACK_NAME);
    const read = (file: string) => fs.readFileSync(file, 'utf8');
    const root = figuresOf(read(artifact.templateFullPath), o.side, keys);
    const nested = built?.nested ? figuresOf(read(path.join(outdir, built.nested.templateFile)), o.side, keys) : undefined;
    return { root, nested };
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

/**
 * Search by synthesis for the largest N that synthesizes and passes `check` (N = 1 must): from
 * `guess` when given (stepping up or down from it, doubling the step), else doubling from 2, then
 * bisecting.
 */
function largestN(synth: (n: number) => SynthFigures, check: Check, guess?: number): Limit {
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
  if (guess !== undefined && guess > 1) {
    let step = 1;
    if (why(guess) === undefined) {
      lo = guess;
      hi = guess + step;
      while (why(hi) === undefined) {
        lo = hi;
        step *= 2;
        hi = lo + step;
        if (hi > 100_000) throw new Error('no limit found below 100,000 keys');
      }
    } else {
      hi = guess;
      lo = Math.max(1, guess - step);
      while (lo > 1 && why(lo) !== undefined) {
        hi = lo;
        step *= 2;
        lo = Math.max(1, hi - step);
      }
    }
  } else {
    while (why(hi) === undefined) {
      lo = hi;
      hi *= 2;
      if (hi > 100_000) throw new Error('no limit found below 100,000 keys');
    }
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

/** Shapes whose keys are resources of the stack: their own resources and bytes are subtracted. */
const SAME_STACK: ReadonlySet<KeyShape> = new Set(['key-default-policy', 'key-trusting-policy', 'key-admin-only-policy', 'cfn-key-literal-root', 'external-key']);

export interface PerKeyCost {
  readonly side: Side;
  /**
   * Template bytes per added key, (N = 100 minus N = 1) / 99, the keys' own bytes subtracted for
   * keys defined in the stack; for a nested stack, its template's and the parent's together.
   */
  readonly bytesPerKey: number;
  /** Resources per added key, the same way (the keys' own AWS::KMS::Key excluded). */
  readonly resourcesPerKey: number;
  /** Nested stack: the nested template's and the parent's, each per added key. */
  readonly nestedBytesPerKey?: number;
  readonly parentBytesPerKey?: number;
  readonly nestedResourcesPerKey?: number;
  readonly parentResourcesPerKey?: number;
  /** Resource types whose count grows from N = 1 to 100 (keys' own subtracted): added per key. */
  readonly addedTypesPerKey: Record<string, number>;
  /** Resources and bytes added at N = 1 and 100 (keys' own subtracted). */
  readonly at: Array<{ keys: number; resources: number; bytes: number }>;
  /**
   * Keys per stack as `cdk synth` counts them: the largest N that synthesizes with version reporting
   * on (CDKMetadata in the template) under 500 resources, keys' own resources included; its resources.
   * Absent for the nested shape.
   */
  readonly cdkSynthMax?: Limit & { readonly resources: number };
}

export interface ShapeCost {
  readonly shape: KeyShape;
  readonly ours: PerKeyCost;
  /** The baseline with onCreate DescribeKey; under `key-admin-only-policy` with the key-policy statement it needs. */
  readonly baseline: PerKeyCost;
  /** The baseline with onDelete only, the same way. */
  readonly baselineDeleteOnly: PerKeyCost;
  /** `key-admin-only-policy`: the baselines as written, without the key-policy statement (they cannot act on the key). */
  readonly baselineAsWritten?: PerKeyCost;
  readonly baselineDeleteOnlyAsWritten?: PerKeyCost;
  /** `external-key`: ours measured other ways (what ExternalKey adds by default, with those extras off). */
  readonly oursVariants?: Array<{ readonly name: string; readonly description: string; readonly cost: PerKeyCost }>;
  /**
   * `external-key`: how ExternalKey's key (without its revocation) differs from the plain kms.Key it
   * is compared with, attribute by attribute of the AWS::KMS::Key resource (Properties.X,
   * DeletionPolicy, Metadata.X, ...), and the resources it adds besides the key.
   */
  readonly keyDifferences?: { readonly added: string[]; readonly removed: string[]; readonly changed: string[]; readonly otherResources: Record<string, number> };
}

/** ExternalKey's key without its revocation against a kms.Key with Origin EXTERNAL, one key each. */
function externalKeyDifferences(): NonNullable<ShapeCost['keyDifferences']> {
  const template = (keysOnlyAs: 'kms-key' | 'external-key') => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
    try {
      const app = new App({ outdir });
      const stack = new Stack(app, STACK_NAME, { env: { account: ACCOUNT, region: REGION } });
      buildShape({ side: 'ours', shape: 'external-key', keys: 1, keysOnly: true, keysOnlyAs })(stack);
      return app.synth().getStackByName(STACK_NAME).template as { Resources: Record<string, Record<string, any>> };
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  };
  const plain = template('kms-key');
  const ours = template('external-key');
  const keyOf = (t: typeof plain) => Object.values(t.Resources).find((r) => r.Type === 'AWS::KMS::Key') ?? {};
  // Attributes one level down for Properties and Metadata, whole otherwise.
  const flat = (r: Record<string, any>) => {
    const out = new Map<string, string>();
    for (const [k, val] of Object.entries(r)) {
      if ((k === 'Properties' || k === 'Metadata') && typeof val === 'object' && val !== null) {
        for (const [k2, v2] of Object.entries(val)) out.set(`${k}.${k2}`, JSON.stringify(v2));
      } else out.set(k, JSON.stringify(val));
    }
    return out;
  };
  const a = flat(keyOf(plain));
  const b = flat(keyOf(ours));
  const types = (t: typeof plain) => {
    const out: Record<string, number> = {};
    for (const r of Object.values(t.Resources)) if (r.Type !== 'AWS::KMS::Key') out[r.Type] = (out[r.Type] ?? 0) + 1;
    return out;
  };
  return {
    added: [...b.keys()].filter((k) => !a.has(k)).map((k) => `${k} ${b.get(k)!.length > 40 ? `(${b.get(k)!.length} characters)` : b.get(k)}`),
    removed: [...a.keys()].filter((k) => !b.has(k)),
    changed: [...b.keys()].filter((k) => a.has(k) && a.get(k) !== b.get(k)).map((k) => `${k} ${a.get(k)} → ${b.get(k)}`),
    otherResources: Object.fromEntries(Object.entries(sub(types(ours), types(plain))).filter(([, n]) => n !== 0)),
  };
}

type ShapeRun = Omit<ShapeAppOptions, 'keys' | 'keysOnly'> & { readonly nagPack?: boolean };

function synthShape(o: ShapeRun, keys: number, keysOnly: boolean, analyticsReporting = false): Synthesized {
  const built: ShapeBuild = {};
  return synthesizeWith({ side: o.side, analyticsReporting, nagPack: o.nagPack }, buildShape({ ...o, keys, keysOnly }, built), keys, built);
}

const sub = (a: Record<string, number>, b: Record<string, number>) => {
  const out: Record<string, number> = { ...a };
  for (const [k, n] of Object.entries(b)) out[k] = (out[k] ?? 0) - n;
  return out;
};
const add = (a: Record<string, number>, b: Record<string, number> = {}) => sub(a, Object.fromEntries(Object.entries(b).map(([k, n]) => [k, -n])));

/** Per added key for one side and shape: resources and bytes at N = 1 and 100, keys' own subtracted. */
export function measurePerKey(o: ShapeRun, withLimit = true): PerKeyCost {
  const subtract = SAME_STACK.has(o.shape);
  const point = (n: number) => {
    const full = synthShape(o, n, false);
    const base = subtract ? synthShape(o, n, true) : undefined;
    const resources = (f: Synthesized) => f.root.resources + (f.nested?.resources ?? 0);
    const bytes = (f: Synthesized) => f.root.templateBytes + (f.nested?.templateBytes ?? 0);
    const types = (f: Synthesized) => add(f.root.byType, f.nested?.byType);
    return {
      keys: n,
      resources: resources(full) - (base ? resources(base) : 0),
      bytes: bytes(full) - (base ? bytes(base) : 0),
      byType: base ? sub(types(full), types(base)) : types(full),
      parentBytes: full.nested ? full.root.templateBytes : undefined,
      nestedBytes: full.nested?.templateBytes,
      parentResources: full.nested ? full.root.resources : undefined,
      nestedResources: full.nested?.resources,
    };
  };
  const one = point(1);
  const hundred = point(100);
  const per = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : (b - a) / 99);
  const addedTypesPerKey = Object.fromEntries(Object.entries(sub(hundred.byType, one.byType)).filter(([, n]) => n !== 0).map(([t, n]) => [t, n / 99]));
  const resourcesPerKey = (hundred.resources - one.resources) / 99;
  let cdkSynthMax: PerKeyCost['cdkSynthMax'];
  if (withLimit && o.shape !== 'nested-arn') {
    // A first guess from the slope (the total, keys' own resources included), then a search by synthesis around it.
    const total = (n: number) => synthShape(o, n, false, true).root;
    const at1 = total(1);
    const keyResources = subtract ? 1 : 0;
    const guess = Math.max(1, Math.floor((MAX_RESOURCES - at1.resources) / Math.max(0.5, resourcesPerKey + keyResources)) + 1);
    const cache = new Map<number, SynthFigures>([[1, at1]]);
    const at = (n: number) => {
      let f = cache.get(n);
      if (!f) cache.set(n, (f = total(n)));
      return f;
    };
    const limit = largestN(at, fitsResources, guess);
    cdkSynthMax = { ...limit, resources: at(limit.keys).resources };
  }
  return {
    side: o.side,
    bytesPerKey: (hundred.bytes - one.bytes) / 99,
    resourcesPerKey,
    nestedBytesPerKey: per(one.nestedBytes, hundred.nestedBytes),
    parentBytesPerKey: per(one.parentBytes, hundred.parentBytes),
    nestedResourcesPerKey: per(one.nestedResources, hundred.nestedResources),
    parentResourcesPerKey: per(one.parentResources, hundred.parentResources),
    addedTypesPerKey,
    at: [one, hundred].map((x) => ({ keys: x.keys, resources: x.resources, bytes: x.bytes })),
    cdkSynthMax,
  };
}

/** Issue 13 goal 2: every key shape, ours against both baselines. */
export function measureShapes(): ShapeCost[] {
  const out: ShapeCost[] = [];
  for (const shape of KEY_SHAPES) {
    progress(`template cost by key shape: ${shape}`);
    const cost: ShapeCost = {
      shape,
      ours: measurePerKey({ side: 'ours', shape }),
      baseline: measurePerKey({ side: 'baseline', shape }),
      baselineDeleteOnly: measurePerKey({ side: 'baseline-delete-only', shape }),
      ...(shape === 'key-admin-only-policy' ? {
        baselineAsWritten: measurePerKey({ side: 'baseline', shape, fair: false }, false),
        baselineDeleteOnlyAsWritten: measurePerKey({ side: 'baseline-delete-only', shape, fair: false }, false),
      } : {}),
      ...(shape === 'external-key' ? {
        oursVariants: [
          { name: 'retain', description: 'ExternalKey with removalPolicy RETAIN (kms.Key\'s default) instead of its DESTROY, minus the same kms.Key', cost: measurePerKey({ side: 'ours', shape, externalKeyProps: EXTERNAL_KEY_RETAIN }, false) },
          { name: 'with-cdk-nag', description: 'the same as ours with cdk-nag\'s AwsSolutions pack applied: each key then carries its KMS5 acknowledgement in Metadata.cdk_nag', cost: measurePerKey({ side: 'ours', shape, nagPack: true }, false) },
          { name: 'revocation-only', description: 'ExternalKey minus ExternalKey with withRevocation: false: its built-in revocation alone', cost: measurePerKey({ side: 'ours', shape, keysOnlyAs: 'external-key' }, false) },
        ],
        keyDifferences: externalKeyDifferences(),
      } : {}),
    };
    out.push(cost);
  }
  return out;
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
  /** The onDelete-only baseline (absent from records made before it was measured). */
  readonly baselineDeleteOnly?: number[];
  readonly baselineDeleteOnlyMedianMs?: number;
  /**
   * N ExternalKeys (ours) against N kms.Key with Origin EXTERNAL and a baseline AwsCustomResource
   * each, both baselines (absent from records made before it was measured).
   */
  readonly externalKey?: {
    readonly ours: number[];
    readonly baseline: number[];
    readonly baselineDeleteOnly: number[];
    readonly oursMedianMs: number;
    readonly baselineMedianMs: number;
    readonly baselineDeleteOnlyMedianMs: number;
  };
}

const SIDES: readonly Side[] = ['ours', 'baseline', 'baseline-delete-only'];

/**
 * Wall time of `new App` + building N constructs + `app.synth()`: keys by ARN with a revocation
 * each, and ExternalKeys against kms.Keys with a baseline each. Each run times every side of one
 * group back to back, the order rotated from run to run, the groups alternating, after one
 * warm-up of each.
 */
export function measureSynthTime(keys: number, runs: number): SynthTime {
  progress(`synthesis time: N = ${keys}, ${runs} runs per side, keys by ARN and ExternalKey`);
  const once = (side: Side, external: boolean): number => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-time-'));
    try {
      const started = process.hrtime.bigint();
      const app = new App({ outdir });
      const stack = new Stack(app, STACK_NAME, { env: { account: ACCOUNT, region: REGION } });
      if (external) buildShape({ side, shape: 'external-key', keys })(stack);
      else buildApp({ side, keyArns: arns(keys) })(stack);
      app.synth();
      return ms(started);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  };
  const times = { arn: new Map<Side, number[]>(), external: new Map<Side, number[]>() };
  for (const external of [false, true]) for (const side of SIDES) once(side, external);
  for (let i = 0; i < runs; i++) {
    for (const external of i % 2 === 0 ? [false, true] : [true, false]) {
      // Rotate the order, so that no side always follows the same other one's garbage.
      const order = SIDES.map((_, j) => SIDES[(i + j) % SIDES.length]);
      for (const side of order) {
        const m = external ? times.external : times.arn;
        m.set(side, [...(m.get(side) ?? []), once(side, external)]);
      }
    }
  }
  const get = (m: Map<Side, number[]>, side: Side) => m.get(side) ?? [];
  const ours = get(times.arn, 'ours');
  const baseline = get(times.arn, 'baseline');
  const baselineDeleteOnly = get(times.arn, 'baseline-delete-only');
  const oursMedianMs = median(ours);
  const baselineMedianMs = median(baseline);
  return {
    keys, runs, ours, baseline, oursMedianMs, baselineMedianMs, ratio: oursMedianMs / baselineMedianMs,
    baselineDeleteOnly, baselineDeleteOnlyMedianMs: median(baselineDeleteOnly),
    externalKey: {
      ours: get(times.external, 'ours'),
      baseline: get(times.external, 'baseline'),
      baselineDeleteOnly: get(times.external, 'baseline-delete-only'),
      oursMedianMs: median(get(times.external, 'ours')),
      baselineMedianMs: median(get(times.external, 'baseline')),
      baselineDeleteOnlyMedianMs: median(get(times.external, 'baseline-delete-only')),
    },
  };
}
