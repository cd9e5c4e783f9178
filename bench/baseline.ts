/**
 * The apps the benchmarks compare, built the same way for the same keys:
 *
 * - ours: one KeyMaterialRevocation per key (or an ExternalKey, which comes with its own);
 * - the baseline: what users hand-roll today, one AwsCustomResource (aws-cdk-lib/custom-resources)
 *   per key that calls DeleteImportedKeyMaterial in onDelete, with a DescribeKey in onCreate (a
 *   cheap call that checks the key exists, as the benchmark's baseline has always had it), a
 *   policy from fromSdkCalls and installLatestAwsSdk: false (the SDK of the Lambda runtime);
 * - the onDelete-only baseline: the same AwsCustomResource without onCreate, as many users who
 *   write one by hand write it (issue 13: the smaller of the two, which the template goal is held
 *   against).
 */
import { Duration, NestedStack, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { ExternalKey, ExternalKeyProps, KeyMaterialRevocation, KeyMaterialScope } from '../lib/index';

/** Who revokes: ours, the baseline with onCreate DescribeKey, or the baseline with onDelete only. */
export type Side = 'ours' | 'baseline' | 'baseline-delete-only';

export const SIDE_LABEL: Record<Side, string> = {
  'ours': 'ours',
  'baseline': 'baseline (onCreate + onDelete)',
  'baseline-delete-only': 'baseline (onDelete only)',
};

/** The baseline for one key; `deleteOnly`: without the onCreate DescribeKey. */
export function baselineRevocation(scope: Construct, id: string, key: kms.IKey, deleteOnly = false): AwsCustomResource {
  return new AwsCustomResource(scope, id, {
    onCreate: deleteOnly ? undefined : {
      service: 'KMS',
      action: 'DescribeKey',
      parameters: { KeyId: key.keyArn },
      physicalResourceId: PhysicalResourceId.of(key.keyArn),
    },
    onDelete: {
      service: 'KMS',
      action: 'DeleteImportedKeyMaterial',
      parameters: { KeyId: key.keyArn },
      physicalResourceId: PhysicalResourceId.of(key.keyArn),
    },
    policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: [key.keyArn] }),
    installLatestAwsSdk: false,
  });
}

/**
 * The key-policy statement a user must add for the baseline to work under a key policy that does
 * not trust the account (IAM alone grants nothing on such a key): the baseline's actions for the
 * custom resource's role.
 */
export function baselineKeyPolicyStatement(key: kms.IKey, cr: AwsCustomResource, deleteOnly: boolean): void {
  key.addToResourcePolicy(new iam.PolicyStatement({
    actions: deleteOnly ? ['kms:DeleteImportedKeyMaterial'] : ['kms:DeleteImportedKeyMaterial', 'kms:DescribeKey'],
    principals: [cr.grantPrincipal],
    resources: ['*'],
  }));
}

/** A made-up but well-formed key ARN, distinct per index (same length for every index). */
export function fakeKeyArn(i: number, account = '111111111111', region = 'eu-west-1'): string {
  return `arn:aws:kms:${region}:${account}:key/${String(i).padStart(8, '0')}-1111-4111-8111-111111111111`;
}

export interface AppOptions {
  readonly side: Side;
  /** Keys imported by ARN (kms.Key.fromKeyArn): they add no resource to the template. */
  readonly keyArns?: string[];
  /** Or: this many keys defined in the stack (kms.Key with Origin EXTERNAL). */
  readonly sameStackKeys?: number;
  /**
   * Same-stack keys get a custom key policy (an administrator role only, no statement trusting
   * the account's IAM policies) instead of kms.Key's default one.
   */
  readonly customKeyPolicy?: boolean;
  /** Skip the revocations: the keys alone, to subtract them from a same-stack measurement. */
  readonly keysOnly?: boolean;
  readonly scope?: KeyMaterialScope;
  /** Ours only: the revocations' `serviceTimeout` (the construct's default when unset). */
  readonly serviceTimeout?: Duration;
}

/** A key policy that lets one administrator role manage the key and does not trust the account's IAM policies. */
function adminOnlyPolicy(stack: Stack): iam.PolicyDocument {
  return new iam.PolicyDocument({ statements: [adminStatement(stack)] });
}

function adminStatement(stack: Stack): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['kms:*'], resources: ['*'], principals: [new iam.ArnPrincipal(`arn:aws:iam::${stack.account}:role/KeyAdministrator`)],
  });
}

/** A custom key policy that trusts the account (Allow kms:* for the account root on "*"), plus the administrator role. */
function trustingPolicy(stack: Stack): iam.PolicyDocument {
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({ actions: ['kms:*'], resources: ['*'], principals: [new iam.AccountRootPrincipal()] }),
      adminStatement(stack),
    ],
  });
}

/** Builds one side's stack: a revocation per key. */
export function buildApp(o: AppOptions): (stack: Stack) => void {
  return (stack) => {
    const keys: kms.IKey[] = [];
    for (const [i, arn] of (o.keyArns ?? []).entries()) keys.push(kms.Key.fromKeyArn(stack, `Key${i}`, arn));
    for (let i = 0; i < (o.sameStackKeys ?? 0); i++) {
      const key = new kms.Key(stack, `Key${i}`, o.customKeyPolicy ? { policy: adminOnlyPolicy(stack) } : {});
      (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
      keys.push(key);
    }
    if (o.keysOnly) return;
    keys.forEach((key, i) => revoke(stack, `Revocation${i}`, key, o.side, o.scope, o.serviceTimeout));
  };
}

function revoke(scope: Construct, id: string, key: kms.IKey, side: Side, materialScope?: KeyMaterialScope,
  serviceTimeout?: Duration): AwsCustomResource | undefined {
  if (side === 'ours') {
    new KeyMaterialRevocation(scope, id, { key, materialScope, serviceTimeout });
    return undefined;
  }
  return baselineRevocation(scope, id, key, side === 'baseline-delete-only');
}

/**
 * The key shapes a user writes (issue 13 goal 2), each measured with every side:
 *
 * - `arn`: kms.Key.fromKeyArn (the key adds nothing to the template);
 * - `key-default-policy`: kms.Key with its default key policy, Origin EXTERNAL by property override;
 * - `key-trusting-policy`: kms.Key with a custom policy that trusts the account (Allow kms:* for the
 *   account root on "*") plus an administrator-role statement;
 * - `key-admin-only-policy`: kms.Key with a custom policy naming an administrator role only: it does
 *   not trust the account, so the baseline works only with a key-policy statement of its own
 *   (`fair`: added, as a user must; off: the baseline as written, which cannot act on the key);
 * - `cfn-key-literal-root`: kms.Key.fromCfnKey(new kms.CfnKey(...)) with a literal JSON key policy
 *   allowing kms:* on "*" to `arn:aws:iam::ACCOUNT:root`, Origin EXTERNAL;
 * - `external-key`: our ExternalKey (a kms.Key with its revocation built in); the baselines and the
 *   keys-only stack are a kms.Key with Origin EXTERNAL and the same (default) policy;
 * - `nested-arn`: keys by ARN with their revocations in a NestedStack (our handler is per nested stack).
 */
export type KeyShape = 'arn' | 'key-default-policy' | 'key-trusting-policy' | 'key-admin-only-policy' | 'cfn-key-literal-root' | 'external-key' | 'nested-arn';

export const KEY_SHAPES: readonly KeyShape[] = ['arn', 'key-default-policy', 'key-trusting-policy', 'key-admin-only-policy', 'cfn-key-literal-root', 'external-key', 'nested-arn'];

export interface ShapeAppOptions {
  readonly side: Side;
  readonly shape: KeyShape;
  readonly keys: number;
  /** The keys alone (for same-stack shapes), to subtract them. */
  readonly keysOnly?: boolean;
  /** `key-admin-only-policy`, baselines: add the key-policy statement the baseline needs (default true). */
  readonly fair?: boolean;
  /** `external-key`, ours: ExternalKey's props (default: none, its defaults). */
  readonly externalKeyProps?: ExternalKeyProps;
  /**
   * `external-key`, ours, keys only: what is subtracted. `kms-key` (default): a kms.Key with Origin
   * EXTERNAL and the same policy, so that everything ExternalKey adds counts as ours;
   * `external-key`: the same ExternalKey with `withRevocation: false`, so that only its built-in
   * revocation counts.
   */
  readonly keysOnlyAs?: 'kms-key' | 'external-key';
}

/** What a shape's build made, for the measurement: the nested stack whose template holds the revocations. */
export interface ShapeBuild {
  nested?: NestedStack;
}

/** Builds `o.keys` keys of one shape, each with one side's revocation. */
export function buildShape(o: ShapeAppOptions, built: ShapeBuild = {}): (stack: Stack) => void {
  return (stack) => {
    const scope: Construct = o.shape === 'nested-arn' ? (built.nested = new NestedStack(stack, 'Nested')) : stack;
    const inScope = Stack.of(scope);
    for (let i = 0; i < o.keys; i++) {
      const id = `Key${i}`;
      let key: kms.IKey;
      switch (o.shape) {
        case 'arn':
        case 'nested-arn':
          key = kms.Key.fromKeyArn(scope, id, fakeKeyArn(i));
          break;
        case 'key-default-policy':
          key = externalOrigin(new kms.Key(scope, id));
          break;
        case 'key-trusting-policy':
          key = externalOrigin(new kms.Key(scope, id, { policy: trustingPolicy(inScope) }));
          break;
        case 'key-admin-only-policy':
          key = externalOrigin(new kms.Key(scope, id, { policy: adminOnlyPolicy(inScope) }));
          break;
        case 'cfn-key-literal-root':
          key = kms.Key.fromCfnKey(new kms.CfnKey(scope, id, {
            origin: 'EXTERNAL',
            keyPolicy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${inScope.account}:root` }, Action: 'kms:*', Resource: '*' }],
            },
          }));
          break;
        case 'external-key':
          if (o.side === 'ours' && !o.keysOnly) {
            new ExternalKey(scope, id, o.externalKeyProps ?? {});
            continue;
          }
          if (o.side === 'ours' && o.keysOnlyAs === 'external-key') {
            new ExternalKey(scope, id, { ...o.externalKeyProps, withRevocation: false });
            continue;
          }
          key = externalOrigin(new kms.Key(scope, id));
          break;
      }
      if (o.keysOnly) continue;
      const cr = revoke(scope, `Revocation${i}`, key, o.side);
      if (cr && o.shape === 'key-admin-only-policy' && (o.fair ?? true)) baselineKeyPolicyStatement(key, cr, o.side === 'baseline-delete-only');
    }
  };
}

function externalOrigin(key: kms.Key): kms.Key {
  (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
  return key;
}

/** ExternalKey with kms.Key's removal policy (RETAIN) instead of its own DESTROY: its defaults that differ from kms.Key's, turned off where its props allow. */
export const EXTERNAL_KEY_RETAIN: ExternalKeyProps = { removalPolicy: RemovalPolicy.RETAIN };
