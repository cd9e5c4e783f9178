/**
 * Issue 13: a stack deployed with contract version 1 (every property written out) upgraded to a
 * template of version 2 (properties at their default left out), played on the wire through the
 * shipped bundle: the upgrade is an in-place update with the same physical IDs that revokes
 * nothing (L8), and the upgraded stack still revokes on deletion as its defaults say (L6).
 */
import { Stack } from 'aws-cdk-lib';
import { PROPERTY_DEFAULTS } from '../../lib/contract';
import { KeyMaterialRevocation, KeyMaterialScope } from '../../lib/index';
import { Template } from './assembly';
import { REVOCATION_TYPE } from './engine';
import { externalKey } from './scenarios';
import { TestBed } from './testbed';

/** The template as an earlier version of the construct wrote it: version 1, every property given. */
function asVersion1(template: Template): Template {
  const copy = JSON.parse(JSON.stringify(template)) as Template;
  for (const r of Object.values(copy.Resources)) {
    if (r.Type === REVOCATION_TYPE) r.Properties = { ...PROPERTY_DEFAULTS, ...r.Properties, ContractVersion: '1' };
  }
  return copy;
}

describe('issue 13: upgrading a version-1 stack to contract version 2', () => {
  let bed: TestBed;
  afterAll(async () => { await bed?.stop(); });

  test('L8/L6: the upgrade updates each revocation in place and revokes nothing; the stack deletion then revokes by the defaults', async () => {
    bed = await TestBed.start((stack: Stack) => {
      new KeyMaterialRevocation(stack, 'Defaults', { key: externalKey(stack, 'KeyA') });
      new KeyMaterialRevocation(stack, 'Quiet', { key: externalKey(stack, 'KeyB'), revokeOnStackDelete: false, materialScope: KeyMaterialScope.CURRENT });
    });
    const defaults = bed.logicalId(REVOCATION_TYPE, 'Defaults');
    const quiet = bed.logicalId(REVOCATION_TYPE, 'Quiet');
    // The construct leaves the defaults out; the version-1 template had them.
    expect(bed.template.Resources[defaults].Properties).not.toHaveProperty('RevokeOnStackDelete');
    expect(bed.template.Resources[quiet].Properties).toMatchObject({ RevokeOnStackDelete: 'false', MaterialScope: 'CURRENT' });

    await bed.engine.create(asVersion1(bed.template));
    expect(bed.engine.status).toBe('CREATE_COMPLETE');
    const keyA = bed.keyArn(bed.logicalId('AWS::KMS::Key', 'KeyA'));
    const keyB = bed.keyArn(bed.logicalId('AWS::KMS::Key', 'KeyB'));
    const before = new Map([defaults, quiet].map((id) => [id, bed.engine.resources.get(id)!.physicalId]));

    await bed.engine.update(bed.template);
    expect(bed.engine.status).toBe('UPDATE_COMPLETE');
    const updates = bed.engine.answers.filter((a) => a.requestType === 'Update');
    expect(updates.map((a) => [a.logicalId, a.responseStatus, a.physicalId]).sort())
      .toEqual([[defaults, 'SUCCESS', before.get(defaults)], [quiet, 'SUCCESS', before.get(quiet)]].sort());
    expect(bed.engine.answers.filter((a) => a.requestType === 'Delete')).toEqual([]);
    expect(bed.kms.callsTo('DeleteImportedKeyMaterial')).toEqual([]);

    await bed.engine.deleteStack();
    expect(bed.engine.status).toBe('DELETE_COMPLETE');
    const revoked = new Set(bed.kms.callsTo('DeleteImportedKeyMaterial').filter((c) => c.status === 200).map((c) => c.request.KeyId));
    expect(revoked).toEqual(new Set([keyA]));
    expect(bed.kms.key(keyA)!.materials.map((m) => m.importState)).not.toContain('IMPORTED');
    expect(bed.kms.key(keyB)!.materials.map((m) => m.importState)).toEqual(['IMPORTED', 'IMPORTED']);
  }, 120_000);
});
