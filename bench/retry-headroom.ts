/**
 * Benchmark 4b: retry headroom. N DeleteImportedKeyMaterial calls at once against the KMS double's
 * 15/s quota, each from a KMS client of its own configured exactly as the handler's
 * (lambda/clients.ts: its retry strategy, waits and attempt limit): N sandboxes, each
 * with one key, with nothing else in the way. It answers how many attempts the unluckiest key
 * needs when several full stacks are destroyed together, next to the attempt limit.
 */
import { DeleteImportedKeyMaterialCommand } from '@aws-sdk/client-kms';
import { MAX_ATTEMPTS, newKmsClient } from '../lambda/clients';
import { ACCOUNT, REGION } from '../test/lifecycle/assembly';
import { KmsDouble } from '../test/doubles/kms-double';
import { withSandboxEnvironment } from './sandboxes';
import { progress } from './stats';
import { DELETE_QUOTA_PER_SECOND } from './throughput';

export interface HeadroomResult {
  readonly keys: number;
  readonly failed: number;
  readonly wallMs: number;
  readonly lowerBoundMs: number;
  readonly attemptsMedian: number;
  readonly attemptsP99: number;
  readonly attemptsMax: number;
  readonly maxAttempts: number;
}

export async function measureRetryHeadroom(keys: number): Promise<HeadroomResult> {
  progress(`retry headroom: ${keys} deletes at once, one client each`);
  const kms = await KmsDouble.start({ defaultAccount: ACCOUNT, defaultRegion: REGION });
  try {
    return await withSandboxEnvironment({ AWS_ENDPOINT_URL_KMS: kms.endpoint }, () => deleteAtOnce(kms, keys));
  } finally {
    await kms.stop();
  }
}

async function deleteAtOnce(kms: KmsDouble, keys: number): Promise<HeadroomResult> {
  const arns = Array.from({ length: keys }, () => kms.addKey({ origin: 'EXTERNAL' }));
  const clients = arns.map(() => newKmsClient(REGION));
  let failed = 0;
  const started = Date.now();
  await Promise.all(arns.map((arn, i) => clients[i].send(new DeleteImportedKeyMaterialCommand({ KeyId: arn })).catch(() => { failed++; })));
  const wallMs = Date.now() - started;
  const perKey = new Map<string, number>();
  for (const c of kms.calls) if (c.op === 'DeleteImportedKeyMaterial') perKey.set(c.request.KeyId, (perKey.get(c.request.KeyId) ?? 0) + 1);
  const counts = [...perKey.values()].sort((a, b) => a - b);
  return {
    keys, failed, wallMs, lowerBoundMs: (keys / DELETE_QUOTA_PER_SECOND) * 1000, maxAttempts: MAX_ATTEMPTS,
    attemptsMedian: counts[Math.floor(counts.length / 2)], attemptsP99: counts[Math.floor(counts.length * 0.99)], attemptsMax: counts[counts.length - 1],
  };
}
