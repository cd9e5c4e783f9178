import {
  DeleteImportedKeyMaterialCommand, DescribeKeyCommand, KeyMetadata, KMSClient, ListKeyRotationsCommand, ListResourceTagsCommand,
  RotationsListEntry,
} from '@aws-sdk/client-kms';
import { KEY_TAG, KEY_TAG_VALUE, MaterialScopeValue, RegionsValue } from '../lib/contract';
import { Budget } from './budget';
import { kmsClient } from './clients';
import { awsErrorName, BudgetExhaustedError, errorMessage, explainKmsError, HandlerError } from './errors';
import { parseKeyArn } from './event';

/** What revoking found and did, for the log line and the response. */
export interface RevocationResult {
  /** Material IDs deleted by this call (the current material's ID as KMS reported it), each once. */
  readonly materialIds: string[];
  /**
   * A multi-Region key (LIFECYCLE M1): the material IDs deleted in each Region revoked, by Region
   * (related multi-Region keys share material IDs, so `materialIds` alone cannot say where).
   */
  readonly byRegion?: Record<string, string[]>;
  /** Why nothing (or less than everything) was deleted, when that is the case. */
  readonly note?: string;
}

/**
 * One KMS call on a key, in the key's Region (LIFECYCLE S4), within the time budget; a budget
 * that runs out names `action` and the key.
 */
function kmsCall<T>(action: string, keyArn: string, budget: Budget,
  send: (client: KMSClient, abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  const client = kmsClient(parseKeyArn(keyArn).region);
  return budget.race(`${action} on ${keyArn}`, (abortSignal) => send(client, abortSignal));
}

/**
 * DescribeKey; `undefined` when the key does not exist (any more). Other errors are explained.
 */
async function describeKey(keyArn: string, budget: Budget): Promise<KeyMetadata | undefined> {
  try {
    const out = await kmsCall('kms:DescribeKey', keyArn, budget,
      (client, abortSignal) => client.send(new DescribeKeyCommand({ KeyId: keyArn }), { abortSignal }));
    if (!out.KeyMetadata) throw new HandlerError(`kms:DescribeKey on ${keyArn} returned no KeyMetadata`);
    return out.KeyMetadata;
  } catch (err) {
    if (awsErrorName(err) === 'NotFoundException') return undefined;
    throw explainKmsError(err, 'kms:DescribeKey', keyArn);
  }
}

/** A key has at most 50 tags (KMS quotas), a page holds 50: the loop is for the unexpected. */
const MAX_TAG_PAGES = 10;

/**
 * Whether the key carries KEY_TAG with KEY_TAG_VALUE (ListResourceTags, in the key's Region): for a key of another
 * stack of the tree (LIFECYCLE S10). 'gone' when KMS no longer has the key.
 */
export async function readKeyTag(keyArn: string, budget: Budget): Promise<'tagged' | 'untagged' | 'gone'> {
  let marker: string | undefined;
  try {
    for (let page = 0; page < MAX_TAG_PAGES; page++) {
      const out = await kmsCall('kms:ListResourceTags', keyArn, budget, (client, abortSignal) =>
        client.send(new ListResourceTagsCommand({ KeyId: keyArn, Marker: marker, Limit: 50 }), { abortSignal }));
      if ((out.Tags ?? []).some((t) => t.TagKey === KEY_TAG && t.TagValue === KEY_TAG_VALUE)) return 'tagged';
      if (!out.Truncated || !out.NextMarker) return 'untagged';
      marker = out.NextMarker;
    }
  } catch (err) {
    if (awsErrorName(err) === 'NotFoundException') return 'gone';
    throw explainKmsError(err, 'kms:ListResourceTags', keyArn);
  }
  throw new HandlerError(`kms:ListResourceTags on ${keyArn} returned more than ${MAX_TAG_PAGES} pages`);
}

/**
 * L28, S10: a key of another stack of the tree carries KEY_TAG while a revocation manages it; a
 * create or update fails without it, while the deployment can still roll back, since a later
 * cleanup would take "no tag" for "the key stays" and skip a removal together.
 */
export async function requireKeyTag(keyArn: string, budget: Budget): Promise<void> {
  const state = await readKeyTag(keyArn, budget);
  if (state === 'tagged') return;
  throw new HandlerError(state === 'gone' ? `kms:ListResourceTags found no key ${keyArn}` :
    `key ${keyArn} does not carry the tag ${KEY_TAG} that the construct gives a key of another stack of this tree (its Tags ` +
    'were overridden, or the tag was removed outside CloudFormation): without it, removing the key together with this ' +
    'revocation would not revoke its material; give the key the tag back, or define the revocation in the key\'s stack');
}

/**
 * LIFECYCLE L1-L3: the key exists, has imported material (Origin EXTERNAL) and lives in the
 * stack's account. No write call.
 */
export async function validateKey(keyArn: string, stackAccount: string, budget: Budget): Promise<void> {
  const parsed = parseKeyArn(keyArn);
  if (parsed.account !== stackAccount) {
    throw new HandlerError(
      `key ${keyArn} is in account ${parsed.account} but the stack is in account ${stackAccount}: ` +
      'DeleteImportedKeyMaterial works only in the key\'s own account',
    );
  }
  const meta = await describeKey(keyArn, budget);
  if (!meta) {
    throw new HandlerError(
      `key ${keyArn} was not found by kms:DescribeKey in ${parsed.region}: it does not exist, or the ARN names the wrong Region or account`,
    );
  }
  if (meta.Origin !== 'EXTERNAL') {
    throw new HandlerError(
      `key ${meta.Arn ?? keyArn} has origin ${meta.Origin ?? 'unknown'}; only keys with imported key material ` +
      '(Origin EXTERNAL) can have their material revoked',
    );
  }
  if (meta.AWSAccountId && meta.AWSAccountId !== stackAccount) {
    throw new HandlerError(`key ${keyArn} belongs to account ${meta.AWSAccountId}, not the stack's account ${stackAccount}`);
  }
}

/**
 * LIFECYCLE L28: in the update phase, the reads a cleanup revocation of `keyArn` will make
 * (DescribeKey, and ListKeyRotations for scope ALL), so that a key that is gone from this
 * handler's reach, or a policy that denies it, fails the update while it can still roll back. A
 * key that no longer exists passes: its revocation will report it gone. DeleteImportedKeyMaterial
 * itself has no dry run, so a denial of that action alone still shows only in the cleanup (and
 * then loudly: the RevocationFailures metric). A multi-Region key (M1) is checked in every Region
 * its cleanup revocation will act in (unless `regions` is KEY_REGION).
 */
export async function precheckRevocation(keyArn: string, scope: MaterialScopeValue, why: string, budget: Budget,
  regions: RegionsValue = 'ALL'): Promise<void> {
  const meta = await precheckInRegion(keyArn, scope, why, budget);
  if (!meta?.MultiRegion || regions !== 'ALL') return;
  // M1: the cleanup will revoke in every Region of the key; each is read now, with its own client.
  let keys;
  try {
    keys = await regionalKeys(keyArn, meta, budget);
  } catch (err) {
    throw new HandlerError(`multi-Region key ${keyArn} is to be ${why}, but its Regions cannot be read now: ${errorMessage(err)}. ` +
      'Failing the update while it can still roll back');
  }
  for (const key of keys.filter((k) => k.arn !== (meta.Arn ?? keyArn))) {
    await precheckInRegion(key.arn, scope, `${why} (the Region ${key.region} of multi-Region key ${keyArn})`, budget);
  }
}

/** precheckRevocation for the key of one Region; answers its metadata (undefined: the key does not exist). */
async function precheckInRegion(keyArn: string, scope: MaterialScopeValue, why: string, budget: Budget): Promise<KeyMetadata | undefined> {
  let meta;
  try {
    meta = await describeKey(keyArn, budget);
  } catch (err) {
    throw new HandlerError(`key ${keyArn} is to be ${why}, but it cannot be read now: ${errorMessage(err)}. ` +
      'Failing the update while it can still roll back, instead of a revocation that would fail in the cleanup');
  }
  if (!meta) return undefined;
  if (meta.Origin !== 'EXTERNAL') throw new HandlerError(`key ${keyArn} is to be ${why}, but its origin is ${meta.Origin ?? 'unknown'}, not EXTERNAL`);
  if (scope !== 'ALL' || (meta.KeySpec ?? 'SYMMETRIC_DEFAULT') !== 'SYMMETRIC_DEFAULT') return meta;
  try {
    await listImportedMaterials(meta.Arn ?? keyArn, budget);
  } catch (err) {
    throw new HandlerError(`key ${keyArn} is to be ${why}, but its materials cannot be listed now: ${errorMessage(err)}. ` +
      'Failing the update while it can still roll back');
  }
  return meta;
}

/** Every imported material of a symmetric key, non-current ones first and the current one last. */
async function listImportedMaterials(keyArn: string, budget: Budget): Promise<RotationsListEntry[] | undefined> {
  const entries: RotationsListEntry[] = [];
  let marker: string | undefined;
  do {
    let out;
    try {
      out = await kmsCall('kms:ListKeyRotations', keyArn, budget, (client, abortSignal) => client.send(
        new ListKeyRotationsCommand({ KeyId: keyArn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 1000, Marker: marker }),
        { abortSignal }));
    } catch (err) {
      // Keys that cannot rotate cannot hold several materials: the current one is all there is.
      if (awsErrorName(err) === 'UnsupportedOperationException') return undefined;
      throw explainKmsError(err, 'kms:ListKeyRotations', keyArn);
    }
    entries.push(...(out.Rotations ?? []));
    marker = out.Truncated ? out.NextMarker : undefined;
  } while (marker);
  // Scope ALL deletes every material by its ID: a listing without IDs cannot be acted on, and
  // reading it as "nothing stored" would report a revocation that did not happen (LIFECYCLE L30).
  const unnamed = entries.filter((e) => !e.KeyMaterialId);
  if (unnamed.length > 0) {
    throw new HandlerError(
      `kms:ListKeyRotations on ${keyArn} listed ${unnamed.length} material(s) without a KeyMaterialId; ` +
      'every material of scope ALL is deleted by its ID, so nothing was revoked: retry, or use scope CURRENT',
    );
  }
  // Materials in PENDING_IMPORT are already deleted; everything else is stored and must go.
  const imported = entries.filter((e) => e.ImportState !== 'PENDING_IMPORT');
  const unique = [...new Map(imported.map((e) => [e.KeyMaterialId, e])).values()];
  // The current material last, so that a failure midway leaves a key that plainly still works
  // rather than one that looks revoked. (Deleting any material already puts the key in
  // PendingImport: AWS KMS Developer Guide, "Deleting imported key material".)
  return unique.sort((a, b) => Number(a.KeyMaterialState === 'CURRENT') - Number(b.KeyMaterialState === 'CURRENT'));
}

/** What one DeleteImportedKeyMaterial call did. */
type DeleteOutcome =
  | { readonly kind: 'deleted'; readonly materialId: string }
  /** The key or that material was gone already (perhaps by an earlier attempt whose answer was lost). */
  | { readonly kind: 'gone'; readonly materialId: string }
  /** KMS refused the call because the key is pending deletion (LIFECYCLE L15): nothing was deleted. */
  | { readonly kind: 'refused-pending-deletion' };

/** DeleteImportedKeyMaterial for one material (or the current one when `materialId` is undefined). */
async function deleteMaterial(keyArn: string, materialId: string | undefined, budget: Budget): Promise<DeleteOutcome> {
  let out;
  try {
    out = await kmsCall('kms:DeleteImportedKeyMaterial', keyArn, budget, (client, abortSignal) => client.send(
      new DeleteImportedKeyMaterialCommand({ KeyId: keyArn, KeyMaterialId: materialId }), { abortSignal }));
  } catch (err) {
    const name = awsErrorName(err);
    if (name === 'NotFoundException') return { kind: 'gone', materialId: materialId ?? '' };
    if (name === 'KMSInvalidStateException') {
      // Tolerated only for a key that DescribeKey shows pending deletion (LIFECYCLE L15).
      const meta = await describeKey(keyArn, budget);
      if (!meta) return { kind: 'gone', materialId: materialId ?? '' };
      if (meta.KeyState === 'PendingDeletion') return { kind: 'refused-pending-deletion' };
    }
    throw explainKmsError(err, 'kms:DeleteImportedKeyMaterial', keyArn);
  }
  // An answer about another material than the one asked for contradicts the request (L30).
  if (materialId !== undefined && out.KeyMaterialId !== undefined && out.KeyMaterialId !== materialId) {
    throw new HandlerError(
      `kms:DeleteImportedKeyMaterial on ${keyArn} was asked to delete material ${materialId} but answered ${out.KeyMaterialId}; ` +
      'the handler does not know which material is gone, so the revocation is reported as failed',
    );
  }
  return { kind: 'deleted', materialId: out.KeyMaterialId ?? materialId ?? '' };
}

const GONE: RevocationResult = { materialIds: [], note: 'key no longer exists: nothing left to revoke' };

/** The key of one Region: a single-Region key, or the primary or one replica of a multi-Region key. */
interface RegionalKey {
  readonly arn: string;
  readonly region: string;
}

/**
 * LIFECYCLE M1: every Region where a multi-Region key can hold material, the key's own first: the
 * primary and each replica its DescribeKey lists (MultiRegionConfiguration, read in the key's own
 * Region). For a replica, the primary's own configuration too (DescribeKey in the primary's
 * Region), so that a replica added after this one is covered even where the replica's view lags.
 * Imported material is per Region (AWS KMS Developer Guide, "Importing key material into
 * multi-Region keys": KMS does not copy or synchronize it), so each Region is revoked on its own.
 * A listed key of another key ID or account is refused: it is not the key this resource manages.
 * A primary that cannot be read leaves its replicas as the replica listed them; the primary's own
 * revocation then reports why.
 */
async function regionalKeys(keyArn: string, meta: KeyMetadata, budget: Budget): Promise<RegionalKey[]> {
  const own = parseKeyArn(meta.Arn ?? keyArn);
  const config = meta.MultiRegionConfiguration;
  if (!config) {
    throw new HandlerError(`kms:DescribeKey shows ${own.arn} as a multi-Region key but lists no MultiRegionConfiguration: ` +
      'its replicas are unknown, so nothing was revoked');
  }
  const listed = [config.PrimaryKey, ...(config.ReplicaKeys ?? [])];
  if (config.MultiRegionKeyType === 'REPLICA' && config.PrimaryKey?.Arn) {
    let primary: KeyMetadata | undefined;
    try {
      primary = await describeKey(config.PrimaryKey.Arn, budget);
    } catch (err) {
      if (err instanceof BudgetExhaustedError) throw err;
    }
    const primaryConfig = primary?.MultiRegionConfiguration;
    if (primaryConfig) listed.push(primaryConfig.PrimaryKey, ...(primaryConfig.ReplicaKeys ?? []));
  }
  const keys = new Map<string, RegionalKey>([[own.arn, { arn: own.arn, region: own.region }]]);
  for (const entry of listed) {
    if (!entry?.Arn) continue;
    const parsed = parseKeyArn(entry.Arn, `the related multi-Region key listed by kms:DescribeKey on ${own.arn}`);
    if (parsed.account !== own.account || parsed.keyId !== own.keyId || parsed.partition !== own.partition) {
      throw new HandlerError(`kms:DescribeKey on ${own.arn} lists ${entry.Arn} as a related multi-Region key, but it is another key ` +
        'or account: the handler revokes only the key this resource manages, so nothing was revoked');
    }
    if (!keys.has(parsed.arn)) keys.set(parsed.arn, { arn: parsed.arn, region: parsed.region });
  }
  return [...keys.values()];
}

/**
 * Revokes the key's imported material: every material by ID (scope ALL) or the current one
 * (scope CURRENT). A key already in PendingImport, pending deletion or gone is a success, with a
 * note saying which (LIFECYCLE L6, L15).
 *
 * A multi-Region key (LIFECYCLE M1) is revoked in every Region where it holds material (see
 * regionalKeys), each with its own KMS client and the same scope, unless `regions` is KEY_REGION.
 * "Done or loud": every Region is tried, even after one fails, so that as much material as can be
 * is gone; then a Region that failed fails the whole revocation, with a reason naming each failed
 * Region, the action and the cause (as L16), and the Regions that were revoked.
 */
export async function revokeKeyMaterial(keyArn: string, scope: MaterialScopeValue, budget: Budget,
  regions: RegionsValue = 'ALL'): Promise<RevocationResult> {
  const meta = await describeKey(keyArn, budget);
  if (!meta) return GONE;
  if (!meta.MultiRegion) return revokeInRegion(keyArn, scope, budget, meta);
  const own = meta.Arn ?? keyArn;
  const ownRegion = parseKeyArn(own).region;
  if (regions === 'KEY_REGION') {
    const result = await revokeInRegion(keyArn, scope, budget, meta);
    const only = `multi-Region key revoked in its own Region ${ownRegion} only (Regions KEY_REGION): its other Regions keep their material`;
    return { ...result, byRegion: { [ownRegion]: result.materialIds }, note: result.note ? `${only}; ${result.note}` : only };
  }
  const keys = await regionalKeys(keyArn, meta, budget);
  const byRegion: Record<string, string[]> = {};
  const notes: string[] = [];
  const failures: Array<{ region: string; err: unknown }> = [];
  for (const key of keys) {
    if (failures.some((f) => f.err instanceof BudgetExhaustedError)) {
      failures.push({ region: key.region, err: new BudgetExhaustedError(`not tried: the time budget ran out before ${key.arn}`) });
      continue;
    }
    try {
      const result = await revokeInRegion(key.arn, scope, budget, key.arn === own ? meta : undefined);
      byRegion[key.region] = result.materialIds;
      if (result.note) notes.push(`${key.region}: ${result.note}`);
    } catch (err) {
      failures.push({ region: key.region, err });
    }
  }
  const materialIds = [...new Set(Object.values(byRegion).flat())];
  const done = Object.keys(byRegion);
  if (failures.length > 0) {
    const reason = `revocation of multi-Region key ${own} failed in ${failures.length} of ${keys.length} Regions ` +
      `(${failures.map((f) => f.region).join(', ')}): ` +
      failures.map((f) => `in ${f.region}: ${errorMessage(f.err)}`).join('; ') +
      (done.length > 0
        ? `. Revoked in ${done.map((r) => `${r} (${byRegion[r].length} material(s))`).join(', ')}: that material is gone`
        : '. No Region was revoked');
    throw failures.some((f) => f.err instanceof BudgetExhaustedError) ? new BudgetExhaustedError(reason) : new HandlerError(reason);
  }
  const summary = `multi-Region key revoked in ${done.length} Region(s): ${done.join(', ')}`;
  return { materialIds, byRegion, note: [summary, ...notes].join('; ') };
}

/** revokeKeyMaterial for the key of one Region; `meta` is its DescribeKey when already read (undefined: read it). */
async function revokeInRegion(keyArn: string, scope: MaterialScopeValue, budget: Budget,
  known?: KeyMetadata): Promise<RevocationResult> {
  const meta = known ?? await describeKey(keyArn, budget);
  if (!meta) return GONE;
  const state = meta.KeyState ?? '';
  const arn = meta.Arn ?? keyArn;
  if (meta.Origin !== 'EXTERNAL') {
    throw new HandlerError(`key ${arn} has origin ${meta.Origin ?? 'unknown'}, not EXTERNAL: it holds no imported material to revoke`);
  }
  // Only symmetric encryption keys can hold several materials (LIFECYCLE background).
  const several = scope === 'ALL' && (meta.KeySpec ?? 'SYMMETRIC_DEFAULT') === 'SYMMETRIC_DEFAULT';
  const materials = several ? await listImportedMaterials(arn, budget) : undefined;
  const targets: Array<string | undefined> = materials ? materials.map((m) => m.KeyMaterialId) : [];
  // Without a list, delete the current material. The key state cannot say whether it is still
  // stored: deleting any other material also puts the key in PendingImport. In PendingImport
  // without current material the call succeeds with no effect.
  if (!materials || (targets.length === 0 && state !== 'PendingImport')) targets.push(undefined);
  if (targets.length === 0) {
    return { materialIds: [], note: 'key is already PendingImport: no imported material left' };
  }
  const deleted: string[] = [];
  const notes: string[] = [];
  for (const id of targets) {
    const done = await deleteMaterial(arn, id, budget);
    if (done.kind === 'refused-pending-deletion') {
      notes.push('KMS refused the delete (KMSInvalidStateException) because the key is pending deletion: nothing was deleted, ' +
        'and the key cannot be used until its deletion is cancelled');
      continue;
    }
    if (done.materialId) deleted.push(done.materialId);
    if (done.kind === 'gone') notes.push(`material ${done.materialId || '(current)'} was already gone`);
  }
  // What happened, not what the key state was before.
  if (state === 'PendingDeletion' && deleted.length > 0) notes.unshift('deleted while the key is pending deletion; its state stays PendingDeletion');
  else if (state === 'PendingImport') notes.unshift('the key was already PendingImport; deleted the materials still stored');
  return { materialIds: deleted, note: notes.length > 0 ? notes.join('; ') : undefined };
}
