/**
 * Handler unit tests for multi-Region keys (LIFECYCLE M1), with the SDK mocked
 * (aws-sdk-client-mock): a multi-Region key is revoked in every Region where it holds material
 * (the primary and each replica DescribeKey lists, a replica's primary read in its own Region),
 * each Region with its own KMS client, unless the resource says Regions KEY_REGION; a Region that
 * cannot be revoked fails the revocation as L16 does, after the other Regions were revoked.
 * Every call not set up by a test is rejected.
 */
import {
  CloudFormationClient, GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import {
  DeleteImportedKeyMaterialCommand, DescribeKeyCommand, KeyMetadata, KMSClient, ListKeyRotationsCommand, MultiRegionConfiguration,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { BOUND_STACK_ID_ENV, TEST_RESPONSE_ORIGIN_ENV } from '../../lambda/authentic';
import { kmsClient } from '../../lambda/clients';
import { forgetStackStatuses } from '../../lambda/facts';
import { handler } from '../../lambda/index';
import {
  ACCOUNT, awsError, cfnEvent, CloudFormationWhileSending, context, EventOptions, KEY_B, LogCapture, physicalId, props, ResponseServer,
} from './harness';

const kms = mockClient(KMSClient);
const cfn = mockClient(CloudFormationClient);
const logs = new LogCapture();
let server: ResponseServer;

const KEY_ID = 'mrk-1234abcd12ab34cd56ef1234567890ab';
const arnIn = (region: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${KEY_ID}`;
const PRIMARY = arnIn('eu-west-1');
const EAST = arnIn('us-east-1');
const SOUTH = arnIn('ap-south-1');
const LATE = arnIn('sa-east-1');
const entry = (arn: string) => ({ Arn: arn, Region: arn.split(':')[3] });

beforeAll(async () => {
  server = await ResponseServer.start();
  process.env[TEST_RESPONSE_ORIGIN_ENV] = server.origin;
});
afterAll(async () => {
  delete process.env[TEST_RESPONSE_ORIGIN_ENV];
  delete process.env[BOUND_STACK_ID_ENV];
  await server.stop();
});
beforeEach(() => {
  kms.reset();
  cfn.reset();
  kms.onAnyCommand().rejects(new Error('unexpected KMS call'));
  cfn.onAnyCommand().rejects(new Error('unexpected CloudFormation call'));
  forgetStackStatuses();
  sending.reset();
  logs.start();
});
afterEach(() => logs.stop());

/** What CloudFormation shows while it sends the test's event (L29). */
const sending = new CloudFormationWhileSending(cfn);
/** The stack in `status`, created and not updated since, the template in force as the request describes the resource. */
const stackStatus = (status: string) => sending.stackStatus(status, ['CREATE_COMPLETE', 'CREATE_IN_PROGRESS']);

/** The key of one Region: its metadata (as that Region's DescribeKey shows it), two stored materials, and their deletes. */
function regionalKey(arn: string, config: MultiRegionConfiguration | undefined, meta: Partial<KeyMetadata> = {}) {
  kms.on(DescribeKeyCommand, { KeyId: arn }).resolves({
    KeyMetadata: {
      Arn: arn, KeyId: KEY_ID, AWSAccountId: ACCOUNT, Origin: 'EXTERNAL', KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT',
      MultiRegion: config !== undefined, MultiRegionConfiguration: config, ...meta,
    },
  });
  kms.on(ListKeyRotationsCommand, { KeyId: arn }).resolves({
    Rotations: [
      { KeyId: arn, KeyMaterialId: 'M-CUR', KeyMaterialState: 'CURRENT', ImportState: 'IMPORTED' },
      { KeyId: arn, KeyMaterialId: 'M-OLD', KeyMaterialState: 'NON_CURRENT', ImportState: 'IMPORTED' },
    ],
  });
  for (const id of ['M-CUR', 'M-OLD']) {
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: arn, KeyMaterialId: id }).resolves({ KeyId: arn, KeyMaterialId: id });
  }
}

/** A primary in eu-west-1 with replicas in us-east-1 and ap-south-1, each Region listing all three. */
function primaryWithTwoReplicas() {
  const primary = { MultiRegionKeyType: 'PRIMARY' as const, PrimaryKey: entry(PRIMARY), ReplicaKeys: [entry(EAST), entry(SOUTH)] };
  regionalKey(PRIMARY, primary);
  regionalKey(EAST, { ...primary, MultiRegionKeyType: 'REPLICA' });
  regionalKey(SOUTH, { ...primary, MultiRegionKeyType: 'REPLICA' });
}

async function run(requestType: 'Create' | 'Update' | 'Delete', options: EventOptions = {}) {
  const url = server.newUrl();
  const event = cfnEvent(requestType, url, options);
  sending.sending(event);
  await handler(event, context());
  const responses = server.responsesFor(url);
  expect(responses).toHaveLength(1);
  return { response: responses[0].body, decision: logs.decision() };
}

/** The stack deletion of a revocation of `keyArn`. */
const stackDeletion = (keyArn: string, extra: Record<string, unknown> = {}) =>
  run('Delete', { props: props({ KeyArn: keyArn, ...extra }), physicalId: physicalId(keyArn) });

/** The deletes sent, as `region keyArn materialId`, and whether each went through that Region's client. */
function deletesByRegion() {
  return kms.commandCalls(DeleteImportedKeyMaterialCommand).map((c) => {
    const input = c.args[0].input;
    const region = String(input.KeyId).split(':')[3];
    expect(c.thisValue).toBe(kmsClient(region));
    return `${region} ${input.KeyMaterialId}`;
  });
}

/** Every read went to the client of the Region the key ARN names. */
function expectReadsInOwnRegion() {
  for (const c of [...kms.commandCalls(DescribeKeyCommand), ...kms.commandCalls(ListKeyRotationsCommand)]) {
    expect(c.thisValue).toBe(kmsClient(String(c.args[0].input.KeyId).split(':')[3]));
  }
}

describe('multi-Region keys (LIFECYCLE M1)', () => {
  test('M1/L6: stack deletion of a revocation of a multi-Region primary revokes the primary and both replicas, each in its own Region', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    primaryWithTwoReplicas();
    const { response, decision } = await stackDeletion(PRIMARY);
    expect(response.Status).toBe('SUCCESS');
    expect(deletesByRegion()).toEqual([
      'eu-west-1 M-OLD', 'eu-west-1 M-CUR', 'us-east-1 M-OLD', 'us-east-1 M-CUR', 'ap-south-1 M-OLD', 'ap-south-1 M-CUR',
    ]);
    expectReadsInOwnRegion();
    // Related keys share material IDs: each once in the answer, per Region in the decision log.
    expect(response.Data.RevokedMaterialIds).toBe('M-OLD,M-CUR');
    expect(decision.materialIdsByRegion).toEqual({
      [PRIMARY]: { 'eu-west-1': ['M-OLD', 'M-CUR'], 'us-east-1': ['M-OLD', 'M-CUR'], 'ap-south-1': ['M-OLD', 'M-CUR'] },
    });
    expect(decision.reason).toContain('multi-Region key revoked in 3 Region(s): eu-west-1, us-east-1, ap-south-1');
  });

  test('M1: a revocation of a replica revokes the primary and every replica, including one only the primary lists yet (added after deployment)', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    const seenByReplica = { MultiRegionKeyType: 'REPLICA' as const, PrimaryKey: entry(PRIMARY), ReplicaKeys: [entry(EAST)] };
    regionalKey(EAST, seenByReplica);
    regionalKey(PRIMARY, { MultiRegionKeyType: 'PRIMARY', PrimaryKey: entry(PRIMARY), ReplicaKeys: [entry(EAST), entry(LATE)] });
    regionalKey(LATE, { ...seenByReplica, ReplicaKeys: [entry(EAST), entry(LATE)] });
    const { response } = await stackDeletion(EAST);
    expect(response.Status).toBe('SUCCESS');
    expect(deletesByRegion()).toEqual(['us-east-1 M-OLD', 'us-east-1 M-CUR', 'eu-west-1 M-OLD', 'eu-west-1 M-CUR', 'sa-east-1 M-OLD', 'sa-east-1 M-CUR']);
    // The primary's configuration was read in the primary's Region.
    expect(kms.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input.KeyId)).toContain(PRIMARY);
    expectReadsInOwnRegion();
  });

  test('M1: Regions KEY_REGION revokes the key\'s own Region only; the replicas keep their material', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    primaryWithTwoReplicas();
    const { response, decision } = await stackDeletion(PRIMARY, { Regions: 'KEY_REGION' });
    expect(response.Status).toBe('SUCCESS');
    expect(deletesByRegion()).toEqual(['eu-west-1 M-OLD', 'eu-west-1 M-CUR']);
    expect(kms.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input.KeyId)).toEqual([PRIMARY]);
    expect(decision.reason).toContain('revoked in its own Region eu-west-1 only (Regions KEY_REGION)');
  });

  test('M1/L16: a replica Region that is denied fails the revocation naming the Region and the action, after the other Regions were revoked', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    primaryWithTwoReplicas();
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: EAST, KeyMaterialId: 'M-OLD' }).rejects(awsError('AccessDeniedException'));
    const { response, decision } = await stackDeletion(PRIMARY);
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain(`revocation of multi-Region key ${PRIMARY} failed in 1 of 3 Regions (us-east-1)`);
    expect(response.Reason).toContain(`in us-east-1: kms:DeleteImportedKeyMaterial was denied on ${EAST}`);
    expect(response.Reason).toContain('Revoked in eu-west-1 (2 material(s)), ap-south-1 (2 material(s))');
    // Done or loud: the Regions that could be revoked were.
    expect(deletesByRegion()).toEqual(['eu-west-1 M-OLD', 'eu-west-1 M-CUR', 'us-east-1 M-OLD', 'ap-south-1 M-OLD', 'ap-south-1 M-CUR']);
    expect(decision.decision).toBe('failed');
  });

  test('M1/L16: a replica that cannot be read (DescribeKey denied in its Region) fails as loudly, the others revoked', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    primaryWithTwoReplicas();
    kms.on(DescribeKeyCommand, { KeyId: SOUTH }).rejects(awsError('AccessDeniedException'));
    const { response } = await stackDeletion(PRIMARY);
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain(`in ap-south-1: kms:DescribeKey was denied on ${SOUTH}`);
    expect(deletesByRegion()).toEqual(['eu-west-1 M-OLD', 'eu-west-1 M-CUR', 'us-east-1 M-OLD', 'us-east-1 M-CUR']);
  });

  test('M1/L15: a replica already gone or already without material is a success for that Region', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    primaryWithTwoReplicas();
    kms.on(DescribeKeyCommand, { KeyId: SOUTH }).rejects(awsError('NotFoundException'));
    kms.on(ListKeyRotationsCommand, { KeyId: EAST }).resolves({
      Rotations: [{ KeyId: EAST, KeyMaterialId: 'M-CUR', KeyMaterialState: 'CURRENT', ImportState: 'PENDING_IMPORT' }],
    });
    kms.on(DescribeKeyCommand, { KeyId: EAST }).resolves({
      KeyMetadata: { Arn: EAST, KeyId: KEY_ID, AWSAccountId: ACCOUNT, Origin: 'EXTERNAL', KeyState: 'PendingImport', MultiRegion: true },
    });
    const { response, decision } = await stackDeletion(PRIMARY);
    expect(response.Status).toBe('SUCCESS');
    expect(deletesByRegion()).toEqual(['eu-west-1 M-OLD', 'eu-west-1 M-CUR']);
    expect(decision.reason).toContain('ap-south-1: key no longer exists');
    expect(decision.reason).toContain('us-east-1: key is already PendingImport');
  });

  test('M1/L30: a related key DescribeKey lists with another key ID is refused: nothing is revoked', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    const other = `arn:aws:kms:us-east-1:${ACCOUNT}:key/mrk-99999999999999999999999999999999`;
    regionalKey(PRIMARY, { MultiRegionKeyType: 'PRIMARY', PrimaryKey: entry(PRIMARY), ReplicaKeys: [entry(other)] });
    const { response } = await stackDeletion(PRIMARY);
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain(`lists ${other} as a related multi-Region key, but it is another key`);
    expect(deletesByRegion()).toEqual([]);
  });

  test('M1: a multi-Region key without MultiRegionConfiguration fails rather than guess its replicas', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    regionalKey(PRIMARY, undefined, { MultiRegion: true });
    const { response } = await stackDeletion(PRIMARY);
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('lists no MultiRegionConfiguration');
    expect(deletesByRegion()).toEqual([]);
  });

  test('M1/L14: the switch at create revokes every Region of a multi-Region key too', async () => {
    stackStatus('CREATE_IN_PROGRESS');
    primaryWithTwoReplicas();
    const { response } = await run('Create', { props: props({ KeyArn: PRIMARY, Revoked: 'true' }) });
    expect(response.Status).toBe('SUCCESS');
    expect(new Set(deletesByRegion().map((d) => d.split(' ')[0]))).toEqual(new Set(['eu-west-1', 'us-east-1', 'ap-south-1']));
  });

  test('M1/L28: in the update phase, a replaced multi-Region key is checked in every Region; a replica that cannot be read fails the update', async () => {
    stackStatus('UPDATE_IN_PROGRESS');
    primaryWithTwoReplicas();
    kms.on(DescribeKeyCommand, { KeyId: KEY_B }).resolves({
      KeyMetadata: { Arn: KEY_B, KeyId: KEY_B.split('/')[1], AWSAccountId: ACCOUNT, Origin: 'EXTERNAL', KeyState: 'Enabled' },
    });
    kms.on(ListKeyRotationsCommand, { KeyId: SOUTH }).rejects(awsError('AccessDeniedException'));
    const { response } = await run('Update', { props: props({ KeyArn: KEY_B }), oldProps: props({ KeyArn: PRIMARY }), physicalId: physicalId(PRIMARY) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('(the Region ap-south-1 of multi-Region key');
    expect(response.Reason).toContain('kms:ListKeyRotations was denied');
    expect(deletesByRegion()).toEqual([]);
  });

  test('M1/L28: the same update passes when every Region can be read, and reads each Region in its own client', async () => {
    stackStatus('UPDATE_IN_PROGRESS');
    primaryWithTwoReplicas();
    kms.on(DescribeKeyCommand, { KeyId: KEY_B }).resolves({
      KeyMetadata: { Arn: KEY_B, KeyId: KEY_B.split('/')[1], AWSAccountId: ACCOUNT, Origin: 'EXTERNAL', KeyState: 'Enabled' },
    });
    const { response } = await run('Update', { props: props({ KeyArn: KEY_B }), oldProps: props({ KeyArn: PRIMARY }), physicalId: physicalId(PRIMARY) });
    expect(response.Status).toBe('SUCCESS');
    expect(kms.commandCalls(ListKeyRotationsCommand).map((c) => c.args[0].input.KeyId)).toEqual([PRIMARY, EAST, SOUTH]);
    expectReadsInOwnRegion();
    expect(deletesByRegion()).toEqual([]);
  });

  test('M1/L8: adding or changing Regions is an in-place update: same physical ID, nothing read or revoked', async () => {
    for (const [before, after] of [[undefined, 'ALL'], [undefined, 'KEY_REGION'], ['KEY_REGION', undefined]] as const) {
      const { response, decision } = await run('Update', {
        props: props({ KeyArn: PRIMARY, ...(after ? { Regions: after } : {}) }),
        oldProps: props({ KeyArn: PRIMARY, ...(before ? { Regions: before } : {}) }),
        physicalId: physicalId(PRIMARY),
      });
      expect(response.Status).toBe('SUCCESS');
      expect(response.PhysicalResourceId).toBe(physicalId(PRIMARY));
      expect(decision.decision).toBe('skipped');
      logs.stop(); logs.start();
    }
    expect(kms.calls().length).toBe(0);
  });

  test('M1/L29: a Delete whose Regions differs from the template in force is refused; absent and ALL are the same', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    primaryWithTwoReplicas();
    cfn.on(GetTemplateCommand).callsFake(() => ({
      TemplateBody: JSON.stringify({ Resources: { [String(sending.current?.LogicalResourceId)]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: { ...props({ KeyArn: PRIMARY }), Regions: 'KEY_REGION' } } } }),
    }));
    const refused = await stackDeletion(PRIMARY);
    expect(refused.response.Status).toBe('FAILED');
    expect(refused.response.Reason).toContain('the request\'s Regions is \'ALL\' but the stack\'s template says \'KEY_REGION\'');
    expect(deletesByRegion()).toEqual([]);
    logs.stop(); logs.start();
    forgetStackStatuses();
    cfn.on(GetTemplateCommand).callsFake(() => ({
      TemplateBody: JSON.stringify({ Resources: { [String(sending.current?.LogicalResourceId)]: { Type: 'Custom::KmsKeyMaterialRevocation', Properties: props({ KeyArn: PRIMARY }) } } }),
    }));
    const allowed = await stackDeletion(PRIMARY, { Regions: 'ALL' });
    expect(allowed.response.Status).toBe('SUCCESS');
  });

  test('M1/L19: a garbled Regions property fails with a clear reason', async () => {
    const { response } = await run('Create', { props: props({ KeyArn: PRIMARY, Regions: 'EVERYWHERE' }) });
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('Regions must be \'ALL\' or \'KEY_REGION\'');
  });

  test('M1: a single-Region key is revoked in its Region alone, as before (no byRegion in the log)', async () => {
    stackStatus('DELETE_IN_PROGRESS');
    const single = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    kms.on(DescribeKeyCommand, { KeyId: single }).resolves({
      KeyMetadata: { Arn: single, KeyId: single.split('/')[1], AWSAccountId: ACCOUNT, Origin: 'EXTERNAL', KeyState: 'Enabled', MultiRegion: false },
    });
    kms.on(ListKeyRotationsCommand, { KeyId: single }).resolves({ Rotations: [{ KeyId: single, KeyMaterialId: 'M-CUR', KeyMaterialState: 'CURRENT', ImportState: 'IMPORTED' }] });
    kms.on(DeleteImportedKeyMaterialCommand, { KeyId: single, KeyMaterialId: 'M-CUR' }).resolves({ KeyId: single, KeyMaterialId: 'M-CUR' });
    const { response, decision } = await stackDeletion(single);
    expect(response.Status).toBe('SUCCESS');
    expect(deletesByRegion()).toEqual(['eu-west-1 M-CUR']);
    expect(decision.materialIdsByRegion).toBeUndefined();
  });
});
