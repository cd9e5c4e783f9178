/**
 * Carries out a request: the rules (lambda/decide.ts) decide from facts gathered by
 * lambda/facts.ts; this file validates and revokes what they decided, and fills the decision log.
 */
import { Budget } from './budget';
import { Decision, Facts } from './decide';
import { HandlerError } from './errors';
import { parseStackArn, RevocationEvent } from './event';
import { decideWithFacts, FactsLog, forgetEvidence, stillBeingDeleted } from './facts';
import { precheckRevocation, requireKeyTag, revokeKeyMaterial, validateKey } from './kms';
import { DecisionRecord } from './log';

/** What a request decided, turned into a SUCCESS response by the caller. */
export interface Outcome {
  readonly physicalId: string;
  readonly keyArn: string;
  readonly materialIds: string[];
}

function factsOf(event: RevocationEvent, refusal: string | undefined, sentAt: number | undefined): Facts {
  return {
    refusal,
    sentAt,
    requestType: event.RequestType,
    logicalId: event.LogicalResourceId,
    physicalId: event.PhysicalResourceId,
    props: event.ResourceProperties,
    oldProps: event.OldResourceProperties,
  };
}

/** Every request type: decide, then validate and revoke as decided (LIFECYCLE L1-L30). */
export async function handleRequest(event: RevocationEvent, refusal: string | undefined, sentAt: number | undefined,
  budget: Budget, record: DecisionRecord): Promise<Outcome> {
  try {
    const log: FactsLog = { read: [] };
    return await carryOut(event, await decideAndLog(event, refusal, sentAt, budget, record, log), budget, record, log.evidenceAt);
  } catch (err) {
    // A Delete answered FAILED may be retried by the user with the resource retained: this
    // container's listing must not vouch for it any more (lambda/facts.ts, EVIDENCE_REUSE_MS).
    forgetEvidence(event.StackId);
    throw err;
  }
}

async function decideAndLog(event: RevocationEvent, refusal: string | undefined, sentAt: number | undefined,
  budget: Budget, record: DecisionRecord, log: FactsLog): Promise<Decision> {
  try {
    return await decideWithFacts(factsOf(event, refusal, sentAt), event.StackId, budget, log);
  } finally {
    if (log.lineage) {
      record.stackStatus = log.lineage[0];
      if (log.lineage.length > 1) record.ancestorStatuses = log.lineage.slice(1);
    }
    if (log.remembered) record.stackStatusRemembered = true;
    if (log.everStable !== undefined) record.everStable = log.everStable;
  }
}

async function carryOut(event: RevocationEvent, decision: Decision, budget: Budget, record: DecisionRecord,
  evidenceAt: number | undefined): Promise<Outcome> {
  if (decision.kind === 'fail') throw new HandlerError(decision.reason);
  if (decision.kind !== 'answer') throw new HandlerError(`the rules asked for ${decision.fact} and never decided`);
  if (decision.validate) await validateKey(decision.validate, parseStackArn(event.StackId).account, budget);
  if (decision.checkTag) await requireKeyTag(decision.checkTag, budget);
  for (const target of decision.precheck ?? []) await precheckRevocation(target.keyArn, target.scope, target.why, budget, target.regions);
  if (decision.revoke.length > 0 && decision.notBefore !== undefined) await takeTurn(event, decision.notBefore, evidenceAt, budget, record);
  const materialIds: string[] = [];
  const notes: string[] = [];
  for (const target of decision.revoke) {
    const result = await revokeKeyMaterial(target.keyArn, target.scope, budget, target.regions);
    materialIds.push(...result.materialIds);
    record.materialIds = [...materialIds];
    if (result.byRegion) (record.materialIdsByRegion ??= {})[target.keyArn] = result.byRegion;
    (record.revokedKeys ??= []).push(target.keyArn);
    notes.push(`${target.keyArn}: scope ${target.scope}${result.note ? `, ${result.note}` : ''}`);
  }
  record.decision = decision.decision;
  record.reason = notes.length > 0 ? `${decision.reason} (${notes.join('; ')})` : decision.reason;
  return { physicalId: decision.physicalId, keyArn: event.ResourceProperties.KeyArn, materialIds };
}

/** A turn is never waited for longer than this, nor past half of what is left of the budget. */
const MAX_TURN_WAIT_MS = 20_000;

/**
 * Waits for the resource's turn in a stack deletion; evidence that aged past its reuse meanwhile
 * is read again (L29), and the revocation refused if CloudFormation no longer shows the deletion.
 */
async function takeTurn(event: RevocationEvent, notBefore: number, evidenceAt: number | undefined, budget: Budget,
  record: DecisionRecord): Promise<void> {
  if (!await waitForTurn(notBefore, budget, record) || evidenceAt === undefined) return;
  if (await stillBeingDeleted(event.StackId, event.LogicalResourceId, event.PhysicalResourceId, evidenceAt, budget)) return;
  throw new HandlerError(`refused: while this revocation waited its turn, CloudFormation stopped showing ${event.LogicalResourceId} ` +
    'being deleted under its physical ID; nothing was revoked');
}

/** Waits for the resource's turn in a stack deletion (lambda/decide.ts, turnOf); whether it waited. */
async function waitForTurn(notBefore: number, budget: Budget, record: DecisionRecord): Promise<boolean> {
  const wait = Math.min(notBefore - Date.now(), MAX_TURN_WAIT_MS, budget.remainingWorkMs() / 2);
  if (wait <= 0) return false;
  record.waitedForTurnMs = Math.round(wait);
  await budget.race('waiting for its turn in the stack deletion', (signal) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, wait);
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  }));
  return true;
}
