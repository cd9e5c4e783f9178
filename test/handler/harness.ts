/**
 * Helpers for the handler's unit tests: CloudFormation-shaped events, a local HTTP server standing
 * in for the presigned ResponseURL, and captured log lines.
 */
import {
  CloudFormationClientResolvedConfig, DescribeStackEventsCommand, DescribeStackResourceCommand, DescribeStacksCommand, GetTemplateCommand, ListStackResourcesCommand,
  ServiceInputTypes, ServiceOutputTypes,
} from '@aws-sdk/client-cloudformation';
import { AwsStub } from 'aws-sdk-client-mock';
import { BOUND_STACK_ID_ENV, CONTRACT_VERSION, PHYSICAL_ID_PREFIX, RevocationProperties } from '../../lib/contract';

export { ResponseServer } from '../support/response-server';
export type { CapturedResponse } from '../support/response-server';

export const ACCOUNT = '111111111111';
export const STACK_ID = `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/BYOK-Stack/0f9e8d7c-6b5a-4321-8765-43210fedcba9`;
export const KEY_A = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
export const KEY_B = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`;
export const KEY_C = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/5678efab-56ef-78ab-90cd-5678efab90cd`;
export const LOGICAL_ID = 'Revocation2857AF0C';

export const physicalId = (keyArn: string) => PHYSICAL_ID_PREFIX + keyArn;

export function props(overrides: Partial<Record<keyof RevocationProperties | 'ServiceTimeout', unknown>> = {}): Record<string, unknown> {
  return {
    ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:handler',
    ServiceTimeout: '300',
    KeyArn: KEY_A,
    KeyLogicalId: 'ByokKeyD50A60B7',
    RevokeOnStackDelete: 'true',
    RevokeOnKeyReplacement: 'true',
    RevokeOnRemoval: 'false',
    Revoked: 'false',
    MaterialScope: 'ALL',
    ContractVersion: CONTRACT_VERSION,
    ...overrides,
  };
}

export interface EventOptions {
  readonly physicalId?: string;
  readonly props?: Record<string, unknown>;
  readonly oldProps?: Record<string, unknown>;
  readonly logicalId?: string;
  /** Another stack than STACK_ID. */
  readonly stackId?: string;
}

export function cfnEvent(requestType: 'Create' | 'Update' | 'Delete', responseUrl: string, o: EventOptions = {}): Record<string, unknown> {
  const event: Record<string, unknown> = {
    RequestType: requestType,
    ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:handler',
    ResponseURL: responseUrl,
    StackId: o.stackId ?? STACK_ID,
    RequestId: `req-${Math.random().toString(16).slice(2)}`,
    LogicalResourceId: o.logicalId ?? LOGICAL_ID,
    ResourceType: 'Custom::KmsKeyMaterialRevocation',
    ResourceProperties: o.props ?? props(),
  };
  if (requestType !== 'Create') event.PhysicalResourceId = o.physicalId ?? physicalId(KEY_A);
  if (requestType === 'Update') event.OldResourceProperties = o.oldProps ?? props();
  return event;
}

/** Captures what the handler writes to the console, as parsed JSON lines. */
export class LogCapture {
  readonly lines: string[] = [];
  private readonly spies: jest.SpyInstance[] = [];

  start(): void {
    for (const method of ['log', 'warn', 'error', 'info'] as const) {
      this.spies.push(jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        this.lines.push(args.map(String).join(' '));
      }));
    }
  }

  stop(): void {
    this.spies.forEach((s) => s.mockRestore());
    this.spies.length = 0;
    this.lines.length = 0;
  }

  records(): Array<Record<string, any>> {
    return this.lines.map((l) => JSON.parse(l));
  }

  decision(): Record<string, any> {
    const found = this.records().filter((r) => r.message === 'decision');
    if (found.length !== 1) throw new Error(`expected one decision line, got ${found.length}: ${this.lines.join('\n')}`);
    return found[0];
  }
}

export const context = (remainingMs = 60_000) => {
  const deadline = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => deadline - Date.now() };
};

/** An error as the SDK throws it for an AWS error code. */
export function awsError(name: string, message = `${name} from the test`): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}

type CloudFormationStub = AwsStub<ServiceInputTypes, ServiceOutputTypes, CloudFormationClientResolvedConfig>;

/**
 * What the mocked CloudFormation shows while it sends an event (L29): the resource *_IN_PROGRESS
 * under the event's physical ID (DescribeStackResource), the stack's status and history, its
 * template in force naming the resource as the event does, and the resource's deletion in the
 * stack's events.
 */
export class CloudFormationWhileSending {
  /** The event under way. */
  current?: Record<string, unknown>;
  /** What DescribeStackResource shows; undefined: what CloudFormation shows while it sends the event; null: no such resource. */
  resourceState?: { status: string; physicalId?: string } | null;

  constructor(private readonly cfn: CloudFormationStub) {}

  /** Forgets the event and the resource state (a fresh test). */
  reset(): void {
    this.current = undefined;
    this.resourceState = undefined;
  }

  /** The stack in `status`, after `history` (newest first), with the template in force as the request describes the resource. */
  stackStatus(status: string, history: string[] = ['UPDATE_COMPLETE', 'CREATE_COMPLETE', 'CREATE_IN_PROGRESS']): void {
    this.cfn.on(DescribeStacksCommand, { StackName: STACK_ID }).resolves({
      Stacks: [{ StackId: STACK_ID, StackName: 'BYOK-Stack', StackStatus: status as any, CreationTime: new Date() }],
    });
    this.stackHistory([status, ...history]);
    this.templateAsRequested();
    this.resourcesAsSending();
  }

  /** What the resource the current event names shows while it is sent; null: it is not in the stack. */
  private currentState(): { status: string; physicalId?: string } | null {
    const event = this.current;
    if (this.resourceState !== undefined) return this.resourceState;
    const requestType = event?.RequestType;
    return {
      status: requestType === 'Create' ? 'CREATE_IN_PROGRESS' : requestType === 'Update' ? 'UPDATE_IN_PROGRESS' : 'DELETE_IN_PROGRESS',
      physicalId: event?.PhysicalResourceId as string | undefined,
    };
  }

  /**
   * The stack's resources (ListStackResources), as the current event's resource shows while it
   * is sent (a test that needs others registers its own list after this).
   */
  resourcesAsSending(): void {
    this.cfn.on(ListStackResourcesCommand).callsFake(() => {
      const state = this.currentState();
      return {
        StackResourceSummaries: state === null ? [] : [{
          LogicalResourceId: String(this.current?.LogicalResourceId), PhysicalResourceId: state.physicalId,
          ResourceType: 'Custom::KmsKeyMaterialRevocation', ResourceStatus: state.status as any, LastUpdatedTimestamp: new Date(),
        }],
      };
    });
  }

  /** The template in force has the resource as the request describes it (CloudFormation wrote both). */
  templateAsRequested(): void {
    this.cfn.on(GetTemplateCommand).callsFake(() => ({
      TemplateBody: JSON.stringify({
        Resources: { [String(this.current?.LogicalResourceId)]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: this.current?.ResourceProperties } },
      }),
    }));
  }

  /**
   * The stack's own events, newest first (DescribeStackEvents), one page: the stack-level
   * `statuses`, after the DELETE_IN_PROGRESS event of the resource the current Delete names, as
   * CloudFormation records it before invoking the provider.
   */
  stackHistory(statuses: string[], stackId = STACK_ID): void {
    this.cfn.on(DescribeStackEventsCommand, { StackName: stackId }).callsFake(() => {
      const current = this.current;
      // The resource's newest event says what DescribeStackResource says (a resource gone: deleted).
      const state = this.currentState();
      return {
        StackEvents: [
          ...(current?.RequestType === 'Delete' && current.StackId === stackId ? [{
            StackId: stackId, StackName: 'BYOK-Stack', EventId: 'resource', LogicalResourceId: current.LogicalResourceId as string,
            PhysicalResourceId: state?.physicalId ?? current.PhysicalResourceId as string, ResourceType: 'Custom::KmsKeyMaterialRevocation',
            ResourceStatus: (state?.status ?? 'DELETE_COMPLETE') as any, Timestamp: new Date(),
          }] : []),
          ...statuses.map((status, i) => ({
            StackId: stackId, StackName: 'BYOK-Stack', EventId: `e${i}`, LogicalResourceId: 'BYOK-Stack', PhysicalResourceId: stackId,
            ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: status as any, Timestamp: new Date(Date.now() - i * 1000),
          })),
        ],
      };
    });
  }

  /**
   * CloudFormation is about to send `event` for the handler bound to `boundStackId` (the construct
   * binds it at deploy time): DescribeStackResource shows the resource in progress, unless
   * `resourceState` says otherwise.
   */
  sending(event: Record<string, unknown>, boundStackId = STACK_ID): void {
    this.current = event;
    process.env[BOUND_STACK_ID_ENV] = boundStackId;
    this.cfn.on(DescribeStackResourceCommand).callsFake(() => {
      const state = this.currentState();
      if (state === null) throw awsError('ValidationError', `Resource ${event.LogicalResourceId} does not exist for stack`);
      return {
        StackResourceDetail: {
          LogicalResourceId: event.LogicalResourceId as string, ResourceStatus: state.status as any, PhysicalResourceId: state.physicalId,
          ResourceType: 'Custom::KmsKeyMaterialRevocation', LastUpdatedTimestamp: new Date(),
        },
      };
    });
  }
}
