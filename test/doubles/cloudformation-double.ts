/**
 * A local HTTP test double of AWS CloudFormation, spoken to by the real
 * `@aws-sdk/client-cloudformation` over 127.0.0.1 (via `endpoint` or
 * `AWS_ENDPOINT_URL_CLOUDFORMATION`).
 *
 * Wire protocol (checked against the installed client, @aws-sdk/client-cloudformation 3.1169,
 * whose runtime config uses `AwsQueryProtocol` from @aws-sdk/core -- NOT the JSON protocol with
 * query compatibility): `POST /` with `Content-Type: application/x-www-form-urlencoded` and a body
 * `Action=<Op>&Version=2010-05-15&StackName=...`; responses are XML
 * `<OpResponse><OpResult>...</OpResult><ResponseMetadata><RequestId/></ResponseMetadata></OpResponse>`,
 * lists are `<member>` elements, timestamps ISO 8601. Errors are
 * `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`;
 * the SDK takes `err.name` from `<Code>`.
 *
 * Modelled on the CloudFormation API Reference (DescribeStacks, DescribeStackEvents, GetTemplate,
 * ListStackResources, Common Errors). Signatures are not verified; only the SigV4 credential scope
 * (access key ID, Region) is read.
 *
 * Nested stacks: a stack put with `parentId`/`rootId` is described with `ParentId` and `RootId`
 * ("For nested stacks, the stack ID of the direct parent of this stack. For the first level of
 * nested stacks, the root stack is also the parent stack" / "the stack ID of the top-level stack
 * to which the nested stack ultimately belongs"; both absent for a top-level stack:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html).
 *
 * Stack events are recorded by whoever drives the double (the test bed's StackEngine records one
 * for every stack and resource status change, `addStackEvent`) and are kept per stack ID, across
 * `putStack`, so that a deleted stack's history stays readable by its ID.
 */
import type * as http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  AwsDouble,
  dropConnection,
  newRequestId,
  parseSigV4Authorization,
  readBody,
  send,
  sleep,
  SlidingWindowLimiter,
  xmlEscape,
} from './http-util';

export interface StackResourceInput {
  logicalId: string;
  physicalId?: string;
  type: string;
  status: string;
  statusReason?: string;
  lastUpdated?: Date;
}

export interface StackStateInput {
  status: string;
  /** The template as submitted (GetTemplate TemplateStage=Original). */
  template: object;
  /** The template after transforms (TemplateStage=Processed, the default stage). Defaults to `template`. */
  processedTemplate?: object;
  resources?: StackResourceInput[];
  statusReason?: string;
  description?: string;
  creationTime?: Date;
  lastUpdatedTime?: Date;
  deletionTime?: Date;
  parameters?: Record<string, string>;
  outputs?: Array<{ key: string; value: string; description?: string; exportName?: string }>;
  tags?: Record<string, string>;
  /** For a nested stack: the stack ID (ARN) of its direct parent (DescribeStacks `ParentId`). */
  parentId?: string;
  /** For a nested stack: the stack ID of its top-level stack (DescribeStacks `RootId`). */
  rootId?: string;
  /** The stack was created with rollback disabled (CreateStack DisableRollback / `cdk deploy --no-rollback`). */
  disableRollback?: boolean;
}

/** One entry of a stack's event history (DescribeStackEvents `StackEvents` member). */
export interface StackEventInput {
  logicalId: string;
  physicalId?: string;
  type: string;
  status: string;
  statusReason?: string;
  timestamp?: Date;
}

export interface StackEvent extends StackEventInput {
  readonly eventId: string;
  readonly stackId: string;
  readonly stackName: string;
  readonly timestamp: Date;
}

export interface CfnCall {
  op: string;
  params: Record<string, string>;
  /** HTTP status sent; 0 when no response was delivered (connection dropped, or the client disconnected first). */
  status: number;
  /** The error code sent, or 'ConnectionDropped' / 'ConnectionDroppedAfterHandling' / 'ClientDisconnected'. */
  errorType?: string;
  errorMessage?: string;
  at: number;
  accessKeyId?: string;
  region?: string;
  requestId: string;
}

interface Stack {
  stackId: string;
  stackName: string;
  region: string;
  account: string;
  status: string;
  statusReason?: string;
  description?: string;
  template: object;
  processedTemplate?: object;
  resources: StackResourceInput[];
  creationTime: Date;
  lastUpdatedTime?: Date;
  deletionTime?: Date;
  parameters: Record<string, string>;
  outputs: Array<{ key: string; value: string; description?: string; exportName?: string }>;
  tags: Record<string, string>;
  parentId?: string;
  rootId?: string;
  disableRollback: boolean;
}

interface Ctx {
  op: string;
  params: Record<string, string>;
  region: string;
  accessKeyId: string;
}

const XMLNS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
const STACK_ARN_RE = /^arn:(aws[a-z-]*):cloudformation:([a-z0-9-]+):(\d{12}):stack\/([A-Za-z][A-Za-z0-9-]*)\/([A-Za-z0-9-]+)$/;
const SUPPORTED_OPS = ['DescribeStacks', 'DescribeStackEvents', 'DescribeStackResource', 'GetTemplate', 'ListStackResources'] as const;
type SupportedOp = (typeof SUPPORTED_OPS)[number];

/**
 * Default statuses for injected error codes. The generic "Common Errors" page lists
 * AccessDeniedException/ThrottlingException as 400; what CloudFormation actually answers over the
 * query protocol is `Throttling` (400, "Rate exceeded") and `AccessDenied` (403) -- both are
 * accepted here, pick per test.
 */
const DEFAULT_ERROR_STATUS: Readonly<Record<string, number>> = {
  AccessDenied: 403,
  AccessDeniedException: 400,
  ChangeSetNotFound: 404,
  IncompleteSignature: 400,
  InternalFailure: 500,
  InvalidClientTokenId: 403,
  ServiceUnavailable: 503,
  Throttling: 400,
  ThrottlingException: 400,
  ValidationError: 400,
};

class CfnError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = DEFAULT_ERROR_STATUS[code] ?? 400,
  ) {
    super(message);
  }
}

function el(name: string, value: string | undefined): string {
  return value === undefined ? '' : `<${name}>${xmlEscape(value)}</${name}>`;
}

function members(name: string, items: string[]): string {
  return items.length ? `<${name}>${items.map((i) => `<member>${i}</member>`).join('')}</${name}>` : '';
}

export class CloudFormationDouble extends AwsDouble<CfnCall, { op: string; accessKeyId?: string; message?: string }> {
  static async start(options: { pageSize?: number; defaultAccount?: string } = {}): Promise<CloudFormationDouble> {
    const double = new CloudFormationDouble(options.defaultAccount ?? '111122223333');
    if (options.pageSize !== undefined) double.setPageSize(options.pageSize);
    await double.listen();
    return double;
  }

  private readonly stacks = new Map<string, Stack>();
  /** Event history per stack ID, oldest first; kept when a stack is put again. */
  private readonly events = new Map<string, StackEvent[]>();
  /** Read quotas per operation (requests per second), off unless set. */
  private readonly quotas = new Map<string, number>();
  private readonly limiter = new SlidingWindowLimiter();
  /** IAM evaluation of each caller, when a test sets one (setAccessCheck). */
  private accessCheck?: (accessKeyId: string, action: string, stackArn: string) => { allowed: boolean; message: string } | undefined;
  /**
   * DescribeStackEvents page size. GUESS: the API Reference documents NextToken but no page size
   * for DescribeStackEvents (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html);
   * 100 events a page is what the service is commonly observed to return. Configurable.
   */
  private eventsPageSize = 100;
  /**
   * ListStackResources page size. The API Reference only says NextToken appears "If the output
   * exceeds 1 MB"; pages of 100 summaries are what the service is commonly observed to return, and a
   * count keeps tests deterministic. Configurable.
   */
  private pageSize = 100;

  private constructor(readonly defaultAccount: string) {
    super();
  }

  // -------------------------------------------------------------------------------------------
  // State set-up
  // -------------------------------------------------------------------------------------------

  /** Creates or replaces a stack. `stackId` is the full stack ARN `arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID`. */
  putStack(stackId: string, state: StackStateInput): void {
    const m = STACK_ARN_RE.exec(stackId);
    if (!m) throw new Error(`CloudFormationDouble.putStack: not a stack ARN: ${stackId}`);
    const [, , region, account, stackName] = m;
    const now = new Date();
    const stack: Stack = {
      stackId,
      stackName,
      region,
      account,
      status: state.status,
      statusReason: state.statusReason,
      description: state.description,
      template: state.template,
      processedTemplate: state.processedTemplate,
      resources: (state.resources ?? []).map((r) => ({ ...r })),
      creationTime: state.creationTime ?? now,
      lastUpdatedTime: state.lastUpdatedTime,
      deletionTime: state.deletionTime ?? (state.status === 'DELETE_COMPLETE' ? now : undefined),
      parameters: { ...(state.parameters ?? {}) },
      outputs: [...(state.outputs ?? [])],
      tags: { ...(state.tags ?? {}) },
      parentId: state.parentId,
      rootId: state.rootId,
      disableRollback: state.disableRollback ?? false,
    };
    if (state.parentId && !state.rootId) throw new Error('CloudFormationDouble.putStack: a nested stack (parentId) needs its rootId too');
    this.stacks.set(stackId, stack);
  }

  /**
   * Records a stack event (newest last here; DescribeStackEvents answers newest first). A
   * stack-level event has the stack name as LogicalResourceId, the stack ID as PhysicalResourceId
   * and ResourceType AWS::CloudFormation::Stack.
   */
  addStackEvent(stackId: string, event: StackEventInput): StackEvent {
    const s = this.mustGet(stackId);
    const list = this.events.get(stackId) ?? [];
    const last = list[list.length - 1]?.timestamp.getTime() ?? 0;
    // Timestamps strictly increase within a stack, so that "newest first" is well defined.
    const timestamp = event.timestamp ?? new Date(Math.max(Date.now(), last + 1));
    // GUESS (format observed in consoles, not documented): resource events are
    // "<LogicalId>-<STATUS>-<ISO time>", stack-level events a UUID.
    const stackLevel = event.type === 'AWS::CloudFormation::Stack' && event.physicalId === stackId;
    const eventId = stackLevel ? randomUUID() : `${event.logicalId}-${event.status}-${timestamp.toISOString()}`;
    const recorded: StackEvent = { ...event, eventId, stackId, stackName: s.stackName, timestamp };
    list.push(recorded);
    this.events.set(stackId, list);
    return recorded;
  }

  /** A stack's events, oldest first (for tests; the API answers newest first). */
  stackEvents(stackId: string): StackEvent[] {
    return [...(this.events.get(stackId) ?? [])];
  }

  setOutputs(stackId: string, outputs: Array<{ key: string; value: string; description?: string; exportName?: string }>): void {
    this.mustGet(stackId).outputs = [...outputs];
  }

  setParameters(stackId: string, parameters: Record<string, string>): void {
    this.mustGet(stackId).parameters = { ...parameters };
  }

  /** Whether a stack ID is known to the double. */
  has(stackId: string): boolean {
    return this.stacks.has(stackId);
  }

  /**
   * A read quota for `op` (requests per second, per Region and account -- here per double):
   * beyond it the call answers `Throttling` (400, "Rate exceeded"). Off unless set; `undefined`
   * removes it. GUESS: CloudFormation documents no per-operation read quotas; pick per test.
   */
  setReadQuota(op: string, perSecond: number | undefined): void {
    if (perSecond === undefined) this.quotas.delete(op);
    else this.quotas.set(op, perSecond);
    this.limiter.reset();
  }

  setEventsPageSize(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new Error('CloudFormationDouble.setEventsPageSize: positive integer expected');
    this.eventsPageSize = n;
  }

  setStatus(stackId: string, status: string, statusReason?: string): void {
    const s = this.mustGet(stackId);
    s.status = status;
    s.statusReason = statusReason;
    if (status === 'DELETE_COMPLETE' && !s.deletionTime) s.deletionTime = new Date();
    else if (!status.startsWith('DELETE_')) s.lastUpdatedTime = new Date();
  }

  setTemplate(stackId: string, template: object, processedTemplate?: object): void {
    const s = this.mustGet(stackId);
    s.template = template;
    s.processedTemplate = processedTemplate;
  }

  setResources(stackId: string, resources: StackResourceInput[]): void {
    this.mustGet(stackId).resources = resources.map((r) => ({ ...r }));
  }

  removeStack(stackId: string): void {
    this.stacks.delete(stackId);
    this.events.delete(stackId);
  }

  setPageSize(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new Error('CloudFormationDouble.setPageSize: positive integer expected');
    this.pageSize = n;
  }

  // -------------------------------------------------------------------------------------------
  // Calls and controls
  // -------------------------------------------------------------------------------------------

  /** Makes `op` ('*' = any) fail with `code` (e.g. Throttling, ValidationError, InternalFailure, AccessDenied). `times` defaults to Infinity. */
  injectError(op: string, code: string, opts: { times?: number; status?: number; message?: string } = {}): void {
    this.faults.addError({ op, errorType: code, status: opts.status ?? DEFAULT_ERROR_STATUS[code] ?? 400, message: opts.message, times: opts.times });
  }

  /**
   * Decides every request against the IAM policies of its caller: `decide` gets the access key,
   * the IAM action (`cloudformation:<Op>`) and the stack's ARN (the request's StackName resolved
   * to the stack ID; a stack that does not exist is left to the operation's own answer), and
   * answers undefined for a caller it does not evaluate, else whether it is allowed and, if not,
   * the AccessDenied message. CloudFormation's stacks take no resource-based policy: identity
   * policies alone decide (IAM User Guide, "Policy evaluation logic").
   */
  setAccessCheck(decide: ((accessKeyId: string, action: string, stackArn: string) => { allowed: boolean; message: string } | undefined) | undefined): void {
    this.accessCheck = decide;
  }

  /** Denies `op` ('*' = any) with AccessDenied (403), optionally only for one access key ID. */
  deny(op: string, opts: { accessKeyId?: string; message?: string } = {}): void {
    this.denyRules.push({ op, ...opts });
  }

  // -------------------------------------------------------------------------------------------
  // HTTP pipeline
  // -------------------------------------------------------------------------------------------

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = Date.now();
    const requestId = newRequestId();
    const raw = await readBody(req);
    const params: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) params[k] = v;
    const op = params.Action ?? '';
    const scope = parseSigV4Authorization(req.headers.authorization);
    const call: CfnCall = { op, params, status: 0, at, accessKeyId: scope?.accessKeyId, region: scope?.region, requestId };
    this.calls.push(call);
    const ctx: Ctx = { op, params, region: scope?.region ?? '', accessKeyId: scope?.accessKeyId ?? '' };
    const headers = { 'content-type': 'text/xml', 'x-amzn-RequestId': requestId };

    try {
      const delay = this.faults.takeLatency(op);
      if (delay > 0) await sleep(delay);
      if (this.faults.takeDrop(op, 'before')) {
        call.errorType = 'ConnectionDropped';
        dropConnection(req, res);
        return;
      }
      const injected = this.faults.takeError(op, ctx);
      if (injected) throw new CfnError(injected.errorType, injected.message ?? injectedMessage(injected.errorType), injected.status);
      if (!scope) throw new CfnError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
      if (!op) throw new CfnError('MissingAction', 'The request is missing an action or a required parameter.', 400);
      if (!(SUPPORTED_OPS as readonly string[]).includes(op)) {
        throw new CfnError('InvalidAction', `Could not find operation ${op} for version ${params.Version ?? '(none)'}`, 400);
      }
      this.checkDenied(ctx);
      const quota = this.quotas.get(op);
      if (quota !== undefined && !this.limiter.tryAcquire(op, quota)) throw new CfnError('Throttling', 'Rate exceeded', 400);
      const result = this.dispatch(op as SupportedOp, ctx);
      if (this.faults.takeDrop(op, 'after')) {
        call.errorType = 'ConnectionDroppedAfterHandling';
        dropConnection(req, res);
        return;
      }
      call.status = 200;
      const delivered = send(
        res,
        200,
        headers,
        `<?xml version="1.0" encoding="UTF-8"?>\n<${op}Response xmlns="${XMLNS}"><${op}Result>${result}</${op}Result>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${op}Response>`,
      );
      if (!delivered) undelivered(call);
    } catch (err) {
      if (!(err instanceof CfnError)) throw err;
      call.status = err.status;
      call.errorType = err.code;
      call.errorMessage = err.message;
      const type = err.status >= 500 ? 'Receiver' : 'Sender';
      const delivered = send(
        res,
        err.status,
        headers,
        `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type>` +
          `<Code>${xmlEscape(err.code)}</Code><Message>${xmlEscape(err.message)}</Message></Error>` +
          `<RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
      if (!delivered) undelivered(call);
    }
  }

  private dispatch(op: SupportedOp, ctx: Ctx): string {
    switch (op) {
      case 'DescribeStacks': return this.describeStacks(ctx);
      case 'DescribeStackEvents': return this.describeStackEvents(ctx);
      case 'GetTemplate': return this.getTemplate(ctx);
      case 'ListStackResources': return this.listStackResources(ctx);
      case 'DescribeStackResource': return this.describeStackResource(ctx);
    }
  }

  private checkDenied(ctx: Ctx): void {
    const target = this.accessCheck && ctx.params.StackName ? this.find(ctx.params.StackName, ctx.region) : undefined;
    const decision = target && this.accessCheck!(ctx.accessKeyId, `cloudformation:${ctx.op}`, target.stackId);
    if (decision && !decision.allowed) throw new CfnError('AccessDenied', decision.message, 403);
    for (const rule of this.denyRules) {
      if (rule.op !== '*' && rule.op !== ctx.op) continue;
      if (rule.accessKeyId && rule.accessKeyId !== ctx.accessKeyId) continue;
      const stack = ctx.params.StackName ? this.find(ctx.params.StackName, ctx.region) : undefined;
      const resource = stack?.stackId ?? (ctx.params.StackName ? `arn:aws:cloudformation:${ctx.region}:*:stack/${ctx.params.StackName}/*` : '*');
      const action = `cloudformation:${ctx.op}`;
      throw new CfnError(
        'AccessDenied',
        rule.message ?? `User: arn:aws:iam::${stack?.account ?? this.defaultAccount}:user/${ctx.accessKeyId} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
        403,
      );
    }
  }

  /**
   * "Running stacks: You can specify either the stack's name or its unique stack ID.
   *  Deleted stacks: You must specify the unique stack ID." (DescribeStacks/GetTemplate/ListStackResources StackName).
   * Stacks are regional: a stack in another Region than the request's does not exist.
   */
  private find(nameOrId: string, region: string): Stack | undefined {
    if (nameOrId.startsWith('arn:')) {
      const s = this.stacks.get(nameOrId);
      return s && s.region === region ? s : undefined;
    }
    let best: Stack | undefined;
    for (const s of this.stacks.values()) {
      if (s.stackName !== nameOrId || s.region !== region || s.status === 'DELETE_COMPLETE') continue;
      if (!best || s.creationTime > best.creationTime) best = s;
    }
    return best;
  }

  private mustFind(ctx: Ctx): Stack {
    const name = ctx.params.StackName;
    if (!name) {
      throw new CfnError('ValidationError', "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null");
    }
    const s = this.find(name, ctx.region);
    if (!s) throw new CfnError('ValidationError', `Stack with id ${name} does not exist`);
    return s;
  }

  private mustGet(stackId: string): Stack {
    const s = this.stacks.get(stackId);
    if (!s) throw new Error(`CloudFormationDouble: no stack ${stackId}`);
    return s;
  }

  private describeStacks(ctx: Ctx): string {
    const stacks = ctx.params.StackName
      ? [this.mustFind(ctx)]
      : [...this.stacks.values()]
          .filter((s) => s.region === ctx.region && s.status !== 'DELETE_COMPLETE')
          .sort((a, b) => b.creationTime.getTime() - a.creationTime.getTime());
    return members('Stacks', stacks.map((s) => this.stackXml(s)));
  }

  private stackXml(s: Stack): string {
    return (
      el('StackId', s.stackId) +
      el('StackName', s.stackName) +
      el('Description', s.description) +
      members('Parameters', Object.entries(s.parameters).map(([k, v]) => el('ParameterKey', k) + el('ParameterValue', v))) +
      el('CreationTime', s.creationTime.toISOString()) +
      el('DeletionTime', s.deletionTime?.toISOString()) +
      el('LastUpdatedTime', s.lastUpdatedTime?.toISOString()) +
      el('StackStatus', s.status) +
      el('StackStatusReason', s.statusReason) +
      el('DisableRollback', String(s.disableRollback)) +
      members(
        'Outputs',
        s.outputs.map((o) => el('OutputKey', o.key) + el('OutputValue', o.value) + el('Description', o.description) + el('ExportName', o.exportName)),
      ) +
      members('Tags', Object.entries(s.tags).map(([k, v]) => el('Key', k) + el('Value', v))) +
      el('EnableTerminationProtection', 'false') +
      el('ParentId', s.parentId) +
      el('RootId', s.rootId) +
      `<DriftInformation>${el('StackDriftStatus', 'NOT_CHECKED')}</DriftInformation>`
    );
  }

  /**
   * DescribeStackEvents: "Returns all stack related events for a specified stack in reverse
   * chronological order" (newest first), paginated with NextToken
   * (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html).
   * A deleted stack by its unique stack ID only, as for the other reads. A token pins the history
   * as it was at the first page, so events recorded meanwhile do not shift later pages.
   */
  private describeStackEvents(ctx: Ctx): string {
    const s = this.mustFind(ctx);
    const all = this.events.get(s.stackId) ?? [];
    let offset = 0;
    let count = all.length;
    if (ctx.params.NextToken !== undefined) {
      try {
        const parsed = JSON.parse(Buffer.from(ctx.params.NextToken, 'base64').toString('utf8'));
        if (parsed.s !== s.stackId || parsed.e !== true || !Number.isInteger(parsed.o) || !Number.isInteger(parsed.n) ||
          parsed.o < 0 || parsed.n > all.length) throw new Error('mismatch');
        offset = parsed.o;
        count = parsed.n;
      } catch {
        // GUESS: the message; the API Reference documents no operation-specific error for a bad token.
        throw new CfnError('ValidationError', 'Invalid NextToken');
      }
    }
    const newestFirst = all.slice(0, count).reverse();
    const page = newestFirst.slice(offset, offset + this.eventsPageSize);
    const next = offset + this.eventsPageSize < newestFirst.length
      ? Buffer.from(JSON.stringify({ s: s.stackId, e: true, o: offset + this.eventsPageSize, n: count })).toString('base64')
      : undefined;
    return members('StackEvents', page.map((e) =>
      el('StackId', e.stackId) +
      el('EventId', e.eventId) +
      el('StackName', e.stackName) +
      el('LogicalResourceId', e.logicalId) +
      el('PhysicalResourceId', e.physicalId) +
      el('ResourceType', e.type) +
      el('Timestamp', e.timestamp.toISOString()) +
      el('ResourceStatus', e.status) +
      el('ResourceStatusReason', e.statusReason))) + el('NextToken', next);
  }

  /**
   * GetTemplate: TemplateStage Original|Processed (default Processed; "If the template doesn't
   * include transforms, Original and Processed return the same template"); "For stacks, the Original
   * and Processed templates are always available." Change sets are not modelled (ChangeSetNotFound).
   */
  private getTemplate(ctx: Ctx): string {
    if (ctx.params.ChangeSetName) {
      throw new CfnError('ChangeSetNotFound', `ChangeSet [${ctx.params.ChangeSetName}] does not exist`, 404);
    }
    const stage = ctx.params.TemplateStage ?? 'Processed';
    if (stage !== 'Original' && stage !== 'Processed') {
      throw new CfnError('ValidationError', `1 validation error detected: Value '${stage}' at 'templateStage' failed to satisfy constraint: Member must satisfy enum value set: [Processed, Original]`);
    }
    const s = this.mustFind(ctx);
    const body = stage === 'Original' ? s.template : s.processedTemplate ?? s.template;
    return el('TemplateBody', JSON.stringify(body)) + members('StagesAvailable', ['Original', 'Processed']);
  }

  /**
   * DescribeStackResource (API Reference): StackResourceDetail of one logical resource, including
   * a deleted stack's by its stack ID. A logical ID the stack does not have: ValidationError
   * "Resource X does not exist for stack Y" (GUESS: the exact wording is not documented).
   */
  private describeStackResource(ctx: Ctx): string {
    const s = this.mustFind(ctx);
    const logicalId = ctx.params.LogicalResourceId;
    if (!logicalId) {
      throw new CfnError('ValidationError', "1 validation error detected: Value null at 'logicalResourceId' failed to satisfy constraint: Member must not be null");
    }
    const r = s.resources.find((x) => x.logicalId === logicalId);
    if (!r) throw new CfnError('ValidationError', `Resource ${logicalId} does not exist for stack ${s.stackName}`);
    return `<StackResourceDetail>${el('StackName', s.stackName) + el('StackId', s.stackId) + el('LogicalResourceId', r.logicalId) +
      el('PhysicalResourceId', r.physicalId) + el('ResourceType', r.type) +
      el('LastUpdatedTimestamp', (r.lastUpdated ?? s.lastUpdatedTime ?? s.creationTime).toISOString()) +
      el('ResourceStatus', r.status) + el('ResourceStatusReason', r.statusReason)}` +
      `<DriftInformation>${el('StackResourceDriftStatus', 'NOT_CHECKED')}</DriftInformation></StackResourceDetail>`;
  }

  /** ListStackResources: paginated StackResourceSummaries; deleted stacks by unique stack ID only. */
  private listStackResources(ctx: Ctx): string {
    const s = this.mustFind(ctx);
    let offset = 0;
    if (ctx.params.NextToken !== undefined) {
      try {
        const parsed = JSON.parse(Buffer.from(ctx.params.NextToken, 'base64').toString('utf8'));
        if (parsed.s !== s.stackId || !Number.isInteger(parsed.o) || parsed.o < 0) throw new Error('mismatch');
        offset = parsed.o;
      } catch {
        // GUESS: the message; the API Reference documents no operation-specific error for a bad token.
        throw new CfnError('ValidationError', 'Invalid NextToken');
      }
    }
    const page = s.resources.slice(offset, offset + this.pageSize);
    const next = offset + this.pageSize < s.resources.length ? Buffer.from(JSON.stringify({ s: s.stackId, o: offset + this.pageSize })).toString('base64') : undefined;
    const fallback = s.lastUpdatedTime ?? s.creationTime;
    return (
      members(
        'StackResourceSummaries',
        page.map(
          (r) =>
            el('LogicalResourceId', r.logicalId) +
            el('PhysicalResourceId', r.physicalId) +
            el('ResourceType', r.type) +
            el('LastUpdatedTimestamp', (r.lastUpdated ?? fallback).toISOString()) +
            el('ResourceStatus', r.status) +
            el('ResourceStatusReason', r.statusReason) +
            `<DriftInformation>${el('StackResourceDriftStatus', 'NOT_CHECKED')}</DriftInformation>`,
        ),
      ) + el('NextToken', next)
    );
  }
}

/** The client went away before the response was written (e.g. its requestTimeout fired during injected latency). */
function undelivered(call: CfnCall): void {
  call.status = 0;
  call.errorType = 'ClientDisconnected';
}

function injectedMessage(code: string): string {
  switch (code) {
    case 'Throttling':
    case 'ThrottlingException':
      return 'Rate exceeded';
    case 'InternalFailure':
      return 'The request processing has failed because of an unknown error, exception or failure.';
    case 'ServiceUnavailable':
      return 'The request has failed due to a temporary failure of the server.';
    default:
      return `Injected ${code}`;
  }
}
