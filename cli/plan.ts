/**
 * What a deployment will revoke, before it runs: the events CloudFormation will send each
 * revocation resource, played through the handler's own decision rules (lambda/decide.ts) with
 * the facts knowable before the deployment. There is no second copy of the rules here: this file
 * only builds facts and words.
 *
 * Assumed, and said in every plan: the deployment succeeds (a rollback revokes nothing), the calls
 * are allowed, and CloudFormation sends the events it documents. What only the deployment can know
 * (a key already PendingImport, a denial, a rollback) is named as such.
 */
import { propertyValue, RESOURCE_TYPE, RevocationProperties } from '../lib/contract';
import {
  decide, Facts, LiveResource, physicalIdFor, RevocationTarget, StackFacts, TemplateResources,
} from '../lambda/decide';

/** One stack as the plan knows it: a template, and for a deployed stack what CloudFormation shows. */
export interface PlannedStack {
  /** Display name: the stack name, or PARENT/LogicalId for a nested stack. */
  readonly name: string;
  readonly template: { Resources?: TemplateResources; Parameters?: Record<string, unknown> };
  /** For a deployed stack, when known: its status and live resources by logical ID. */
  readonly status?: string;
  readonly live?: ReadonlyMap<string, { readonly physicalId?: string; readonly type: string; readonly status: string }>;
  /** Nested stacks by the logical ID of their AWS::CloudFormation::Stack resource. */
  readonly nested: ReadonlyMap<string, PlannedStack>;
  /** Account, Region and partition, to turn a key's live physical ID into its ARN. */
  readonly env?: { readonly account: string; readonly region: string; readonly partition: string };
  /**
   * Parameter values, when known on both sides: those in force for a deployed stack, those the
   * deployment will use for the next one. A key given by a parameter is then named by its value,
   * so that a new value shows as the key change it is (LIFECYCLE L9, S7).
   */
  readonly parameters?: Readonly<Record<string, string>>;
  /** For a deployed stack's SSM parameter types: the SSM parameter each value was resolved from. */
  readonly parameterNames?: Readonly<Record<string, string>>;
}

export type When = 'deploy' | 'destroy';

/** One finding of the plan. */
export interface PlanItem {
  readonly when: When;
  /** The stack path and logical ID of the revocation resource. */
  readonly stack: string;
  readonly logicalId: string;
  /** The CDK construct path (aws:cdk:path metadata), when the template has it. */
  readonly constructPath?: string;
  /** revoke: the key's material is revoked; keep: it is not; fail: the handler would fail (and revoke nothing). */
  readonly verdict: 'revoke' | 'keep' | 'fail';
  /** The keys revoked (ARNs, or a description of a key only the deployment creates). */
  readonly keys: readonly string[];
  /** The key the resource manages, for the keep verdicts. */
  readonly key: string;
  /** Why, in the rules' own words. */
  readonly why: string;
  /** When the revocation happens. */
  readonly phase?: string;
}

type Resources = TemplateResources;

const resourcesOf = (s: PlannedStack | undefined): Resources => (s?.template.Resources ?? {}) as Resources;

const own = <T>(record: Record<string, T>, key: string): T | undefined =>
  Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;

function revocationsOf(stack: PlannedStack | undefined): string[] {
  const resources = resourcesOf(stack);
  return Object.keys(resources).filter((id) => resources[id]?.Type === RESOURCE_TYPE);
}

function boolString(value: unknown, fallback: 'true' | 'false'): 'true' | 'false' {
  if (value === true || value === 'true') return 'true';
  if (value === false || value === 'false') return 'false';
  return fallback;
}

/**
 * `value` with the parameter values known in `parameters` put in: a Ref of a parameter, a `${Name}`
 * in an Fn::Sub string, and an Fn::Join whose parts all became strings. What stays unknown stays as
 * it was, so that a changed value still shows as a difference.
 */
function withParameters(value: unknown, parameters: Readonly<Record<string, string>> | undefined): unknown {
  if (!parameters || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => withParameters(v, parameters));
  const known = (name: unknown) => (typeof name === 'string' && Object.prototype.hasOwnProperty.call(parameters, name) ? parameters[name] : undefined);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [[fn, arg]] = entries;
    if (fn === 'Ref' && known(arg) !== undefined) return known(arg);
    if (fn === 'Fn::Sub' && typeof arg === 'string') {
      const sub = arg.replace(/\$\{([^}!]+)\}/g, (all, name: string) => known(name) ?? all);
      return /\$\{/.test(sub) ? { 'Fn::Sub': sub } : sub;
    }
    if (fn === 'Fn::Join' && Array.isArray(arg) && typeof arg[0] === 'string' && Array.isArray(arg[1])) {
      const parts = arg[1].map((v) => withParameters(v, parameters));
      return parts.every((x) => typeof x === 'string') ? parts.join(arg[0]) : { 'Fn::Join': [arg[0], parts] };
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, withParameters(v, parameters)]));
}

/**
 * The tree with each nested stack's parameter values, where its parent's are known: its resource's
 * Parameters in the parent's template (CDK passes a parent's parameter as a Ref), put in with the
 * parent's values. Only values that become strings count, on both sides alike.
 */
function withNestedParameters(stack: PlannedStack, deployed: PlannedStack | undefined): PlannedStack {
  if (stack.nested.size === 0) return stack;
  const resources = resourcesOf(stack);
  const nested = new Map([...stack.nested].map(([id, child]) => {
    const given = (resources[id]?.Properties as { Parameters?: Record<string, unknown> } | undefined)?.Parameters ?? {};
    // Each value named as the parent names a key (keyOf): a deployed key by its live ARN, on both
    // sides alike, so that a key passed down (CDK's own reference parameters included) keeps its name.
    const values = Object.entries(given).map(([k, v]) => [k, keyOf(v, stack, deployed)] as const);
    const parameters = values.length > 0 ? { ...child.parameters, ...Object.fromEntries(values) } : child.parameters;
    return [id, withNestedParameters({ ...child, ...(parameters ? { parameters } : {}) }, deployed?.nested.get(id))] as const;
  }));
  return { ...stack, nested };
}

/**
 * A key ARN as the plan can name it: a literal ARN; a same-stack key that is deployed, by the ARN
 * its live physical ID gives; otherwise a description that stays the same on both sides of the
 * comparison (so an unchanged reference is not taken for a key change).
 */
function keyOf(raw: unknown, stack: PlannedStack, deployed: PlannedStack | undefined): string {
  const value = withParameters(raw, stack.parameters);
  if (typeof value === 'string') return value;
  const getAtt = (value as { 'Fn::GetAtt'?: unknown })?.['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') {
    const id = getAtt[0];
    const live = deployed?.live?.get(id);
    const env = deployed?.env ?? stack.env;
    if (getAtt[1] === 'Arn' && live?.physicalId && live.type === 'AWS::KMS::Key' && env) {
      return `arn:${env.partition}:kms:${env.region}:${env.account}:key/${live.physicalId}`;
    }
    // A nested stack's output: the key as the nested stack names it (CDK's way to pass a key up).
    const child = typeof getAtt[1] === 'string' && getAtt[1].startsWith('Outputs.') ? stack.nested.get(id) : undefined;
    const output = (child?.template as { Outputs?: Record<string, { Value?: unknown }> } | undefined)?.Outputs?.[String(getAtt[1]).slice('Outputs.'.length)];
    if (child && output?.Value !== undefined) return keyOf(output.Value, child, deployed?.nested.get(id));
    // Another attribute (an output the plan cannot follow, a custom resource's) is another key than the resource's Arn.
    return getAtt[1] === 'Arn' || getAtt[1] === undefined ? `key ${id} of ${stack.name}` : `the key ${id}.${String(getAtt[1])} of ${stack.name}`;
  }
  const ref = (value as { Ref?: unknown })?.Ref;
  if (typeof ref === 'string') return `the key passed to ${stack.name} as parameter ${ref}`;
  return `a key given as ${JSON.stringify(value)}`;
}

function propsOf(logicalId: string, stack: PlannedStack, deployed: PlannedStack | undefined): RevocationProperties {
  const p = (resourcesOf(stack)[logicalId]?.Properties ?? {}) as Record<string, unknown>;
  const keyLogicalId = propertyValue(p, 'KeyLogicalId');
  return {
    KeyArn: keyOf(p.KeyArn, stack, deployed),
    // A property left out means its default (contract version 2, lib/contract.ts), as for the handler.
    KeyLogicalId: typeof keyLogicalId === 'string' ? keyLogicalId : '',
    RevokeOnStackDelete: boolString(propertyValue(p, 'RevokeOnStackDelete'), 'true'),
    RevokeOnKeyReplacement: boolString(propertyValue(p, 'RevokeOnKeyReplacement'), 'true'),
    RevokeOnRemoval: boolString(propertyValue(p, 'RevokeOnRemoval'), 'false'),
    Revoked: boolString(propertyValue(p, 'Revoked'), 'false'),
    MaterialScope: propertyValue(p, 'MaterialScope') === 'CURRENT' ? 'CURRENT' : 'ALL',
    ...(p.KeyTagged === 'true' ? { KeyTagged: 'true' as const } : {}),
    ContractVersion: String(p.ContractVersion ?? ''),
  };
}

function constructPath(stack: PlannedStack, logicalId: string): string | undefined {
  const meta = (resourcesOf(stack)[logicalId] as { Metadata?: Record<string, unknown> } | undefined)?.Metadata;
  const p = meta?.['aws:cdk:path'];
  return typeof p === 'string' ? p.replace(/\/Resource$/, '') : undefined;
}

/** The physical ID a deployed revocation has: live when known, else the one its properties give. */
function deployedPhysicalId(stack: PlannedStack, logicalId: string, props: RevocationProperties): string {
  return stack.live?.get(logicalId)?.physicalId ?? physicalIdFor(props.KeyArn, props.Revoked === 'true');
}

/** Every revocation of a tree, with the physical ID it will have: for the rename guard. */
function treeRevocations(stack: PlannedStack, deployed: PlannedStack | undefined, path: string): LiveResource[] {
  const out: LiveResource[] = revocationsOf(stack).map((id) => {
    const props = propsOf(id, stack, deployed);
    return { stackId: path, logicalId: id, physicalId: physicalIdFor(props.KeyArn, props.Revoked === 'true'), type: RESOURCE_TYPE, status: 'UPDATE_COMPLETE' };
  });
  for (const [id, child] of stack.nested) out.push(...treeRevocations(child, deployed?.nested.get(id), `${path}/${id}`));
  return out;
}

/**
 * The template in force as the handler will read it while CloudFormation sends the event: the
 * stack's, with this resource's properties as the event carries them (the plan's own reading of
 * the key: an ARN, or a description of a key the deployment creates).
 */
function templateInForce(stack: PlannedStack, id: string, props: RevocationProperties): TemplateResources {
  return { ...resourcesOf(stack), [id]: { Type: RESOURCE_TYPE, Properties: { ...props } } };
}

function liveOf(stack: PlannedStack | undefined, path: string): LiveResource[] {
  if (stack && !stack.live) {
    // Offline (an earlier assembly, a saved template): every resource of the deployed template is
    // taken as live, under a physical ID the plan cannot know.
    return Object.entries(stack.template.Resources ?? {})
      .map(([logicalId, r]) => ({ stackId: path, logicalId, type: String((r as { Type?: unknown } | undefined)?.Type ?? ''), status: 'UPDATE_COMPLETE' }));
  }
  return [...(stack?.live ?? new Map()).entries()].map(([logicalId, r]) => ({ stackId: path, logicalId, ...r }));
}

/** Runs the rules to an answer with the facts given; a fact they still ask for is a gap in the plan. */
function run(facts: Facts): { verdict: PlanItem['verdict']; targets: readonly RevocationTarget[]; why: string; physicalId?: string } {
  const d = decide(facts);
  if (d.kind === 'need') return { verdict: 'fail', targets: [], why: `the plan cannot know ${d.fact} before the deployment` };
  if (d.kind === 'fail') return { verdict: 'fail', targets: [], why: d.reason };
  return { verdict: d.revoke.length > 0 ? 'revoke' : 'keep', targets: d.revoke, why: d.reason, physicalId: d.physicalId };
}

const committed = (depth: number, own = 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'): StackFacts[] =>
  [{ stackId: 'self', status: own }, ...Array.from({ length: depth }, (_, i) => ({ stackId: `ancestor${i}`, status: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' }))];

interface Walk {
  readonly items: PlanItem[];
  readonly tree: LiveResource[];
  /** The keys the next tree defines, named as keyOf names them: a key of another stack that is not among them goes (S10, L13). */
  readonly keys: ReadonlySet<string>;
  /** The keys a revocation of the next tree tags (KeyTagged): they keep the tag. */
  readonly tagged: ReadonlySet<string>;
}

/** Every key the tree defines (AWS::KMS::Key), named as a revocation's KeyArn names it. */
function treeKeys(stack: PlannedStack, deployed: PlannedStack | undefined): string[] {
  const resources = resourcesOf(stack);
  const own = Object.keys(resources).filter((id) => resources[id]?.Type === 'AWS::KMS::Key')
    .map((id) => keyOf({ 'Fn::GetAtt': [id, 'Arn'] }, stack, deployed));
  return [...own, ...[...stack.nested].flatMap(([id, child]) => treeKeys(child, deployed?.nested.get(id)))];
}

/** Keys tagged by a revocation of the tree (KeyTagged), as its KeyArn names them. */
function treeTagged(stack: PlannedStack, deployed: PlannedStack | undefined): string[] {
  const own = revocationsOf(stack).map((id) => propsOf(id, stack, deployed)).filter((p) => p.KeyTagged === 'true').map((p) => p.KeyArn);
  return [...own, ...[...stack.nested].flatMap(([id, child]) => treeTagged(child, deployed?.nested.get(id)))];
}

/**
 * Whether a key of another stack of the tree will still carry the construct's tag when the
 * cleanup comes: the update phase takes it off a key that stays, unless a revocation of the next
 * tree still tags it; a key the next tree no longer defines keeps it (it is deleted, not updated).
 */
function keyTagAfterUpdate(props: RevocationProperties, walk: Walk): Facts['keyTag'] {
  if (props.KeyTagged !== 'true') return undefined;
  return !walk.keys.has(props.KeyArn) || walk.tagged.has(props.KeyArn) ? 'tagged' : 'untagged';
}

/**
 * What deploying `next` over `deployed` revokes, stack by stack (nested stacks included), and what
 * destroying the stack after that deployment would revoke.
 */
export function plan(nextStack: PlannedStack, deployedStack: PlannedStack | undefined): PlanItem[] {
  const next = withNestedParameters(nextStack, deployedStack);
  const deployed = deployedStack && withNestedParameters(deployedStack, deployedStack);
  const walk: Walk = {
    items: [], tree: treeRevocations(next, deployed, next.name),
    keys: new Set(treeKeys(next, deployed)), tagged: new Set(treeTagged(next, deployed)),
  };
  planStack(next, deployed, 0, walk);
  planDestroy(next, deployed, 0, walk);
  return walk.items;
}

function item(walk: Walk, stack: PlannedStack, logicalId: string, when: When, key: string,
  result: ReturnType<typeof run>, phase?: string): void {
  walk.items.push({
    when, stack: stack.name, logicalId, constructPath: constructPath(stack, logicalId), verdict: result.verdict,
    keys: result.targets.map((t) => t.keyArn), key, why: result.why, phase: result.verdict === 'revoke' ? phase : undefined,
  });
}

function planStack(next: PlannedStack, deployed: PlannedStack | undefined, depth: number, walk: Walk): void {
  const before = new Set(revocationsOf(deployed));
  for (const id of revocationsOf(next)) {
    const props = propsOf(id, next, deployed);
    if (!before.has(id)) {
      const result = run({
        requestType: 'Create', logicalId: id, props, template: templateInForce(next, id, props),
        lineage: committed(depth, deployed ? 'UPDATE_IN_PROGRESS' : 'CREATE_IN_PROGRESS'), resource: { status: 'CREATE_IN_PROGRESS' },
      });
      item(walk, next, id, 'deploy', props.KeyArn, result, 'during the create of this resource (a failed create cannot undo it)');
      continue;
    }
    const old = propsOf(id, deployed!, deployed);
    const oldPhysical = deployedPhysicalId(deployed!, id, old);
    // The same template properties with the same parameter values: CloudFormation sends no event.
    if (JSON.stringify(resourcesOf(next)[id]?.Properties) === JSON.stringify(resourcesOf(deployed)[id]?.Properties) && props.KeyArn === old.KeyArn) {
      item(walk, next, id, 'deploy', props.KeyArn, { verdict: 'keep', targets: [], why: 'unchanged: CloudFormation sends it no event' });
      continue;
    }
    const update = run({
      requestType: 'Update', logicalId: id, physicalId: oldPhysical, props, oldProps: old, lineage: committed(depth, 'UPDATE_IN_PROGRESS'),
      resource: { status: 'UPDATE_IN_PROGRESS', physicalId: oldPhysical },
    });
    if (update.physicalId === undefined || update.physicalId === oldPhysical) {
      item(walk, next, id, 'deploy', props.KeyArn, { ...update, verdict: update.verdict === 'fail' ? 'fail' : 'keep', targets: [] });
      continue;
    }
    // A new physical ID: CloudFormation deletes the old one in the cleanup after a successful update.
    const result = run(cleanupFacts(id, oldPhysical, old, next, deployed, depth, walk,
      [{ stackId: next.name, logicalId: id, physicalId: update.physicalId, type: RESOURCE_TYPE, status: 'UPDATE_COMPLETE' }]));
    item(walk, next, id, 'deploy', old.KeyArn, result, 'in the cleanup, once the update has succeeded');
  }
  for (const id of before) {
    if (own(resourcesOf(next), id)?.Type === RESOURCE_TYPE) continue;
    const old = propsOf(id, deployed!, deployed);
    const result = run(cleanupFacts(id, deployedPhysicalId(deployed!, id, old), old, next, deployed, depth, walk, []));
    item(walk, next, id, 'deploy', old.KeyArn, result, 'in the cleanup, once the update has succeeded');
  }
  for (const [nestedId, child] of deployed?.nested ?? new Map<string, PlannedStack>()) {
    const still = next.nested.get(nestedId);
    if (still) planStack(still, child, depth + 1, walk);
    else planRemovedNested(child, depth + 1, walk);
  }
  for (const [nestedId, child] of next.nested) {
    if (!deployed?.nested.has(nestedId)) planStack(child, undefined, depth + 1, walk);
  }
}

function cleanupFacts(id: string, physicalId: string, old: RevocationProperties, next: PlannedStack, deployed: PlannedStack | undefined,
  depth: number, walk: Walk, replacement: LiveResource[]): Facts {
  return {
    requestType: 'Delete', logicalId: id, physicalId, props: old,
    lineage: committed(depth),
    template: resourcesOf(next),
    ownResources: [...replacement, ...liveOf(deployed, next.name).filter((r) => r.logicalId !== id)],
    treeRevocations: walk.tree,
    resource: { status: 'DELETE_IN_PROGRESS', physicalId }, deletionEvent: true,
    keyTag: keyTagAfterUpdate(old, walk),
  };
}

/** A nested stack removed or renamed by the deployment: every revocation in it (and below) gets its Delete (L24). */
function planRemovedNested(stack: PlannedStack, depth: number, walk: Walk): void {
  for (const id of revocationsOf(stack)) {
    const old = propsOf(id, stack, stack);
    const physicalId = deployedPhysicalId(stack, id, old);
    const lineage: StackFacts[] = [{ stackId: 'self', status: 'DELETE_IN_PROGRESS' },
      ...committed(depth - 1).map((s, i) => (i === 0 ? { ...s, status: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' } : s))];
    const result = run({
      requestType: 'Delete', logicalId: id, physicalId, props: old, lineage, treeRevocations: walk.tree,
      resource: { status: 'DELETE_IN_PROGRESS', physicalId }, template: templateInForce(stack, id, old),
      ownResources: liveOf(stack, stack.name), keyTag: keyTagAfterUpdate(old, walk),
    });
    item(walk, stack, id, 'deploy', old.KeyArn, result, 'when the nested stack is deleted, in the cleanup of the successful update');
  }
  for (const child of stack.nested.values()) planRemovedNested(child, depth + 1, walk);
}

/** `cdk destroy` of the stack as this deployment leaves it (L6, L7, L22). */
function planDestroy(stack: PlannedStack, deployed: PlannedStack | undefined, depth: number, walk: Walk): void {
  // A deployed stack that never became stable (ROLLBACK_COMPLETE) would still revoke nothing on
  // deletion; after a successful deployment the stack is stable.
  for (const id of revocationsOf(stack)) {
    const props = propsOf(id, stack, deployed);
    const physicalId = physicalIdFor(props.KeyArn, props.Revoked === 'true');
    const result = run({
      requestType: 'Delete', logicalId: id, physicalId, props,
      lineage: Array.from({ length: depth + 1 }, (_, i) => ({ stackId: `s${i}`, status: 'DELETE_IN_PROGRESS' })),
      everStable: true, resource: { status: 'DELETE_IN_PROGRESS', physicalId }, template: templateInForce(stack, id, props),
    });
    item(walk, stack, id, 'destroy', props.KeyArn, result, 'when the stack is destroyed');
  }
  for (const [id, child] of stack.nested) planDestroy(child, deployed?.nested.get(id), depth + 1, walk);
}
