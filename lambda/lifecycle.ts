/**
 * Carries out a request: the rules (lambda/decide.ts) decide from facts gathered by
 * lambda/facts.ts; this file validates and revokes what they decided, and fills the decision log.
 */
import { Budget } from './budget';
import { Facts } from './decide';
import { HandlerError } from './errors';
import { parseStackArn, RevocationEvent } from './event';
import { decideWithFacts, FactsLog } from './facts';
import { precheckRevocation, revokeKeyMaterial, validateKey } from './kms';
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
  const log: FactsLog = { read: [] };
  let decision;
  try {
    decision = await decideWithFacts(factsOf(event, refusal, sentAt), event.StackId, budget, log);
  } finally {
    if (log.lineage) {
      record.stackStatus = log.lineage[0];
      if (log.lineage.length > 1) record.ancestorStatuses = log.lineage.slice(1);
    }
    if (log.remembered) record.stackStatusRemembered = true;
    if (log.everStable !== undefined) record.everStable = log.everStable;
  }
  if (decision.kind === 'fail') throw new HandlerError(decision.reason);
  if (decision.kind !== 'answer') throw new HandlerError(`the rules asked for ${decision.fact} and never decided`);
  if (decision.validate) await validateKey(decision.validate, parseStackArn(event.StackId).account, budget);
  for (const target of decision.precheck ?? []) await precheckRevocation(target.keyArn, target.scope, target.why, budget, target.regions);
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
