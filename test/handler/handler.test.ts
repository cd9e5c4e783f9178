/**
 * Handler unit tests: every LIFECYCLE row's decision, with the SDK mocked (aws-sdk-client-mock).
 * Every call not set up by a test is rejected, so an unexpected KMS or CloudFormation call fails
 * the test. Responses go to a real local HTTP server standing in for the presigned ResponseURL.
 */
import {
  CloudFormationClient, DescribeStackEventsCommand, DescribeStackResourceCommand, DescribeStacksCommand, GetTemplateCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import {
  DeleteImportedKeyMaterialCommand, DescribeKeyCommand, KeyMetadata, KMSClient, ListKeyRotationsCommand, ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { FAILED_CREATE_PHYSICAL_ID_PREFIX, KEY_TAG, REVOKED_PHYSICAL_ID_PREFIX } from '../../lib/contract';
import {
  cloudFormationClient, kmsClient, lastRetriedSince, MAX_ATTEMPTS, MAX_BACKOFF_MS, RETRIES_PER_WIDTH, retryDelayMs, RevocationRetryStrategy,
  THROTTLED_RETRY_WINDOW_MS,
} from '../../lambda/clients';
import { BOUND_STACK_ID_ENV, TEST_RESPONSE_ORIGIN_ENV } from '../../lambda/authentic';
import { handler } from '../../lambda/index';
import { Budget, readReserveMs } from '../../lambda/budget';
import { forgetStackStatuses } from '../../lambda/facts';
import {
  ACCOUNT, awsError, cfnEvent, CloudFormationWhileSending, context, EventOptions, KEY_A, KEY_B, KEY_C, LOGICAL_ID, LogCapture, physicalId,
  props, ResponseServer, STACK_ID,
} from './harness';

const kms = mockClient(KMSClient);
const cfn = mockClient(CloudFormationClient);
const logs = new LogCapture();
let server: ResponseServer;

beforeAll(async () => {
  server = await ResponseServer.start();
  // The handler answers only CloudFormation's S3 URLs, or this test-only origin the construct never sets.
  process.env[TEST_RESPONSE_ORIGIN_ENV] = server.origin;
});
afterAll(() => { delete process.env[TEST_RESPONSE_ORIGIN_ENV]; delete process.env[BOUND_STACK_ID_ENV]; });
afterAll(async () => { await server.stop(); });
beforeEach(() => {
  kms.reset();
  cfn.reset();
  kms.onAnyCommand().rejects(new Error('unexpected KMS call'));
  cfn.onAnyCommand().rejects(new Error('unexpected CloudFormation call'));
  // Each test is a fresh container: nothing remembered from an earlier test's stack deletion.
  forgetStackStatuses();
  sending.reset();
  logs.start();
});
afterEach(() => logs.stop());

function keyMeta(overrides: Partial<KeyMetadata> = {}, arn = KEY_A): KeyMetadata {
  return {
    Arn: arn, KeyId: arn.split('/')[1], AWSAccountId: ACCOUNT, Origin: 'EXTERNAL', KeyState: 'Enabled',
    KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Enabled: true, ...overrides,
  };
}

/** What CloudFormation shows while it sends the test's event (L29). */
const sending = new CloudFormationWhileSending(cfn);
const stackStatus = (status: string, history?: string[]) => sending.stackStatus(status, history);
const stackHistory = (statuses: string[], stackId?: string) => sending.stackHistory(statuses, stackId);
const templateAsRequested = () => sending.templateAsRequested();

function template(resources: Record<string, unknown>) {
  cfn.on(GetTemplateCommand, { StackName: STACK_ID }).resolves({ TemplateBody: JSON.stringify({ Resources: resources }) });
}

function stackResources(list: Array<{ logicalId: string; physicalId: string; type?: string; status?: string }>) {
  cfn.on(ListStackResourcesCommand).resolves({
    StackResourceSummaries: list.map((r) => ({
      LogicalResourceId: r.logicalId, PhysicalResourceId: r.physicalId, ResourceType: r.type ?? 'Custom::KmsKeyMaterialRevocation',
      ResourceStatus: (r.status ?? 'UPDATE_COMPLETE') as any, LastUpdatedTimestamp: new Date(),
    })),
  });
}

/** A key with imported materials: M-OLD (NON_CURRENT), M-GONE (already deleted), M-CUR (CURRENT). */
function keyWithMaterials(arn = KEY_A, meta: Partial<KeyMetadata> = {}) {
  kms.on(DescribeKeyCommand, { KeyId: arn }).resolves({ KeyMetadata: keyMeta(meta, arn) });
  kms.on(ListKeyRotationsCommand, { KeyId: arn }).resolves({
    Rotations: [
      { KeyId: arn, KeyMaterialId: 'M-CUR', KeyMaterialState: 'CURRENT', ImportState: 'IMPORTED' },
      { KeyId: arn, KeyMaterialId: 'M-GONE', KeyMaterialState: 'NON_CURRENT', ImportState: 'PENDING_IMPORT' },
      { KeyId: arn, KeyMaterialId: 'M-OLD', KeyMaterialState: 'NON_CURRENT', ImportState: 'IMPORTED' },
    ],
    Truncated: false,
  });
  kms.on(DeleteImportedKeyMaterialCommand, { KeyId: arn, KeyMaterialId: 'M-OLD' }).resolves({ KeyId: arn, KeyMaterialId: 'M-OLD' });
  kms.on(DeleteImportedKeyMaterialCommand, { KeyId: arn, KeyMaterialId: 'M-CUR' }).resolves({ KeyId: arn, KeyMaterialId: 'M-CUR' });
}

async function run(requestType: 'Create' | 'Update' | 'Delete', options: EventOptions = {}, remainingMs = 60_000) {
  const url = server.newUrl();
  const event = cfnEvent(requestType, url, options);
  sending.sending(event, options.stackId ?? STACK_ID);
  await handler(event, context(remainingMs));
  const responses = server.responsesFor(url);
  expect(responses).toHaveLength(1);
  return { event, response: responses[0].body, raw: responses[0], decision: logs.decision() };
}

const deletes = () => kms.commandCalls(DeleteImportedKeyMaterialCommand).map((c) => c.args[0].input);
const kmsWrites = () => deletes().length;

describe('Create', () => {
  test('L1: validates the key with DescribeKey only and answers a physical ID derived from the key ARN', async () => {
    kms.on(DescribeKeyCommand, { KeyId: KEY_A }).resolves({ KeyMetadata: keyMeta() });
    const { response, decision } = await run('Create');
    expect(response.Status).toBe('SUCCESS');
    expect(response.PhysicalResourceId).toBe(physicalId(KEY_A));
    expect(response.Data).toEqual({ KeyArn: KEY_A, RevokedMaterialIds: '' });
    expect(kms.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeKeyCommand']);
    // The one CloudFormation read: the resource is being created now (L29).
    expect(cfn.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeStackResourceCommand']);
    expect(decision.decision).toBe('validated');
  });

  test('L1: the physical ID is the same on every create of the same key', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    const first = await run('Create');
    logs.stop(); logs.start();
    const second = await run('Create');
    expect(first.response.PhysicalResourceId).toBe(second.response.PhysicalResourceId);
  });

  test('L2: a key whose origin is not EXTERNAL fails, naming the key ARN and its origin', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ Origin: 'AWS_KMS' }) });
    const { response } = await run('Create');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain(KEY_A);
    expect(response.Reason).toContain('AWS_KMS');
    expect(response.PhysicalResourceId.startsWith(FAILED_CREATE_PHYSICAL_ID_PREFIX)).toBe(true);
    expect(kmsWrites()).toBe(0);
  });

  test.each([
    ['NotFoundException', 'was not found'],
    ['AccessDeniedException', 'kms:DescribeKey was denied'],
    ['InvalidArnException', 'malformed'],
  ])('L3: DescribeKey %s fails the create with a reason naming the key and the cause', async (code, words) => {
    kms.on(DescribeKeyCommand).rejects(awsError(code));
    const { response } = await run('Create');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain(KEY_A);
    expect(response.Reason).toContain(words);
  });

  test('L3: a key in another account fails without calling KMS, naming both accounts', async () => {
    const foreign = 'arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { response } = await run('Create', { props: props({ KeyArn: foreign }) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('222222222222');
    expect(response.Reason).toContain(ACCOUNT);
    expect(kms.calls()).toHaveLength(0);
  });

  test('L3/S2: an alias ARN fails without calling KMS, asking for the key ARN', async () => {
    const { response } = await run('Create', { props: props({ KeyArn: `arn:aws:kms:eu-west-1:${ACCOUNT}:alias/byok` }) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toMatch(/alias.*key ARN/);
    expect(kms.calls()).toHaveLength(0);
  });

  test('S4: a key in another Region of the same account is checked in its own Region', async () => {
    const elsewhere = `arn:aws:kms:us-west-2:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    kms.on(DescribeKeyCommand, { KeyId: elsewhere }).resolves({ KeyMetadata: keyMeta({}, elsewhere) });
    const { response } = await run('Create', { props: props({ KeyArn: elsewhere }) });
    expect(response.Status).toBe('SUCCESS');
    const client = kms.calls()[0].thisValue as KMSClient;
    expect(await client.config.region()).toBe('us-west-2');
  });

  test('L14: revoked on at create revokes during that deployment', async () => {
    stackStatus('CREATE_IN_PROGRESS');
    keyWithMaterials();
    const { response, decision } = await run('Create', { props: props({ Revoked: 'true' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes().map((d) => d.KeyMaterialId)).toEqual(['M-OLD', 'M-CUR']);
    expect(response.Data.RevokedMaterialIds).toBe('M-OLD,M-CUR');
    expect(decision.decision).toBe('revoked');
  });
});

describe('Delete', () => {
  test('L5: the Delete after this resource\'s own failed create succeeds and calls no KMS', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ Origin: 'AWS_KMS' }) });
    const created = await run('Create');
    expect(created.response.Status).toBe('FAILED');
    logs.stop(); logs.start();
    kms.resetHistory();
    cfn.resetHistory();
    const { response } = await run('Delete', { physicalId: created.response.PhysicalResourceId });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    // Only the evidence that CloudFormation is deleting the resource whose create failed (L29).
    expect(cfn.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeStackResourceCommand']);
  });

  test('L4: the Delete of a create rollback succeeds and revokes nothing', async () => {
    stackStatus('ROLLBACK_IN_PROGRESS');
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.decision).toBe('skipped');
    expect(decision.stackStatus).toBe('ROLLBACK_IN_PROGRESS');
  });

  test('L6: stack deletion with scope ALL deletes every imported material by ID, the current one last', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keyWithMaterials();
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toEqual([
      { KeyId: KEY_A, KeyMaterialId: 'M-OLD' },
      { KeyId: KEY_A, KeyMaterialId: 'M-CUR' },
    ]);
    expect(kms.commandCalls(ListKeyRotationsCommand)[0].args[0].input).toMatchObject({ IncludeKeyMaterial: 'ALL_KEY_MATERIAL' });
    expect(decision).toMatchObject({ decision: 'revoked', materialIds: ['M-OLD', 'M-CUR'], keyArn: KEY_A, stackStatus: 'DELETE_IN_PROGRESS' });
    expect(response.Data.RevokedMaterialIds).toBe('M-OLD,M-CUR');
  });

  test('L6: scope ALL follows ListKeyRotations pages', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    kms.on(ListKeyRotationsCommand, { KeyId: KEY_A, Marker: undefined }).resolves({
      Rotations: [{ KeyMaterialId: 'P1', KeyMaterialState: 'NON_CURRENT', ImportState: 'IMPORTED' }], Truncated: true, NextMarker: 'page2',
    });
    kms.on(ListKeyRotationsCommand, { KeyId: KEY_A, Marker: 'page2' }).resolves({
      Rotations: [{ KeyMaterialId: 'P2', KeyMaterialState: 'CURRENT', ImportState: 'IMPORTED' }], Truncated: false,
    });
    kms.on(DeleteImportedKeyMaterialCommand).callsFake((input) => ({ KeyId: KEY_A, KeyMaterialId: input.KeyMaterialId }));
    const { response } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(deletes().map((d) => d.KeyMaterialId)).toEqual(['P1', 'P2']);
  });

  test('L6: stack deletion with scope CURRENT deletes only the current material, without listing', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: KEY_A }).resolves({ KeyId: KEY_A, KeyMaterialId: 'M-CUR' });
    const { response } = await run('Delete', { props: props({ MaterialScope: 'CURRENT' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toEqual([{ KeyId: KEY_A }]);
    expect(kms.commandCalls(ListKeyRotationsCommand)).toHaveLength(0);
    // DescribeStacks, DescribeStackEvents (was the stack ever stable, L25; the same events show the
    // resource being deleted now, L29, so no DescribeStackResource), DescribeKey,
    // DeleteImportedKeyMaterial: in a cold container; a warm one remembers the first two for the
    // stack deletion. The template in force is read too, to check the request's properties against it (L29).
    expect(cfn.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeStacksCommand', 'DescribeStackEventsCommand', 'GetTemplateCommand']);
    expect(kms.calls().length).toBe(2);
  });

  test('L6: scope ALL on an asymmetric key deletes its single (current) material without listing', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }) });
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: KEY_A }).resolves({ KeyId: KEY_A, KeyMaterialId: 'RSA-M' });
    const { response } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toEqual([{ KeyId: KEY_A }]);
  });

  test('L6: when ListKeyRotations lists nothing on a key that holds material, the current material is still deleted', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    kms.on(ListKeyRotationsCommand).resolves({ Rotations: [], Truncated: false });
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: KEY_A }).resolves({ KeyId: KEY_A, KeyMaterialId: 'M-CUR' });
    const { response } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toEqual([{ KeyId: KEY_A }]);
  });

  test('L7: stack deletion with revokeOnStackDelete off revokes nothing', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    const { response, decision } = await run('Delete', { props: props({ RevokeOnStackDelete: 'false' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.decision).toBe('skipped');
  });

  test('L7: with every revocation setting off, a stack deletion reads only the stack status and never KMS', async () => {
    // The settings of the old properties cannot rule out the switch of the new template (L14),
    // so the status is read; a stack deletion then needs nothing more.
    stackStatus('DELETE_IN_PROGRESS');
    const { response } = await run('Delete', {
      props: props({ RevokeOnStackDelete: 'false', RevokeOnKeyReplacement: 'false', RevokeOnRemoval: 'false' }),
    });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(cfn.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeStackResourceCommand', 'DescribeStacksCommand']);
  });

  test('L9: cleanup after a key replacement revokes the old key (from the Delete\'s properties) and never the new one', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ [LOGICAL_ID]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ KeyArn: { 'Fn::GetAtt': ['KeyB', 'Arn'] } }) } });
    stackResources([{ logicalId: LOGICAL_ID, physicalId: physicalId(KEY_B) }]);
    keyWithMaterials(KEY_A);
    const { response, decision } = await run('Delete', { physicalId: physicalId(KEY_A) });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes().every((d) => d.KeyId === KEY_A)).toBe(true);
    expect(deletes()).toHaveLength(2);
    expect(kms.calls().some((c) => (c.args[0].input as any).KeyId === KEY_B)).toBe(false);
    expect(decision.reason).toContain('key replaced');
  });

  test('L9: the new template\'s revokeOnKeyReplacement off wins over the old properties', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ [LOGICAL_ID]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ KeyArn: KEY_B, RevokeOnKeyReplacement: 'false' }) } });
    stackResources([{ logicalId: LOGICAL_ID, physicalId: physicalId(KEY_B) }]);
    const { response, decision } = await run('Delete', { physicalId: physicalId(KEY_A) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.decision).toBe('skipped');
  });

  test('L9/L30: a Delete for a physical ID of another format (none this handler makes) names no key and revokes nothing', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ [LOGICAL_ID]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props() } });
    stackResources([{ logicalId: LOGICAL_ID, physicalId: physicalId(KEY_A) }]);
    const { response, decision } = await run('Delete', { physicalId: 'an-older-physical-id-format' });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.reason).toContain('not made by this handler');
  });

  test.each([
    'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS',
    'IMPORT_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_FAILED',
  ])('L10/L20: a Delete while the stack is %s revokes nothing', async (status) => {
    stackStatus(status);
    const { response, decision } = await run('Delete', { physicalId: physicalId(KEY_B), props: props({ KeyArn: KEY_B }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.stackStatus).toBe(status);
  });

  test('S10/L13: a key of another stack of the tree that still carries the tag is revoked with its removed revocation', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({});
    stackResources([{ logicalId: LOGICAL_ID, physicalId: physicalId(KEY_A), status: 'DELETE_IN_PROGRESS' }]);
    keyWithMaterials();
    kms.on(ListResourceTagsCommand, { KeyId: KEY_A }).resolves({ Tags: [{ TagKey: 'team', TagValue: 'x' }, { TagKey: KEY_TAG, TagValue: 'true' }], Truncated: false });
    const { response, decision } = await run('Delete', { props: props({ KeyTagged: 'true', KeyLogicalId: '' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toHaveLength(2);
    expect(decision.reason).toContain('together with its key, defined in another stack of this tree');
  });

  test('S10/L12: tags read page by page; a key without the tag (or with another value) stays', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({});
    kms.on(ListResourceTagsCommand, { KeyId: KEY_A, Marker: undefined }).resolves({ Tags: [{ TagKey: 'team', TagValue: 'x' }], Truncated: true, NextMarker: 'm1' });
    // The tag's key with another value is not the construct's tag.
    kms.on(ListResourceTagsCommand, { KeyId: KEY_A, Marker: 'm1' }).resolves({ Tags: [{ TagKey: KEY_TAG, TagValue: 'false' }], Truncated: false });
    const { response, decision } = await run('Delete', { props: props({ KeyTagged: 'true', KeyLogicalId: '' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.commandCalls(ListResourceTagsCommand)).toHaveLength(2);
    expect(deletes()).toHaveLength(0);
    expect(decision.reason).toContain('no longer carries the tag');
  });

  test('S10/L21: the key\'s tags cannot be read: FAILED, naming the action, nothing revoked', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({});
    kms.on(ListResourceTagsCommand).rejects(awsError('AccessDeniedException'));
    const { response } = await run('Delete', { props: props({ KeyTagged: 'true', KeyLogicalId: '' }) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('kms:ListResourceTags was denied');
    expect(deletes()).toHaveLength(0);
  });

  test('S10/L28: a create of a revocation of a tagged key whose tag is missing fails, naming the tag; with it, it succeeds', async () => {
    stackStatus('CREATE_IN_PROGRESS');
    keyWithMaterials();
    kms.on(ListResourceTagsCommand, { KeyId: KEY_A }).resolves({ Tags: [{ TagKey: 'team', TagValue: 'x' }], Truncated: false });
    const missing = await run('Create', { props: props({ KeyTagged: 'true', KeyLogicalId: '' }) });
    expect(missing.response.Status).toBe('FAILED');
    expect(missing.response.Reason).toContain(`does not carry the tag ${KEY_TAG}`);
    kms.on(ListResourceTagsCommand, { KeyId: KEY_A }).resolves({ Tags: [{ TagKey: KEY_TAG, TagValue: 'true' }], Truncated: false });
    logs.stop(); logs.start();
    const present = await run('Create', { props: props({ KeyTagged: 'true', KeyLogicalId: '' }) });
    expect(present.response.Status).toBe('SUCCESS');
    expect(deletes()).toHaveLength(0);
  });

  test('S10/L19: a garbled KeyTagged fails with a clear reason', async () => {
    const garbled = await run('Create', { props: props({ KeyTagged: 'yes' }) });
    expect(garbled.response.Status).toBe('FAILED');
    expect(garbled.response.Reason).toContain('KeyTagged must be \'true\' or \'false\'');
  });

  test('S10/L30: KeyTagged with a KeyLogicalId of this stack contradicts itself: FAILED', async () => {
    const both = await run('Create', { props: props({ KeyTagged: 'true', KeyLogicalId: 'ByokKeyD50A60B7' }) });
    expect(both.response.Status).toBe('FAILED');
    expect(both.response.Reason).toContain('the properties contradict each other');
  });

  test('L12: removing only the construct (key stays) revokes nothing by default', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ ByokKeyD50A60B7: { Type: 'AWS::KMS::Key' } });
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.reason).toContain('revokeOnRemoval is off');
  });

  test('L12: removing only the construct with revokeOnRemoval on revokes', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ ByokKeyD50A60B7: { Type: 'AWS::KMS::Key' } });
    stackResources([{ logicalId: LOGICAL_ID, physicalId: physicalId(KEY_A), status: 'DELETE_IN_PROGRESS' }]);
    keyWithMaterials();
    const { response, decision } = await run('Delete', { props: props({ RevokeOnRemoval: 'true' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toHaveLength(2);
    expect(decision.decision).toBe('revoked');
  });

  test('L12: a construct renamed by a refactor (another revocation manages the same key) revokes nothing even with revokeOnRemoval on', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ ByokKeyD50A60B7: { Type: 'AWS::KMS::Key' }, RenamedRevocation: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props() } });
    stackResources([
      { logicalId: 'RenamedRevocation', physicalId: physicalId(KEY_A), status: 'CREATE_COMPLETE' },
      { logicalId: LOGICAL_ID, physicalId: physicalId(KEY_A), status: 'DELETE_IN_PROGRESS' },
    ]);
    const { response, decision } = await run('Delete', { props: props({ RevokeOnRemoval: 'true' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.reason).toContain('RenamedRevocation');
  });

  test('L13: removing the construct together with its same-stack key revokes', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ SomethingElse: { Type: 'AWS::SNS::Topic' } });
    // The key is still listed under its own (removed) logical ID until CloudFormation deletes it.
    stackResources([{ logicalId: 'ByokKeyD50A60B7', physicalId: KEY_A.split('/')[1], type: 'AWS::KMS::Key', status: 'UPDATE_COMPLETE' }]);
    keyWithMaterials();
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(deletes().map((d) => d.KeyMaterialId)).toEqual(['M-OLD', 'M-CUR']);
    expect(decision.reason).toContain('together with its key');
    // One listing, to tell a removed key from one a refactor renamed (L27).
    expect(cfn.commandCalls(ListStackResourcesCommand)).toHaveLength(1);
  });

  test('L13: construct and key removed together with revokeOnStackDelete off revokes nothing', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({});
    stackResources([]);
    const { response } = await run('Delete', { props: props({ RevokeOnStackDelete: 'false' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
  });

  test('L14: a create rollback after revoked-on-create leaves the material revoked and says re-import is the way back', async () => {
    stackStatus('ROLLBACK_IN_PROGRESS');
    const { response, decision } = await run('Delete', { props: props({ Revoked: 'true' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.reason).toContain('re-import');
  });

  test('L15: a key already PendingImport succeeds with scope CURRENT (the delete has no effect), logged as such', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ KeyState: 'PendingImport' }) });
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: KEY_A }).resolves({ KeyId: KEY_A });
    const { response, decision } = await run('Delete', { props: props({ MaterialScope: 'CURRENT' }) });
    expect(response.Status).toBe('SUCCESS');
    // PendingImport does not prove the current material is gone: deleting any other one also leads there.
    expect(deletes()).toEqual([{ KeyId: KEY_A }]);
    expect(decision.reason).toContain('already PendingImport');
  });

  test('L15: a key already PendingImport with scope ALL and nothing listed as stored makes no delete call', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ KeyState: 'PendingImport' }) });
    kms.on(ListKeyRotationsCommand).resolves({
      Rotations: [{ KeyMaterialId: 'M-CUR', KeyMaterialState: 'CURRENT', ImportState: 'PENDING_IMPORT' }],
    });
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(kmsWrites()).toBe(0);
    expect(decision.reason).toContain('already PendingImport');
  });

  test('L15: a key already PendingImport with scope ALL still deletes the materials stored besides the current one', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ KeyState: 'PendingImport' }) });
    kms.on(ListKeyRotationsCommand).resolves({
      Rotations: [
        { KeyMaterialId: 'M-CUR', KeyMaterialState: 'CURRENT', ImportState: 'PENDING_IMPORT' },
        { KeyMaterialId: 'M-OLD', KeyMaterialState: 'NON_CURRENT', ImportState: 'IMPORTED' },
      ],
    });
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: KEY_A, KeyMaterialId: 'M-OLD' }).resolves({ KeyMaterialId: 'M-OLD' });
    const { response } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toEqual([{ KeyId: KEY_A, KeyMaterialId: 'M-OLD' }]);
  });

  test('L15: a key that no longer exists succeeds with a log line saying so', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(decision.reason).toContain('no longer exists');
  });

  test('L15: a key pending deletion still has its material deleted', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ KeyState: 'PendingDeletion' }) });
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: KEY_A }).resolves({ KeyId: KEY_A, KeyMaterialId: 'M-CUR' });
    const { response, decision } = await run('Delete', { props: props({ MaterialScope: 'CURRENT' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toHaveLength(1);
    expect(decision.reason).toContain('pending deletion');
  });

  test('L15: KMSInvalidStateException is tolerated when DescribeKey shows the key pending deletion', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ KeyState: 'PendingDeletion' }) });
    kms.on(DeleteImportedKeyMaterialCommand).rejects(awsError('KMSInvalidStateException'));
    const { response } = await run('Delete', { props: props({ MaterialScope: 'CURRENT' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(2);
  });

  test('L15: KMSInvalidStateException on a key that is not pending deletion fails', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ KeyState: 'Updating' }) });
    kms.on(DeleteImportedKeyMaterialCommand).rejects(awsError('KMSInvalidStateException'));
    const { response } = await run('Delete', { props: props({ MaterialScope: 'CURRENT' }) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('kms:DeleteImportedKeyMaterial');
    expect(response.PhysicalResourceId).toBe(physicalId(KEY_A));
  });

  test('L16: access denied on stack deletion fails loudly, naming the action, the key and the likely cause', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    kms.on(ListKeyRotationsCommand).resolves({ Rotations: [{ KeyMaterialId: 'M-CUR', KeyMaterialState: 'CURRENT', ImportState: 'IMPORTED' }] });
    kms.on(DeleteImportedKeyMaterialCommand).rejects(awsError('AccessDeniedException',
      'User: arn:aws:sts::111111111111:assumed-role/r/f is not authorized to perform: kms:DeleteImportedKeyMaterial with an explicit deny in a service control policy'));
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('kms:DeleteImportedKeyMaterial was denied');
    expect(response.Reason).toContain(KEY_A);
    expect(response.Reason).toContain('key policy');
    expect(response.Reason).toContain('service control policy');
    expect(decision.decision).toBe('failed');
  });

  test('L16: access denied on DescribeKey during stack deletion fails too (never a silent skip)', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).rejects(awsError('AccessDeniedException'));
    const { response } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('kms:DescribeKey was denied');
  });

  test('L21: a stack status that cannot be read fails the Delete instead of guessing', async () => {
    cfn.on(DescribeStacksCommand).rejects(awsError('AccessDenied'));
    const { response } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('cloudformation:DescribeStacks');
    expect(kms.calls()).toHaveLength(0);
  });

  test('L21: a template that cannot be read in cleanup fails the Delete', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    cfn.on(GetTemplateCommand).rejects(awsError('Throttling'));
    const { response } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('cloudformation:GetTemplate');
    expect(kms.calls()).toHaveLength(0);
  });

  test('L21: a template that is not JSON fails the Delete', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    cfn.on(GetTemplateCommand).resolves({ TemplateBody: 'Resources:\n  X: {Type: AWS::SNS::Topic}\n' });
    const { response } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('not JSON');
  });

  test('L21: a Delete in a status that is neither deletion, cleanup nor rollback fails instead of guessing', async () => {
    stackStatus('UPDATE_IN_PROGRESS');
    const { response } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('UPDATE_IN_PROGRESS');
    expect(kms.calls()).toHaveLength(0);
  });
});

describe('nested stacks and stack history (L22-L25)', () => {
  const PARENT = 'arn:aws:cloudformation:eu-west-1:111111111111:stack/BYOK-Stack-Inner-1AB2/aaaaaaaa-0000-0000-0000-000000000001';
  const CHILD = 'arn:aws:cloudformation:eu-west-1:111111111111:stack/BYOK-Stack-Inner-1AB2-Deep-3CD4/aaaaaaaa-0000-0000-0000-000000000002';
  const RENAMED = 'arn:aws:cloudformation:eu-west-1:111111111111:stack/BYOK-Stack-Renamed-5EF6/aaaaaaaa-0000-0000-0000-000000000003';

  function describes(stacks: Record<string, { status: string; parent?: string }>) {
    templateAsRequested();
    for (const [id, s] of Object.entries(stacks)) {
      cfn.on(DescribeStacksCommand, { StackName: id }).resolves({
        Stacks: [{ StackId: id, StackName: id.split('/')[1], StackStatus: s.status as any, CreationTime: new Date(), ParentId: s.parent, RootId: s.parent ? STACK_ID : undefined }],
      });
    }
  }

  test('L22/S11: a nested stack two levels down reads every ancestor and the root\'s history, then revokes with the root\'s deletion', async () => {
    describes({ [CHILD]: { status: 'DELETE_IN_PROGRESS', parent: PARENT }, [PARENT]: { status: 'DELETE_IN_PROGRESS', parent: STACK_ID }, [STACK_ID]: { status: 'DELETE_IN_PROGRESS' } });
    stackHistory(['DELETE_IN_PROGRESS', 'UPDATE_COMPLETE', 'CREATE_COMPLETE', 'CREATE_IN_PROGRESS']);
    stackHistory(['DELETE_IN_PROGRESS', 'CREATE_COMPLETE', 'CREATE_IN_PROGRESS'], CHILD);
    keyWithMaterials();
    const { response, decision } = await run('Delete', { stackId: CHILD });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toHaveLength(2);
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input.StackName)).toEqual([CHILD, PARENT, STACK_ID]);
    // The nested stack's own history (its events show the resource being deleted: the evidence,
    // L29; L25: it could have been added by a failed update), then the root's.
    expect(cfn.commandCalls(DescribeStackEventsCommand).map((c) => c.args[0].input.StackName)).toEqual([CHILD, STACK_ID]);
    expect(decision).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', ancestorStatuses: ['DELETE_IN_PROGRESS', 'DELETE_IN_PROGRESS'], everStable: true });
  });

  test('L23: a nested stack deleted while its root rolls back revokes nothing and reads no history', async () => {
    describes({ [PARENT]: { status: 'DELETE_IN_PROGRESS', parent: STACK_ID }, [STACK_ID]: { status: 'UPDATE_ROLLBACK_IN_PROGRESS' } });
    const { response, decision } = await run('Delete', { stackId: PARENT });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(cfn.commandCalls(DescribeStackEventsCommand)).toHaveLength(0);
    expect(decision.decision).toBe('skipped');
  });

  test.each([
    ['OnFailure=DELETE', ['DELETE_IN_PROGRESS', 'CREATE_FAILED', 'CREATE_IN_PROGRESS']],
    ['the CDK CLI deleting a ROLLBACK_COMPLETE stack', ['DELETE_IN_PROGRESS', 'ROLLBACK_COMPLETE', 'ROLLBACK_IN_PROGRESS', 'CREATE_IN_PROGRESS']],
    ['a ROLLBACK_FAILED stack deleted twice', ['DELETE_IN_PROGRESS', 'DELETE_FAILED', 'DELETE_IN_PROGRESS', 'ROLLBACK_FAILED', 'ROLLBACK_IN_PROGRESS', 'REVIEW_IN_PROGRESS']],
    ['a --no-rollback create repaired by an update that rolled back', ['DELETE_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'CREATE_FAILED', 'CREATE_IN_PROGRESS']],
  ])('L25: deleting a stack that never reached a stable state (%s) revokes nothing', async (_name, history) => {
    stackStatus('DELETE_IN_PROGRESS', []);
    stackHistory(history);
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision).toMatchObject({ decision: 'skipped', everStable: false });
  });

  test('L25: a nested stack that never became stable itself (added by a failed --no-rollback update) revokes nothing on the root\'s deletion', async () => {
    describes({ [PARENT]: { status: 'DELETE_IN_PROGRESS', parent: STACK_ID }, [STACK_ID]: { status: 'DELETE_IN_PROGRESS' } });
    stackHistory(['DELETE_IN_PROGRESS', 'UPDATE_FAILED', 'UPDATE_IN_PROGRESS', 'CREATE_COMPLETE', 'CREATE_IN_PROGRESS']);
    stackHistory(['DELETE_IN_PROGRESS', 'CREATE_FAILED', 'CREATE_IN_PROGRESS'], PARENT);
    keyWithMaterials();
    const { response, decision } = await run('Delete', { stackId: PARENT });
    expect(response.Status).toBe('SUCCESS');
    expect(kmsWrites()).toBe(0);
    expect(decision.everStable).toBe(false);
  });

  test('L25/L21: a history that does not reach back to the stack\'s creation fails rather than guess', async () => {
    stackStatus('DELETE_IN_PROGRESS', []);
    stackHistory(['DELETE_IN_PROGRESS', 'UPDATE_IN_PROGRESS']);
    const { response } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('does not reach back to its creation');
    expect(kms.calls()).toHaveLength(0);
  });

  test('L25: the history is followed across pages, only the stack\'s own events count', async () => {
    stackStatus('DELETE_IN_PROGRESS', []);
    const resourceEvent = (i: number) => ({ StackId: STACK_ID, StackName: 'BYOK-Stack', EventId: `r${i}`, LogicalResourceId: `R${i}`, PhysicalResourceId: `p${i}`,
      ResourceType: 'Custom::KmsKeyMaterialRevocation', ResourceStatus: 'CREATE_COMPLETE' as any, Timestamp: new Date() });
    cfn.on(DescribeStackEventsCommand, { StackName: STACK_ID, NextToken: undefined }).resolves({ StackEvents: [resourceEvent(1), resourceEvent(2)], NextToken: 'p2' });
    cfn.on(DescribeStackEventsCommand, { StackName: STACK_ID, NextToken: 'p2' }).resolves({
      StackEvents: [{ StackId: STACK_ID, StackName: 'BYOK-Stack', EventId: 's', LogicalResourceId: 'BYOK-Stack', PhysicalResourceId: STACK_ID, ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: 'CREATE_COMPLETE', Timestamp: new Date() }],
    });
    keyWithMaterials();
    const { response } = await run('Delete');
    expect(response.Status).toBe('SUCCESS');
    expect(cfn.commandCalls(DescribeStackEventsCommand)).toHaveLength(2);
    expect(deletes()).toHaveLength(2);
  });

  test('L24: a nested stack renamed by a successful parent update, key from outside, revokeOnRemoval on: the root\'s tree shows the copy, nothing revoked', async () => {
    describes({ [PARENT]: { status: 'DELETE_IN_PROGRESS', parent: STACK_ID }, [STACK_ID]: { status: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' } });
    const summary = (logicalId: string, physical: string, type: string, status: string) =>
      ({ LogicalResourceId: logicalId, PhysicalResourceId: physical, ResourceType: type, ResourceStatus: status as any, LastUpdatedTimestamp: new Date() });
    cfn.on(ListStackResourcesCommand, { StackName: STACK_ID }).resolves({ StackResourceSummaries: [
      summary('Inner', PARENT, 'AWS::CloudFormation::Stack', 'UPDATE_COMPLETE'),
      summary('Renamed', RENAMED, 'AWS::CloudFormation::Stack', 'CREATE_COMPLETE'),
    ] });
    cfn.on(ListStackResourcesCommand, { StackName: PARENT }).resolves({ StackResourceSummaries: [summary(LOGICAL_ID, physicalId(KEY_A), 'Custom::KmsKeyMaterialRevocation', 'DELETE_IN_PROGRESS')] });
    cfn.on(ListStackResourcesCommand, { StackName: RENAMED }).resolves({ StackResourceSummaries: [summary(LOGICAL_ID, physicalId(KEY_A), 'Custom::KmsKeyMaterialRevocation', 'CREATE_COMPLETE')] });
    const { response, decision } = await run('Delete', { stackId: PARENT, props: props({ RevokeOnRemoval: 'true', KeyLogicalId: '' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.reason).toContain(RENAMED);
  });

  test('L24: a nested stack removed by a successful parent update, with the key defined in it: revoked', async () => {
    describes({ [PARENT]: { status: 'DELETE_IN_PROGRESS', parent: STACK_ID }, [STACK_ID]: { status: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' } });
    // The root's tree: no other revocation manages the key (L27: it did not move elsewhere).
    cfn.on(ListStackResourcesCommand, { StackName: STACK_ID }).resolves({ StackResourceSummaries: [
      { LogicalResourceId: 'Inner', PhysicalResourceId: PARENT, ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: 'UPDATE_COMPLETE', LastUpdatedTimestamp: new Date() },
    ] });
    // The nested stack still lists the key: CloudFormation deletes the revocation, which depends on it, first.
    const keyListed = { LogicalResourceId: 'ByokKeyD50A60B7', PhysicalResourceId: KEY_A.split('/')[1], ResourceType: 'AWS::KMS::Key', ResourceStatus: 'UPDATE_COMPLETE' as const, LastUpdatedTimestamp: new Date() };
    const revocationListed = { LogicalResourceId: LOGICAL_ID, PhysicalResourceId: physicalId(KEY_A), ResourceType: 'Custom::KmsKeyMaterialRevocation', ResourceStatus: 'DELETE_IN_PROGRESS' as const, LastUpdatedTimestamp: new Date() };
    cfn.on(ListStackResourcesCommand, { StackName: PARENT }).resolves({ StackResourceSummaries: [revocationListed, keyListed] });
    keyWithMaterials();
    const { response, decision } = await run('Delete', { stackId: PARENT });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toHaveLength(2);
    expect(decision.reason).toContain('together with its key');
  });

  test('L24/L27: a nested stack removed whose key a refactor had moved to another stack: no longer listed there, kept (revokeOnRemoval off)', async () => {
    describes({ [PARENT]: { status: 'DELETE_IN_PROGRESS', parent: STACK_ID }, [STACK_ID]: { status: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' } });
    cfn.on(ListStackResourcesCommand, { StackName: PARENT }).resolves({ StackResourceSummaries: [
      { LogicalResourceId: LOGICAL_ID, PhysicalResourceId: physicalId(KEY_A), ResourceType: 'Custom::KmsKeyMaterialRevocation', ResourceStatus: 'DELETE_IN_PROGRESS', LastUpdatedTimestamp: new Date() },
    ] });
    keyWithMaterials();
    const { response, decision } = await run('Delete', { stackId: PARENT });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes()).toHaveLength(0);
    expect(decision.reason).toMatch(/no longer a resource of this stack.*revokeOnRemoval is off/);
  });

  test('L21: a lineage whose parents do not end at the RootId fails', async () => {
    cfn.on(DescribeStacksCommand, { StackName: PARENT }).resolves({
      Stacks: [{ StackId: PARENT, StackName: 'x', StackStatus: 'DELETE_IN_PROGRESS', CreationTime: new Date(), RootId: RENAMED }],
    });
    const { response } = await run('Delete', { stackId: PARENT });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('RootId');
    expect(kms.calls()).toHaveLength(0);
  });
});

describe('one warm container, several Deletes (L18)', () => {
  const OTHER_STACK = STACK_ID.replace('0f9e8d7c', '1a2b3c4d');

  /** Runs one Delete in the same container as the previous ones, with a log of its own. */
  async function runAgain(options: EventOptions = {}) {
    logs.stop();
    logs.start();
    return run('Delete', { ...options, props: options.props ?? props({ MaterialScope: 'CURRENT' }) });
  }

  /** Runs `work` with the handler's clock (Date.now) `ms` ahead, as if that much time had passed. */
  async function clockAhead<T>(ms: number, work: () => Promise<T>): Promise<T> {
    const realNow = Date.now.bind(Date);
    const later = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + ms);
    try {
      return await work();
    } finally {
      later.mockRestore();
    }
  }

  function keysRevocable() {
    kms.on(DescribeKeyCommand).callsFake((input) => ({ KeyMetadata: keyMeta({}, input.KeyId) }));
    kms.on(DeleteImportedKeyMaterialCommand).callsFake((input) => ({ KeyId: input.KeyId, KeyMaterialId: 'M-CUR' }));
  }

  test('L6/L18: Deletes of one stack deletion read the status once, and every one of them revokes', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keysRevocable();
    // One template with both revocations: a warm container reads it once for the whole deletion.
    template({
      [LOGICAL_ID]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ MaterialScope: 'CURRENT' }) },
      Second: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ MaterialScope: 'CURRENT', KeyArn: KEY_B }) },
    });
    const first = await runAgain({ props: props({ MaterialScope: 'CURRENT' }) });
    const second = await runAgain({ logicalId: 'Second', props: props({ MaterialScope: 'CURRENT', KeyArn: KEY_B }), physicalId: physicalId(KEY_B) });
    expect([first.response.Status, second.response.Status]).toEqual(['SUCCESS', 'SUCCESS']);
    expect(deletes().map((d) => d.KeyId)).toEqual([KEY_A, KEY_B]);
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(1);
    expect(cfn.commandCalls(GetTemplateCommand)).toHaveLength(1);
    expect(cfn.commandCalls(DescribeStackEventsCommand)).toHaveLength(1);
    // The resource's own state (L29): the first from the history's events, the second from one
    // listing of the stack's resources, which the next Deletes of the wave reuse.
    expect(cfn.commandCalls(DescribeStackResourceCommand)).toHaveLength(0);
    expect(cfn.commandCalls(ListStackResourcesCommand)).toHaveLength(1);
    expect(first.decision.stackStatusRemembered).toBeUndefined();
    expect(second.decision).toMatchObject({ stackStatus: 'DELETE_IN_PROGRESS', stackStatusRemembered: true, decision: 'revoked' });
  });

  /** A stack deletion of three revocations, each named in the template (a warm container reads it once). */
  function threeRevocations() {
    stackStatus('DELETE_IN_PROGRESS');
    keysRevocable();
    template(Object.fromEntries(['First', 'Second', 'Third'].map((id, i) => [id, {
      Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ MaterialScope: 'CURRENT', KeyArn: [KEY_A, KEY_B, KEY_C][i] }),
    }])));
  }
  const third = () => ({ logicalId: 'Third', props: props({ MaterialScope: 'CURRENT', KeyArn: KEY_C }), physicalId: physicalId(KEY_C) });
  const second = () => ({ logicalId: 'Second', props: props({ MaterialScope: 'CURRENT', KeyArn: KEY_B }), physicalId: physicalId(KEY_B) });
  /** The listing shows every resource the test names deleting, as CloudFormation does during one wave. */
  function wholeWaveDeleting(ids: Array<[string, string]> = [['First', KEY_A], ['Second', KEY_B], ['Third', KEY_C]]) {
    stackResources(ids.map(([logicalId, key]) => ({ logicalId, physicalId: physicalId(key), status: 'DELETE_IN_PROGRESS' })));
  }

  test('L18/L29: one listing of the stack\'s resources is the evidence for the rest of the wave in a warm container', async () => {
    threeRevocations();
    wholeWaveDeleting();
    const results = [await runAgain({ logicalId: 'First' }), await runAgain(second()), await runAgain(third())];
    expect(results.map((r) => r.response.Status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    expect(deletes().map((d) => d.KeyId)).toEqual([KEY_A, KEY_B, KEY_C]);
    expect(cfn.commandCalls(ListStackResourcesCommand)).toHaveLength(1);
    expect(cfn.commandCalls(DescribeStackResourceCommand)).toHaveLength(0);
  });

  test('L18: a stack deletion\'s lineage, history and template stay remembered for minutes (a deletion of several full stacks is long)', async () => {
    threeRevocations();
    wholeWaveDeleting();
    await runAgain({ logicalId: 'First' });
    // Four minutes on: past the one minute the handler once remembered, within the ServiceTimeout of 5.
    const later = await clockAhead(4 * 60_000, () => runAgain(second()));
    expect(later.decision).toMatchObject({ decision: 'revoked', stackStatusRemembered: true });
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(1);
    expect(cfn.commandCalls(DescribeStackEventsCommand)).toHaveLength(1);
    expect(cfn.commandCalls(GetTemplateCommand)).toHaveLength(1);
  });

  test('L29: a listing older than 15 s vouches for nothing: it is read again', async () => {
    threeRevocations();
    wholeWaveDeleting();
    await runAgain({ logicalId: 'First' });
    await runAgain(second());
    expect((await clockAhead(16_000, () => runAgain(third()))).response.Status).toBe('SUCCESS');
    expect(cfn.commandCalls(ListStackResourcesCommand)).toHaveLength(2);
  });

  test.each([
    ['still being deleted: revoked', 'DELETE_IN_PROGRESS', 'SUCCESS'],
    ['gone meanwhile: refused', 'DELETE_COMPLETE', 'FAILED'],
  ])('L18/L29: evidence from a listing that ages past 15 s while the revocation waits its turn is read again (%s)', async (_name, status, expected) => {
    stackStatus('DELETE_IN_PROGRESS');
    keysRevocable();
    // Third is the 241st revocation of the template: its turn comes 16 s after the request was signed.
    const fillers = Object.fromEntries(Array.from({ length: 238 }, (_, i) => [`Filler${i}`, { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ KeyArn: KEY_B }) }]));
    template({
      First: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ MaterialScope: 'CURRENT' }) },
      Second: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ MaterialScope: 'CURRENT', KeyArn: KEY_B }) }, ...fillers,
      Third: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ MaterialScope: 'CURRENT', KeyArn: KEY_C }) },
    });
    wholeWaveDeleting();
    // First takes its evidence from the history's events, Second from a listing that Third reuses.
    await runAgain({ logicalId: 'First' });
    await runAgain(second());
    // 14.5 s later (on the handler's clock): the listing is still fresh when Third decides, not after its wait.
    sending.resourceState = { status, physicalId: physicalId(KEY_C) };
    const result = await clockAhead(14_500, () => runAgain(third()));
    expect(result.response.Status).toBe(expected);
    expect(result.decision.waitedForTurnMs).toBeGreaterThan(0);
    expect(cfn.commandCalls(ListStackResourcesCommand)).toHaveLength(1);
    expect(cfn.commandCalls(DescribeStackResourceCommand)).toHaveLength(1);
    expect(deletes().map((d) => d.KeyId)).toEqual(expected === 'SUCCESS' ? [KEY_A, KEY_B, KEY_C] : [KEY_A, KEY_B]);
  });

  test('L26/L29: a listing that shows the resource gone, or under another physical ID, is read again and the request refused', async () => {
    threeRevocations();
    wholeWaveDeleting([['First', KEY_A], ['Second', KEY_B]]);
    await runAgain({ logicalId: 'First' });
    await runAgain(second());
    // Third is not deleting in the listing (another physical ID): a fresh listing says the same.
    stackResources([{ logicalId: 'Third', physicalId: physicalId(KEY_A), status: 'DELETE_IN_PROGRESS' }]);
    const refused = await runAgain(third());
    expect(refused.response.Status).toBe('FAILED');
    expect(refused.decision.decision).toBe('refused');
    expect(deletes().map((d) => d.KeyId)).toEqual([KEY_A, KEY_B]);
    expect(cfn.commandCalls(ListStackResourcesCommand)).toHaveLength(2);
  });

  test('L26/L29: after a Delete answered FAILED, the container reads its evidence afresh (a retried deletion may retain the resource)', async () => {
    threeRevocations();
    wholeWaveDeleting();
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: KEY_B }).rejects(awsError('AccessDeniedException'));
    await runAgain({ logicalId: 'First' });
    expect((await runAgain(second())).response.Status).toBe('FAILED');
    expect(cfn.commandCalls(ListStackResourcesCommand)).toHaveLength(1);
    expect((await runAgain(third())).response.Status).toBe('SUCCESS');
    expect(cfn.commandCalls(ListStackResourcesCommand)).toHaveLength(2);
  });

  test('L26/L29: in a fresh container the history\'s events are the evidence: a resource whose newest event is DELETE_COMPLETE is refused', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keysRevocable();
    sending.resourceState = { status: 'DELETE_COMPLETE', physicalId: physicalId(KEY_A) };
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(decision.decision).toBe('refused');
    expect(kmsWrites()).toBe(0);
    expect(cfn.commandCalls(DescribeStackResourceCommand)).toHaveLength(0);
  });

  test('L29: a forged Delete in a fresh container is refused at the resource\'s newest event, without reading the rest of the history', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keysRevocable();
    // The resource's newest event (DELETE_COMPLETE: already gone) is on the first page; the stable state only on the second.
    cfn.on(DescribeStackEventsCommand, { StackName: STACK_ID, NextToken: undefined }).resolves({
      StackEvents: [{ StackId: STACK_ID, StackName: 'BYOK-Stack', EventId: 'r', LogicalResourceId: LOGICAL_ID, PhysicalResourceId: physicalId(KEY_A),
        ResourceType: 'Custom::KmsKeyMaterialRevocation', ResourceStatus: 'DELETE_COMPLETE', Timestamp: new Date() }],
      NextToken: 'page-2',
    });
    cfn.on(DescribeStackEventsCommand, { StackName: STACK_ID, NextToken: 'page-2' }).resolves({
      StackEvents: ['DELETE_IN_PROGRESS', 'CREATE_COMPLETE', 'CREATE_IN_PROGRESS'].map((status, i) => ({
        StackId: STACK_ID, StackName: 'BYOK-Stack', EventId: `s${i}`, LogicalResourceId: 'BYOK-Stack', PhysicalResourceId: STACK_ID,
        ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: status as any, Timestamp: new Date(Date.now() - (i + 1) * 1000),
      })),
    });
    const { response, decision } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(decision.decision).toBe('refused');
    expect(cfn.commandCalls(DescribeStackEventsCommand)).toHaveLength(1);
    expect(kmsWrites()).toBe(0);
  });

  test('L29: in a fresh container, the resource deleting under another physical ID in the events is refused', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keysRevocable();
    sending.resourceState = { status: 'DELETE_IN_PROGRESS', physicalId: physicalId(KEY_B) };
    const { response } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(kmsWrites()).toBe(0);
  });

  test('L20: only a deletion is remembered: a Delete after a rollback Delete reads the status again', async () => {
    stackStatus('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
    keysRevocable();
    expect((await runAgain()).decision.decision).toBe('skipped');
    stackStatus('DELETE_IN_PROGRESS');
    expect((await runAgain()).decision.decision).toBe('revoked');
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(2);
  });

  test('L4/L20: a deletion is remembered for its own stack ID only: another stack\'s rollback Delete revokes nothing', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    cfn.on(DescribeStacksCommand, { StackName: OTHER_STACK }).resolves({
      Stacks: [{ StackId: OTHER_STACK, StackName: 'BYOK-Stack', StackStatus: 'ROLLBACK_IN_PROGRESS', CreationTime: new Date() }],
    });
    keysRevocable();
    expect((await runAgain()).decision.decision).toBe('revoked');
    const other = await runAgain({ stackId: OTHER_STACK });
    expect(other.decision).toMatchObject({ decision: 'skipped', stackStatus: 'ROLLBACK_IN_PROGRESS' });
    expect(deletes()).toHaveLength(1);
  });

  test('L18: a deletion is remembered for 15 minutes, then read again', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keysRevocable();
    const start = Date.now();
    const now = jest.spyOn(Date, 'now');
    // An hour's ServiceTimeout, so that the requests are still fresh (L26) a quarter of an hour on.
    const long = { props: props({ MaterialScope: 'CURRENT', ServiceTimeout: '3600' }) };
    try {
      now.mockReturnValue(start);
      await runAgain(long);
      now.mockReturnValue(start + 14 * 60_000);
      expect((await runAgain(long)).decision.stackStatusRemembered).toBe(true);
      now.mockReturnValue(start + 16 * 60_000);
      expect((await runAgain(long)).decision.stackStatusRemembered).toBeUndefined();
    } finally {
      now.mockRestore();
    }
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(2);
  });
});

describe('Update', () => {
  test('L8: an update of other properties keeps the physical ID and calls nothing', async () => {
    const { response, decision } = await run('Update', {
      props: props({ RevokeOnRemoval: 'true', MaterialScope: 'CURRENT' }),
      oldProps: props(),
    });
    expect(response.Status).toBe('SUCCESS');
    expect(response.PhysicalResourceId).toBe(physicalId(KEY_A));
    expect(kms.calls()).toHaveLength(0);
    // Only the evidence that the resource is being updated now (L29).
    expect(cfn.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeStackResourceCommand']);
    expect(decision.decision).toBe('skipped');
  });

  test('L8: the physical ID the resource already has is kept as it is', async () => {
    const { response } = await run('Update', { physicalId: 'an-older-physical-id-format' });
    expect(response.PhysicalResourceId).toBe('an-older-physical-id-format');
  });

  test('L9/L28: pointing at another key validates it, checks now what the cleanup needs for the old key, revokes nothing yet', async () => {
    stackStatus('UPDATE_IN_PROGRESS');
    kms.on(DescribeKeyCommand, { KeyId: KEY_B }).resolves({ KeyMetadata: keyMeta({}, KEY_B) });
    keyWithMaterials(KEY_A);
    const { response } = await run('Update', { props: props({ KeyArn: KEY_B }), oldProps: props() });
    expect(response.Status).toBe('SUCCESS');
    expect(response.PhysicalResourceId).toBe(physicalId(KEY_B));
    expect(kmsWrites()).toBe(0);
    expect(kms.commandCalls(ListKeyRotationsCommand).map((c) => c.args[0].input.KeyId)).toEqual([KEY_A]);
  });

  test('L28: a cleanup revocation that would be denied fails the update while it can still roll back', async () => {
    stackStatus('UPDATE_IN_PROGRESS');
    kms.on(DescribeKeyCommand, { KeyId: KEY_B }).resolves({ KeyMetadata: keyMeta({}, KEY_B) });
    kms.on(DescribeKeyCommand, { KeyId: KEY_A }).rejects(awsError('AccessDeniedException'));
    const { response } = await run('Update', { props: props({ KeyArn: KEY_B }), oldProps: props() });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain(`key ${KEY_A} is to be revoked in the cleanup as the replaced key, but it cannot be read now`);
    expect(response.Reason).toContain('kms:DescribeKey was denied');
    expect(kmsWrites()).toBe(0);
  });

  test('L28: with revokeOnKeyReplacement off the old key is not checked (it will not be revoked)', async () => {
    stackStatus('UPDATE_IN_PROGRESS');
    kms.on(DescribeKeyCommand, { KeyId: KEY_B }).resolves({ KeyMetadata: keyMeta({}, KEY_B) });
    const { response } = await run('Update', { props: props({ KeyArn: KEY_B, RevokeOnKeyReplacement: 'false' }), oldProps: props() });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls().map((c) => (c.args[0].input as any).KeyId)).toEqual([KEY_B]);
  });

  test('L10/L28: an update rollback back to the old key checks nothing and never fails on a key check', async () => {
    stackStatus('UPDATE_ROLLBACK_IN_PROGRESS');
    const { response } = await run('Update', { physicalId: physicalId(KEY_B), props: props(), oldProps: props({ KeyArn: KEY_B }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
  });

  test('L9: pointing at a key whose origin is not EXTERNAL fails and keeps the old physical ID', async () => {
    stackStatus('UPDATE_IN_PROGRESS');
    kms.on(DescribeKeyCommand, { KeyId: KEY_B }).resolves({ KeyMetadata: keyMeta({ Origin: 'AWS_KMS' }, KEY_B) });
    const { response } = await run('Update', { props: props({ KeyArn: KEY_B }), oldProps: props() });
    expect(response.Status).toBe('FAILED');
    expect(response.PhysicalResourceId).toBe(physicalId(KEY_A));
    expect(response.Reason).toContain(KEY_B);
  });

  test('L10: the rollback update back to the old key answers the old physical ID without validating or revoking', async () => {
    stackStatus('UPDATE_ROLLBACK_IN_PROGRESS');
    const { response } = await run('Update', {
      physicalId: physicalId(KEY_B), props: props({ KeyArn: KEY_A }), oldProps: props({ KeyArn: KEY_B }),
    });
    expect(response.Status).toBe('SUCCESS');
    expect(response.PhysicalResourceId).toBe(physicalId(KEY_A));
    expect(kms.calls()).toHaveLength(0);
  });

  test('L10: a rollback update back to a key that became unreadable still succeeds (a rollback must not fail)', async () => {
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'x', StackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS', CreationTime: new Date() }] });
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    const { response } = await run('Update', {
      physicalId: physicalId(KEY_B), props: props({ KeyArn: KEY_A }), oldProps: props({ KeyArn: KEY_B }),
    });
    expect(response.Status).toBe('SUCCESS');
  });

  test('L11: an in-place update rolled back (revoked arriving swapped, false to true) revokes nothing', async () => {
    stackStatus('UPDATE_ROLLBACK_IN_PROGRESS');
    const { response, decision } = await run('Update', {
      props: props({ Revoked: 'true' }), oldProps: props({ Revoked: 'false' }),
    });
    expect(response.Status).toBe('SUCCESS');
    // Back to the switch's own physical ID; its Delete comes in the rollback cleanup, which never revokes.
    expect(response.PhysicalResourceId).toBe(REVOKED_PHYSICAL_ID_PREFIX + KEY_A);
    expect(kms.calls()).toHaveLength(0);
    // Only the status, which says rollback: no key is checked in a rollback (L28 checks are forward-only).
    expect(cfn.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeStackResourceCommand', 'DescribeStacksCommand']);
    expect(decision.decision).toBe('skipped');
  });

  test('L14: revoked switching on in an update revokes nothing while the update can roll back, and answers a new physical ID', async () => {
    const { response, decision } = await run('Update', { props: props({ Revoked: 'true' }), oldProps: props() });
    expect(response.Status).toBe('SUCCESS');
    expect(response.PhysicalResourceId).toBe(REVOKED_PHYSICAL_ID_PREFIX + KEY_A);
    expect(response.Data.RevokedMaterialIds).toBe('');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.reason).toContain('revoked in the cleanup once the update has succeeded');
  });

  test('L14: the cleanup after the switch turned on revokes the key the new properties name', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ [LOGICAL_ID]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ Revoked: 'true' }) } });
    stackResources([{ logicalId: LOGICAL_ID, physicalId: REVOKED_PHYSICAL_ID_PREFIX + KEY_A }]);
    keyWithMaterials();
    const { response, decision } = await run('Delete', { physicalId: physicalId(KEY_A) });
    expect(response.Status).toBe('SUCCESS');
    expect(deletes().map((d) => d.KeyMaterialId)).toEqual(['M-OLD', 'M-CUR']);
    expect(decision).toMatchObject({ decision: 'revoked', materialIds: ['M-OLD', 'M-CUR'] });
    expect(decision.reason).toContain('revoked switched on');
  });

  test('L14: revoked staying on in a later update does not revoke again', async () => {
    const { response } = await run('Update', { props: props({ Revoked: 'true', RevokeOnRemoval: 'true' }), oldProps: props({ Revoked: 'true' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    // Only the evidence that the resource is being updated now (L29).
    expect(cfn.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeStackResourceCommand']);
  });

  test('L14: the rollback of the update that revoked succeeds, leaves the material revoked and says re-import is the way back', async () => {
    stackStatus('UPDATE_ROLLBACK_IN_PROGRESS');
    const { response, decision } = await run('Update', { props: props({ Revoked: 'false' }), oldProps: props({ Revoked: 'true' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
    expect(decision.reason).toContain('re-import');
  });

  test('L14/L21: the cleanup after the switch turned on fails when the stack resources cannot be read', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ [LOGICAL_ID]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ Revoked: 'true' }) } });
    cfn.on(ListStackResourcesCommand).rejects(awsError('AccessDenied'));
    const { response } = await run('Delete', { physicalId: physicalId(KEY_A) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('cloudformation:ListStackResources was denied');
    expect(kms.calls()).toHaveLength(0);
  });

  test('L20: revoked switching on during IMPORT_ROLLBACK_IN_PROGRESS revokes nothing', async () => {
    stackStatus('IMPORT_ROLLBACK_IN_PROGRESS');
    const { response } = await run('Update', { props: props({ Revoked: 'true' }), oldProps: props() });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.calls()).toHaveLength(0);
  });
});

describe('malformed events (L19) and the response', () => {
  test.each([
    ['unknown RequestType', (e: any) => { e.RequestType = 'Rename'; }, 'RequestType'],
    ['missing ResourceProperties', (e: any) => { delete e.ResourceProperties; }, 'ResourceProperties must be an object'],
    ['missing KeyArn', (e: any) => { delete e.ResourceProperties.KeyArn; }, 'KeyArn'],
    ['garbled KeyArn', (e: any) => { e.ResourceProperties.KeyArn = 'arn:aws:kms:eu-west-1:1:key'; }, 'not a KMS key ARN'],
    ['boolean not a string', (e: any) => { e.ResourceProperties.RevokeOnStackDelete = 1; }, 'RevokeOnStackDelete'],
    ['unknown scope', (e: any) => { e.ResourceProperties.MaterialScope = 'SOME'; }, 'MaterialScope'],
    ['unknown contract version', (e: any) => { e.ResourceProperties.ContractVersion = '99'; }, 'ContractVersion'],
    ['oversized value', (e: any) => { e.ResourceProperties.KeyArn = 'x'.repeat(100_000); }, 'characters long'],
    ['garbled StackId', (e: any) => { e.StackId = 'my-stack'; }, 'StackId'],
    ['missing PhysicalResourceId on Delete', (e: any) => { delete e.PhysicalResourceId; }, 'PhysicalResourceId'],
  ])('L19: %s gets a FAILED answer with a clear reason', async (_name, mutate, words) => {
    const url = server.newUrl();
    const event = cfnEvent('Delete', url);
    mutate(event);
    await handler(event, context());
    const [answer] = server.responsesFor(url);
    expect(answer.body.Status).toBe('FAILED');
    expect(answer.body.Reason).toContain(words);
    expect(kms.calls().length + cfn.calls().length).toBe(0);
  });

  test('L19: missing OldResourceProperties on Update fails', async () => {
    const url = server.newUrl();
    const event = cfnEvent('Update', url);
    delete event.OldResourceProperties;
    await handler(event, context());
    expect(server.responsesFor(url)[0].body.Reason).toContain('OldResourceProperties');
  });

  test('L19: an event without a ResponseURL, or not an object at all, ends without throwing', async () => {
    await expect(handler({ RequestType: 'Delete' }, context())).resolves.toBeUndefined();
    await expect(handler('garbage', undefined)).resolves.toBeUndefined();
    expect(logs.records().some((r) => r.message.includes('no ResponseURL'))).toBe(true);
  });

  test('L19: an unreachable ResponseURL ends without throwing, logging that no answer went out', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    const event = cfnEvent('Create', 'http://127.0.0.1:9/unreachable');
    await expect(handler(event, context(5_000))).resolves.toBeUndefined();
    expect(logs.decision().responseSent).toBe(false);
  });

  test('L19: a response URL that answers 500 twice gets the answer on a retry', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    const url = server.newUrl();
    const u = new URL(url);
    server.failNext.set(u.pathname + u.search, [500, 503]);
    await handler(cfnEvent('Create', url), context());
    expect(server.responsesFor(url)).toHaveLength(1);
    expect(logs.decision().responseSent).toBe(true);
  });

  test('the response is a PUT with an empty content type and the exact content length', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    const { raw } = await run('Create');
    expect(raw.method).toBe('PUT');
    expect(raw.headers['content-type']).toBe('');
    expect(Number(raw.headers['content-length'])).toBe(Buffer.byteLength(raw.rawBody));
  });

  test('the log has one JSON decision line and never the ResponseURL', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keyWithMaterials();
    const { event, decision } = await run('Delete');
    expect(decision).toMatchObject({ requestType: 'Delete', keyArn: KEY_A, decision: 'revoked', stackStatus: 'DELETE_IN_PROGRESS' });
    expect(typeof decision.durationMs).toBe('number');
    const all = logs.lines.join('\n');
    expect(all).not.toContain(String(event.ResponseURL));
    expect(all).not.toContain('X-Amz-Signature');
  });

  test('many revoked materials: the response stays under 4096 bytes, the IDs truncated with a count', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    const ids = Array.from({ length: 400 }, (_, i) => `${i}`.padStart(64, 'a'));
    kms.on(ListKeyRotationsCommand).resolves({
      Rotations: ids.map((id, i) => ({ KeyMaterialId: id, KeyMaterialState: i === 0 ? 'CURRENT' : 'NON_CURRENT', ImportState: 'IMPORTED' })),
    });
    kms.on(DeleteImportedKeyMaterialCommand).callsFake((input) => ({ KeyMaterialId: input.KeyMaterialId }));
    const { raw, response } = await run('Delete');
    expect(Buffer.byteLength(raw.rawBody)).toBeLessThanOrEqual(4096);
    expect(deletes()).toHaveLength(400);
    expect(response.Data.RevokedMaterialIds).toMatch(/,\+\d+ more$/);
    const shown = response.Data.RevokedMaterialIds.split(',');
    const more = Number(/\+(\d+) more/.exec(shown[shown.length - 1])![1]);
    expect(shown.length - 1 + more).toBe(400);
  });

  test('a very long failure reason is cut so the response stays under 4096 bytes', async () => {
    kms.on(DescribeKeyCommand).rejects(awsError('AccessDeniedException', '"quoted" '.repeat(2000)));
    const { raw, response } = await run('Create');
    expect(Buffer.byteLength(raw.rawBody)).toBeLessThanOrEqual(4096);
    expect(response.Reason).toContain('[truncated]');
  });
});

describe('time budget (L17)', () => {
  test('L17: a KMS call that never answers ends in a FAILED answer sent before the Lambda times out', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).callsFake(() => new Promise(() => undefined));
    const started = Date.now();
    const remaining = 4_000;
    const { response } = await run('Delete', {}, remaining);
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('time budget');
    expect(response.Reason).toContain('kms:DescribeKey');
    expect(Date.now() - started).toBeLessThan(remaining);
  });

  test('L17: the ServiceTimeout property bounds the budget when it is shorter than the Lambda\'s time', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).callsFake(() => new Promise(() => undefined));
    const started = Date.now();
    const { response } = await run('Delete', { props: props({ ServiceTimeout: '3' }) }, 600_000);
    expect(response.Status).toBe('FAILED');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  test('L17/L18: every SDK client retries with the revocation strategy, its attempts outlasting the longest budget', async () => {
    const strategyOf = async (client: { config: { retryStrategy: unknown } }) => (client.config.retryStrategy as () => Promise<any>)();
    for (const client of [kmsClient('eu-west-1'), kmsClient('us-east-1'), cloudFormationClient('eu-west-1')]) {
      expect(await strategyOf(client)).toBeInstanceOf(RevocationRetryStrategy);
      // A call is ended by the time budget (a read by its share of it), not by its attempts.
      expect((await strategyOf(client)).maxAttempts).toBe(MAX_ATTEMPTS);
    }
    // The waits of a call throttled to its last attempt, at their mean (half of each width), outlast
    // the handler's 15-minute Lambda timeout (lib/provider.ts), the longest budget a raised serviceTimeout gives.
    const meanWaitMs = (attempts: number) => Array.from({ length: attempts - 1 }, (_, retry) => retryDelayMs('THROTTLING', retry, () => 0.5))
      .reduce((a, w) => a + w, 0);
    expect(meanWaitMs(MAX_ATTEMPTS)).toBeGreaterThan(1.15 * 15 * 60_000);
  });

  test('L17: reads may retry for the work time but its last tenth (at least 5 s, at most half), and a read begun later for a short while', () => {
    expect(readReserveMs(290_000)).toBe(29_000);
    expect(readReserveMs(20_000)).toBe(5_000);
    expect(readReserveMs(6_000)).toBe(3_000);
    const now = Date.now();
    // The default serviceTimeout: 300 s, of which 10 s are kept for the answer and 29 s more for the rules and KMS.
    const budget = Budget.start(context(900_000), 300, now);
    const raised = Budget.start(context(900_000), 900, now);
    try {
      expect(budget.readDeadline).toBe(now + 261_000);
      expect(budget.readPatienceMs(now)).toBe(261_000);
      expect(budget.readPatienceMs(now + 200_000)).toBe(61_000);
      // Begun after the reads' deadline (after a wait for its turn): half of what is left, at most 5 s.
      expect(budget.readPatienceMs(now + 270_000)).toBe(5_000);
      expect(budget.readPatienceMs(now + 286_000)).toBe(2_000);
      expect(budget.readPatienceMs(now + 295_000)).toBe(0);
      // A raised serviceTimeout makes every read that much more patient.
      expect(raised.readPatienceMs(now)).toBe(801_000);
    } finally {
      budget.dispose();
      raised.dispose();
    }
  });

  test('L17/L21: a CloudFormation read still failing when the budget\'s reads end is given up: the Delete fails loudly, naming the read, before the budget runs out', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    cfn.on(DescribeStacksCommand).callsFake(() => new Promise(() => undefined));
    const started = Date.now();
    // 6 s left: 4.5 s of work after the 1.5 s kept for the answer, of which reads get the first half (readReserveMs).
    const { response, decision } = await run('Delete', {}, 6_000);
    const elapsed = Date.now() - started;
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toMatch(/cloudformation:DescribeStacks on .* failed \(ReadPatienceExhausted: no answer after 2\.\ds \(retries included\)/);
    expect(response.Reason).toContain('the handler does not guess');
    expect(response.Reason).not.toMatch(/time budget of .* ran out/);
    expect(decision.decision).toBe('failed');
    expect(elapsed).toBeGreaterThanOrEqual(2_150);
    expect(elapsed).toBeLessThan(4_500);
    expect(kmsWrites()).toBe(0);
  });

  test('L10/L17: an update whose stack statuses are still unreadable when the budget\'s reads end is answered SUCCESS, not FAILED by a budget run out (it may be a rollback)', async () => {
    stackStatus('UPDATE_ROLLBACK_IN_PROGRESS');
    cfn.on(DescribeStacksCommand).callsFake(() => new Promise(() => undefined));
    // Unreadable statuses are read as a forward update for the new key's validation, which only reads.
    kms.on(DescribeKeyCommand, { KeyId: KEY_A }).resolves({ KeyMetadata: keyMeta() });
    const { response, decision } = await run('Update', {
      physicalId: physicalId(KEY_B), props: props({ KeyArn: KEY_A }), oldProps: props({ KeyArn: KEY_B }),
    }, 6_000);
    expect(response.Status).toBe('SUCCESS');
    expect(response.PhysicalResourceId).toBe(physicalId(KEY_A));
    expect(decision.reason).toContain('key changed');
    expect(cfn.commandCalls(DescribeStacksCommand).length).toBeGreaterThan(0);
    expect(kmsWrites()).toBe(0);
  });

  test('L17/L18: throttled retries draw on no shared allowance, and the attempt limit ends a call the budget did not', async () => {
    const strategy = new RevocationRetryStrategy(MAX_ATTEMPTS);
    // A warm container serves dozens of throttled Deletes in a stack deletion; the SDK's own
    // strategy stopped retrying after about 100 throttled retries per client.
    let token = await strategy.acquireInitialRetryToken();
    for (let i = 1; i < 300; i++) {
      token = await strategy.refreshRetryTokenForRetry(token, { errorType: 'THROTTLING' });
      expect(token.getRetryCount()).toBe(i);
    }
    let last = token;
    await expect((async () => {
      for (;;) last = await strategy.refreshRetryTokenForRetry(last, { errorType: 'THROTTLING' });
    })()).rejects.toThrow();
    expect(last.getRetryCount()).toBe(MAX_ATTEMPTS - 1);
  });

  test('L17: the error retried last during an invocation is known, for the reason of a budget that ran out', async () => {
    const strategy = new RevocationRetryStrategy(MAX_ATTEMPTS);
    const before = Date.now();
    await strategy.refreshRetryTokenForRetry(await strategy.acquireInitialRetryToken(),
      { errorType: 'THROTTLING', error: Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }) });
    expect(lastRetriedSince(before)).toBe('ThrottlingException: Rate exceeded');
    // A retry of an earlier invocation in the same container is not this one's.
    expect(lastRetriedSince(Date.now() + 1)).toBeUndefined();
    // A call that is not retried leaves nothing.
    const later = Date.now() + 1;
    await expect(strategy.refreshRetryTokenForRetry(await strategy.acquireInitialRetryToken(),
      { errorType: 'CLIENT_ERROR', error: Object.assign(new Error('bad'), { name: 'ValidationException' }) })).rejects.toThrow();
    expect(lastRetriedSince(later)).toBeUndefined();
  });

  test('L17: client errors and server errors the SDK does not retry are answered at once', async () => {
    const strategy = new RevocationRetryStrategy(MAX_ATTEMPTS);
    const first = await strategy.acquireInitialRetryToken();
    await expect(strategy.refreshRetryTokenForRetry(first, { errorType: 'CLIENT_ERROR' })).rejects.toThrow();
    await expect(strategy.refreshRetryTokenForRetry(first, { errorType: 'SERVER_ERROR' })).rejects.toThrow();
    expect((await strategy.refreshRetryTokenForRetry(first, { errorType: 'TRANSIENT' })).getRetryCount()).toBe(1);
  });

  test('L18: a throttled call retries within the quota\'s one-second window for 20 retries, then waits longer, never over 4 s', () => {
    const waits = (retry: number) => Array.from({ length: 400 }, () => retryDelayMs('THROTTLING', retry));
    for (const retry of [0, 5, RETRIES_PER_WIDTH - 1]) {
      const w = waits(retry);
      expect(Math.max(...w)).toBeLessThan(THROTTLED_RETRY_WINDOW_MS);
      // Full jitter, not a fixed wait: the crowd spreads over the window.
      expect(new Set(w).size).toBeGreaterThan(100);
    }
    expect(Math.max(...waits(RETRIES_PER_WIDTH))).toBeGreaterThanOrEqual(THROTTLED_RETRY_WINDOW_MS);
    expect(Math.max(...waits(RETRIES_PER_WIDTH))).toBeLessThan(2 * THROTTLED_RETRY_WINDOW_MS);
    const late = waits(3 * RETRIES_PER_WIDTH);
    expect(Math.max(...late)).toBeLessThanOrEqual(MAX_BACKOFF_MS);
    expect(Math.max(...late)).toBeGreaterThan(3_000);
    // The extremes of the random draw stay inside the width.
    expect(retryDelayMs('THROTTLING', 0, () => 0.999999)).toBe(THROTTLED_RETRY_WINDOW_MS - 1);
    expect(retryDelayMs('THROTTLING', 200, () => 0.999999)).toBe(MAX_BACKOFF_MS - 1);
  });

  test('L17: a transient error (a dropped connection, a timeout, a 500/502/503/504) is retried after the SDK\'s short, doubling waits', () => {
    expect(retryDelayMs('TRANSIENT', 0, () => 0.999999)).toBe(49);
    expect(retryDelayMs('TRANSIENT', 3, () => 0.999999)).toBe(399);
    expect(retryDelayMs('TRANSIENT', 30, () => 0.999999)).toBe(MAX_BACKOFF_MS - 1);
  });

  test('L17/L18: a Retry-After hint longer than the drawn wait is honoured, up to 4 s', async () => {
    const strategy = new RevocationRetryStrategy(MAX_ATTEMPTS);
    const first = await strategy.acquireInitialRetryToken();
    const hinted = await strategy.refreshRetryTokenForRetry(first, { errorType: 'THROTTLING', retryAfterHint: new Date(Date.now() + 2_500) });
    expect(hinted.getRetryDelay()).toBeGreaterThan(2_000);
    const far = await strategy.refreshRetryTokenForRetry(first, { errorType: 'THROTTLING', retryAfterHint: new Date(Date.now() + 60_000) });
    expect(far.getRetryDelay()).toBeLessThanOrEqual(MAX_BACKOFF_MS);
  });
});

describe('response body limits', () => {
  test('L19: identifiers too long for any valid answer still get one attempt, and the handler never throws', async () => {
    const url = server.newUrl();
    const event = cfnEvent('Delete', url);
    event.RequestId = 'r'.repeat(100_000);
    await expect(handler(event, context())).resolves.toBeUndefined();
    const [answer] = server.responsesFor(url);
    expect(answer.body.Status).toBe('FAILED');
    expect(answer.body.Reason).toContain('RequestId');
    expect(answer.body.Data).toBeUndefined();
  });
});

describe('budget edges (L17, L19)', () => {
  test('L19: a ServiceTimeout below CloudFormation\'s minimum still gets exactly one answer, with a positive budget', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).callsFake(() => new Promise(() => undefined));
    const { response } = await run('Delete', { props: props({ ServiceTimeout: '0.2' }) });
    expect(response.Status).toBe('FAILED');
    // X-Amz-Date has whole seconds: the request may already count as past its ServiceTimeout (L26).
    expect(response.Reason).toMatch(/time budget of 0\.\ds ran out|ServiceTimeout of 0.2 s has passed/);
  });
});

describe('KMS answers that contradict the request, in-flight writes, log hygiene (L15, L30, L31)', () => {
  test('L30: scope ALL with a listing whose entries lack KeyMaterialId fails loudly and deletes nothing', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ KeyState: 'PendingImport' }) });
    kms.on(ListKeyRotationsCommand).resolves({ Rotations: [{ KeyMaterialState: 'NON_CURRENT', ImportState: 'IMPORTED' }], Truncated: false });
    const { response } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('without a KeyMaterialId');
    expect(kmsWrites()).toBe(0);
  });

  test('L30: a DeleteImportedKeyMaterial answer naming another material than the one asked for fails', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keyWithMaterials();
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: KEY_A, KeyMaterialId: 'M-OLD' }).resolves({ KeyId: KEY_A, KeyMaterialId: 'M-SOMETHING-ELSE' });
    const { response } = await run('Delete');
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('asked to delete material M-OLD but answered M-SOMETHING-ELSE');
  });

  test('L15: scope CURRENT on a key pending deletion that KMS refuses is logged as refused, not as deleted', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta({ KeyState: 'PendingDeletion' }) });
    kms.on(DeleteImportedKeyMaterialCommand).rejects(awsError('KMSInvalidStateException'));
    const { response, decision } = await run('Delete', { props: props({ MaterialScope: 'CURRENT' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(decision.materialIds).toEqual([]);
    expect(decision.reason).toContain('KMS refused the delete');
    expect(decision.reason).not.toContain('deleted while the key is pending deletion');
  });

  test('L31: a budget that runs out while DeleteImportedKeyMaterial is under way says the call may have taken effect', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMeta() });
    kms.on(DeleteImportedKeyMaterialCommand).callsFake(() => new Promise(() => undefined));
    const { response } = await run('Delete', { props: props({ MaterialScope: 'CURRENT' }) }, 4_000);
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('may have taken effect');
    expect(response.Reason).not.toContain('Nothing after this point was done');
  });

  test('L31: a budget that runs out during a read still says nothing after it was done', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    kms.on(DescribeKeyCommand).callsFake(() => new Promise(() => undefined));
    const { response } = await run('Delete', {}, 4_000);
    expect(response.Reason).toContain('Nothing after this point was done');
  });

  test('L19: an oversized logical ID is logged capped, U+2028 is escaped, and the FAILED reason is one line', async () => {
    const huge = `A\u2028B${'x'.repeat(10_000)}`;
    const { response } = await run('Delete', { logicalId: huge, props: props({ KeyArn: 'not\nan ARN' }) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).not.toMatch(/[\r\n\u2028\u2029]/);
    for (const line of logs.lines) {
      expect(line).not.toMatch(/[\n\u2028\u2029]/);
      expect(line.length).toBeLessThan(8_000);
    }
    expect(logs.decision().logicalResourceId).toContain('more characters]');
  });
});

describe('requests CloudFormation did not send (L26, L29)', () => {
  async function invoke(event: Record<string, unknown>) {
    sending.current = event;
    await handler(event, context(60_000));
  }

  test('L29: an event whose ResponseURL is not CloudFormation\'s revokes nothing, reads nothing and gets no answer', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keyWithMaterials();
    process.env[BOUND_STACK_ID_ENV] = STACK_ID;
    await invoke(cfnEvent('Delete', 'https://attacker.example/collect?X-Amz-Signature=x&X-Amz-Date=20261201T000000Z&X-Amz-Expires=60'));
    expect(kms.calls()).toHaveLength(0);
    expect(cfn.calls()).toHaveLength(0);
    expect(logs.decision()).toMatchObject({ decision: 'refused', responseSent: false });
    expect(logs.decision().reason).toContain('not Amazon S3');
  });

  test('L29: a hand-made Create with the switch on while the stack is idle is refused, answered FAILED, nothing revoked', async () => {
    stackStatus('UPDATE_COMPLETE');
    keyWithMaterials();
    sending.resourceState = { status: 'UPDATE_COMPLETE', physicalId: physicalId(KEY_A) };
    const { response, decision } = await run('Create', { props: props({ Revoked: 'true' }) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toMatch(/^refused: /);
    expect(kmsWrites()).toBe(0);
    expect(decision.decision).toBe('refused');
  });

  test('L29: a Delete naming another stack than the handler\'s own is refused before any read', async () => {
    const other = 'arn:aws:cloudformation:eu-west-1:111111111111:stack/Other/0f9e8d7c-6b5a-4321-8765-43210fedcba0';
    const url = server.newUrl();
    process.env[BOUND_STACK_ID_ENV] = STACK_ID;
    await invoke(cfnEvent('Delete', url, { stackId: other }));
    const [answer] = server.responsesFor(url);
    expect(answer.body.Status).toBe('FAILED');
    expect(answer.body.Reason).toContain(`this handler serves ${STACK_ID}`);
    expect(kms.calls().length + cfn.calls().length).toBe(0);
  });

  test('L26: a Delete delivered hours late (its ResponseURL expired) revokes nothing', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keyWithMaterials();
    const url = server.newUrl({ signedAt: new Date(Date.now() - 3 * 3_600_000), expiresSeconds: 7200 });
    process.env[BOUND_STACK_ID_ENV] = STACK_ID;
    await invoke(cfnEvent('Delete', url));
    expect(kms.calls()).toHaveLength(0);
    expect(logs.decision().reason).toContain('expired');
  });

  test('L26: a second delivery of a stack-deletion Delete, after the resource is gone, revokes nothing', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keyWithMaterials();
    const first = await run('Delete');
    expect(first.response.Status).toBe('SUCCESS');
    expect(deletes()).toHaveLength(2);
    logs.stop(); logs.start();
    sending.resourceState = null;
    const again = await run('Delete');
    expect(again.response.Status).toBe('FAILED');
    expect(again.response.Reason).toContain('not in the stack');
    expect(deletes()).toHaveLength(2);
  });
});

describe('loud where CloudFormation cannot be (L28)', () => {
  const metricLines = (name: string) => logs.records().filter((r) => r._aws && r[name] === 1);

  test('L28: a revocation that fails in the cleanup logs an error with an embedded metric naming the stack, and the reason names the key', async () => {
    stackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
    template({ [LOGICAL_ID]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ KeyArn: KEY_B }) } });
    stackResources([{ logicalId: LOGICAL_ID, physicalId: physicalId(KEY_B) }]);
    kms.on(DescribeKeyCommand, { KeyId: KEY_A }).resolves({ KeyMetadata: keyMeta() });
    kms.on(ListKeyRotationsCommand).resolves({ Rotations: [{ KeyMaterialId: 'M-CUR', KeyMaterialState: 'CURRENT', ImportState: 'IMPORTED' }] });
    kms.on(DeleteImportedKeyMaterialCommand).rejects(awsError('AccessDeniedException'));
    const { response } = await run('Delete', { physicalId: physicalId(KEY_A) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain(KEY_A);
    const [metric] = metricLines('RevocationFailures');
    expect(metric).toMatchObject({
      level: 'error', StackName: 'BYOK-Stack', keyArn: KEY_A, stackStatus: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
      _aws: { CloudWatchMetrics: [{ Namespace: 'CdkKmsKeyMaterial', Dimensions: [['StackName']], Metrics: [{ Name: 'RevocationFailures', Unit: 'Count' }] }] },
    });
  });

  test('L28: a successful revocation emits no failure metric', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    keyWithMaterials();
    await run('Delete');
    expect(metricLines('RevocationFailures')).toHaveLength(0);
  });

  test('L29: a refused request counts in the RefusedRequests metric', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    sending.resourceState = null;
    keyWithMaterials();
    await run('Delete');
    expect(metricLines('RefusedRequests')).toHaveLength(1);
    expect(metricLines('RevocationFailures')).toHaveLength(0);
  });
});
