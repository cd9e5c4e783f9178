/**
 * Lambda handler of Custom::KmsKeyMaterialRevocation. It answers CloudFormation itself (one PUT to
 * the presigned ResponseURL): every path, including a garbled event or a budget that ran out,
 * ends in exactly one SUCCESS or FAILED answer sent before the Lambda would time out.
 */
import {
  ATTR_KEY_ARN, ATTR_REVOKED_MATERIAL_IDS, FAILED_CREATE_PHYSICAL_ID_PREFIX,
} from '../lib/contract';
import { Budget, LambdaContextLike } from './budget';
import { errorMessage, HandlerError } from './errors';
import { parseEvent, readResponseTarget, readServiceTimeoutSeconds, ResponseTarget } from './event';
import { handleRequest } from './lifecycle';
import { DecisionRecord, logDecision, logLine } from './log';
import { CfnResponse, formatMaterialIds, responseBody, sendResponse } from './respond';

/**
 * The physical ID of a FAILED answer: the existing one for Update and Delete; for Create a marker
 * that the Delete CloudFormation sends next recognises as "nothing was created" (L5).
 */
function failedPhysicalId(target: ResponseTarget): string {
  if (target.RequestType !== 'Create' && target.PhysicalResourceId) return target.PhysicalResourceId;
  return FAILED_CREATE_PHYSICAL_ID_PREFIX + (target.RequestId || 'unknown-request');
}

export async function handler(rawEvent: unknown, context?: LambdaContextLike): Promise<void> {
  const budget = Budget.start(context, readServiceTimeoutSeconds(rawEvent));
  const target = readResponseTarget(rawEvent);
  const record: DecisionRecord = {
    requestType: target?.RequestType,
    requestId: target?.RequestId,
    logicalResourceId: target?.LogicalResourceId,
  };
  let response: CfnResponse | undefined;
  try {
    const event = parseEvent(rawEvent);
    record.keyArn = event.ResourceProperties.KeyArn;
    const outcome = await budget.race(`the ${event.RequestType} request`, () => handleRequest(event, budget, record));
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
    const reason = (err instanceof HandlerError ? err.message : `unexpected error: ${errorMessage(err)}`)
      .replace(/[\r\n\u2028\u2029]+/g, ' ');
    record.decision = 'failed';
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
}
