import { Annotations, CfnResource, Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, IConstruct } from 'constructs';
import { checkAccount, checkNotAlias, checkOrigin, checkServiceTimeout, retentionOf } from './checks';
import {
  ATTR_KEY_ARN, ATTR_REVOKED_MATERIAL_IDS, CONTRACT_VERSION, KEY_TAG, KEY_TAG_VALUE, KMS_ACTIONS, KMS_TAG_ACTIONS, withoutDefaults, WRITE_VERSION_1_CONTEXT, METRIC_NAMESPACE, METRIC_REFUSED_REQUESTS,
  METRIC_REVOCATION_FAILURES, RESOURCE_TYPE, RevocationProperties,
} from './contract';
import { cfnKeyOf, rootStackOf, sourceIdentity } from './key-identity';
import { addToKeyPolicy, keyPolicyTrustsAccount } from './key-policy';
import { isMultiRegionAtSynth, RevocationProvider } from './provider';
import { checkNoAutomaticRotation } from './rotation';
import { RenderedResource, renderedProperties } from './rendered';

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
export interface KeyMaterialRevocationProps extends KeyMaterialRevocationOptions {
  /**
   * The key whose imported material is revoked. It must have `Origin: EXTERNAL` and be in the
   * stack's account. A key outside the app is given by its key ARN (`kms.Key.fromKeyArn`): the
   * ARN names the key's Region and account, which a bare key ID or an alias does not, so both are
   * refused. It may be in another Region of the same account. A key defined in the app (`kms.Key`, `kms.Key.fromCfnKey`, a key
   * of another stack) is checked at synth; a key known by ARN alone is checked on create. A key of
   * another stack of the same tree of nested stacks gets the tag `cdk-kms-key-material:revocation`.
   *
   * One revocation per key in a stack, where a nested stack's tree counts as one stack.
   */
  readonly key: kms.IKey;
}

/**
 * The options of a `KeyMaterialRevocation` other than its key: what `ExternalKey` and
 * `ExternalKeyGuard` take for the revocations they create.
 */
export interface KeyMaterialRevocationOptions {
  /**
   * Revoke the material when the stack is deleted, and when this construct is removed from the
   * app together with its key (defined in the same stack, or in another stack of the same tree of
   * nested stacks, which the construct then tags `cdk-kms-key-material:revocation`). Never during
   * a rollback.
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
   * The explicit switch: revoke the material as part of a deployment.
   *
   * An update that turns it on, or that points this construct at another key while it stays on,
   * revokes the key the new properties name only once the update has succeeded, in
   * CloudFormation's cleanup phase; if the update rolls back, nothing is revoked. A create with
   * the switch on revokes during the create (a create has no later phase), and a failed create
   * cannot undo that: synth warns. Turning it off again does not restore anything: only
   * re-importing the material does.
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
   * For a multi-Region key: revoke the material in every Region where the key holds it, its
   * primary's Region and each replica's, as `DescribeKey` lists them when the revocation runs
   * (replicas added after deployment included), each with the same `materialScope`. Off: only in
   * the Region of the key's ARN, and the other Regions keep their material (synth warns when the
   * key is known to be multi-Region). No effect on single-Region keys.
   *
   * @default true
   */
  readonly revokeReplicas?: boolean;

  /**
   * How long CloudFormation waits for the handler's answer (the custom resource's
   * `ServiceTimeout`). The handler keeps its own time budget inside it and always answers
   * before it runs out. Between 30 seconds and 1 hour.
   *
   * @default Duration.minutes(5)
   */
  readonly serviceTimeout?: Duration;

  /**
   * How long the handler's log group keeps its decision log, the evidence of what was revoked,
   * when and why. The log group is shared by the revocations of a stack (one handler per stack)
   * and is kept when the stack is deleted. Revocations of one stack that set this must agree.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * A VPC to run the stack's revocation handler in. It then needs to reach KMS (in every Region of
   * its keys), CloudFormation and Amazon S3 (its answers go to presigned S3 URLs): VPC endpoints
   * for `kms` and `cloudformation` and a gateway endpoint for `s3`, or a NAT gateway (keys in other
   * Regions need the NAT). The handler is shared by the stack's revocations: set this on the first,
   * or the same on all.
   *
   * @default - not in a VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The subnets of `vpc` for the handler.
   *
   * @default - the VPC's private subnets, as for any Lambda function
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups of the handler in `vpc`; they must allow outbound HTTPS.
   *
   * @default - a new security group that allows all outbound traffic
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * The handler's processor architecture. x86_64 is what the benchmarks measure (this project's
   * build machines cannot measure arm64's cold start); the handler runs on both.
   *
   * @default lambda.Architecture.X86_64
   */
  readonly architecture?: lambda.Architecture;
}

/** Options for the alarm on failed revocations. */
export interface RevocationFailureAlarmOptions {
  /**
   * The alarm's description.
   *
   * @default - says what failed and where to look
   */
  readonly alarmDescription?: string;

  /**
   * The period over which failures are counted.
   *
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;

  /**
   * The alarm's name.
   *
   * @default - a name CloudFormation generates
   */
  readonly alarmName?: string;
}

const DEFAULT_SERVICE_TIMEOUT = Duration.minutes(5);

/**
 * Revokes a KMS key's imported key material (`DeleteImportedKeyMaterial`) at the moments its
 * props allow: stack deletion, key replacement, removal, or on demand. Never during a rollback.
 *
 * One Lambda function per stack (and per nested stack) serves every revocation in it.
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

  private readonly key: kms.IKey;
  private readonly cfnKey: kms.CfnKey | undefined;

  /**
   * The app-defined key this revocation manages, for the guard rails (`ExternalKeyGuard`).
   *
   * @internal
   */
  public get _managedCfnKey(): kms.CfnKey | undefined {
    return this.cfnKey;
  }
  private identity?: string;

  constructor(scope: Construct, id: string, props: KeyMaterialRevocationProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const key = props.key;
    this.key = key;
    checkNotAlias(key);
    // S10: a key defined in the app is treated as such however it was obtained.
    const cfnKey = cfnKeyOf(key);
    this.cfnKey = cfnKey;
    const keyStack = cfnKey ? Stack.of(cfnKey) : undefined;
    const sameStack = keyStack === stack;
    // S10, L13: a key of another stack of the same tree is tagged, so that the handler can tell
    // "removed together" from "the key stays" without reading that stack's template (S11). Keys of
    // other top-level stacks are not: those are deployed apart, in either order.
    const tagged = cfnKey !== undefined && !sameStack && rootStackOf(keyStack!) === rootStackOf(stack);
    if (tagged) cfnKey.tags.setTag(KEY_TAG, KEY_TAG_VALUE);
    const keyActions = tagged ? [...KMS_ACTIONS, ...KMS_TAG_ACTIONS] : KMS_ACTIONS;
    // A key of the same stack, or of the same nested tree, is in the stack's account even when
    // neither account is known yet.
    checkAccount(this, Token.isUnresolved(key.keyArn) ? key.node.path : key.keyArn, keyStack?.account ?? key.env.account, stack,
      keyStack !== undefined && rootStackOf(keyStack) === rootStackOf(stack));
    const serviceTimeout = checkServiceTimeout(props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT);

    const provider = RevocationProvider.of(this, {
      vpc: props.vpc, vpcSubnets: props.vpcSubnets, securityGroups: props.securityGroups, architecture: props.architecture,
    });
    provider.useLogRetention(props.logRetention, this.node.path);
    if (cfnKey) {
      // S3 once the tree is complete: the Origin may be set after this construct is created. And
      // imported material cannot rotate automatically: KMS refuses EnableKeyRotation on such a key.
      // The key's Origin, rotation and tags as they will be written, read without resolving its
      // key policy (the costly part of rendering a key).
      this.node.addValidation({ validate: () => {
        const rendered = renderedProperties(cfnKey, tagged ? ['Origin', 'EnableKeyRotation', 'Tags'] : ['Origin', 'EnableKeyRotation']);
        if (tagged) this.checkKeyTag(cfnKey, rendered);
        return [...checkOrigin(cfnKey, rendered), ...checkNoAutomaticRotation(cfnKey, rendered)];
      } });
      if (sameStack && !keyPolicyTrustsAccount(cfnKey, KMS_ACTIONS, key)) {
        // A key policy that does not let IAM policies grant our actions (a custom one) gets a
        // statement for the handler's role. In a key policy, "*" means this key. Other stacks'
        // keys are left alone: referencing this stack's role from there would create a
        // dependency cycle.
        const statement = new iam.PolicyStatement({ principals: [provider.role], actions: KMS_ACTIONS, resources: ['*'] });
        if (!addToKeyPolicy(key, cfnKey, statement)) {
          Annotations.of(this).addWarningV2('cdk-kms-key-material:keyPolicyNotEdited',
            `the key policy of ${cfnKey.node.path} does not let the account's IAM policies grant ${KMS_ACTIONS.join(', ')}, and ` +
            'this construct cannot add a statement to it: add one for the revocation handler\'s role, or the handler\'s create fails');
        }
      } else if (!sameStack) {
        // Once the tree is complete: a statement may be added to the key policy after this construct.
        this.node.addValidation({ validate: () => {
          if (!keyPolicyTrustsAccount(cfnKey, keyActions, key)) {
            Annotations.of(this).addWarningV2('cdk-kms-key-material:keyPolicyOfOtherStack',
              `the key policy of ${cfnKey.node.path} does not let the account's IAM policies grant ${keyActions.join(', ')}, and ` +
              `the key is defined in another stack than this revocation (${stack.node.path}), whose handler's role it cannot name ` +
              'without a dependency cycle: allow those actions to the account root principal in the key policy (IAM then grants ' +
              'them to this handler alone), or define the revocation in the key\'s stack; otherwise the handler\'s create fails');
          }
          return [];
        } });
      }
    }
    // A key known by its ID, account and Region (kms.Key.fromLookup after a successful lookup) has
    // only its partition as a token: it is known well enough, and needs no warning.
    const knownAtSynth = !Token.isUnresolved(key.keyId) && !Token.isUnresolved(key.env.account) && !Token.isUnresolved(key.env.region);
    if (Token.isUnresolved(key.keyArn) && !cfnKey && !knownAtSynth) {
      Annotations.of(this).addWarningV2('cdk-kms-key-material:keyCheckedAtDeploy',
        'the key ARN is only known at deploy time: the handler checks on create that it names a key (not an alias) ' +
        'with Origin EXTERNAL in the stack\'s account, and fails the deployment otherwise');
    }
    if (props.revokeReplicas === false) {
      // M1: known once the tree is complete (MultiRegion may be set by an override later).
      this.node.addValidation({ validate: () => {
        if (isMultiRegionAtSynth(key, cfnKey)) {
          Annotations.of(this).addWarningV2('cdk-kms-key-material:oneRegionOnly',
            'the key is a multi-Region key and revokeReplicas is off: a revocation deletes its material in the Region of ' +
            'its ARN only, and the primary and every other replica keep theirs (each Region holds its own copy of imported ' +
            'material); leave revokeReplicas on to revoke in every Region');
        }
        return [];
      } });
    }
    if (props.revoked) {
      Annotations.of(this).addWarningV2('cdk-kms-key-material:revokedOnCreate',
        '`revoked` is on: if this resource is created with it on, the key material is revoked during the create, ' +
        'and a create that then fails and rolls back cannot undo that (re-importing the same material is the only way ' +
        'back). An update that turns it on revokes only once the update has succeeded');
    }

    const properties: RevocationProperties = {
      KeyArn: key.keyArn,
      KeyLogicalId: cfnKey && sameStack ? cfnKey.logicalId : '',
      RevokeOnStackDelete: String(props.revokeOnStackDelete ?? true) as 'true' | 'false',
      RevokeOnKeyReplacement: String(props.revokeOnKeyReplacement ?? true) as 'true' | 'false',
      RevokeOnRemoval: String(props.revokeOnRemoval ?? false) as 'true' | 'false',
      Revoked: String(props.revoked ?? false) as 'true' | 'false',
      MaterialScope: props.materialScope ?? KeyMaterialScope.ALL,
      // Absent means ALL (lib/contract.ts): written only when it is not, so that no template changes on upgrade.
      ...(props.revokeReplicas === false ? { Regions: 'KEY_REGION' as const } : {}),
      // Absent means false: written only for a key of another stack of the tree.
      ...(tagged ? { KeyTagged: 'true' as const } : {}),
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
        // Properties at their default are left out (contract version 2): about 180 bytes per key;
        // version 1 on request, for upgrading stacks whose deployed handler reads only that.
        ...(writesVersion1(this) ? { ...properties, ContractVersion: '1' } : withoutDefaults(properties)),
      },
    });
    // S6: on deletion this resource goes first, while the key exists and the handler may still
    // act. The handler's reads come before it through the function (provider.ts); the policy
    // that grants the key is added at synthesis, when the provider makes it. A same-stack key
    // referenced by KeyArn (Fn::GetAtt) is a dependency already: DependsOn only when it is not.
    if (cfnKey && sameStack && !referencesKey(resource, cfnKey, key.keyArn)) resource.node.addDependency(cfnKey);
    provider.allowKey(key, cfnKey, resource, tagged);

    // S8 and S9 need the finished tree (aspects may set a retention; revocations may come later).
    this.node.addValidation({ validate: () => this.checkRetention(resource) });
    const root = rootStackOf(stack);
    if (!REVOCATIONS_OF_ROOT.has(root)) REVOCATIONS_OF_ROOT.set(root, []);
    REVOCATIONS_OF_ROOT.get(root)!.push(this);
    this.node.addValidation({ validate: () => this.checkOnlyRevocationOfKey() });

    this.keyArn = Token.asString(resource.getAtt(ATTR_KEY_ARN));
    this.revokedMaterialIds = Token.asString(resource.getAtt(ATTR_REVOKED_MATERIAL_IDS));
  }

  /**
   * Revocations that failed in this stack: every Delete the handler answered FAILED, counted by
   * the handler itself (CloudWatch embedded metric format, namespace CdkKmsKeyMaterial, dimension
   * StackName). Where CloudFormation cannot fail the stack, in the cleanup after an update, this
   * metric is how a failed revocation becomes visible (LIFECYCLE L28). The metric is per stack:
   * every revocation of the stack returns the same one.
   *
   * @default - sum over 5 minutes
   */
  public metricRevocationFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.handlerMetric(METRIC_REVOCATION_FAILURES, props);
  }

  /**
   * Requests the handler refused as not sent by CloudFormation for this stack, or no longer fresh
   * (LIFECYCLE L26, L29): someone invoked the function by hand, or Lambda delivered an event late.
   *
   * @default - sum over 5 minutes
   */
  public metricRefusedRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.handlerMetric(METRIC_REFUSED_REQUESTS, props);
  }

  /**
   * An alarm that goes off when a revocation of this stack fails (one failure is enough). Add one
   * per stack: the metric counts the whole stack. Give it an action (SNS, a pager) to be told.
   */
  public addRevocationFailureAlarm(id: string, options: RevocationFailureAlarmOptions = {}): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, id, {
      metric: this.metricRevocationFailures({ period: options.period ?? Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmName: options.alarmName,
      alarmDescription: options.alarmDescription ?? `A key material revocation failed in stack ${Stack.of(this).stackName}: ` +
        'its material may still be usable. See the handler\'s log group for the decision line (decision "failed") and the reason',
    });
  }

  private handlerMetric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName,
      dimensionsMap: { StackName: Stack.of(this).stackName },
      statistic: 'Sum',
      period: Duration.minutes(5),
      ...props,
    });
  }

  /**
   * S10, L13: the tag on a key of another stack of the tree is the only thing that tells the
   * handler that the key went with this revocation. An override of the key's Tags that drops it
   * would turn every removal together into "the key stays"; a Tags token cannot be checked.
   */
  private checkKeyTag(cfnKey: kms.CfnKey, rendered: RenderedResource): void {
    const tags = rendered.Properties?.Tags;
    const listed = Array.isArray(tags) && tags.every((t) => typeof t?.Key === 'string');
    if (listed && tags.some((t) => t.Key === KEY_TAG && t.Value === KEY_TAG_VALUE)) return;
    if (listed || tags === undefined) {
      throw new Error(`${cfnKey.node.path} lacks the tag ${KEY_TAG}=${KEY_TAG_VALUE} that ${this.node.path} puts on it (an override ` +
        'of its Tags replaced them): without it, removing the key together with this revocation would not revoke its material; ' +
        'keep the tag in the override, or define the revocation in the key\'s stack');
    }
    Annotations.of(this).addWarningV2('cdk-kms-key-material:keyTagUnknown',
      `the Tags of ${cfnKey.node.path} are only known at deploy time: if they lack ${KEY_TAG}=${KEY_TAG_VALUE}, removing the ` +
      'key together with this revocation does not revoke its material (the handler takes the key as staying)');
  }

  /** S8: a retained revocation never receives the Delete it acts on. */
  private checkRetention(resource: CfnResource): string[] {
    const retention = retentionOf(resource);
    if (retention.length === 0) return [];
    return [
      `${this.node.path} has ${retention.join(' and ')}: such a revocation never receives the Delete it acts on; ` +
      'remove the retention from this resource (an aspect that retains every resource, such as ' +
      'RemovalPolicies.of(app).retain(), must leave out Custom::KmsKeyMaterialRevocation)',
    ];
  }

  /** S9: one revocation per key in a stack, a nested stack's tree counting as one. */
  private checkOnlyRevocationOfKey(): string[] {
    const mine = this.keyIdentity();
    // The revocations of the tree as they were created (the one created second reports), instead
    // of a walk of the whole tree per revocation: that walk grew with the square of the keys.
    for (const other of REVOCATIONS_OF_ROOT.get(rootStackOf(Stack.of(this))) ?? []) {
      if (other === this) return [];
      if (other.keyIdentity() === mine && isInTree(other)) {
        const shown = this.cfnKey?.node.path ?? (Token.isUnresolved(this.key.keyArn) ? JSON.stringify(Stack.of(this).resolve(this.key.keyArn)) : this.key.keyArn);
        return [
          `key ${shown} is managed by two KeyMaterialRevocation constructs of one stack (a nested stack's tree counts as one): ` +
          `${other.node.path} and ${this.node.path}; keep one (removing either would look to the handler like a removal ` +
          'while the other still manages the key)',
        ];
      }
    }
    return [];
  }

  /**
   * Computed once, at validation: by then every reference is resolved as it will be synthesized.
   * A key given by a nested stack's parameter is followed up to its source (sourceIdentity).
   */
  private keyIdentity(): string {
    this.identity ??= sourceIdentity(this.key, this.cfnKey, Stack.of(this));
    return this.identity;
  }
}

/** The revocations of each root stack's tree, in the order they were created (S9). */
const REVOCATIONS_OF_ROOT = new WeakMap<Stack, KeyMaterialRevocation[]>();

/** Whether a construct is still in its tree (`node.tryRemoveChild` takes one out, rarely). */
function isInTree(construct: IConstruct): boolean {
  for (let c = construct; c.node.scope; c = c.node.scope) {
    if (c.node.scope.node.tryFindChild(c.node.id) !== c) return false;
  }
  return true;
}

/** Whether `keyArn` renders as `Fn::GetAtt` of the key's own resource (an implicit dependency). */
function referencesKey(scope: Construct, cfnKey: kms.CfnKey, keyArn: string): boolean {
  const stack = Stack.of(scope);
  const getAtt = (stack.resolve(keyArn) as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  return Array.isArray(getAtt) && getAtt[0] === stack.resolve(cfnKey.logicalId);
}

/** Whether the app asks for contract version 1 (lib/contract.ts WRITE_VERSION_1_CONTEXT). */
function writesVersion1(scope: Construct): boolean {
  const value: unknown = scope.node.tryGetContext(WRITE_VERSION_1_CONTEXT);
  return value === true || value === 'true';
}
