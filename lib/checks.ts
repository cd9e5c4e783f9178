import { Annotations, CfnResource, Duration, Stack, Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { rawOverridesOf, RenderedResource, renderedProperties } from './rendered';

/*
 * The synth rules of LIFECYCLE.md that look at one revocation and its key. Errors are thrown
 * early when the props alone are wrong; checks that need the finished tree are validations.
 */

const MIN_SERVICE_TIMEOUT_SECONDS = 30;
const MAX_SERVICE_TIMEOUT_SECONDS = 3600;

function isAlias(key: kms.IKey): boolean {
  if ((key as Partial<kms.IAlias>).aliasName !== undefined) return true;
  if (!Token.isUnresolved(key.keyArn) && /:alias\//.test(key.keyArn)) return true;
  return !Token.isUnresolved(key.keyId) && key.keyId.startsWith('alias/');
}

/** S2: DeleteImportedKeyMaterial takes a key ID or key ARN, never an alias. */
export function checkNotAlias(key: kms.IKey): void {
  if (isAlias(key)) {
    const shown = Token.isUnresolved(key.keyArn) ? key.node.path : key.keyArn;
    throw new Error(
      `key ${shown} is an alias; DeleteImportedKeyMaterial accepts only a key ID or key ARN: ` +
      'pass the key itself (for example kms.Key.fromKeyArn) instead of the alias',
    );
  }
}

/**
 * S1 (and S7 when unresolved). `keyAccount` is the account of the key's own stack for a key
 * defined in the app. `sameAccount` says the key is known to be in the stack's account even when
 * neither account is resolved: it is defined in the same stack or in the same nested stack tree
 * (nested stacks always deploy to their root's account).
 */
/** `keyName` is the key ARN, or the key's construct path when its ARN is only a token (never printed raw). */
export function checkAccount(scope: Construct, keyName: string, keyAccount: string, stack: Stack, sameAccount: boolean): void {
  const stackAccount = stack.account;
  if (Token.isUnresolved(keyAccount) || Token.isUnresolved(stackAccount)) {
    if (sameAccount) return;
    Annotations.of(scope).addWarningV2('cdk-kms-key-material:accountCheckedAtDeploy',
      'the key\'s account or the stack\'s account is only known at deploy time: the handler checks on create ' +
      'that they are the same (DeleteImportedKeyMaterial works only in the key\'s own account)');
    return;
  }
  if (keyAccount !== stackAccount) {
    throw new Error(
      `key ${keyName} is in account ${keyAccount} but stack ${stack.stackName} deploys to account ${stackAccount}: ` +
      'DeleteImportedKeyMaterial works only in the key\'s own account, so deploy the revocation in a stack of account ' + keyAccount,
    );
  }
}

export function checkServiceTimeout(timeout: Duration): string {
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
export function checkOrigin(cfnKey: kms.CfnKey, rendered: RenderedResource = renderedProperties(cfnKey, ['Origin'])): string[] {
  // The Origin may come from the L1 property or from an override; the rendered resource has both.
  const origin = rendered.Properties?.Origin;
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

/**
 * The DeletionPolicy and UpdateReplacePolicy of a resource, when either is anything but Delete
 * (set on it, by `applyRemovalPolicy`, by an override, or by an aspect: validations run after
 * aspects), as "DeletionPolicy Retain" phrases; empty when both are Delete or unset.
 */
export function retentionOf(resource: CfnResource): string[] {
  // Read as the template will have it, without rendering the whole resource (a cost per revocation
  // at synth): an override (addOverride) wins over the option, as it does when rendered.
  const overrides = rawOverridesOf(resource) ?? {};
  const set = {
    DeletionPolicy: 'DeletionPolicy' in overrides ? overrides.DeletionPolicy : resource.cfnOptions.deletionPolicy,
    UpdateReplacePolicy: 'UpdateReplacePolicy' in overrides ? overrides.UpdateReplacePolicy : resource.cfnOptions.updateReplacePolicy,
  };
  const rendered = Stack.of(resource).resolve(set) as Record<keyof typeof set, unknown>;
  return (['DeletionPolicy', 'UpdateReplacePolicy'] as const)
    .filter((name) => rendered[name] !== undefined && rendered[name] !== 'Delete')
    .map((name) => `${name} ${typeof rendered[name] === 'string' ? rendered[name] : JSON.stringify(rendered[name])}`);
}
