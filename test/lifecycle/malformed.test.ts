/**
 * LIFECYCLE L19 on the wire: malformed events sent straight to the shipped handler bundle, run as
 * Lambda would run it (bed.runner.invoke), with a ResponseURL on the test's response server.
 *
 * Every event that carries somewhere to answer gets exactly one FAILED answer whose reason names
 * the bad field, from an invocation that neither timed out, crashed nor threw. Events that carry no
 * usable ResponseURL, and ResponseURLs that cannot be reached, end quietly before the function's
 * timeout. No log line ever contains the ResponseURL or its query string (LIFECYCLE "Logging and data").
 */
import * as net from 'node:net';
import { Stack } from 'aws-cdk-lib';
import { PROPERTY_DEFAULTS } from '../../lib/contract';
import { KeyMaterialRevocation } from '../../lib/index';
import { REVOCATION_TYPE } from './engine';
import { Event, eventFor, RequestType, snapshot, withRunner } from './hand-made';
import { InvocationResult } from './lambda-runner';
import { presignedQuery } from '../support/response-server';
import { externalKey } from './scenarios';
import { TestBed } from './testbed';

/** Short, so that the paths that wait for an unreachable ResponseURL stay short too. */
const TIMEOUT_MS = 8_000;
const CFN_RESPONSE_LIMIT_BYTES = 4096;
const FAILED_CREATE_PREFIX = 'kms-key-material-revocation-failed-create:';
const HUGE = 'x'.repeat(100 * 1024);


let bed: TestBed;
let revocationId: string;

/**
 * A well-formed event for the deployed revocation resource, as CloudFormation sends it:
 * CloudFormation marks the resource *_IN_PROGRESS before it invokes the function, and the
 * handler checks that (L29), so the double shows it so too.
 */
function event(requestType: RequestType, responseUrl: string): Event {
  const inProgress = { Create: 'CREATE_IN_PROGRESS', Update: 'UPDATE_IN_PROGRESS', Delete: 'DELETE_IN_PROGRESS' }[requestType];
  bed.cfn.setResources(bed.engine.stackId, [...bed.engine.resources.values()].map((x) => ({
    logicalId: x.logicalId, physicalId: x.physicalId || undefined, type: x.type, status: x.logicalId === revocationId ? inProgress : x.status,
  })));
  return eventFor(bed, requestType, snapshot(bed, revocationId), responseUrl);
}

function decisionLines(invocation: InvocationResult): any[] {
  return invocation.logs.map((l) => { try { return JSON.parse(l.line); } catch { return undefined; } })
    .filter((j) => j?.message === 'decision');
}

/** Neither the ResponseURL, its path, nor its query string (the presigned signature) in any log line. */
function expectUrlNotLogged(invocation: InvocationResult, url: string): void {
  const u = new URL(url);
  const text = invocation.logs.map((l) => l.line).join('\n');
  expect(text).not.toContain(url);
  expect(text).not.toContain(u.pathname);
  if (u.search) {
    expect(text).not.toContain(u.search.slice(1));
    // Short values (X-Amz-Expires=7200) also turn up by chance inside random request IDs.
    for (const value of u.searchParams.values()) if (value.length >= 8) expect(text).not.toContain(value);
  }
}

function expectReturnedOnItsOwn(invocation: InvocationResult): void {
  expect(invocation.timedOut).toBe(false);
  expect(invocation.crashed).toBeUndefined();
  expect(invocation.error).toBeUndefined();
  expect(invocation.durationMs).toBeLessThan(TIMEOUT_MS);
}

beforeAll(async () => {
  bed = await TestBed.start((stack: Stack) => {
    new KeyMaterialRevocation(stack, 'Revocation', { key: externalKey(stack, 'KeyA') });
  }, { timeoutMs: TIMEOUT_MS });
  revocationId = bed.logicalId(REVOCATION_TYPE, 'Revocation');
  await bed.engine.create(bed.template);
  expect(bed.engine.status).toBe('CREATE_COMPLETE');
});

afterAll(async () => {
  await bed?.stop();
});

describe('L19 the well-formed event the corpus mutates (control)', () => {
  test.each(['Create', 'Update'] as const)('L19 control: an unmutated %s event is answered SUCCESS', async (requestType) => {
    const url = bed.responses.newUrl();
    const e = event(requestType, url);
    const invocation = await bed.runner.invoke(e);
    expectReturnedOnItsOwn(invocation);
    const answers = bed.responses.responsesFor(url);
    expect(answers).toHaveLength(1);
    expect(answers[0].body.Status).toBe('SUCCESS');
    expect(answers[0].method).toBe('PUT');
    // The presigned URL is signed for an empty content type.
    expect(answers[0].headers['content-type']).toBe('');
    expectUrlNotLogged(invocation, url);
  });
});

interface Malformed {
  readonly name: string;
  readonly requestType: RequestType;
  readonly mutate: (e: Event) => void;
  /** What the reason must contain: the bad field's name (with its path for properties). */
  readonly field: string | RegExp;
  /** The event's own identifiers are oversized, and the answer must echo them: no size check. */
  readonly echoesOversizedIdentifier?: boolean;
}

const props = (e: Event) => e.ResourceProperties as Event;
/** The event as a version-1 template gave it: every property written out (lib/contract.ts). */
const asVersion1 = (e: Event) => { e.ResourceProperties = { ...PROPERTY_DEFAULTS, ...props(e), ContractVersion: '1' }; };
const old = (e: Event) => e.OldResourceProperties as Event;

const CORPUS: Malformed[] = [
  // RequestType
  { name: 'RequestType missing', requestType: 'Create', mutate: (e) => { delete e.RequestType; }, field: 'RequestType' },
  { name: 'unknown RequestType "Rollback"', requestType: 'Update', mutate: (e) => { e.RequestType = 'Rollback'; }, field: /RequestType.*'Rollback'/ },
  { name: 'RequestType in lower case', requestType: 'Delete', mutate: (e) => { e.RequestType = 'delete'; }, field: /RequestType.*'delete'/ },
  { name: 'RequestType a number', requestType: 'Create', mutate: (e) => { e.RequestType = 1; }, field: 'RequestType' },
  { name: 'RequestType a list', requestType: 'Create', mutate: (e) => { e.RequestType = ['Create']; }, field: 'RequestType' },
  { name: 'RequestType 100 kB', requestType: 'Create', mutate: (e) => { e.RequestType = HUGE; }, field: 'RequestType' },
  // Event fields CloudFormation sets
  { name: 'StackId missing', requestType: 'Create', mutate: (e) => { delete e.StackId; }, field: 'StackId' },
  { name: 'StackId garbled (no stack ID part)', requestType: 'Delete', mutate: (e) => { e.StackId = e.StackId.replace(/\/[^/]+$/, '/'); }, field: 'StackId' },
  { name: 'StackId a stack name, not an ARN', requestType: 'Update', mutate: (e) => { e.StackId = 'ByokStack'; }, field: 'StackId' },
  { name: 'StackId a number', requestType: 'Create', mutate: (e) => { e.StackId = 111111111111; }, field: 'StackId' },
  { name: 'StackId 100 kB', requestType: 'Create', mutate: (e) => { e.StackId = HUGE; }, field: 'StackId', echoesOversizedIdentifier: true },
  { name: 'RequestId missing', requestType: 'Create', mutate: (e) => { delete e.RequestId; }, field: 'RequestId' },
  { name: 'RequestId an object', requestType: 'Delete', mutate: (e) => { e.RequestId = { id: 'x' }; }, field: 'RequestId' },
  { name: 'RequestId 100 kB', requestType: 'Update', mutate: (e) => { e.RequestId = HUGE; }, field: 'RequestId', echoesOversizedIdentifier: true },
  { name: 'LogicalResourceId a boolean', requestType: 'Create', mutate: (e) => { e.LogicalResourceId = true; }, field: 'LogicalResourceId' },
  { name: 'LogicalResourceId empty', requestType: 'Delete', mutate: (e) => { e.LogicalResourceId = ''; }, field: 'LogicalResourceId' },
  { name: 'PhysicalResourceId missing on Delete', requestType: 'Delete', mutate: (e) => { delete e.PhysicalResourceId; }, field: 'PhysicalResourceId' },
  { name: 'PhysicalResourceId a number on Update', requestType: 'Update', mutate: (e) => { e.PhysicalResourceId = 7; }, field: 'PhysicalResourceId' },
  // ResourceProperties as a whole
  { name: 'ResourceProperties missing', requestType: 'Create', mutate: (e) => { delete e.ResourceProperties; }, field: 'ResourceProperties' },
  { name: 'ResourceProperties a string', requestType: 'Delete', mutate: (e) => { e.ResourceProperties = 'KeyArn=arn:aws:kms:...'; }, field: 'ResourceProperties' },
  { name: 'ResourceProperties a list', requestType: 'Update', mutate: (e) => { e.ResourceProperties = [props(e)]; }, field: 'ResourceProperties' },
  { name: 'ResourceProperties null', requestType: 'Create', mutate: (e) => { e.ResourceProperties = null; }, field: 'ResourceProperties' },
  // KeyArn
  { name: 'KeyArn missing', requestType: 'Create', mutate: (e) => { delete props(e).KeyArn; }, field: 'ResourceProperties.KeyArn' },
  { name: 'KeyArn a number', requestType: 'Delete', mutate: (e) => { props(e).KeyArn = 42; }, field: 'ResourceProperties.KeyArn' },
  { name: 'KeyArn an unresolved intrinsic (object)', requestType: 'Create', mutate: (e) => { props(e).KeyArn = { 'Fn::GetAtt': ['KeyA', 'Arn'] }; }, field: 'ResourceProperties.KeyArn' },
  { name: 'KeyArn a list', requestType: 'Update', mutate: (e) => { props(e).KeyArn = [props(e).KeyArn]; }, field: 'ResourceProperties.KeyArn' },
  { name: 'KeyArn garbled (no key ID)', requestType: 'Delete', mutate: (e) => { props(e).KeyArn = props(e).KeyArn.replace(/key\/.*$/, 'key/'); }, field: 'ResourceProperties.KeyArn' },
  { name: 'KeyArn an alias ARN', requestType: 'Create', mutate: (e) => { props(e).KeyArn = props(e).KeyArn.replace(/key\/.*$/, 'alias/byok'); }, field: /ResourceProperties\.KeyArn.*alias/ },
  { name: 'KeyArn 100 kB', requestType: 'Delete', mutate: (e) => { props(e).KeyArn = HUGE; }, field: 'ResourceProperties.KeyArn' },
  // The other properties
  { name: 'KeyLogicalId a number', requestType: 'Create', mutate: (e) => { props(e).KeyLogicalId = 3; }, field: 'ResourceProperties.KeyLogicalId' },
  { name: 'KeyLogicalId 100 kB', requestType: 'Delete', mutate: (e) => { props(e).KeyLogicalId = HUGE; }, field: 'ResourceProperties.KeyLogicalId' },
  { name: 'MaterialScope unknown', requestType: 'Delete', mutate: (e) => { props(e).MaterialScope = 'SOME'; }, field: /ResourceProperties\.MaterialScope.*'SOME'/ },
  // Version 2 leaves properties at their default out; version 1 wrote every one of them.
  { name: 'MaterialScope missing in a version-1 event', requestType: 'Create', mutate: (e) => { asVersion1(e); delete props(e).MaterialScope; }, field: 'ResourceProperties.MaterialScope' },
  { name: 'MaterialScope 100 kB', requestType: 'Update', mutate: (e) => { props(e).MaterialScope = HUGE; }, field: 'ResourceProperties.MaterialScope' },
  { name: 'RevokeOnStackDelete a JSON boolean', requestType: 'Delete', mutate: (e) => { props(e).RevokeOnStackDelete = true; }, field: 'ResourceProperties.RevokeOnStackDelete' },
  { name: 'RevokeOnKeyReplacement missing in a version-1 event', requestType: 'Update', mutate: (e) => { asVersion1(e); delete props(e).RevokeOnKeyReplacement; }, field: 'ResourceProperties.RevokeOnKeyReplacement' },
  { name: 'RevokeOnRemoval a list', requestType: 'Delete', mutate: (e) => { props(e).RevokeOnRemoval = ['true']; }, field: 'ResourceProperties.RevokeOnRemoval' },
  { name: 'Revoked "yes"', requestType: 'Create', mutate: (e) => { props(e).Revoked = 'yes'; }, field: /ResourceProperties\.Revoked.*'yes'/ },
  { name: 'Revoked an object', requestType: 'Update', mutate: (e) => { props(e).Revoked = { value: 'true' }; }, field: 'ResourceProperties.Revoked' },
  // ContractVersion
  { name: 'unknown ContractVersion "3"', requestType: 'Delete', mutate: (e) => { props(e).ContractVersion = '3'; }, field: /ResourceProperties\.ContractVersion.*'3'/ },
  { name: 'ContractVersion missing', requestType: 'Create', mutate: (e) => { delete props(e).ContractVersion; }, field: 'ResourceProperties.ContractVersion' },
  { name: 'ContractVersion a number', requestType: 'Update', mutate: (e) => { props(e).ContractVersion = 1; }, field: 'ResourceProperties.ContractVersion' },
  { name: 'ContractVersion 100 kB', requestType: 'Create', mutate: (e) => { props(e).ContractVersion = HUGE; }, field: 'ResourceProperties.ContractVersion' },
  // OldResourceProperties on Update
  { name: 'Update without OldResourceProperties', requestType: 'Update', mutate: (e) => { delete e.OldResourceProperties; }, field: 'OldResourceProperties' },
  { name: 'Update with OldResourceProperties a list', requestType: 'Update', mutate: (e) => { e.OldResourceProperties = []; }, field: 'OldResourceProperties' },
  { name: 'Update with a garbled old KeyArn', requestType: 'Update', mutate: (e) => { old(e).KeyArn = 'arn:aws:kms:eu-west-1:1111:key/x'; }, field: 'OldResourceProperties.KeyArn' },
  { name: 'Update with an unknown old ContractVersion', requestType: 'Update', mutate: (e) => { old(e).ContractVersion = '0'; }, field: 'OldResourceProperties.ContractVersion' },
];

describe('L19 malformed events that carry a ResponseURL: exactly one FAILED answer naming the bad field', () => {
  test.each(CORPUS.map((c) => [`${c.requestType}, ${c.name}`, c] as const))('L19 %s', async (_name, c) => {
    const url = bed.responses.newUrl();
    const e = event(c.requestType, url);
    c.mutate(e);
    const invocation = await bed.runner.invoke(e);
    expectReturnedOnItsOwn(invocation);

    const answers = bed.responses.responsesFor(url);
    expect(answers).toHaveLength(1);
    const [answer] = answers;
    expect(answer.body.Status).toBe('FAILED');
    if (typeof c.field === 'string') expect(answer.body.Reason).toContain(c.field);
    else expect(answer.body.Reason).toMatch(c.field);
    if (!c.echoesOversizedIdentifier) {
      expect(Buffer.byteLength(answer.rawBody)).toBeLessThanOrEqual(CFN_RESPONSE_LIMIT_BYTES);
    }

    // The answer names the request it answers, so CloudFormation can match it.
    for (const field of ['StackId', 'RequestId', 'LogicalResourceId'] as const) {
      if (typeof e[field] === 'string') expect(answer.body[field]).toBe(e[field]);
    }
    // An Update or Delete keeps its physical ID (a new one would read as a replacement); a Create
    // answers the marker that makes the following Delete a no-op (L5).
    expect(typeof answer.body.PhysicalResourceId).toBe('string');
    if (e.RequestType !== 'Create' && typeof e.PhysicalResourceId === 'string' && e.PhysicalResourceId) {
      expect(answer.body.PhysicalResourceId).toBe(e.PhysicalResourceId);
    } else {
      expect(answer.body.PhysicalResourceId.startsWith(FAILED_CREATE_PREFIX)).toBe(true);
    }

    // One decision line, saying so; never the ResponseURL.
    const decisions = decisionLines(invocation);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({ decision: 'failed', responseSent: true });
    expectUrlNotLogged(invocation, url);
  });

  test('L19 no malformed event reached a KMS write, and the key kept its material', () => {
    expect(bed.kms.callsTo('DeleteImportedKeyMaterial')).toEqual([]);
    const key = bed.kms.key(bed.keyArn(bed.logicalId('AWS::KMS::Key', 'KeyA')))!;
    expect(key.materials.map((m) => m.importState)).toEqual(['IMPORTED', 'IMPORTED']);
  });
});

describe('L19 events with nowhere to answer: no crash, no throw, over before the timeout', () => {
  const NO_TARGET: Array<[string, (url: string) => unknown]> = [
    ['a null event', () => null],
    ['a list event', (url) => [event('Create', url)]],
    ['a string event', (url) => JSON.stringify(event('Create', url))],
    ['a number event', () => 42],
    ['an event without ResponseURL', (url) => { const e = event('Delete', url); delete e.ResponseURL; return e; }],
    ['a ResponseURL that is a number', (url) => ({ ...event('Create', url), ResponseURL: 8080 })],
    ['a ResponseURL that is an object', (url) => ({ ...event('Create', url), ResponseURL: { url } })],
  ];

  test.each(NO_TARGET)('L19 %s: nothing sent, a decision line says so', async (_name, make) => {
    const before = [...bed.responses.received.values()].reduce((n, list) => n + list.length, 0);
    const url = bed.responses.newUrl();
    const invocation = await bed.runner.invoke(make(url));
    expectReturnedOnItsOwn(invocation);
    const after = [...bed.responses.received.values()].reduce((n, list) => n + list.length, 0);
    expect(after).toBe(before);
    const decisions = decisionLines(invocation);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({ decision: 'failed', responseSent: false });
    expect(invocation.logs.some((l) => l.line.includes('no ResponseURL'))).toBe(true);
    expectUrlNotLogged(invocation, url);
  });

  test.each([
    ['an empty string', ''],
    ['not a URL', 'cfn-response?X-Amz-Signature=secret-relative'],
    ['an ftp: URL', 'ftp://127.0.0.1/cfn-response?X-Amz-Signature=secret-ftp'],
  ])('L19 a ResponseURL that is %s: nothing sent, no crash, the URL not logged', async (_name, responseUrl) => {
    const invocation = await bed.runner.invoke(event('Create', responseUrl));
    expectReturnedOnItsOwn(invocation);
    const decisions = decisionLines(invocation);
    expect(decisions).toHaveLength(1);
    expect(decisions[0].responseSent).toBe(false);
    const text = invocation.logs.map((l) => l.line).join('\n');
    if (responseUrl) {
      expect(text).not.toContain(responseUrl);
      expect(text).not.toContain('secret');
    }
  });
});

describe('L19 garbled ServiceTimeout (the handler sizes its time budget from it)', () => {
  async function answersWithServiceTimeout(value: string) {
    const url = bed.responses.newUrl();
    const e = event('Create', url);
    e.ResourceProperties.ServiceTimeout = value;
    const invocation = await bed.runner.invoke(e);
    expectReturnedOnItsOwn(invocation);
    expectUrlNotLogged(invocation, url);
    return { answers: bed.responses.responsesFor(url), invocation };
  }

  test.each([
    ['"abc"', 'abc'],
    ['"-5"', '-5'],
    ['"1" (CloudFormation\'s minimum; the construct never writes less than 30)', '1'],
    ['"0.2" (below CloudFormation\'s minimum)', '0.2'],
    ['"0.001" (below CloudFormation\'s minimum)', '0.001'],
  ])('L19 ServiceTimeout %s: exactly one answer is still sent', async (_name, value) => {
    const { answers, invocation } = await answersWithServiceTimeout(value);
    expect(answers).toHaveLength(1);
    expect(decisionLines(invocation)[0]).toMatchObject({ responseSent: true });
    // The budget is never reported as negative.
    expect(JSON.stringify(decisionLines(invocation)[0])).not.toMatch(/budget of -/);
  });
});

describe('L19 ResponseURLs that do not take the answer', () => {

  test('L19 an unreachable ResponseURL (connection refused): the invocation ends before the function\'s timeout, without crash or throw', async () => {
    const url = `http://127.0.0.1:9/cfn-response/unreachable?${presignedQuery(1).replace('secret-signature-1', 'secret-unreachable')}`;
    const invocation = await withRunner(bed, 'http://127.0.0.1:9', TIMEOUT_MS, (runner) => runner.invoke(event('Create', url)));
    expectReturnedOnItsOwn(invocation);
    const [decision] = decisionLines(invocation);
    // The work was done (a valid Create), only the answer could not be delivered.
    expect(decision).toMatchObject({ decision: 'validated', responseSent: false });
    expect(invocation.logs.some((l) => /response attempt 1: .*ECONNREFUSED/.test(l.line))).toBe(true);
    expectUrlNotLogged(invocation, url);
    console.log(`L19 unreachable ResponseURL: invocation ended after ${invocation.durationMs} ms of a ${TIMEOUT_MS} ms timeout`);
  });

  test('L19 a ResponseURL that accepts the connection and never answers: the invocation ends before the function\'s timeout', async () => {
    const sockets = new Set<net.Socket>();
    const blackhole = net.createServer((s) => { sockets.add(s); s.on('error', () => undefined); });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blackhole.address() as net.AddressInfo).port;
      const url = `http://127.0.0.1:${port}/cfn-response/blackhole?${presignedQuery(2).replace('secret-signature-2', 'secret-blackhole')}`;
      const invocation = await withRunner(bed, `http://127.0.0.1:${port}`, TIMEOUT_MS, (runner) => runner.invoke(event('Update', url)));
      expectReturnedOnItsOwn(invocation);
      expect(decisionLines(invocation)[0]).toMatchObject({ responseSent: false });
      expect(sockets.size).toBeGreaterThanOrEqual(1);
      expectUrlNotLogged(invocation, url);
      console.log(`L19 silent ResponseURL: invocation ended after ${invocation.durationMs} ms of a ${TIMEOUT_MS} ms timeout`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => blackhole.close(() => resolve()));
    }
  });

  test('L19 a ResponseURL that answers 500 twice, then 200: exactly one stored answer', async () => {
    const url = bed.responses.newUrl();
    const u = new URL(url);
    bed.responses.failNext.set(u.pathname + u.search, [500, 500]);
    const invocation = await bed.runner.invoke(event('Create', url));
    expectReturnedOnItsOwn(invocation);
    expect(bed.responses.failNext.get(u.pathname + u.search)).toEqual([]);
    const answers = bed.responses.responsesFor(url);
    expect(answers).toHaveLength(1);
    expect(answers[0].body.Status).toBe('SUCCESS');
    const warnings = invocation.logs.filter((l) => /response attempt \d+: HTTP 500/.test(l.line));
    expect(warnings).toHaveLength(2);
    expect(decisionLines(invocation)[0]).toMatchObject({ responseSent: true });
    expectUrlNotLogged(invocation, url);
  });
});
