import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  InvalidArnException,
  InvalidImportTokenException,
  InvalidMarkerException,
  KMSClient,
  KMSClientConfig,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  ListKeyRotationsCommand,
  ListResourceTagsCommand,
  NotFoundException,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UnsupportedOperationException,
  paginateListKeyRotations,
} from '@aws-sdk/client-kms';
import { KmsDouble } from './kms-double';

const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const CREDS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' };

/** Runs `p` and returns what it rejected with; fails the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('KmsDouble, driven by the real @aws-sdk/client-kms', () => {
  let double: KmsDouble;
  const clients: KMSClient[] = [];
  const kmsClient = (extra: Partial<KMSClientConfig> = {}): KMSClient => {
    const c = new KMSClient({ region: REGION, endpoint: double.endpoint, credentials: CREDS, ...extra });
    clients.push(c);
    return c;
  };
  let kms: KMSClient;

  beforeEach(async () => {
    double = await KmsDouble.start({ defaultAccount: ACCOUNT, defaultRegion: REGION });
    kms = kmsClient();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await double.stop();
  });

  describe('import lifecycle', () => {
    it('CreateKey(Origin=EXTERNAL) yields a PendingImport key that GetParametersForImport + ImportKeyMaterial enable', async () => {
      const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Description: 'byok' }));
      const md = created.KeyMetadata!;
      expect(md.KeyState).toBe('PendingImport');
      expect(md.Enabled).toBe(false);
      expect(md.Origin).toBe('EXTERNAL');
      expect(md.Arn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${md.KeyId}`);
      expect(md.CreationDate).toBeInstanceOf(Date);
      expect(md.CurrentKeyMaterialId).toBeUndefined();

      const params = await kms.send(
        new GetParametersForImportCommand({ KeyId: md.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' }),
      );
      expect(params.KeyId).toBe(md.Arn);
      expect(params.ImportToken).toBeInstanceOf(Uint8Array);
      expect(params.PublicKey!.length).toBeGreaterThan(0);
      const hoursValid = (params.ParametersValidTo!.getTime() - Date.now()) / 3600_000;
      expect(hoursValid).toBeGreaterThan(23.9);
      expect(hoursValid).toBeLessThanOrEqual(24);

      const imported = await kms.send(
        new ImportKeyMaterialCommand({
          KeyId: md.Arn,
          ImportToken: params.ImportToken,
          EncryptedKeyMaterial: Buffer.from('material-one'),
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        }),
      );
      expect(imported.KeyId).toBe(md.Arn);
      expect(imported.KeyMaterialId).toMatch(/^[a-f0-9]{64}$/);

      const described = await kms.send(new DescribeKeyCommand({ KeyId: md.KeyId }));
      expect(described.KeyMetadata).toMatchObject({
        KeyState: 'Enabled',
        Enabled: true,
        ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        CurrentKeyMaterialId: imported.KeyMaterialId,
      });
    });

    it('ImportKeyMaterial rejects a token issued for another key and requires ValidTo for KEY_MATERIAL_EXPIRES', async () => {
      double.setQuota('GetParametersForImport', Infinity);
      const a = double.addKey({ origin: 'EXTERNAL', keyState: 'PendingImport' });
      const b = double.addKey({ origin: 'EXTERNAL', keyState: 'PendingImport' });
      const tokenForA = await kms.send(new GetParametersForImportCommand({ KeyId: a, WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', WrappingKeySpec: 'RSA_3072' }));

      const wrongKey = await rejection(
        kms.send(new ImportKeyMaterialCommand({ KeyId: b, ImportToken: tokenForA.ImportToken, EncryptedKeyMaterial: Buffer.from('m'), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })),
      );
      expect(wrongKey).toBeInstanceOf(InvalidImportTokenException);

      // ExpirationModel defaults to KEY_MATERIAL_EXPIRES, which needs ValidTo.
      const noValidTo = await rejection(kms.send(new ImportKeyMaterialCommand({ KeyId: a, ImportToken: tokenForA.ImportToken, EncryptedKeyMaterial: Buffer.from('m') })));
      expect(noValidTo.name).toBe('ValidationException');
      expect(double.key(a)!.state).toBe('PendingImport');

      const validTo = new Date(Date.now() + 7 * 86400_000);
      await kms.send(new ImportKeyMaterialCommand({ KeyId: a, ImportToken: tokenForA.ImportToken, EncryptedKeyMaterial: Buffer.from('m'), ValidTo: validTo }));
      const md = (await kms.send(new DescribeKeyCommand({ KeyId: a }))).KeyMetadata!;
      expect(md.ExpirationModel).toBe('KEY_MATERIAL_EXPIRES');
      expect(Math.abs(md.ValidTo!.getTime() - validTo.getTime())).toBeLessThan(1000);
    });

    it('re-importing the same material bytes after deletion restores the same KeyMaterialId and re-enables the key', async () => {
      const keyId = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
      const { ImportToken } = await kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
      const bytes = Buffer.from('the-same-256-bit-key-material!!!');
      const first = await kms.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken, EncryptedKeyMaterial: bytes, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
      await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
      expect(double.key(keyId)!.state).toBe('PendingImport');

      const different = await rejection(
        kms.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken, EncryptedKeyMaterial: Buffer.from('other'), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })),
      );
      expect(different.name).toBe('IncorrectKeyMaterialException');

      const again = await kms.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken, EncryptedKeyMaterial: bytes, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
      expect(again.KeyMaterialId).toBe(first.KeyMaterialId);
      expect(double.key(keyId)!.state).toBe('Enabled');
    });

    it('NEW_KEY_MATERIAL on an enabled key lands in PENDING_ROTATION until RotateKeyOnDemand makes it CURRENT', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      const before = double.key(arn)!.materials[0].id;
      const { ImportToken } = await kms.send(new GetParametersForImportCommand({ KeyId: arn, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
      const imported = await kms.send(
        new ImportKeyMaterialCommand({ KeyId: arn, ImportToken, EncryptedKeyMaterial: Buffer.from('next'), ImportType: 'NEW_KEY_MATERIAL', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
      );
      expect(double.key(arn)!.materials.find((m) => m.id === imported.KeyMaterialId)!.state).toBe('PENDING_ROTATION');
      expect((await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.CurrentKeyMaterialId).toBe(before);

      await kms.send(new RotateKeyOnDemandCommand({ KeyId: arn }));
      const md = (await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!;
      expect(md.CurrentKeyMaterialId).toBe(imported.KeyMaterialId);
      expect(double.key(arn)!.materials.find((m) => m.id === before)!.state).toBe('NON_CURRENT');
    });
  });

  describe('DeleteImportedKeyMaterial state transitions', () => {
    it('without KeyMaterialId deletes the CURRENT material, returns the key ARN and material ID, and puts the key in PendingImport', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 3 });
      const [m1, m2, m3] = double.key(arn)!.materials;
      expect(m3.state).toBe('CURRENT');

      const keyId = arn.split('/')[1];
      const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
      expect(out.KeyId).toBe(arn);
      expect(out.KeyMaterialId).toBe(m3.id);

      const k = double.key(arn)!;
      expect(k.state).toBe('PendingImport');
      expect(k.deletedMaterialIds).toEqual([m3.id]);
      expect(k.materials.map((m) => [m.id, m.state, m.importState])).toEqual([
        [m1.id, 'NON_CURRENT', 'IMPORTED'],
        [m2.id, 'NON_CURRENT', 'IMPORTED'],
        [m3.id, 'CURRENT', 'PENDING_IMPORT'],
      ]);

      const md = (await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!;
      expect(md.KeyState).toBe('PendingImport');
      expect(md.Enabled).toBe(false);
      expect(md.CurrentKeyMaterialId).toBe(m3.id);

      const listed = await kms.send(new ListKeyRotationsCommand({ KeyId: arn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }));
      expect(listed.Rotations!.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.ImportState])).toEqual([
        [m1.id, 'NON_CURRENT', 'IMPORTED'],
        [m2.id, 'NON_CURRENT', 'IMPORTED'],
        [m3.id, 'CURRENT', 'PENDING_IMPORT'],
      ]);
    });

    it('with the ID of a NON_CURRENT material deletes only that material; the others stay imported (key still goes to PendingImport)', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 3 });
      const [m1, m2, m3] = double.key(arn)!.materials;

      const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn, KeyMaterialId: m1.id }));
      expect(out.KeyMaterialId).toBe(m1.id);

      const k = double.key(arn)!;
      expect(k.materials.find((m) => m.id === m1.id)!.importState).toBe('PENDING_IMPORT');
      expect(k.materials.find((m) => m.id === m2.id)!.importState).toBe('IMPORTED');
      expect(k.materials.find((m) => m.id === m3.id)).toMatchObject({ state: 'CURRENT', importState: 'IMPORTED' });
      // Developer Guide: "Deletion or expiration of any permanently associated key material changes the key state to Pending import."
      expect(k.state).toBe('PendingImport');
      expect(k.deletedMaterialIds).toEqual([m1.id]);
    });

    it('deleting the CURRENT material by ID behaves like deleting without an ID', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 2 });
      const current = double.key(arn)!.materials[1];
      await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn, KeyMaterialId: current.id }));
      expect(double.key(arn)!.state).toBe('PendingImport');
      expect(double.key(arn)!.materials[1]).toMatchObject({ state: 'CURRENT', importState: 'PENDING_IMPORT' });
      expect(double.key(arn)!.materials[0].importState).toBe('IMPORTED');
    });

    it('deleting a PENDING_ROTATION material disassociates it and leaves an Enabled key Enabled', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      const pending = double.importMaterial(arn, { makeCurrent: false });
      expect(double.key(arn)!.materials.find((m) => m.id === pending)!.state).toBe('PENDING_ROTATION');

      await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn, KeyMaterialId: pending }));
      const k = double.key(arn)!;
      expect(k.state).toBe('Enabled');
      expect(k.materials.map((m) => m.id)).not.toContain(pending);
      expect(k.deletedMaterialIds).toEqual([pending]);
    });

    it('on a key in PendingDeletion it succeeds, deletes the material and leaves the state and DeletionDate unchanged', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1, keyState: 'PendingDeletion' });
      const deletionDate = double.key(arn)!.deletionDate!;
      const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(out.KeyMaterialId).toBe(double.key(arn)!.materials[0].id);

      const k = double.key(arn)!;
      expect(k.state).toBe('PendingDeletion');
      expect(k.materials[0].importState).toBe('PENDING_IMPORT');
      const md = (await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!;
      expect(md.KeyState).toBe('PendingDeletion');
      expect(md.DeletionDate!.getTime()).toBe(Math.floor(deletionDate.getTime()));
    });

    it('on a key already in PendingImport it succeeds with no further effect (safe to repeat)', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      const first = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      const second = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(second.KeyMaterialId).toBe(first.KeyMaterialId);
      expect(double.key(arn)!.state).toBe('PendingImport');
      expect(double.key(arn)!.deletedMaterialIds).toHaveLength(1);
    });

    it('on an EXTERNAL key that never had material it succeeds with no KeyMaterialId', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', keyState: 'PendingImport' });
      const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(out.KeyId).toBe(arn);
      expect(out.KeyMaterialId).toBeUndefined();
    });

    it('on a Disabled key it deletes the material and moves the key to PendingImport', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1, keyState: 'Disabled' });
      await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(double.key(arn)!.state).toBe('PendingImport');
    });
  });

  describe('DeleteImportedKeyMaterial errors, parsed into the SDK exception classes', () => {
    it('a key whose Origin is not EXTERNAL -> UnsupportedOperationException (400), nothing changes', async () => {
      const arn = double.addKey({ origin: 'AWS_KMS' });
      const err = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn })));
      expect(err).toBeInstanceOf(UnsupportedOperationException);
      expect(err.name).toBe('UnsupportedOperationException');
      expect(err.$metadata.httpStatusCode).toBe(400);
      expect(err.$fault).toBe('client');
      expect(err.message).toContain('origin is AWS_KMS');
      expect(double.key(arn)!.state).toBe('Enabled');
    });

    it('an unknown key ID -> NotFoundException naming the key ARN in the request Region', async () => {
      const err = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab' })));
      expect(err).toBeInstanceOf(NotFoundException);
      expect(err.$metadata.httpStatusCode).toBe(400);
      expect(err.message).toBe(`Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not exist`);
    });

    it('a malformed ARN -> InvalidArnException', async () => {
      const err = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: 'arn:aws:kms:eu-west-1:key/abc' })));
      expect(err).toBeInstanceOf(InvalidArnException);
      expect(err.$metadata.httpStatusCode).toBe(400);
    });

    it('alias names and alias ARNs are not accepted (NotFoundException) although DescribeKey resolves them', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1, aliases: ['alias/byok'] });
      const byName = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: 'alias/byok' })));
      expect(byName).toBeInstanceOf(NotFoundException);
      const byAliasArn = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/byok` })));
      expect(byAliasArn).toBeInstanceOf(NotFoundException);
      expect(double.key(arn)!.state).toBe('Enabled');

      const md = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/byok' }))).KeyMetadata!;
      expect(md.Arn).toBe(arn);
    });

    it('keys are regional: a key ARN or key ID from another Region -> NotFoundException, key untouched', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1, region: 'us-west-2' });
      const byArn = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn })));
      expect(byArn).toBeInstanceOf(NotFoundException);
      const byId = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn.split('/')[1] })));
      expect(byId).toBeInstanceOf(NotFoundException);
      expect(double.key(arn)!.state).toBe('Enabled');
      expect(double.callsTo('DeleteImportedKeyMaterial').map((c) => c.region)).toEqual([REGION, REGION]);

      const westClient = kmsClient({ region: 'us-west-2' });
      await westClient.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(double.key(arn)!.state).toBe('PendingImport');
    });

    it('an unknown KeyMaterialId -> NotFoundException; a malformed one -> ValidationException', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      const unknown = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn, KeyMaterialId: 'f'.repeat(64) })));
      expect(unknown).toBeInstanceOf(NotFoundException);
      const malformed = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn, KeyMaterialId: 'not-an-id' })));
      expect(malformed).toBeInstanceOf(KMSServiceException);
      expect(malformed.name).toBe('ValidationException');
      expect(malformed.$metadata.httpStatusCode).toBe(400);
      expect(double.key(arn)!.state).toBe('Enabled');
    });

    it.each(['Creating', 'Updating', 'Unavailable'] as const)('a key in the %s state -> KMSInvalidStateException', async (state) => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1, multiRegion: true, keyState: state });
      const err = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn })));
      expect(err).toBeInstanceOf(KMSInvalidStateException);
      expect(err.message).toBe(`${arn} is ${state.toLowerCase()}.`);
      expect(double.key(arn)!.materials[0].importState).toBe('IMPORTED');
    });
  });

  describe('ListKeyRotations', () => {
    it('paginates with Limit/Truncated/NextMarker; ROTATIONS_ONLY (default) omits the first material, ALL_KEY_MATERIAL includes it', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 5 });
      const ids = double.key(arn)!.materials.map((m) => m.id);

      const page1 = await kms.send(new ListKeyRotationsCommand({ KeyId: arn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 2 }));
      expect(page1.Truncated).toBe(true);
      expect(page1.NextMarker).toBeDefined();
      expect(page1.Rotations!.map((r) => r.KeyMaterialId)).toEqual(ids.slice(0, 2));
      // The first material has no rotation date/type; rotated ones do.
      expect(page1.Rotations![0].RotationDate).toBeUndefined();
      expect(page1.Rotations![1].RotationDate).toBeInstanceOf(Date);
      expect(page1.Rotations![1].RotationType).toBe('ON_DEMAND');
      expect(page1.Rotations![0]).toMatchObject({ ImportState: 'IMPORTED', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', KeyId: arn.split('/')[1] });

      const all: string[] = [];
      for await (const page of paginateListKeyRotations({ client: kms, pageSize: 2 }, { KeyId: arn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' })) {
        all.push(...page.Rotations!.map((r) => r.KeyMaterialId!));
      }
      expect(all).toEqual(ids);

      const rotationsOnly = await kms.send(new ListKeyRotationsCommand({ KeyId: arn }));
      expect(rotationsOnly.Truncated).toBe(false);
      expect(rotationsOnly.NextMarker).toBeUndefined();
      expect(rotationsOnly.Rotations!.map((r) => r.KeyMaterialId)).toEqual(ids.slice(1));
    });

    it('lists a PENDING_ROTATION material only with ALL_KEY_MATERIAL, without RotationDate', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      const pending = double.importMaterial(arn, { makeCurrent: false });
      const all = await kms.send(new ListKeyRotationsCommand({ KeyId: arn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }));
      const entry = all.Rotations!.find((r) => r.KeyMaterialId === pending)!;
      expect(entry.KeyMaterialState).toBe('PENDING_ROTATION');
      expect(entry.RotationDate).toBeUndefined();
      const rotationsOnly = await kms.send(new ListKeyRotationsCommand({ KeyId: arn }));
      expect(rotationsOnly.Rotations).toEqual([]);
    });

    it('rejects an invalid Marker, an out-of-range Limit and keys that cannot rotate', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 2 });
      expect(await rejection(kms.send(new ListKeyRotationsCommand({ KeyId: arn, Marker: 'bogus' })))).toBeInstanceOf(InvalidMarkerException);
      const limit = await rejection(kms.send(new ListKeyRotationsCommand({ KeyId: arn, Limit: 1001 })));
      expect(limit.name).toBe('ValidationException');
      const hmac = double.addKey({ keySpec: 'HMAC_256' });
      expect(await rejection(kms.send(new ListKeyRotationsCommand({ KeyId: hmac })))).toBeInstanceOf(UnsupportedOperationException);
    });
  });

  describe('key management operations', () => {
    it('ScheduleKeyDeletion -> PendingDeletion with DeletionDate; CancelKeyDeletion -> Disabled (PendingImport when material is missing)', async () => {
      const withMaterial = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: withMaterial, PendingWindowInDays: 7 }));
      expect(scheduled).toMatchObject({ KeyId: withMaterial, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
      expect(Math.round((scheduled.DeletionDate!.getTime() - Date.now()) / 86400_000)).toBe(7);
      expect(await rejection(kms.send(new ScheduleKeyDeletionCommand({ KeyId: withMaterial })))).toBeInstanceOf(KMSInvalidStateException);
      expect(await rejection(kms.send(new EnableKeyCommand({ KeyId: withMaterial })))).toBeInstanceOf(KMSInvalidStateException);

      await kms.send(new CancelKeyDeletionCommand({ KeyId: withMaterial }));
      expect(double.key(withMaterial)!.state).toBe('Disabled');
      expect((await kms.send(new DescribeKeyCommand({ KeyId: withMaterial }))).KeyMetadata!.DeletionDate).toBeUndefined();
      await kms.send(new EnableKeyCommand({ KeyId: withMaterial }));
      expect(double.key(withMaterial)!.state).toBe('Enabled');

      const withoutMaterial = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: withoutMaterial }));
      await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: withoutMaterial }));
      await kms.send(new CancelKeyDeletionCommand({ KeyId: withoutMaterial }));
      expect(double.key(withoutMaterial)!.state).toBe('PendingImport');
      expect(await rejection(kms.send(new CancelKeyDeletionCommand({ KeyId: withoutMaterial })))).toBeInstanceOf(KMSInvalidStateException);
    });

    it('EnableKey/DisableKey reject a PendingImport key; TagResource/ListResourceTags round-trip tags', async () => {
      const pendingImport = double.addKey({ origin: 'EXTERNAL', keyState: 'PendingImport' });
      const err = await rejection(kms.send(new DisableKeyCommand({ KeyId: pendingImport })));
      expect(err).toBeInstanceOf(KMSInvalidStateException);
      expect(err.message).toBe(`${pendingImport} is pending import.`);

      const arn = double.addKey({ tags: { team: 'crypto' } });
      await kms.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'stack', TagValue: 'demo' }] }));
      const tags = await kms.send(new ListResourceTagsCommand({ KeyId: arn }));
      expect(tags.Tags).toEqual([
        { TagKey: 'stack', TagValue: 'demo' },
        { TagKey: 'team', TagValue: 'crypto' },
      ]);
      expect(double.key(arn)!.tags).toEqual({ team: 'crypto', stack: 'demo' });
    });
  });

  describe('quotas and throttling', () => {
    it('30 concurrent DeleteImportedKeyMaterial calls against the default 15/s quota: 15 succeed, 15 get ThrottlingException (maxAttempts 1)', async () => {
      const noRetry = kmsClient({ maxAttempts: 1 });
      const arns = Array.from({ length: 30 }, () => double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 }));
      const results = await Promise.allSettled(arns.map((KeyId) => noRetry.send(new DeleteImportedKeyMaterialCommand({ KeyId }))));

      const ok = results.filter((r) => r.status === 'fulfilled');
      const throttled = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(15);
      expect(throttled).toHaveLength(15);
      for (const r of throttled) {
        expect(r.reason).toBeInstanceOf(KMSServiceException);
        expect(r.reason.name).toBe('ThrottlingException');
        expect(r.reason.$metadata.httpStatusCode).toBe(400);
        expect(r.reason.$metadata.attempts).toBe(1);
        expect(r.reason.message).toBe('You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.');
      }
      // Every call is recorded, throttled ones included; throttled calls changed nothing.
      const calls = double.callsTo('DeleteImportedKeyMaterial');
      expect(calls).toHaveLength(30);
      expect(calls.filter((c) => c.errorType === 'ThrottlingException')).toHaveLength(15);
      expect(arns.filter((a) => double.key(a)!.state === 'PendingImport')).toHaveLength(15);

      // Quotas are per operation: DescribeKey is not affected by the exhausted delete quota.
      await noRetry.send(new DescribeKeyCommand({ KeyId: arns[0] }));
      // Quotas are per Region: another Region has its own window.
      const west = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1, region: 'us-west-2' });
      await kmsClient({ region: 'us-west-2', maxAttempts: 1 }).send(new DeleteImportedKeyMaterialCommand({ KeyId: west }));
      // After the 1 s window the quota is available again.
      await new Promise((r) => setTimeout(r, 1050));
      await noRetry.send(new DeleteImportedKeyMaterialCommand({ KeyId: arns.find((a) => double.key(a)!.state === 'Enabled')! }));
    });

    it('setQuota lowers a quota: GetParametersForImport at 1/s throttles the second call within a second', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', keyState: 'PendingImport' });
      const noRetry = kmsClient({ maxAttempts: 1 });
      const input = { KeyId: arn, WrappingAlgorithm: 'RSAES_OAEP_SHA_256' as const, WrappingKeySpec: 'RSA_2048' as const };
      await noRetry.send(new GetParametersForImportCommand(input));
      expect((await rejection(noRetry.send(new GetParametersForImportCommand(input)))).name).toBe('ThrottlingException');

      double.setQuota('DescribeKey', 2);
      await noRetry.send(new DescribeKeyCommand({ KeyId: arn }));
      await noRetry.send(new DescribeKeyCommand({ KeyId: arn }));
      expect((await rejection(noRetry.send(new DescribeKeyCommand({ KeyId: arn })))).name).toBe('ThrottlingException');
    });
  });

  describe('fault injection exercises the SDK retry machinery', () => {
    it('two injected KMSInternalException (500) are retried by the SDK and the third attempt succeeds', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      double.injectError('DeleteImportedKeyMaterial', 'KMSInternalException', { times: 2 });
      const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(out.$metadata.attempts).toBe(3);
      expect(double.callsTo('DeleteImportedKeyMaterial').map((c) => c.status)).toEqual([500, 500, 200]);
      expect(double.key(arn)!.deletedMaterialIds).toHaveLength(1);
    });

    it('a persistent KMSInternalException surfaces as the SDK class with $fault "server" after maxAttempts', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      double.injectError('DeleteImportedKeyMaterial', 'KMSInternalException', { keyArn: arn });
      const err = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn })));
      expect(err).toBeInstanceOf(KMSInternalException);
      expect(err.$fault).toBe('server');
      expect(err.$metadata.httpStatusCode).toBe(500);
      expect(err.$metadata.attempts).toBe(3);
      expect(double.key(arn)!.state).toBe('Enabled');

      // keyArn-scoped: another key is unaffected.
      const other = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: other }));
    });

    it('DependencyTimeoutException (documented as HTTP 500) is retried; a custom status is honoured', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      double.injectError('DeleteImportedKeyMaterial', 'DependencyTimeoutException', { times: 1 });
      double.injectError('DeleteImportedKeyMaterial', 'DependencyTimeoutException', { times: 1, status: 503 });
      const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(out.$metadata.attempts).toBe(3);
      expect(double.callsTo('DeleteImportedKeyMaterial').map((c) => c.status)).toEqual([500, 503, 200]);
    });

    it('an injected 400 (AccessDeniedException) is not retried', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      double.injectError('DeleteImportedKeyMaterial', 'AccessDeniedException', { times: 1 });
      const err = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn })));
      expect(err.name).toBe('AccessDeniedException');
      expect(err.$metadata.attempts).toBe(1);
      expect(double.callsTo('DeleteImportedKeyMaterial')).toHaveLength(1);
    });

    it('a dropped connection (no response, no side effect) is retried by the SDK and the retry succeeds', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      double.dropConnections('DeleteImportedKeyMaterial', { times: 1 });
      const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(out.$metadata.attempts).toBe(2);
      const calls = double.callsTo('DeleteImportedKeyMaterial');
      expect(calls.map((c) => [c.status, c.applied, c.errorType])).toEqual([
        [0, false, 'ConnectionDropped'],
        [200, true, undefined],
      ]);
    });

    it('a response lost after the delete was applied: the SDK retry finds the key PendingImport and succeeds without a second deletion', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      double.dropConnections('DeleteImportedKeyMaterial', { times: 1, afterHandling: true });
      const out = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(out.$metadata.attempts).toBe(2);
      expect(double.callsTo('DeleteImportedKeyMaterial').map((c) => c.applied)).toEqual([true, true]);
      expect(double.key(arn)!.deletedMaterialIds).toHaveLength(1);
      expect(double.key(arn)!.state).toBe('PendingImport');
    });

    it('latency beyond the client requestTimeout makes the SDK time out and retry; the slow request still runs server-side', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      double.setLatency('DeleteImportedKeyMaterial', 500, { times: 1 });
      const impatient = kmsClient({ requestHandler: { requestTimeout: 150, throwOnRequestTimeout: true } });
      const started = Date.now();
      const out = await impatient.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      expect(out.$metadata.attempts).toBe(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      // The retry (no latency) deleted the material first; the abandoned attempt then ran as a no-op.
      await double.idle();
      const calls = double.callsTo('DeleteImportedKeyMaterial');
      expect(calls.map((c) => [c.status, c.errorType, c.applied])).toEqual([
        [0, 'ClientDisconnected', true],
        [200, undefined, true],
      ]);
      expect(double.key(arn)!.deletedMaterialIds).toHaveLength(1);

      // Without a timeout the latency is simply waited out.
      double.setLatency('DescribeKey', 300, { times: 1 });
      const t0 = Date.now();
      await kms.send(new DescribeKeyCommand({ KeyId: arn }));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    });
  });

  describe('deny rules', () => {
    it('an implicit deny yields AccessDeniedException with an AWS-style message, is not retried and changes nothing', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      double.deny({ op: 'DeleteImportedKeyMaterial' });
      const err = await rejection(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn.split('/')[1] })));
      expect(err.name).toBe('AccessDeniedException');
      expect(err.$metadata.httpStatusCode).toBe(400);
      expect(err.$metadata.attempts).toBe(1);
      expect(err.message).toBe(
        `User: arn:aws:iam::${ACCOUNT}:user/AKIDTEST is not authorized to perform: kms:DeleteImportedKeyMaterial on resource: ${arn} because no identity-based policy allows the kms:DeleteImportedKeyMaterial action`,
      );
      expect(double.key(arn)!.state).toBe('Enabled');
      // Other operations are not denied.
      await kms.send(new DescribeKeyCommand({ KeyId: arn }));
    });

    it('rules can be scoped to an access key and a key, and can model an SCP explicit deny', async () => {
      const a = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      const b = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      double.setPrincipal('AKIDOTHER', { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Deployer/session` });
      double.deny({ accessKeyId: 'AKIDOTHER', keyArn: a, policy: 'scp' });
      const other = kmsClient({ credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'y' } });

      const err = await rejection(other.send(new DeleteImportedKeyMaterialCommand({ KeyId: a })));
      expect(err.message).toBe(
        `User: arn:aws:sts::${ACCOUNT}:assumed-role/Deployer/session is not authorized to perform: kms:DeleteImportedKeyMaterial on resource: ${a} with an explicit deny in a service control policy`,
      );
      await other.send(new DeleteImportedKeyMaterialCommand({ KeyId: b }));
      await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: a }));
      expect(double.callsTo('DeleteImportedKeyMaterial').map((c) => [c.accessKeyId, c.status])).toEqual([
        ['AKIDOTHER', 400],
        ['AKIDOTHER', 200],
        ['AKIDTEST', 200],
      ]);

      double.clearFaults();
      const c = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      await other.send(new DeleteImportedKeyMaterialCommand({ KeyId: c }));
    });
  });

  describe('policy evaluation (enforcePolicies)', () => {
    // Modelled on the AWS KMS Developer Guide ("KMS key access and permissions", "Key policies in
    // AWS KMS", "Default key policy", "Determining access to an AWS KMS key") and the IAM User
    // Guide ("Troubleshoot access denied error messages"), not on any client of the double.
    const ROLE = `arn:aws:iam::${ACCOUNT}:role/RevocationHandler`;
    const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
    const DELETE = 'kms:DeleteImportedKeyMaterial';
    let role: KMSClient;

    const allow = (actions: string | string[], resources: string | string[], extra: object = {}) =>
      ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resources, ...extra }] });
    const keyPolicy = (...statements: object[]) => ({ Version: '2012-10-17', Statement: statements });
    const rootTrust = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' };
    const externalKey = (policy?: object) => double.addKey({ origin: 'EXTERNAL', importedMaterials: 1, keyPolicy: policy as any });
    const revoke = (client: KMSClient, arn: string) => client.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
    const denial = (arn: string, action: string, why: string) =>
      `User: ${ROLE} is not authorized to perform: ${action} on resource: ${arn} ${why}`;

    beforeEach(() => {
      double.setPrincipal('AKIDROLE', { arn: ROLE });
      double.enforcePolicies();
      role = kmsClient({ credentials: { accessKeyId: 'AKIDROLE', secretAccessKey: 'r' } });
    });

    it('a key policy that allows the principal directly is enough, without any IAM policy', async () => {
      const arn = externalKey(keyPolicy({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: DELETE, Resource: '*' }));
      await revoke(role, arn);
      expect(double.key(arn)!.state).toBe('PendingImport');
      // Only the actions it names: DescribeKey is not allowed by the key policy, and IAM cannot help (no root trust).
      const err = await rejection(role.send(new DescribeKeyCommand({ KeyId: arn })));
      expect(err.name).toBe('AccessDeniedException');
      expect(err.message).toBe(denial(arn, 'kms:DescribeKey', 'because no resource-based policy allows the kms:DescribeKey action'));
    });

    it('keys without a key policy get the default one (root trust, kms:*): an IAM policy on the key ARN allows', async () => {
      const arn = externalKey();
      expect(double.keyPolicy(arn)).toEqual(keyPolicy(rootTrust));
      double.setIdentityPolicies(ROLE, [allow([DELETE, 'kms:DescribeKey'], arn)]);
      await role.send(new DescribeKeyCommand({ KeyId: arn }));
      await revoke(role, arn);
      expect(double.key(arn)!.state).toBe('PendingImport');
      expect(double.evaluateAccess(ROLE, DELETE, arn)).toMatchObject({ allowed: true, via: 'iam' });
    });

    it('root trust as the bare account ID also enables IAM policies', async () => {
      const arn = externalKey(keyPolicy({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' }));
      double.setIdentityPolicies(ROLE, [allow(DELETE, arn)]);
      await revoke(role, arn);
    });

    it('root trust without an IAM policy that allows the action on this key is denied (identity-based)', async () => {
      const arn = externalKey();
      const other = externalKey();
      double.setIdentityPolicies(ROLE, [allow(DELETE, other), allow('kms:DescribeKey', arn)]);
      const err = await rejection(revoke(role, arn));
      expect(err.name).toBe('AccessDeniedException');
      expect(err.$metadata.httpStatusCode).toBe(400);
      expect(err.message).toBe(denial(arn, DELETE, `because no identity-based policy allows the ${DELETE} action`));
      expect(double.key(arn)!.state).toBe('Enabled');
      await revoke(role, other);
    });

    it('an IAM allow has no effect when the key policy neither trusts the account nor names the principal', async () => {
      const arn = externalKey(keyPolicy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/Admin` }, Action: 'kms:*', Resource: '*' }));
      double.setIdentityPolicies(ROLE, [allow('kms:*', '*')]);
      const err = await rejection(revoke(role, arn));
      expect(err.message).toBe(denial(arn, DELETE, `because no resource-based policy allows the ${DELETE} action`));
      // Root trust limited to other actions does not enable IAM for this one either.
      const limited = externalKey(keyPolicy({ ...rootTrust, Action: ['kms:Describe*', 'kms:List*'] }));
      await role.send(new DescribeKeyCommand({ KeyId: limited }));
      expect((await rejection(revoke(role, limited))).message).toContain('because no resource-based policy allows');
    });

    it('an explicit deny wins over every allow: in an identity policy, in the key policy, or naming the account', async () => {
      const direct = { Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:*', Resource: '*' };
      const a = externalKey(keyPolicy(rootTrust, direct));
      double.setIdentityPolicies(ROLE, [allow('kms:*', '*'), { Statement: { Effect: 'Deny', Action: DELETE, Resource: a } }]);
      expect((await rejection(revoke(role, a))).message).toBe(denial(a, DELETE, 'with an explicit deny in an identity-based policy'));

      double.setIdentityPolicies(ROLE, [allow('kms:*', '*')]);
      const b = externalKey(keyPolicy(rootTrust, direct, { Effect: 'Deny', Principal: { AWS: ROLE }, Action: 'kms:Delete*', Resource: '*' }));
      expect((await rejection(revoke(role, b))).message).toBe(denial(b, DELETE, 'with an explicit deny in a resource-based policy'));

      const c = externalKey(keyPolicy(rootTrust, { Effect: 'Deny', Principal: { AWS: ROOT }, Action: DELETE, Resource: '*' }));
      expect((await rejection(revoke(role, c))).message).toBe(denial(c, DELETE, 'with an explicit deny in a resource-based policy'));

      const d = externalKey(keyPolicy(rootTrust, { Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }));
      expect((await rejection(role.send(new DescribeKeyCommand({ KeyId: d })))).message).toContain('with an explicit deny in a resource-based policy');
      for (const arn of [a, b, c, d]) expect(double.key(arn)!.state).toBe('Enabled');
    });

    it('actions match case-insensitively with * and ? wildcards; resources with wildcards, case-sensitively', async () => {
      const arn = externalKey();
      const keyId = arn.split('/')[1];
      const decide = (policies: object[]) => {
        double.setIdentityPolicies(ROLE, policies as any);
        return double.evaluateAccess(ROLE, DELETE, arn).allowed;
      };
      expect(decide([allow('KMS:deleteimported*', `arn:aws:kms:*:${ACCOUNT}:key/*`)])).toBe(true);
      expect(decide([allow('kms:DeleteImportedKeyMateria?', `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId.slice(0, 8)}*`)])).toBe(true);
      expect(decide([allow('kms:*', 'arn:aws:kms:*')])).toBe(true);
      expect(decide([allow('*', '*')])).toBe(true);
      expect(decide([{ Statement: [{ Effect: 'Allow', NotAction: 'kms:Encrypt', Resource: arn }] }])).toBe(true);
      expect(decide([{ Statement: [{ Effect: 'Allow', NotAction: 'kms:Delete*', Resource: arn }] }])).toBe(false);
      expect(decide([allow('kms:Delete', arn)])).toBe(false);
      expect(decide([allow('kms:DeleteImportedKeyMaterial?', arn)])).toBe(false);
      expect(decide([allow(DELETE, 'arn:aws:kms:*:999999999999:key/*')])).toBe(false);
      expect(decide([allow(DELETE, arn.toUpperCase())])).toBe(false);
      expect(decide([allow(DELETE, `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`)])).toBe(false);
      // Over HTTP too.
      double.setIdentityPolicies(ROLE, [allow('kms:Delete*', `arn:aws:kms:${REGION}:${ACCOUNT}:key/*`)]);
      await revoke(role, arn);
    });

    it('GUESS: a statement with a condition that is not modelled is treated as not matching', async () => {
      const arn = externalKey();
      double.setIdentityPolicies(ROLE, [allow(DELETE, arn, { Condition: { StringEquals: { 'aws:PrincipalTag/team': 'x' } } })]);
      expect((await rejection(revoke(role, arn))).message).toContain('because no identity-based policy allows');
      // Nor is an operator that is not modelled, on the one key that is.
      double.setIdentityPolicies(ROLE, [allow(DELETE, arn, { Condition: { ArnEqualsIfExists: { 'aws:PrincipalArn': ROLE } } })]);
      expect(double.evaluateAccess(ROLE, DELETE, arn).allowed).toBe(false);
    });

    it('aws:PrincipalArn conditions: ArnEquals/ArnLike/StringEquals/StringLike, every key and operator must hold, any value may', () => {
      // Root trust that only the handler's role may use: IAM policies then decide for that role alone.
      const delegating = (condition: object) => externalKey(keyPolicy(
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/KeyAdministrator` }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Allow', Principal: { AWS: ROOT }, Action: DELETE, Resource: '*', Condition: condition },
      ));
      const decide = (condition: object, principal = ROLE) => {
        const arn = delegating(condition);
        double.setIdentityPolicies(principal, [allow(DELETE, arn)]);
        return double.evaluateAccess(principal, DELETE, arn).allowed;
      };
      expect(decide({ ArnEquals: { 'aws:PrincipalArn': ROLE } })).toBe(true);
      expect(decide({ ArnEquals: { 'aws:PrincipalArn': ROLE } }, `arn:aws:iam::${ACCOUNT}:role/Other`)).toBe(false);
      // ARN operators match each of the six components on its own, with wildcards, ArnEquals too.
      expect(decide({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/Revocation*` } })).toBe(true);
      expect(decide({ ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/RevocationHandle?' } })).toBe(true);
      expect(decide({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:*' } })).toBe(false); // a * does not span components
      expect(decide({ ArnLike: { 'aws:PrincipalArn': 'arn:*:*:*:*:*' } })).toBe(true);
      expect(decide({ ArnLike: { 'aws:PrincipalArn': 'RevocationHandler' } })).toBe(false);
      // Negated operators: the value matches none of the values.
      expect(decide({ ArnNotEquals: { 'aws:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:role/Admin`, 'arn:aws:iam::*:role/Other'] } })).toBe(true);
      expect(decide({ ArnNotLike: { 'aws:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:role/Admin`, 'arn:aws:iam::*:role/Revocation*'] } })).toBe(false);
      expect(decide({ StringNotEquals: { 'aws:PrincipalArn': ROLE } })).toBe(false);
      expect(decide({ StringNotLike: { 'aws:PrincipalArn': '*:role/Admin' } })).toBe(true);
      expect(decide({ StringEquals: { 'AWS:PrincipalARN': ROLE } })).toBe(true); // key names are not case-sensitive
      expect(decide({ StringLike: { 'aws:PrincipalArn': ['arn:aws:iam::*:role/Nobody', `arn:aws:iam::${ACCOUNT}:role/*Handler`] } })).toBe(true);
      expect(decide({ StringEquals: { 'aws:PrincipalArn': ROLE.toLowerCase() } })).toBe(false); // values are
      expect(decide({ ArnEquals: { 'aws:PrincipalArn': ROLE }, StringEquals: { 'aws:PrincipalTag/team': 'x' } })).toBe(false);
      expect(decide({ ArnEquals: { 'aws:PrincipalArn': ROLE, 'aws:SourceVpc': 'vpc-1' } })).toBe(false);
      // The condition enables IAM for the role; it grants nothing by itself.
      const arn = delegating({ ArnEquals: { 'aws:PrincipalArn': ROLE } });
      double.setIdentityPolicies(ROLE, []);
      expect(double.evaluateAccess(ROLE, DELETE, arn)).toMatchObject({ allowed: false, deniedBy: 'identity' });
    });

    it('a Deny of everyone but the administrator (ArnNotEquals aws:PrincipalArn) denies the role, and not the administrator', () => {
      const admin = `arn:aws:iam::${ACCOUNT}:role/KeyAdministrator`;
      const arn = externalKey(keyPolicy(
        { Effect: 'Allow', Principal: { AWS: [admin, ROLE] }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Deny', Principal: '*', Action: DELETE, Resource: '*', Condition: { ArnNotEquals: { 'aws:PrincipalArn': admin } } },
      ));
      expect(double.evaluateAccess(ROLE, DELETE, arn)).toMatchObject({ allowed: false, deniedBy: 'explicit-key-policy' });
      expect(double.evaluateAccess(admin, DELETE, arn)).toMatchObject({ allowed: true, via: 'key-policy' });
    });

    it('aws:PrincipalArn of an assumed-role session is its role\'s ARN, in a key-policy condition', async () => {
      double.setPrincipal('ASIASESSION', { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/RevocationHandler/my-function` });
      const session = kmsClient({ credentials: { accessKeyId: 'ASIASESSION', secretAccessKey: 's', sessionToken: 't' } });
      const arn = externalKey(keyPolicy({ Effect: 'Allow', Principal: { AWS: ROOT }, Action: DELETE, Resource: '*', Condition: { ArnEquals: { 'aws:PrincipalArn': ROLE } } }));
      double.setIdentityPolicies(ROLE, [allow(DELETE, arn)]);
      await revoke(session, arn);
      expect(double.key(arn)!.state).toBe('PendingImport');
      const denied = externalKey(keyPolicy({ Effect: 'Allow', Principal: { AWS: ROOT }, Action: DELETE, Resource: '*', Condition: { ArnEquals: { 'aws:PrincipalArn': `${ROLE}2` } } }));
      double.setIdentityPolicies(ROLE, [allow(DELETE, denied)]);
      expect((await rejection(revoke(session, denied))).message).toContain('because no resource-based policy allows');
    });

    it('an assumed-role session is covered by its role ARN, in the key policy and for the role\'s IAM policies', async () => {
      double.setPrincipal('ASIASESSION', { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/RevocationHandler/my-function` });
      const session = kmsClient({ credentials: { accessKeyId: 'ASIASESSION', secretAccessKey: 's', sessionToken: 't' } });
      const direct = externalKey(keyPolicy({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: DELETE, Resource: '*' }));
      await revoke(session, direct);
      const viaIam = externalKey();
      double.setIdentityPolicies(ROLE, [allow(DELETE, viaIam)]);
      await revoke(session, viaIam);
      const other = externalKey();
      const err = await rejection(revoke(session, other));
      expect(err.message).toBe(
        `User: arn:aws:sts::${ACCOUNT}:assumed-role/RevocationHandler/my-function is not authorized to perform: ${DELETE} on resource: ${other} because no identity-based policy allows the ${DELETE} action`,
      );
    });

    it('unmapped principals are unaffected, and nothing is evaluated while enforcement is off', async () => {
      const arn = externalKey(keyPolicy({ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }));
      await kms.send(new DescribeKeyCommand({ KeyId: arn })); // AKIDTEST is not mapped
      double.enforcePolicies(false);
      await role.send(new DescribeKeyCommand({ KeyId: arn }));
      double.enforcePolicies(true);
      expect((await rejection(role.send(new DescribeKeyCommand({ KeyId: arn })))).name).toBe('AccessDeniedException');
      // Deny rules still apply to unmapped principals.
      double.deny({ op: 'DescribeKey', accessKeyId: 'AKIDTEST' });
      expect((await rejection(kms.send(new DescribeKeyCommand({ KeyId: arn })))).name).toBe('AccessDeniedException');
    });

    it('a key that does not exist is NotFoundException, not AccessDenied; CreateKey keeps the Policy it was given', async () => {
      const missing = `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000`;
      expect((await rejection(revoke(role, missing))).name).toBe('NotFoundException');
      const policy = keyPolicy({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:DescribeKey', Resource: '*' });
      const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Policy: JSON.stringify(policy) }));
      expect(double.keyPolicy(created.KeyMetadata!.Arn!)).toEqual(policy);
      await role.send(new DescribeKeyCommand({ KeyId: created.KeyMetadata!.KeyId }));
    });
  });

  describe('wire level', () => {
    const post = (target: string, body: object, auth = true): Promise<Response> =>
      fetch(double.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': target,
          ...(auth ? { authorization: `AWS4-HMAC-SHA256 Credential=AKIDRAW/20250101/${REGION}/kms/aws4_request, SignedHeaders=host, Signature=00` } : {}),
        },
        body: JSON.stringify(body),
      });

    it('an unknown X-Amz-Target -> 400 {"__type":"UnknownOperationException"} and the call is recorded', async () => {
      const res = await post('TrentService.FrobnicateKey', {});
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.1');
      expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
      expect(((await res.json()) as { __type: string }).__type).toBe('UnknownOperationException');
      expect(double.calls[0]).toMatchObject({ op: 'FrobnicateKey', status: 400, errorType: 'UnknownOperationException', accessKeyId: 'AKIDRAW', region: REGION });
    });

    it('a request without a SigV4 Authorization header -> MissingAuthenticationTokenException', async () => {
      const res = await post('TrentService.DescribeKey', { KeyId: 'x' }, false);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    });

    it('the SDK reaches the double through AWS_ENDPOINT_URL_KMS without an explicit endpoint', async () => {
      const arn = double.addKey({ origin: 'EXTERNAL', importedMaterials: 1 });
      const saved = process.env.AWS_ENDPOINT_URL_KMS;
      process.env.AWS_ENDPOINT_URL_KMS = double.endpoint;
      try {
        const viaEnv = new KMSClient({ region: REGION, credentials: CREDS });
        clients.push(viaEnv);
        await viaEnv.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }));
      } finally {
        if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_KMS;
        else process.env.AWS_ENDPOINT_URL_KMS = saved;
      }
      expect(double.key(arn)!.state).toBe('PendingImport');
      expect(double.callsTo('DeleteImportedKeyMaterial')[0].request).toEqual({ KeyId: arn });
    });

    it('stop() closes kept-alive connections: later calls fail to connect instead of hanging', async () => {
      const arn = double.addKey();
      const noRetry = kmsClient({ maxAttempts: 1 });
      await noRetry.send(new DescribeKeyCommand({ KeyId: arn }));
      const stopped = Date.now();
      await double.stop();
      expect(Date.now() - stopped).toBeLessThan(500);
      // Let the client's agent observe the closed keep-alive socket, then nothing listens any more.
      await new Promise((r) => setTimeout(r, 50));
      const err = await rejection(noRetry.send(new DescribeKeyCommand({ KeyId: arn })));
      // The SDK wraps non-service errors ("AWS SDK error wrapper for Error: connect ECONNREFUSED ...").
      expect(err.message).toMatch(/ECONNREFUSED/);
    });
  });
});

describe('KmsDouble: multi-Region keys (LIFECYCLE M1), keys per Region as the SigV4 scope names it', () => {
  let double: KmsDouble;
  const clients: KMSClient[] = [];
  const inRegion = (region: string): KMSClient => {
    const c = new KMSClient({ region, endpoint: double.endpoint, credentials: CREDS, maxAttempts: 1 });
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    double = await KmsDouble.start({ defaultAccount: ACCOUNT, defaultRegion: REGION });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await double.stop();
  });

  it('replicateKey() makes a replica with the same mrk- key ID in another Region; DescribeKey shows MultiRegionConfiguration from every Region', async () => {
    const primary = double.addKey({ origin: 'EXTERNAL', multiRegion: true, importedMaterials: 2 });
    const keyId = primary.split('/')[1];
    expect(keyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    const east = double.replicateKey(primary, 'us-east-1');
    const south = double.replicateKey(primary, 'ap-south-1');
    expect(east).toBe(`arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`);
    const fromPrimary = (await inRegion(REGION).send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(fromPrimary.MultiRegion).toBe(true);
    expect(fromPrimary.MultiRegionConfiguration).toEqual({
      MultiRegionKeyType: 'PRIMARY',
      PrimaryKey: { Arn: primary, Region: REGION },
      ReplicaKeys: [{ Arn: east, Region: 'us-east-1' }, { Arn: south, Region: 'ap-south-1' }],
    });
    // The key ID alone finds the key of the request's Region.
    const fromReplica = (await inRegion('us-east-1').send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(fromReplica.Arn).toBe(east);
    expect(fromReplica.MultiRegionConfiguration?.MultiRegionKeyType).toBe('REPLICA');
    expect(fromReplica.MultiRegionConfiguration?.PrimaryKey).toEqual({ Arn: primary, Region: REGION });
    expect(fromReplica.MultiRegionConfiguration?.ReplicaKeys).toContainEqual({ Arn: east, Region: 'us-east-1' });
    expect(fromReplica.Origin).toBe('EXTERNAL');
    // Same material IDs, imported into the replica as the user would.
    expect(double.key(east)!.materials.map((m) => m.id)).toEqual(double.key(primary)!.materials.map((m) => m.id));
    expect(double.key(east)!.state).toBe('Enabled');
    expect(double.key(east)!.multiRegionKeyType).toBe('REPLICA');
    expect(double.key(primary)!.replicaArns).toEqual([east, south]);
    // A single-Region key has no MultiRegionConfiguration.
    const single = double.addKey({ origin: 'EXTERNAL' });
    const plain = (await inRegion(REGION).send(new DescribeKeyCommand({ KeyId: single }))).KeyMetadata!;
    expect(plain.MultiRegion).toBe(false);
    expect(plain.MultiRegionConfiguration).toBeUndefined();
  });

  it('material is per Region: DeleteImportedKeyMaterial in one Region leaves the primary and the other replicas usable', async () => {
    const primary = double.addKey({ origin: 'EXTERNAL', multiRegion: true, importedMaterials: 1 });
    const east = double.replicateKey(primary, 'us-east-1');
    const south = double.replicateKey(primary, 'ap-south-1');
    await inRegion('us-east-1').send(new DeleteImportedKeyMaterialCommand({ KeyId: east }));
    expect(double.key(east)!.state).toBe('PendingImport');
    expect(double.key(primary)!.state).toBe('Enabled');
    expect(double.key(south)!.state).toBe('Enabled');
    // A key ARN of another Region is not found at this Region's endpoint.
    const err = await rejection(inRegion(REGION).send(new DeleteImportedKeyMaterialCommand({ KeyId: south })));
    expect(err).toBeInstanceOf(NotFoundException);
    await inRegion('ap-south-1').send(new DeleteImportedKeyMaterialCommand({ KeyId: south.split('/')[1] }));
    expect(double.key(south)!.state).toBe('PendingImport');
    expect(double.key(primary)!.state).toBe('Enabled');
    // Calls carry the Region they were signed for.
    expect(double.callsTo('DeleteImportedKeyMaterial').map((c) => c.region)).toEqual(['us-east-1', REGION, 'ap-south-1']);
  });

  it('ReplicateKey over the wire: an EXTERNAL replica starts PendingImport; the same material imported makes it Enabled', async () => {
    const primary = double.addKey({ origin: 'EXTERNAL', multiRegion: true, importedMaterials: 1 });
    const out = await inRegion(REGION).send(new ReplicateKeyCommand({ KeyId: primary, ReplicaRegion: 'eu-central-1', Description: 'replica' }));
    const replica = out.ReplicaKeyMetadata!.Arn!;
    expect(replica).toBe(primary.replace(REGION, 'eu-central-1'));
    expect(out.ReplicaKeyMetadata!.KeyState).toBe('PendingImport');
    expect(out.ReplicaKeyMetadata!.MultiRegionConfiguration?.MultiRegionKeyType).toBe('REPLICA');
    expect(JSON.parse(out.ReplicaPolicy!).Statement).toBeDefined();
    const [material] = double.key(primary)!.materials;
    expect(double.key(replica)!.materials).toEqual([expect.objectContaining({ id: material.id, importState: 'PENDING_IMPORT' })]);
    double.importMaterial(replica, { keyMaterialId: material.id });
    expect(double.key(replica)!.state).toBe('Enabled');
    // The primary lists it; a second replica in the same Region, a replica of a replica and a single-Region key are refused.
    expect((await inRegion(REGION).send(new DescribeKeyCommand({ KeyId: primary }))).KeyMetadata!.MultiRegionConfiguration!.ReplicaKeys)
      .toEqual([{ Arn: replica, Region: 'eu-central-1' }]);
    expect((await rejection(inRegion(REGION).send(new ReplicateKeyCommand({ KeyId: primary, ReplicaRegion: 'eu-central-1' })))).name)
      .toBe('AlreadyExistsException');
    expect((await rejection(inRegion('eu-central-1').send(new ReplicateKeyCommand({ KeyId: replica, ReplicaRegion: 'us-west-2' })))).name)
      .toBe('UnsupportedOperationException');
    const single = double.addKey({ origin: 'EXTERNAL' });
    expect((await rejection(inRegion(REGION).send(new ReplicateKeyCommand({ KeyId: single, ReplicaRegion: 'us-west-2' })))).name)
      .toBe('UnsupportedOperationException');
    expect(() => double.replicateKey(single, 'us-west-2')).toThrow(/not a multi-Region key/);
  });

  it('replicateKey({ importMaterial: false }) leaves the replica without material: nothing to revoke there', () => {
    const primary = double.addKey({ origin: 'EXTERNAL', multiRegion: true, importedMaterials: 2 });
    const replica = double.replicateKey(primary, 'us-west-2', { importMaterial: false });
    expect(double.key(replica)!.state).toBe('PendingImport');
    expect(double.key(replica)!.materials.every((m) => m.importState === 'PENDING_IMPORT')).toBe(true);
  });
});
