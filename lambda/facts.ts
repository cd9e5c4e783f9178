/**
 * Gathers the facts the decision rules ask for (lambda/decide.ts), with the CloudFormation reads
 * they take. The rules stay pure; this file is the I/O around them.
 */
import { RESOURCE_TYPE } from '../lib/contract';
import { Budget } from './budget';
import { Decision, decide, FactName, Facts, LiveResource, own, parsePhysicalId, ResourceState, StackFacts } from './decide';
import { errorMessage } from './errors';
import { readKeyTag } from './kms';
import { describeStack, describeStackResource, listStackResources, readStackEventsPage, readTemplateResources } from './stack';
import { isDeleting, provesStable } from './status';

/** Nested stacks nest a few levels deep in practice; a longer chain of parents is not believed. */
const MAX_LINEAGE = 16;
/** Stacks of one tree walked at the most for the rename guard. */
const MAX_TREE_STACKS = 200;
/** Events read at the most while looking for a stable state (a stack deleting hundreds of resources adds as many). */
const MAX_EVENT_PAGES = 50;

/**
 * Facts that are final for a stack ID, remembered while a container is warm (LIFECYCLE L18: one
 * stack deletion sends hundreds of Deletes). A stack whose whole lineage is DELETE_IN_PROGRESS
 * stays so until it is gone (a stack being deleted ends DELETE_COMPLETE or DELETE_FAILED, and a
 * DELETE_FAILED stack can only be deleted again; stack IDs are never reused), and its history
 * before the deletion no longer changes. Nothing else is remembered.
 */
// 15 minutes, an invocation's longest life: a deletion of several full stacks runs for minutes,
// and with one minute every container read lineage, history and template again at about the
// same moment, a burst under the read quota that stalled the end of the 980-key benchmark.
const REMEMBERED_MS = 15 * 60_000;

/**
 * How long one listing of a deleting stack's resources (ListStackResources) serves as the
 * evidence that CloudFormation is deleting a resource (L26, L29), for the next Deletes the same
 * container serves. A stack deletion sends its Deletes in waves of up to hundreds, each resource
 * DELETE_IN_PROGRESS from the moment it is sent, so one listing (a page per 100 resources) answers
 * for a whole wave instead of one DescribeStackResource per Delete, under a CloudFormation read
 * quota that would otherwise set the pace (issue 13, bench/RESULTS.md section 4).
 *
 * What a listing this old can miss: the resource's deletion ending since. A Delete replayed after
 * CloudFormation's own one was answered asks what that one asked (in a stack deletion the
 * revoking properties are bound to the template, and the key to the physical ID), so it revokes
 * nothing the stack deletion was not revoking. The one difference is a deletion that failed and
 * that the user retries within these seconds while retaining the resource: a replay inside the
 * window would still revoke. The container that answered the failure forgets its listing at once
 * (forgetEvidence); 15 s bounds the rest, also for a revocation that waits its turn (lifecycle.ts
 * reads again what has aged past it). Only positive evidence is reused, once per resource: a
 * resource the listing does not show DELETE_IN_PROGRESS under the request's physical ID is read again.
 */
const EVIDENCE_REUSE_MS = 15_000;

interface Listing { readonly at: number; readonly resources: readonly LiveResource[] }
interface Remembered {
  readonly at: number;
  readonly lineage: readonly StackFacts[];
  everStable?: boolean;
  template?: Facts['template'];
  listing?: Listing;
  /** Resources (logical and physical ID) a listing already vouched for: a second request for one is read afresh. */
  readonly vouched: Set<string>;
}
const remembered = new Map<string, Remembered>();

/** After a failed Delete: the next request of this stack reads its evidence afresh (see EVIDENCE_REUSE_MS). */
export function forgetEvidence(stackId: string): void {
  const entry = remembered.get(stackId);
  if (entry) entry.listing = undefined;
}

/** Forgets remembered facts, as a new container would (for tests sharing one module). */
export function forgetStackStatuses(): void {
  remembered.clear();
}

/** What was read to decide, for the decision log line. */
export interface FactsLog {
  /** When the evidence that CloudFormation is doing this now was read (L29). */
  evidenceAt?: number;
  lineage?: string[];
  remembered?: boolean;
  everStable?: boolean;
  read: FactName[];
}

/**
 * Runs the rules, reading each fact they ask for, until they decide. A read that fails is
 * recorded as unreadable, and the rules decide what that means (mostly: fail, L21).
 */
export async function decideWithFacts(initial: Facts, stackId: string, budget: Budget, log: FactsLog): Promise<Decision> {
  let facts: Facts = initial;
  const cached = remembered.get(stackId);
  if (cached && Date.now() - cached.at < REMEMBERED_MS && initial.requestType === 'Delete') {
    facts = { ...facts, lineage: cached.lineage, everStable: cached.everStable, template: cached.template };
    log.remembered = true;
    log.lineage = cached.lineage.map((s) => s.status);
  }
  for (;;) {
    const decision = decide(facts);
    if (decision.kind !== 'need') return decision;
    log.read.push(decision.fact);
    try {
      facts = { ...facts, ...await read(decision.fact, facts, stackId, budget) };
    } catch (err) {
      facts = { ...facts, ...unreadableAfter(facts, decision.fact, err) };
    }
    if (facts.lineage) log.lineage = facts.lineage.map((s) => s.status);
    if (facts.everStable !== undefined) log.everStable = facts.everStable;
    if (facts.resourceSeenAt !== undefined) log.evidenceAt = facts.resourceSeenAt;
  }
}

/** A read that failed, recorded for the rules (they decide what it means, mostly: fail, L21); a budget run out ends all. */
function unreadableAfter(facts: Facts, fact: FactName, err: unknown): Partial<Facts> {
  if ((err as Error).name === 'BudgetExhaustedError') throw err;
  return { unreadable: { ...facts.unreadable, [fact]: errorMessage(err) } };
}

async function read(fact: FactName, facts: Facts, stackId: string, budget: Budget): Promise<Partial<Facts>> {
  switch (fact) {
    case 'lineage': return { lineage: await readLineage(stackId, budget) };
    case 'history': return { everStable: await readEverStable(facts.lineage!, budget) };
    case 'template': return { template: rememberTemplate(stackId, await readTemplateResources(stackId, budget)) };
    case 'ownResources': return { ownResources: await readResources(stackId, budget) };
    case 'treeRevocations': return readTreeRevocations(facts, stackId, budget);
    case 'resource': {
      const startedAt = Date.now();
      const state = await readResourceState(facts, stackId, budget);
      return { resourceSeenAt: startedAt, ...state };
    }
    case 'deletionEvent': return { deletionEvent: await readDeletionEvent(facts, stackId, budget) };
    case 'keyTag': return { keyTag: await readKeyTag(facts.props.KeyArn, budget) };
  }
}

/** The stack and each parent up to the root (DescribeStacks ParentId / RootId). */
async function readLineage(stackId: string, budget: Budget): Promise<StackFacts[]> {
  const lineage: StackFacts[] = [];
  let next: string | undefined = stackId;
  let rootId: string | undefined;
  while (next) {
    if (lineage.length >= MAX_LINEAGE) throw new Error(`stack ${stackId} has more than ${MAX_LINEAGE} ancestors`);
    const stack = await describeStack(next, budget);
    if (lineage.length === 0) rootId = stack.rootId;
    lineage.push({ stackId: stack.stackId, status: stack.status });
    next = stack.parentId;
  }
  const root = lineage[lineage.length - 1].stackId;
  if (rootId && rootId !== root) {
    throw new Error(`the parents of stack ${stackId} end at ${root}, but its RootId is ${rootId}`);
  }
  if (lineage.every((s) => isDeleting(s.status))) remembered.set(stackId, { at: Date.now(), lineage, vouched: new Set() });
  return lineage;
}

/**
 * Whether the root (the stack itself when not nested) once reached a stable state: a stack-level
 * event CREATE_COMPLETE, UPDATE_COMPLETE or IMPORT_COMPLETE in its history (DescribeStackEvents,
 * newest first). A history read to its start without one proves the opposite (a failed create
 * deleted without rollback: OnFailure=DELETE, a --no-rollback create, the CDK CLI deleting a
 * ROLLBACK_COMPLETE stack); a history whose start is not reached proves nothing.
 */
async function readEverStable(lineage: readonly StackFacts[], budget: Budget, seen?: NewestEvent): Promise<boolean> {
  // The root's history, and for a nested stack its own too: a nested stack added by a failed
  // update of a --no-rollback root never became stable although its root did.
  const own = lineage[0].stackId;
  const rootId = lineage[lineage.length - 1].stackId;
  if (seen && lineage.length > 1) {
    // The own stack first: its events hold the resource's, which may refuse the request at once.
    const stable = await historyShowsStable(own, budget, seen) && await historyShowsStable(rootId, budget);
    return remember(lineage, stable);
  }
  const root = await historyShowsStable(rootId, budget, rootId === own ? seen : undefined);
  const stable = root && (lineage.length === 1 || await historyShowsStable(own, budget, seen));
  return remember(lineage, stable);
}

/**
 * The newest event of one logical resource met while reading the own stack's history. Newest
 * first, that event is its current state: when it is not the deletion of the request's physical
 * ID under way, the request is refused without reading further (EvidenceRefuted), so that a
 * forged Delete costs one page or two, not the whole history.
 */
interface NewestEvent { readonly logicalId: string; readonly physicalId?: string; state?: ResourceState }

class EvidenceRefuted extends Error {}

async function historyShowsStable(rootId: string, budget: Budget, seen?: NewestEvent): Promise<boolean> {
  let nextToken: string | undefined;
  let oldestStackStatus: string | undefined;
  for (let page = 0; page < MAX_EVENT_PAGES; page++) {
    const out = await readStackEventsPage(rootId, nextToken, budget);
    for (const event of out.events) {
      const stackLevel = event.ResourceType === 'AWS::CloudFormation::Stack' && event.PhysicalResourceId === rootId;
      if (seen && !seen.state && !stackLevel && event.LogicalResourceId === seen.logicalId && event.ResourceStatus) {
        seen.state = { status: event.ResourceStatus, physicalId: event.PhysicalResourceId };
        if (seen.state.status !== 'DELETE_IN_PROGRESS' || seen.state.physicalId !== seen.physicalId) throw new EvidenceRefuted();
      }
      if (!stackLevel) continue;
      const status = event.ResourceStatus ?? '';
      if (provesStable(status)) return true;
      oldestStackStatus = status;
    }
    nextToken = out.nextToken;
    if (!nextToken) {
      // A stack's history starts with REVIEW_IN_PROGRESS (change sets) or CREATE_IN_PROGRESS.
      if (oldestStackStatus === 'CREATE_IN_PROGRESS' || oldestStackStatus === 'REVIEW_IN_PROGRESS') return false;
      throw new Error(`the history of stack ${rootId} (DescribeStackEvents) does not reach back to its creation`);
    }
  }
  throw new Error(`the history of stack ${rootId} has more than ${MAX_EVENT_PAGES} pages of events without a stable state`);
}

/**
 * Whether CloudFormation is doing to this logical resource what the request says, under which
 * physical ID (the evidence of L26, L29), read the cheapest way that is as good:
 *
 * - A Delete in a stack deletion this container already knows: a recent listing of the stack's
 *   resources (EVIDENCE_REUSE_MS), or a new one that the next Deletes reuse.
 * - A Delete that would revoke in a stack deletion, in a fresh container: the stack's events,
 *   which the history check (L25) reads anyway. Newest first, they pass every event of the
 *   deletion before they reach the stable state that ends the search, so the resource's newest
 *   event is among them: its current state, as DescribeStackResource would give it, one read
 *   fewer in every fresh Lambda sandbox.
 * - Otherwise one DescribeStackResource.
 */
async function readResourceState(facts: Facts, stackId: string, budget: Budget): Promise<Partial<Facts>> {
  if (facts.requestType === 'Delete') {
    const entry = remembered.get(stackId);
    if (entry && facts.lineage) return fromListing(entry, facts, stackId, budget);
    // Only for a physical ID that names a key: the Delete after a failed create needs no history.
    if (!facts.lineage && facts.props.RevokeOnStackDelete === 'true' && parsePhysicalId(facts.physicalId).kind === 'key') {
      const read = await historyWithEvidence(facts, stackId, budget);
      if (read.resource !== undefined) return read;
      return { ...read, resource: await describeStackResource(stackId, facts.logicalId, budget) };
    }
  }
  return { resource: await describeStackResource(stackId, facts.logicalId, budget) };
}

/**
 * Lineage and history read ahead of the rules, for a Delete that would revoke in a stack
 * deletion, and the resource's state when the history showed it. A read that fails is left to
 * the rules, as if they had asked for it (the evidence then comes from DescribeStackResource).
 */
async function historyWithEvidence(facts: Facts, stackId: string, budget: Budget): Promise<Partial<Facts>> {
  let lineage: readonly StackFacts[];
  try {
    lineage = await readLineage(stackId, budget);
  } catch (err) {
    return unreadableAfter(facts, 'lineage', err);
  }
  if (!lineage.every((s) => isDeleting(s.status))) return { lineage };
  const seen: NewestEvent = { logicalId: facts.logicalId, physicalId: facts.physicalId };
  try {
    const everStable = await readEverStable(lineage, budget, seen);
    return { lineage, everStable, ...(seen.state ? { resource: seen.state } : {}) };
  } catch (err) {
    // The resource is not being deleted under this physical ID: the rules refuse on that alone.
    if (err instanceof EvidenceRefuted) return { lineage, resource: seen.state };
    return { lineage, ...unreadableAfter(facts, 'history', err) };
  }
}

/** This resource's state from the remembered listing when it shows the deletion under way, else from a new listing. */
async function fromListing(entry: Remembered, facts: Facts, stackId: string, budget: Budget): Promise<Partial<Facts>> {
  const find = (listing: Listing) => listing.resources.find((r) => r.logicalId === facts.logicalId);
  const id = `${facts.logicalId} ${facts.physicalId}`;
  const known = entry.listing && !entry.vouched.has(id) && Date.now() - entry.listing.at < EVIDENCE_REUSE_MS ? find(entry.listing) : undefined;
  entry.vouched.add(id);
  if (known && known.status === 'DELETE_IN_PROGRESS' && known.physicalId === facts.physicalId) {
    return { resource: { status: known.status, physicalId: known.physicalId }, resourceSeenAt: entry.listing!.at };
  }
  const listing: Listing = { at: Date.now(), resources: await readResources(stackId, budget) };
  entry.listing = listing;
  const now = find(listing);
  return { resource: now ? { status: now.status, physicalId: now.physicalId } : null, resourceSeenAt: listing.at };
}

/**
 * Whether CloudFormation still shows this resource being deleted under its physical ID, read
 * afresh: for a revocation whose evidence is older than EVIDENCE_REUSE_MS after it waited its turn.
 */
export async function stillBeingDeleted(stackId: string, logicalId: string, physicalId: string | undefined, evidenceAt: number,
  budget: Budget): Promise<boolean> {
  if (Date.now() - evidenceAt < EVIDENCE_REUSE_MS) return true;
  const state = await describeStackResource(stackId, logicalId, budget);
  return state?.status === 'DELETE_IN_PROGRESS' && state.physicalId === physicalId;
}

/** The template of a stack that is being deleted is final: remembered with its lineage. */
function rememberTemplate(stackId: string, template: NonNullable<Facts['template']>): NonNullable<Facts['template']> {
  const entry = remembered.get(stackId);
  if (entry) entry.template = template;
  return template;
}

function remember(lineage: readonly StackFacts[], everStable: boolean): boolean {
  const entry = remembered.get(lineage[0].stackId);
  if (entry) entry.everStable = everStable;
  return everStable;
}

async function readResources(stackId: string, budget: Budget): Promise<LiveResource[]> {
  return (await listStackResources(stackId, budget)).map((r) => ({
    stackId,
    logicalId: r.LogicalResourceId ?? '',
    physicalId: r.PhysicalResourceId,
    type: r.ResourceType ?? '',
    status: r.ResourceStatus ?? '',
  }));
}

/**
 * The revocation resources of the root's tree: every stack reached from the root through its
 * AWS::CloudFormation::Stack resources, the root included. For a stack that is not nested, that
 * is the own stack (its listing is reused) and the nested stacks it holds: a revocation moved
 * from the root into a nested stack by one update still manages its key (L12, L24). A nested
 * stack the root's new template no longer has is on its way out with everything in it and
 * manages no key after this update: it is not read.
 */
async function readTreeRevocations(facts: Facts, stackId: string, budget: Budget): Promise<Partial<Facts>> {
  const lineage = facts.lineage!;
  const root = lineage[lineage.length - 1].stackId;
  const ownResources = lineage.length === 1 ? facts.ownResources ?? await readResources(stackId, budget) : undefined;
  const template = lineage.length === 1 ? facts.template : undefined;
  const staying = (r: LiveResource) => r.stackId !== stackId || !template || own(template, r.logicalId) !== undefined;
  const revocations: LiveResource[] = [];
  const queue = [root];
  const seen = new Set(queue);
  while (queue.length > 0) {
    if (seen.size > MAX_TREE_STACKS) throw new Error(`the tree of ${root} has more than ${MAX_TREE_STACKS} stacks`);
    const next = queue.shift()!;
    const resources = next === stackId && ownResources ? ownResources : await readResources(next, budget);
    for (const r of resources) {
      if (r.type === RESOURCE_TYPE) revocations.push(r);
      if (r.type === 'AWS::CloudFormation::Stack' && r.physicalId?.startsWith('arn:') && !seen.has(r.physicalId) &&
        r.status !== 'DELETE_COMPLETE' && staying(r)) {
        seen.add(r.physicalId);
        queue.push(r.physicalId);
      }
    }
  }
  return { ...(ownResources ? { ownResources } : {}), treeRevocations: revocations };
}

/** Pages of the own stack's events read at the most to find this resource's deletion under way. */
const MAX_CLEANUP_EVENT_PAGES = 50;
/** The deletion event comes just before the request is sent: older events need not be read. */
const DELETION_EVENT_BEFORE_REQUEST_MS = 5 * 60_000;

/**
 * Whether the own stack's events, newest first, show a DELETE_IN_PROGRESS of this logical
 * resource under this physical ID since the cleanup began (the stack-level
 * UPDATE_COMPLETE_CLEANUP_IN_PROGRESS event). CloudFormation records a resource's
 * DELETE_IN_PROGRESS before it asks the provider to delete it (GUESS: the documentation does not
 * say so in as many words; the stack events of every custom resource deletion show it first).
 */
async function readDeletionEvent(facts: Facts, stackId: string, budget: Budget): Promise<boolean> {
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_CLEANUP_EVENT_PAGES; page++) {
    const out = await readStackEventsPage(stackId, nextToken, budget);
    for (const event of out.events) {
      if (event.ResourceType === 'AWS::CloudFormation::Stack' && event.PhysicalResourceId === stackId) {
        // The cleanup began there (after an update, or after its rollback): older events are of another operation.
        const status = String(event.ResourceStatus);
        if (status === 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' || status === 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS') return false;
        continue;
      }
      if (event.LogicalResourceId === facts.logicalId && event.PhysicalResourceId === facts.physicalId &&
        event.ResourceStatus === 'DELETE_IN_PROGRESS') return true;
      if (facts.sentAt !== undefined && event.Timestamp && event.Timestamp.getTime() < facts.sentAt - DELETION_EVENT_BEFORE_REQUEST_MS) return false;
    }
    nextToken = out.nextToken;
    if (!nextToken) return false;
  }
  throw new Error(`the events of stack ${stackId} since its cleanup began span more than ${MAX_CLEANUP_EVENT_PAGES} pages`);
}
