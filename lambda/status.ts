/**
 * CloudFormation stack statuses, classified in one place (the idea of the CDK CLI's `StackStatus`
 * class) instead of string tests scattered through the rules. Statuses and their meaning: AWS
 * CloudFormation User Guide, "Stack status codes" (view-stack-events.html#cfn-console-view-stack-data-resources-status-codes).
 * No I/O and no SDK: the decision rules and the plan command share this file.
 */

/**
 * CloudFormation is undoing a change: ROLLBACK_* (only after a failed create), UPDATE_ROLLBACK_*,
 * IMPORT_ROLLBACK_*, their cleanup statuses. Nothing is ever revoked then (LIFECYCLE L4, L10,
 * L11, L20, L23).
 */
export function isRollback(status: string): boolean {
  return status.includes('ROLLBACK');
}

/** The stack is being deleted (whatever the reason: for a nested stack its status cannot tell). */
export function isDeleting(status: string): boolean {
  return status === 'DELETE_IN_PROGRESS';
}

/** A successful update is committed and CloudFormation deletes what it replaced or removed. */
export function isUpdateCleanup(status: string): boolean {
  return status === 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS';
}

/**
 * An ancestor state under which a nested stack's own cleanup is final: the root's update has
 * succeeded (a nested stack that was updated waits in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS for its
 * root to finish) and can no longer roll back.
 */
export function isCommittedUpdate(status: string): boolean {
  return status === 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' || status === 'UPDATE_COMPLETE';
}

/**
 * Stack-level statuses that prove a stack once reached a stable state: a create that completed,
 * an update that completed (also one that repaired a `--no-rollback` create), an import that
 * completed. CREATE_FAILED, ROLLBACK_* and REVIEW_IN_PROGRESS prove the opposite, and
 * UPDATE_ROLLBACK_COMPLETE proves nothing (an update of a CREATE_FAILED stack can roll back to it).
 */
export function provesStable(status: string): boolean {
  return status === 'CREATE_COMPLETE' || status === 'UPDATE_COMPLETE' || status === 'IMPORT_COMPLETE';
}
