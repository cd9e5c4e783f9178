import {
  ChangeSetNotFoundException,
  CloudFormationClient,
  CloudFormationClientConfig,
  CloudFormationServiceException,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  GetTemplateCommand,
  ListStackResourcesCommand,
  paginateDescribeStackEvents,
  paginateListStackResources,
} from '@aws-sdk/client-cloudformation';
import { CloudFormationDouble } from './cloudformation-double';

const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const CREDS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' };
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/KeyStack/0b1e7a40-1111-11ef-8d2b-0a1b2c3d4e5f`;
const TEMPLATE = {
  Resources: {
    Key: { Type: 'AWS::KMS::Key', Properties: { Origin: 'EXTERNAL', Description: 'a <b> & "c"' } },
    Revoker: { Type: 'Custom::KeyMaterialRevoker', Properties: { KeyArn: { 'Fn::GetAtt': ['Key', 'Arn'] } } },
  },
};

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('CloudFormationDouble, driven by the real @aws-sdk/client-cloudformation (awsQuery protocol)', () => {
  let double: CloudFormationDouble;
  let cfn: CloudFormationClient;
  const clients: CloudFormationClient[] = [];
  const cfnClient = (extra: Partial<CloudFormationClientConfig> = {}): CloudFormationClient => {
    const c = new CloudFormationClient({ region: REGION, endpoint: double.endpoint, credentials: CREDS, ...extra });
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    double = await CloudFormationDouble.start();
    cfn = cfnClient();
    double.putStack(STACK_ID, {
      status: 'CREATE_COMPLETE',
      template: TEMPLATE,
      description: 'BYOK key stack',
      tags: { owner: 'crypto' },
      outputs: [{ key: 'KeyArn', value: 'arn:aws:kms:eu-west-1:111122223333:key/abc' }],
      resources: [
        { logicalId: 'Key', physicalId: 'abc', type: 'AWS::KMS::Key', status: 'CREATE_COMPLETE' },
        { logicalId: 'Revoker', physicalId: 'revoker-1', type: 'Custom::KeyMaterialRevoker', status: 'CREATE_COMPLETE' },
      ],
    });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await double.stop();
  });

  describe('DescribeStacks', () => {
    it('describes a stack by name and by stack ID with typed fields', async () => {
      for (const StackName of ['KeyStack', STACK_ID]) {
        const out = await cfn.send(new DescribeStacksCommand({ StackName }));
        expect(out.Stacks).toHaveLength(1);
        const s = out.Stacks![0];
        expect(s).toMatchObject({
          StackId: STACK_ID,
          StackName: 'KeyStack',
          StackStatus: 'CREATE_COMPLETE',
          Description: 'BYOK key stack',
          DisableRollback: false,
          EnableTerminationProtection: false,
          Tags: [{ Key: 'owner', Value: 'crypto' }],
          Outputs: [{ OutputKey: 'KeyArn', OutputValue: 'arn:aws:kms:eu-west-1:111122223333:key/abc' }],
        });
        expect(s.CreationTime).toBeInstanceOf(Date);
        expect(s.DeletionTime).toBeUndefined();
      }
      expect(double.callsTo('DescribeStacks').map((c) => [c.params.StackName, c.params.Version, c.status, c.region])).toEqual([
        ['KeyStack', '2010-05-15', 200, REGION],
        [STACK_ID, '2010-05-15', 200, REGION],
      ]);
    });

    it('follows status changes made with setStatus', async () => {
      double.setStatus(STACK_ID, 'UPDATE_ROLLBACK_IN_PROGRESS', 'Resource Revoker failed');
      const s = (await cfn.send(new DescribeStacksCommand({ StackName: 'KeyStack' }))).Stacks![0];
      expect(s.StackStatus).toBe('UPDATE_ROLLBACK_IN_PROGRESS');
      expect(s.StackStatusReason).toBe('Resource Revoker failed');
      expect(s.LastUpdatedTime).toBeInstanceOf(Date);
    });

    it('an unknown stack -> ValidationError (400) "Stack with id X does not exist"', async () => {
      const err = await rejection(cfn.send(new DescribeStacksCommand({ StackName: 'NoSuchStack' })));
      expect(err).toBeInstanceOf(CloudFormationServiceException);
      expect(err.name).toBe('ValidationError');
      expect(err.message).toBe('Stack with id NoSuchStack does not exist');
      expect(err.$fault).toBe('client');
      expect(err.$metadata.httpStatusCode).toBe(400);
      expect(err.$metadata.attempts).toBe(1);
    });

    it('a deleted stack is describable by its stack ID (DELETE_COMPLETE, DeletionTime) but not by its name', async () => {
      double.setStatus(STACK_ID, 'DELETE_COMPLETE');
      const s = (await cfn.send(new DescribeStacksCommand({ StackName: STACK_ID }))).Stacks![0];
      expect(s.StackStatus).toBe('DELETE_COMPLETE');
      expect(s.DeletionTime).toBeInstanceOf(Date);
      const byName = await rejection(cfn.send(new DescribeStacksCommand({ StackName: 'KeyStack' })));
      expect(byName.message).toBe('Stack with id KeyStack does not exist');
    });

    it('a name reused after deletion resolves to the new stack; the old one stays reachable by ID', async () => {
      double.setStatus(STACK_ID, 'DELETE_COMPLETE');
      const newId = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/KeyStack/99999999-2222-11ef-8d2b-0a1b2c3d4e5f`;
      double.putStack(newId, { status: 'CREATE_IN_PROGRESS', template: {} });
      expect((await cfn.send(new DescribeStacksCommand({ StackName: 'KeyStack' }))).Stacks![0].StackId).toBe(newId);
      expect((await cfn.send(new DescribeStacksCommand({ StackName: STACK_ID }))).Stacks![0].StackStatus).toBe('DELETE_COMPLETE');
    });

    it('stacks are regional: a client in another Region does not see the stack, even by ARN', async () => {
      const us = cfnClient({ region: 'us-east-1' });
      const err = await rejection(us.send(new DescribeStacksCommand({ StackName: STACK_ID })));
      expect(err.message).toBe(`Stack with id ${STACK_ID} does not exist`);
    });
  });

  describe('nested stacks and DisableRollback', () => {
    const NESTED_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/KeyStack-InnerNestedStackResource-1ABCDEFGHIJKL/5a1b2c3d-3333-11ef-8d2b-0a1b2c3d4e5f`;
    const DEEPER_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/KeyStack-InnerNestedStackResource-1ABCDEFGHIJKL-DeeperNestedStackResource-2MNOPQRSTUVW/6a1b2c3d-4444-11ef-8d2b-0a1b2c3d4e5f`;

    it('describes ParentId and RootId for nested stacks (both absent for the root), and DisableRollback', async () => {
      double.putStack(NESTED_ID, { status: 'CREATE_COMPLETE', template: {}, parentId: STACK_ID, rootId: STACK_ID, disableRollback: true });
      double.putStack(DEEPER_ID, { status: 'CREATE_COMPLETE', template: {}, parentId: NESTED_ID, rootId: STACK_ID });
      const root = (await cfn.send(new DescribeStacksCommand({ StackName: STACK_ID }))).Stacks![0];
      expect(root.ParentId).toBeUndefined();
      expect(root.RootId).toBeUndefined();
      expect(root.DisableRollback).toBe(false);
      const nested = (await cfn.send(new DescribeStacksCommand({ StackName: NESTED_ID }))).Stacks![0];
      expect(nested).toMatchObject({ ParentId: STACK_ID, RootId: STACK_ID, DisableRollback: true });
      const deeper = (await cfn.send(new DescribeStacksCommand({ StackName: DEEPER_ID }))).Stacks![0];
      expect(deeper).toMatchObject({ ParentId: NESTED_ID, RootId: STACK_ID });
    });

    it('refuses a nested stack without its root', () => {
      expect(() => double.putStack(NESTED_ID, { status: 'CREATE_COMPLETE', template: {}, parentId: STACK_ID })).toThrow(/rootId/);
    });
  });

  describe('DescribeStackEvents', () => {
    const stackEvent = (status: string, reason?: string) =>
      double.addStackEvent(STACK_ID, { logicalId: 'KeyStack', physicalId: STACK_ID, type: 'AWS::CloudFormation::Stack', status, statusReason: reason });

    it('returns the events newest first with typed fields', async () => {
      stackEvent('CREATE_IN_PROGRESS', 'User Initiated');
      double.addStackEvent(STACK_ID, { logicalId: 'Revoker', type: 'Custom::KeyMaterialRevoker', status: 'CREATE_IN_PROGRESS' });
      double.addStackEvent(STACK_ID, { logicalId: 'Revoker', physicalId: 'revoker-1', type: 'Custom::KeyMaterialRevoker', status: 'CREATE_FAILED', statusReason: 'a <b> & "c"' });
      stackEvent('ROLLBACK_IN_PROGRESS');
      const out = await cfn.send(new DescribeStackEventsCommand({ StackName: 'KeyStack' }));
      expect(out.NextToken).toBeUndefined();
      expect(out.StackEvents!.map((e) => [e.LogicalResourceId, e.ResourceStatus])).toEqual([
        ['KeyStack', 'ROLLBACK_IN_PROGRESS'],
        ['Revoker', 'CREATE_FAILED'],
        ['Revoker', 'CREATE_IN_PROGRESS'],
        ['KeyStack', 'CREATE_IN_PROGRESS'],
      ]);
      expect(out.StackEvents![1]).toMatchObject({
        StackId: STACK_ID, StackName: 'KeyStack', PhysicalResourceId: 'revoker-1', ResourceType: 'Custom::KeyMaterialRevoker',
        ResourceStatusReason: 'a <b> & "c"',
      });
      expect(out.StackEvents![3]).toMatchObject({ PhysicalResourceId: STACK_ID, ResourceType: 'AWS::CloudFormation::Stack', ResourceStatusReason: 'User Initiated' });
      expect(out.StackEvents![2].PhysicalResourceId).toBeUndefined();
      const times = out.StackEvents!.map((e) => e.Timestamp!.getTime());
      expect(times).toEqual([...times].sort((a, b) => b - a));
      expect(new Set(out.StackEvents!.map((e) => e.EventId)).size).toBe(4);
      expect(double.stackEvents(STACK_ID).map((e) => e.status)[0]).toBe('CREATE_IN_PROGRESS');
    });

    it('paginates 250 events as 100/100/50; a token pins the history, so later events do not shift its pages', async () => {
      for (let i = 0; i < 250; i++) double.addStackEvent(STACK_ID, { logicalId: `R${i}`, type: 'AWS::SNS::Topic', status: 'CREATE_COMPLETE' });
      const first = await cfn.send(new DescribeStackEventsCommand({ StackName: STACK_ID }));
      expect(first.StackEvents).toHaveLength(100);
      expect(first.StackEvents![0].LogicalResourceId).toBe('R249');
      stackEvent('UPDATE_IN_PROGRESS');
      const second = await cfn.send(new DescribeStackEventsCommand({ StackName: STACK_ID, NextToken: first.NextToken }));
      expect(second.StackEvents![0].LogicalResourceId).toBe('R149');
      const sizes: number[] = [];
      for await (const page of paginateDescribeStackEvents({ client: cfn }, { StackName: STACK_ID })) sizes.push(page.StackEvents!.length);
      expect(sizes).toEqual([100, 100, 51]);
      double.setEventsPageSize(200);
      expect((await cfn.send(new DescribeStackEventsCommand({ StackName: STACK_ID }))).StackEvents).toHaveLength(200);
    });

    it('a deleted stack by its stack ID only; a forged token or one of another stack is a ValidationError', async () => {
      stackEvent('DELETE_COMPLETE');
      double.setStatus(STACK_ID, 'DELETE_COMPLETE');
      expect((await cfn.send(new DescribeStackEventsCommand({ StackName: STACK_ID }))).StackEvents![0].ResourceStatus).toBe('DELETE_COMPLETE');
      expect((await rejection(cfn.send(new DescribeStackEventsCommand({ StackName: 'KeyStack' })))).name).toBe('ValidationError');
      expect((await rejection(cfn.send(new DescribeStackEventsCommand({ StackName: STACK_ID, NextToken: 'forged' })))).name).toBe('ValidationError');
      double.setPageSize(1);
      const listToken = (await cfn.send(new ListStackResourcesCommand({ StackName: STACK_ID }))).NextToken;
      expect((await rejection(cfn.send(new DescribeStackEventsCommand({ StackName: STACK_ID, NextToken: listToken })))).name).toBe('ValidationError');
    });

    it('events survive putStack (the engine re-puts a stack) and go with removeStack', async () => {
      stackEvent('CREATE_COMPLETE');
      double.putStack(STACK_ID, { status: 'UPDATE_IN_PROGRESS', template: TEMPLATE });
      expect(double.stackEvents(STACK_ID)).toHaveLength(1);
      double.removeStack(STACK_ID);
      expect(double.stackEvents(STACK_ID)).toHaveLength(0);
    });
  });

  describe('read quotas', () => {
    it('off by default; once set, calls beyond the rate answer Throttling "Rate exceeded"', async () => {
      const once = cfnClient({ maxAttempts: 1 });
      for (let i = 0; i < 5; i++) await once.send(new DescribeStacksCommand({ StackName: STACK_ID }));
      double.setReadQuota('DescribeStackEvents', 2);
      await once.send(new DescribeStackEventsCommand({ StackName: STACK_ID }));
      await once.send(new DescribeStackEventsCommand({ StackName: STACK_ID }));
      const err = await rejection(once.send(new DescribeStackEventsCommand({ StackName: STACK_ID })));
      expect(err.name).toBe('Throttling');
      expect(err.message).toBe('Rate exceeded');
      await once.send(new DescribeStacksCommand({ StackName: STACK_ID }));
      double.setReadQuota('DescribeStackEvents', undefined);
      await once.send(new DescribeStackEventsCommand({ StackName: STACK_ID }));
    });
  });

  describe('GetTemplate', () => {
    it('returns TemplateBody as a JSON string (XML-escaped on the wire) and StagesAvailable', async () => {
      const out = await cfn.send(new GetTemplateCommand({ StackName: 'KeyStack' }));
      expect(typeof out.TemplateBody).toBe('string');
      expect(JSON.parse(out.TemplateBody!)).toEqual(TEMPLATE);
      expect(out.StagesAvailable).toEqual(['Original', 'Processed']);
    });

    it('distinguishes the Original and Processed stages (Processed is the default)', async () => {
      const original = { Transform: 'AWS::Serverless-2016-10-31', Resources: { Fn: { Type: 'AWS::Serverless::Function' } } };
      const processed = { Resources: { Fn: { Type: 'AWS::Lambda::Function' }, FnRole: { Type: 'AWS::IAM::Role' } } };
      double.setTemplate(STACK_ID, original, processed);
      expect(JSON.parse((await cfn.send(new GetTemplateCommand({ StackName: STACK_ID }))).TemplateBody!)).toEqual(processed);
      expect(JSON.parse((await cfn.send(new GetTemplateCommand({ StackName: STACK_ID, TemplateStage: 'Processed' }))).TemplateBody!)).toEqual(processed);
      expect(JSON.parse((await cfn.send(new GetTemplateCommand({ StackName: STACK_ID, TemplateStage: 'Original' }))).TemplateBody!)).toEqual(original);
    });

    it('works for a deleted stack by ID; errors for unknown stacks and change sets', async () => {
      double.setStatus(STACK_ID, 'DELETE_COMPLETE');
      expect(JSON.parse((await cfn.send(new GetTemplateCommand({ StackName: STACK_ID }))).TemplateBody!)).toEqual(TEMPLATE);
      expect((await rejection(cfn.send(new GetTemplateCommand({ StackName: 'KeyStack' })))).name).toBe('ValidationError');
      const cs = await rejection(cfn.send(new GetTemplateCommand({ StackName: STACK_ID, ChangeSetName: 'cs-1' })));
      expect(cs).toBeInstanceOf(ChangeSetNotFoundException);
      expect(cs.$metadata.httpStatusCode).toBe(404);
    });
  });

  describe('ListStackResources', () => {
    it('returns StackResourceSummaries with typed fields', async () => {
      const out = await cfn.send(new ListStackResourcesCommand({ StackName: 'KeyStack' }));
      expect(out.NextToken).toBeUndefined();
      expect(out.StackResourceSummaries).toHaveLength(2);
      expect(out.StackResourceSummaries![1]).toMatchObject({
        LogicalResourceId: 'Revoker',
        PhysicalResourceId: 'revoker-1',
        ResourceType: 'Custom::KeyMaterialRevoker',
        ResourceStatus: 'CREATE_COMPLETE',
        DriftInformation: { StackResourceDriftStatus: 'NOT_CHECKED' },
      });
      expect(out.StackResourceSummaries![1].LastUpdatedTimestamp).toBeInstanceOf(Date);
    });

    it('paginates 250 resources as 100/100/50 with NextToken, and the SDK paginator walks them all', async () => {
      double.setResources(
        STACK_ID,
        Array.from({ length: 250 }, (_, i) => ({ logicalId: `R${i}`, physicalId: `p-${i}`, type: 'AWS::SNS::Topic', status: 'CREATE_COMPLETE' })),
      );
      const sizes: number[] = [];
      const ids: string[] = [];
      for await (const page of paginateListStackResources({ client: cfn }, { StackName: STACK_ID })) {
        sizes.push(page.StackResourceSummaries!.length);
        ids.push(...page.StackResourceSummaries!.map((r) => r.LogicalResourceId!));
      }
      expect(sizes).toEqual([100, 100, 50]);
      expect(ids).toEqual(Array.from({ length: 250 }, (_, i) => `R${i}`));
      const tokens = double.callsTo('ListStackResources').map((c) => c.params.NextToken);
      expect(tokens[0]).toBeUndefined();
      expect(tokens[1]).toBeDefined();
      expect(tokens[2]).toBeDefined();
    });

    it('rejects a NextToken from another stack or a forged one with ValidationError', async () => {
      double.setPageSize(1);
      const first = await cfn.send(new ListStackResourcesCommand({ StackName: STACK_ID }));
      expect(first.NextToken).toBeDefined();
      const otherId = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Other/11111111-2222-11ef-8d2b-0a1b2c3d4e5f`;
      double.putStack(otherId, { status: 'CREATE_COMPLETE', template: {}, resources: [{ logicalId: 'A', type: 'AWS::SNS::Topic', status: 'CREATE_COMPLETE' }, { logicalId: 'B', type: 'AWS::SNS::Topic', status: 'CREATE_COMPLETE' }] });
      expect((await rejection(cfn.send(new ListStackResourcesCommand({ StackName: otherId, NextToken: first.NextToken })))).name).toBe('ValidationError');
      expect((await rejection(cfn.send(new ListStackResourcesCommand({ StackName: STACK_ID, NextToken: 'forged' })))).name).toBe('ValidationError');
    });

    it('lists resources of a deleted stack by stack ID only', async () => {
      double.setStatus(STACK_ID, 'DELETE_COMPLETE');
      double.setResources(STACK_ID, [{ logicalId: 'Key', physicalId: 'abc', type: 'AWS::KMS::Key', status: 'DELETE_SKIPPED' }]);
      const out = await cfn.send(new ListStackResourcesCommand({ StackName: STACK_ID }));
      expect(out.StackResourceSummaries![0].ResourceStatus).toBe('DELETE_SKIPPED');
      expect((await rejection(cfn.send(new ListStackResourcesCommand({ StackName: 'KeyStack' })))).message).toBe('Stack with id KeyStack does not exist');
    });
  });

  describe('faults', () => {
    it('injected Throttling (400) is retried by the SDK as a throttling error and then succeeds', async () => {
      double.injectError('DescribeStacks', 'Throttling', { times: 1 });
      const out = await cfn.send(new DescribeStacksCommand({ StackName: 'KeyStack' }));
      expect(out.$metadata.attempts).toBe(2);
      const calls = double.callsTo('DescribeStacks');
      expect(calls.map((c) => [c.status, c.errorType])).toEqual([
        [400, 'Throttling'],
        [200, undefined],
      ]);
    });

    it('persistent Throttling surfaces as name "Throttling", message "Rate exceeded" after maxAttempts', async () => {
      double.injectError('GetTemplate', 'Throttling');
      const err = await rejection(cfnClient({ maxAttempts: 2 }).send(new GetTemplateCommand({ StackName: 'KeyStack' })));
      expect(err.name).toBe('Throttling');
      expect(err.message).toBe('Rate exceeded');
      expect(err.$metadata.attempts).toBe(2);
    });

    it('InternalFailure (500, Type Receiver) is retried; a ValidationError is not', async () => {
      double.injectError('ListStackResources', 'InternalFailure', { times: 2 });
      const out = await cfn.send(new ListStackResourcesCommand({ StackName: 'KeyStack' }));
      expect(out.$metadata.attempts).toBe(3);
      expect(double.callsTo('ListStackResources').map((c) => c.status)).toEqual([500, 500, 200]);

      double.injectError('ListStackResources', 'InternalFailure', { times: 1 });
      const fault = await rejection(cfnClient({ maxAttempts: 1 }).send(new ListStackResourcesCommand({ StackName: 'KeyStack' })));
      expect(fault).toMatchObject({ name: 'InternalFailure', $fault: 'server', Type: 'Receiver', Code: 'InternalFailure' });
      expect(fault.$metadata.httpStatusCode).toBe(500);

      double.injectError('ListStackResources', 'ValidationError', { times: 1, message: 'injected' });
      const err = await rejection(cfn.send(new ListStackResourcesCommand({ StackName: 'KeyStack' })));
      expect(err.name).toBe('ValidationError');
      expect(err.message).toBe('injected');
      expect(err.$metadata.attempts).toBe(1);
    });

    it('deny(op) -> AccessDenied (403) with an AWS-style message, not retried; other operations unaffected', async () => {
      double.deny('GetTemplate');
      const err = await rejection(cfn.send(new GetTemplateCommand({ StackName: 'KeyStack' })));
      expect(err.name).toBe('AccessDenied');
      expect(err.$metadata.httpStatusCode).toBe(403);
      expect(err.$metadata.attempts).toBe(1);
      expect(err.message).toBe(
        `User: arn:aws:iam::${ACCOUNT}:user/AKIDTEST is not authorized to perform: cloudformation:GetTemplate on resource: ${STACK_ID} because no identity-based policy allows the cloudformation:GetTemplate action`,
      );
      await cfn.send(new DescribeStacksCommand({ StackName: 'KeyStack' }));
      double.clearFaults();
      await cfn.send(new GetTemplateCommand({ StackName: 'KeyStack' }));
    });

    it('a dropped connection is retried by the SDK', async () => {
      double.dropConnections('DescribeStacks', { times: 1 });
      const out = await cfn.send(new DescribeStacksCommand({ StackName: 'KeyStack' }));
      expect(out.$metadata.attempts).toBe(2);
      expect(double.callsTo('DescribeStacks').map((c) => [c.status, c.errorType])).toEqual([
        [0, 'ConnectionDropped'],
        [200, undefined],
      ]);
    });

    it('latency beyond the client requestTimeout is retried; the abandoned request is recorded as ClientDisconnected', async () => {
      double.setLatency('DescribeStacks', 400, { times: 1 });
      const impatient = cfnClient({ requestHandler: { requestTimeout: 150, throwOnRequestTimeout: true } });
      const out = await impatient.send(new DescribeStacksCommand({ StackName: 'KeyStack' }));
      expect(out.$metadata.attempts).toBe(2);
      await double.idle();
      expect(double.callsTo('DescribeStacks').map((c) => [c.status, c.errorType])).toEqual([
        [0, 'ClientDisconnected'],
        [200, undefined],
      ]);
    });
  });

  describe('wire level', () => {
    it('speaks awsQuery: form-encoded Action/Version in, <OpResponse><OpResult> XML out', async () => {
      const res = await fetch(double.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `AWS4-HMAC-SHA256 Credential=AKIDRAW/20250101/${REGION}/cloudformation/aws4_request, SignedHeaders=host, Signature=00`,
        },
        body: `Action=DescribeStacks&Version=2010-05-15&StackName=${encodeURIComponent(STACK_ID)}`,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/xml');
      const xml = await res.text();
      expect(xml).toContain('<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackId>');
      expect(xml).toMatch(/<ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/DescribeStacksResponse>$/);
    });

    it('an unknown Action -> InvalidAction in an <ErrorResponse> with <Type>Sender</Type>', async () => {
      const res = await fetch(double.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `AWS4-HMAC-SHA256 Credential=AKIDRAW/20250101/${REGION}/cloudformation/aws4_request, SignedHeaders=host, Signature=00`,
        },
        body: 'Action=DeleteEverything&Version=2010-05-15',
      });
      expect(res.status).toBe(400);
      const xml = await res.text();
      expect(xml).toContain('<Error><Type>Sender</Type><Code>InvalidAction</Code>');
      expect(double.calls[0]).toMatchObject({ op: 'DeleteEverything', status: 400, errorType: 'InvalidAction', accessKeyId: 'AKIDRAW' });
    });

    it('the SDK reaches the double through AWS_ENDPOINT_URL_CLOUDFORMATION without an explicit endpoint', async () => {
      const saved = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
      process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = double.endpoint;
      try {
        const viaEnv = new CloudFormationClient({ region: REGION, credentials: CREDS });
        clients.push(viaEnv);
        const out = await viaEnv.send(new DescribeStacksCommand({ StackName: 'KeyStack' }));
        expect(out.Stacks![0].StackId).toBe(STACK_ID);
      } finally {
        if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
        else process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = saved;
      }
    });
  });
});

describe('DescribeStackResource (L29 evidence)', () => {
  test('L29: one logical resource\'s status and physical ID; a logical ID the stack lacks is a ValidationError', async () => {
    const { CloudFormationClient, DescribeStackResourceCommand } = await import('@aws-sdk/client-cloudformation');
    const { CloudFormationDouble } = await import('./cloudformation-double');
    const cfn = await CloudFormationDouble.start();
    try {
      const id = 'arn:aws:cloudformation:eu-west-1:111122223333:stack/S/00000000-0000-0000-0000-000000000001';
      cfn.putStack(id, { status: 'DELETE_IN_PROGRESS', template: {}, resources: [{ logicalId: 'R', physicalId: 'p-1', type: 'Custom::X', status: 'DELETE_IN_PROGRESS' }] });
      const client = new CloudFormationClient({ region: 'eu-west-1', endpoint: cfn.endpoint, credentials: { accessKeyId: 'AKIA', secretAccessKey: 'x' } });
      const out = await client.send(new DescribeStackResourceCommand({ StackName: id, LogicalResourceId: 'R' }));
      expect(out.StackResourceDetail).toMatchObject({ LogicalResourceId: 'R', PhysicalResourceId: 'p-1', ResourceStatus: 'DELETE_IN_PROGRESS', StackId: id });
      await expect(client.send(new DescribeStackResourceCommand({ StackName: id, LogicalResourceId: 'Nope' })))
        .rejects.toMatchObject({ name: 'ValidationError', message: expect.stringContaining('does not exist') });
    } finally {
      await cfn.stop();
    }
  });
});
