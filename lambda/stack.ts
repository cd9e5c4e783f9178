import {
  CloudFormationClient, DescribeStackEventsCommand, DescribeStackResourceCommand, DescribeStacksCommand, GetTemplateCommand,
  ListStackResourcesCommand, StackEvent, StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { TemplateResources } from './decide';
import { Budget } from './budget';
import { cloudFormationClient, lastRetriedSince } from './clients';
import { awsErrorName, explainCloudFormationError, HandlerError } from './errors';
import { parseStackArn } from './event';

/** The read's patience ran out before the read succeeded (not the budget: the rules still decide). */
export class ReadPatienceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReadPatienceExhausted';
  }
}

/**
 * One CloudFormation read in the stack's Region, within the time budget and the read's patience
 * (Budget.readPatienceMs). The SDK call gets a signal that ends its retries at either.
 */
async function patientRead<T>(action: string, stackId: string, budget: Budget,
  send: (client: CloudFormationClient, abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  const client = cloudFormationClient(parseStackArn(stackId).region);
  return budget.race(`${action} on ${stackId}`, async (budgetSignal) => {
    const startedAt = Date.now();
    const patienceMs = budget.readPatienceMs(startedAt);
    const patience = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const retried = lastRetriedSince(startedAt);
        // Rejected before the SDK call is aborted, so that the race ends with this reason.
        reject(new ReadPatienceError(`no answer after ${((Date.now() - startedAt) / 1000).toFixed(1)}s (retries included), ` +
          'at the end of the time the budget gives reads' +
          `${retried ? ` (the last error retried: ${retried})` : ''}`));
        patience.abort();
      }, patienceMs);
    });
    try {
      return await Promise.race([send(client, AbortSignal.any([budgetSignal, patience.signal])), gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  });
}

/**
 * One CloudFormation read on the handler's own stack or an ancestor; any failure is explained, and
 * the handler does not guess past it.
 */
async function cfnCall<T>(action: string, stackId: string, budget: Budget,
  send: (client: CloudFormationClient, abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  try {
    return await patientRead(action, stackId, budget, send);
  } catch (err) {
    throw explainCloudFormationError(err, action, stackId);
  }
}

/** What DescribeStacks says of one stack. */
export interface StackDescription {
  readonly stackId: string;
  readonly stackName: string;
  readonly status: string;
  /** For a nested stack: its parent's and its root's stack IDs. */
  readonly parentId?: string;
  readonly rootId?: string;
}

/** DescribeStacks on a stack ARN (so a stack being deleted is still found). */
export async function describeStack(stackId: string, budget: Budget): Promise<StackDescription> {
  const out = await cfnCall('cloudformation:DescribeStacks', stackId, budget,
    (client, abortSignal) => client.send(new DescribeStacksCommand({ StackName: stackId }), { abortSignal }));
  const stack = out.Stacks?.[0];
  if (!stack?.StackStatus) throw new HandlerError(`cloudformation:DescribeStacks on ${stackId} returned no stack status`);
  return {
    stackId: stack.StackId ?? stackId,
    stackName: stack.StackName ?? '',
    status: stack.StackStatus,
    parentId: stack.ParentId || undefined,
    rootId: stack.RootId || undefined,
  };
}

/**
 * One logical resource of the stack (DescribeStackResource): its status and physical ID, or null
 * when the stack has no such resource (CloudFormation answers ValidationError).
 */
export async function describeStackResource(stackId: string, logicalId: string, budget: Budget): Promise<{
  status: string; physicalId?: string;
} | null> {
  try {
    const out = await patientRead('cloudformation:DescribeStackResource', stackId, budget, (client, abortSignal) =>
      client.send(new DescribeStackResourceCommand({ StackName: stackId, LogicalResourceId: logicalId }), { abortSignal }));
    const detail = out.StackResourceDetail;
    if (!detail?.ResourceStatus) throw new HandlerError(`cloudformation:DescribeStackResource on ${stackId} returned no resource status`);
    return { status: detail.ResourceStatus, physicalId: detail.PhysicalResourceId };
  } catch (err) {
    if (awsErrorName(err) === 'ValidationError' && /does not exist/i.test((err as Error).message)) return null;
    throw explainCloudFormationError(err, 'cloudformation:DescribeStackResource', stackId);
  }
}

/** One page of DescribeStackEvents (newest first). */
export async function readStackEventsPage(stackId: string, nextToken: string | undefined, budget: Budget): Promise<{
  events: StackEvent[]; nextToken?: string;
}> {
  const out = await cfnCall('cloudformation:DescribeStackEvents', stackId, budget, (client, abortSignal) =>
    client.send(new DescribeStackEventsCommand({ StackName: stackId, NextToken: nextToken }), { abortSignal }));
  return { events: out.StackEvents ?? [], nextToken: out.NextToken };
}


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
