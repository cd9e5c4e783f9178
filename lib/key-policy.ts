import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';

/**
 * Whether a same-stack key's policy, as it stands now, already lets the account's IAM policies
 * grant every one of `actions`: an unconditional Allow for the account root principal on "*"
 * whose actions cover them (the default `kms:*` statement of `kms.Key`, or its legacy admin
 * statement, which has `kms:Describe*`, `kms:List*` and `kms:Delete*`). Then the handler's IAM
 * policy is enough and the key policy needs no statement of ours (AWS KMS Developer Guide, "Allows
 * access to the AWS account and enables IAM policies").
 *
 * The policy is read as a `PolicyDocument` (a `kms.Key`'s), as plain JSON (a `CfnKey`'s), or as
 * absent: a `CfnKey` without `KeyPolicy` gets KMS's default key policy, which trusts the account
 * for every action. A token (such as the lazy copy `kms.Key.fromCfnKey` installs) is never
 * resolved here: a cached lazy value resolved now would drop every statement added later.
 *
 * Statements are only ever added to a key's policy, so a trust seen now still holds at
 * synthesis (an escape-hatch override of `KeyPolicy` would replace a statement of ours just the
 * same). Anything this does not recognise (a condition, another account's root, a token) answers
 * false, and the caller adds its own statement: the cost of a wrong "no" is a few hundred
 * template bytes, of a wrong "yes" a handler that cannot revoke.
 */
export function keyPolicyTrustsAccount(cfnKey: kms.CfnKey, actions: readonly string[], key?: kms.IKey): boolean {
  // `kms.Key.fromCfnKey` turns the CfnKey's policy into a PolicyDocument that the returned key
  // holds (and renders lazily into the CfnKey): read that document, not the lazy token.
  const held = (key as { policy?: unknown } | undefined)?.policy;
  const document: unknown = held instanceof iam.PolicyDocument ? held : cfnKey.keyPolicy;
  if (document === undefined) return true;
  // A PolicyDocument is itself resolvable: test for it before testing for a token.
  if (!(document instanceof iam.PolicyDocument) && Token.isUnresolved(document)) return false;
  const rendered = (document instanceof iam.PolicyDocument ? document.toJSON() : document) as { Statement?: StatementJson[] } | undefined;
  if (!Array.isArray(rendered?.Statement)) return false;
  const stack = Stack.of(cfnKey);
  const root = JSON.stringify(stack.resolve(new iam.AccountRootPrincipal().arn));
  return rendered.Statement.some((statement) => trustsRoot(stack, statement, root) && coversAll(statement, actions));
}

/**
 * The account root written out: `arn:PARTITION:iam::ACCOUNT:root` or the bare account ID, for the
 * stack's own account when it is known at synth (a literal for another account trusts that one).
 */
function isLiteralRoot(stack: Stack, principal: unknown): boolean {
  if (typeof principal !== 'string' || Token.isUnresolved(stack.account)) return false;
  return principal === stack.account || new RegExp(`^arn:aws[a-z-]*:iam::${stack.account}:root$`).test(principal);
}

interface StatementJson {
  readonly Effect?: string;
  readonly Principal?: { readonly AWS?: string | string[] } | string;
  readonly Action?: string | string[];
  readonly Resource?: string | string[];
  readonly Condition?: unknown;
  readonly NotAction?: unknown;
  readonly NotPrincipal?: unknown;
  readonly NotResource?: unknown;
}

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : [value].flat());

function trustsRoot(stack: Stack, s: StatementJson, root: string): boolean {
  if (s.Effect !== 'Allow' || s.Condition || s.NotAction || s.NotPrincipal || s.NotResource) return false;
  if (!list(s.Resource).includes('*') || typeof s.Principal !== 'object') return false;
  return list(s.Principal.AWS).some((principal) => JSON.stringify(stack.resolve(principal)) === root || isLiteralRoot(stack, stack.resolve(principal)));
}

/** IAM action patterns: `*` matches any run of characters, `?` one; case-insensitive. */
function coversAll(s: StatementJson, actions: readonly string[]): boolean {
  const patterns = list(s.Action).map((pattern) => new RegExp(
    `^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i'));
  return actions.every((action) => patterns.some((pattern) => pattern.test(action)));
}
