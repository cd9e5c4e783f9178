import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { IConstruct } from 'constructs';

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
  const held = ((key ?? cfnKey.node.tryFindChild('@FromCfnKey')) as { policy?: unknown } | undefined)?.policy;
  const document: unknown = held instanceof iam.PolicyDocument ? held : cfnKey.keyPolicy;
  if (document === undefined) return true;
  // A PolicyDocument is itself resolvable: test for it before testing for a token.
  if (!(document instanceof iam.PolicyDocument) && Token.isUnresolved(document)) return false;
  const rendered = (document instanceof iam.PolicyDocument ? document.toJSON() : document) as { Statement?: StatementJson[] } | undefined;
  if (!Array.isArray(rendered?.Statement)) return false;
  const stack = Stack.of(cfnKey);
  return rendered.Statement.some((statement) => trustsRoot(stack, statement, accountRootOf(stack)) && coversAll(statement, actions));
}

/** The stack's account root principal ARN, resolved (JSON), once per stack: every revocation of a key asks. */
const ACCOUNT_ROOTS = new WeakMap<Stack, string>();
function accountRootOf(stack: Stack): string {
  let root = ACCOUNT_ROOTS.get(stack);
  if (root === undefined) {
    root = JSON.stringify(stack.resolve(new iam.AccountRootPrincipal().arn));
    ACCOUNT_ROOTS.set(stack, root);
  }
  return root;
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
  return list(s.Principal.AWS).some((principal) => {
    const resolved: unknown = stack.resolve(principal);
    return JSON.stringify(resolved) === root || isLiteralRoot(stack, resolved);
  });
}

/** IAM action patterns: `*` matches any run of characters, `?` one; case-insensitive. */
function coversAll(s: StatementJson, actions: readonly string[]): boolean {
  const patterns = list(s.Action).map((pattern) => new RegExp(
    `^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i'));
  return actions.every((action) => patterns.some((pattern) => pattern.test(action)));
}

/**
 * Adds a statement to the key policy of a key defined in the app, and says whether it could.
 * Through the object the user passed when it holds the policy (`kms.Key`, `kms.Key.fromCfnKey`);
 * otherwise (a key given by `fromKeyArn(scope, id, cfnKey.attrArn)`, or none) through the
 * CfnKey's own `kms.Key`, a `PolicyDocument` set on the CfnKey, or `kms.Key.fromCfnKey` for a
 * plain JSON policy (which it makes editable).
 */
export function addToKeyPolicy(key: kms.IKey | undefined, cfnKey: kms.CfnKey, statement: iam.PolicyStatement,
  options: { readonly keepJson?: boolean } = {}): boolean {
  if (key?.addToResourcePolicy(statement).statementAdded) return true;
  const owner = cfnKey.node.scope as Partial<kms.IKey> | undefined;
  if (owner?.node?.defaultChild === cfnKey && typeof owner.addToResourcePolicy === 'function'
    && owner.addToResourcePolicy(statement).statementAdded) return true;
  const document: unknown = cfnKey.keyPolicy;
  if (document instanceof iam.PolicyDocument) {
    document.addStatements(statement);
    return true;
  }
  const plainJson = typeof document === 'object' && document !== null && !Token.isUnresolved(document) && !cfnKey.node.tryFindChild('@FromCfnKey');
  if (options.keepJson && plainJson) {
    // The user's JSON as written (its Id, its one-element arrays), with the statement appended.
    const json = document as { Statement?: unknown };
    cfnKey.keyPolicy = { ...json, Statement: [...(json.Statement === undefined ? [] : [json.Statement].flat()), statement.toStatementJson()] };
    return true;
  }
  // fromCfnKey parses the policy and replaces it by an editable copy: only for plain JSON (or when
  // it already did so), never over a token it would misread as an empty policy.
  if (cfnKey.node.tryFindChild('@FromCfnKey') || plainJson) {
    try {
      return kms.Key.fromCfnKey(cfnKey).addToResourcePolicy(statement).statementAdded;
    } catch {
      // A policy with CloudFormation functions cannot be parsed.
    }
  }
  return false;
}

/**
 * The context key that turns `throughIamStatement` off for a stack's keys no revocation names
 * (`false`): for key policies that must keep every IAM policy out, the handler's role's included,
 * at the price of L9 and L12 for such keys (an update that points a revocation away from one, or
 * removes it with revokeOnRemoval, while the key stays, cannot revoke it in its cleanup).
 */
export const FORMER_KEYS_THROUGH_IAM_CONTEXT = 'cdk-kms-key-material:formerKeysThroughIam';

/** Whether the app leaves `throughIamStatement` on (the default). */
export function formerKeysThroughIam(scope: IConstruct): boolean {
  const value: unknown = scope.node.tryGetContext(FORMER_KEYS_THROUGH_IAM_CONTEXT);
  return !(value === false || value === 'false');
}

/** Whether a key's rendered policy has `throughIamStatement` for this role (rendered: only at validation). */
export function hasThroughIamStatement(policy: unknown, role: iam.IRole): boolean {
  const statements = (policy as { Statement?: unknown } | undefined)?.Statement;
  const roleArn = JSON.stringify(Stack.of(role).resolve(role.roleArn));
  return [statements ?? []].flat().some((st) =>
    JSON.stringify((st as { Condition?: { ArnEquals?: Record<string, unknown> } }).Condition?.ArnEquals?.['aws:PrincipalArn']) === roleArn);
}

/**
 * The statement that keeps a key reachable by the handler after no revocation names it any more,
 * for a key whose policy does not trust the account. It lets IAM policies grant `actions` to the
 * handler's role alone (the account root as principal, narrowed by `aws:PrincipalArn`), and grants
 * nothing by itself: only the handler's key policies (AWS::IAM::ManagedPolicy, replaced and never
 * updated when their key list changes) name keys. A key that a revocation named in the previous
 * deployment stays in the old one until the cleanup phase ends, so the cleanup Delete that revokes
 * it (LIFECYCLE L9, L12) is allowed, although CloudFormation already gave the key its new policy in
 * the update phase (AWS KMS Developer Guide, "Allows access to the AWS account and enables IAM
 * policies"; IAM User Guide, global condition key aws:PrincipalArn: for a role session, the role's ARN).
 */
export function throughIamStatement(role: iam.IRole, actions: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'KeyMaterialRevocationHandlerThroughIam',
    principals: [new iam.AccountRootPrincipal()],
    actions: [...actions],
    resources: ['*'],
    conditions: { ArnEquals: { 'aws:PrincipalArn': role.roleArn } },
  });
}
