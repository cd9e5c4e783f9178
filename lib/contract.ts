/**
 * The one contract between the construct (which writes these properties into the template) and the
 * handler (which reads them back from the CloudFormation event).
 *
 * CloudFormation delivers every custom-resource property as a string, so the contract is
 * string-typed on purpose. This file must not import aws-cdk-lib: the handler bundle includes it.
 *
 * Not exported from the package entry point: it is internal, and jsii never sees it.
 */

/** The CloudFormation type name. Permanent: changing it replaces every deployed resource. */
export const RESOURCE_TYPE = 'Custom::KmsKeyMaterialRevocation';

/**
 * The version the construct writes. Bumped only when what a template may say changes; the handler
 * rejects versions it does not know (KNOWN_CONTRACT_VERSIONS).
 *
 * - '1': every property of `RevocationProperties` but `Regions` written out.
 * - '2': the same meanings, but a property at its default (PROPERTY_DEFAULTS) is left out, which
 *   saves about 170 template bytes per key (issue 13). A template deployed with '1' keeps its
 *   meaning: the handler reads both, and an upgrade from '1' to '2' is an in-place update with
 *   the same physical ID (nothing revoked).
 */
export const CONTRACT_VERSION = '2';

/**
 * Context key: when true, the construct writes version 1 (every property, ContractVersion '1').
 * For upgrading stacks deployed with a handler that reads version 1 only: deployed with it on, the
 * upgrade changes the handler and no revocation; the next deployment, with it off, moves the
 * revocations to version 2 under the new handler, which also reads them back if that deployment
 * rolls back. (An old handler restored by a rollback could not read version 2.)
 */
export const WRITE_VERSION_1_CONTEXT = 'cdk-kms-key-material:writeContractVersion1';

/** Every version the handler reads. */
export const KNOWN_CONTRACT_VERSIONS: readonly string[] = ['1', '2'];

/**
 * The value a property has when a version-2 template leaves it out: the construct's defaults,
 * written out only when they differ. `KeyLogicalId` and `Regions` had defaults already in '1'.
 */
export const PROPERTY_DEFAULTS = {
  KeyLogicalId: '',
  RevokeOnStackDelete: 'true',
  RevokeOnKeyReplacement: 'true',
  RevokeOnRemoval: 'false',
  Revoked: 'false',
  MaterialScope: 'ALL',
} as const;

/** The properties a version-2 template may leave out. */
export type DefaultedProperty = keyof typeof PROPERTY_DEFAULTS;

/**
 * A property's value as a template or event of this version means it: the value given, or when
 * absent the default of the version (version 1 has defaults for KeyLogicalId only, so anything
 * else absent stays absent and is refused by the caller).
 */
export function propertyValue(raw: Readonly<Record<string, unknown>>, name: DefaultedProperty): unknown {
  const value = raw[name];
  if (value !== undefined) return value;
  if (name === 'KeyLogicalId' || raw.ContractVersion === '2') return PROPERTY_DEFAULTS[name];
  return undefined;
}

/** Which imported key materials a revocation deletes. Mirrors the public `KeyMaterialScope` enum. */
export type MaterialScopeValue = 'ALL' | 'CURRENT';

/**
 * Which Regions a revocation of a multi-Region key covers (LIFECYCLE M1). Mirrors the construct's
 * `revokeReplicas`: ALL is the primary's Region and every replica's, KEY_REGION the Region of
 * `KeyArn` only. Single-Region keys have one Region either way.
 */
export type RegionsValue = 'ALL' | 'KEY_REGION';

/** A boolean as CloudFormation delivers it. */
export type BoolString = 'true' | 'false';

/** ResourceProperties of `Custom::KmsKeyMaterialRevocation`, as written by the construct. */
export interface RevocationProperties {
  /** Key ARN (never an alias). The Region in it is where the handler calls KMS. */
  readonly KeyArn: string;
  /**
   * Logical ID of the key when it is defined in the same stack, else ''. Lets the handler tell
   * "the construct was removed" from "the construct and its key were removed together".
   */
  readonly KeyLogicalId: string;
  readonly RevokeOnStackDelete: BoolString;
  readonly RevokeOnKeyReplacement: BoolString;
  readonly RevokeOnRemoval: BoolString;
  readonly Revoked: BoolString;
  readonly MaterialScope: MaterialScopeValue;
  /**
   * Absent means ALL: resources deployed before the property existed revoke in every Region, and
   * the construct writes it only for KEY_REGION, so that upgrading changes no template. A change
   * of it alone is an in-place update (same physical ID, nothing revoked).
   */
  readonly Regions?: RegionsValue;
  /**
   * 'true' when the key is defined in another stack of the same nested-stack tree (LIFECYCLE S10):
   * the construct then tags that key with KEY_TAG, and the tag still on the key in a cleanup tells
   * "removed together with its key" (L13) from "the key stays" (L12), since an update that removes
   * the revocation alone removes the tag in its update phase. Absent means 'false', in both
   * versions: written only when true, so that no other template changes on upgrade.
   */
  readonly KeyTagged?: BoolString;
  readonly ContractVersion: string;
}

/**
 * The tag the construct puts on a key of another stack of the tree that a revocation manages
 * (KeyTagged). The handler counts it only with this value (synth fails on another).
 */
export const KEY_TAG = 'cdk-kms-key-material:revocation';
export const KEY_TAG_VALUE = 'true';

/** The extra action on a tagged key: reading whether it still carries KEY_TAG. */
export const KMS_TAG_ACTIONS = ['kms:ListResourceTags'];

/** What the construct writes: the properties, less those at their default (version 2). */
export function withoutDefaults(props: RevocationProperties): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined) continue;
    if (name in PROPERTY_DEFAULTS && PROPERTY_DEFAULTS[name as DefaultedProperty] === value) continue;
    out[name] = value;
  }
  return out;
}

/** Names of the attributes the handler returns (readable with Fn::GetAtt). */
export const ATTR_KEY_ARN = 'KeyArn';
export const ATTR_REVOKED_MATERIAL_IDS = 'RevokedMaterialIds';

/**
 * Physical ID prefix. The physical ID is derived from the key ARN alone, so it is stable across
 * in-place updates and changes exactly when the resource points at another key (which makes
 * CloudFormation send the old one a Delete during cleanup).
 */
export const PHYSICAL_ID_PREFIX = 'kms-key-material-revocation:';

/**
 * Physical ID prefix of a resource whose `Revoked` switch is on (followed by the key ARN). The
 * physical ID changes when the switch turns on or off, so CloudFormation sends the previous one a
 * Delete in the cleanup after the update has succeeded: that is when the switch revokes
 * (LIFECYCLE L14), never while the update can still roll back. Resources deployed with the switch
 * on before this prefix existed keep their physical ID until their key or switch changes.
 */
export const REVOKED_PHYSICAL_ID_PREFIX = 'kms-key-material-revocation-revoked:';

/** Physical ID answered when Create fails: the Delete that follows must recognise it and do nothing. */
export const FAILED_CREATE_PHYSICAL_ID_PREFIX = 'kms-key-material-revocation-failed-create:';

/** The actions the handler calls, per key. */
export const KMS_ACTIONS = ['kms:DescribeKey', 'kms:ListKeyRotations', 'kms:DeleteImportedKeyMaterial'];

/** Every CloudFormation read the handler makes (each granted on the stacks named below). */
export const CLOUDFORMATION_ACTIONS = [
  'cloudformation:DescribeStacks',
  'cloudformation:DescribeStackEvents',
  'cloudformation:GetTemplate',
  'cloudformation:DescribeStackResource',
  'cloudformation:ListStackResources',
];

/** Status and history: granted on the handler's own stack and each ancestor up to the root (nested stacks). */
export const CLOUDFORMATION_STATUS_ACTIONS = ['cloudformation:DescribeStacks', 'cloudformation:DescribeStackEvents'];

/**
 * The template, and one resource's state (the evidence that CloudFormation is creating or deleting
 * a revocation right now): granted on the handler's own stack only.
 */
export const CLOUDFORMATION_TEMPLATE_ACTIONS = ['cloudformation:GetTemplate', 'cloudformation:DescribeStackResource'];

/**
 * The environment variable holding the handler's own stack ID (`AWS::StackId`), bound at deploy
 * time: a request for any other stack is refused (LIFECYCLE L29). Same name as in the handler.
 */
export const BOUND_STACK_ID_ENV = 'REVOCATION_STACK_ID';

/**
 * Live resources: granted on the handler's own stack and its ancestors, and in a nested stack also
 * on every stack whose name begins with the root's name and a hyphen (as every nested stack name of
 * the root's tree does), to find another live revocation of the same key in the tree.
 */
export const CLOUDFORMATION_LIST_ACTIONS = ['cloudformation:ListStackResources'];

/** The handler's CloudWatch metrics (embedded metric format), dimension StackName: the construct's metric methods name the same. */
export const METRIC_NAMESPACE = 'CdkKmsKeyMaterial';
/** A Delete answered FAILED: a revocation the contract promised did not happen (LIFECYCLE L16, L28). */
export const METRIC_REVOCATION_FAILURES = 'RevocationFailures';
/** A request refused as not CloudFormation's or no longer fresh (LIFECYCLE L26, L29). */
export const METRIC_REFUSED_REQUESTS = 'RefusedRequests';
