import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, Aspects, CfnResource, Duration, Fn, IAspect, RemovalPolicy, ScopedAws, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, IConstruct } from 'constructs';
import { retentionOf } from './checks';
import {
  BOUND_STACK_ID_ENV, CLOUDFORMATION_LIST_ACTIONS, CLOUDFORMATION_STATUS_ACTIONS, CLOUDFORMATION_TEMPLATE_ACTIONS, KMS_ACTIONS, KMS_TAG_ACTIONS,
} from './contract';
import { keyIdentity, stackChainOf } from './key-identity';
import { addToKeyPolicy, FORMER_KEYS_THROUGH_IAM_CONTEXT, formerKeysThroughIam, hasThroughIamStatement, keyPolicyTrustsAccount, throughIamStatement } from './key-policy';
import { acknowledgeNagFindings, NagFinding, nagResourceFinding } from './nag';
import { rawOverridesOf, renderedResource } from './rendered';

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

/** Where and on what the one handler of a stack runs: given by the revocation that creates it. */
export interface HandlerSettings {
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
  readonly architecture?: lambda.Architecture;
}

/** What Lambda needs to manage a function's network interfaces in a VPC. */
const VPC_ACTIONS = [
  'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
];

/** What Lambda needs to write the function's logs into its own log group (instead of AWSLambdaBasicExecutionRole). */
const LOG_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
/**
 * The decision log is the evidence of what was revoked, when and why (CloudFormation cannot report
 * what a Delete revoked): kept a year by default, and kept when the stack is destroyed.
 */
export const DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_YEAR;

/*
 * Key permissions live only in customer managed policies whose logical IDs are content-addressed
 * (LIFECYCLE S5, S6, L9, L12, L13). CloudFormation updates an IAM policy in place during the
 * update phase, but the Delete that revokes a replaced or removed key only comes in the cleanup
 * phase: a policy that stopped naming the key would already deny it. A policy whose key list
 * changes therefore gets a new logical ID: the new policy is created in the update phase, and the
 * old one is deleted in the cleanup phase only after the revocations that depend on it in the old
 * template (CloudFormation deletes dependents first).
 *
 * Keys are spread by a stable hash of their identity over a fixed number of buckets, one policy
 * per non-empty bucket, so that a change of one key replaces one policy (two when a revocation
 * moves from one key to another), and even a deployment that changes every bucket has at most
 * 5 old + 5 new policies attached at once: IAM's default quota is 10 managed policies per role,
 * which is why the role has no AWS managed policy.
 */
const KEY_POLICY_BUCKETS = 5;
/** IAM's limit for one customer managed policy (characters, whitespace not counted). */
const MANAGED_POLICY_MAX_CHARS = 6144;
/** The size assumed for a key ARN only known at deploy time, with its quotes and comma. */
const TOKEN_ARN_CHARS = 80;
/** AWS::IAM::ManagedPolicy Description, at most (CloudFormation User Guide). */
const MANAGED_POLICY_DESCRIPTION_MAX = 1000;
/** The longest key ARN a description names, with its separator (a GovCloud multi-Region key ID: about 85). */
const DEPLOY_TIME_ARN_CHARS = 90;
/**
 * Keys per stack. The buckets hold 5 x 6,144 characters, about 5 x 74 keys of 80 characters if
 * the hash spread them evenly; it does not: with 250 keys a bucket averages 50 (standard
 * deviation about 6.3), so the fullest of five stays under 74 unless some bucket is 3.8 standard
 * deviations above the mean (odds of about 1 in 3,000). More keys would make an unlucky spread,
 * and a synth error, likely; a user who needs more spreads the revocations over several stacks.
 */
const MAX_KEYS_PER_STACK = 250;

interface KeyUse {
  readonly key: kms.IKey;
  readonly cfnKey: kms.CfnKey | undefined;
  /** The revocation resource, which depends on the policy that grants its key (S6). */
  readonly resource: CfnResource;
  /** A key of another stack of the tree, which the handler also reads the tags of (KeyTagged). */
  readonly tagged: boolean;
}

/**
 * The one handler of a stack: a Lambda function, its role, an inline policy for the CloudFormation
 * reads and the logs, and the key policies (LIFECYCLE S5, S11). Found in the stack's own tree, not
 * in a module map, so that separate apps in one process never share it. A nested stack has its own.
 */
export class RevocationProvider extends Construct {
  static of(scope: Construct, settings: HandlerSettings = {}): RevocationProvider {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(PROVIDER_ID);
    if (existing === undefined) return new RevocationProvider(stack, PROVIDER_ID, settings, scope.node.path);
    if (existing instanceof RevocationProvider) {
      existing.checkSettings(settings, scope.node.path);
      return existing;
    }
    throw new Error(
      `stack ${stack.node.path} already has a construct with the id '${PROVIDER_ID}' that is not this library's ` +
      'revocation handler: two copies of cdk-kms-key-material are loaded; keep one',
    );
  }

  readonly role: iam.Role;
  readonly function: lambda.Function;
  /** The CloudFormation reads and the logs; updated in place, which is fine for them. */
  readonly readsPolicy: iam.Policy;
  /** The handler's own log group: its decision log is the evidence of every revocation. */
  readonly logGroup: logs.LogGroup;
  /** The log retention asked for explicitly, and by which revocation. */
  private retention?: { readonly days: logs.RetentionDays; readonly by: string };
  private readonly uses: KeyUse[] = [];
  /** Keys told apart as cheaply as possible at construction, for the per-stack maximum. */
  private readonly distinctKeys = new Set<unknown>();
  private readonly keyPolicies: iam.ManagedPolicy[] = [];
  private readonly keyPolicyErrors: string[] = [];
  /** The key identities the key policies were created for (synthesis can run more than once). */
  private grantedKeys?: string;

  /** The handler's settings, and the revocation that gave them. */
  private readonly settings: HandlerSettings;
  private readonly settingsBy: string;

  private constructor(scope: Stack, id: string, settings: HandlerSettings, by: string) {
    super(scope, id);
    this.settings = settings;
    this.settingsBy = by;
    if (!fs.existsSync(path.join(HANDLER_DIR, 'index.js'))) {
      throw new Error(`the revocation handler bundle is missing at ${HANDLER_DIR}: run 'npm run bundle' (a broken install of cdk-kms-key-material)`);
    }
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Revokes imported KMS key material for the Custom::KmsKeyMaterialRevocation resources of this stack',
    });
    this.function = new lambda.Function(this, 'Handler', {
      description: 'Custom::KmsKeyMaterialRevocation: revokes imported KMS key material (DeleteImportedKeyMaterial)',
      runtime: HANDLER_RUNTIME,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(HANDLER_DIR),
      role: this.role,
      timeout: HANDLER_TIMEOUT,
      memorySize: 256,
      // The handler serves this stack only: a request naming another stack is refused (LIFECYCLE L29).
      environment: { [BOUND_STACK_ID_ENV]: scope.stackId },
      architecture: settings.architecture ?? lambda.Architecture.X86_64,
      vpc: settings.vpc,
      vpcSubnets: settings.vpc ? settings.vpcSubnets : undefined,
      securityGroups: settings.vpc ? settings.securityGroups : undefined,
    });

    const cloudFormation = cloudFormationReads(scope);
    // A log group of its own, with a retention, created before the function (Lambda's advanced
    // logging controls: LoggingConfig.LogGroup; set by override so that the aws-cdk-lib floor
    // need not know the property). Its ARN (Fn::GetAtt Arn) ends in ':*', which covers the log
    // streams Lambda names at run time.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    (this.function.node.defaultChild as lambda.CfnFunction).addPropertyOverride('LoggingConfig', { LogGroup: this.logGroup.logGroupName });
    const logStreams = this.logGroup.logGroupArn;
    this.readsPolicy = new iam.Policy(this, 'Policy', {
      roles: [this.role],
      statements: [
        ...cloudFormation.statements,
        new iam.PolicyStatement({ actions: LOG_ACTIONS, resources: [logStreams] }),
        // In a VPC, Lambda manages the function's network interfaces with the role's permissions
        // (what AWSLambdaVPCAccessExecutionRole grants; inline, so that the role keeps its managed
        // policy slots for the key policies). These EC2 actions take no resource-level scope.
        ...(settings.vpc ? [new iam.PolicyStatement({ actions: VPC_ACTIONS, resources: ['*'] })] : []),
      ],
    });
    // The function waits for its reads (and, in a VPC, its network-interface permissions, which
    // Lambda checks when it creates the function), and so does every revocation, whose
    // ServiceToken references the function; on deletion the policy goes after them. One
    // dependency here instead of one DependsOn entry per revocation (about 55 template bytes a key).
    this.function.node.addDependency(this.readsPolicy);
    // The log group's ARN (Fn::GetAtt) ends in ':*' for its streams; cdk-nag does not count that as a wildcard.
    acknowledgeNagFindings(this.readsPolicy.node.defaultChild as CfnResource, [
      ...cloudFormation.findings,
      ...(settings.vpc ? [{
        ruleId: 'AwsSolutions-IAM5',
        finding: 'Resource::*',
        reason: 'In a VPC, Lambda creates and deletes the handler\'s network interfaces with these EC2 actions, which take no ' +
          'resource-level permissions (the same actions as the AWS managed AWSLambdaVPCAccessExecutionRole)',
      }] : []),
    ]);

    // The key policies need every key of the stack, so they are made when synthesis begins, by an
    // aspect (before references are wired and before validation). Priority 200 is
    // AspectPriority.MUTATING, named by number for the aws-cdk-lib versions that predate it.
    Aspects.of(this).add(new GrantKeys(this), { priority: 200 });
    this.node.addValidation({ validate: () => this.validateKeyPolicies() });
  }

  /**
   * Handler settings (VPC, architecture) come with the revocation that creates the handler; a later
   * revocation of the stack that asks for others would be silently ignored, so it fails synth.
   */
  private checkSettings(settings: HandlerSettings, by: string): void {
    const differs = (a: unknown, b: unknown) => a !== undefined && a !== b;
    const sameGroups = (a?: ec2.ISecurityGroup[], b?: ec2.ISecurityGroup[]) =>
      a === undefined || (b !== undefined && a.length === b.length && a.every((g, i) => g === b[i]));
    const sameSubnets = (a?: ec2.SubnetSelection, b?: ec2.SubnetSelection) => a === undefined || a === b ||
      (b !== undefined && JSON.stringify(Stack.of(this).resolve(a)) === JSON.stringify(Stack.of(this).resolve(b)));
    if (differs(settings.vpc, this.settings.vpc) || (settings.architecture !== undefined && settings.architecture.name !== (this.settings.architecture ?? lambda.Architecture.X86_64).name) ||
      !sameGroups(settings.securityGroups, this.settings.securityGroups) || !sameSubnets(settings.vpcSubnets, this.settings.vpcSubnets)) {
      throw new Error(
        `${by} asks for other handler settings (vpc, vpcSubnets, securityGroups, architecture) than ${this.settingsBy}, which ` +
        'created the stack\'s one handler: give every revocation of the stack the same settings, or set them only on the first',
      );
    }
  }

  /**
   * The retention of the handler's log group, which the revocations of a stack share: one of them
   * may set it, or several the same. Conflicting values fail synth rather than pick one silently.
   */
  useLogRetention(days: logs.RetentionDays | undefined, by: string): void {
    if (days === undefined) return;
    if (this.retention && this.retention.days !== days) {
      throw new Error(
        `${by} asks for a log retention of ${days} days but ${this.retention.by} in the same stack asks for ${this.retention.days}: ` +
        'the revocations of a stack share one handler and one log group; give them the same logRetention',
      );
    }
    if (this.retention) return;
    this.retention = { days, by };
    (this.logGroup.node.defaultChild as logs.CfnLogGroup).retentionInDays = days === logs.RetentionDays.INFINITE ? undefined : days;
  }

  /**
   * Registers a revocation's key. The policy that grants it is created at synthesis, and the
   * revocation resource made to depend on it (LIFECYCLE S6).
   */
  allowKey(key: kms.IKey, cfnKey: kms.CfnKey | undefined, resource: CfnResource, tagged = false): void {
    this.distinctKeys.add(cfnKey ?? key.keyArn);
    if (this.distinctKeys.size > MAX_KEYS_PER_STACK) {
      throw new Error(
        `stack ${Stack.of(this).node.path} has more than ${MAX_KEYS_PER_STACK} keys with a KeyMaterialRevocation: ` +
        'their handler\'s role would exceed IAM\'s policy quotas; spread the revocations over several stacks',
      );
    }
    this.uses.push({ key, cfnKey, resource, tagged });
  }

  /** Creates the key policies, once per synthesis, from the keys registered by then. */
  grantKeys(): void {
    const stack = Stack.of(this);
    const keys = new Map<string, { arn: string; everyRegion: boolean; resources: CfnResource[]; deployTime: boolean; tagged: boolean }>();
    for (const use of this.uses) {
      const identity = keyIdentity(use.key, use.cfnKey, stack);
      const everyRegion = isMultiRegionAtSynth(use.key, use.cfnKey);
      const entry = keys.get(identity) ?? {
        arn: everyRegion ? everyRegionArn(use.key.keyArn) : use.key.keyArn, everyRegion, resources: [],
        // A key known only by a deploy-time value that can change while the template does not (a
        // parameter, an SSM parameter, another resource's attribute). Keys of the app are not: their
        // ARN changes only with their logical ID, and an exported value cannot change while imported.
        deployTime: !use.cfnKey && changesWithoutTemplate(stack.resolve(use.key.keyArn)),
        tagged: false,
      };
      entry.resources.push(use.resource);
      entry.tagged ||= use.tagged;
      keys.set(identity, entry);
    }
    const identities = [...keys.keys()].sort();
    const granted = identities.join('\n');
    if (this.grantedKeys !== undefined) {
      if (this.grantedKeys === granted) return;
      throw new Error(
        `the keys of the KeyMaterialRevocation constructs in stack ${stack.node.path} changed after the stack was synthesized: ` +
        'create every revocation before synthesizing',
      );
    }
    this.grantedKeys = granted;
    this.keepFormerKeysReachable();

    const buckets: string[][] = Array.from({ length: KEY_POLICY_BUCKETS }, () => []);
    for (const identity of identities) buckets[bucketOf(identity)].push(identity);
    buckets.forEach((members, bucket) => {
      if (members.length === 0) return;
      const arns = members.map((identity) => keys.get(identity)!.arn);
      // The ID names the exact key list: each key's identity and the JSON its ARN resolves to.
      const content = members.map((identity, i) => `${identity} ${JSON.stringify(stack.resolve(arns[i]))}`).join('\n');
      const description = `Lets the KMS key material revocation handler act on ${members.length} key(s) of this stack. ` +
        'Replaced, never updated, when its key list changes, so that a key replaced or removed by an update ' +
        'stays granted until the cleanup phase revokes it';
      const deployTime = members.filter((identity) => keys.get(identity)!.deployTime).map((identity) => keys.get(identity)!.arn);
      // ListResourceTags only where a key of another stack of the tree is (KeyTagged): every other policy stays as it was.
      const actions = members.some((identity) => keys.get(identity)!.tagged) ? [...KMS_ACTIONS, ...KMS_TAG_ACTIONS] : KMS_ACTIONS;
      const policy = new iam.ManagedPolicy(this, `Keys${bucket}-${shortHash(content)}`, {
        description: this.replacedWith(description, deployTime),
        roles: [this.role],
        statements: [new iam.PolicyStatement({ actions, resources: arns })],
      });
      this.keyPolicies.push(policy);
      const everyRegion = members.filter((identity) => keys.get(identity)!.everyRegion).map((identity) => keys.get(identity)!.arn);
      acknowledgeNagFindings(policy.node.defaultChild as CfnResource, everyRegion.map((arn) => ({
        ruleId: 'AwsSolutions-IAM5',
        finding: nagResourceFinding(stack, arn),
        reason: 'A multi-Region key: its exact key ID (mrk-...) in any Region of this account, because its material is ' +
          'revoked in the primary\'s Region and every replica\'s, including replicas added after deployment; no other key matches',
      })));
      const chars = estimatedPolicyChars(arns, actions);
      if (chars > MANAGED_POLICY_MAX_CHARS) {
        this.keyPolicyErrors.push(
          `the handler's key policy ${policy.node.path} would grant ${members.length} keys, about ${chars} characters, ` +
          `over IAM's limit of ${MANAGED_POLICY_MAX_CHARS} characters for a managed policy (${identities.length} keys in this ` +
          `stack, spread over ${KEY_POLICY_BUCKETS} policies by a hash of each key): spread the revocations over several stacks`,
        );
      }
      for (const identity of members) for (const resource of keys.get(identity)!.resources) resource.node.addDependency(policy);
    });
  }

  /**
   * A key policy's description, which also names the keys it grants that are known only at deploy
   * time. The logical ID (a hash of the template) cannot see a new value of a parameter, so such a
   * change would update the policy in place, in the update phase, and the cleanup that revokes the
   * old key would be denied (LIFECYCLE L9, L14). A description cannot be changed ("Update requires:
   * Replacement", CloudFormation User Guide, AWS::IAM::ManagedPolicy): with the keys' values in it,
   * a new value replaces the policy, and the old one stays until the cleanup ends. At most 1,000
   * characters: past that, synth warns (the update's pre-check then fails it instead: L28).
   */
  private replacedWith(description: string, deployTimeArns: string[]): string {
    if (deployTimeArns.length === 0) return description;
    const intro = ' Keys known at deploy time (a new value replaces the policy too): ';
    if (description.length + intro.length + deployTimeArns.length * DEPLOY_TIME_ARN_CHARS > MANAGED_POLICY_DESCRIPTION_MAX) {
      Annotations.of(this).addWarningV2('cdk-kms-key-material:deployTimeKeysUpdatedInPlace',
        `${deployTimeArns.length} keys of this stack known only at deploy time (parameters, attributes) share one key policy, ` +
        'more than its description can name: a change of their values updates the policy in place, so the old key can no ' +
        'longer be read and the update fails and rolls back instead of revoking it (LIFECYCLE L9, L28): spread these ' +
        'revocations over several stacks');
      return description;
    }
    return Fn.join('', [description, intro, Fn.join(' ', deployTimeArns)]);
  }

  /**
   * Every key of this stack that may have Origin EXTERNAL (literal, or a token), that no revocation
   * names, and whose policy does not trust the account, gets `throughIamStatement`: such a key may
   * be one that a revocation named in the previous deployment (pointed at another key, or removed
   * with revokeOnRemoval) and must still revoke in this update's cleanup. Its own statement for the
   * role left the key policy in the update phase; the handler's old key policy, which names it,
   * stays until the cleanup ends. Keys named by a revocation have the statement for the role itself
   * (KeyMaterialRevocation). Off with the context key FORMER_KEYS_THROUGH_IAM_CONTEXT.
   */
  private keepFormerKeysReachable(): void {
    if (!formerKeysThroughIam(this)) return;
    // The Origin as set now, read without rendering (see originOf); set later, validation warns.
    for (const cfnKey of this.unnamedKeys(originOf)) {
      // A policy that cannot be edited is left as it is: validation warns.
      addToKeyPolicy(undefined, cfnKey, throughIamStatement(this.role, KMS_ACTIONS), { keepJson: true });
    }
  }

  /** The keys of this stack no revocation names, whose Origin may be EXTERNAL and whose policy does not trust the account. */
  private unnamedKeys(origin: (cfnKey: kms.CfnKey) => unknown): kms.CfnKey[] {
    const stack = Stack.of(this);
    const named = new Set(this.uses.map((use) => use.cfnKey));
    const mayBeExternal = (value: unknown) => value === 'EXTERNAL' || (value !== undefined && Token.isUnresolved(value));
    return stack.node.findAll().filter((c): c is kms.CfnKey => c instanceof kms.CfnKey && Stack.of(c) === stack && !named.has(c)
      && mayBeExternal(origin(c)) && !keyPolicyTrustsAccount(c, KMS_ACTIONS));
  }

  /**
   * A key that should have `throughIamStatement` and has not (its Origin set after the aspect ran,
   * a policy that cannot be edited, or one rendered and cached before it): warned, since an update
   * that stops naming it can no longer revoke it in its cleanup. Rendering is safe here: it is the
   * last step before synthesis.
   */
  private warnUnreachableFormerKeys(): void {
    if (!formerKeysThroughIam(this)) return;
    const rendered = new Map<kms.CfnKey, ReturnType<typeof renderedResource>>();
    const render = (c: kms.CfnKey) => rendered.get(c) ?? rendered.set(c, renderedResource(c)).get(c)!;
    for (const cfnKey of this.unnamedKeys((c) => render(c).Properties?.Origin)) {
      if (hasThroughIamStatement(render(cfnKey).Properties?.KeyPolicy, this.role)) continue;
      Annotations.of(cfnKey).addWarningV2('cdk-kms-key-material:formerKeyUnreachable',
        `the key policy of ${cfnKey.node.path} does not trust the account and no revocation names this key, and this library ` +
        'could not give it the statement that keeps it revocable by the cleanup of an update that points a revocation away from ' +
        'it or removes one with revokeOnRemoval (LIFECYCLE L9, L12): set its Origin before synthesis begins, or add to its policy ' +
        'a statement allowing kms:DescribeKey, kms:ListKeyRotations and kms:DeleteImportedKeyMaterial to the revocation handler\'s role; ' +
        `or set the context key ${FORMER_KEYS_THROUGH_IAM_CONTEXT} to false to silence this`);
    }
  }

  private validateKeyPolicies(): string[] {
    this.warnUnreachableFormerKeys();
    const errors = [...this.keyPolicyErrors];
    for (const policy of this.keyPolicies) {
      const retention = retentionOf(policy.node.defaultChild as CfnResource);
      if (retention.length === 0) continue;
      errors.push(
        `the handler's key policy ${policy.node.path} has ${retention.join(' and ')}: it is replaced whenever its key list ` +
        'changes, and a retained old policy stays attached to the handler\'s role, which reaches IAM\'s quota of 10 managed ' +
        'policies per role after a few deployments; remove the retention from this resource (for example, exclude ' +
        'AWS::IAM::ManagedPolicy from the aspect that sets it)',
      );
    }
    return errors;
  }
}

/**
 * Whether a resolved value can take another value while the template stays the same: a Ref of a
 * parameter (pseudo parameters such as AWS::Region are fixed for a stack), an attribute of another
 * resource, or a dynamic reference ({{resolve:...}}). An Fn::ImportValue cannot: CloudFormation
 * refuses to change an export while a stack imports it.
 */
function changesWithoutTemplate(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{resolve:');
  if (Array.isArray(value)) return value.some(changesWithoutTemplate);
  if (typeof value !== 'object' || value === null) return false;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [[fn, arg]] = entries;
    if (fn === 'Ref') return typeof arg === 'string' && !arg.startsWith('AWS::');
    if (fn === 'Fn::GetAtt') return true;
    if (fn === 'Fn::ImportValue') return false;
  }
  return entries.some(([, v]) => changesWithoutTemplate(v));
}

/**
 * A key's Origin as set by its property or an escape-hatch override, read without rendering the
 * key: rendering resolves its key policy, and the lazy policy of `kms.Key.fromCfnKey` would keep
 * that first rendering, dropping any statement added after it.
 */
function originOf(cfnKey: kms.CfnKey): unknown {
  const overrides = rawOverridesOf(cfnKey)?.Properties as Record<string, unknown> | undefined;
  return overrides && 'Origin' in overrides ? overrides.Origin : cfnKey.origin;
}

/**
 * Whether a key is known at synth to be multi-Region (LIFECYCLE M1): an app-defined key whose
 * MultiRegion is true in its template entry (set as a property or by an override), or a key whose
 * key ID is known and begins with `mrk-` (the prefix KMS gives every multi-Region key ID, and only
 * those). Read from the property and the overrides, as cheaply as synthesis allows; overrides of
 * the whole Properties given as a token are rendered, as the template will have them.
 */
export function isMultiRegionAtSynth(key: kms.IKey, cfnKey: kms.CfnKey | undefined): boolean {
  if (!cfnKey) return !Token.isUnresolved(key.keyId) && key.keyId.startsWith('mrk-');
  const overrides = rawOverridesOf(cfnKey);
  let multiRegion: unknown = cfnKey.multiRegion;
  if (overrides && 'Properties' in overrides) {
    const properties = overrides.Properties;
    if (properties === undefined) multiRegion = undefined; // addDeletionOverride('Properties')
    else if (typeof properties !== 'object' || properties === null || Token.isUnresolved(properties)) {
      multiRegion = renderedResource(cfnKey).Properties?.MultiRegion;
    } else if ('MultiRegion' in properties) multiRegion = (properties as Record<string, unknown>).MultiRegion;
  }
  // Resolved: a token that resolves to true at synth counts, as it would in the template.
  const resolved = Stack.of(cfnKey).resolve(multiRegion);
  return resolved === true || resolved === 'true';
}

/**
 * The key resource the handler is granted for a multi-Region key (LIFECYCLE S5, M1; a
 * single-Region key is granted by its exact ARN): that key ID in any Region of the key's account
 * and partition (`arn:<partition>:kms:*:<account>:key/mrk-...`). Its material is revoked in the primary's
 * Region and every replica's, and replicas can be added after deployment, in Regions synth
 * cannot know; the key ID is the same in all of them and no other key has it, so the grant is
 * still "that key, in those Regions". For a key ARN known only at deploy time (a CfnKey's
 * `Arn`), the Region is cut out of the ARN by Fn::Split and Fn::Select.
 */
function everyRegionArn(keyArn: string): string {
  if (!Token.isUnresolved(keyArn)) return keyArn.replace(/^(arn:[^:]+:kms:)[^:]*:/, '$1*:');
  const part = (i: number) => Fn.select(i, Fn.split(':', keyArn));
  return Fn.join(':', ['arn', part(1), 'kms', '*', part(4), part(5)]);
}

class GrantKeys implements IAspect {
  constructor(private readonly provider: RevocationProvider) {}
  visit(node: IConstruct): void {
    if (node === this.provider) this.provider.grantKeys();
  }
}

const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

/** The bucket of a key: stable as long as the key's identity is. */
function bucketOf(identity: string): number {
  return parseInt(sha256(identity).slice(0, 8), 16) % KEY_POLICY_BUCKETS;
}

function shortHash(text: string): string {
  return sha256(text).slice(0, 8);
}

/** A managed policy's size as IAM counts it: literal ARNs as they are, token ARNs estimated. */
function estimatedPolicyChars(arns: readonly string[], actions: readonly string[]): number {
  const skeleton = JSON.stringify({ Version: '2012-10-17', Statement: [{ Action: actions, Effect: 'Allow', Resource: [] }] }).length;
  return arns.reduce((sum, arn) => sum + (Token.isUnresolved(arn) ? TOKEN_ARN_CHARS : JSON.stringify(arn).length + 1), skeleton);
}

/**
 * The CloudFormation reads of the handler (LIFECYCLE S11): status and history of its own stack
 * and each ancestor, the template of its own stack, and the live resources of its own stack, its
 * ancestors and every nested stack of the root's tree. Ancestors' stack IDs are referenced from
 * inside the nested stack: CDK passes them in as parameters.
 *
 * A root lists the nested stacks too, whether its template has any or not: a revocation moved by
 * one update from the root into a new nested stack still manages its key (L12, L24), and when that
 * update removes the root's last revocation, the handler's policy is not updated but deleted after
 * the cleanup Delete, so the policy of the template before the update is the one in force.
 */
function cloudFormationReads(stack: Stack): { statements: iam.PolicyStatement[]; findings: NagFinding[] } {
  const chain = stackChainOf(stack);
  // Each stack's own AWS::StackId, not NestedStack.stackId: seen from below, that one is the Ref of
  // the nested stack resource in its parent, which CDK would pass into the nested stack itself (a
  // cycle). Read once each, so that equal lists are equal strings.
  const ids = chain.map((s) => new ScopedAws(s).stackId);
  const tree = treeListing(stack, chain[chain.length - 1]);
  const lists = [...ids, tree.arn];
  const findings: NagFinding[] = [tree.finding];
  const grants: Array<[string[], string[]]> = [
    [CLOUDFORMATION_STATUS_ACTIONS, ids],
    [CLOUDFORMATION_TEMPLATE_ACTIONS, [ids[0]]],
    [CLOUDFORMATION_LIST_ACTIONS, lists],
  ];
  // Actions on the same stacks share one statement: a stack that is not nested gets two (its own stack; its own and its tree's).
  const byResources = new Map<string, { actions: string[]; resources: string[] }>();
  for (const [actions, resources] of grants) {
    const key = resources.join('\n');
    const entry = byResources.get(key) ?? { actions: [], resources };
    entry.actions.push(...actions);
    byResources.set(key, entry);
  }
  const statements = [...byResources.values()].map((s) => new iam.PolicyStatement({ actions: s.actions, resources: s.resources }));
  return { statements, findings };
}

/**
 * ListStackResources on every nested stack of `root`'s tree, seen from `stack`: their names begin
 * with the root's name and a hyphen, and their IDs are only known once deployed.
 */
function treeListing(stack: Stack, root: Stack): { arn: string; finding: NagFinding } {
  const arn = stack.formatArn({ service: 'cloudformation', resource: 'stack', resourceName: `${root.stackName}-*/*` });
  return {
    arn,
    finding: {
      ruleId: 'AwsSolutions-IAM5',
      finding: nagResourceFinding(stack, arn),
      reason: 'Read-only ListStackResources on the nested stacks of this tree (named by the root\'s name and a hyphen; IDs ' +
        'known only once deployed): the handler looks there for another revocation of the same key before it treats a ' +
        'removal as final. Other stacks named that way match too',
    },
  };
}
