/**
 * The decision rules as a table: observed facts in, decision out (lambda/decide.ts). Each row of
 * LIFECYCLE.md that the rules decide is a row here; the same rows are played over the wire in
 * test/lifecycle. Facts a row leaves out must not be needed: the function asks for them instead,
 * and a row that expects an answer fails if the function asks.
 */
import { CONTRACT_VERSION, RevocationProperties } from '../../lib/contract';
import { Decision, decide, Facts, LiveResource, parsePhysicalId, physicalIdFor, sameKey, StackFacts } from '../../lambda/decide';

const ACCOUNT = '111111111111';
const STACK = `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/Root/11111111-1111-1111-1111-111111111111`;
const NESTED = `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/Root-Inner-ABC/22222222-2222-2222-2222-222222222222`;
const NESTED2 = `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/Root-Inner-ABC-Deep-XYZ/33333333-3333-3333-3333-333333333333`;
const RENAMED_NESTED = `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/Root-Renamed-DEF/44444444-4444-4444-4444-444444444444`;
const KEY_A = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const KEY_B = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`;
const LOGICAL = 'Revocation2857AF0C';
const KEY_LOGICAL = 'ByokKeyD50A60B7';
const TYPE = 'Custom::KmsKeyMaterialRevocation';

function props(o: Partial<RevocationProperties> = {}): RevocationProperties {
  return {
    KeyArn: KEY_A, KeyLogicalId: '', RevokeOnStackDelete: 'true', RevokeOnKeyReplacement: 'true', RevokeOnRemoval: 'false',
    Revoked: 'false', MaterialScope: 'ALL', ContractVersion: CONTRACT_VERSION, ...o,
  };
}

const flat = (status: string): StackFacts[] => [{ stackId: STACK, status }];
const nested = (own: string, ...ancestors: string[]): StackFacts[] =>
  [{ stackId: NESTED, status: own }, ...ancestors.map((status, i) => ({ stackId: i === ancestors.length - 1 ? STACK : `${NESTED}-parent${i}`, status }))];

/**
 * A Delete. Unless a row says otherwise, the stack shows what CloudFormation shows while it sends
 * a genuine Delete: the resource DELETE_IN_PROGRESS under the event's physical ID, and (in a
 * replacement's cleanup) that deletion in the stack's events.
 */
function del(o: Partial<Facts> = {}): Facts {
  const physicalId = o.physicalId ?? physicalIdFor(KEY_A, false);
  const p = o.props ?? props();
  // While a stack is deleted, its template in force is the one that has this resource, as the request says.
  const deleting = o.lineage?.[0]?.status === 'DELETE_IN_PROGRESS' && !('template' in o);
  return {
    requestType: 'Delete', logicalId: LOGICAL, physicalId, props: p,
    resource: { status: 'DELETE_IN_PROGRESS', physicalId }, deletionEvent: true,
    ...(deleting ? { template: templateOf(p) } : {}), ...o,
  };
}

/** A template whose revocation resource has these properties (the key by its literal ARN). */
function templateOf(p: RevocationProperties, logicalId = LOGICAL): Facts['template'] {
  return { [logicalId]: { Type: TYPE, Properties: { ...p } } };
}

const creating = { resource: { status: 'CREATE_IN_PROGRESS' }, template: templateOf(props({ Revoked: 'true' })) };

const live = (logicalId: string, physicalId: string, o: Partial<LiveResource> = {}): LiveResource =>
  ({ stackId: STACK, logicalId, physicalId, type: TYPE, status: 'UPDATE_COMPLETE', ...o });

type Expected =
  | { revoke: string[]; decision?: string; reason?: RegExp; physicalId?: string; validate?: string }
  | { skip: RegExp; physicalId?: string; validate?: string }
  | { fail: RegExp }
  | { need: string };

/** KEY_A as ListStackResources shows it in `stackId` under `logicalId` (a key is listed by its key ID). */
const keyA = (logicalId = KEY_LOGICAL, stackId = STACK): LiveResource =>
  ({ stackId, logicalId, physicalId: keyIdOf(KEY_A), type: 'AWS::KMS::Key', status: 'UPDATE_COMPLETE' });
function keyIdOf(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

function prechecks(decision: Decision): string[] {
  return decision.kind === 'answer' ? (decision.precheck ?? []).map((t) => t.keyArn) : [];
}

function check(decision: Decision, expected: Expected): void {
  if ('need' in expected) {
    expect(decision).toEqual({ kind: 'need', fact: expected.need });
    return;
  }
  if ('fail' in expected) {
    expect(decision.kind).toBe('fail');
    expect((decision as { reason: string }).reason).toMatch(expected.fail);
    return;
  }
  expect(decision.kind).toBe('answer');
  const a = decision as Extract<Decision, { kind: 'answer' }>;
  if ('skip' in expected) {
    expect(a.revoke).toEqual([]);
    expect(a.reason).toMatch(expected.skip);
  } else {
    expect(a.revoke.map((t) => t.keyArn)).toEqual(expected.revoke);
    if (expected.reason) expect(a.reason).toMatch(expected.reason);
    if (expected.decision) expect(a.decision).toBe(expected.decision);
  }
  if (expected.physicalId) expect(a.physicalId).toBe(expected.physicalId);
  if ('validate' in expected) expect(a.validate).toBe(expected.validate);
}

const ROWS: Array<[string, Facts, Expected]> = [
  // ---- Create ----
  ['L1: a create validates the key and revokes nothing, physical ID from the key ARN',
    { requestType: 'Create', logicalId: LOGICAL, props: props() },
    { skip: /nothing revoked on create/, physicalId: `kms-key-material-revocation:${KEY_A}`, validate: KEY_A }],
  ['L14: a create with the switch on asks for the stack statuses first',
    { requestType: 'Create', logicalId: LOGICAL, props: props({ Revoked: 'true' }) }, { need: 'lineage' }],
  ['L14: a create with the switch on revokes during the create, with the revoked physical ID',
    { requestType: 'Create', logicalId: LOGICAL, props: props({ Revoked: 'true' }), lineage: flat('CREATE_IN_PROGRESS'), ...creating },
    { revoke: [KEY_A], physicalId: `kms-key-material-revocation-revoked:${KEY_A}`, validate: KEY_A }],
  ['L14/L20: a create with the switch on during a rollback revokes nothing',
    { requestType: 'Create', logicalId: LOGICAL, props: props({ Revoked: 'true' }), lineage: flat('UPDATE_ROLLBACK_IN_PROGRESS') },
    { skip: /rollbacks never revoke/ }],
  ['L14/L23: a create with the switch on in a nested stack whose root rolls back revokes nothing',
    { requestType: 'Create', logicalId: LOGICAL, props: props({ Revoked: 'true' }), lineage: nested('CREATE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS') },
    { skip: /rollbacks never revoke/ }],
  ['L21: a create with the switch on whose stack status cannot be read fails',
    { requestType: 'Create', logicalId: LOGICAL, props: props({ Revoked: 'true' }), unreadable: { lineage: 'DescribeStacks was denied' } },
    { fail: /DescribeStacks was denied.*does not guess/ }],

  // ---- Update ----
  ['L8: an in-place update of another property keeps the physical ID and reads nothing',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: 'kept-as-is', props: props({ MaterialScope: 'CURRENT' }), oldProps: props() },
    { skip: /in-place/, physicalId: 'kept-as-is' }],
  ['L9: an update to another key validates the new key, answers a new physical ID, revokes nothing',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), props: props({ KeyArn: KEY_B }), oldProps: props(), lineage: flat('UPDATE_IN_PROGRESS') },
    { skip: /dealt with in the cleanup/, physicalId: physicalIdFor(KEY_B, false), validate: KEY_B }],
  ['L10/L11: an update rollback back to the old key neither validates nor revokes',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_B, false), props: props(), oldProps: props({ KeyArn: KEY_B }), lineage: flat('UPDATE_ROLLBACK_IN_PROGRESS') },
    { skip: /rollbacks never revoke/, physicalId: physicalIdFor(KEY_A, false), validate: undefined }],
  ['L9: an update to another key whose stack status cannot be read still validates (a read-only step)',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), props: props({ KeyArn: KEY_B }), oldProps: props(), unreadable: { lineage: 'denied' } },
    { skip: /dealt with in the cleanup/, validate: KEY_B }],
  ['L14: the switch turning on in an update revokes nothing yet, and answers the revoked physical ID',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), props: props({ Revoked: 'true' }), oldProps: props(), lineage: flat('UPDATE_IN_PROGRESS') },
    { skip: /revoked in the cleanup once the update has succeeded.*checked now what the cleanup will need/, physicalId: physicalIdFor(KEY_A, true) }],
  ['L14/L28: the switch turning on asks for the stack statuses first (a rollback must not check anything)',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), props: props({ Revoked: 'true' }), oldProps: props() },
    { need: 'lineage' }],
  ['L30: an update whose physical ID names another key than the old KeyArn fails',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_B, false), props: props({ Revoked: 'true' }), oldProps: props(), lineage: flat('UPDATE_IN_PROGRESS') },
    { fail: /contradicts itself/ }],
  ['L14: the switch staying on while the key changes revokes nothing in the update phase',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, true), props: props({ KeyArn: KEY_B, Revoked: 'true' }), oldProps: props({ Revoked: 'true' }), lineage: flat('UPDATE_IN_PROGRESS') },
    { skip: /revoked in the cleanup/, physicalId: physicalIdFor(KEY_B, true), validate: KEY_B }],
  ['L14: the switch turning off answers the plain physical ID and says re-import is the way back',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, true), props: props(), oldProps: props({ Revoked: 'true' }), lineage: flat('UPDATE_IN_PROGRESS') },
    { skip: /re-import/, physicalId: physicalIdFor(KEY_A, false) }],
  ['L8: a resource deployed with the switch on under the old physical ID keeps it on an in-place update',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), props: props({ Revoked: 'true', MaterialScope: 'CURRENT' }), oldProps: props({ Revoked: 'true' }) },
    { skip: /in-place/, physicalId: physicalIdFor(KEY_A, false) }],

  // ---- Delete: nothing to do ----
  ['L5: the Delete after this resource\'s own failed create reads nothing',
    del({ physicalId: 'kms-key-material-revocation-failed-create:req-1' }), { skip: /own create failed/ }],
  ['L30: a physical ID naming another key than KeyArn fails and revokes neither',
    del({ physicalId: physicalIdFor(KEY_B, false), lineage: flat('DELETE_IN_PROGRESS'), everStable: true }), { fail: /contradicts/ }],
  ['L30: a physical ID not of this handler\'s making names no key to revoke',
    del({ physicalId: 'something-else', lineage: flat('DELETE_IN_PROGRESS'), everStable: true }), { skip: /not made by this handler/ }],

  // ---- Delete: rollbacks ----
  ...(['ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', 'IMPORT_ROLLBACK_IN_PROGRESS']
    .map((s): [string, Facts, Expected] => [`L4/L10/L20: a Delete while the stack is ${s} revokes nothing`, del({ lineage: flat(s) }), { skip: /rollbacks never revoke/ }])),
  ['L23: a nested stack deleted while its root rolls back a create revokes nothing',
    del({ lineage: nested('DELETE_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS') }), { skip: /rollbacks never revoke/ }],
  ['L23: a nested stack deleted while a stack between rolls back an update revokes nothing (the root still updating)',
    del({ lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_IN_PROGRESS') }), { skip: /rollbacks never revoke/ }],
  ['L14: a rollback Delete after a revocation says re-import is the only way back',
    del({ physicalId: physicalIdFor(KEY_A, true), props: props({ Revoked: 'true' }), lineage: flat('ROLLBACK_IN_PROGRESS') }), { skip: /re-import/ }],

  // ---- Delete: stack deletion ----
  ['L6: stack deletion asks whether the stack ever became stable',
    del({ lineage: flat('DELETE_IN_PROGRESS') }), { need: 'history' }],
  ['L6: stack deletion of a stack that was once stable revokes the key',
    del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true }), { revoke: [KEY_A], reason: /stack deletion/ }],
  ['L7: stack deletion with revokeOnStackDelete off revokes nothing, without reading the history',
    del({ props: props({ RevokeOnStackDelete: 'false' }), lineage: flat('DELETE_IN_PROGRESS') }), { skip: /revokeOnStackDelete is off/ }],
  ['L25: deleting a stack that never reached a stable state (failed create, OnFailure=DELETE, --no-rollback, CDK CLI re-deploy) revokes nothing',
    del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: false }), { skip: /never reached a stable state/ }],
  ['L21/L25: a stack deletion whose history cannot be read fails',
    del({ lineage: flat('DELETE_IN_PROGRESS'), unreadable: { history: 'DescribeStackEvents was denied' } }), { fail: /DescribeStackEvents was denied/ }],
  ['L22: a nested stack deleted with its root revokes once the root was stable',
    del({ lineage: nested('DELETE_IN_PROGRESS', 'DELETE_IN_PROGRESS'), everStable: true }), { revoke: [KEY_A], reason: /root stack/ }],
  ['L22/L25: a nested stack deleted with a root that never became stable revokes nothing',
    del({ lineage: nested('DELETE_IN_PROGRESS', 'DELETE_IN_PROGRESS'), everStable: false }), { skip: /never reached a stable state/ }],
  ['L22/L7: a nested stack deleted with its root, revokeOnStackDelete off, revokes nothing',
    del({ props: props({ RevokeOnStackDelete: 'false' }), lineage: nested('DELETE_IN_PROGRESS', 'DELETE_IN_PROGRESS') }), { skip: /revokeOnStackDelete is off/ }],
  ['L21: a nested stack deleted while its root is still creating fails rather than guess',
    del({ lineage: nested('DELETE_IN_PROGRESS', 'CREATE_IN_PROGRESS') }), { fail: /neither revokes nor skips/ }],
  ['L21: a Delete in an unexpected stack status fails rather than guess',
    del({ lineage: flat('UPDATE_IN_PROGRESS') }), { fail: /neither a stack deletion/ }],
  ['L21: a Delete whose stack status cannot be read fails',
    del({ unreadable: { lineage: 'throttled' } }), { fail: /throttled/ }],

  // ---- Delete: nested stack removed by an update (L24) ----
  ['L24: a nested stack removed by a successful update, key defined in it: revoked with it',
    del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), ownResources: [keyA(KEY_LOGICAL, NESTED)], treeRevocations: [] }),
    { revoke: [KEY_A], reason: /together with its key/ }],
  ['L24: a nested stack removed, key defined in it: asks whether the stack still lists the key',
    del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS') }), { need: 'ownResources' }],
  ['L24/L27: a nested stack removed whose key a refactor had moved to another stack before the update: the key stays (L12)',
    del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), ownResources: [], treeRevocations: [] }),
    { skip: /no longer a resource of this stack.*revokeOnRemoval is off/ }],
  ['L24/L27: the same with revokeOnRemoval on: revoked as a removal of the construct, not with the key',
    del({ props: props({ KeyLogicalId: KEY_LOGICAL, RevokeOnRemoval: 'true' }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), ownResources: [], treeRevocations: [] }),
    { revoke: [KEY_A], reason: /no longer a resource of this stack.*revokeOnRemoval is on/ }],
  ['L24/L27: a nested stack removed with its key, but the key and a revocation for it moved to another stack of the tree: kept',
    del({
      props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), ownResources: [keyA(KEY_LOGICAL, NESTED)],
      treeRevocations: [live('Moved', physicalIdFor(KEY_A, false), { stackId: RENAMED_NESTED, status: 'CREATE_COMPLETE' })],
    }), { skip: /still manages the same key \(moved by a refactor/ }],
  ['L24: a nested stack removed while the stack above its parent has not committed fails rather than guess',
    del({ lineage: [{ stackId: NESTED2, status: 'DELETE_IN_PROGRESS' }, { stackId: NESTED, status: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' }, { stackId: STACK, status: 'UPDATE_IN_PROGRESS' }] }),
    { fail: /neither revokes nor skips/ }],
  ['L24: a nested stack removed by a successful update, key from outside, revokeOnRemoval off: kept',
    del({ lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS') }), { skip: /revokeOnRemoval is off/ }],
  ['L24: a nested stack removed, key from outside, revokeOnRemoval on: asks the tree',
    del({ props: props({ RevokeOnRemoval: 'true' }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS') }), { need: 'treeRevocations' }],
  ['L24: a nested stack renamed, key from outside, revokeOnRemoval on: the renamed copy manages the key, nothing revoked',
    del({
      props: props({ RevokeOnRemoval: 'true' }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      treeRevocations: [live(LOGICAL, physicalIdFor(KEY_A, false), { stackId: NESTED, status: 'DELETE_IN_PROGRESS' }),
        live(LOGICAL, physicalIdFor(KEY_A, false), { stackId: RENAMED_NESTED, status: 'CREATE_COMPLETE' })],
    }), { skip: /still manages the same key/ }],
  ['L24: a nested stack removed, key from outside, revokeOnRemoval on, no other revocation: revoked',
    del({
      props: props({ RevokeOnRemoval: 'true' }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      treeRevocations: [live(LOGICAL, physicalIdFor(KEY_A, false), { stackId: NESTED, status: 'DELETE_IN_PROGRESS' }),
        live('Other', physicalIdFor(KEY_B, false), { stackId: STACK })],
    }), { revoke: [KEY_A] }],
  ['L24: a nested stack two levels down removed with its parent by a successful update: a removal',
    del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: [{ stackId: NESTED2, status: 'DELETE_IN_PROGRESS' }, { stackId: NESTED, status: 'DELETE_IN_PROGRESS' }, { stackId: STACK, status: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' }], ownResources: [keyA(KEY_LOGICAL, NESTED2)], treeRevocations: [] }),
    { revoke: [KEY_A] }],

  // ---- Delete: update cleanup ----
  ['L9: a cleanup Delete asks for the new template',
    del({ lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS') }), { need: 'template' }],
  ['L21: a cleanup whose template cannot be read fails',
    del({ lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), unreadable: { template: 'GetTemplate denied' } }), { fail: /GetTemplate denied/ }],
  ['L9: key replaced, cleanup revokes the old key only, after checking no other revocation manages it',
    del({
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      template: { [LOGICAL]: { Type: TYPE, Properties: { KeyArn: { 'Fn::GetAtt': ['KeyB', 'Arn'] } } } },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_B, false))],
      treeRevocations: [live(LOGICAL, physicalIdFor(KEY_B, false))],
    }), { revoke: [KEY_A], reason: /key replaced/ }],
  ['L9: key replaced, the new template\'s revokeOnKeyReplacement off wins',
    del({
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      template: { [LOGICAL]: { Type: TYPE, Properties: { RevokeOnKeyReplacement: 'false' } } },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_B, false))],
    }), { skip: /revokeOnKeyReplacement is off/ }],
  ['L9: key replaced while another revocation still manages the old key: nothing revoked',
    del({
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      template: { [LOGICAL]: { Type: TYPE } },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_B, false)), live('Other', physicalIdFor(KEY_A, false))],
      treeRevocations: [live(LOGICAL, physicalIdFor(KEY_B, false)), live('Other', physicalIdFor(KEY_A, false))],
    }), { skip: /Other still manages/ }],
  ['L21: a replaced resource whose live replacement is not found fails',
    del({ lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: { [LOGICAL]: { Type: TYPE } }, ownResources: [] }), { fail: /no live replacement/ }],
  ['L14: the switch turned on, update succeeded: the cleanup revokes the key',
    del({
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      template: { [LOGICAL]: { Type: TYPE, Properties: { Revoked: 'true' } } },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_A, true))],
    }), { revoke: [KEY_A], reason: /revoked switched on/ }],
  ['L14: the switch stays on while the key changes: the cleanup revokes the new key and (replacement on) the old one',
    del({
      physicalId: physicalIdFor(KEY_A, true), props: props({ Revoked: 'true' }),
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      template: { [LOGICAL]: { Type: TYPE, Properties: { Revoked: 'true' } } },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_B, true))],
      treeRevocations: [live(LOGICAL, physicalIdFor(KEY_B, true))],
    }), { revoke: [KEY_A, KEY_B] }],
  ['L14: the switch turned on together with a key change, replacement off: only the new key',
    del({
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      template: { [LOGICAL]: { Type: TYPE, Properties: { Revoked: 'true', RevokeOnKeyReplacement: 'false' } } },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_B, true))],
    }), { revoke: [KEY_B] }],
  ['L14: the switch turned off: the cleanup revokes nothing and says re-import is the way back',
    del({
      physicalId: physicalIdFor(KEY_A, true), props: props({ Revoked: 'true' }),
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      template: { [LOGICAL]: { Type: TYPE } },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_A, false))],
    }), { skip: /re-import/ }],
  ['L14: an old-style physical ID with the switch already on, replaced by the revoked one for the same key: not revoked again',
    del({
      props: props({ Revoked: 'true' }),
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      template: { [LOGICAL]: { Type: TYPE } },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_A, true))],
    }), { skip: /nothing more to revoke/ }],
  ['L21: a nested stack\'s cleanup while an ancestor has not finished updating fails',
    del({ lineage: nested('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_IN_PROGRESS') }), { fail: /not succeeded yet/ }],
  ['L9: a nested stack\'s cleanup once its root has committed asks for its template',
    del({ lineage: nested('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS') }), { need: 'template' }],
  ['L12: construct removed, key stays, revokeOnRemoval off: nothing revoked, nothing listed',
    del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: { [KEY_LOGICAL]: { Type: 'AWS::KMS::Key' } } }),
    { skip: /revokeOnRemoval is off/ }],
  ['L12: construct removed, key stays, revokeOnRemoval on: revoked when no other revocation manages the key',
    del({
      props: props({ RevokeOnRemoval: 'true' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {},
      treeRevocations: [live(LOGICAL, physicalIdFor(KEY_A, false), { status: 'DELETE_IN_PROGRESS' })],
    }), { revoke: [KEY_A] }],
  ['L12: a construct renamed (another revocation manages the same key): nothing revoked even with revokeOnRemoval',
    del({
      props: props({ RevokeOnRemoval: 'true' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {},
      treeRevocations: [live(LOGICAL, physicalIdFor(KEY_A, false), { status: 'DELETE_IN_PROGRESS' }), live('Renamed', physicalIdFor(KEY_A, true), { status: 'CREATE_COMPLETE' })],
    }), { skip: /Renamed still manages/ }],
  ['L13: construct and its key removed together: asks whether the key is still live elsewhere',
    del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {} }), { need: 'ownResources' }],
  ['L13: construct and its key removed together: revoked',
    del({
      props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {},
      ownResources: [{ stackId: STACK, logicalId: KEY_LOGICAL, physicalId: '1234abcd-12ab-34cd-56ef-1234567890ab', type: 'AWS::KMS::Key', status: 'UPDATE_COMPLETE' }],
      treeRevocations: [],
    }), { revoke: [KEY_A], reason: /together with its key/ }],
  ['L13: construct and its key removed together, revokeOnStackDelete off: kept',
    del({ props: props({ KeyLogicalId: KEY_LOGICAL, RevokeOnStackDelete: 'false' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, ownResources: [keyA()] }),
    { skip: /revokeOnStackDelete is off/ }],
  ['L27: the key\'s logical ID left the template and the stack no longer lists the key (a refactor moved it to another stack): L12, not L13',
    del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, ownResources: [], treeRevocations: [] }),
    { skip: /no longer a resource of this stack.*revokeOnRemoval is off/ }],
  ['L27/L30: the stack lists another key under the key\'s logical ID: the revocation\'s key left, L12',
    del({
      props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {},
      ownResources: [{ ...keyA(), physicalId: keyIdOf(KEY_B) }], treeRevocations: [],
    }), { skip: /no longer a resource of this stack/ }],
  // ---- S10: a key of another stack of the tree, tagged by the construct (KeyTagged) ----
  ['S10/L13: a tagged key\'s revocation removed in a cleanup: asks whether the key still carries the tag',
    del({ props: props({ KeyTagged: 'true' }), lineage: nested('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {} }),
    { need: 'keyTag' }],
  ['S10/L13: the key still carries the tag (removed together): asks the tree, then revokes',
    del({ props: props({ KeyTagged: 'true' }), lineage: nested('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, keyTag: 'tagged' }),
    { need: 'treeRevocations' }],
  ['S10/L13: removed together with a key of another stack of the tree: revoked',
    del({ props: props({ KeyTagged: 'true' }), lineage: nested('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, keyTag: 'tagged', treeRevocations: [] }),
    { revoke: [KEY_A], reason: /together with its key, defined in another stack of this tree/ }],
  ['S10/L13: removed together, but another live revocation of the tree manages the key (a refactor): kept',
    del({
      props: props({ KeyTagged: 'true' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, keyTag: 'tagged',
      treeRevocations: [live('Moved', physicalIdFor(KEY_A, false), { stackId: NESTED, status: 'CREATE_COMPLETE' })],
    }), { skip: /still manages the same key/ }],
  ['S10/L13: removed together, revokeOnStackDelete off: kept',
    del({ props: props({ KeyTagged: 'true', RevokeOnStackDelete: 'false' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, keyTag: 'tagged' }),
    { skip: /revokeOnStackDelete is off/ }],
  ['S10/L12: the update took the tag off (the key stays), revokeOnRemoval off: kept, without reading the tree',
    del({ props: props({ KeyTagged: 'true' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, keyTag: 'untagged' }),
    { skip: /stays: it no longer carries the tag .* takes off, revokeOnRemoval is off/ }],
  ['S10/L12: the key stays, revokeOnRemoval on: revoked as a removal of the construct',
    del({ props: props({ KeyTagged: 'true', RevokeOnRemoval: 'true' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, keyTag: 'untagged', treeRevocations: [] }),
    { revoke: [KEY_A], reason: /revokeOnRemoval is on/ }],
  ['S10/L15: the tagged key no longer exists: nothing to revoke',
    del({ props: props({ KeyTagged: 'true' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, keyTag: 'gone' }),
    { skip: /no longer exists/ }],
  ['S10/L21: the key\'s tags cannot be read: fails rather than guess',
    del({ props: props({ KeyTagged: 'true' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {}, unreadable: { keyTag: 'ListResourceTags denied' } }),
    { fail: /ListResourceTags denied.*removed together/ }],
  ['S10/L24/L13: a nested stack removed with the tagged key of another stack: revoked',
    del({ props: props({ KeyTagged: 'true' }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), keyTag: 'tagged', treeRevocations: [] }),
    { revoke: [KEY_A], reason: /nested stack removed .*together with its key/ }],
  ['S10/L24/L12: a nested stack removed while the tagged key stays: kept',
    del({ props: props({ KeyTagged: 'true' }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), keyTag: 'untagged' }),
    { skip: /revokeOnRemoval is off/ }],
  ['S10/L9: a tagged revocation replaced (pointed at another key) is a replacement, not a removal: the tag is not read',
    del({
      props: props({ KeyTagged: 'true' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: templateOf(props({ KeyArn: KEY_B, KeyTagged: 'true' })),
      ownResources: [live(LOGICAL, physicalIdFor(KEY_B, false))], treeRevocations: [live(LOGICAL, physicalIdFor(KEY_B, false))],
    }), { revoke: [KEY_A], reason: /key replaced/ }],
  ['L27: the key\'s logical ID left the template but the key is live under another one (a refactor): L12, not L13',
    del({
      props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: { MovedKey: { Type: 'AWS::KMS::Key' } },
      ownResources: [{ stackId: STACK, logicalId: 'MovedKey', physicalId: '1234abcd-12ab-34cd-56ef-1234567890ab', type: 'AWS::KMS::Key', status: 'UPDATE_COMPLETE' }],
    }), { skip: /renamed by a refactor.*revokeOnRemoval is off/ }],
  ['L30: a key logical ID that is an Object.prototype name is looked up as itself (removed together: revoked)',
    del({
      props: props({ KeyLogicalId: 'constructor' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {},
      ownResources: [keyA('constructor')], treeRevocations: [],
    }), { revoke: [KEY_A] }],
  // ---- authenticity and freshness (L26, L29) ----
  ['L29: a request refused before the rules (foreign stack, stale) fails and revokes nothing, whatever it asks',
    del({ refusal: 'the request names stack X, but this handler serves Y', lineage: flat('DELETE_IN_PROGRESS'), everStable: true }),
    { fail: /^refused: .*serves Y; nothing was revoked/ }],
  ['L29: a revocation asks for the resource\'s own state as evidence',
    del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, resource: undefined }), { need: 'resource' }],
  ['L29: a hand-made Create with the switch on while the resource is not being created (stack idle) is refused',
    { requestType: 'Create', logicalId: LOGICAL, props: props({ Revoked: 'true' }), lineage: flat('UPDATE_COMPLETE'), resource: { status: 'CREATE_COMPLETE', physicalId: physicalIdFor(KEY_A, false) } },
    { fail: /refused: .*CREATE_COMPLETE.*not CREATE_IN_PROGRESS/ }],
  ['L29: a Delete for a resource the stack shows live (not being deleted) is refused',
    del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, resource: { status: 'CREATE_COMPLETE', physicalId: physicalIdFor(KEY_A, false) } }),
    { fail: /refused: .*CREATE_COMPLETE/ }],
  ['L26: a Delete for a physical ID that is live again in the stack is refused (another physical ID is being deleted)',
    del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, resource: { status: 'DELETE_IN_PROGRESS', physicalId: physicalIdFor(KEY_B, false) } }),
    { fail: /refused: .*with physical ID/ }],
  ['L26: a second delivery after the resource is gone is refused',
    del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, resource: null }), { fail: /refused: .*not in the stack/ }],
  ['L21/L29: evidence that cannot be read fails',
    del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, resource: undefined, unreadable: { resource: 'DescribeStackResource denied' } }),
    { fail: /DescribeStackResource denied/ }],
  ['L29: a replacement\'s cleanup revocation asks the stack\'s events for the deletion under way',
    del({
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: { [LOGICAL]: { Type: TYPE } }, deletionEvent: undefined,
      resource: { status: 'UPDATE_COMPLETE', physicalId: physicalIdFor(KEY_B, false) },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_B, false))], treeRevocations: [live(LOGICAL, physicalIdFor(KEY_B, false))],
    }), { need: 'deletionEvent' }],
  ['L29: a forged Delete of an old physical ID during a genuine cleanup, no deletion of it in the events: refused',
    del({
      lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: { [LOGICAL]: { Type: TYPE } }, deletionEvent: false,
      resource: { status: 'UPDATE_COMPLETE', physicalId: physicalIdFor(KEY_B, false) },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_B, false))], treeRevocations: [live(LOGICAL, physicalIdFor(KEY_B, false))],
    }), { fail: /refused: the stack's events show no deletion/ }],
  ['L29: even a Delete that would only skip (a rollback) needs the evidence first',
    del({ lineage: flat('ROLLBACK_IN_PROGRESS'), resource: undefined }), { need: 'resource' }],
  ['L29: a hand-made Delete while the stack is idle is refused, not failed (no revocation-failure alarm for anyone who can invoke)',
    del({ lineage: flat('UPDATE_COMPLETE'), resource: { status: 'UPDATE_COMPLETE', physicalId: physicalIdFor(KEY_A, false) } }), { fail: /^refused: / }],
  ['L29: a hand-made Update while the resource is not being updated is refused',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), props: props({ Revoked: 'true' }), oldProps: props(),
      resource: { status: 'UPDATE_COMPLETE', physicalId: physicalIdFor(KEY_A, false) } }, { fail: /^refused: a Update request/ }],
  ['L29: a Delete of a replaced physical ID in the cleanup after a rollback is proven by the events too',
    del({ lineage: flat('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS'), resource: { status: 'UPDATE_COMPLETE', physicalId: physicalIdFor(KEY_B, false) }, deletionEvent: true }),
    { skip: /rollbacks never revoke/ }],

  ['L29: a Delete during a genuine stack deletion with a forged revokeOnStackDelete (the template says false) is refused',
    del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template: templateOf(props({ RevokeOnStackDelete: 'false' })) }),
    { fail: /refused: the request's RevokeOnStackDelete is 'true' but the stack's template says 'false'/ }],
  ['L29: a Delete during a genuine stack deletion with a forged MaterialScope is refused',
    del({ props: props({ MaterialScope: 'ALL' }), lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template: templateOf(props({ MaterialScope: 'CURRENT' })) }),
    { fail: /MaterialScope/ }],
  ['L29: a forged Create with the switch on for another logical ID\'s create, naming another key than the template, is refused',
    { requestType: 'Create', logicalId: LOGICAL, props: props({ Revoked: 'true', KeyArn: KEY_B }), lineage: flat('CREATE_IN_PROGRESS'), ...creating },
    { fail: /names key .* but the stack's template names/ }],
  ['L29: a Create whose template names a same-stack key by reference is checked against that key\'s live physical ID',
    {
      requestType: 'Create', logicalId: LOGICAL, props: props({ Revoked: 'true' }), lineage: flat('CREATE_IN_PROGRESS'), resource: { status: 'CREATE_IN_PROGRESS' },
      template: { [LOGICAL]: { Type: TYPE, Properties: { ...props({ Revoked: 'true' }), KeyArn: { 'Fn::GetAtt': ['KeyX', 'Arn'] } } }, KeyX: { Type: 'AWS::KMS::Key' } },
      ownResources: [{ stackId: STACK, logicalId: 'KeyX', physicalId: '0987dcba-09fe-87dc-65ba-ab0987654321', type: 'AWS::KMS::Key', status: 'CREATE_COMPLETE' }],
    }, { fail: /the stack's KeyX is 0987dcba/ }],
  ['L6/L30: a key defined in a nested stack, named by the nested stack\'s output, is bound by the physical ID, not taken for a same-stack key',
    del({
      lineage: flat('DELETE_IN_PROGRESS'), everStable: true,
      template: { [LOGICAL]: { Type: TYPE, Properties: { ...props(), KeyArn: { 'Fn::GetAtt': ['Inner', 'Outputs.KeyArn'] } } }, Inner: { Type: 'AWS::CloudFormation::Stack' } },
      ownResources: [{ stackId: STACK, logicalId: 'Inner', physicalId: `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/Root-Inner-1/abc`, type: 'AWS::CloudFormation::Stack', status: 'DELETE_IN_PROGRESS' }],
    }), { revoke: [KEY_A], reason: /stack deletion/ }],
  ['L10/L28: the rollback Update after this resource\'s own failed Update (physical ID still the old key, properties swapped) never fails',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), props: props(), oldProps: props({ KeyArn: KEY_B }), lineage: flat('UPDATE_ROLLBACK_IN_PROGRESS') },
    { skip: /rollbacks never revoke/ }],
  ['L30: an Update whose physical ID names neither the old nor the new key fails',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/ffffffff-0000-0000-0000-000000000000`, false), props: props({ KeyArn: KEY_B }), oldProps: props(), lineage: flat('UPDATE_IN_PROGRESS') },
    { fail: /contradicts itself/ }],
  ['M1/L9: pointing at the same multi-Region key by its ARN in another Region is not a key change',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab`, false),
      props: props({ KeyArn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab`, MaterialScope: 'CURRENT' }),
      oldProps: props({ KeyArn: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab` }) },
    { skip: /in-place update of the same key/ }],
  ['L12: an Update of a resource whose create had failed is validated as a create, and revokes nothing',
    { requestType: 'Update', logicalId: LOGICAL, physicalId: 'kms-key-material-revocation-failed-create:req-1', props: props(), oldProps: props() },
    { skip: /create had failed/, physicalId: physicalIdFor(KEY_A, false), validate: KEY_A }],

  ['L30: a resource logical ID that is an Object.prototype name is not mistaken for a replacement',
    del({ logicalId: 'toString', lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: {} }), { skip: /construct removed while the key stays, revokeOnRemoval is off/ }],
  ['L30: a key logical ID that is an Object.prototype name still in the template is a key that stays',
    del({ props: props({ KeyLogicalId: 'hasOwnProperty' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), template: { hasOwnProperty: { Type: 'AWS::KMS::Key' } } }),
    { skip: /key stays/ }],
];

/**
 * Unless a row says otherwise, CloudFormation's own record shows what it shows while it sends a
 * genuine Create or Update: the resource CREATE_IN_PROGRESS, or UPDATE_IN_PROGRESS under the
 * event's physical ID (L29).
 */
function genuine(facts: Facts): Facts {
  if ('resource' in facts || facts.requestType === 'Delete') return facts;
  return { ...facts, resource: facts.requestType === 'Create' ? { status: 'CREATE_IN_PROGRESS' } : { status: 'UPDATE_IN_PROGRESS', physicalId: facts.physicalId } };
}

describe('decide: LIFECYCLE rows as a table', () => {
  test.each(ROWS)('%s', (_name, facts, expected) => {
    check(decide(genuine(facts)), expected);
  });
});

describe('L28: what a cleanup will revoke is checked in the update phase', () => {
  const update = (o: Partial<Facts>): Facts => genuine({ requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), props: props(), oldProps: props(), lineage: flat('UPDATE_IN_PROGRESS'), ...o });
  test('L28/L9: a key change checks the old key (replacement on)', () => {
    expect(prechecks(decide(update({ props: props({ KeyArn: KEY_B }) })))).toEqual([KEY_A]);
  });
  test('L28/L9: replacement off checks nothing', () => {
    expect(prechecks(decide(update({ props: props({ KeyArn: KEY_B, RevokeOnKeyReplacement: 'false' }) })))).toEqual([]);
  });
  test('L28/L14: the switch turning on checks the key; staying on across a key change checks both', () => {
    expect(prechecks(decide(update({ props: props({ Revoked: 'true' }) })))).toEqual([KEY_A]);
    expect(prechecks(decide(update({ physicalId: physicalIdFor(KEY_A, true), oldProps: props({ Revoked: 'true' }), props: props({ KeyArn: KEY_B, Revoked: 'true' }) })))).toEqual([KEY_A, KEY_B]);
  });
  test('L28/L10: a rollback checks nothing; an unreadable status skips the checks rather than risk failing a rollback', () => {
    expect(prechecks(decide(update({ props: props({ KeyArn: KEY_B }), lineage: flat('UPDATE_ROLLBACK_IN_PROGRESS') })))).toEqual([]);
    expect(prechecks(decide(update({ props: props({ KeyArn: KEY_B }), lineage: undefined, unreadable: { lineage: 'denied' } })))).toEqual([]);
  });
});

describe('physical IDs', () => {
  test('L1/L14: the physical ID names the key and the switch, and parses back', () => {
    expect(parsePhysicalId(physicalIdFor(KEY_A, true))).toEqual({ kind: 'key', keyArn: KEY_A, revoked: true });
    expect(parsePhysicalId(physicalIdFor(KEY_A, false))).toEqual({ kind: 'key', keyArn: KEY_A, revoked: false });
    expect(parsePhysicalId('kms-key-material-revocation-failed-create:x')).toEqual({ kind: 'failed-create' });
    expect(parsePhysicalId(undefined)).toEqual({ kind: 'foreign' });
  });
});

describe('contract version 2: properties at their default are left out of the template (issue 13)', () => {
  const compact = (o: Record<string, unknown> = {}) => ({ KeyArn: KEY_A, ContractVersion: '2', ...o });
  const stackDeletion = (template: Facts['template'], p = props()) =>
    decide(del({ props: p, lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template }));

  test('L6/L29: a compact template binds the request as its defaults say: revokeOnStackDelete on', () => {
    check(stackDeletion({ [LOGICAL]: { Type: TYPE, Properties: compact() } }), { revoke: [KEY_A] });
  });
  test('L29: a request that drops a property the template sets (revokeOnStackDelete off) is refused, not read as the default', () => {
    // A forged Delete leaving RevokeOnStackDelete out (read as 'true') against a template that turned it off.
    check(stackDeletion({ [LOGICAL]: { Type: TYPE, Properties: compact({ RevokeOnStackDelete: 'false' }) } }), { fail: /RevokeOnStackDelete is 'true'.*'false'/ });
  });
  test('L29: a request that sets the switch against a compact template (switch left out: off) is refused', () => {
    check(stackDeletion({ [LOGICAL]: { Type: TYPE, Properties: compact() } }, props({ Revoked: 'true' })), { fail: /Revoked is 'true'.*'false'/ });
  });
  test('L29: in a version-1 template an absent property is not a default: the request is refused', () => {
    check(stackDeletion({ [LOGICAL]: { Type: TYPE, Properties: { KeyArn: KEY_A, ContractVersion: '1' } } }), { fail: /RevokeOnStackDelete is 'true'.*''/ });
  });
  test('L8: upgrading a deployed version-1 resource to version 2 is an in-place update that revokes nothing', () => {
    const decision = decide(genuine({
      requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), lineage: flat('UPDATE_IN_PROGRESS'),
      oldProps: props({ ContractVersion: '1' }), props: props({ ContractVersion: '2' }),
    }));
    check(decision, { skip: /./, physicalId: physicalIdFor(KEY_A, false) });
    expect(prechecks(decision)).toEqual([]);
  });
  test('L9: a key replaced after a successful update reads the new template\'s left-out revokeOnKeyReplacement as on', () => {
    const facts = del({
      props: props({ RevokeOnKeyReplacement: 'false' }), lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'),
      template: { [LOGICAL]: { Type: TYPE, Properties: { KeyArn: KEY_B, ContractVersion: '2' } } },
      ownResources: [live(LOGICAL, physicalIdFor(KEY_B, false))], treeRevocations: [live(LOGICAL, physicalIdFor(KEY_B, false))],
    });
    check(decide(facts), { revoke: [KEY_A] });
  });
});

describe('L24/L29: a nested stack removed by its parent\'s update binds revokeOnRemoval to its template', () => {
  test('L24/L29: a forged copy of the removal\'s Delete that turns revokeOnRemoval on is refused', () => {
    const facts = del({
      props: props({ RevokeOnRemoval: 'true' }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), treeRevocations: [],
      template: templateOf(props({ RevokeOnRemoval: 'false' })),
    });
    check(decide(facts), { fail: /RevokeOnRemoval is 'true'.*'false'/ });
    // The genuine one, as the template says, revokes.
    check(decide({ ...facts, template: templateOf(props({ RevokeOnRemoval: 'true' })) }), { revoke: [KEY_A] });
  });
});

describe('S10/L28: a create or forward update of a revocation of a tagged key checks the tag, a rollback never', () => {
  const tagged = props({ KeyTagged: 'true' });
  const checkOf = (d: Decision) => (d.kind === 'answer' ? d.checkTag : `no answer: ${JSON.stringify(d)}`);
  test('S10/L28: a create reads the statuses and checks the tag, not in a rollback, nor without statuses; one without KeyTagged does neither', () => {
    const create = (o: Partial<Facts>): Facts => ({ requestType: 'Create', logicalId: LOGICAL, props: tagged, resource: { status: 'CREATE_IN_PROGRESS' }, ...o });
    expect(decide(create({}))).toEqual({ kind: 'need', fact: 'lineage' });
    expect(checkOf(decide(create({ lineage: flat('CREATE_IN_PROGRESS') })))).toBe(KEY_A);
    expect(checkOf(decide(create({ lineage: nested('CREATE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS') })))).toBeUndefined();
    const unread = decide(create({ unreadable: { lineage: 'DescribeStacks throttled' } }));
    expect(checkOf(unread)).toBeUndefined();
    expect(unread.kind === 'answer' && unread.reason).toMatch(/tag .* was not checked \(the stack statuses could not be read\)/);
    expect(checkOf(decide(create({ props: props() })))).toBeUndefined();
  });
  test('S10/L28/L11: an update whose statuses cannot be read, a key change or a switch included, does not check the tag and does not fail', () => {
    const base = {
      requestType: 'Update' as const, logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), oldProps: tagged,
      resource: { status: 'UPDATE_IN_PROGRESS', physicalId: physicalIdFor(KEY_A, false) }, unreadable: { lineage: 'throttled' },
    };
    for (const p of [tagged, props({ KeyArn: KEY_B, KeyTagged: 'true' }), props({ KeyTagged: 'true', Revoked: 'true' })]) {
      const d = decide({ ...base, props: p });
      expect(d.kind).toBe('answer');
      expect(checkOf(d)).toBeUndefined();
    }
  });
  test('S10/L28: the update of a resource whose create failed checks the tag going forward only', () => {
    const failed = {
      requestType: 'Update' as const, logicalId: LOGICAL, physicalId: 'kms-key-material-revocation-failed-create:req-1', props: tagged, oldProps: tagged,
      resource: { status: 'UPDATE_IN_PROGRESS', physicalId: 'kms-key-material-revocation-failed-create:req-1' },
    };
    expect(checkOf(decide({ ...failed, lineage: flat('UPDATE_IN_PROGRESS') }))).toBe(KEY_A);
    expect(checkOf(decide({ ...failed, lineage: flat('UPDATE_ROLLBACK_IN_PROGRESS') }))).toBeUndefined();
  });
  test('S10/L28: an in-place update (the upgrade that adds KeyTagged) reads the statuses, checks the tag going forward, not in a rollback', () => {
    const update = (o: Partial<Facts>): Facts => ({
      requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(KEY_A, false), props: tagged, oldProps: props(),
      resource: { status: 'UPDATE_IN_PROGRESS', physicalId: physicalIdFor(KEY_A, false) }, ...o,
    });
    expect(decide(update({}))).toEqual({ kind: 'need', fact: 'lineage' });
    expect(checkOf(decide(update({ lineage: nested('UPDATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS') })))).toBe(KEY_A);
    expect(checkOf(decide(update({ lineage: nested('UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS') })))).toBeUndefined();
    // Pointed at another key: the new key's tag is checked, not in a rollback.
    const moved = update({ props: props({ KeyArn: KEY_B, KeyTagged: 'true' }), lineage: flat('UPDATE_IN_PROGRESS') });
    expect(checkOf(decide(moved))).toBe(KEY_B);
    expect(checkOf(decide({ ...moved, lineage: flat('UPDATE_ROLLBACK_IN_PROGRESS') }))).toBeUndefined();
  });
});

describe('S10/L24/L29: a nested stack removed by its parent\'s update binds KeyTagged to its template', () => {
  test('S10/L24/L29: a forged copy of the removal\'s Delete that claims a tagged key is refused', () => {
    const facts = del({
      props: props({ KeyTagged: 'true' }), lineage: nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), treeRevocations: [],
      keyTag: 'tagged', template: templateOf(props()),
    });
    check(decide(facts), { fail: /KeyTagged is 'true'.*'false'/ });
    check(decide({ ...facts, template: templateOf(props({ KeyTagged: 'true' })) }), { revoke: [KEY_A] });
  });
});

describe('L18: turns at the KMS quota in a stack deletion', () => {
  const SENT = Date.UTC(2026, 11, 1, 12, 0, 0);
  const wave = (n: number, o: (i: number) => Record<string, unknown> = () => ({})): Facts['template'] =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`R${i}`, { Type: TYPE, Properties: { KeyArn: KEY_A, ContractVersion: '2', ...o(i) } }]));
  const turn = (logicalId: string, template: Facts['template'], sentAt: number | null = SENT) => {
    const d = decide(del({ logicalId, lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template, sentAt: sentAt ?? undefined }));
    return d.kind === 'answer' ? d.notBefore : d;
  };

  test('L18: each revocation of the wave gets its own turn, 15 a second from the signing time, in template order', () => {
    const template = wave(30);
    expect(turn('R0', template)).toBe(SENT);
    expect(turn('R1', template)).toBe(SENT + 66);
    expect(turn('R15', template)).toBe(SENT + 1000);
    expect(turn('R29', template)).toBe(SENT + 1933);
  });
  test('L18: resources that do not revoke on stack deletion take no turn', () => {
    const template = wave(4, (i) => (i % 2 === 0 ? { RevokeOnStackDelete: 'false' } : {}));
    expect(turn('R1', template)).toBe(SENT);
    expect(turn('R3', template)).toBe(SENT + 66);
  });
  test('L18: without a signing time there is no turn; outside a stack deletion neither', () => {
    expect(turn('R1', wave(2), null)).toBeUndefined();
    const d = decide(del({ logicalId: 'R1', lineage: flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'), sentAt: SENT,
      props: props({ RevokeOnRemoval: 'true' }), template: wave(1), ownResources: [], treeRevocations: [] }));
    expect(d.kind === 'answer' ? d.notBefore : 'not an answer').toBeUndefined();
  });
});

/**
 * Rows found by mutation testing of the rules (Stryker over lambda/decide.ts): each pins a
 * condition whose change let these tests pass while the handler revoked wrongly or skipped a
 * promised revocation.
 */
describe('decide: rows that pin each condition a mutation could change unnoticed', () => {
  const KEY_C = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/ffffffff-0000-4000-8000-000000000000`;
  const MRK_A = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab`;
  const MRK_A_US = `arn:aws:kms:us-east-1:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab`;
  const MRK_B = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/mrk-0987dcba09fe87dc65baab0987654321`;
  const cleanup = flat('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
  const removedNested = nested('DELETE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
  const otherResource = (o: Partial<LiveResource>): LiveResource =>
    ({ stackId: STACK, logicalId: 'Bucket', physicalId: undefined, type: 'AWS::S3::Bucket', status: 'UPDATE_COMPLETE', ...o });
  /** A template naming this resource's key by `Fn::GetAtt [keyLogicalId, Arn]`, with that key of `keyType`. */
  const byReference = (p: RevocationProperties, keyLogicalId: string, keyType = 'AWS::KMS::Key'): Facts['template'] => ({
    [LOGICAL]: { Type: TYPE, Properties: { ...p, KeyArn: { 'Fn::GetAtt': [keyLogicalId, 'Arn'] } } },
    [keyLogicalId]: { Type: keyType },
  });
  const scopes = (decision: Decision) => (decision.kind === 'answer' ? decision.revoke.map((t) => `${t.keyArn} ${t.scope}`) : []);

  const rows: Array<[string, Facts, Expected]> = [
    ['L24/L13/L27: a nested stack removed whose key a refactor renamed inside it: the key goes with the stack, revoked',
      del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: removedNested, ownResources: [keyA('RenamedKey', NESTED)], treeRevocations: [] }),
      { revoke: [KEY_A], reason: /together with its key/ }],
    ['L24/L27: a nested stack removed that lists another key under the key\'s logical ID and none with its key ID: the key left, kept',
      del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: removedNested, ownResources: [{ ...keyA(KEY_LOGICAL, NESTED), physicalId: keyIdOf(KEY_B) }], treeRevocations: [] }),
      { skip: /no longer a resource of this stack.*revokeOnRemoval is off/ }],
    ['L29: a stack deletion Delete for a logical ID the template in force does not have is refused',
      del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template: { Other: { Type: TYPE, Properties: { ...props() } } } }),
      { fail: /^refused: the stack's template has no Custom::KmsKeyMaterialRevocation Revocation/ }],
    ['L29: a stack deletion Delete for a logical ID the template in force has as another type is refused',
      del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template: { [LOGICAL]: { Type: 'AWS::SSM::Parameter', Properties: { ...props() } } } }),
      { fail: /^refused: the stack's template has no/ }],
    ['L1/L29: a genuine Create is not refused because CloudFormation already shows a physical ID for the resource',
      { requestType: 'Create', logicalId: LOGICAL, props: props(), resource: { status: 'CREATE_IN_PROGRESS', physicalId: 'shown-by-cloudformation' } },
      { skip: /nothing revoked on create/, validate: KEY_A }],
    ['L26: a Delete for a physical ID other than the live one asks for the stack statuses before deciding whether it is a cleanup',
      del({ resource: { status: 'UPDATE_COMPLETE', physicalId: physicalIdFor(KEY_B, false) } }), { need: 'lineage' }],
    ['L24/L27: a nested stack removed that lists, under another logical ID, a key whose ID is not known (the plan offline): neither revoked nor kept on a guess',
      del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: removedNested, ownResources: [{ ...keyA('RenamedKey', NESTED), physicalId: undefined }], treeRevocations: [] }),
      { fail: /lists key RenamedKey without its key ID.*neither revokes nor skips/ }],
    ['L27: in a flat stack\'s cleanup the same listing is a key that left the template (the stack stays)',
      del({ props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: cleanup, template: {}, ownResources: [{ ...keyA('RenamedKey'), physicalId: undefined }], treeRevocations: [] }),
      { skip: /no longer a resource of this stack.*revokeOnRemoval is off/ }],
    ['L24/L7: a nested stack removed with the key defined in it, revokeOnStackDelete off: kept',
      del({ props: props({ KeyLogicalId: KEY_LOGICAL, RevokeOnStackDelete: 'false' }), lineage: removedNested, ownResources: [keyA(KEY_LOGICAL, NESTED)], treeRevocations: [] }),
      { skip: /key defined in it; revokeOnStackDelete is off/ }],
    ['M1/L9: an update from one multi-Region key to another is a key change: the new key is validated, the physical ID is new',
      { requestType: 'Update', logicalId: LOGICAL, physicalId: physicalIdFor(MRK_A, false), props: props({ KeyArn: MRK_B }), oldProps: props({ KeyArn: MRK_A }), lineage: flat('UPDATE_IN_PROGRESS') },
      { skip: /key changed from/, physicalId: physicalIdFor(MRK_B, false), validate: MRK_B }],
    ['M1/L30: a stack deletion Delete whose physical ID names another multi-Region key than KeyArn fails',
      del({ physicalId: physicalIdFor(MRK_B, false), props: props({ KeyArn: MRK_A }), lineage: flat('DELETE_IN_PROGRESS'), everStable: true }), { fail: /contradicts/ }],
    ['M1/L12: another revocation of a different multi-Region key does not keep this one',
      del({
        physicalId: physicalIdFor(MRK_A, false), props: props({ KeyArn: MRK_A, RevokeOnRemoval: 'true' }), lineage: cleanup, template: {},
        treeRevocations: [live('Other', physicalIdFor(MRK_B, false))],
      }), { revoke: [MRK_A] }],
    ['M1/L12: a revocation of the same multi-Region key by its ARN in another Region keeps it',
      del({
        physicalId: physicalIdFor(MRK_A, false), props: props({ KeyArn: MRK_A, RevokeOnRemoval: 'true' }), lineage: cleanup, template: {},
        treeRevocations: [live('Other', physicalIdFor(MRK_A_US, false))],
      }), { skip: /Other still manages/ }],
    ['L14: the switch turned off, with another revocation listed first: the live replacement is this logical ID\'s, nothing revoked',
      del({
        physicalId: physicalIdFor(KEY_A, true), props: props({ Revoked: 'true' }), lineage: cleanup, template: { [LOGICAL]: { Type: TYPE } },
        ownResources: [live('Other', physicalIdFor(KEY_B, false)), live(LOGICAL, physicalIdFor(KEY_A, false))],
      }), { skip: /re-import/ }],
    ['L9: the replacement is found under this logical ID and this type, whatever is listed before it',
      del({
        lineage: cleanup, template: { [LOGICAL]: { Type: TYPE } },
        ownResources: [otherResource({ logicalId: LOGICAL, physicalId: physicalIdFor(KEY_C, false), type: 'AWS::SSM::Parameter' }),
          live('Other', physicalIdFor(KEY_C, false)), live(LOGICAL, physicalIdFor(KEY_B, false))],
        treeRevocations: [live(LOGICAL, physicalIdFor(KEY_B, false))],
      }), { revoke: [KEY_A], reason: new RegExp(`key replaced by ${KEY_B}`) }],
    ['L27: the key left the stack although other resources (one without a physical ID) are listed: L12, not L13',
      del({
        props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: cleanup, template: {},
        ownResources: [otherResource({}), otherResource({ logicalId: 'Queue', physicalId: keyIdOf(KEY_A), type: 'AWS::SQS::Queue' })], treeRevocations: [],
      }), { skip: /no longer a resource of this stack.*revokeOnRemoval is off/ }],
    ['L26/L29: a Delete for a replaced physical ID during a stack deletion is refused, whatever the events say',
      del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, resource: { status: 'UPDATE_COMPLETE', physicalId: physicalIdFor(KEY_B, false) }, deletionEvent: true }),
      { fail: /^refused/ }],
    ['L6/L30: a same-stack key by reference whose live key ID is the request\'s: revoked',
      del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template: byReference(props(), KEY_LOGICAL), ownResources: [keyA(KEY_LOGICAL)] }),
      { revoke: [KEY_A], reason: /stack deletion/ }],
    ['L29/L30: a same-stack key by reference is the one under the referenced logical ID, not the first key listed',
      del({
        lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template: byReference(props(), 'KeyB'),
        ownResources: [keyA('OtherKey'), { ...keyA('KeyB'), physicalId: keyIdOf(KEY_B) }],
      }), { fail: /^refused: the request names key .* but the stack's KeyB is 0987dcba/ }],
    ['L29/L30/M1: a same-stack replica key by reference is bound to its live key ID too',
      del({
        lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template: byReference(props(), 'Replica', 'AWS::KMS::ReplicaKey'),
        ownResources: [{ ...keyA('Replica'), type: 'AWS::KMS::ReplicaKey', physicalId: keyIdOf(KEY_B) }],
      }), { fail: /^refused: the request names key/ }],
    ['L14: a create with the switch on and a same-stack key by reference asks for the stack\'s resources',
      { requestType: 'Create', logicalId: LOGICAL, props: props({ Revoked: 'true' }), lineage: flat('CREATE_IN_PROGRESS'), resource: { status: 'CREATE_IN_PROGRESS' },
        template: byReference(props({ Revoked: 'true' }), KEY_LOGICAL) },
      { need: 'ownResources' }],
    ['L29: a template value written as a JSON boolean is compared too: false there refuses a request that says true',
      del({ lineage: flat('DELETE_IN_PROGRESS'), everStable: true, template: { [LOGICAL]: { Type: TYPE, Properties: { ...props(), RevokeOnStackDelete: false } } } }),
      { fail: /^refused: the request's RevokeOnStackDelete is 'true' but the stack's template says 'false'/ }],
    ['L13: construct and key removed together while the stack holds another key and a resource with the key\'s ID: revoked',
      del({
        props: props({ KeyLogicalId: KEY_LOGICAL }), lineage: cleanup, template: {},
        ownResources: [keyA(), { ...keyA('OtherKey'), physicalId: keyIdOf(KEY_B) }, otherResource({ logicalId: 'Alias', physicalId: keyIdOf(KEY_A), type: 'AWS::KMS::Alias' }),
          { ...keyA('OldCopy'), status: 'DELETE_IN_PROGRESS' }],
        treeRevocations: [],
      }), { revoke: [KEY_A], reason: /together with its key/ }],
    ['L24: a nested stack two levels down removed by its parent\'s committed update (root in its cleanup): decided, not failed',
      del({ lineage: [{ stackId: NESTED2, status: 'DELETE_IN_PROGRESS' }, { stackId: NESTED, status: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' }, { stackId: STACK, status: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS' }] }),
      { skip: /nested stack removed or renamed by a successful update while the key stays, revokeOnRemoval is off/ }],
    ['L12: another revocation of the key that is being deleted too does not keep it',
      del({
        props: props({ RevokeOnRemoval: 'true' }), lineage: cleanup, template: {},
        treeRevocations: [live(LOGICAL, physicalIdFor(KEY_A, false), { status: 'DELETE_IN_PROGRESS' }), live('Other', physicalIdFor(KEY_A, false), { status: 'DELETE_IN_PROGRESS' }),
          live('Gone', physicalIdFor(KEY_A, false), { status: 'DELETE_COMPLETE' })],
      }), { revoke: [KEY_A] }],
    ['L9: revokeOnKeyReplacement written as a JSON boolean false in the new template wins',
      del({ lineage: cleanup, template: { [LOGICAL]: { Type: TYPE, Properties: { RevokeOnKeyReplacement: false } } }, ownResources: [live(LOGICAL, physicalIdFor(KEY_B, false))] }),
      { skip: /revokeOnKeyReplacement is off/ }],
    ['L9: revokeOnKeyReplacement written as a JSON boolean true in the new template wins over the old off',
      del({
        props: props({ RevokeOnKeyReplacement: 'false' }), lineage: cleanup, template: { [LOGICAL]: { Type: TYPE, Properties: { RevokeOnKeyReplacement: true } } },
        ownResources: [live(LOGICAL, physicalIdFor(KEY_B, false))], treeRevocations: [live(LOGICAL, physicalIdFor(KEY_B, false))],
      }), { revoke: [KEY_A], reason: /key replaced/ }],
  ];
  test.each(rows)('%s', (_name, facts, expected) => {
    check(decide(genuine(facts)), expected);
  });

  test('M1: two ARNs name the same key only for one multi-Region key ID in one account', () => {
    const single = (region: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    expect(sameKey(MRK_A, MRK_A_US)).toBe(true);
    expect(sameKey(MRK_A, MRK_B)).toBe(false);
    expect(sameKey(MRK_A, MRK_A.replace(ACCOUNT, '222222222222'))).toBe(false);
    expect(sameKey(single('eu-west-1'), single('us-east-1'))).toBe(false);
    expect(sameKey(KEY_A, KEY_B)).toBe(false);
    expect(sameKey(KEY_A, KEY_A)).toBe(true);
  });

  test('L14/L6: the switch revokes with the new template\'s material scope; a scope that is not a literal keeps the old one', () => {
    const switchedOn = (template: Record<string, unknown>, old: RevocationProperties) => decide(genuine(del({
      props: old, lineage: cleanup, template: { [LOGICAL]: { Type: TYPE, Properties: template } }, ownResources: [live(LOGICAL, physicalIdFor(KEY_A, true))],
    })));
    expect(scopes(switchedOn({ Revoked: 'true', MaterialScope: 'CURRENT' }, props()))).toEqual([`${KEY_A} CURRENT`]);
    expect(scopes(switchedOn({ Revoked: 'true', MaterialScope: 'ALL' }, props({ MaterialScope: 'CURRENT' })))).toEqual([`${KEY_A} ALL`]);
    expect(scopes(switchedOn({ Revoked: 'true', MaterialScope: { Ref: 'Scope' } }, props({ MaterialScope: 'CURRENT' })))).toEqual([`${KEY_A} CURRENT`]);
    // Contract version 2 leaves a default out: ALL.
    expect(scopes(switchedOn({ Revoked: 'true', ContractVersion: '2' }, props({ MaterialScope: 'CURRENT' })))).toEqual([`${KEY_A} ALL`]);
    // A stack deletion revokes with the request's scope.
    expect(scopes(decide(genuine(del({ props: props({ MaterialScope: 'CURRENT' }), lineage: flat('DELETE_IN_PROGRESS'), everStable: true }))))).toEqual([`${KEY_A} CURRENT`]);
  });
});
