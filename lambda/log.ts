/**
 * One structured JSON line per decision (LIFECYCLE "Logging and data"). The event itself is never
 * logged: its ResponseURL is a presigned URL that anyone could use to answer for this resource.
 */
export interface DecisionRecord {
  requestType?: string;
  requestId?: string;
  logicalResourceId?: string;
  stackStatus?: string;
  /** For a nested stack: the statuses of its parent and each ancestor up to the root. */
  ancestorStatuses?: string[];
  /** Whether the (root) stack's history shows it once reached a stable state, when that was read. */
  everStable?: boolean;
  /** The keys revoked, when a request revoked more than one (a key change with the switch on). */
  revokedKeys?: string[];
  /** Set when the status was remembered from an earlier Delete of the same stack deletion. */
  stackStatusRemembered?: boolean;
  keyArn?: string;
  /** revoked | skipped | validated | failed */
  decision?: string;
  reason?: string;
  materialIds?: string[];
  responseSent?: boolean;
  durationMs?: number;
}

export function logLine(level: 'info' | 'warn' | 'error', message: string, fields: object = {}): void {
  const line = JSON.stringify({ level, message, ...fields });
  if (level === 'info') console.log(line);
  else if (level === 'warn') console.warn(line);
  else console.error(line);
}

export function logDecision(record: DecisionRecord): void {
  logLine(record.decision === 'failed' ? 'error' : 'info', 'decision', record);
}
