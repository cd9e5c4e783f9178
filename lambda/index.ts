/**
 * Lambda handler of Custom::KmsKeyMaterialRevocation. It answers CloudFormation itself (one PUT to
 * the presigned ResponseURL): every path, including a garbled event or a budget that ran out,
 * ends in exactly one SUCCESS or FAILED answer sent before the Lambda would time out.
 */
import {
  ATTR_KEY_ARN, ATTR_REVOKED_MATERIAL_IDS, FAILED_CREATE_PHYSICAL_ID_PREFIX,
} from '../lib/contract';
import { BOUND_STACK_ID_ENV, checkResponseUrl, cloudFormationDeadline, refusalOf, TEST_RESPONSE_ORIGIN_ENV } from './authentic';
import { Budget, LambdaContextLike } from './budget';
import { lastRetriedSince } from './clients';
import { BudgetExhaustedError, errorMessage, HandlerError } from './errors';
import { parseEvent, parseStackArn, readResponseTarget, readServiceTimeoutSeconds, ResponseTarget } from './event';
import { handleRequest } from './lifecycle';
import {
  DecisionRecord, logDecision, logLine, logMetric, METRIC_REFUSED_REQUESTS, METRIC_REVOCATION_FAILURES,
} from './log';
import { CfnResponse, formatMaterialIds, responseBody, sendResponse } from './respond';

/**
 * The physical ID of a FAILED answer: the existing one for Update and Delete; for Create a marker
 * that the Delete CloudFormation sends next recognises as "nothing was created" (L5).
 */
function failedPhysicalId(target: ResponseTarget): string {
  if (target.RequestType !== 'Create' && target.PhysicalResourceId) return target.PhysicalResourceId;
  return FAILED_CREATE_PHYSICAL_ID_PREFIX + (target.RequestId || 'unknown-request');
}

/** For a budget that ran out while a call was being retried: what was retried (throttling, a timeout...). */
function retryNote(err: HandlerError, invokedAt: number): string {
  const retried = err instanceof BudgetExhaustedError ? lastRetriedSince(invokedAt) : undefined;
  return retried ? ` The last error retried: ${retried}` : '';
}

function partitionOf(stackId: string): string | undefined {
  try {
    return parseStackArn(stackId).partition;
  } catch {
    return undefined;
  }
}

export async function handler(rawEvent: unknown, context?: LambdaContextLike): Promise<void> {
  const invokedAt = Date.now();
  const target = readResponseTarget(rawEvent);
  const url = target ? checkResponseUrl(target.ResponseURL, partitionOf(target.StackId), process.env[TEST_RESPONSE_ORIGIN_ENV]) : undefined;
  const serviceTimeout = readServiceTimeoutSeconds(rawEvent);
  const budget = Budget.start(context, serviceTimeout, Date.now(), url?.ok ? cloudFormationDeadline(url.value, serviceTimeout) : undefined);
  const record: DecisionRecord = {
    requestType: target?.RequestType,
    requestId: target?.RequestId,
    logicalResourceId: target?.LogicalResourceId,
  };
  // L29: an answer goes only to a ResponseURL of CloudFormation's; a request with any other
  // revokes nothing and is not answered.
  if (target && url && !url.ok) {
    budget.dispose();
    logMetric(METRIC_REFUSED_REQUESTS, stackNameOf(target.StackId), { requestType: target.RequestType, logicalResourceId: target.LogicalResourceId });
    logDecision({ ...record, decision: 'refused', reason: `${url.why}: not a request from CloudFormation; nothing done, no answer sent`, responseSent: false,
      durationMs: budget.elapsedMs() });
    return;
  }
  let response: CfnResponse | undefined;
  try {
    const event = parseEvent(rawEvent);
    record.keyArn = event.ResourceProperties.KeyArn;
    const refusal = url?.ok ? refusalOf({
      stackId: event.StackId,
      boundStackId: process.env[BOUND_STACK_ID_ENV],
      url: url.value,
      serviceTimeoutSeconds: serviceTimeout,
      now: Date.now(),
    }) : undefined;
    const outcome = await budget.race(`the ${event.RequestType} request`, () => handleRequest(event, refusal, url?.ok ? url.value.signedAt : undefined, budget, record));
    response = {
      Status: 'SUCCESS',
      PhysicalResourceId: outcome.physicalId,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      Data: {
        [ATTR_KEY_ARN]: outcome.keyArn,
        [ATTR_REVOKED_MATERIAL_IDS]: formatMaterialIds(outcome.materialIds),
      },
    };
  } catch (err) {
    // One line: CloudFormation shows the reason in a stack event, and logs read it as one line.
    const reason = (err instanceof HandlerError ? err.message + retryNote(err, invokedAt) : `unexpected error: ${errorMessage(err)}`)
      .replace(/[\r\n\u2028\u2029]+/g, ' ');
    record.decision = reason.startsWith('refused:') ? 'refused' : 'failed';
    record.reason = reason;
    if (target) {
      response = {
        Status: 'FAILED',
        Reason: reason,
        PhysicalResourceId: failedPhysicalId(target),
        StackId: target.StackId,
        RequestId: target.RequestId,
        LogicalResourceId: target.LogicalResourceId,
      };
    }
  } finally {
    budget.dispose();
  }
  if (!target || !response) {
    record.responseSent = false;
    record.durationMs = budget.elapsedMs();
    logDecision(record);
    logLine('error', 'the event has no ResponseURL: no response can be sent');
    return;
  }
  // The answer may use the reserve, up to a moment before the Lambda itself would stop.
  try {
    record.responseSent = await sendResponse(target.ResponseURL, responseBody(response), budget.hardDeadline,
      (message) => logLine('warn', message));
  } catch (err) {
    // Never let the answer itself crash the invocation: the log line below still goes out.
    record.responseSent = false;
    logLine('error', `the response could not be sent: ${errorMessage(err)}`);
  }
  record.durationMs = budget.elapsedMs();
  logDecision(record);
  loudFailure(record, target);
}

/**
 * L28: CloudFormation cannot fail a stack in a cleanup phase (it retries the Delete a few times,
 * then skips it and the stack ends UPDATE_COMPLETE), so every FAILED Delete also counts in a
 * metric the construct offers an alarm on; every refusal counts in another.
 */
function loudFailure(record: DecisionRecord, target: ResponseTarget): void {
  const fields = { requestType: record.requestType, logicalResourceId: record.logicalResourceId, keyArn: record.keyArn,
    stackStatus: record.stackStatus, reason: record.reason };
  if (record.decision === 'refused') logMetric(METRIC_REFUSED_REQUESTS, stackNameOf(target.StackId), fields);
  else if (record.decision === 'failed' && record.requestType === 'Delete') logMetric(METRIC_REVOCATION_FAILURES, stackNameOf(target.StackId), fields);
}

/** The stack name in a stack ARN (arn:...:stack/NAME/ID), or '' for a garbled one. */
function stackNameOf(stackId: string): string {
  return /:stack\/([^/]+)\//.exec(stackId)?.[1] ?? '';
}
