/**
 * The decision rules of Custom::KmsKeyMaterialRevocation (../shared/LIFECYCLE.md) as one pure
 * function: observed facts in, a decision and its reason out. No I/O, no SDK, no Lambda runtime:
 * the handler gathers the facts the function asks for (lambda/facts.ts), and the plan command
 * feeds it the facts knowable before a deployment.
 *
 * The function is called repeatedly: while it lacks a fact it answers `{ kind: 'need', fact }`,
 * the caller reads that fact (or records why it could not) and calls again. So the handler reads
 * only what the event at hand needs: a stack deletion never lists resources, an in-place update
 * reads nothing.
 *
 * CloudFormation behaviour relied on (AWS CloudFormation User Guide):
 * - "Delete" request reference (crpg-ref-requesttypes-delete.html) and "Update" request reference
 *   (crpg-ref-requesttypes-update.html): a PhysicalResourceId returned on Update that differs from
 *   the old one is a replacement, and CloudFormation sends the old one a Delete in the cleanup
 *   after the update succeeded (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS), or after a rollback; a
 *   removed resource gets its Delete in the same cleanup phases.
 * - Every resource is created or updated in the update phase, before any cleanup Delete, and the
 *   update can no longer roll back once the cleanup has begun ("Stack status codes").
 * - Nested stacks: DescribeStacks gives ParentId and RootId; a nested stack is DELETE_IN_PROGRESS
 *   whenever it is deleted, so only its ancestors tell why (AWS::CloudFormation::Stack, "Working
 *   with nested stacks").
 * - Stack refactoring moves or renames resources without sending them any event.
 */
import {
  FAILED_CREATE_PHYSICAL_ID_PREFIX, KEY_TAG, MaterialScopeValue, PHYSICAL_ID_PREFIX, propertyValue, RegionsValue, RESOURCE_TYPE,
  REVOKED_PHYSICAL_ID_PREFIX, RevocationProperties,
} from '../lib/contract';
import { isCommittedUpdate, isDeleting, isRollback, isUpdateCleanup } from './status';

export type RequestType = 'Create' | 'Update' | 'Delete';

/** One stack of the lineage: the handler's own stack first, then each parent up to the root. */
export interface StackFacts {
  readonly stackId: string;
  readonly status: string;
}

/** A resource of a stack as ListStackResources shows it. */
export interface LiveResource {
  readonly stackId: string;
  readonly logicalId: string;
  readonly physicalId?: string;
  readonly type: string;
  readonly status: string;
}

/** A template's Resources section: logical ID to resource. */
export type TemplateResources = Record<string, { Type?: unknown; Properties?: Record<string, unknown> } | undefined>;

/** Facts the rules may ask for, in the order they usually do. */
export type FactName = 'lineage' | 'history' | 'template' | 'ownResources' | 'treeRevocations' | 'resource' | 'deletionEvent' | 'keyTag';

/**
 * Whether a key of another stack of the tree still carries KEY_TAG (KMS ListResourceTags): the
 * update removes the tag in its update phase when the revocation goes and the key stays, and
 * leaves it when the key goes too (S10, L13). 'gone': KMS no longer has the key.
 */
export type KeyTagState = 'tagged' | 'untagged' | 'gone';

/** This logical resource as the own stack shows it (DescribeStackResource), `null` when it has none. */
export interface ResourceState {
  readonly status: string;
  readonly physicalId?: string;
}

/** What is known about one request. Absent facts are asked for when a rule needs them. */
export interface Facts {
  readonly requestType: RequestType;
  readonly logicalId: string;
  /** Absent on Create. */
  readonly physicalId?: string;
  /** The request's properties (the old resource's, on a Delete). */
  readonly props: RevocationProperties;
  /** On Update: the properties before the update. */
  readonly oldProps?: RevocationProperties;
  /** The own stack first, then its ancestors up to the root (one entry for a stack that is not nested). */
  readonly lineage?: readonly StackFacts[];
  /** Whether the root (the stack itself, when not nested) ever reached a stable state, from its history. */
  readonly everStable?: boolean;
  /** The own stack's current template (the new one, once an update has succeeded). */
  readonly template?: TemplateResources;
  /** The own stack's live resources. */
  readonly ownResources?: readonly LiveResource[];
  /** The revocation resources of every stack in the root's tree (the own stack's, when not nested). */
  readonly treeRevocations?: readonly LiveResource[];
  /**
   * Why the request is refused before any rule runs (L26, L29): a StackId other than the one bound
   * at deploy time, an expired ResponseURL, a ServiceTimeout that has passed.
   */
  readonly refusal?: string;
  /** When CloudFormation signed the request's ResponseURL (ms since the epoch), when known: bounds the event scans. */
  readonly sentAt?: number;
  /** Evidence for a revocation: this logical resource's own state in the stack. */
  readonly resource?: ResourceState | null;
  /** When that evidence was read (ms since the epoch): not for the rules, for a revocation that waits its turn. */
  readonly resourceSeenAt?: number;
  /** Evidence for a revocation in a replacement's cleanup: the stack's events show this physical ID's deletion under way. */
  readonly deletionEvent?: boolean;
  /** For a revocation whose key is another stack's of the tree (KeyTagged): whether the key still carries the tag. */
  readonly keyTag?: KeyTagState;
  /** Facts that could not be read, with why: a rule that needs one of them fails rather than guess (L21). */
  readonly unreadable?: Partial<Record<FactName, string>>;
}

/** A key to revoke and why. */
export interface RevocationTarget {
  readonly keyArn: string;
  readonly scope: MaterialScopeValue;
  /** A multi-Region key's Regions (LIFECYCLE M1): every Region where it holds material, or the key's own only. */
  readonly regions: RegionsValue;
  readonly why: string;
}

export type Decision =
  | { readonly kind: 'need'; readonly fact: FactName }
  /** Answer SUCCESS with `physicalId`, after validating `validate` (a key ARN) and revoking `revoke`, in that order. */
  | {
    readonly kind: 'answer';
    readonly physicalId: string;
    readonly validate?: string;
    /**
     * Keys a cleanup will revoke if the update succeeds (L28): checked now with the reads a
     * revocation makes, so that a denial fails the update, which can still roll back.
     */
    readonly precheck?: readonly RevocationTarget[];
    /**
     * A key of another stack of the tree (KeyTagged) whose tag must be there now (L28): a cleanup
     * reads it to tell "removed together" from "the key stays", and a tag that is missing, or
     * cannot be read, fails this create or update instead, while it can still roll back.
     */
    readonly checkTag?: string;
    readonly revoke: readonly RevocationTarget[];
    /** In a stack deletion: the earliest moment to revoke (ms since the epoch), this resource's turn (see turnOf). */
    readonly notBefore?: number;
    readonly decision: 'revoked' | 'skipped' | 'validated';
    readonly reason: string;
  }
  | { readonly kind: 'fail'; readonly reason: string };

export const REIMPORT_NOTE = 'material revoked earlier stays revoked: re-importing it is the only way back';

const on = (value: string | undefined) => value === 'true';

/** A key's physical ID: derived from the key ARN and the switch alone (L1, L8, L9, L14). */
export function physicalIdFor(keyArn: string, revoked: boolean): string {
  return (revoked ? REVOKED_PHYSICAL_ID_PREFIX : PHYSICAL_ID_PREFIX) + keyArn;
}

/** What a physical ID of ours says: the key it manages and whether the switch was on. */
export type ParsedPhysicalId =
  | { readonly kind: 'key'; readonly keyArn: string; readonly revoked: boolean }
  | { readonly kind: 'failed-create' }
  | { readonly kind: 'foreign' };

export function parsePhysicalId(physicalId: string | undefined): ParsedPhysicalId {
  if (!physicalId) return { kind: 'foreign' };
  if (physicalId.startsWith(FAILED_CREATE_PHYSICAL_ID_PREFIX)) return { kind: 'failed-create' };
  if (physicalId.startsWith(REVOKED_PHYSICAL_ID_PREFIX)) {
    return { kind: 'key', keyArn: physicalId.slice(REVOKED_PHYSICAL_ID_PREFIX.length), revoked: true };
  }
  // Also the ID of a resource deployed with the switch on before the revoked prefix existed: it
  // revoked at the time, and is treated as "off" so that nothing revokes it again by itself.
  if (physicalId.startsWith(PHYSICAL_ID_PREFIX)) return { kind: 'key', keyArn: physicalId.slice(PHYSICAL_ID_PREFIX.length), revoked: false };
  return { kind: 'foreign' };
}

/** Own properties only: a logical ID such as `constructor` must not find Object.prototype's member (L30). */
export function own<T>(record: Record<string, T> | undefined, key: string): T | undefined {
  return record && Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/** The material scope of the new template's properties when it is a literal, else `fallback`. */
function scopeOf(properties: Record<string, unknown> | undefined, fallback: MaterialScopeValue): MaterialScopeValue {
  const scope = properties && propertyValue(properties, 'MaterialScope');
  return scope === 'ALL' || scope === 'CURRENT' ? scope : fallback;
}

/** The Regions setting of properties (absent: ALL, as for resources deployed before it existed). */
function regionsOf(properties: { Regions?: unknown } | undefined, fallback: RegionsValue = 'ALL'): RegionsValue {
  const regions = properties?.Regions;
  if (regions === undefined) return properties ? 'ALL' : fallback;
  return regions === 'ALL' || regions === 'KEY_REGION' ? regions : fallback;
}

function literalBool(value: unknown): boolean | undefined {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return undefined;
}

const isLive = (r: LiveResource) => !r.status.startsWith('DELETE');

/**
 * A key's identity: account and key ID. A multi-Region key has one key ID (mrk-...) in every
 * Region, so its ARNs in two Regions name the same key (LIFECYCLE M1); single-Region key IDs are
 * unique anyway.
 */
export function sameKey(a: string, b: string): boolean {
  if (a === b) return true;
  const id = (arn: string) => /^arn:[^:]+:kms:[^:]*:(\d{12}):key\/(.+)$/.exec(arn);
  const x = id(a);
  const y = id(b);
  return !!x && !!y && x[1] === y[1] && x[2] === y[2] && x[2].startsWith('mrk-');
}

/** The key ID part of a key ARN: what a live AWS::KMS::Key resource has as its physical ID. */
function keyIdOf(keyArn: string): string {
  return keyArn.slice(keyArn.lastIndexOf('/') + 1);
}

function answer(physicalId: string, decision: 'revoked' | 'skipped' | 'validated', reason: string,
  revoke: readonly RevocationTarget[] = [], validate?: string, precheck?: readonly RevocationTarget[]): Decision {
  return { kind: 'answer', physicalId, decision, reason, revoke, validate, ...(precheck?.length ? { precheck } : {}) };
}

const need = (fact: FactName): Decision => ({ kind: 'need', fact });

/**
 * L28, S10: a create or update of a revocation of a tagged key checks the key's tag as well, once
 * the statuses show no rollback: a rollback never fails, so statuses that cannot be read leave the
 * check out (and the reason says so) rather than risk one.
 */
function withTagCheck(facts: Facts, decision: Decision): Decision {
  if (!on(facts.props.KeyTagged) || decision.kind !== 'answer') return decision;
  if (!facts.lineage) {
    if (facts.unreadable?.lineage === undefined) return need('lineage');
    return { ...decision, reason: `${decision.reason}; the key's tag ${KEY_TAG} was not checked (the stack statuses could not be read)` };
  }
  return rollbackIn(facts.lineage) ? decision : { ...decision, checkTag: facts.props.KeyArn };
}
const fail = (reason: string): Decision => ({ kind: 'fail', reason });

/**
 * The decision for one request. A request that is refused revokes nothing (L26, L29): first
 * CloudFormation's own record must show it doing now what the request says; then the rules
 * decide; a decision to revoke during a create or a stack deletion also needs the template in
 * force to carry the request's properties.
 */
export function decide(facts: Facts): Decision {
  if (facts.refusal) return fail(`refused: ${facts.refusal}; nothing was revoked`);
  const unproven = inProgressEvidence(facts);
  if (unproven) return unproven;
  const decision = rules(facts);
  if (decision.kind !== 'answer' || decision.revoke.length === 0) return decision;
  if (facts.requestType === 'Create') return boundToTemplate(facts) ?? decision;
  if (!isDeleting(facts.lineage![0].status)) return decision;
  const unbound = boundToTemplate(facts);
  if (unbound) return unbound;
  const notBefore = turnOf(facts);
  return notBefore === undefined ? decision : { ...decision, notBefore };
}

/**
 * KMS answers at most 15 DeleteImportedKeyMaterial requests a second per account and Region (AWS
 * KMS Developer Guide, "Request quotas"), and a stack deletion sends all its revocations' Deletes
 * at once, each to a Lambda sandbox of its own: without a word between them they would all call at
 * the same moment, and most would be throttled and sleep in backoff while the quota goes idle.
 */
export const DELETE_PACE_PER_SECOND = 15;

/**
 * This resource's turn in a stack deletion: its place among the template's revocations that
 * revoke on stack deletion, at DELETE_PACE_PER_SECOND from the moment CloudFormation signed the
 * request (X-Amz-Date, to the second). The turns of one stack's wave so fill the quota without
 * crowding it, and a request sent after its turn goes at once; the wait is at most N/15 s (17 s
 * at the 250 keys a stack holds). Other stacks deleted at the same time take their turns from the
 * same quota, and their requests are throttled and retried as before. The order is the template's
 * (GUESS: the order in which CloudFormation sends a wave is not documented; any fixed order
 * spreads it).
 */
function turnOf(facts: Facts): number | undefined {
  if (facts.sentAt === undefined || !facts.template) return undefined;
  const revoking = Object.entries(facts.template)
    .filter(([, r]) => r?.Type === RESOURCE_TYPE && literalBool(propertyValue(r.Properties ?? {}, 'RevokeOnStackDelete')))
    .map(([id]) => id);
  const place = revoking.indexOf(facts.logicalId);
  return place < 0 ? undefined : facts.sentAt + Math.floor(place * 1000 / DELETE_PACE_PER_SECOND);
}

function rules(facts: Facts): Decision {
  switch (facts.requestType) {
    case 'Create': return withTagCheck(facts, decideCreate(facts));
    case 'Update': return withTagCheck(facts, decideUpdate(facts));
    case 'Delete': return decideDelete(facts);
  }
}

const IN_PROGRESS: Record<RequestType, string> = { Create: 'CREATE_IN_PROGRESS', Update: 'UPDATE_IN_PROGRESS', Delete: 'DELETE_IN_PROGRESS' };

/**
 * L26, L29, for every request: the stack's own word that this logical resource is being created,
 * updated or deleted right now, under the request's physical ID (DescribeStackResource). A
 * hand-made event while the stack is idle, a stale or duplicate delivery after the resource is
 * gone, a Delete for a physical ID that is live again, all find the resource in another state
 * and are refused, whatever they ask. A replaced physical ID is no longer the resource's: in a
 * cleanup (after an update, or after its rollback) its deletion shows in the stack's events.
 * (GUESS: CloudFormation records the resource's *_IN_PROGRESS before it invokes the provider;
 * every custom resource's stack events show it first, but the documentation does not say it.)
 */
function inProgressEvidence(facts: Facts): Decision | undefined {
  const physical = facts.physicalId;
  const doing = facts.requestType === 'Create' ? 'creating' : facts.requestType === 'Update' ? 'updating' : 'deleting';
  if (facts.resource === undefined) {
    return unreadable(facts, 'resource', `whether CloudFormation is ${doing} this resource`) ?? need('resource');
  }
  const expected = IN_PROGRESS[facts.requestType];
  const state = facts.resource;
  if (state && state.status === expected && (facts.requestType === 'Create' || state.physicalId === physical)) return undefined;
  if (facts.requestType === 'Delete' && state && !state.status.startsWith('DELETE') && state.physicalId !== physical) {
    if (!facts.lineage) return unreadable(facts, 'lineage', 'whether a replaced resource is being cleaned up') ?? need('lineage');
    const own = facts.lineage[0].status;
    if (own === 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' || own === 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS') {
      if (facts.deletionEvent === undefined) {
        return unreadable(facts, 'deletionEvent', 'whether CloudFormation is deleting this replaced resource') ?? need('deletionEvent');
      }
      if (facts.deletionEvent) return undefined;
      return fail(`refused: the stack's events show no deletion of ${facts.logicalId} (physical ID ${physical}) under way, ` +
        'so CloudFormation did not send this request; nothing was revoked');
    }
  }
  const seen = state ? `${state.status}${state.physicalId ? ` with physical ID ${state.physicalId}` : ''}` : 'not in the stack';
  return fail(`refused: a ${facts.requestType} request for ${facts.logicalId}, but the stack shows it ${seen}, not ${expected}` +
    `${facts.requestType === 'Create' ? '' : ` with physical ID ${physical}`}: CloudFormation did not send this request now; nothing was revoked`);
}

/** The request's properties that decide a revocation, as the template in force has them (literal values; KeyArn also by reference). */
/**
 * What a revoking request must carry as the template in force says. RevokeOnRemoval and
 * RevokeOnKeyReplacement matter where a stack deletion is not the root's: a nested stack removed
 * by its parent's successful update (L24) is deleted as a whole, its template still in force.
 */
const BOUND_PROPERTIES = ['RevokeOnStackDelete', 'RevokeOnRemoval', 'RevokeOnKeyReplacement', 'Revoked', 'MaterialScope', 'KeyLogicalId'] as const;

function boundToTemplate(facts: Facts): Decision | undefined {
  if (!facts.template) return unreadable(facts, 'template', 'whether the request\'s properties are the stack\'s') ?? need('template');
  const def = own(facts.template, facts.logicalId);
  if (!def || def.Type !== RESOURCE_TYPE) {
    return fail(`refused: the stack's template has no ${RESOURCE_TYPE} ${facts.logicalId}; nothing was revoked`);
  }
  const properties = def.Properties ?? {};
  for (const name of BOUND_PROPERTIES) {
    // Left out means the version's default (contract version 2); in version 1 only KeyLogicalId has one.
    const value = propertyValue(properties, name);
    const literal = typeof value === 'string' || typeof value === 'boolean' ? String(value) : value === undefined ? '' : undefined;
    if (literal !== undefined && literal !== facts.props[name]) {
      return fail(`refused: the request's ${name} is '${facts.props[name]}' but the stack's template says '${literal}'; nothing was revoked`);
    }
  }
  // Regions: absent on either side means ALL (M1); a token in the template is not compared.
  const regions = properties.Regions;
  if ((regions === undefined || typeof regions === 'string') && regionsOf(properties) !== regionsOf(facts.props)) {
    return fail(`refused: the request's Regions is '${regionsOf(facts.props)}' but the stack's template says '${regionsOf(properties)}'; nothing was revoked`);
  }
  // KeyTagged: absent on either side means 'false'.
  const tagged = properties.KeyTagged;
  if ((tagged === undefined || typeof tagged === 'string') && String(tagged ?? 'false') !== (facts.props.KeyTagged ?? 'false')) {
    return fail(`refused: the request's KeyTagged is '${facts.props.KeyTagged ?? 'false'}' but the stack's template says '${tagged ?? 'false'}'; nothing was revoked`);
  }
  const keyArn = properties.KeyArn;
  if (typeof keyArn === 'string' && !sameKey(keyArn, facts.props.KeyArn)) {
    return fail(`refused: the request names key ${facts.props.KeyArn} but the stack's template names ${keyArn}; nothing was revoked`);
  }
  const getAtt = (keyArn as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  // A same-stack key's Arn. Another resource's attribute (a nested stack's output, a custom
  // resource's) is not compared, as a parameter is not: the physical ID binds the key (L30).
  const target = Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? own(facts.template, getAtt[0]) : undefined;
  if (Array.isArray(getAtt) && getAtt[1] === 'Arn' && (target?.Type === 'AWS::KMS::Key' || target?.Type === 'AWS::KMS::ReplicaKey')) {
    // A same-stack key: its live physical ID is the key ID of the ARN the request names.
    if (!facts.ownResources) return unreadable(facts, 'ownResources', 'which key the template names') ?? need('ownResources');
    const key = facts.ownResources.find((r) => r.logicalId === getAtt[0]);
    if (!key || key.physicalId !== keyIdOf(facts.props.KeyArn)) {
      return fail(`refused: the request names key ${facts.props.KeyArn} but the stack's ${getAtt[0]} is ${key?.physicalId ?? 'not there'}; nothing was revoked`);
    }
  }
  return undefined;
}


/** A fact that could not be read, as a failure naming what it was needed for. */
function unreadable(facts: Facts, fact: FactName, neededFor: string): Decision | undefined {
  const why = facts.unreadable?.[fact];
  return why === undefined ? undefined : fail(`${why}; it is needed to tell ${neededFor}, and the handler does not guess`);
}

function rollbackIn(lineage: readonly StackFacts[]): StackFacts | undefined {
  return lineage.find((s) => isRollback(s.status));
}

function describeLineage(lineage: readonly StackFacts[]): string {
  if (lineage.length === 1) return `the stack is ${lineage[0].status}`;
  return `the stack is ${lineage[0].status} and its ancestors ${lineage.slice(1).map((s) => s.status).join(' < ')}`;
}

// ---- Create: L1-L3, L14 -------------------------------------------------------------------------

function decideCreate(facts: Facts): Decision {
  const props = facts.props;
  if (!on(props.Revoked)) {
    return answer(physicalIdFor(props.KeyArn, false), 'validated',
      'key exists, has Origin EXTERNAL and is in the stack\'s account; nothing revoked on create', [], props.KeyArn);
  }
  // A create has no later phase to revoke in: the switch revokes now, unless CloudFormation is undoing something.
  if (!facts.lineage) return unreadable(facts, 'lineage', 'whether this create is part of a rollback') ?? need('lineage');
  const rollback = rollbackIn(facts.lineage);
  const physicalId = physicalIdFor(props.KeyArn, true);
  if (rollback) {
    return answer(physicalId, 'skipped', `revoked is on, but a stack is ${rollback.status}: rollbacks never revoke`, [], props.KeyArn);
  }
  return answer(physicalId, 'revoked', 'revoked is on at create',
    [{ keyArn: props.KeyArn, scope: props.MaterialScope, regions: regionsOf(props), why: 'revoked is on at create' }], props.KeyArn);
}

// ---- Update: L8-L11, L14 (the update phase never revokes) ---------------------------------------

function decideUpdate(facts: Facts): Decision {
  const props = facts.props;
  const old = facts.oldProps!;
  const keyChanged = !sameKey(props.KeyArn, old.KeyArn);
  const switchChanged = on(props.Revoked) !== on(old.Revoked);
  if (parsePhysicalId(facts.physicalId).kind === 'failed-create') {
    // An Update of a resource whose create failed (a --no-rollback create, updated to repair it):
    // nothing was created yet, so it starts as a create would, without revoking (GUESS: the
    // documentation does not say which physical ID such an Update carries).
    return answer(physicalIdFor(props.KeyArn, on(props.Revoked)), 'validated',
      'the resource\'s create had failed: validated as on create; nothing revoked in an update phase', [], props.KeyArn);
  }
  if (!keyChanged && !switchChanged) {
    return answer(facts.physicalId!, 'skipped', 'in-place update of the same key: nothing revoked');
  }
  const current = parsePhysicalId(facts.physicalId);
  // A new physical ID makes CloudFormation send the old one a Delete in the cleanup, once the
  // update has succeeded: the old key's replacement (L9) and the switch (L14) act there.
  const physicalId = physicalIdFor(props.KeyArn, on(props.Revoked));
  const switchOn = on(props.Revoked) && (keyChanged || !on(old.Revoked));
  const switchNote = on(props.Revoked)
    ? `revoked is on: ${props.KeyArn} is revoked in the cleanup once the update has succeeded, never if it rolls back`
    : (on(old.Revoked) ? `revoked switched off; ${REIMPORT_NOTE}` : '');
  // Validating the new key and checking the keys the cleanup will revoke must not fail a rollback
  // (whose "new" key is the original one). An unreadable status is read as a forward update for
  // validation, which only reads; the cleanup checks are then left out rather than risk a rollback.
  if (!facts.lineage && !facts.unreadable?.lineage) return need('lineage');
  const rollback = facts.lineage && rollbackIn(facts.lineage);
  if (rollback) {
    // A rollback must never fail: after this resource's own Update failed, its physical ID still
    // names the key the failed update asked for, and the rollback Update brings the old one back.
    return answer(physicalId, 'skipped', `a stack is ${rollback.status}: rollbacks never revoke${switchNote ? `; ${switchNote}` : ''}`);
  }
  if (current.kind === 'key' && !sameKey(current.keyArn, old.KeyArn) && !sameKey(current.keyArn, props.KeyArn)) {
    // The physical ID is CloudFormation's record of the key this resource manages (L30).
    return fail(`the physical ID names key ${current.keyArn} but the update is from ${old.KeyArn} to ${props.KeyArn}: the request contradicts itself`);
  }
  // L28: what the cleanup will need is checked now, while a denial can still fail the update.
  const precheck: RevocationTarget[] = [];
  if (facts.lineage) {
    if (keyChanged && on(props.RevokeOnKeyReplacement)) {
      precheck.push({ keyArn: old.KeyArn, scope: old.MaterialScope, regions: regionsOf(old), why: 'revoked in the cleanup as the replaced key' });
    }
    if (switchOn) precheck.push({ keyArn: props.KeyArn, scope: props.MaterialScope, regions: regionsOf(props), why: 'revoked in the cleanup by the switch' });
  }
  const checks = precheck.length > 0 ? `; checked now what the cleanup will need for ${precheck.map((t) => t.keyArn).join(' and ')}` : '';
  if (!keyChanged) return answer(physicalId, 'skipped', `in-place update of the same key; ${switchNote}${checks}`, [], undefined, precheck);
  return answer(physicalId, 'validated',
    `key changed from ${old.KeyArn}: new physical ID; the old key is dealt with in the cleanup if the update succeeds${switchNote ? `; ${switchNote}` : ''}${checks}`,
    [], props.KeyArn, precheck);
}

// ---- Delete: L4-L7, L9, L12, L13, L20-L25, L27, L30 ---------------------------------------------

function decideDelete(facts: Facts): Decision {
  const props = facts.props;
  const physical = facts.physicalId!;
  const parsed = parsePhysicalId(physical);
  if (parsed.kind === 'failed-create') return answer(physical, 'skipped', 'this resource\'s own create failed: there is nothing to clean up');
  if (parsed.kind === 'foreign') {
    return answer(physical, 'skipped', `physical ID ${physical} was not made by this handler: it names no key this resource manages`);
  }
  if (!facts.lineage) return unreadable(facts, 'lineage', 'a stack deletion from an update cleanup or a rollback') ?? need('lineage');
  const lineage = facts.lineage;
  const rollback = rollbackIn(lineage);
  if (rollback) {
    return answer(physical, 'skipped',
      `${describeLineage(lineage)}: rollbacks never revoke${on(props.Revoked) || parsed.revoked ? `; ${REIMPORT_NOTE}` : ''}`);
  }
  if (!sameKey(parsed.keyArn, props.KeyArn)) {
    // The physical ID is CloudFormation's record of what this resource manages (L30).
    return fail(`the physical ID names key ${parsed.keyArn} but KeyArn is ${props.KeyArn}: the request contradicts itself, and neither key is revoked on a guess`);
  }
  const own = lineage[0];
  if (isDeleting(own.status)) {
    const survivor = lineage.find((s) => !isDeleting(s.status));
    if (!survivor) return stackDeletion(facts, physical);
    const above = lineage.slice(lineage.indexOf(survivor) + 1);
    if (isUpdateCleanup(survivor.status) && above.every((s) => isCommittedUpdate(s.status))) return nestedStackRemoved(facts, physical);
    return fail(`${describeLineage(lineage)}, which is neither a stack deletion, the removal of a nested stack by a ` +
      'successful update nor a rollback; the handler neither revokes nor skips on a guess');
  }
  if (isUpdateCleanup(own.status)) {
    const uncommitted = lineage.slice(1).find((s) => !isCommittedUpdate(s.status));
    if (uncommitted) {
      return fail(`${describeLineage(lineage)}: a cleanup Delete while an ancestor's update has not succeeded yet; ` +
        'the handler neither revokes nor skips on a guess');
    }
    return updateCleanup(facts, physical);
  }
  return fail(`a Delete arrived while ${describeLineage(lineage)}, which is neither a stack deletion, an update cleanup nor a rollback; ` +
    'the handler neither revokes nor skips on a guess');
}

/** L6, L7, L22, L25: the stack (and, for a nested stack, its root) is being deleted. */
function stackDeletion(facts: Facts, physical: string): Decision {
  const props = facts.props;
  const nested = facts.lineage!.length > 1;
  const what = nested ? 'deletion of the root stack' : 'stack deletion';
  if (!on(props.RevokeOnStackDelete)) return answer(physical, 'skipped', `${what}, revokeOnStackDelete is off`);
  // The cheap evidence first: a stale or forged Delete is refused after one read, not after the history.
  if (facts.resource === undefined && !facts.unreadable?.resource) return need('resource');
  if (facts.everStable === undefined) {
    return unreadable(facts, 'history', 'a stack deletion from the cleanup of a failed create') ?? need('history');
  }
  if (!facts.everStable) {
    return answer(physical, 'skipped', `${what} of a stack that never reached a stable state: the cleanup of a failed create never revokes`);
  }
  return answer(physical, 'revoked', what, [{ keyArn: props.KeyArn, scope: props.MaterialScope, regions: regionsOf(props), why: what }]);
}

/** L24: a nested stack deleted by a successful update of an ancestor (removed or renamed). */
function nestedStackRemoved(facts: Facts, physical: string): Decision {
  const props = facts.props;
  if (props.KeyLogicalId) {
    // The key is defined in this nested stack, which goes away with everything in it (L13),
    // unless a refactor moved the key out of it before this update (L27). A refactor that only
    // renamed the key within it leaves the key to go with the stack too.
    const gone = keyLeftTheStack(facts, true);
    if (typeof gone !== 'boolean') return gone;
    if (gone) return removalOfConstruct(facts, physical, `nested stack removed by a successful update; ${KEY_LEFT(props.KeyLogicalId)}`);
    if (!on(props.RevokeOnStackDelete)) {
      return answer(physical, 'skipped', 'nested stack removed by an update, with the key defined in it; revokeOnStackDelete is off');
    }
    const why = `nested stack removed by a successful update, together with its key ${props.KeyLogicalId}`;
    return revokeUnlessManagedElsewhere(facts, physical, why);
  }
  if (on(props.KeyTagged)) return removalWithTaggedKey(facts, physical, 'nested stack removed or renamed by a successful update');
  return removalOfConstruct(facts, physical, 'nested stack removed or renamed by a successful update while the key stays');
}

/** L9, L12, L13, L14, L27: a Delete in the cleanup after a successful update of the own stack. */
function updateCleanup(facts: Facts, physical: string): Decision {
  if (!facts.template) return unreadable(facts, 'template', 'a replacement from a removal') ?? need('template');
  const current = own(facts.template, facts.logicalId);
  if (current && current.Type === RESOURCE_TYPE) return replaced(facts, physical, current.Properties);
  const props = facts.props;
  if (on(props.KeyTagged)) return removalWithTaggedKey(facts, physical, 'construct removed');
  if (!props.KeyLogicalId || own(facts.template, props.KeyLogicalId)) {
    return removalOfConstruct(facts, physical, 'construct removed while the key stays');
  }
  // The key's logical ID left the template: removed with the construct, unless a refactor only
  // renamed it and it is still a live resource of the stack (L27).
  if (!facts.ownResources) return unreadable(facts, 'ownResources', 'a removed key from a renamed one') ?? need('ownResources');
  const keyId = keyIdOf(props.KeyArn);
  const renamed = facts.ownResources.find((r) => r.type === 'AWS::KMS::Key' && r.physicalId === keyId &&
    r.logicalId !== props.KeyLogicalId && isLive(r));
  if (renamed) {
    return removalOfConstruct(facts, physical, `construct removed while the key stays (now ${renamed.logicalId}, renamed by a refactor)`);
  }
  const gone = keyLeftTheStack(facts);
  if (typeof gone !== 'boolean') return gone;
  if (gone) return removalOfConstruct(facts, physical, `construct removed; ${KEY_LEFT(props.KeyLogicalId)}`);
  if (!on(props.RevokeOnStackDelete)) {
    return answer(physical, 'skipped', 'construct and key removed together, revokeOnStackDelete is off: the key keeps its material until deleted');
  }
  return revokeUnlessManagedElsewhere(facts, physical, `construct removed together with its key ${props.KeyLogicalId}`);
}

/**
 * S10, L12, L13, L24 for a key defined in another stack of the same nested-stack tree, which this
 * handler may not read the template of (S11). The construct tags such a key (KeyTagged). The
 * whole tree is updated before any of it cleans up, so an update that removes the revocation and
 * keeps the key has removed the tag by now; one that removes the key as well never touched it
 * (CloudFormation deletes the key, it does not update it). Another live revocation of the key in
 * the tree (a refactor moved this one) keeps it, as for a same-stack key.
 */
function removalWithTaggedKey(facts: Facts, physical: string, what: string): Decision {
  if (facts.keyTag === undefined) {
    return unreadable(facts, 'keyTag', 'a key removed together with this construct from one that stays') ?? need('keyTag');
  }
  const props = facts.props;
  if (facts.keyTag === 'gone') return answer(physical, 'skipped', `${what}; its key ${props.KeyArn} no longer exists: nothing to revoke`);
  if (facts.keyTag === 'untagged') {
    return removalOfConstruct(facts, physical, `${what} while its key (of another stack of this tree) stays: it no longer carries the tag ${KEY_TAG}, which an update that keeps the key takes off`);
  }
  const why = `${what} together with its key, defined in another stack of this tree (the key still carries the tag ${KEY_TAG})`;
  if (!on(props.RevokeOnStackDelete)) return answer(physical, 'skipped', `${why}, revokeOnStackDelete is off: the key keeps its material until deleted`);
  return revokeUnlessManagedElsewhere(facts, physical, why);
}

const KEY_LEFT = (logicalId: string) =>
  `its key ${logicalId} is no longer a resource of this stack (moved to another stack by a refactor), so it stays`;

/**
 * L27: whether the key this revocation's stack defined has left the stack before this update. A
 * key removed together with its revocation is still a live resource of the stack when the
 * revocation's Delete comes: the revocation depends on it (S6), so CloudFormation deletes the
 * revocation first. A key the stack no longer lists under its logical ID and key ID was moved
 * away by a stack refactoring, which sends no event and may move resources to any other stack,
 * nested or not (CloudFormation User Guide, "Stack refactoring"): it stays, wherever it is now.
 * `underAnyLogicalId`: a key the stack still lists under another logical ID (renamed by a
 * refactor) has not left it; for a nested stack that goes away with everything in it (L24).
 */
function keyLeftTheStack(facts: Facts, underAnyLogicalId = false): boolean | Decision {
  if (!facts.ownResources) return unreadable(facts, 'ownResources', 'a removed key from a moved one') ?? need('ownResources');
  const keyId = keyIdOf(facts.props.KeyArn);
  const keys = facts.ownResources.filter((r) => r.type === 'AWS::KMS::Key');
  // A physical ID not known (the plan offline, from a template) is taken as the key's.
  if (keys.some((r) => r.logicalId === facts.props.KeyLogicalId && (r.physicalId === undefined || r.physicalId === keyId))) return false;
  if (!underAnyLogicalId) return true;
  if (keys.some((r) => r.physicalId === keyId)) return false;
  // Under another logical ID, a key whose ID is not known (the plan offline) may be this one renamed.
  const unknown = keys.find((r) => r.physicalId === undefined);
  if (unknown) {
    return fail(`the stack lists key ${unknown.logicalId} without its key ID: whether it is ${facts.props.KeyLogicalId} renamed by a refactor ` +
      '(then it goes with the stack) cannot be told; the handler neither revokes nor skips on a guess');
  }
  return true;
}

/**
 * L13, L24: the key seems to go with the construct, but a refactor may have moved it (and a
 * revocation for it) to another stack of the tree: a key another live revocation manages stays.
 */
function revokeUnlessManagedElsewhere(facts: Facts, physical: string, why: string): Decision {
  const guard = guardedElsewhere(facts, facts.props.KeyArn);
  if (typeof guard !== 'string') return guard;
  if (guard) return answer(physical, 'skipped', `${why}, but ${guard} still manages the same key (moved by a refactor, not removed)`);
  return answer(physical, 'revoked', why, [{ keyArn: facts.props.KeyArn, scope: facts.props.MaterialScope, regions: regionsOf(facts.props), why }]);
}

/**
 * L9, L14: this logical ID is still in the new template, so its old physical ID was replaced. The
 * live resource's physical ID says which key it manages now and whether the switch is on.
 */
function replaced(facts: Facts, physical: string, newProperties: Record<string, unknown> | undefined): Decision {
  if (!facts.ownResources) return unreadable(facts, 'ownResources', 'what replaced this resource') ?? need('ownResources');
  const props = facts.props;
  const live = facts.ownResources.find((r) => r.logicalId === facts.logicalId && r.type === RESOURCE_TYPE && r.physicalId !== physical && isLive(r));
  const now = parsePhysicalId(live?.physicalId);
  if (now.kind !== 'key') {
    return fail(`${facts.logicalId} is in the new template but the stack shows no live replacement of this handler's making ` +
      `(found ${live?.physicalId ?? 'none'}); the handler does not guess which key it manages now`);
  }
  const targets: RevocationTarget[] = [];
  const notes: string[] = [];
  if (!sameKey(now.keyArn, props.KeyArn)) {
    // The new template's setting wins: it is what the user deployed with the change.
    const setting = literalBool(newProperties && propertyValue(newProperties, 'RevokeOnKeyReplacement')) ?? on(props.RevokeOnKeyReplacement);
    if (!setting) notes.push(`key replaced by ${now.keyArn}, revokeOnKeyReplacement is off: the old key keeps its material`);
    else {
      const guard = guardedElsewhere(facts, props.KeyArn);
      if (typeof guard !== 'string') return guard;
      if (guard) notes.push(`key replaced, but ${guard} still manages ${props.KeyArn} (a refactor, not a removal)`);
      else targets.push({ keyArn: props.KeyArn, scope: props.MaterialScope, regions: regionsOf(props), why: `key replaced by ${now.keyArn} after a successful update` });
    }
  }
  // The switch acts on the key the new properties name, once: when it turned on, or stays on
  // while the construct moved to another key. (An old-style physical ID with the switch on had
  // revoked at the time it turned on.)
  const old = parsePhysicalId(physical);
  const wasOn = on(props.Revoked) || (old.kind === 'key' && old.revoked);
  if (now.revoked && (!sameKey(now.keyArn, props.KeyArn) || !wasOn)) {
    const why = sameKey(now.keyArn, props.KeyArn) ? 'revoked switched on, and the update has succeeded'
      : `revoked is on for the new key ${now.keyArn}, and the update has succeeded`;
    targets.push({ keyArn: now.keyArn, scope: scopeOf(newProperties, props.MaterialScope), regions: regionsOf(newProperties, regionsOf(props)), why });
  } else if (sameKey(now.keyArn, props.KeyArn)) {
    notes.push(now.revoked ? 'the same key with the switch still on: nothing more to revoke' : `revoked switched off; ${REIMPORT_NOTE}`);
  }
  if (targets.length === 0) return answer(physical, 'skipped', notes.join('; ') || 'nothing to revoke');
  return answer(physical, 'revoked', [...targets.map((t) => t.why), ...notes].join('; '), targets);
}

/** L12, L24: the construct (or the nested stack holding it) went away while the key stays. */
function removalOfConstruct(facts: Facts, physical: string, what: string): Decision {
  const props = facts.props;
  if (!on(props.RevokeOnRemoval)) return answer(physical, 'skipped', `${what}, revokeOnRemoval is off`);
  const guard = guardedElsewhere(facts, props.KeyArn);
  if (typeof guard !== 'string') return guard;
  if (guard) return answer(physical, 'skipped', `${what}, revokeOnRemoval is on, but ${guard} still manages the same key (a refactor, not a removal)`);
  const why = `${what}, revokeOnRemoval is on`;
  return answer(physical, 'revoked', why, [{ keyArn: props.KeyArn, scope: props.MaterialScope, regions: regionsOf(props), why }]);
}

/**
 * Another live revocation resource in the root's tree for the same key (e.g. after a rename or a
 * move to another nested stack): then the key is still managed and this Delete must not revoke
 * it. Answers its logical ID, '' when there is none, or what to do first.
 */
function guardedElsewhere(facts: Facts, keyArn: string): string | Decision {
  if (!facts.treeRevocations) {
    return unreadable(facts, 'treeRevocations', 'whether another revocation still manages the key') ?? need('treeRevocations');
  }
  const self = facts.lineage![0].stackId;
  const other = facts.treeRevocations.find((r) => {
    if (r.type !== RESOURCE_TYPE || !isLive(r)) return false;
    if (r.stackId === self && r.logicalId === facts.logicalId && r.physicalId === facts.physicalId) return false;
    const p = parsePhysicalId(r.physicalId);
    return p.kind === 'key' && sameKey(p.keyArn, keyArn);
  });
  if (!other) return '';
  return other.stackId === self ? other.logicalId : `${other.logicalId} (in ${other.stackId})`;
}
