/**
 * A small CloudFormation for the test bed: deploys synthesized templates the way CloudFormation
 * does for the resources that matter here, and sends the revocation resources the same event
 * sequences, through the real handler bundle run by LambdaRunner:
 *
 * - create: resources in dependency order; a failure rolls back (ROLLBACK_IN_PROGRESS) and deletes
 *   what was created, including a Delete for a custom resource whose own Create failed. With
 *   `onFailure: 'DELETE'` the failed create is deleted without a rollback status; with
 *   `disableRollback` it stays CREATE_FAILED until `deleteStack()` or `rollbackStack()`;
 * - update: Create for new resources, Update for changed ones (a new physical ID is a replacement);
 *   on success the new template is in place and the cleanup (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS)
 *   deletes replaced and removed resources; on failure the rollback sends Updates with the
 *   properties swapped (UPDATE_ROLLBACK_IN_PROGRESS) and deletes what the update created
 *   (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS). A rollback that fails stops in
 *   UPDATE_ROLLBACK_FAILED until `continueUpdateRollback({ resourcesToSkip })`;
 * - delete: everything in reverse dependency order, independent resources at once;
 * - nested stacks (AWS::CloudFormation::Stack, CDK NestedStack): a child StackEngine per nested
 *   stack, with its own stack ID, ParentId/RootId, parameters, outputs and functions (see below);
 * - `cdkRedeploy`: the CDK CLI's delete-before-redeploy of a stack that failed creation;
 * - `refactor`: stack refactoring renames logical IDs without sending any resource an event.
 *
 * The stack's status, template, parameters, outputs, resources and events are kept in the
 * CloudFormation double at every step, so the handler's DescribeStacks / DescribeStackEvents /
 * GetTemplate / ListStackResources see what they would in AWS. Every stack status change and every
 * resource status change is recorded as a stack event (a stack-level event has the stack name as
 * LogicalResourceId, the stack ID as PhysicalResourceId and ResourceType AWS::CloudFormation::Stack:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackEvent.html; that the
 * PhysicalResourceId is the stack ID is what the CDK CLI relies on, isRootStackEvent in
 * https://github.com/aws/aws-cdk-cli/blob/main/packages/@aws-cdk/toolkit-lib/lib/util/cloudformation.ts).
 * AWS::KMS::Key resources live in the KMS double (created PendingImport when Origin is EXTERNAL,
 * scheduled for deletion unless their DeletionPolicy is Retain).
 *
 * Event orders modelled, with their sources (GUESS where the documentation is silent):
 *
 * Nested stacks (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-stack.html):
 * - a nested stack is a resource of its parent: created in the parent's create (or update) in
 *   dependency order, its name `<parent name>-<logical ID>-<random>`, ParentId the parent's stack
 *   ID, RootId the top-level stack's (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html).
 *   Parameters come from the resource's `Parameters`; `Fn::GetAtt [Nested, Outputs.X]` reads its outputs.
 * - a nested stack whose own create fails rolls itself back (ROLLBACK_IN_PROGRESS ->
 *   ROLLBACK_COMPLETE), its resource in the parent is CREATE_FAILED and fails the parent, which then
 *   deletes it (GUESS: observed event logs, not documented). With the root's rollback disabled, the
 *   whole tree keeps its failed state (GUESS).
 * - the parent's create rollback deletes nested stacks it created: nested DELETE_IN_PROGRESS while
 *   the parent is ROLLBACK_IN_PROGRESS (documented for resources in general, "Any resources that
 *   were created during the create stack action are deleted"; the nested status is a GUESS, see
 *   https://github.com/localstack/localstack/issues/10826).
 * - every parent update "initiates an update to its nested stacks" (aws-resource-cloudformation-stack.html):
 *   each nested stack still in the template goes UPDATE_IN_PROGRESS in the parent's update phase;
 *   one whose update succeeded WAITS in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, because "CloudFormation
 *   doesn't start cleaning up nested stack resources until all nested stacks have been updated or
 *   have rolled back" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html#troubleshooting-errors-nested-stacks-are-stuck).
 *   Order of the cleanup (GUESS, the interleaving is not documented): the root goes
 *   UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, then every waiting nested stack cleans up (depth first:
 *   a nested stack's own nested stacks before its own deletes) and goes UPDATE_COMPLETE, then the
 *   root deletes its own replaced and removed resources -- removed or renamed nested stacks go
 *   DELETE_IN_PROGRESS here -- and goes UPDATE_COMPLETE.
 * - a parent update that fails rolls back the nested stacks it updated: nested
 *   UPDATE_ROLLBACK_IN_PROGRESS during the parent's UPDATE_ROLLBACK_IN_PROGRESS, then the nested
 *   stack waits in UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS; the parent's rollback cleanup
 *   cleans up the waiting nested stacks first, then deletes what the failed update created: a nested
 *   stack ADDED by the failed update goes DELETE_IN_PROGRESS while the parent is
 *   UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS (troubleshooting.html above; order GUESS). A nested
 *   stack whose own update fails rolls itself back at once, then waits the same way (GUESS).
 * - deleting a stack deletes its nested stacks in reverse dependency order: nested
 *   DELETE_IN_PROGRESS while the root is DELETE_IN_PROGRESS.
 *
 * Failure modes:
 * - CreateStack `OnFailure=DELETE` / CreateChangeSet `OnStackFailure=DELETE`
 *   (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html,
 *   https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html):
 *   CREATE_IN_PROGRESS -> DELETE_IN_PROGRESS -> DELETE_COMPLETE, no ROLLBACK_* status (GUESS, strong
 *   public evidence: https://github.com/oss-serverless/osls/pull/169). "For nested stacks, when
 *   OnStackFailure is DELETE for the parent's change set, any failure in a child stack will cause
 *   the parent stack creation to fail and all stacks to be deleted."
 * - `disableRollback` (DisableRollback / OnFailure=DO_NOTHING / `cdk deploy --no-rollback`): a failed
 *   create stays CREATE_FAILED, a failed update UPDATE_FAILED, resources kept
 *   (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html).
 *   `rollbackStack()` (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackStack.html):
 *   CREATE_FAILED -> ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE (GUESS: the docs say it "will delete a
 *   stack if it doesn't contain a last known stable state"); UPDATE_FAILED -> the update rollback.
 * - `cdkRedeploy`: the CDK CLI deletes a ROLLBACK_COMPLETE or ROLLBACK_FAILED stack
 *   (`isCreationFailure`) before it deploys again, then creates a new stack of the same name, with a
 *   new stack ID ("Found existing stack ... that had previously failed creation. Deleting it before
 *   attempting to re-create it.": https://github.com/aws/aws-cdk-cli/blob/main/packages/@aws-cdk/toolkit-lib/lib/api/deployments/deploy-stack.ts,
 *   also in node_modules/aws-cdk 2.1148.1). A CREATE_FAILED stack is updated in place instead.
 * - `continueUpdateRollback({ resourcesToSkip })`
 *   (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html):
 *   only from UPDATE_ROLLBACK_FAILED; skipped resources are marked UPDATE_COMPLETE (one stack event)
 *   and receive no request, neither in the rest of the rollback nor in its cleanup; a skipped
 *   resource that was replaced keeps its new physical resource (GUESS). Nested resources as
 *   `NestedLogicalId.ResourceLogicalId`.
 * - `refactor(renames)` (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-refactoring.html):
 *   logical IDs change in the template and the live resources, references follow, properties do not
 *   change; no resource receives any request (GUESS, strong: refactoring forbids creating, deleting
 *   or reconfiguring resources). The stack goes UPDATE_IN_PROGRESS -> UPDATE_COMPLETE (GUESS).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { CloudFormationDouble } from '../doubles/cloudformation-double';
import { KmsDouble } from '../doubles/kms-double';
import { CapturedResponse, ResponseRecorder } from '../support/response-server';
import { ACCOUNT, REGION, Template, TemplateResource } from './assembly';
import { InvocationResult, LambdaRunner } from './lambda-runner';

export const REVOCATION_TYPE = 'Custom::KmsKeyMaterialRevocation';
export const NESTED_STACK_TYPE = 'AWS::CloudFormation::Stack';

/**
 * Resource types CloudFormation hands to a custom resource provider (the function in ServiceToken):
 * `Custom::*` and `AWS::CloudFormation::CustomResource`. The engine sends them all the same event
 * sequences through the runner (the benchmarks drive aws-cdk-lib's `Custom::AWS` this way).
 */
export function isCustomResourceType(type: string): boolean {
  return type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';
}

export interface DeployedResource {
  readonly logicalId: string;
  readonly type: string;
  physicalId: string;
  /** Properties as CloudFormation resolved them at the last create or update. */
  properties: Record<string, any>;
  status: string;
  /** Attributes for Fn::GetAtt (Arn). */
  arn?: string;
  /** For an AWS::CloudFormation::Stack: the nested stack. */
  nested?: StackEngine;
  /** When its status last changed (ListStackResources LastUpdatedTimestamp). */
  lastUpdated?: Date;
}

export interface TimelineEntry {
  readonly at: number;
  /** Status of the stack the entry belongs to (for a nested stack: its own status). */
  readonly stackStatus: string;
  readonly action: string;
  readonly logicalId: string;
  readonly requestType?: string;
  readonly physicalId?: string;
  readonly responseStatus?: 'SUCCESS' | 'FAILED' | 'NO RESPONSE';
  readonly reason?: string;
  /** The handler's decision log line. */
  readonly decision?: Record<string, any>;
  readonly invocation?: InvocationResult;
  /** The answer PUT to the ResponseURL, as received (raw body included), when there was one. */
  readonly response?: CapturedResponse;
  readonly detail?: string;
  /** The stack the entry belongs to (its name and ID); the root's for a stack without nesting. */
  readonly stackName?: string;
  readonly stackId?: string;
  /** For a nested stack: the root stack's status at that moment. */
  readonly rootStatus?: string;
  /** The function that served the request (its name, i.e. physical ID, and where it is defined). */
  readonly function?: { readonly name: string; readonly logicalId: string; readonly stackName: string };
}

/** A Lambda function deployed by some stack of the tree, as a custom resource's ServiceToken names it. */
export interface DeployedFunction {
  readonly stack: StackEngine;
  readonly logicalId: string;
  /** The function name (its physical ID). */
  readonly name: string;
  readonly arn: string;
  /** Its properties as resolved (Code, Handler, Runtime, Environment, ...). */
  readonly properties: Record<string, any>;
}

type Invoker = Pick<LambdaRunner, 'invoke'> & Partial<Pick<LambdaRunner, 'useEnvironment'>>;

export interface EngineOptions {
  readonly kms: KmsDouble;
  readonly cfn: CloudFormationDouble;
  readonly responses: ResponseRecorder;
  /** Runs the function: a LambdaRunner, or anything that invokes like one (the benchmarks' sandboxes). */
  readonly runner: Invoker;
  /**
   * The runner of a given function (one per nested stack's handler: LIFECYCLE S11); undefined
   * means `runner`. Without it every function of the tree is played by `runner`.
   */
  readonly runnerFor?: (fn: DeployedFunction) => Invoker | undefined;
  /** A nested stack's template by its TemplateURL (the cloud assembly's asset). Needed for nested stacks. */
  readonly nestedTemplate?: (templateUrl: string) => Template;
  readonly stackName: string;
  readonly parameters?: Record<string, string>;
  /** Called when an AWS::KMS::Key is created: import material here, as a user would after deploy. */
  readonly onKeyCreated?: (logicalId: string, keyArn: string) => void;
}

export interface DeployOptions {
  /**
   * A resource in the template that CloudFormation fails on (after the others of its wave). A
   * resource of a nested stack as `NestedLogicalId/ResourceLogicalId`.
   */
  readonly failOn?: string;
  /** A resource whose update rollback fails (once): the stack stops in UPDATE_ROLLBACK_FAILED. */
  readonly failRollbackOn?: string;
  /** A resource whose deletion fails (once) in a rollback or stack deletion that follows. */
  readonly failDeleteOn?: string;
}

export interface CreateOptions extends DeployOptions {
  /** CreateStack OnFailure (CreateChangeSet OnStackFailure). Default ROLLBACK. */
  readonly onFailure?: 'ROLLBACK' | 'DELETE' | 'DO_NOTHING';
  /** CreateStack DisableRollback (`cdk deploy --no-rollback`): same as onFailure DO_NOTHING. */
  readonly disableRollback?: boolean;
}

export interface UpdateOptions extends DeployOptions {
  /** `cdk deploy --no-rollback`: a failed update stays UPDATE_FAILED until rollbackStack(). */
  readonly disableRollback?: boolean;
  /** New parameter values (UpdateStack Parameters); the others keep theirs (UsePreviousValue). */
  readonly parameters?: Record<string, string>;
}

type Step = 'create' | 'update' | 'delete' | 'rollback' | 'refactor';

/** What an update did, kept until its cleanup: for the rollback, and for a nested stack that waits. */
interface PendingUpdate {
  readonly oldTemplate: Template;
  readonly newTemplate: Template;
  readonly oldParameters: Record<string, string>;
  readonly created: string[];
  readonly updated: Array<{ logicalId: string; before: DeployedResource }>;
  readonly replacedOld: DeployedResource[];
  readonly rollbackReplaced: DeployedResource[];
  readonly rolledBack: Set<string>;
  readonly skipped: Set<string>;
  readonly options: DeployOptions;
  rollbackFailedOnce: boolean;
  phase: 'cleanup' | 'rollback' | 'rollback-cleanup';
}

/** State shared by every stack of one tree (root and nested stacks). */
interface Tree {
  readonly timeline: TimelineEntry[];
  readonly keysCreated: Map<string, string>;
  readonly scheduledKeyDeletions: Array<{ arn: string; at: number }>;
  readonly engines: StackEngine[];
  readonly stackListeners: Array<(engine: StackEngine) => void>;
  /** The root's current operation disables rollback (the setting applies to the whole tree: GUESS). */
  rollbackDisabled: boolean;
  /** The root's create has OnFailure=DELETE. */
  deleteOnFailure: boolean;
  /** Resources whose deletion is to fail once more (failDeleteOn), by `stackId#logicalId`. */
  readonly failDeletes: Set<string>;
}

const ROLLBACK_STATUSES_AFTER_CREATE = new Set(['ROLLBACK_COMPLETE', 'ROLLBACK_FAILED']);

export class StackEngine {
  status = 'REVIEW_IN_PROGRESS';
  /** The reason given with the last stack status change. */
  statusReason?: string;
  template: Template = { Resources: {} };
  readonly resources = new Map<string, DeployedResource>();
  /** Every entry of the tree (root and nested stacks share one timeline). */
  readonly timeline: TimelineEntry[];
  /** Every key the tree ever created, by logical ID (kept after the key leaves the stack). */
  readonly keysCreated: Map<string, string>;
  /** Key ARNs scheduled for deletion, in order, with when: L13 checks revocation came first. */
  readonly scheduledKeyDeletions: Array<{ arn: string; at: number }>;
  /** Called after every change to the deployed resources (iam-state.ts pushes the IAM and key policies in force to KMS). */
  readonly resourceListeners: Array<(resources: ReadonlyMap<string, DeployedResource>) => void> = [];
  /** The nested stack's parent, and its logical ID there. */
  readonly parent?: StackEngine;
  readonly logicalIdInParent?: string;
  /** The stack's parameters (a nested stack's come from its resource's Parameters). */
  parameters: Record<string, string>;
  /** Its outputs, resolved at the end of a create or update phase. */
  outputs: Record<string, string> = {};
  private currentStackId: string;
  private currentStackName: string;
  private registered = false;
  private pending?: PendingUpdate;
  private readonly tree: Tree;

  constructor(private readonly o: EngineOptions, nesting?: { parent: StackEngine; logicalId: string }) {
    this.parent = nesting?.parent;
    this.logicalIdInParent = nesting?.logicalId;
    this.tree = nesting?.parent.tree ?? {
      timeline: [], keysCreated: new Map(), scheduledKeyDeletions: [], engines: [], stackListeners: [],
      rollbackDisabled: false, deleteOnFailure: false, failDeletes: new Set(),
    };
    this.timeline = this.tree.timeline;
    this.keysCreated = this.tree.keysCreated;
    this.scheduledKeyDeletions = this.tree.scheduledKeyDeletions;
    this.parameters = { ...(o.parameters ?? {}) };
    this.currentStackName = o.stackName;
    this.currentStackId = newStackId(o.stackName);
    this.tree.engines.push(this);
    if (this.parent) for (const listener of this.tree.stackListeners) listener(this);
  }

  /** The stack ID (ARN). A `cdkRedeploy` of a stack that failed creation gives the stack a new one. */
  get stackId(): string {
    return this.currentStackId;
  }

  get stackName(): string {
    return this.currentStackName;
  }

  get root(): StackEngine {
    return this.parent ? this.parent.root : this;
  }

  /** Every stack of the tree ever created (root first), live or deleted. */
  get stacks(): readonly StackEngine[] {
    return this.tree.engines;
  }

  /** Called with every nested stack of the tree when it is created (e.g. to add resource listeners). */
  get stackListeners(): Array<(engine: StackEngine) => void> {
    return this.tree.stackListeners;
  }

  /**
   * The nested stack of this stack whose logical ID starts with `prefix` (live, else the last
   * deleted one); a path `A/B` descends.
   */
  nested(prefix: string): StackEngine {
    const [first, ...rest] = prefix.split('/');
    const live = [...this.resources.values()].find((r) => r.nested && r.logicalId.startsWith(first))?.nested;
    const found = live ?? [...this.tree.engines].reverse().find((e) => e.parent === this && e.logicalIdInParent!.startsWith(first));
    if (!found) throw new Error(`${this.stackName} has no nested stack whose logical ID starts with ${first}`);
    return rest.length ? found.nested(rest.join('/')) : found;
  }

  /** Revocation entries of the timeline (the handler's answers), of the whole tree. */
  get answers(): TimelineEntry[] {
    return this.timeline.filter((e) => e.requestType !== undefined);
  }

  /** Answers of this stack only. */
  get ownAnswers(): TimelineEntry[] {
    return this.answers.filter((e) => e.stackId === this.stackId);
  }

  async create(template: Template, options: CreateOptions = {}): Promise<string> {
    if (!this.parent) {
      this.tree.rollbackDisabled = !!options.disableRollback || options.onFailure === 'DO_NOTHING';
      this.tree.deleteOnFailure = options.onFailure === 'DELETE';
    }
    this.template = template;
    this.setStatus('CREATE_IN_PROGRESS', this.parent ? undefined : 'User Initiated');
    this.syncTemplate(template);
    const created: string[] = [];
    const failed = await this.createResources(template, Object.keys(template.Resources), created, options, 'create');
    if (!failed) {
      this.resolveOutputs();
      this.setStatus('CREATE_COMPLETE');
      return this.status;
    }
    const reason = `The following resource(s) failed to create: [${failed}].`;
    if (this.tree.rollbackDisabled) {
      this.setStatus('CREATE_FAILED', reason);
      return this.status;
    }
    if (this.tree.deleteOnFailure && !this.parent) {
      this.setStatus('DELETE_IN_PROGRESS', `${reason} Delete requested by user.`);
      const ok = await this.deleteResources(created.reverse(), template, options);
      this.setStatus(ok ? 'DELETE_COMPLETE' : 'DELETE_FAILED');
      return this.status;
    }
    this.setStatus('ROLLBACK_IN_PROGRESS', `${reason} Rollback requested by user.`);
    const ok = await this.deleteResources(created.reverse(), template, options);
    this.setStatus(ok ? 'ROLLBACK_COMPLETE' : 'ROLLBACK_FAILED');
    return this.status;
  }

  async update(newTemplate: Template, options: UpdateOptions = {}): Promise<string> {
    if (this.parent) throw new Error('update a nested stack through its root');
    this.tree.rollbackDisabled = !!options.disableRollback;
    if (await this.updatePhase(newTemplate, options)) {
      await this.cleanupPhase();
      return this.status;
    }
    if (options.disableRollback) {
      this.setStatus('UPDATE_FAILED');
      return this.status;
    }
    if (await this.rollbackPhase()) await this.cleanupPhase();
    return this.status;
  }

  async deleteStack(options: DeployOptions = {}): Promise<string> {
    this.setStatus('DELETE_IN_PROGRESS', this.parent ? undefined : 'User Initiated');
    this.pending = undefined;
    const ok = await this.deleteResources([...this.resources.keys()], this.template, options);
    this.setStatus(ok ? 'DELETE_COMPLETE' : 'DELETE_FAILED');
    return this.status;
  }

  /** RollbackStack: a CREATE_FAILED or UPDATE_FAILED stack (rollback disabled) rolls back now. */
  async rollbackStack(): Promise<string> {
    if (this.status === 'CREATE_FAILED') {
      this.setStatus('ROLLBACK_IN_PROGRESS', 'User Initiated');
      const ok = await this.deleteResources([...this.resources.keys()], this.template, {});
      this.setStatus(ok ? 'ROLLBACK_COMPLETE' : 'ROLLBACK_FAILED');
      return this.status;
    }
    if (this.status === 'UPDATE_FAILED' && this.pending) {
      if (await this.rollbackPhase()) await this.cleanupPhase();
      return this.status;
    }
    throw new Error(`RollbackStack: ${this.stackName} is ${this.status}, not CREATE_FAILED or UPDATE_FAILED`);
  }

  /** ContinueUpdateRollback: resumes a failed update rollback, skipping the named resources. */
  async continueUpdateRollback(options: { resourcesToSkip?: string[] } = {}): Promise<string> {
    if (this.status !== 'UPDATE_ROLLBACK_FAILED' || !this.pending) {
      throw new Error(`ContinueUpdateRollback: ${this.stackName} is ${this.status}, not UPDATE_ROLLBACK_FAILED`);
    }
    for (const id of options.resourcesToSkip ?? []) {
      const [first, rest] = id.includes('.') ? [id.slice(0, id.indexOf('.')), id.slice(id.indexOf('.') + 1)] : [id, undefined];
      if (rest !== undefined) {
        const child = this.resources.get(first)?.nested;
        if (!child?.pending) throw new Error(`ContinueUpdateRollback: ${first} is not a nested stack being rolled back`);
        child.skip(rest);
      } else {
        this.skip(first);
      }
    }
    if (await this.rollbackPhase()) await this.cleanupPhase();
    return this.status;
  }

  /**
   * The CDK CLI's deploy: a stack that failed creation (ROLLBACK_COMPLETE or ROLLBACK_FAILED) is
   * deleted first, then created anew with the same name and a new stack ID; otherwise created
   * (no stack yet) or updated.
   */
  async cdkRedeploy(template: Template, options: CreateOptions = {}): Promise<string> {
    if (ROLLBACK_STATUSES_AFTER_CREATE.has(this.status)) {
      this.note('delete', this.stackName, `cdk deploy: found existing stack ${this.stackName} that had previously failed creation (${this.status}); deleting it before attempting to re-create it`);
      await this.deleteStack();
      if (this.status !== 'DELETE_COMPLETE') {
        throw new Error(`Failed deleting stack ${this.stackName} that had previously failed creation (current state: ${this.status})`);
      }
    }
    if (this.status === 'DELETE_COMPLETE' || !this.registered) {
      if (this.registered) this.startOver();
      return this.create(template, options);
    }
    return this.update(template, options);
  }

  /**
   * Stack refactoring: renames logical IDs (old -> new) in the template and the live resources;
   * references follow; nothing is sent to any resource.
   */
  async refactor(renames: Record<string, string>): Promise<string> {
    if (this.pending) throw new Error('refactor: the stack has an update in progress');
    for (const [from, to] of Object.entries(renames)) {
      if (!this.resources.has(from)) throw new Error(`refactor: ${from} is not a live resource of ${this.stackName}`);
      if (this.resources.has(to) || to in this.template.Resources) throw new Error(`refactor: ${to} already exists in ${this.stackName}`);
    }
    this.setStatus('UPDATE_IN_PROGRESS', 'Stack refactor');
    const renamed = new Map<string, DeployedResource>();
    for (const [id, r] of this.resources) {
      const to = renames[id];
      renamed.set(to ?? id, to ? { ...r, logicalId: to } : r);
      if (to) {
        this.note('refactor', to, `renamed from ${id} by stack refactoring (no event sent)`);
        const keyArn = this.keysCreated.get(id);
        if (keyArn) this.keysCreated.set(to, keyArn);
      }
    }
    this.resources.clear();
    for (const [id, r] of renamed) this.resources.set(id, r);
    this.template = renameLogicalIds(this.template, renames);
    this.syncTemplate(this.template);
    this.syncResources();
    this.setStatus('UPDATE_COMPLETE');
    return this.status;
  }

  /**
   * Stack refactoring across stacks: moves live resources (old logical ID -> new) from this stack
   * into `target` ("you can move resources between stacks ... Resources can be moved between
   * nested stacks", CloudFormation User Guide, stack-refactoring.html), their template entries
   * with them; nothing is sent to any resource, and references that now cross stacks are left as
   * they were in the source template (the next update replaces them). Both stacks go
   * UPDATE_IN_PROGRESS -> UPDATE_COMPLETE (GUESS, as for refactor()).
   */
  async refactorInto(target: StackEngine, moves: Record<string, string>): Promise<void> {
    for (const engine of [this, target]) if (engine.pending) throw new Error(`refactorInto: ${engine.stackName} has an update in progress`);
    for (const [from, to] of Object.entries(moves)) {
      if (!this.resources.has(from)) throw new Error(`refactorInto: ${from} is not a live resource of ${this.stackName}`);
      if (target.resources.has(to) || to in target.template.Resources) throw new Error(`refactorInto: ${to} already exists in ${target.stackName}`);
    }
    for (const engine of [this, target]) engine.setStatus('UPDATE_IN_PROGRESS', 'Stack refactor');
    const source = { ...this.template, Resources: { ...this.template.Resources } };
    const into = { ...target.template, Resources: { ...target.template.Resources } };
    for (const [from, to] of Object.entries(moves)) {
      target.resources.set(to, { ...this.resources.get(from)!, logicalId: to });
      this.resources.delete(from);
      into.Resources[to] = source.Resources[from];
      delete source.Resources[from];
      target.note('refactor', to, `moved from ${this.stackName} (${from}) by stack refactoring (no event sent)`);
      const keyArn = this.keysCreated.get(from);
      if (keyArn) target.keysCreated.set(to, keyArn);
    }
    this.template = source;
    target.template = into;
    for (const engine of [this, target]) {
      engine.syncTemplate(engine.template);
      engine.syncResources();
      engine.setStatus('UPDATE_COMPLETE');
    }
  }

  /** The handler's decision line of the last answer for a logical ID (in any stack of the tree). */
  lastAnswer(logicalId: string): TimelineEntry | undefined {
    return [...this.answers].reverse().find((e) => e.logicalId === logicalId);
  }

  // ---------------------------------------------------------------------------------------------

  /** The update phase: Create/Update of every resource. True when it succeeded (the stack then waits for its cleanup). */
  private async updatePhase(newTemplate: Template, options: DeployOptions): Promise<boolean> {
    const p: PendingUpdate = {
      oldTemplate: this.template, newTemplate, oldParameters: { ...this.parameters },
      created: [], updated: [], replacedOld: [], rollbackReplaced: [], rolledBack: new Set(), skipped: new Set(),
      options, rollbackFailedOnce: false, phase: 'cleanup',
    };
    this.pending = p;
    const given = (options as UpdateOptions).parameters;
    if (given) this.parameters = { ...this.parameters, ...given };
    this.setStatus('UPDATE_IN_PROGRESS', this.parent ? undefined : 'User Initiated');
    for (const wave of waves(newTemplate, Object.keys(newTemplate.Resources))) {
      const results = await Promise.all(wave.map(async (logicalId) => {
        const def = newTemplate.Resources[logicalId];
        const existing = this.resources.get(logicalId);
        if (!existing || existing.type !== def.Type) {
          if (existing) p.replacedOld.push(existing);
          p.created.push(logicalId);
          return this.createOne(logicalId, def, 'update', options);
        }
        if (existing.nested) return this.updateNested(existing, def, p, options);
        const props = this.resolve(def.Properties ?? {});
        if (JSON.stringify(props) === JSON.stringify(existing.properties)) return true;
        if (replacedByUpdate(existing.type, existing.properties, props)) {
          // A new physical resource now; the old one stays in force until the cleanup deletes it.
          p.replacedOld.push({ ...existing });
          return this.createOne(logicalId, def, 'update', options);
        }
        p.updated.push({ logicalId, before: { ...existing } });
        return this.updateOne(existing, props, p.replacedOld);
      }));
      const injected = ownFailOn(options.failOn);
      if (injected && wave.includes(injected)) {
        this.note('update', injected, 'resource failed (injected by the scenario)');
        const r = this.resources.get(injected);
        if (r) this.setResourceStatus(r, p.created.includes(injected) ? 'CREATE_FAILED' : 'UPDATE_FAILED', 'Resource failed (injected by the scenario)');
        return false;
      }
      if (results.includes(false)) return false;
    }
    this.template = newTemplate;
    this.syncTemplate(newTemplate);
    this.resolveOutputs();
    this.setStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    return true;
  }

  /** A nested stack still in the template: its own update, in the parent's update phase. */
  private async updateNested(existing: DeployedResource, def: TemplateResource, p: PendingUpdate,
    options: DeployOptions): Promise<boolean> {
    const props = this.resolve(def.Properties ?? {});
    const child = existing.nested!;
    p.updated.push({ logicalId: existing.logicalId, before: { ...existing } });
    this.setResourceStatus(existing, 'UPDATE_IN_PROGRESS');
    child.parameters = parametersOf(props);
    const ok = await child.updatePhase(this.nestedTemplateOf(props), nestedOptions(options, existing.logicalId));
    if (!ok) {
      if (this.tree.rollbackDisabled) child.setStatus('UPDATE_FAILED');
      else await child.rollbackPhase();
    }
    existing.properties = props;
    this.setResourceStatus(existing, ok ? 'UPDATE_COMPLETE' : 'UPDATE_FAILED',
      ok ? undefined : `Embedded stack ${child.stackId} was not successfully updated. Currently, CloudFormation is rolling it back.`);
    return ok;
  }

  /** The update rollback phase. False when it failed (UPDATE_ROLLBACK_FAILED). */
  private async rollbackPhase(): Promise<boolean> {
    const p = this.pending!;
    p.phase = 'rollback';
    this.setStatus('UPDATE_ROLLBACK_IN_PROGRESS', this.parent ? undefined : 'The following resource(s) failed to update. Rollback requested by user.');
    for (const { logicalId, before } of [...p.updated].reverse()) {
      if (p.rolledBack.has(logicalId) || p.skipped.has(logicalId)) continue;
      const current = this.resources.get(logicalId)!;
      if (p.options.failRollbackOn === logicalId && !p.rollbackFailedOnce) {
        p.rollbackFailedOnce = true;
        this.note('rollback', logicalId, 'rollback of the resource failed (injected by the scenario): no request was delivered');
        this.setResourceStatus(current, 'UPDATE_FAILED', 'Rollback failed (injected by the scenario)');
        this.setStatus('UPDATE_ROLLBACK_FAILED', `The following resource(s) failed to update: [${logicalId}].`);
        return false;
      }
      let ok = true;
      if (current.nested) {
        const child = current.nested;
        if (child.pending && child.pending.phase !== 'rollback-cleanup') {
          this.setResourceStatus(current, 'UPDATE_IN_PROGRESS');
          ok = await child.rollbackPhase();
        }
        current.properties = before.properties;
        child.parameters = parametersOf(before.properties);
        if (ok) this.setResourceStatus(current, 'UPDATE_COMPLETE');
        else this.setResourceStatus(current, 'UPDATE_FAILED', `Embedded stack ${child.stackId} was not successfully rolled back`);
      } else if (isCustomResourceType(current.type)) {
        // The rollback Update: the failed update's properties arrive as the old ones.
        ok = await this.updateOne(current, before.properties, p.rollbackReplaced, 'rollback');
      } else {
        this.setResourceStatus(current, 'UPDATE_IN_PROGRESS');
        this.retagKey(current, before.properties, 'rollback');
        Object.assign(current, { ...before });
        this.setResourceStatus(current, 'UPDATE_COMPLETE');
      }
      if (!ok) {
        this.setStatus('UPDATE_ROLLBACK_FAILED', `The following resource(s) failed to update: [${logicalId}].`);
        return false;
      }
      p.rolledBack.add(logicalId);
    }
    // A resource replaced by the update gets its old physical resource back (unless skipped: GUESS);
    // the replacement of a resource that is not a custom one is deleted in the rollback's cleanup.
    for (const old of p.replacedOld) {
      if (p.skipped.has(old.logicalId)) continue;
      const replacement = this.resources.get(old.logicalId);
      if (replacement && !isCustomResourceType(old.type) && replacement.physicalId !== old.physicalId) p.rollbackReplaced.push(replacement);
      this.resources.set(old.logicalId, old);
    }
    this.template = p.oldTemplate;
    this.parameters = { ...p.oldParameters };
    this.syncTemplate(p.oldTemplate);
    this.syncResources();
    this.resolveOutputs();
    p.phase = 'rollback-cleanup';
    this.setStatus('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
    return true;
  }

  /**
   * The cleanup after an update phase or its rollback: waiting nested stacks first (depth first),
   * then this stack's own deletes.
   */
  private async cleanupPhase(): Promise<void> {
    const p = this.pending!;
    const waiting = [...this.resources.values()]
      .map((r) => r.nested)
      .filter((c): c is StackEngine => !!c && !!c.pending && (c.pending.phase === 'cleanup' || c.pending.phase === 'rollback-cleanup'));
    await Promise.all(waiting.map((c) => c.cleanupPhase()));
    if (p.phase === 'cleanup') {
      const removed = Object.keys(p.oldTemplate.Resources).filter((id) => !(id in p.newTemplate.Resources));
      // Replaced resources' old physical IDs and removed resources, in reverse dependency order.
      await this.deleteDeployed([...p.replacedOld, ...removed.map((id) => this.resources.get(id)!).filter(Boolean)], p.oldTemplate, {});
      for (const id of removed) this.resources.delete(id);
      this.syncResources();
      this.pending = undefined;
      this.setStatus('UPDATE_COMPLETE');
      return;
    }
    const newOnes = p.created
      .filter((id) => !(id in p.oldTemplate.Resources) && !p.skipped.has(id))
      .map((id) => this.resources.get(id)!).filter(Boolean);
    await this.deleteDeployed([...p.rollbackReplaced, ...newOnes], p.newTemplate, {});
    for (const r of newOnes) this.resources.delete(r.logicalId);
    this.syncResources();
    this.pending = undefined;
    this.setStatus('UPDATE_ROLLBACK_COMPLETE');
  }

  private skip(logicalId: string): void {
    const r = this.resources.get(logicalId);
    if (!r) throw new Error(`ContinueUpdateRollback: ${logicalId} is not a resource of ${this.stackName}`);
    this.pending!.skipped.add(logicalId);
    this.note('rollback', logicalId, 'skipped by ContinueUpdateRollback: marked UPDATE_COMPLETE, no request sent');
    this.setResourceStatus(r, 'UPDATE_COMPLETE', 'Resource skipped during UPDATE_ROLLBACK');
  }

  /** A new stack of the same name (after the old one was deleted): new stack ID, nothing deployed. */
  private startOver(): void {
    this.currentStackId = newStackId(this.stackName);
    this.registered = false;
    this.status = 'REVIEW_IN_PROGRESS';
    this.template = { Resources: {} };
    this.resources.clear();
    this.outputs = {};
    this.pending = undefined;
    this.currentTemplateForDouble = undefined;
  }

  /** Creates resources wave by wave; returns the logical ID that failed, if one did. */
  private async createResources(template: Template, ids: string[], created: string[], options: DeployOptions,
    step: Step): Promise<string | undefined> {
    for (const wave of waves(template, ids)) {
      const results = await Promise.all(wave.map(async (logicalId) => {
        created.push(logicalId);
        return this.createOne(logicalId, template.Resources[logicalId], step, options);
      }));
      const injected = ownFailOn(options.failOn);
      if (injected && wave.includes(injected)) {
        this.note(step, injected, 'resource failed (injected by the scenario)');
        const r = this.resources.get(injected);
        if (r) this.setResourceStatus(r, 'CREATE_FAILED', 'Resource failed (injected by the scenario)');
        return injected;
      }
      const failed = wave.filter((_, i) => !results[i]);
      if (failed.length > 0) return failed.join(', ');
    }
    return undefined;
  }

  private async createOne(logicalId: string, def: TemplateResource, step: Step, options: DeployOptions): Promise<boolean> {
    const properties = this.resolve(def.Properties ?? {});
    const resource: DeployedResource = { logicalId, type: def.Type, physicalId: '', properties, status: 'CREATE_IN_PROGRESS' };
    this.resources.set(logicalId, resource);
    this.setResourceStatus(resource, 'CREATE_IN_PROGRESS');
    if (def.Type === NESTED_STACK_TYPE) return this.createNested(resource, properties, options);
    if (isCustomResourceType(def.Type)) {
      const answer = await this.invoke(step, 'Create', resource, properties);
      resource.physicalId = answer.physicalId;
      this.setResourceStatus(resource, answer.ok ? 'CREATE_COMPLETE' : 'CREATE_FAILED', answer.ok ? undefined : answer.reason);
      return answer.ok;
    }
    if (def.Type === 'AWS::KMS::Key') {
      const arn = this.o.kms.addKey({
        origin: properties.Origin ?? 'AWS_KMS',
        keySpec: properties.KeySpec,
        multiRegion: properties.MultiRegion === 'true' || properties.MultiRegion === true,
        importedMaterials: properties.Origin === 'EXTERNAL' ? 0 : undefined,
        description: properties.Description,
        tags: tagsOf(properties),
      });
      resource.physicalId = arn.split('/')[1];
      resource.arn = arn;
      this.keysCreated.set(logicalId, arn);
      this.note(step, logicalId, `key created: ${arn} (${this.o.kms.key(arn)!.state})`);
      this.o.onKeyCreated?.(logicalId, arn);
    } else {
      resource.physicalId = `${this.stackName}-${logicalId}-${randomUUID().slice(0, 8)}`;
      resource.arn = def.Type === 'AWS::Lambda::Function'
        ? `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${resource.physicalId}`
        : `arn:aws:iam::${ACCOUNT}:role/${resource.physicalId}`;
      // A customer managed policy's physical ID (and so its Ref) is its ARN.
      if (def.Type === 'AWS::IAM::ManagedPolicy') resource.physicalId = resource.arn = `arn:aws:iam::${ACCOUNT}:policy/${resource.physicalId}`;
    }
    this.setResourceStatus(resource, 'CREATE_COMPLETE');
    return true;
  }

  /** A nested stack created as a resource of this stack (in its create or update). */
  private async createNested(resource: DeployedResource, props: Record<string, any>, options: DeployOptions): Promise<boolean> {
    const template = this.nestedTemplateOf(props);
    const child = new StackEngine({
      ...this.o,
      stackName: `${this.stackName}-${resource.logicalId}-${randomSuffix()}`,
      parameters: parametersOf(props),
    }, { parent: this, logicalId: resource.logicalId });
    resource.nested = child;
    resource.physicalId = child.stackId;
    resource.arn = child.stackId;
    this.setResourceStatus(resource, 'CREATE_IN_PROGRESS', 'Resource creation Initiated');
    const status = await child.create(template, nestedOptions(options, resource.logicalId));
    const ok = status === 'CREATE_COMPLETE';
    this.setResourceStatus(resource, ok ? 'CREATE_COMPLETE' : 'CREATE_FAILED',
      ok ? undefined : `Embedded stack ${child.stackId} was not successfully created: ${child.statusReason ?? status}`);
    return ok;
  }

  private async updateOne(resource: DeployedResource, props: Record<string, any>,
    replaced: DeployedResource[], step: Step = 'update'): Promise<boolean> {
    if (!isCustomResourceType(resource.type)) {
      this.setResourceStatus(resource, 'UPDATE_IN_PROGRESS');
      const immutable = resource.type === 'AWS::KMS::Key' ? changedImmutableKeyProperties(resource.properties, props) : [];
      if (immutable.length > 0) {
        this.setResourceStatus(resource, 'UPDATE_FAILED', `You cannot change ${immutable.join(', ')} of an existing KMS key`);
        return false;
      }
      this.retagKey(resource, props, step);
      resource.properties = props;
      this.setResourceStatus(resource, 'UPDATE_COMPLETE');
      return true;
    }
    this.setResourceStatus(resource, 'UPDATE_IN_PROGRESS');
    const answer = await this.invoke(step, 'Update', resource, props);
    if (!answer.ok) {
      this.setResourceStatus(resource, 'UPDATE_FAILED', answer.reason);
      return false;
    }
    if (answer.physicalId !== resource.physicalId) {
      // A new physical ID: CloudFormation treats the resource as replaced and deletes the old one later.
      replaced.push({ ...resource });
      resource.physicalId = answer.physicalId;
    }
    resource.properties = props;
    this.setResourceStatus(resource, 'UPDATE_COMPLETE');
    return true;
  }

  /**
   * An update of a key's Tags, in the update phase (or its rollback): the tags the template stops
   * giving are removed, the ones it gives set ("Update requires: No interruption", AWS::KMS::Key
   * Tags; tags set outside the template are left alone, GUESS).
   */
  private retagKey(resource: DeployedResource, props: Record<string, any>, step: Step): void {
    if (resource.type !== 'AWS::KMS::Key' || !resource.arn) return;
    const before = tagsOf(resource.properties);
    const after = tagsOf(props);
    const removed = Object.keys(before).filter((k) => !(k in after));
    if (removed.length === 0 && JSON.stringify(before) === JSON.stringify(after)) return;
    this.o.kms.retag(resource.arn, after, removed);
    this.note(step, resource.logicalId, `key tags: ${JSON.stringify(after)}${removed.length ? `, removed ${removed.join(', ')}` : ''}`);
  }

  /** Deletes deployed resources (by logical ID) in reverse dependency order of `template`. */
  private async deleteResources(ids: string[], template: Template, options: DeployOptions): Promise<boolean> {
    const list = ids.map((id) => this.resources.get(id)).filter((r): r is DeployedResource => !!r);
    const ok = await this.deleteDeployed(list, template, options);
    for (const r of list) if (r.status === 'DELETE_COMPLETE') this.resources.delete(r.logicalId);
    this.syncResources();
    return ok;
  }

  private async deleteDeployed(list: DeployedResource[], template: Template, options: DeployOptions): Promise<boolean> {
    const failDelete = ownFailOn(options.failDeleteOn);
    if (failDelete) this.tree.failDeletes.add(`${this.stackId}#${failDelete}`);
    const byId = new Map<string, DeployedResource[]>();
    for (const r of list) byId.set(r.logicalId, [...(byId.get(r.logicalId) ?? []), r]);
    const known = [...byId.keys()].filter((id) => id in template.Resources);
    const unknown = [...byId.keys()].filter((id) => !(id in template.Resources));
    let ok = true;
    const order = [...waves(template, known).reverse(), unknown];
    for (const wave of order) {
      const results = await Promise.all(wave.flatMap((id) => byId.get(id)!.map((r) => this.deleteOne(r, template.Resources[id], options))));
      if (results.includes(false)) ok = false;
      if (!ok) break; // CloudFormation stops at the first failure: dependents keep their resources
    }
    return ok;
  }

  private async deleteOne(resource: DeployedResource, def: TemplateResource | undefined, options: DeployOptions): Promise<boolean> {
    this.setResourceStatus(resource, 'DELETE_IN_PROGRESS');
    const failKey = `${this.stackId}#${resource.logicalId}`;
    if (this.tree.failDeletes.delete(failKey)) {
      this.note('delete', resource.logicalId, 'deletion failed (injected by the scenario)');
      this.setResourceStatus(resource, 'DELETE_FAILED', 'Resource deletion failed (injected by the scenario)');
      return false;
    }
    if (resource.nested) {
      const status = await resource.nested.deleteStack(nestedOptions(options, resource.logicalId));
      const ok = status === 'DELETE_COMPLETE';
      this.setResourceStatus(resource, ok ? 'DELETE_COMPLETE' : 'DELETE_FAILED', ok ? undefined : `Embedded stack ${resource.physicalId} was not successfully deleted`);
      return ok;
    }
    if (isCustomResourceType(resource.type)) {
      const answer = await this.invoke('delete', 'Delete', resource, resource.properties);
      this.setResourceStatus(resource, answer.ok ? 'DELETE_COMPLETE' : 'DELETE_FAILED', answer.ok ? undefined : answer.reason);
      return answer.ok;
    }
    if (resource.type === 'AWS::KMS::Key' && resource.arn) {
      if (def?.DeletionPolicy === 'Retain' || def?.DeletionPolicy === 'RetainExceptOnCreate') {
        this.note('delete', resource.logicalId, `key retained (DeletionPolicy ${def.DeletionPolicy})`);
      } else {
        this.o.kms.setKeyState(resource.arn, 'PendingDeletion');
        this.scheduledKeyDeletions.push({ arn: resource.arn, at: Date.now() });
        this.note('delete', resource.logicalId, `key scheduled for deletion: ${resource.arn}`);
      }
    }
    this.setResourceStatus(resource, 'DELETE_COMPLETE');
    return true;
  }

  /** The function a ServiceToken names, in any stack of the tree. */
  private functionFor(serviceToken: unknown): DeployedFunction | undefined {
    for (const engine of this.tree.engines) {
      for (const r of engine.resources.values()) {
        if (r.type === 'AWS::Lambda::Function' && r.arn !== undefined && r.arn === serviceToken) {
          return { stack: engine, logicalId: r.logicalId, name: r.physicalId, arn: r.arn, properties: r.properties };
        }
      }
    }
    return undefined;
  }

  private async invoke(step: Step, requestType: 'Create' | 'Update' | 'Delete', resource: DeployedResource,
    props: Record<string, any>): Promise<{ ok: boolean; physicalId: string; reason?: string }> {
    const responseUrl = this.o.responses.newUrl();
    const event: Record<string, unknown> = {
      RequestType: requestType,
      ServiceToken: props.ServiceToken,
      ResponseURL: responseUrl,
      StackId: this.stackId,
      RequestId: randomUUID(),
      LogicalResourceId: resource.logicalId,
      ResourceType: resource.type,
      ResourceProperties: props,
    };
    if (requestType !== 'Create') event.PhysicalResourceId = resource.physicalId;
    if (requestType === 'Update') event.OldResourceProperties = resource.properties;
    const statusAtStart = this.status;
    const rootStatus = this.parent ? this.root.status : undefined;
    const fn = this.functionFor(props.ServiceToken);
    const runner = (fn && this.o.runnerFor?.(fn)) ?? this.o.runner;
    // The function runs with its environment as deployed (REVOCATION_STACK_ID resolved, L29).
    if (fn) runner.useEnvironment?.(fn.properties.Environment?.Variables);
    const invocation = await runner.invoke(event);
    const answer = await this.o.responses.waitFor(responseUrl, 0);
    const decisionLine = invocation.logs.map((l) => safeJson(l.line)).find((j) => j?.message === 'decision');
    const status = answer ? answer.body.Status : 'NO RESPONSE';
    this.timeline.push({
      at: Date.now(),
      stackStatus: statusAtStart,
      action: step,
      logicalId: resource.logicalId,
      requestType,
      physicalId: answer?.body.PhysicalResourceId ?? resource.physicalId,
      responseStatus: status,
      reason: answer?.body.Reason,
      decision: decisionLine,
      invocation,
      response: answer,
      stackName: this.stackName,
      stackId: this.stackId,
      rootStatus,
      function: fn ? { name: fn.name, logicalId: fn.logicalId, stackName: fn.stack.stackName } : undefined,
    });
    // Without an answer CloudFormation waits for the ServiceTimeout, then fails the resource.
    return {
      ok: status === 'SUCCESS',
      physicalId: answer?.body.PhysicalResourceId ?? resource.physicalId,
      reason: answer ? answer.body.Reason : 'no response before the ServiceTimeout',
    };
  }

  private note(step: Step, logicalId: string, detail: string): void {
    this.timeline.push({
      at: Date.now(), stackStatus: this.status, action: step, logicalId, detail,
      stackName: this.stackName, stackId: this.stackId, rootStatus: this.parent ? this.root.status : undefined,
    });
  }

  private setStatus(status: string, reason?: string): void {
    this.status = status;
    this.statusReason = reason;
    if (!this.registered) {
      this.registered = true;
      this.o.cfn.putStack(this.stackId, {
        status,
        statusReason: reason,
        template: this.currentTemplateForDouble ?? this.template,
        resources: this.resourceList(),
        parameters: this.parameters,
        parentId: this.parent?.stackId,
        rootId: this.parent ? this.root.stackId : undefined,
        disableRollback: this.tree.rollbackDisabled,
      });
    } else {
      this.o.cfn.setStatus(this.stackId, status, reason);
      this.o.cfn.setParameters(this.stackId, this.parameters);
    }
    this.o.cfn.addStackEvent(this.stackId, {
      logicalId: this.stackName, physicalId: this.stackId, type: NESTED_STACK_TYPE, status, statusReason: reason,
    });
  }

  /** A resource's status change: recorded as a stack event, and the double's resource list synced. */
  private setResourceStatus(resource: DeployedResource, status: string, reason?: string): void {
    resource.status = status;
    resource.lastUpdated = new Date();
    this.o.cfn.addStackEvent(this.stackId, {
      logicalId: resource.logicalId, physicalId: resource.physicalId || undefined, type: resource.type, status, statusReason: reason,
    });
    this.syncResources();
  }

  private currentTemplateForDouble?: Template;

  private syncTemplate(template: Template): void {
    this.currentTemplateForDouble = template;
    if (this.registered) this.o.cfn.setTemplate(this.stackId, template);
  }

  /**
   * The physical resources in force now: the deployed ones, and those an update replaced that its
   * cleanup (or its rollback's) has not deleted yet, such as the old copy of a replaced policy.
   */
  inForce(): DeployedResource[] {
    const pending = this.pending ? [...this.pending.replacedOld, ...this.pending.rollbackReplaced] : [];
    const current = new Set(this.resources.values());
    return [...current, ...pending.filter((r) => !current.has(r) && r.status !== 'DELETE_COMPLETE'
      && this.resources.get(r.logicalId)?.physicalId !== r.physicalId)];
  }

  private syncResources(): void {
    if (this.registered) this.o.cfn.setResources(this.stackId, this.resourceList());
    for (const listener of this.resourceListeners) listener(this.resources);
  }

  private resourceList() {
    return [...this.resources.values()].map((r) => ({
      logicalId: r.logicalId, physicalId: r.physicalId || undefined, type: r.type, status: r.status, lastUpdated: r.lastUpdated,
    }));
  }

  private resolveOutputs(): void {
    const outputs: Record<string, string> = {};
    for (const [key, output] of Object.entries(this.template.Outputs ?? {})) outputs[key] = String(this.resolve(output.Value));
    this.outputs = outputs;
    if (this.registered) this.o.cfn.setOutputs(this.stackId, Object.entries(outputs).map(([key, value]) => ({ key, value })));
  }

  private nestedTemplateOf(props: Record<string, any>): Template {
    if (!this.o.nestedTemplate) throw new Error('a nested stack needs EngineOptions.nestedTemplate to find its template');
    return this.o.nestedTemplate(String(props.TemplateURL));
  }

  /** Resolves intrinsic functions the way CloudFormation would, and stringifies scalars. */
  private resolve(value: any): any {
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if ('Ref' in value) return this.ref(value.Ref);
    if ('Fn::GetAtt' in value) {
      const [id, attr] = value['Fn::GetAtt'];
      const r = this.resources.get(id);
      if (!r) throw new Error(`Fn::GetAtt of ${id}, which is not deployed`);
      if (attr === 'Arn') return r.arn;
      if (typeof attr === 'string' && attr.startsWith('Outputs.') && r.nested) {
        const name = attr.slice('Outputs.'.length);
        if (!(name in r.nested.outputs)) throw new Error(`Fn::GetAtt ${id}.${attr}: the nested stack has no output ${name}`);
        return r.nested.outputs[name];
      }
      throw new Error(`Fn::GetAtt ${id}.${attr} is not modelled by the test bed`);
    }
    if ('Fn::Join' in value) {
      const [sep, parts] = value['Fn::Join'];
      return (this.resolve(parts) as string[]).join(sep);
    }
    if ('Fn::Split' in value) {
      const [sep, source] = value['Fn::Split'];
      return String(this.resolve(source)).split(sep);
    }
    if ('Fn::Select' in value) {
      const [index, list] = value['Fn::Select'];
      return (this.resolve(list) as string[])[Number(this.resolve(index))];
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v)]));
  }

  private ref(name: string): string {
    switch (name) {
      case 'AWS::StackId': return this.stackId;
      case 'AWS::StackName': return this.stackName;
      case 'AWS::Region': return REGION;
      case 'AWS::AccountId': return ACCOUNT;
      case 'AWS::Partition': return 'aws';
      case 'AWS::URLSuffix': return 'amazonaws.com';
      case 'AWS::NoValue': return '';
    }
    if (name in this.parameters) return this.parameters[name];
    const r = this.resources.get(name);
    if (r) return r.physicalId;
    const declared = this.template.Parameters?.[name];
    if (declared?.Default !== undefined) return declared.Default;
    throw new Error(`Ref ${name}: not a pseudo parameter, parameter or deployed resource`);
  }
}

function safeJson(line: string): any {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function newStackId(stackName: string): string {
  return `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${stackName}/${randomUUID()}`;
}

/** The random part of a nested stack's name (upper-case letters and digits, as CloudFormation's look). */
function randomSuffix(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(12)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** A nested stack's parameters, from its resource's resolved `Parameters` (strings). */
/**
 * Properties whose change makes CloudFormation replace a resource that is not a custom one ("Update
 * requires: Replacement" in each type's page of the CloudFormation User Guide). Only the types the
 * construct's behaviour depends on are listed; any other change is an update in place (GUESS for
 * the rest, which no scenario changes). AWS::IAM::ManagedPolicy: Description ("The policy
 * description is immutable"), ManagedPolicyName and Path; PolicyDocument, Roles, Groups and Users
 * update with no interruption.
 */
const REPLACEMENT_PROPERTIES: Record<string, readonly string[]> = {
  'AWS::IAM::ManagedPolicy': ['Description', 'ManagedPolicyName', 'Path'],
};

/**
 * AWS::KMS::Key properties an update must not change: "If you change the value of the KeySpec,
 * KeyUsage, Origin, or MultiRegion properties of an existing KMS key, the update request fails,
 * regardless of the value of the UpdateReplacePolicy attribute" (CloudFormation Template
 * Reference, AWS::KMS::Key). Values are compared with the property's default for a left-out one
 * (GUESS: the page does not say whether writing out the default counts as a change).
 */
const IMMUTABLE_KEY_PROPERTIES: Record<string, string> = {
  KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Origin: 'AWS_KMS', MultiRegion: 'false',
};

function changedImmutableKeyProperties(before: Record<string, any> | undefined, after: Record<string, any>): string[] {
  const value = (props: Record<string, any> | undefined, name: string) => String(props?.[name] ?? IMMUTABLE_KEY_PROPERTIES[name]);
  return Object.keys(IMMUTABLE_KEY_PROPERTIES).filter((name) => value(before, name) !== value(after, name));
}

function replacedByUpdate(type: string, before: Record<string, any> | undefined, after: Record<string, any>): boolean {
  return (REPLACEMENT_PROPERTIES[type] ?? []).some((name) => JSON.stringify(before?.[name]) !== JSON.stringify(after[name]));
}

function parametersOf(props: Record<string, any>): Record<string, string> {
  return Object.fromEntries(Object.entries(props.Parameters ?? {}).map(([k, v]) => [k, String(v)]));
}

/** A `failOn`-style path for this stack: `Id` applies here, `Nested/Id` to a nested stack. */
function ownFailOn(path: string | undefined): string | undefined {
  return path && !path.includes('/') ? path : undefined;
}

/** The options a nested stack gets: the paths below its logical ID. */
function nestedOptions<T extends DeployOptions>(options: T, logicalId: string): DeployOptions {
  const below = (path: string | undefined) => (path?.startsWith(`${logicalId}/`) ? path.slice(logicalId.length + 1) : undefined);
  return { failOn: below(options.failOn), failRollbackOn: below(options.failRollbackOn), failDeleteOn: below(options.failDeleteOn) };
}

/** A template with logical IDs renamed, references (Ref, Fn::GetAtt, DependsOn) following. */
function renameLogicalIds(template: Template, renames: Record<string, string>): Template {
  const walk = (v: any): any => {
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v.Ref === 'string' && renames[v.Ref]) return { ...v, Ref: renames[v.Ref] };
    if (Array.isArray(v['Fn::GetAtt']) && renames[v['Fn::GetAtt'][0]]) {
      return { ...v, 'Fn::GetAtt': [renames[v['Fn::GetAtt'][0]], ...v['Fn::GetAtt'].slice(1)] };
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
  };
  const resources: Record<string, TemplateResource> = {};
  for (const [id, def] of Object.entries(template.Resources)) {
    const dependsOn = def.DependsOn === undefined ? undefined
      : Array.isArray(def.DependsOn) ? def.DependsOn.map((d) => renames[d] ?? d) : renames[def.DependsOn] ?? def.DependsOn;
    resources[renames[id] ?? id] = { ...def, Properties: walk(def.Properties), ...(dependsOn !== undefined ? { DependsOn: dependsOn } : {}) };
  }
  return { ...template, Resources: resources, ...(template.Outputs ? { Outputs: walk(template.Outputs) } : {}) };
}

/** The resources a definition refers to (DependsOn, Ref, Fn::GetAtt), within `ids`. */
function dependencies(def: TemplateResource, ids: Set<string>): string[] {
  const found = new Set<string>([def.DependsOn ?? []].flat());
  const walk = (v: any) => {
    if (typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v.Ref === 'string') found.add(v.Ref);
    if (Array.isArray(v['Fn::GetAtt'])) found.add(v['Fn::GetAtt'][0]);
    Object.values(v).forEach(walk);
  };
  walk(def.Properties);
  return [...found].filter((d) => ids.has(d));
}

/** Dependency waves: each wave depends only on earlier ones (CloudFormation runs a wave at once). */
export function waves(template: Template, ids: string[]): string[][] {
  const remaining = new Set(ids);
  const done = new Set<string>();
  const result: string[][] = [];
  while (remaining.size > 0) {
    const wave = [...remaining].filter((id) =>
      dependencies(template.Resources[id], remaining).every((d) => done.has(d) || d === id));
    if (wave.length === 0) throw new Error(`dependency cycle among ${[...remaining].join(', ')}`);
    wave.forEach((id) => { remaining.delete(id); done.add(id); });
    result.push(wave);
  }
  return result;
}

/** A resource's Tags property ([{ Key, Value }]) as a record. */
function tagsOf(properties: Record<string, any> | undefined): Record<string, string> {
  const tags = properties?.Tags;
  if (!Array.isArray(tags)) return {};
  return Object.fromEntries(tags.filter((t) => typeof t?.Key === 'string').map((t) => [t.Key, String(t.Value ?? '')]));
}
