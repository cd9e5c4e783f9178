import { BudgetExhaustedError } from './errors';

/** The part of the Lambda context the handler uses. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** Used when no Lambda context is given (a malformed invocation): one minute. */
const FALLBACK_REMAINING_MS = 60_000;

/**
 * Time kept back for answering CloudFormation after the work stops: a tenth of the time, between
 * 1.5 and 10 seconds, and never more than half of it. The answer is one small HTTPS PUT.
 */
export function responseReserveMs(totalMs: number): number {
  return Math.min(Math.floor(totalMs / 2), Math.min(10_000, Math.max(1_500, Math.floor(totalMs / 10))));
}

/** The Lambda stops the invocation at its timeout: the answer must be out a moment before. */
const LAMBDA_SAFETY_MS = 250;

/**
 * The end of the work time kept from CloudFormation reads: a tenth of it, at least 5 s, at most
 * half. A read still failing (throttled, 5xx, dropped) when the rest begins is given up and left
 * to the rules as unreadable, with the last retried error as the reason: they fail a Delete that
 * would revoke, loudly (L21), and can still answer an Update whose statuses could not be read,
 * where a budget run out would have failed both alike (a rollback's Update must not fail). The
 * rest is the rules' and the KMS calls' time.
 */
export function readReserveMs(workMs: number): number {
  return Math.min(Math.floor(workMs / 2), Math.max(5_000, Math.floor(workMs / 10)));
}

/** A read begun after the reads' deadline (after a wait for its turn) still gets up to this much, and half of what is left. */
const LATE_READ_PATIENCE_MS = 5_000;

/**
 * A deadline for all the work of one invocation. The work stops at the deadline and a FAILED
 * answer goes out in the reserve that follows, so the Lambda never times out without answering
 * (LIFECYCLE L17) and CloudFormation is never left waiting for its own service timeout.
 */
export class Budget {
  /**
   * @param context the Lambda context (its remaining time bounds the budget)
   * @param serviceTimeoutSeconds the custom resource's ServiceTimeout: CloudFormation stops waiting then
   */
  static start(context: LambdaContextLike | undefined, serviceTimeoutSeconds: number | undefined, now = Date.now(),
    cloudFormationDeadline?: number): Budget {
    let lambdaRemaining = FALLBACK_REMAINING_MS;
    if (context && typeof context.getRemainingTimeInMillis === 'function') {
      const r = Number(context.getRemainingTimeInMillis());
      if (Number.isFinite(r) && r > 0) lambdaRemaining = r;
    }
    let remaining = lambdaRemaining;
    if (serviceTimeoutSeconds !== undefined && serviceTimeoutSeconds > 0) {
      remaining = Math.min(remaining, serviceTimeoutSeconds * 1000);
    }
    // A request that waited in Lambda's queue has only what is left of CloudFormation's wait.
    if (cloudFormationDeadline !== undefined && Number.isFinite(cloudFormationDeadline)) {
      remaining = Math.max(0, Math.min(remaining, cloudFormationDeadline - now));
    }
    const reserve = responseReserveMs(remaining);
    // The answer may still go out after CloudFormation's ServiceTimeout (it is then ignored), but
    // never after the Lambda's own timeout, which would cut it off.
    const workDeadline = now + remaining - reserve;
    return new Budget(now, workDeadline, Math.max(workDeadline, now + lambdaRemaining - LAMBDA_SAFETY_MS));
  }

  private readonly controller = new AbortController();
  /** The steps under way, innermost last: a budget that runs out names the step it stopped. */
  private readonly steps: string[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly expiry: Promise<never>;

  /** When CloudFormation reads stop retrying (readReserveMs before the work deadline). */
  readonly readDeadline: number;

  private constructor(
    readonly startedAt: number,
    /** When the work must stop. */
    readonly workDeadline: number,
    /** The last moment to answer: a little before the Lambda's own timeout. */
    readonly hardDeadline: number,
  ) {
    this.readDeadline = workDeadline - readReserveMs(Math.max(0, workDeadline - startedAt));
    this.expiry = new Promise<never>((_, reject) => {
      this.controller.signal.addEventListener('abort', () => reject(this.exhausted(this.steps[this.steps.length - 1])), { once: true });
    });
    // Never an unhandled rejection: whoever races against it sees it.
    this.expiry.catch(() => undefined);
    this.timer = setTimeout(() => this.controller.abort(), Math.max(0, workDeadline - Date.now()));
    this.timer.unref();
  }

  /** Aborts when the work deadline passes; passed to every SDK call so sockets are closed too. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remainingWorkMs(now = Date.now()): number {
    return Math.max(0, this.workDeadline - now);
  }

  /**
   * How long a CloudFormation read begun at `now` may retry: until the reads' deadline, as a share
   * of the budget, not a count of attempts, so that a budget raised with `serviceTimeout` makes
   * reads that much more patient (a stack deletion with hundreds of revocations in fresh Lambda
   * sandboxes needs it: each sandbox reads for itself, and the reads queue at CloudFormation's
   * read quota). A read begun later still gets a short while.
   */
  readPatienceMs(now = Date.now()): number {
    const late = Math.min((this.workDeadline - now) / 2, LATE_READ_PATIENCE_MS);
    return Math.max(0, Math.floor(Math.max(this.readDeadline - now, late)));
  }

  remainingHardMs(now = Date.now()): number {
    return Math.max(0, this.hardDeadline - now);
  }

  elapsedMs(now = Date.now()): number {
    return now - this.startedAt;
  }

  /**
   * Runs `work`, or rejects with BudgetExhaustedError at the work deadline, whichever comes first.
   * `what` names the step for the failure reason.
   */
  async race<T>(what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.controller.signal.aborted) throw this.exhausted(what);
    this.steps.push(what);
    try {
      return await Promise.race([work(this.controller.signal), this.expiry]);
    } catch (err) {
      if (this.controller.signal.aborted) throw this.exhausted(this.steps[this.steps.length - 1]);
      throw err;
    } finally {
      // Keep the record of the step that was running when time ran out.
      if (!this.controller.signal.aborted) this.steps.splice(this.steps.lastIndexOf(what), 1);
    }
  }

  /** Stops the timer once the work is done. */
  dispose(): void {
    clearTimeout(this.timer);
  }

  private exhausted(what?: string): BudgetExhaustedError {
    const seconds = ((this.workDeadline - this.startedAt) / 1000).toFixed(1);
    // A write that was sent may have taken effect although its answer never came (LIFECYCLE L31).
    const write = this.steps.find((step) => step.startsWith('kms:DeleteImportedKeyMaterial'));
    const done = write
      ? `The ${write.split(' ')[0]} call under way may have taken effect; nothing after it was done`
      : 'Nothing after this point was done';
    return new BudgetExhaustedError(
      `time budget of ${seconds}s ran out${what ? ` during ${what}` : ''} (retries included); ` +
      `answering FAILED before the Lambda times out. ${done}`,
    );
  }
}
