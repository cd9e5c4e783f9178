import { FAILED_CREATE_PHYSICAL_ID_PREFIX, PHYSICAL_ID_PREFIX, RESOURCE_TYPE, RevocationProperties } from '../lib/contract';
import { Budget } from './budget';
import { HandlerError } from './errors';
import { parseStackArn, RevocationEvent } from './event';
import { revokeKeyMaterial, validateKey } from './kms';
import { DecisionRecord, logLine } from './log';
import {
  isRollbackStatus, listStackResources, readStackStatus, readStackStatusOnDelete, readTemplateResources, TemplateResources,
} from './stack';

/*
 * CloudFormation behaviour this file relies on (AWS CloudFormation User Guide):
 * - "Delete" request reference (crpg-ref-requesttypes-delete.html): a PhysicalResourceId returned
 *   on Update that differs from the old one is a replacement, and CloudFormation sends the old one
 *   a Delete. That Delete comes in the cleanup after a successful update
 *   (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS), or after a rollback
 *   (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS); a removed resource gets its Delete in the same
 *   cleanup phases ("Stack status codes", using-cfn-describing-stacks.html).
 * - "Custom resource request objects" (crpg-ref-requests.html): ResourceProperties carries the
 *   template's Properties; OldResourceProperties, on Update only, the previous ones.
 * Not stated in the reference pages but well known, and part of our contract (LIFECYCLE.md): a
 * resource whose own Create answered FAILED still receives a Delete during the rollback, with the
 * PhysicalResourceId of that FAILED answer; scalar property values arrive as strings.
 */

/** What a request decided, turned into a SUCCESS response by the caller. */
export interface Outcome {
  readonly physicalId: string;
  readonly keyArn: string;
  readonly materialIds: string[];
}

const REIMPORT_NOTE = 'material revoked earlier stays revoked: re-importing it is the only way back';

/** Derived from the key ARN alone: stable across in-place updates, new when the key changes (L1, L8, L9). */
export function physicalIdFor(keyArn: string): string {
  return PHYSICAL_ID_PREFIX + keyArn;
}

const on = (value: string) => value === 'true';

function decide(record: DecisionRecord, decision: string, reason: string): void {
  record.decision = decision;
  record.reason = reason;
}

async function revoke(props: RevocationProperties, why: string, budget: Budget, record: DecisionRecord): Promise<string[]> {
  const result = await revokeKeyMaterial(props.KeyArn, props.MaterialScope, budget);
  record.materialIds = result.materialIds;
  decide(record, 'revoked', `${why} (scope ${props.MaterialScope})${result.note ? `; ${result.note}` : ''}`);
  return result.materialIds;
}

/** L1-L3, L14 on create. */
export async function onCreate(event: RevocationEvent, budget: Budget, record: DecisionRecord): Promise<Outcome> {
  const props = event.ResourceProperties;
  await validateKey(props.KeyArn, parseStackArn(event.StackId).account, budget);
  const outcome = { physicalId: physicalIdFor(props.KeyArn), keyArn: props.KeyArn, materialIds: [] as string[] };
  if (!on(props.Revoked)) {
    decide(record, 'validated', 'key exists, has Origin EXTERNAL and is in the stack\'s account; nothing revoked on create');
    return outcome;
  }
  const status = await readStackStatus(event.StackId, budget);
  record.stackStatus = status;
  if (isRollbackStatus(status)) {
    decide(record, 'skipped', `revoked is on, but the stack is ${status}: rollbacks never revoke`);
    return outcome;
  }
  return { ...outcome, materialIds: await revoke(props, 'revoked is on at create', budget, record) };
}

/** DescribeStacks, or undefined when it fails: for paths that only need it to be lenient. */
async function tryReadStackStatus(stackId: string, budget: Budget): Promise<string | undefined> {
  try {
    return await readStackStatus(stackId, budget);
  } catch (err) {
    logLine('warn', 'stack status unreadable; validating as for a forward update', { reason: (err as Error).message });
    return undefined;
  }
}

/** L8-L11, L14 on update. */
export async function onUpdate(event: RevocationEvent, budget: Budget, record: DecisionRecord): Promise<Outcome> {
  const props = event.ResourceProperties;
  const old = event.OldResourceProperties!;
  const keyChanged = props.KeyArn !== old.KeyArn;
  // On a key change the resource starts over for the new key, as on create.
  const turnsOn = on(props.Revoked) && (keyChanged || !on(old.Revoked));
  const switchedOff = on(old.Revoked) && !on(props.Revoked);
  const outcome = {
    physicalId: keyChanged ? physicalIdFor(props.KeyArn) : event.PhysicalResourceId!,
    keyArn: props.KeyArn,
    materialIds: [] as string[],
  };
  if (!keyChanged && !turnsOn) {
    decide(record, 'skipped', `in-place update of the same key: nothing revoked${switchedOff ? `; revoked switched off, ${REIMPORT_NOTE}` : ''}`);
    return outcome;
  }
  // A rollback must neither revoke nor fail; a forward update that would revoke must know it is one.
  const status = turnsOn ? await readStackStatus(event.StackId, budget) : await tryReadStackStatus(event.StackId, budget);
  record.stackStatus = status;
  if (status && isRollbackStatus(status)) {
    decide(record, 'skipped', `stack is ${status}: rollbacks never revoke${switchedOff ? `; ${REIMPORT_NOTE}` : ''}`);
    return outcome;
  }
  if (keyChanged) await validateKey(props.KeyArn, parseStackArn(event.StackId).account, budget);
  if (!turnsOn) {
    decide(record, 'validated', `key changed from ${old.KeyArn}: new physical ID; the old key is dealt with in cleanup if the update succeeds`);
    return outcome;
  }
  return { ...outcome, materialIds: await revoke(props, 'revoked switched on', budget, record) };
}

function literalBool(value: unknown): boolean | undefined {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return undefined;
}

/**
 * Another live revocation resource of this stack for the same key (its physical ID is derived from
 * the key ARN), e.g. after a refactor renamed the construct: then the key is still managed and
 * removing this resource must not revoke it.
 */
async function sameKeyGuardedElsewhere(event: RevocationEvent, budget: Budget): Promise<string | undefined> {
  const mine = physicalIdFor(event.ResourceProperties.KeyArn);
  const resources = await listStackResources(event.StackId, budget);
  const other = resources.find((r) =>
    r.ResourceType === RESOURCE_TYPE &&
    r.PhysicalResourceId === mine &&
    !(r.ResourceStatus ?? '').startsWith('DELETE') &&
    !(r.LogicalResourceId === event.LogicalResourceId && r.PhysicalResourceId === event.PhysicalResourceId));
  return other?.LogicalResourceId;
}

/** L9, L12, L13: a Delete in the cleanup after a successful update. */
async function onCleanupDelete(event: RevocationEvent, resources: TemplateResources, budget: Budget,
  record: DecisionRecord): Promise<string[]> {
  const props = event.ResourceProperties;
  const current = resources[event.LogicalResourceId];
  let why: string;
  if (current && current.Type === RESOURCE_TYPE) {
    // Still in the new template: this Delete is for the resource it replaced, i.e. the key changed.
    // The new template's setting wins: it is what the user deployed with the change.
    const setting = literalBool(current.Properties?.RevokeOnKeyReplacement) ?? on(props.RevokeOnKeyReplacement);
    if (!setting) {
      decide(record, 'skipped', 'key replaced, revokeOnKeyReplacement is off: the old key keeps its material');
      return [];
    }
    why = 'key replaced by another key after a successful update';
  } else if (props.KeyLogicalId && !resources[props.KeyLogicalId]) {
    // The key goes with the construct: revoke before the key is scheduled for deletion (S6 ordering).
    if (!on(props.RevokeOnStackDelete)) {
      decide(record, 'skipped', 'construct and key removed together, revokeOnStackDelete is off: the key keeps its material until deleted');
      return [];
    }
    return revoke(props, `construct removed together with its key ${props.KeyLogicalId}`, budget, record);
  } else if (on(props.RevokeOnRemoval)) {
    why = 'construct removed while the key stays, revokeOnRemoval is on';
  } else {
    decide(record, 'skipped', 'construct removed while the key stays, revokeOnRemoval is off');
    return [];
  }
  const guard = await sameKeyGuardedElsewhere(event, budget);
  if (guard) {
    decide(record, 'skipped', `${why}, but ${guard} in this stack still manages the same key (a refactor, not a removal)`);
    return [];
  }
  return revoke(props, why, budget, record);
}

/** L4-L7, L9, L12, L13, L15-L21 on delete. */
export async function onDelete(event: RevocationEvent, budget: Budget, record: DecisionRecord): Promise<Outcome> {
  const props = event.ResourceProperties;
  const outcome = { physicalId: event.PhysicalResourceId!, keyArn: props.KeyArn, materialIds: [] as string[] };
  if (event.PhysicalResourceId!.startsWith(FAILED_CREATE_PHYSICAL_ID_PREFIX)) {
    decide(record, 'skipped', 'this resource\'s own create failed: there is nothing to clean up');
    return outcome;
  }
  if (!on(props.RevokeOnStackDelete) && !on(props.RevokeOnKeyReplacement) && !on(props.RevokeOnRemoval)) {
    decide(record, 'skipped', 'every revocation setting is off');
    return outcome;
  }
  const { status, remembered } = await readStackStatusOnDelete(event.StackId, budget);
  record.stackStatus = status;
  if (remembered) record.stackStatusRemembered = true;
  if (isRollbackStatus(status)) {
    decide(record, 'skipped', `stack is ${status}: rollbacks never revoke${on(props.Revoked) ? `; ${REIMPORT_NOTE}` : ''}`);
    return outcome;
  }
  if (status === 'DELETE_IN_PROGRESS') {
    if (!on(props.RevokeOnStackDelete)) {
      decide(record, 'skipped', 'stack deletion, revokeOnStackDelete is off');
      return outcome;
    }
    return { ...outcome, materialIds: await revoke(props, 'stack deletion', budget, record) };
  }
  if (status === 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS') {
    const resources = await readTemplateResources(event.StackId, budget);
    return { ...outcome, materialIds: await onCleanupDelete(event, resources, budget, record) };
  }
  throw new HandlerError(
    `a Delete arrived while the stack is ${status}, which is neither a stack deletion, an update cleanup nor a rollback; ` +
    'the handler neither revokes nor skips on a guess',
  );
}
