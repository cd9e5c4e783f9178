import * as cdk from 'aws-cdk-lib';
import { Annotations, CfnResource, IAspect } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { IConstruct } from 'constructs';
import { ExternalKey } from './external-key';
import { KeyMaterialRevocation, KeyMaterialRevocationOptions } from './revocation';
import { checkNoAutomaticRotation, isExternalKey } from './rotation';

/** What `ExternalKeyGuard` does with an EXTERNAL key that no revocation manages. */
export enum MissingRevocationAction {
  /** Fail synth (an error annotation on the key). */
  ERROR = 'ERROR',
  /** Warn (a warning annotation on the key; `cdk synth --strict` still fails). */
  WARN = 'WARN',
  /** Give the key a `KeyMaterialRevocation` (child `KeyMaterialRevocation` of the key's scope). */
  ADD_REVOCATION = 'ADD_REVOCATION',
}

/** Properties of an `ExternalKeyGuard`. */
export interface ExternalKeyGuardProps {
  /**
   * What to do with an EXTERNAL key that no `KeyMaterialRevocation` of the app manages.
   *
   * @default MissingRevocationAction.ERROR
   */
  readonly onMissingRevocation?: MissingRevocationAction;

  /**
   * The options of the revocations that `MissingRevocationAction.ADD_REVOCATION` adds.
   *
   * @default - `KeyMaterialRevocation`'s defaults
   */
  readonly revocation?: KeyMaterialRevocationOptions;
}

/** Runs before aws-cdk-lib's mutating aspects (200), among them the one that grants the handler its keys. */
const GUARD_PRIORITY = 100;

/**
 * Guard rails for keys with imported material: an Aspect that finds every key with `Origin:
 * EXTERNAL` in its scope (however the origin is set: `ExternalKey`, the `CfnKey` property, or an
 * escape-hatch override) that no `KeyMaterialRevocation` of the app manages, and reports it as
 * an error (the default), a warning, or gives it a revocation. Whatever the mode, an EXTERNAL key
 * with automatic rotation on fails synth: KMS would refuse it at deployment.
 *
 * Apply it with `ExternalKeyGuard.apply(scope)`, which runs it before the aspects that complete
 * the revocations (needed for `ADD_REVOCATION`).
 *
 * @example
 * import { App } from 'aws-cdk-lib';
 * import { ExternalKeyGuard, MissingRevocationAction } from 'cdk-kms-key-material';
 *
 * declare const app: App;
 * ExternalKeyGuard.apply(app, { onMissingRevocation: MissingRevocationAction.WARN });
 */
export class ExternalKeyGuard implements IAspect {
  /**
   * Adds the guard to `scope` (usually the app), ordered before aws-cdk-lib's mutating aspects
   * where the aws-cdk-lib version orders aspects (2.172 and newer).
   */
  public static apply(scope: IConstruct, props: ExternalKeyGuardProps = {}): ExternalKeyGuard {
    const guard = new ExternalKeyGuard(props);
    const withPriority = (cdk as unknown as { AspectPriority?: unknown }).AspectPriority !== undefined;
    (cdk.Aspects.of(scope).add as (aspect: IAspect, options?: { priority: number }) => void)(
      guard, withPriority ? { priority: GUARD_PRIORITY } : undefined);
    return guard;
  }

  private readonly action: MissingRevocationAction;
  private readonly revocation: KeyMaterialRevocationOptions;
  private readonly checked = new Set<kms.CfnKey>();
  private scanned = false;

  constructor(props: ExternalKeyGuardProps = {}) {
    if (props.revocation !== undefined && props.onMissingRevocation !== MissingRevocationAction.ADD_REVOCATION) {
      throw new Error('revocation options are used only with onMissingRevocation ADD_REVOCATION');
    }
    this.action = props.onMissingRevocation ?? MissingRevocationAction.ERROR;
    this.revocation = props.revocation ?? {};
  }

  public visit(node: IConstruct): void {
    // The whole scope at its first node, before any of its children: a revocation added here is
    // in the tree before the handler's aspect collects the keys it grants. Later visits only see
    // keys that other aspects added meanwhile.
    if (this.scanned && !isCfnKey(node)) return;
    this.scanned = true;
    const keys = node.node.findAll().filter(isCfnKey).filter((k) => !this.checked.has(k));
    if (keys.length === 0) return;
    const managed = managedKeys(node);
    for (const cfnKey of keys) {
      this.checked.add(cfnKey);
      if (!isExternalKey(cfnKey) || managed.has(cfnKey)) continue;
      if (this.action === MissingRevocationAction.ADD_REVOCATION) {
        // The new revocation checks the key's rotation, as every revocation does.
        this.addRevocation(cfnKey);
        continue;
      }
      // A managed key's rotation is checked by its revocation, an ExternalKey's by itself.
      if (!(cfnKey.node.scope instanceof ExternalKey)) {
        for (const error of checkNoAutomaticRotation(cfnKey)) Annotations.of(cfnKey).addError(error);
      }
      this.report(cfnKey);
    }
  }

  private report(cfnKey: kms.CfnKey): void {
    const what = `key ${cfnKey.node.path} has Origin EXTERNAL but no KeyMaterialRevocation manages it: its imported ` +
      'material stays usable after the stack is deleted, until KMS deletes the key 7 to 30 days later (or for good, if the key is retained)';
    const fix = 'use ExternalKey (its revocation is built in), or add a KeyMaterialRevocation for the key';
    if (this.action === MissingRevocationAction.WARN) {
      Annotations.of(cfnKey).addWarningV2('cdk-kms-key-material:externalKeyWithoutRevocation', `${what}; ${fix}`);
    } else {
      Annotations.of(cfnKey).addError(`${what}; ${fix} (or tell ExternalKeyGuard to warn, or to add one)`);
    }
  }

  /**
   * A revocation next to the key: under its `kms.Key` (ID `KeyMaterialRevocation`), or beside a
   * bare `CfnKey` (ID `<key id>KeyMaterialRevocation`: its scope may hold several keys).
   */
  private addRevocation(cfnKey: kms.CfnKey): void {
    const owner = cfnKey.node.scope!;
    if (owner.node.defaultChild === cfnKey && typeof (owner as Partial<kms.IKey>).addToResourcePolicy === 'function') {
      new KeyMaterialRevocation(owner, 'KeyMaterialRevocation', { ...this.revocation, key: owner as kms.IKey });
      return;
    }
    const id = `${cfnKey.node.id}KeyMaterialRevocation`;
    const key = kms.Key.fromKeyArn(owner, `${id}Key`, cfnKey.attrArn);
    new KeyMaterialRevocation(owner, id, { ...this.revocation, key });
  }
}

function isCfnKey(x: IConstruct): x is kms.CfnKey {
  return CfnResource.isCfnResource(x) && x.cfnResourceType === kms.CfnKey.CFN_RESOURCE_TYPE_NAME;
}

/** The keys the revocations of the app manage, wherever they are (another stack's revocation counts). */
function managedKeys(node: IConstruct): Set<kms.CfnKey> {
  const managed = new Set<kms.CfnKey>();
  for (const c of node.node.root.node.findAll()) {
    if (c instanceof KeyMaterialRevocation && c._managedCfnKey) managed.add(c._managedCfnKey);
  }
  return managed;
}
