import { Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { RenderedResource, renderedProperties } from './rendered';

/*
 * What the guard rails read from a key as it will be written into the template (property or
 * escape-hatch override alike), and the rotation-on-EXTERNAL rule they share with the
 * revocation and ExternalKey.
 */

/** How to rotate imported material, named in every error about automatic rotation. */
export const ON_DEMAND_ROTATION =
  'keys with imported material rotate on demand instead: import new material into the key ' +
  '(aws kms import-key-material --import-type NEW_KEY_MATERIAL) and make it current with ' +
  'aws kms rotate-key-on-demand (symmetric encryption keys), or create a new key and move to it';

/** Whether the key's rendered Origin is EXTERNAL (false when it is another value or a token). */
export function isExternalKey(cfnKey: kms.CfnKey): boolean {
  return renderedProperties(cfnKey, ['Origin']).Properties?.Origin === 'EXTERNAL';
}

/**
 * A key with Origin EXTERNAL and automatic rotation on: KMS refuses that (EnableKeyRotation is
 * valid only for AWS_KMS key material), so the deployment would fail; synth fails first.
 */
export function checkNoAutomaticRotation(cfnKey: kms.CfnKey,
  rendered: RenderedResource = renderedProperties(cfnKey, ['Origin', 'EnableKeyRotation'])): string[] {
  const properties = rendered.Properties ?? {};
  if (properties.Origin !== 'EXTERNAL') return [];
  const rotation = properties.EnableKeyRotation;
  if (rotation !== true && rotation !== 'true') return [];
  if (Token.isUnresolved(rotation)) return [];
  return [
    `key ${cfnKey.node.path} has Origin EXTERNAL and EnableKeyRotation true: KMS cannot rotate imported key material ` +
    `automatically and would fail the deployment; turn automatic rotation off (enableKeyRotation: false); ${ON_DEMAND_ROTATION}`,
  ];
}
