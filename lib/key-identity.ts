import { CfnParameter, CfnResource, Reference, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';

/** The top-level stack of a nested stack's tree (the stack itself when it is not nested). */
export function rootStackOf(stack: Stack): Stack {
  let root = stack;
  while (root.nestedStackParent) root = root.nestedStackParent;
  return root;
}

/** The stack, then its parent, and so on up to the root. */
export function stackChainOf(stack: Stack): Stack[] {
  const chain = [stack];
  for (let s = stack.nestedStackParent; s; s = s.nestedStackParent) chain.push(s);
  return chain;
}

function isCfnKey(x: unknown): x is kms.CfnKey {
  // Older aws-cdk-lib versions' isCfnResource fails on undefined.
  return typeof x === 'object' && x !== null && CfnResource.isCfnResource(x as CfnResource)
    && (x as CfnResource).cfnResourceType === kms.CfnKey.CFN_RESOURCE_TYPE_NAME;
}

/**
 * The key's L1 resource when the key is defined in this app (LIFECYCLE S10), however it reached
 * the construct: a `kms.Key` (its default child), `kms.Key.fromCfnKey` (whose object is a child
 * of the CfnKey and has no default child, but its `keyArn` is the CfnKey's `attrArn`), or any key
 * whose ARN is a reference to a CfnKey (`kms.Key.fromKeyArn(scope, id, cfnKey.attrArn)`, a key of
 * another stack). Only a key known by ARN alone is "imported".
 */
export function cfnKeyOf(key: kms.IKey): kms.CfnKey | undefined {
  const child = key.node.defaultChild;
  if (isCfnKey(child)) return child;
  const token = Tokenization.reverse(key.keyArn, { failConcat: false });
  return Reference.isReference(token) && isCfnKey(token.target) ? token.target : undefined;
}

/**
 * A stack's identity across deployments: the root's environment and name, then the logical ID of
 * each nested stack resource down to this stack (a nested stack's physical name is generated).
 */
function stackIdentity(stack: Stack): string {
  const parent = stack.nestedStackParent;
  if (parent && stack.nestedStackResource) {
    return `${stackIdentity(parent)}/${parent.resolve(stack.nestedStackResource.logicalId)}`;
  }
  return JSON.stringify([stack.resolve(stack.account), stack.resolve(stack.region), stack.stackName]);
}

/**
 * What tells one key from another, as seen from `consumer` (the stack of the revocation):
 * - a key defined in the app: its stack's identity and its logical ID. An AWS::KMS::Key is never
 *   replaced under the same logical ID (CloudFormation fails an update of an immutable property
 *   such as Origin or KeySpec instead), so these name one key for its whole life;
 * - a key known by a literal ARN: the ARN;
 * - a key known by a token ARN (a parameter, an import): the token as the consumer resolves it, and
 *   the identity of every other stack it refers to (before references are wired, a reference to
 *   another stack's resource resolves to that stack's own logical ID, which alone is ambiguous).
 * Two revocations with the same identity manage the same key (LIFECYCLE S9); the key policies
 * group keys by identity (provider.ts).
 */
export function keyIdentity(key: kms.IKey, cfnKey: kms.CfnKey | undefined, consumer: Stack): string {
  if (cfnKey) {
    const keyStack = Stack.of(cfnKey);
    return `key ${stackIdentity(keyStack)} ${keyStack.resolve(cfnKey.logicalId)}`;
  }
  if (!Token.isUnresolved(key.keyArn)) return `arn ${key.keyArn}`;
  const producers = new Set<string>();
  for (const token of Tokenization.reverseString(key.keyArn).tokens) {
    if (Reference.isReference(token) && Stack.of(token.target) !== consumer) producers.add(stackIdentity(Stack.of(token.target)));
  }
  return `token ${stackIdentity(consumer)} ${JSON.stringify(consumer.resolve(key.keyArn))} ${[...producers].sort().join(' ')}`.trimEnd();
}

/** Nested stacks a parameter's value is followed up through, at the most (as lambda/facts.ts believes 16 ancestors). */
const MAX_PARAMETER_HOPS = 16;

/** Where a key ARN given by nested stacks' parameters comes from, when the chain can be followed. */
type Source = { readonly arn: string } | { readonly cfnKey: kms.CfnKey } | undefined;

/**
 * Follows a key ARN given by a nested stack's parameter up to what the parent passes into it, and
 * so on: a literal ARN, or a CfnKey's Arn. Anything else (a parameter of the root, another
 * attribute, a function of several values) is undefined. Only once references are wired (at
 * validation): before, a reference to another stack's resource resolves to that stack's logical
 * ID, which the lookup in the parent could take for one of its own.
 */
function sourceOf(key: kms.IKey, consumer: Stack): Source {
  let stack = consumer;
  let value: unknown = consumer.resolve(key.keyArn);
  for (let hop = 0; hop < MAX_PARAMETER_HOPS; hop++) {
    if (typeof value === 'string') return Token.isUnresolved(value) ? undefined : { arn: value };
    const getAtt = (value as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[1] === 'Arn' && typeof getAtt[0] === 'string') {
      const target = resourceOf(stack, getAtt[0]);
      return isCfnKey(target) ? { cfnKey: target } : undefined;
    }
    const ref = (value as { Ref?: unknown } | undefined)?.Ref;
    const parent = stack.nestedStackParent;
    if (typeof ref !== 'string' || !parent || !stack.nestedStackResource || !isParameterOf(stack, ref)) return undefined;
    const passed = parent.resolve((stack.nestedStackResource as unknown as { parameters?: unknown }).parameters) as Record<string, unknown> | undefined;
    if (!passed || !Object.prototype.hasOwnProperty.call(passed, ref)) return undefined;
    value = passed[ref];
    stack = parent;
  }
  return undefined;
}

/**
 * The key as S9 compares it: `keyIdentity`, except that a key ARN given by a nested stack's
 * parameter is followed up to its source (sourceOf), so that one key reached by a literal ARN in
 * one stack of the tree and by a parameter carrying that ARN in another, or by a parameter
 * carrying a CfnKey's Arn, is one key.
 */
export function sourceIdentity(key: kms.IKey, cfnKey: kms.CfnKey | undefined, consumer: Stack): string {
  if (cfnKey || !Token.isUnresolved(key.keyArn)) return keyIdentity(key, cfnKey, consumer);
  const source = sourceOf(key, consumer);
  if (source && 'arn' in source) return `arn ${source.arn}`;
  if (source) return keyIdentity(key, source.cfnKey, consumer);
  return keyIdentity(key, undefined, consumer);
}

function isParameterOf(stack: Stack, logicalId: string): boolean {
  return stack.node.findAll().some((c) => c instanceof CfnParameter && Stack.of(c) === stack && stack.resolve(c.logicalId) === logicalId);
}

function resourceOf(stack: Stack, logicalId: string): CfnResource | undefined {
  return stack.node.findAll().find((c): c is CfnResource => CfnResource.isCfnResource(c) && Stack.of(c) === stack &&
    stack.resolve(c.logicalId) === logicalId);
}
