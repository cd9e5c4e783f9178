/**
 * A small CloudFormation for the test bed: deploys synthesized templates the way CloudFormation
 * does for the resources that matter here, and sends the revocation resources the same event
 * sequences, through the real handler bundle run by LambdaRunner:
 *
 * - create: resources in dependency order; a failure rolls back (ROLLBACK_IN_PROGRESS) and deletes
 *   what was created, including a Delete for a custom resource whose own Create failed;
 * - update: Create for new resources, Update for changed ones (a new physical ID is a replacement);
 *   on success the new template is in place and the cleanup (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS)
 *   deletes replaced and removed resources; on failure the rollback sends Updates with the
 *   properties swapped (UPDATE_ROLLBACK_IN_PROGRESS) and deletes what the update created
 *   (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS);
 * - delete: everything in reverse dependency order, independent resources at once.
 *
 * The stack's status, template and resources are kept in the CloudFormation double at every step,
 * so the handler's DescribeStacks / GetTemplate / ListStackResources see what they would in AWS.
 * AWS::KMS::Key resources live in the KMS double (created PendingImport when Origin is EXTERNAL,
 * scheduled for deletion unless their DeletionPolicy is Retain).
 */
import { randomUUID } from 'node:crypto';
import { CloudFormationDouble } from '../doubles/cloudformation-double';
import { KmsDouble } from '../doubles/kms-double';
import { CapturedResponse, ResponseRecorder } from '../support/response-server';
import { ACCOUNT, REGION, Template, TemplateResource } from './assembly';
import { InvocationResult, LambdaRunner } from './lambda-runner';

export const REVOCATION_TYPE = 'Custom::KmsKeyMaterialRevocation';

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
}

export interface TimelineEntry {
  readonly at: number;
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
}

export interface EngineOptions {
  readonly kms: KmsDouble;
  readonly cfn: CloudFormationDouble;
  readonly responses: ResponseRecorder;
  /** Runs the function: a LambdaRunner, or anything that invokes like one (the benchmarks' sandboxes). */
  readonly runner: Pick<LambdaRunner, 'invoke'>;
  readonly stackName: string;
  readonly parameters?: Record<string, string>;
  /** Called when an AWS::KMS::Key is created: import material here, as a user would after deploy. */
  readonly onKeyCreated?: (logicalId: string, keyArn: string) => void;
}

export interface DeployOptions {
  /** A resource in the template that CloudFormation fails on (after the others of its wave). */
  readonly failOn?: string;
}

type Step = 'create' | 'update' | 'delete';

export class StackEngine {
  readonly stackId: string;
  status = 'REVIEW_IN_PROGRESS';
  template: Template = { Resources: {} };
  readonly resources = new Map<string, DeployedResource>();
  readonly timeline: TimelineEntry[] = [];
  /** Every key the stack ever created, by logical ID (kept after the key leaves the stack). */
  readonly keysCreated = new Map<string, string>();
  /** Key ARNs scheduled for deletion, in order, with when: L13 checks revocation came first. */
  readonly scheduledKeyDeletions: Array<{ arn: string; at: number }> = [];
  /** Called after every change to the deployed resources (iam-state.ts pushes the IAM and key policies in force to KMS). */
  readonly resourceListeners: Array<(resources: ReadonlyMap<string, DeployedResource>) => void> = [];

  constructor(private readonly o: EngineOptions) {
    this.stackId = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${o.stackName}/${randomUUID()}`;
  }

  /** Revocation entries of the timeline (the handler's answers). */
  get answers(): TimelineEntry[] {
    return this.timeline.filter((e) => e.requestType !== undefined);
  }

  async create(template: Template, options: DeployOptions = {}): Promise<string> {
    this.setStatus('CREATE_IN_PROGRESS');
    this.syncTemplate(template);
    const created: string[] = [];
    const ok = await this.createResources(template, Object.keys(template.Resources), created, options, 'create');
    if (ok) {
      this.template = template;
      this.setStatus('CREATE_COMPLETE');
      return this.status;
    }
    this.setStatus('ROLLBACK_IN_PROGRESS');
    await this.deleteResources(created.reverse(), template);
    this.setStatus('ROLLBACK_COMPLETE');
    return this.status;
  }

  async update(newTemplate: Template, options: DeployOptions = {}): Promise<string> {
    const oldTemplate = this.template;
    this.setStatus('UPDATE_IN_PROGRESS');
    const created: string[] = [];
    const updated: Array<{ logicalId: string; before: DeployedResource }> = [];
    const replacedOld: DeployedResource[] = [];
    let ok = true;
    for (const wave of waves(newTemplate, Object.keys(newTemplate.Resources))) {
      const results = await Promise.all(wave.map(async (logicalId) => {
        const def = newTemplate.Resources[logicalId];
        const existing = this.resources.get(logicalId);
        if (!existing || existing.type !== def.Type) {
          if (existing) replacedOld.push(existing);
          created.push(logicalId);
          return this.createOne(logicalId, def, 'update');
        }
        const props = this.resolve(def.Properties ?? {});
        if (JSON.stringify(props) === JSON.stringify(existing.properties)) return true;
        const before = { ...existing };
        updated.push({ logicalId, before });
        return this.updateOne(existing, props, replacedOld);
      }));
      if (results.includes(false) || (options.failOn && wave.includes(options.failOn))) {
        if (options.failOn && wave.includes(options.failOn)) {
          this.note('update', options.failOn, 'resource failed (injected by the scenario)');
        }
        ok = false;
        break;
      }
    }
    if (ok) {
      this.template = newTemplate;
      this.syncTemplate(newTemplate);
      this.setStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      const removed = Object.keys(oldTemplate.Resources).filter((id) => !(id in newTemplate.Resources));
      // Replaced resources' old physical IDs and removed resources, in reverse dependency order.
      await this.deleteDeployed([...replacedOld, ...removed.map((id) => this.resources.get(id)!).filter(Boolean)], oldTemplate);
      for (const id of removed) this.resources.delete(id);
      this.setStatus('UPDATE_COMPLETE');
      return this.status;
    }
    this.setStatus('UPDATE_ROLLBACK_IN_PROGRESS');
    const rollbackReplaced: DeployedResource[] = [];
    for (const { logicalId, before } of updated.reverse()) {
      const current = this.resources.get(logicalId)!;
      if (isCustomResourceType(current.type)) {
        // The rollback Update: the failed update's properties arrive as the old ones.
        await this.updateOne(current, before.properties, rollbackReplaced, 'update');
      } else {
        Object.assign(current, before);
        this.syncResources();
      }
    }
    for (const old of replacedOld) this.resources.set(old.logicalId, old);
    this.setStatus('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
    const newOnes = created.filter((id) => !(id in oldTemplate.Resources)).map((id) => this.resources.get(id)!).filter(Boolean);
    await this.deleteDeployed([...rollbackReplaced, ...newOnes], newTemplate);
    for (const r of newOnes) this.resources.delete(r.logicalId);
    this.setStatus('UPDATE_ROLLBACK_COMPLETE');
    return this.status;
  }

  async deleteStack(): Promise<string> {
    this.setStatus('DELETE_IN_PROGRESS');
    const ok = await this.deleteResources([...this.resources.keys()], this.template);
    this.setStatus(ok ? 'DELETE_COMPLETE' : 'DELETE_FAILED');
    return this.status;
  }

  /** The handler's decision line of the last answer for a logical ID. */
  lastAnswer(logicalId: string): TimelineEntry | undefined {
    return [...this.answers].reverse().find((e) => e.logicalId === logicalId);
  }

  // ---------------------------------------------------------------------------------------------

  private async createResources(template: Template, ids: string[], created: string[], options: DeployOptions,
    step: Step): Promise<boolean> {
    for (const wave of waves(template, ids)) {
      const results = await Promise.all(wave.map(async (logicalId) => {
        created.push(logicalId);
        return this.createOne(logicalId, template.Resources[logicalId], step);
      }));
      if (options.failOn && wave.includes(options.failOn)) {
        this.note(step, options.failOn, 'resource failed (injected by the scenario)');
        return false;
      }
      if (results.includes(false)) return false;
    }
    return true;
  }

  private async createOne(logicalId: string, def: TemplateResource, step: Step): Promise<boolean> {
    const properties = this.resolve(def.Properties ?? {});
    const resource: DeployedResource = { logicalId, type: def.Type, physicalId: '', properties, status: 'CREATE_IN_PROGRESS' };
    this.resources.set(logicalId, resource);
    this.syncResources();
    if (isCustomResourceType(def.Type)) {
      const answer = await this.invoke(step, 'Create', resource, properties);
      resource.physicalId = answer.physicalId;
      resource.status = answer.ok ? 'CREATE_COMPLETE' : 'CREATE_FAILED';
      this.syncResources();
      return answer.ok;
    }
    if (def.Type === 'AWS::KMS::Key') {
      const arn = this.o.kms.addKey({
        origin: properties.Origin ?? 'AWS_KMS',
        keySpec: properties.KeySpec,
        multiRegion: properties.MultiRegion === 'true' || properties.MultiRegion === true,
        importedMaterials: properties.Origin === 'EXTERNAL' ? 0 : undefined,
        description: properties.Description,
      });
      resource.physicalId = arn.split('/')[1];
      resource.arn = arn;
      this.keysCreated.set(logicalId, arn);
      this.note(step, logicalId, `key created: ${arn} (${this.o.kms.key(arn)!.state})`);
      this.o.onKeyCreated?.(logicalId, arn);
    } else {
      resource.physicalId = `${this.o.stackName}-${logicalId}-${randomUUID().slice(0, 8)}`;
      resource.arn = def.Type === 'AWS::Lambda::Function'
        ? `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${resource.physicalId}`
        : `arn:aws:iam::${ACCOUNT}:role/${resource.physicalId}`;
      // A customer managed policy's physical ID (and so its Ref) is its ARN.
      if (def.Type === 'AWS::IAM::ManagedPolicy') resource.physicalId = resource.arn = `arn:aws:iam::${ACCOUNT}:policy/${resource.physicalId}`;
    }
    resource.status = 'CREATE_COMPLETE';
    this.syncResources();
    return true;
  }

  private async updateOne(resource: DeployedResource, props: Record<string, any>,
    replaced: DeployedResource[], step: Step = 'update'): Promise<boolean> {
    if (!isCustomResourceType(resource.type)) {
      resource.properties = props;
      this.syncResources();
      return true;
    }
    resource.status = 'UPDATE_IN_PROGRESS';
    this.syncResources();
    const answer = await this.invoke(step, 'Update', resource, props);
    if (!answer.ok) {
      resource.status = 'UPDATE_FAILED';
      this.syncResources();
      return false;
    }
    if (answer.physicalId !== resource.physicalId) {
      // A new physical ID: CloudFormation treats the resource as replaced and deletes the old one later.
      replaced.push({ ...resource });
      resource.physicalId = answer.physicalId;
    }
    resource.properties = props;
    resource.status = 'UPDATE_COMPLETE';
    this.syncResources();
    return true;
  }

  /** Deletes deployed resources (by logical ID) in reverse dependency order of `template`. */
  private async deleteResources(ids: string[], template: Template): Promise<boolean> {
    const list = ids.map((id) => this.resources.get(id)).filter((r): r is DeployedResource => !!r);
    const ok = await this.deleteDeployed(list, template);
    for (const r of list) if (r.status === 'DELETE_COMPLETE') this.resources.delete(r.logicalId);
    this.syncResources();
    return ok;
  }

  private async deleteDeployed(list: DeployedResource[], template: Template): Promise<boolean> {
    const byId = new Map<string, DeployedResource[]>();
    for (const r of list) byId.set(r.logicalId, [...(byId.get(r.logicalId) ?? []), r]);
    const known = [...byId.keys()].filter((id) => id in template.Resources);
    const unknown = [...byId.keys()].filter((id) => !(id in template.Resources));
    let ok = true;
    const order = [...waves(template, known).reverse(), unknown];
    for (const wave of order) {
      const results = await Promise.all(wave.flatMap((id) => byId.get(id)!.map((r) => this.deleteOne(r, template.Resources[id]))));
      if (results.includes(false)) ok = false;
      if (!ok) break; // CloudFormation stops at the first failure: dependents keep their resources
    }
    return ok;
  }

  private async deleteOne(resource: DeployedResource, def: TemplateResource | undefined): Promise<boolean> {
    resource.status = 'DELETE_IN_PROGRESS';
    this.syncResources();
    if (isCustomResourceType(resource.type)) {
      const answer = await this.invoke('delete', 'Delete', resource, resource.properties);
      resource.status = answer.ok ? 'DELETE_COMPLETE' : 'DELETE_FAILED';
      this.syncResources();
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
    resource.status = 'DELETE_COMPLETE';
    this.syncResources();
    return true;
  }

  private async invoke(step: Step, requestType: 'Create' | 'Update' | 'Delete', resource: DeployedResource,
    props: Record<string, any>): Promise<{ ok: boolean; physicalId: string }> {
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
    const invocation = await this.o.runner.invoke(event);
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
    });
    // Without an answer CloudFormation waits for the ServiceTimeout, then fails the resource.
    return { ok: status === 'SUCCESS', physicalId: answer?.body.PhysicalResourceId ?? resource.physicalId };
  }

  private note(step: Step, logicalId: string, detail: string): void {
    this.timeline.push({ at: Date.now(), stackStatus: this.status, action: step, logicalId, detail });
  }

  private setStatus(status: string): void {
    this.status = status;
    this.o.cfn.putStack(this.stackId, {
      status,
      template: this.currentTemplateForDouble ?? this.template,
      resources: this.resourceList(),
    });
  }

  private currentTemplateForDouble?: Template;

  private syncTemplate(template: Template): void {
    this.currentTemplateForDouble = template;
    this.o.cfn.setTemplate(this.stackId, template);
  }

  private syncResources(): void {
    this.o.cfn.setResources(this.stackId, this.resourceList());
    for (const listener of this.resourceListeners) listener(this.resources);
  }

  private resourceList() {
    return [...this.resources.values()].map((r) => ({
      logicalId: r.logicalId, physicalId: r.physicalId || undefined, type: r.type, status: r.status,
    }));
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
      throw new Error(`Fn::GetAtt ${id}.${attr} is not modelled by the test bed`);
    }
    if ('Fn::Join' in value) {
      const [sep, parts] = value['Fn::Join'];
      return (this.resolve(parts) as string[]).join(sep);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v)]));
  }

  private ref(name: string): string {
    switch (name) {
      case 'AWS::StackId': return this.stackId;
      case 'AWS::StackName': return this.o.stackName;
      case 'AWS::Region': return REGION;
      case 'AWS::AccountId': return ACCOUNT;
      case 'AWS::Partition': return 'aws';
      case 'AWS::URLSuffix': return 'amazonaws.com';
    }
    if (this.o.parameters && name in this.o.parameters) return this.o.parameters[name];
    const r = this.resources.get(name);
    if (r) return r.physicalId;
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
