/**
 * The IAM and key policies in force in a stack the engine deploys, derived from its deployed
 * resources (properties as the engine resolved them: Refs, Fn::GetAtt, Fn::Join), and pushed to
 * the KMS double so that it decides AccessDenied as KMS would at that moment of the event sequence.
 *
 * CloudFormation updates IAM policies and key policies in place during the update phase, before
 * any cleanup Delete runs (LIFECYCLE, background facts): a Delete in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS
 * sees the new policies, not those of the template that created the resource it deletes.
 *
 * Modelled:
 * - AWS::IAM::Policy: `Roles` (role names) x `PolicyDocument`;
 * - AWS::IAM::ManagedPolicy: `Roles` (role names) x `PolicyDocument`, and every role whose
 *   `ManagedPolicyArns` names its ARN (the engine makes a managed policy's physical ID its ARN);
 * - AWS::IAM::Role: inline `Policies` ({ PolicyName, PolicyDocument });
 * - AWS::KMS::Key: `KeyPolicy` (none: the double's default key policy);
 * - the handler's principal: the role (`Role` property) of the revocation handler's function.
 * Not modelled: AWS managed policies named in ManagedPolicyArns (e.g. AWSLambdaBasicExecutionRole,
 * which grants no KMS action), users and groups, permissions boundaries, IAM propagation delays.
 *
 * A resource is in force from its CREATE_COMPLETE until its DELETE_COMPLETE. A key that leaves the
 * stack (scheduled for deletion or retained) keeps the last key policy the stack gave it.
 */
import type { CloudFormationDouble } from '../doubles/cloudformation-double';
import { evaluateIdentityAccess, KmsDouble, PolicyDocument } from '../doubles/kms-double';
import { ACCOUNT } from './assembly';
import type { DeployedResource, StackEngine } from './engine';
import { accessKeyIdOf, ROLE_CREDENTIALS } from './lambda-runner';

export interface IamState {
  /** Identity-based policies in force, by role ARN. */
  readonly identityPolicies: Map<string, PolicyDocument[]>;
  /** Key policies by key ARN, for the stack's keys (undefined: the template gives none, KMS's default applies). */
  readonly keyPolicies: Map<string, PolicyDocument | undefined>;
  /** The role ARN of each deployed Lambda function, by logical ID. */
  readonly functionRoles: Map<string, string>;
  /** The role ARN of each deployed Lambda function, by function name (physical ID). */
  readonly functionRolesByName: Map<string, string>;
}

const NOT_IN_FORCE = new Set(['CREATE_IN_PROGRESS', 'CREATE_FAILED', 'DELETE_COMPLETE']);

/** The policies in force among `resources` (an engine's deployed resources). */
export function iamStateOf(resources: Iterable<DeployedResource>): IamState {
  const live = [...resources].filter((r) => !NOT_IN_FORCE.has(r.status));
  const roles = live.filter((r) => r.type === 'AWS::IAM::Role');
  // Policies name roles by name (Ref of a role is its name); a role outside the stack gets its plain ARN.
  const roleArnByName = (name: string): string => roles.find((r) => r.physicalId === name)?.arn ?? `arn:aws:iam::${ACCOUNT}:role/${name}`;

  const identityPolicies = new Map<string, PolicyDocument[]>();
  const attach = (roleArn: string, doc: unknown) => {
    const parsed = documentOf(doc);
    if (!parsed) return;
    identityPolicies.set(roleArn, [...(identityPolicies.get(roleArn) ?? []), parsed]);
  };
  for (const role of roles) identityPolicies.set(role.arn!, []);

  for (const r of live) {
    const p = r.properties ?? {};
    if (r.type === 'AWS::IAM::Policy') {
      for (const name of asStrings(p.Roles)) attach(roleArnByName(name), p.PolicyDocument);
    } else if (r.type === 'AWS::IAM::ManagedPolicy') {
      const attachedTo = new Set(asStrings(p.Roles).map(roleArnByName));
      for (const role of roles) if (asStrings(role.properties?.ManagedPolicyArns).includes(r.physicalId)) attachedTo.add(role.arn!);
      for (const roleArn of attachedTo) attach(roleArn, p.PolicyDocument);
    } else if (r.type === 'AWS::IAM::Role') {
      for (const inline of Array.isArray(p.Policies) ? p.Policies : []) attach(r.arn!, inline?.PolicyDocument);
    }
  }

  const keyPolicies = new Map<string, PolicyDocument | undefined>();
  for (const r of live) {
    if (r.type === 'AWS::KMS::Key' && r.arn) keyPolicies.set(r.arn, documentOf(r.properties?.KeyPolicy));
  }

  const functionRoles = new Map<string, string>();
  const functionRolesByName = new Map<string, string>();
  for (const r of live) {
    if (r.type !== 'AWS::Lambda::Function' || typeof r.properties?.Role !== 'string') continue;
    if (!functionRoles.has(r.logicalId)) functionRoles.set(r.logicalId, r.properties.Role);
    functionRolesByName.set(r.physicalId, r.properties.Role);
  }
  return { identityPolicies, keyPolicies, functionRoles, functionRolesByName };
}

/**
 * Pushes `state` to the KMS double: identity policies replaced wholesale, key policies of the
 * stack's keys set, and the handler's access key mapped to its function's role (once that exists;
 * the mapping stays after the function is gone, like credentials already issued).
 */
export function pushIamState(kms: KmsDouble, state: IamState, handler: { accessKeyId: string; functionLogicalId?: string }): void {
  kms.replaceIdentityPolicies(state.identityPolicies);
  for (const [arn, policy] of state.keyPolicies) if (kms.key(arn)) kms.setKeyPolicy(arn, policy);
  const only = state.functionRoles.size === 1 ? [...state.functionRoles.values()][0] : undefined;
  const roleArn = (handler.functionLogicalId !== undefined ? state.functionRoles.get(handler.functionLogicalId) : undefined) ?? only;
  if (roleArn) kms.setPrincipal(handler.accessKeyId, { account: ACCOUNT, arn: roleArn });
}

/** What enforceIamPolicies needs of a test bed (a TestBed fits). */
export interface PolicyBed {
  readonly engine: StackEngine;
  readonly kms: KmsDouble;
  readonly cfn: CloudFormationDouble;
  readonly stackName: string;
  readonly runner: { readonly spec: { readonly functionName: string } };
}

/**
 * Plays the rest of a bed's life with real policy evaluation: the KMS double evaluates key and IAM
 * policies for the handlers' requests, from what the stacks of the tree have in force at each
 * moment: the root handler's (signed with ROLE_CREDENTIALS) as its function's role, and each
 * nested stack's handler (signed with accessKeyIdOf its function name) as its own function's role.
 * Requests by other access keys (an operator's) stay unaffected.
 */
export function enforceIamPolicies(bed: PolicyBed): void {
  const prefix = `${bed.stackName}-`;
  const functionName = bed.runner.spec.functionName;
  const handler = {
    accessKeyId: ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID,
    functionLogicalId: functionName.startsWith(prefix) ? functionName.slice(prefix.length) : undefined,
  };
  // What is in force, replaced resources not yet deleted included (the old copy of a key policy),
  // in every stack of the tree: a nested handler's role and policies live in its nested stack,
  // the key it revokes may live in the root. The root handler's role is the root stack's function's.
  const sync = () => {
    const tree = iamStateOf(bed.engine.stacks.flatMap((e) => e.inForce()));
    const root = iamStateOf(bed.engine.inForce());
    pushIamState(bed.kms, { ...tree, functionRoles: root.functionRoles }, handler);
    const rootRoles = new Set(root.functionRolesByName.keys());
    for (const [name, roleArn] of tree.functionRolesByName) {
      if (!rootRoles.has(name)) bed.kms.setPrincipal(accessKeyIdOf(name), { account: ACCOUNT, arn: roleArn });
    }
  };
  for (const engine of bed.engine.stacks) engine.resourceListeners.push(sync);
  bed.engine.stackListeners.push((engine) => engine.resourceListeners.push(sync));
  sync();
  bed.kms.enforcePolicies();
  // The handlers' CloudFormation reads, against the same identity policies (S11: every read the
  // handler makes must be one its policy in force at that moment grants).
  bed.cfn.setAccessCheck((accessKeyId, action, stackArn) => {
    const principal = bed.kms.principalOf(accessKeyId);
    if (!principal) return undefined;
    return evaluateIdentityAccess({
      principalArn: principal.arn, principalAccount: principal.account, action, resourceArn: stackArn,
      identityPolicies: bed.kms.identityPoliciesOf(principal.arn),
    });
  });
}

function asStrings(value: unknown): string[] {
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v): v is string => typeof v === 'string');
}

/** A policy document as CloudFormation accepts it: a JSON object, or a JSON string. */
function documentOf(value: unknown): PolicyDocument | undefined {
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as PolicyDocument;
    } catch {
      return undefined;
    }
  }
  return typeof value === 'object' && value !== null ? (value as PolicyDocument) : undefined;
}
