/**
 * The handler's retry strategy (lambda/clients.ts) inside the real SDK: its clients send to the
 * KMS double over HTTP, so the SDK's retry middleware classifies each error, asks the strategy,
 * and sleeps the wait it returns. The unit tests of the strategy (handler.test.ts) replace `send`
 * and never reach that middleware.
 */
import { DeleteImportedKeyMaterialCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import { MAX_ATTEMPTS, newKmsClient, THROTTLED_RETRY_WINDOW_MS } from '../../lambda/clients';
import { KmsDouble } from '../doubles/kms-double';

const REGION = 'eu-west-1';
let kms: KmsDouble;
const saved = { ...process.env };

beforeAll(async () => {
  kms = await KmsDouble.start({ defaultAccount: '111111111111', defaultRegion: REGION });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_KMS: kms.endpoint, AWS_ACCESS_KEY_ID: 'AKIARETRYTEST', AWS_SECRET_ACCESS_KEY: 'x', AWS_REGION: REGION,
  });
  delete process.env.AWS_SESSION_TOKEN;
});

afterAll(async () => {
  process.env = saved;
  await kms.stop();
});

afterEach(() => jest.restoreAllMocks());

const calls = (op: string, keyArn: string) => kms.calls.filter((c) => c.op === op && c.request?.KeyId === keyArn);

describe('L17/L18 retries through the SDK, over HTTP', () => {
  test('L18: a throttled delete is sent again after the strategy\'s wait, within the quota\'s window, and then succeeds', async () => {
    const keyArn = kms.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
    kms.injectError('DeleteImportedKeyMaterial', 'ThrottlingException', { times: 2, keyArn });
    // The middle of the window: two waits of half a second each.
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const started = Date.now();
    const out = await newKmsClient(REGION).send(new DeleteImportedKeyMaterialCommand({ KeyId: keyArn }));
    const elapsed = Date.now() - started;
    expect(out.$metadata.attempts).toBe(3);
    expect(out.$metadata.totalRetryDelay).toBe(THROTTLED_RETRY_WINDOW_MS);
    // The SDK slept the waits the strategy gave (a lower bound: sleeping cannot end early).
    expect(elapsed).toBeGreaterThanOrEqual(THROTTLED_RETRY_WINDOW_MS - 20);
    expect(calls('DeleteImportedKeyMaterial', keyArn).map((c) => c.status)).toEqual([400, 400, 200]);
  });

  test('L17: a 500 from KMS is retried; the call succeeds once KMS answers', async () => {
    const keyArn = kms.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
    kms.injectError('DescribeKey', 'KMSInternalException', { times: 2, keyArn });
    const out = await newKmsClient(REGION).send(new DescribeKeyCommand({ KeyId: keyArn }));
    expect(out.$metadata.attempts).toBe(3);
    expect(calls('DescribeKey', keyArn).map((c) => c.status)).toEqual([500, 500, 200]);
  });

  test('L17: an error the SDK classes as a client error is answered at once, with its own name', async () => {
    const keyArn = kms.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
    kms.injectError('DeleteImportedKeyMaterial', 'KMSInvalidStateException', { times: 1, keyArn });
    const err = await newKmsClient(REGION).send(new DeleteImportedKeyMaterialCommand({ KeyId: keyArn })).catch((e) => e);
    expect(err.name).toBe('KMSInvalidStateException');
    expect(err.$metadata.attempts).toBe(1);
    expect(calls('DeleteImportedKeyMaterial', keyArn)).toHaveLength(1);
  });

  test('L17: the budget\'s abort ends a retry wait at once; no attempt follows', async () => {
    const keyArn = kms.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
    kms.injectError('DeleteImportedKeyMaterial', 'ThrottlingException', { times: MAX_ATTEMPTS, keyArn });
    // Every wait as long as the window allows: the abort comes during the first one.
    jest.spyOn(Math, 'random').mockReturnValue(0.999);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const err = await newKmsClient(REGION).send(new DeleteImportedKeyMaterialCommand({ KeyId: keyArn }), { abortSignal: abort.signal }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    // Had the wait run on, a second attempt would have followed it.
    await new Promise((resolve) => setTimeout(resolve, THROTTLED_RETRY_WINDOW_MS + 200));
    expect(calls('DeleteImportedKeyMaterial', keyArn)).toHaveLength(1);
  });
});
