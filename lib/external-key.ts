import { CfnDeletionPolicy, Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { KeyMaterialExpiration, KeyMaterialExpiryAlarmOptions } from './expiry';
import { acknowledgeNagFindings } from './nag';
import { KeyMaterialRevocation, KeyMaterialRevocationOptions } from './revocation';
import { checkNoAutomaticRotation, ON_DEMAND_ROTATION } from './rotation';

/** Properties of an `ExternalKey`. */
export interface ExternalKeyProps {
  /**
   * The key's description.
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * An alias for the key (`alias/` is added when missing).
   *
   * @default - no alias
   */
  readonly alias?: string;

  /**
   * Whether the key is enabled. It is unusable (`PendingImport`) until material is imported anyway.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * The key spec. KMS accepts imported material for `SYMMETRIC_DEFAULT`, `RSA_2048`, `RSA_3072`,
   * `RSA_4096`, `ECC_NIST_P256`, `ECC_NIST_P384`, `ECC_NIST_P521`, `ECC_SECG_P256K1`, `HMAC_224`,
   * `HMAC_256`, `HMAC_384` and `HMAC_512`; any other spec fails synth. `SM2` exists only in the China
   * Regions, where KMS imports symmetric encryption material only.
   *
   * @default kms.KeySpec.SYMMETRIC_DEFAULT
   */
  readonly keySpec?: kms.KeySpec;

  /**
   * The key usage, which must suit the spec: `ENCRYPT_DECRYPT` for `SYMMETRIC_DEFAULT`;
   * `ENCRYPT_DECRYPT` or `SIGN_VERIFY` for RSA; `SIGN_VERIFY` or `KEY_AGREEMENT` for the NIST
   * curves; `SIGN_VERIFY` for `ECC_SECG_P256K1`; `GENERATE_VERIFY_MAC` for HMAC.
   *
   * @default - ENCRYPT_DECRYPT for SYMMETRIC_DEFAULT and RSA specs, SIGN_VERIFY for ECC specs,
   * GENERATE_VERIFY_MAC for HMAC specs
   */
  readonly keyUsage?: kms.KeyUsage;

  /**
   * Creates a multi-Region primary key. Material is imported into the primary and into each
   * replica separately (the same material in each); the built-in revocation revokes it in every
   * Region the key has (LIFECYCLE M1).
   *
   * @default false
   */
  readonly multiRegion?: boolean;

  /**
   * Automatic rotation. Keys with imported material cannot rotate automatically: `true` fails
   * synth, naming how to rotate on demand (import new material, then `RotateKeyOnDemand`).
   * It is here so that code written for `kms.Key` gets that answer instead of a failed deployment.
   *
   * @default false
   */
  readonly enableKeyRotation?: boolean;

  /**
   * The key policy.
   *
   * @default - `kms.Key`'s default policy: the account's IAM policies decide (the revocation
   * handler's role is granted through IAM)
   */
  readonly policy?: iam.PolicyDocument;

  /**
   * Principals that administer the key (`kms:Create*`, `kms:Describe*`, ... as `kms.Key` grants
   * them). Importing material needs `kms:GetParametersForImport` and `kms:ImportKeyMaterial`:
   * grant those with `grant()`.
   *
   * @default - none
   */
  readonly admins?: iam.IPrincipal[];

  /**
   * What happens to the key when it leaves the stack (`cdk destroy`, or removed from the app).
   *
   * - `DESTROY` (the default): the key is scheduled for deletion (`pendingWindow`). With the
   *   built-in revocation its material is revoked first (the revocation depends on the key, so
   *   CloudFormation deletes it before the key): data under the key is unreadable at once, not
   *   after the window. Within the window, cancelling the deletion and re-importing the same
   *   material brings the key back.
   * - `RETAIN`: the key is kept on purpose, in `PendingImport` once its material is revoked.
   *
   * `kms.Key` retains by default; a key kept by accident after `cdk destroy` is what this
   * construct avoids.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * How long KMS waits before deleting the key once it is scheduled for deletion (7 to 30 days).
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;

  /**
   * Whether the key carries its own `KeyMaterialRevocation` (child `Revocation`, reachable as
   * `revocation`). Turn it off only when another `KeyMaterialRevocation` manages the key, or when
   * its material must survive the stack; `ExternalKeyGuard` reports a key without one.
   *
   * @default true
   */
  readonly withRevocation?: boolean;

  /**
   * The options of the built-in revocation.
   *
   * @default - `KeyMaterialRevocation`'s defaults: revoke every material on stack deletion and on
   * key replacement, never on removal of the revocation alone
   */
  readonly revocation?: KeyMaterialRevocationOptions;
}

/** The usages KMS allows with imported material, by key spec (outside the China Regions). */
const IMPORTABLE: Readonly<Record<string, readonly string[]>> = {
  SYMMETRIC_DEFAULT: ['ENCRYPT_DECRYPT'],
  RSA_2048: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_3072: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_4096: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  ECC_NIST_P256: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P384: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P521: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_SECG_P256K1: ['SIGN_VERIFY'],
  HMAC_224: ['GENERATE_VERIFY_MAC'],
  HMAC_256: ['GENERATE_VERIFY_MAC'],
  HMAC_384: ['GENERATE_VERIFY_MAC'],
  HMAC_512: ['GENERATE_VERIFY_MAC'],
};

// Short: it is written into the template for every key (issue 13, template bytes per key).
const KMS5_REASON = 'Imported key material cannot rotate automatically; rotate on demand with new material';

/**
 * Leaves a key's DeletionPolicy and UpdateReplacePolicy out of the template while they are
 * Delete, CloudFormation's default for both ("If a resource has no DeletionPolicy attribute,
 * CloudFormation deletes the resource by default", and the same for UpdateReplacePolicy: Template
 * Reference, resource attributes). The template then means what the written-out "Delete" meant, 67
 * bytes fewer per key (issue 13, (e)), and a deployed key that had them loses nothing when they go.
 *
 * The options stay set (CfnKey's validation wants a removal policy on a key of a `kms.Key`); the
 * override reads them when the template is rendered, uncached, so a later `applyRemovalPolicy`
 * (`RETAIN`, a `RemovalPolicies` aspect) is written as it is. An override of the user's own on the
 * same attribute replaces this one.
 */
function omitDefaultRemovalAttributes(cfnKey: kms.CfnKey): void {
  const options = cfnKey.cfnOptions;
  cfnKey.addOverride('DeletionPolicy', Lazy.uncachedAny({
    produce: () => options.deletionPolicy === CfnDeletionPolicy.DELETE ? undefined : options.deletionPolicy,
  }));
  cfnKey.addOverride('UpdateReplacePolicy', Lazy.uncachedAny({
    produce: () => options.updateReplacePolicy === CfnDeletionPolicy.DELETE ? undefined : options.updateReplacePolicy,
  }));
}

/** Checks the spec, usage and rotation before `kms.Key` sees them; returns the props for it. */
function keyProps(props: ExternalKeyProps): kms.KeyProps {
  if (props.enableKeyRotation) {
    throw new Error(`enableKeyRotation is true, but keys with imported key material cannot rotate automatically; ${ON_DEMAND_ROTATION}`);
  }
  if (props.withRevocation === false && props.revocation !== undefined) {
    throw new Error('revocation options are given but withRevocation is false: drop one of them');
  }
  const spec: string = props.keySpec ?? kms.KeySpec.SYMMETRIC_DEFAULT;
  const usages = IMPORTABLE[spec];
  if (usages === undefined) {
    const why = spec === 'SM2' ? ' (SM2 keys exist only in the China Regions, where KMS imports symmetric encryption material only)' : '';
    throw new Error(`keySpec ${spec} cannot hold imported key material${why}; use one of ${Object.keys(IMPORTABLE).join(', ')}`);
  }
  const usage: string = props.keyUsage ?? usages[0];
  if (!usages.includes(usage)) {
    throw new Error(`keyUsage ${usage} is not allowed for keySpec ${spec} with imported key material; use ${usages.join(' or ')}`);
  }
  return {
    description: props.description,
    alias: props.alias,
    enabled: props.enabled,
    keySpec: spec as kms.KeySpec,
    keyUsage: usage as kms.KeyUsage,
    enableKeyRotation: false,
    policy: props.policy,
    admins: props.admins,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    pendingWindow: props.pendingWindow,
  };
}

/**
 * A KMS key for imported key material ("bring your own key"): `Origin: EXTERNAL`, no automatic
 * rotation, and a `KeyMaterialRevocation` built in that revokes the material when the stack is
 * deleted. It is a `kms.Key`: grants, aliases, key policy statements and every construct that
 * takes a key accept it. It is created without material (`PendingImport`): import yours next.
 *
 * On `cdk destroy` the material is revoked first, then the key is scheduled for deletion
 * (`removalPolicy` `DESTROY`, the default) or kept on purpose (`RETAIN`).
 *
 * @example
 * import { ExternalKey } from 'cdk-kms-key-material';
 *
 * const key = new ExternalKey(this, 'ByokKey', { description: 'Material from our HSM' });
 */
export class ExternalKey extends kms.Key {
  /** The built-in revocation, unless `withRevocation` is false. */
  public readonly revocation?: KeyMaterialRevocation;

  constructor(scope: Construct, id: string, props: ExternalKeyProps = {}) {
    super(scope, id, keyProps(props));
    const cfnKey = this.node.defaultChild as kms.CfnKey;
    // The L1 property (aws-cdk-lib 2.93 has it): no escape hatch for the origin.
    cfnKey.origin = 'EXTERNAL';
    // On the L1: kms.Key's own multiRegion prop is newer than the aws-cdk-lib floor (2.93).
    if (props.multiRegion) cfnKey.multiRegion = true;
    omitDefaultRemovalAttributes(cfnKey);
    acknowledgeNagFindings(cfnKey, [{ ruleId: 'AwsSolutions-KMS5', reason: KMS5_REASON }]);
    if (props.withRevocation ?? true) {
      this.revocation = new KeyMaterialRevocation(this, 'Revocation', { ...props.revocation, key: this });
    } else {
      // The revocation checks rotation for the keys it manages; without one, the key does.
      this.node.addValidation({ validate: () => checkNoAutomaticRotation(cfnKey) });
    }
  }

  /**
   * KMS's `SecondsUntilKeyMaterialExpiration` for this key (namespace `AWS/KMS`, dimension
   * `KeyId`): published while the key holds imported material that is set to expire.
   *
   * @default - minimum over 5 minutes
   */
  public metricSecondsUntilKeyMaterialExpiration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return KeyMaterialExpiration.metricSecondsUntilKeyMaterialExpiration(this, props);
  }

  /**
   * An alarm that goes off `before` this key's imported material expires.
   */
  public addExpiryAlarm(id: string, options: KeyMaterialExpiryAlarmOptions): cloudwatch.Alarm {
    return KeyMaterialExpiration.addExpiryAlarm(this, id, this, options);
  }
}
