import * as fs from 'node:fs';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import {
  Annotations, CfnResource, Duration, Stack, Token,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  ATTR_KEY_ARN, ATTR_REVOKED_MATERIAL_IDS, CLOUDFORMATION_ACTIONS, CONTRACT_VERSION, KMS_ACTIONS,
  RESOURCE_TYPE, RevocationProperties,
} from './contract';
import { keyPolicyTrustsAccount } from './key-policy';

/**
 * Which imported key materials a revocation deletes.
 */
export enum KeyMaterialScope {
  /**
   * Every imported material of the key, each deleted by its ID (listed with `ListKeyRotations`).
   * A symmetric key with imported material can hold several; deleting only the current one would
   * leave the others stored, and re-importing the current one would make them usable again.
   */
  ALL = 'ALL',
  /**
   * Only the current material (`DeleteImportedKeyMaterial` without `KeyMaterialId`). The key goes
   * to `PendingImport`; other materials stay stored in KMS.
   */
  CURRENT = 'CURRENT',
}

/**
 * Properties of a `KeyMaterialRevocation`.
 */
export interface KeyMaterialRevocationProps {
  /**
   * The key whose imported material is revoked. It must have `Origin: EXTERNAL`, be in the
   * stack's account, and be given by key ID or key ARN (not an alias). It may be in another
   * Region of the same account.
   */
  readonly key: kms.IKey;

  /**
   * Revoke the material when the stack is deleted, and when this construct is removed from the
   * app together with its key (defined in the same stack). Never during a rollback.
   *
   * @default true
   */
  readonly revokeOnStackDelete?: boolean;

  /**
   * Revoke the old key's material when an update points this construct at another key, once the
   * update has succeeded (in CloudFormation's cleanup phase). Never when the update rolls back.
   * The new key is not touched.
   *
   * @default true
   */
  readonly revokeOnKeyReplacement?: boolean;

  /**
   * Revoke the material when only this construct is removed from the app and the key stays.
   * Off by default, so that a refactor never revokes by accident. A construct that is only
   * renamed (another revocation in the stack still manages the same key) never revokes.
   *
   * @default false
   */
  readonly revokeOnRemoval?: boolean;

  /**
   * The explicit switch: when it turns on (in an update, or on create), the material is revoked
   * during that deployment. Turning it off again does not restore anything: only re-importing
   * the material does.
   *
   * @default false
   */
  readonly revoked?: boolean;

  /**
   * Which materials a revocation deletes.
   *
   * @default KeyMaterialScope.ALL
   */
  readonly materialScope?: KeyMaterialScope;

  /**
   * How long CloudFormation waits for the handler's answer (the custom resource's
   * `ServiceTimeout`). The handler keeps its own time budget inside it and always answers
   * before it runs out. Between 30 seconds and 1 hour.
   *
   * @default Duration.minutes(5)
   */
  readonly serviceTimeout?: Duration;
}

/** Construct IDs and the handler's location: permanent, changing them replaces deployed resources. */
const PROVIDER_ID = 'KmsKeyMaterialRevocationProvider';
const HANDLER_DIR = path.join(__dirname, '..', 'assets', 'revocation-handler');
/**
 * nodejs24.x: the newest Lambda Node.js runtime, supported the longest. Built by name so that the
 * aws-cdk-lib floor does not depend on when the constant was added.
 */
const HANDLER_RUNTIME = new lambda.Runtime('nodejs24.x', lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true });
/** The handler's time budget never exceeds this; the resource's ServiceTimeout usually bounds it sooner. */
const HANDLER_TIMEOUT = Duration.minutes(15);
const DEFAULT_SERVICE_TIMEOUT = Duration.minutes(5);
const MIN_SERVICE_TIMEOUT_SECONDS = 30;
const MAX_SERVICE_TIMEOUT_SECONDS = 3600;

/*
 * IAM size quotas (IAM User Guide, "IAM and AWS STS quotas"): a role's inline policies together
 * hold at most 10,240 characters, a customer managed policy 6,144, and a role has at most 10
 * managed policies attached by default. A key ARN costs up to about 90 characters in a policy,
 * so the first keys go in the inline policy and the rest in managed policies of their own.
 */
/** Keys granted by the inline policy (next to the CloudFormation statement). */
const KEYS_PER_INLINE_POLICY = 100;
/** Keys granted by each further managed policy. */
const KEYS_PER_MANAGED_POLICY = 60;
/** Managed policies for keys; with AWSLambdaBasicExecutionRole the role stays at 9 of its 10. */
const MAX_KEY_MANAGED_POLICIES = 8;
const MAX_KEYS_PER_STACK = KEYS_PER_INLINE_POLICY + KEYS_PER_MANAGED_POLICY * MAX_KEY_MANAGED_POLICIES;

/** One policy granting the handler a bounded number of keys. */
interface KeyGrant {
  readonly policy: iam.Policy | iam.ManagedPolicy;
  readonly statement: iam.PolicyStatement;
  readonly capacity: number;
  count: number;
}

/**
 * The one handler of a stack: a Lambda function, its role, and the IAM policy that grows with
 * every key revoked in the stack (LIFECYCLE S5). Found in the stack's own tree, not in a module
 * map, so that separate apps in one process never share it.
 */
class RevocationProvider extends Construct {
  static of(scope: Construct): RevocationProvider {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(PROVIDER_ID);
    if (existing === undefined) return new RevocationProvider(stack, PROVIDER_ID);
    if (existing instanceof RevocationProvider) return existing;
    throw new Error(
      `stack ${stack.node.path} already has a construct with the id '${PROVIDER_ID}' that is not this library's ` +
      'revocation handler: two copies of cdk-kms-key-material are loaded; keep one',
    );
  }

  readonly role: iam.Role;
  readonly function: lambda.Function;
  /** The policies granting keys, the inline one first. */
  private readonly grants: KeyGrant[] = [];
  /** Which policy grants each key ARN (a token for keys defined in the app). */
  private readonly grantedBy = new Map<string, KeyGrant>();

  private constructor(scope: Stack, id: string) {
    super(scope, id);
    if (!fs.existsSync(path.join(HANDLER_DIR, 'index.js'))) {
      throw new Error(`the revocation handler bundle is missing at ${HANDLER_DIR}: run 'npm run bundle' (a broken install of cdk-kms-key-material)`);
    }
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Revokes imported KMS key material for the Custom::KmsKeyMaterialRevocation resources of this stack',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole')],
    });
    acknowledgeNagFinding(this.role.node.defaultChild as CfnResource, 'AwsSolutions-IAM4',
      'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
      'The managed basic-execution policy only lets the handler write its own CloudWatch Logs; ' +
      'every KMS and CloudFormation permission is in a separate policy scoped to exact ARNs');
    // Exact key ARNs only, added one by one as revocations are declared: no kms:* and no "*".
    const inlineStatement = new iam.PolicyStatement({ actions: KMS_ACTIONS });
    const inline = new iam.Policy(this, 'Policy', {
      roles: [this.role],
      statements: [
        // Reads on this stack only: its status and template tell deletion, cleanup and rollback apart.
        new iam.PolicyStatement({ actions: CLOUDFORMATION_ACTIONS, resources: [scope.stackId] }),
        inlineStatement,
      ],
    });
    this.grants.push({ policy: inline, statement: inlineStatement, capacity: KEYS_PER_INLINE_POLICY, count: 0 });
    this.function = new lambda.Function(this, 'Handler', {
      description: 'Custom::KmsKeyMaterialRevocation: revokes imported KMS key material (DeleteImportedKeyMaterial)',
      runtime: HANDLER_RUNTIME,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(HANDLER_DIR),
      role: this.role,
      timeout: HANDLER_TIMEOUT,
      memorySize: 256,
    });
  }

  /** The CloudFormation reads policy (always the inline one). */
  get readsPolicy(): iam.Policy {
    return this.grants[0].policy as iam.Policy;
  }

  /**
   * Lets the handler act on one more key; returns the policy that does, for the revocation to
   * depend on (LIFECYCLE S6).
   */
  allowKey(keyArn: string): iam.Policy | iam.ManagedPolicy {
    const existing = this.grantedBy.get(keyArn);
    if (existing) return existing.policy;
    let grant = this.grants[this.grants.length - 1];
    if (grant.count >= grant.capacity) {
      const n = this.grants.length;
      if (n > MAX_KEY_MANAGED_POLICIES) {
        throw new Error(
          `stack ${Stack.of(this).node.path} has more than ${MAX_KEYS_PER_STACK} keys with a KeyMaterialRevocation: ` +
          'their handler\'s role would exceed IAM\'s policy quotas; spread the revocations over several stacks',
        );
      }
      const statement = new iam.PolicyStatement({ actions: KMS_ACTIONS });
      const policy = new iam.ManagedPolicy(this, `KeysPolicy${n}`, {
        description: `Lets the KMS key material revocation handler act on keys ${KEYS_PER_INLINE_POLICY + (n - 1) * KEYS_PER_MANAGED_POLICY + 1}+ of this stack`,
        roles: [this.role],
        statements: [statement],
      });
      grant = { policy, statement, capacity: KEYS_PER_MANAGED_POLICY, count: 0 };
      this.grants.push(grant);
    }
    grant.statement.addResources(keyArn);
    grant.count++;
    this.grantedBy.set(keyArn, grant);
    return grant.policy;
  }
}

/**
 * Acknowledges a cdk-nag finding on one of our resources, with its reason, for both cdk-nag
 * majors: v2 reads the `cdk_nag` metadata; v3 reads acknowledgements made through aws-cdk-lib's
 * `Validations`, which only newer aws-cdk-lib versions have (hence the feature test).
 */
function acknowledgeNagFinding(resource: CfnResource, ruleId: string, finding: string, reason: string): void {
  resource.addMetadata('cdk_nag', { rules_to_suppress: [{ id: ruleId, reason, applies_to: [finding] }] });
  const validations = (cdk as unknown as { Validations?: { of(c: Construct): { acknowledge(r: object): void } } }).Validations;
  try {
    validations?.of(resource).acknowledge({ id: `AwsSolutions::${ruleId}[${finding}]`, reason });
  } catch {
    // Some aws-cdk-lib versions reject '::' inside a rule ID, which this finding's ID contains
    // (it names the policy ARN). An acknowledgement is never worth failing the user's synth.
  }
}

function isAlias(key: kms.IKey): boolean {
  if ((key as Partial<kms.IAlias>).aliasName !== undefined) return true;
  if (!Token.isUnresolved(key.keyArn) && /:alias\//.test(key.keyArn)) return true;
  return !Token.isUnresolved(key.keyId) && key.keyId.startsWith('alias/');
}

/** The key's L1 resource when the key is defined in this app (not imported by ARN). */
function cfnKeyOf(key: kms.IKey): kms.CfnKey | undefined {
  const child = key.node.defaultChild;
  return child instanceof CfnResource && child.cfnResourceType === kms.CfnKey.CFN_RESOURCE_TYPE_NAME
    ? (child as kms.CfnKey) : undefined;
}

/**
 * Revokes a KMS key's imported key material (`DeleteImportedKeyMaterial`) at the moments its
 * props allow: stack deletion, key replacement, removal, or on demand. Never during a rollback.
 *
 * One Lambda function per stack serves every revocation in it.
 *
 * @example
 * import * as kms from 'aws-cdk-lib/aws-kms';
 * import { KeyMaterialRevocation } from 'cdk-kms-key-material';
 *
 * const key = new kms.Key(this, 'Key');
 * (key.node.defaultChild as kms.CfnKey).addPropertyOverride('Origin', 'EXTERNAL');
 * new KeyMaterialRevocation(this, 'Revocation', { key });
 */
export class KeyMaterialRevocation extends Construct {
  /**
   * The ARN of the key, as the handler validated it on create.
   *
   * @attribute
   */
  public readonly keyArn: string;

  /**
   * The IDs of the materials revoked by the last create or update that revoked (comma-separated,
   * truncated with a count when too many); empty when nothing was revoked then. Revocations on
   * delete cannot be read back through CloudFormation: see the handler's log.
   *
   * @attribute
   */
  public readonly revokedMaterialIds: string;

  constructor(scope: Construct, id: string, props: KeyMaterialRevocationProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const key = props.key;
    checkNotAlias(key);
    const cfnKey = cfnKeyOf(key);
    const sameStack = Stack.of(key) === stack;
    // A key created in this very stack is in the stack's account even when neither is known yet.
    checkAccount(this, key, stack, cfnKey !== undefined && sameStack);
    const serviceTimeout = checkServiceTimeout(props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT);

    const provider = RevocationProvider.of(this);
    const grantingPolicy = provider.allowKey(key.keyArn);
    if (cfnKey) {
      // S3 once the tree is complete: the Origin may be set after this construct is created.
      this.node.addValidation({ validate: () => checkOrigin(cfnKey) });
      if (sameStack && !keyPolicyTrustsAccount(cfnKey, KMS_ACTIONS)) {
        // A key policy that does not let IAM policies grant our actions (a custom one) gets a
        // statement for the handler's role. In a key policy, "*" means this key. Other stacks'
        // keys are left alone: referencing this stack's role from there would create a
        // dependency cycle.
        key.addToResourcePolicy(new iam.PolicyStatement({
          principals: [provider.role],
          actions: KMS_ACTIONS,
          resources: ['*'],
        }));
      }
    }
    if (Token.isUnresolved(key.keyArn) && !cfnKey) {
      Annotations.of(this).addWarningV2('cdk-kms-key-material:keyCheckedAtDeploy',
        'the key ARN is only known at deploy time: the handler checks on create that it names a key (not an alias) ' +
        'with Origin EXTERNAL in the stack\'s account, and fails the deployment otherwise');
    }

    const properties: RevocationProperties = {
      KeyArn: key.keyArn,
      KeyLogicalId: cfnKey && sameStack ? cfnKey.logicalId : '',
      RevokeOnStackDelete: String(props.revokeOnStackDelete ?? true) as 'true' | 'false',
      RevokeOnKeyReplacement: String(props.revokeOnKeyReplacement ?? true) as 'true' | 'false',
      RevokeOnRemoval: String(props.revokeOnRemoval ?? false) as 'true' | 'false',
      Revoked: String(props.revoked ?? false) as 'true' | 'false',
      MaterialScope: props.materialScope ?? KeyMaterialScope.ALL,
      ContractVersion: CONTRACT_VERSION,
    };
    // A plain CfnResource: CustomResource's own ServiceTimeout handling needs a newer aws-cdk-lib,
    // and the type name and construct ID below are a permanent contract.
    const resource = new CfnResource(this, 'Resource', {
      type: RESOURCE_TYPE,
      properties: {
        ServiceToken: provider.function.functionArn,
        // The handler reads ServiceTimeout to size its own time budget inside it.
        ServiceTimeout: serviceTimeout,
        ...properties,
      },
    });
    // S6: on deletion this resource goes first, while the key exists and the handler may still act.
    resource.node.addDependency(provider.readsPolicy, grantingPolicy);
    if (sameStack) resource.node.addDependency(key);

    this.keyArn = Token.asString(resource.getAtt(ATTR_KEY_ARN));
    this.revokedMaterialIds = Token.asString(resource.getAtt(ATTR_REVOKED_MATERIAL_IDS));
  }
}

function checkNotAlias(key: kms.IKey): void {
  if (isAlias(key)) {
    const shown = Token.isUnresolved(key.keyArn) ? key.node.path : key.keyArn;
    throw new Error(
      `key ${shown} is an alias; DeleteImportedKeyMaterial accepts only a key ID or key ARN: ` +
      'pass the key itself (for example kms.Key.fromKeyArn) instead of the alias',
    );
  }
}

function checkAccount(scope: Construct, key: kms.IKey, stack: Stack, createdInStack: boolean): void {
  const keyAccount = key.env.account;
  const stackAccount = stack.account;
  if (Token.isUnresolved(keyAccount) || Token.isUnresolved(stackAccount)) {
    if (createdInStack) return;
    Annotations.of(scope).addWarningV2('cdk-kms-key-material:accountCheckedAtDeploy',
      'the key\'s account or the stack\'s account is only known at deploy time: the handler checks on create ' +
      'that they are the same (DeleteImportedKeyMaterial works only in the key\'s own account)');
    return;
  }
  if (keyAccount !== stackAccount) {
    throw new Error(
      `key ${key.keyArn} is in account ${keyAccount} but stack ${stack.stackName} deploys to account ${stackAccount}: ` +
      'DeleteImportedKeyMaterial works only in the key\'s own account, so deploy the revocation in a stack of account ' + keyAccount,
    );
  }
}

function checkServiceTimeout(timeout: Duration): string {
  if (timeout.isUnresolved()) return Token.asString(timeout.toSeconds());
  const seconds = timeout.toSeconds();
  if (seconds < MIN_SERVICE_TIMEOUT_SECONDS || seconds > MAX_SERVICE_TIMEOUT_SECONDS) {
    throw new Error(
      `serviceTimeout must be between ${MIN_SERVICE_TIMEOUT_SECONDS} seconds and 1 hour, got ${seconds} seconds`,
    );
  }
  return String(seconds);
}

/** S3: a key defined in this app must have Origin EXTERNAL (resolved). */
function checkOrigin(cfnKey: kms.CfnKey): string[] {
  const stack = Stack.of(cfnKey);
  // The Origin may come from the L1 property or from an override; the rendered template has both.
  const rendered = stack.resolve((cfnKey as unknown as { _toCloudFormation(): object })._toCloudFormation()) as {
    Resources: Record<string, { Properties?: { Origin?: unknown } }>;
  };
  const origin = Object.values(rendered.Resources)[0]?.Properties?.Origin;
  if (origin === 'EXTERNAL') return [];
  if (origin !== undefined && (typeof origin !== 'string' || Token.isUnresolved(origin))) {
    Annotations.of(cfnKey).addWarningV2('cdk-kms-key-material:originCheckedAtDeploy',
      'the key\'s Origin is only known at deploy time: the handler checks on create that it is EXTERNAL');
    return [];
  }
  return [
    `key ${cfnKey.node.path} has origin ${origin ?? 'AWS_KMS (the default)'}; revocation needs a key with imported ` +
    'material: set its Origin to EXTERNAL, for example ' +
    '(key.node.defaultChild as kms.CfnKey).addPropertyOverride(\'Origin\', \'EXTERNAL\')',
  ];
}
