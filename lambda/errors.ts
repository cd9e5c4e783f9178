/**
 * Errors the handler reports to CloudFormation. Every failure ends as a FAILED response whose
 * reason is the message of a HandlerError, so messages name the action, the resource and the cause.
 */
export class HandlerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerError';
  }
}

/** The time budget ran out: answer FAILED now rather than let the Lambda time out. */
export class BudgetExhaustedError extends HandlerError {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetExhaustedError';
  }
}

/** The error code of an AWS SDK error (`ThrottlingException`, `AccessDeniedException`, ...), else ''. */
export function awsErrorName(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    for (const candidate of [e.name, e.Code, e.code]) {
      if (typeof candidate === 'string' && candidate) return candidate;
    }
  }
  return '';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** An SDK error as failure reasons name it: `ThrottlingException: Rate exceeded`. */
export function errorDetail(err: unknown): string {
  return `${awsErrorName(err) || 'Error'}: ${errorMessage(err)}`;
}

/** True for the access-denied codes KMS and CloudFormation use. */
export function isAccessDenied(err: unknown): boolean {
  const name = awsErrorName(err);
  return name === 'AccessDeniedException' || name === 'AccessDenied' || name === 'UnauthorizedOperation';
}

/**
 * Turns an SDK error from a KMS call into a reason a person can act on. Errors that are already
 * HandlerErrors (budget exhausted, for one) pass through unchanged.
 */
export function explainKmsError(err: unknown, action: string, keyArn: string): HandlerError {
  if (err instanceof HandlerError) return err;
  const name = awsErrorName(err);
  const detail = errorDetail(err);
  switch (name) {
    case 'AccessDeniedException':
      return new HandlerError(
        `${action} was denied on ${keyArn} (${detail}). Likely cause: the handler's role lacks ${action} on this key, ` +
        'the key policy does not allow it (neither directly nor by trusting the account\'s IAM policies), ' +
        'or an organization policy (SCP or RCP) denies it',
      );
    case 'NotFoundException':
      return new HandlerError(`${action} found no key ${keyArn} (${detail}): it does not exist in that Region and account`);
    case 'InvalidArnException':
      return new HandlerError(`${action} rejected the key ARN ${keyArn} as malformed (${detail})`);
    case 'UnsupportedOperationException':
      return new HandlerError(`${action} is not supported for ${keyArn} (${detail}): only keys with Origin EXTERNAL hold imported material`);
    case 'KMSInvalidStateException':
      return new HandlerError(`${action} is not allowed in the current state of ${keyArn} (${detail})`);
    default:
      // A write whose answer was lost (a timeout, a dropped connection, a 5xx) may have been done.
      return new HandlerError(`${action} on ${keyArn} failed after retries (${detail})` +
        (action === 'kms:DeleteImportedKeyMaterial' ? '; the last attempt may have taken effect, so the material may already be revoked' : ''));
  }
}

/** Same as explainKmsError, for the CloudFormation reads on the handler's own stack. */
export function explainCloudFormationError(err: unknown, action: string, stackId: string): HandlerError {
  if (err instanceof HandlerError) return err;
  const detail = errorDetail(err);
  if (isAccessDenied(err)) {
    return new HandlerError(
      `${action} was denied on ${stackId} (${detail}). Likely cause: the handler's role lacks ${action} on its own stack, ` +
      'or an organization policy denies it. The handler does not guess the stack\'s state',
    );
  }
  return new HandlerError(`${action} on ${stackId} failed (${detail}); the handler does not guess the stack's state`);
}
