/**
 * Helpers for the handler's unit tests: CloudFormation-shaped events, a local HTTP server standing
 * in for the presigned ResponseURL, and captured log lines.
 */
import { CONTRACT_VERSION, PHYSICAL_ID_PREFIX, RevocationProperties } from '../../lib/contract';

export { ResponseServer } from '../support/response-server';
export type { CapturedResponse } from '../support/response-server';

export const ACCOUNT = '111111111111';
export const STACK_ID = `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/BYOK-Stack/0f9e8d7c-6b5a-4321-8765-43210fedcba9`;
export const KEY_A = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
export const KEY_B = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`;
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
