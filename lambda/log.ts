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
  /** The keys revoked (two after a key change with the switch on; not always the request's KeyArn). */
  revokedKeys?: string[];
  /** Set when the status was remembered from an earlier Delete of the same stack deletion. */
  stackStatusRemembered?: boolean;
  keyArn?: string;
  /** revoked | skipped | validated | failed | refused */
  decision?: string;
  reason?: string;
  materialIds?: string[];
  /** Multi-Region keys (LIFECYCLE M1): for each key revoked, the material IDs deleted in each Region. */
  materialIdsByRegion?: Record<string, Record<string, string[]>>;
  responseSent?: boolean;
  /** In a stack deletion: how long the revocation waited for its turn at KMS's quota. */
  waitedForTurnMs?: number;
  durationMs?: number;
}

/** Longest string logged as it is: an event can carry megabytes in any field. */
export const MAX_LOGGED_STRING = 1024;

/** Strings capped (with how much was left out), everything else as it is. */
function capped(_key: string, value: unknown): unknown {
  if (typeof value !== 'string' || value.length <= MAX_LOGGED_STRING) return value;
  return `${value.slice(0, MAX_LOGGED_STRING)}... [${value.length - MAX_LOGGED_STRING} more characters]`;
}

/**
 * One JSON line. JSON.stringify leaves U+2028 and U+2029 as they are, which some log readers take
 * for line breaks: they are escaped, so one decision is always one line.
 */
export function jsonLine(value: object): string {
  return JSON.stringify(value, capped).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function logLine(level: 'info' | 'warn' | 'error', message: string, fields: object = {}): void {
  const line = jsonLine({ level, message, ...fields });
  if (level === 'info') console.log(line);
  else if (level === 'warn') console.warn(line);
  else console.error(line);
}

export function logDecision(record: DecisionRecord): void {
  logLine(record.decision === 'failed' || record.decision === 'refused' ? 'error' : 'info', 'decision', record);
}

export { METRIC_NAMESPACE, METRIC_REFUSED_REQUESTS, METRIC_REVOCATION_FAILURES } from '../lib/contract';
import { METRIC_NAMESPACE } from '../lib/contract';

/**
 * One metric data point in CloudWatch's embedded metric format: CloudWatch Logs turns the log line
 * into the metric, with no PutMetricData permission and no call that could fail (AWS CloudWatch
 * User Guide, "Specification: Embedded metric format"). Dimension: the stack's name.
 */
export function logMetric(name: string, stackName: string, fields: object): void {
  const line = jsonLine({
    level: 'error',
    message: name,
    ...fields,
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [['StackName']], Metrics: [{ Name: name, Unit: 'Count' }] }],
    },
    StackName: stackName,
    [name]: 1,
  });
  console.error(line);
}
