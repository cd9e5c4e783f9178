/**
 * Events made by hand in CloudFormation's shape for a deployed revocation resource of a test bed,
 * and the bed's function in containers of its own: for the suites that invoke the function
 * directly instead of through the engine (malformed, forged, stale and duplicate events).
 */
import { randomUUID } from 'node:crypto';
import { REVOCATION_TYPE } from './engine';
import { LambdaRunner } from './lambda-runner';
import { TestBed } from './testbed';

export type Event = Record<string, any>;
export type RequestType = 'Create' | 'Update' | 'Delete';

/** A deployed revocation resource as CloudFormation would describe it in an event. */
export interface Deployed {
  readonly logicalId: string;
  readonly physicalId: string;
  readonly properties: Record<string, any>;
}

export function snapshot(bed: TestBed, logicalId: string): Deployed {
  const r = bed.engine.resources.get(logicalId)!;
  return { logicalId, physicalId: r.physicalId, properties: { ...r.properties } };
}

/** A hand-made event in CloudFormation's shape for `r`, with `props` overriding its properties. */
export function eventFor(bed: TestBed, requestType: RequestType, r: Deployed, responseUrl: string, props: Record<string, any> = {},
  extra: Event = {}): Event {
  const e: Event = {
    RequestType: requestType,
    ServiceToken: r.properties.ServiceToken,
    ResponseURL: responseUrl,
    StackId: bed.engine.stackId,
    RequestId: randomUUID(),
    LogicalResourceId: r.logicalId,
    ResourceType: REVOCATION_TYPE,
    ResourceProperties: { ...r.properties, ...props },
    ...extra,
  };
  if (requestType !== 'Create') e.PhysicalResourceId ??= r.physicalId;
  if (requestType === 'Update') e.OldResourceProperties ??= { ...r.properties };
  return e;
}

/**
 * The bed's function in containers of its own, answering to `origin` besides S3 (the test-only
 * setting, L29), with the stack binding CloudFormation resolved: fresh containers, so nothing a
 * warm container remembers (a deleting stack's lineage) carries over.
 */
export async function withRunner<T>(bed: TestBed, origin: string, timeoutMs: number, work: (runner: LambdaRunner) => Promise<T>): Promise<T> {
  const runner = new LambdaRunner(bed.runner.spec, {
    timeoutMs,
    env: { AWS_ENDPOINT_URL_KMS: bed.kms.endpoint, AWS_ENDPOINT_URL_CLOUDFORMATION: bed.cfn.endpoint, REVOCATION_TEST_RESPONSE_ORIGIN: origin },
  });
  runner.useEnvironment({ REVOCATION_STACK_ID: bed.engine.stackId });
  try {
    return await work(runner);
  } finally {
    await runner.stop();
  }
}
