import {
  CloudFormationClient, DescribeStacksCommand, GetTemplateCommand, ListStackResourcesCommand, StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { Budget } from './budget';
import { cloudFormationClient } from './clients';
import { explainCloudFormationError, HandlerError } from './errors';
import { parseStackArn } from './event';

/**
 * Statuses in which CloudFormation is undoing a change. Nothing is ever revoked in them
 * (LIFECYCLE L4, L10, L11, L20): ROLLBACK_IN_PROGRESS (create rollback), UPDATE_ROLLBACK_*,
 * IMPORT_ROLLBACK_*, and the rollback-complete cleanup statuses.
 */
export function isRollbackStatus(status: string): boolean {
  return status.includes('ROLLBACK');
}

/**
 * One CloudFormation read on the handler's own stack, in the stack's Region, within the time
 * budget; any failure is explained, and the handler does not guess past it.
 */
async function cfnCall<T>(action: string, stackId: string, budget: Budget,
  send: (client: CloudFormationClient, abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  const client = cloudFormationClient(parseStackArn(stackId).region);
  try {
    return await budget.race(`${action} on ${stackId}`, (abortSignal) => send(client, abortSignal));
  } catch (err) {
    throw explainCloudFormationError(err, action, stackId);
  }
}

/** DescribeStacks on the event's StackId (its ARN, so a stack being deleted is still found). */
export async function readStackStatus(stackId: string, budget: Budget): Promise<string> {
  const out = await cfnCall('cloudformation:DescribeStacks', stackId, budget,
    (client, abortSignal) => client.send(new DescribeStacksCommand({ StackName: stackId }), { abortSignal }));
  const status = out.Stacks?.[0]?.StackStatus;
  if (!status) throw new HandlerError(`cloudformation:DescribeStacks on ${stackId} returned no stack status`);
  return status;
}

/**
 * DELETE_IN_PROGRESS is final for a stack ID: a stack being deleted ends DELETE_COMPLETE or
 * DELETE_FAILED, a DELETE_FAILED stack can only be deleted again, and a stack ID (its ARN, with a
 * unique suffix) is never reused. A warm container serving many Deletes of one stack deletion
 * (LIFECYCLE L18) therefore reads that status once per stack and minute rather than once per key,
 * sparing CloudFormation's read quota. Any other status is read afresh for every event.
 */
const DELETING_REMEMBERED_MS = 60_000;
const deletingSince = new Map<string, number>();

/** The stack's status on a Delete, and whether it was remembered from an earlier Delete. */
export async function readStackStatusOnDelete(stackId: string, budget: Budget): Promise<{ status: string; remembered: boolean }> {
  const seen = deletingSince.get(stackId);
  if (seen !== undefined && Date.now() - seen < DELETING_REMEMBERED_MS) return { status: 'DELETE_IN_PROGRESS', remembered: true };
  const status = await readStackStatus(stackId, budget);
  if (status === 'DELETE_IN_PROGRESS') deletingSince.set(stackId, Date.now());
  else deletingSince.delete(stackId);
  return { status, remembered: false };
}

/** Forgets remembered statuses, as a new container would (for tests sharing one module). */
export function forgetStackStatuses(): void {
  deletingSince.clear();
}

/** A template's Resources section: logical ID to resource. */
export type TemplateResources = Record<string, { Type?: unknown; Properties?: Record<string, unknown> } | undefined>;

/**
 * The stack's current template. After a successful update (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS)
 * this is the new template, so a logical ID missing from it was removed and one present was
 * replaced. GetTemplate returns the Processed stage by default, which equals the original for
 * templates without transforms (AWS CloudFormation API reference, GetTemplate, TemplateStage).
 */
export async function readTemplateResources(stackId: string, budget: Budget): Promise<TemplateResources> {
  const out = await cfnCall('cloudformation:GetTemplate', stackId, budget,
    (client, abortSignal) => client.send(new GetTemplateCommand({ StackName: stackId }), { abortSignal }));
  const body = out.TemplateBody;
  let template: unknown;
  try {
    template = JSON.parse(body ?? '');
  } catch {
    throw new HandlerError(`cloudformation:GetTemplate on ${stackId} returned a template that is not JSON; the handler does not guess the stack's state`);
  }
  const resources = (template as { Resources?: unknown } | null)?.Resources;
  if (typeof resources !== 'object' || resources === null || Array.isArray(resources)) {
    throw new HandlerError(`the template of ${stackId} has no Resources section; the handler does not guess the stack's state`);
  }
  return resources as TemplateResources;
}

/** Every resource of the stack (ListStackResources, all pages). */
export async function listStackResources(stackId: string, budget: Budget): Promise<StackResourceSummary[]> {
  const all: StackResourceSummary[] = [];
  let nextToken: string | undefined;
  do {
    const out = await cfnCall('cloudformation:ListStackResources', stackId, budget, (client, abortSignal) =>
      client.send(new ListStackResourcesCommand({ StackName: stackId, NextToken: nextToken }), { abortSignal }));
    all.push(...(out.StackResourceSummaries ?? []));
    nextToken = out.NextToken;
  } while (nextToken);
  return all;
}
