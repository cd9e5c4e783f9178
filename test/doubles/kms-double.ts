/**
 * A local HTTP test double of AWS KMS, spoken to by the real `@aws-sdk/client-kms` over
 * 127.0.0.1 (via `endpoint` or `AWS_ENDPOINT_URL_KMS`).
 *
 * Wire protocol (checked against the installed client, @aws-sdk/client-kms 3.1164 /
 * @aws-sdk/core AwsJson1_1Protocol): `POST /`, `Content-Type: application/x-amz-json-1.1`,
 * `X-Amz-Target: TrentService.<Operation>`, JSON body; timestamps are epoch seconds (numbers),
 * blobs are base64 strings. Errors are `{"__type": "<Code>", "message": "..."}` with a 4xx/5xx
 * status; the SDK maps `__type` onto its exception classes (`err.name`).
 *
 * Behaviour is modelled on the AWS KMS API Reference and Developer Guide (pages cited inline),
 * not on any particular client. Where the documentation is silent the choice is marked GUESS.
 *
 * Multi-Region keys (Developer Guide, multi-region-keys-overview and multi-region-keys-import): a
 * primary (CreateKey MultiRegion, or addKey({ multiRegion: true })) and its replicas (ReplicateKey,
 * or replicateKey()) share one key ID (`mrk-...`); each is a key of its own Region, with its own
 * state, policy and, for imported material, its own copy of the material: "AWS KMS does not copy
 * or synchronize the key material from a primary key with imported key material to its replica
 * keys. You must import the same key material into related primary and replica keys", and "the
 * key states of related multi-Region keys are independent of each other". DeleteImportedKeyMaterial
 * therefore acts on the key of the request's Region only. DescribeKey shows MultiRegionConfiguration
 * (API_MultiRegionConfiguration): PrimaryKey {Arn, Region} and ReplicaKeys [{Arn, Region}], the
 * latter "includes the current KMS key if it is a replica key".
 *
 * Access control: off by default (every request is allowed unless a `deny()` rule matches). With
 * `enforcePolicies()` the double decides AccessDenied from key policies and identity-based (IAM)
 * policies the way KMS does, for principals mapped with `setPrincipal()` (see "Policy
 * evaluation" below; grants, SCPs/RCPs, permissions boundaries, session policies and condition
 * keys are not modelled).
 *
 * What the double does not do: verify SigV4 signatures (it only reads the credential scope:
 * access key ID and Region), grants, cryptography (import tokens and public keys are random
 * bytes; "encrypted key material" is treated as an opaque fingerprint of the material),
 * the synchronisation of shared properties between multi-Region keys (a replica is a copy of its
 * primary's key spec, usage and origin, taken when it is made), custom key stores, the "hot key" throttling condition, or eventual
 * consistency (of keys, or of policy changes).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type * as http from 'node:http';
import {
  AwsDouble,
  SlidingWindowLimiter,
  dropConnection,
  newRequestId,
  parseSigV4Authorization,
  readBody,
  send,
  sleep,
} from './http-util';

export type KeyState =
  | 'Creating'
  | 'Enabled'
  | 'Disabled'
  | 'PendingDeletion'
  | 'PendingImport'
  | 'PendingReplicaDeletion'
  | 'Unavailable'
  | 'Updating';
export type KeyOrigin = 'AWS_KMS' | 'EXTERNAL' | 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';
export type KeyMaterialState = 'CURRENT' | 'NON_CURRENT' | 'PENDING_ROTATION';
export type KeyMaterialImportState = 'IMPORTED' | 'PENDING_IMPORT';
export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';

export interface AddKeySpec {
  origin?: KeyOrigin;
  keySpec?: string;
  keyUsage?: string;
  account?: string;
  region?: string;
  keyState?: KeyState;
  multiRegion?: boolean;
  tags?: Record<string, string>;
  /** EXTERNAL only: how many key materials to import; the last one is CURRENT, the earlier ones NON_CURRENT (as after on-demand rotations). Default 1 (0 when keyState is PendingImport). */
  importedMaterials?: number;
  keyId?: string;
  description?: string;
  /** Alias names (`alias/...`) pointing at this key. Only DescribeKey resolves aliases; DeleteImportedKeyMaterial does not. */
  aliases?: string[];
  /** The key policy. Default: KMS's default key policy (the account root principal allowed `kms:*`). */
  keyPolicy?: PolicyDocument;
}

export interface ReplicateKeySpec {
  /**
   * EXTERNAL keys only: import the primary's materials (the same material IDs) into the replica
   * at once, as a user would after ReplicateKey. Default true; false leaves the replica
   * PendingImport with every material PENDING_IMPORT.
   */
  importMaterial?: boolean;
  keyState?: KeyState;
  keyPolicy?: PolicyDocument;
  description?: string;
}

export interface KeyMaterialView {
  id: string;
  state: KeyMaterialState;
  importState: KeyMaterialImportState;
  description?: string;
  expirationModel?: ExpirationModel;
  validTo?: Date;
  rotationDate?: Date;
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
}

export interface KeyView {
  arn: string;
  keyId: string;
  state: KeyState;
  origin: KeyOrigin;
  keySpec: string;
  keyUsage: string;
  account: string;
  region: string;
  multiRegion: boolean;
  /** Multi-Region keys only: PRIMARY or REPLICA. */
  multiRegionKeyType?: 'PRIMARY' | 'REPLICA';
  /** Multi-Region keys only: the primary key's ARN (the key's own for a primary). */
  primaryArn?: string;
  /** Multi-Region keys only: the ARNs of the primary's replicas, in the order they were made. */
  replicaArns?: string[];
  creationDate: Date;
  deletionDate?: Date;
  tags: Record<string, string>;
  aliases: string[];
  materials: KeyMaterialView[];
  /** Material IDs whose material was actually deleted (IMPORTED -> PENDING_IMPORT, or a PENDING_ROTATION material removed), in order. */
  deletedMaterialIds: string[];
}

export interface KmsCall {
  op: string;
  request: any;
  /** HTTP status sent; 0 when no response was delivered (connection dropped, or the client disconnected first). */
  status: number;
  /** The error code sent, or 'ConnectionDropped' / 'ConnectionDroppedAfterHandling' / 'ClientDisconnected'. */
  errorType?: string;
  errorMessage?: string;
  /** Epoch ms at which the request arrived. */
  at: number;
  accessKeyId?: string;
  region?: string;
  requestId: string;
  /** True when the operation's side effects were applied (a success, or a drop after handling). */
  applied: boolean;
}

export interface KmsDenyRule {
  op?: string;
  keyArn?: string;
  accessKeyId?: string;
  /** Overrides the generated AccessDeniedException message. */
  message?: string;
  /** 'identity' (default): implicit deny, "no identity-based policy allows"; 'scp': "with an explicit deny in a service control policy". */
  policy?: 'identity' | 'scp';
}

export interface KmsDoubleOptions {
  defaultAccount?: string;
  /** Region used by addKey() when none is given. Default 'us-east-1'. */
  defaultRegion?: string;
}

/**
 * Default request quotas (requests per second, per account and Region), from the
 * "Request quotas" page of the AWS KMS Developer Guide (requests-per-second.html, 2025/2026
 * revision). Each quota is calculated independently: ImportKeyMaterial and
 * DeleteImportedKeyMaterial do NOT share a bucket ("Each request quota is calculated
 * independently"). DeleteImportedKeyMaterial and ImportKeyMaterial were raised from 5 to 15 on
 * July 23, 2024 (document history); GetParametersForImport used to be 0.25 (1 per 4 s), now 1.
 */
export const KMS_DEFAULT_QUOTAS: Readonly<Record<string, number>> = Object.freeze({
  CancelKeyDeletion: 5,
  CreateKey: 5,
  DeleteImportedKeyMaterial: 15,
  DescribeKey: 2000,
  DisableKey: 5,
  EnableKey: 5,
  GetParametersForImport: 1,
  ImportKeyMaterial: 15,
  ListKeyRotations: 100,
  ListResourceTags: 2000,
  RotateKeyOnDemand: 5,
  ScheduleKeyDeletion: 15,
  TagResource: 10,
  UntagResource: 5,
});

/** HTTP status codes by error type (API Reference "Errors" sections; DependencyTimeoutException is documented as 500, not 503). */
const DEFAULT_ERROR_STATUS: Readonly<Record<string, number>> = {
  KMSInternalException: 500,
  DependencyTimeoutException: 500,
  InternalFailure: 500,
  ServiceUnavailable: 503,
  ServiceUnavailableException: 503,
};

const SUPPORTED_OPS = [
  'CancelKeyDeletion',
  'CreateKey',
  'DeleteImportedKeyMaterial',
  'DescribeKey',
  'DisableKey',
  'EnableKey',
  'GetParametersForImport',
  'ImportKeyMaterial',
  'ListKeyRotations',
  'ListResourceTags',
  'ReplicateKey',
  'RotateKeyOnDemand',
  'ScheduleKeyDeletion',
  'TagResource',
  'UntagResource',
] as const;
type SupportedOp = (typeof SUPPORTED_OPS)[number];

/** Operations documented with "Cross-account use: Yes" among those implemented. */
const CROSS_ACCOUNT_OPS = new Set<string>(['DescribeKey']);

const KEY_STATES: ReadonlySet<string> = new Set<KeyState>([
  'Creating', 'Enabled', 'Disabled', 'PendingDeletion', 'PendingImport', 'PendingReplicaDeletion', 'Unavailable', 'Updating',
]);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MRK_RE = /^mrk-[0-9a-f]{32}$/;
const KEY_MATERIAL_ID_RE = /^[a-f0-9]{64}$/;
const ARN_RE = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-eusc):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status: number = DEFAULT_ERROR_STATUS[type] ?? 400,
  ) {
    super(message);
  }
}

interface Material {
  id: string;
  state: KeyMaterialState;
  importState: KeyMaterialImportState;
  description?: string;
  expirationModel?: ExpirationModel;
  validTo?: Date;
  rotationDate?: Date;
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
  /** sha256 of the (opaque) material bytes, when the material arrived over HTTP. */
  fingerprint?: string;
}

interface Key {
  keyId: string;
  arn: string;
  account: string;
  region: string;
  origin: KeyOrigin;
  keySpec: string;
  keyUsage: string;
  state: KeyState;
  multiRegion: boolean;
  /** A multi-Region replica: its primary's ARN (same key ID, another Region). Undefined for primaries and single-Region keys. */
  primaryArn?: string;
  description: string;
  creationDate: Date;
  deletionDate?: Date;
  tags: Map<string, string>;
  aliases: Set<string>;
  materials: Material[];
  deletedMaterialIds: string[];
  /** Undefined: the default key policy. */
  keyPolicy?: PolicyDocument;
}

interface Ctx {
  op: string;
  requestId: string;
  accessKeyId: string;
  region: string;
  account: string;
  principalArn: string;
  body: Record<string, any>;
}

interface ImportTokenRecord {
  keyArn: string;
  validTo: Date;
}

const epoch = (d: Date): number => d.getTime() / 1000;
/** "Related multi-Region keys ... have the same key ID": their ARNs differ only in the Region. */
const replicaArnOf = (primaryArn: string, region: string): string => primaryArn.replace(/^(arn:[^:]+:kms:)[^:]+:/, `$1${region}:`);
const regionOf = (keyArn: string): string => keyArn.split(':')[3];
const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

export class KmsDouble extends AwsDouble<KmsCall, KmsDenyRule> {
  /** Starts a double listening on 127.0.0.1 on an ephemeral port. */
  static async start(options: KmsDoubleOptions = {}): Promise<KmsDouble> {
    const double = new KmsDouble(options);
    await double.listen();
    return double;
  }

  readonly defaultAccount: string;
  readonly defaultRegion: string;

  private readonly keys = new Map<string, Key>();
  private readonly aliases = new Map<string, string>();
  private readonly importTokens = new Map<string, ImportTokenRecord>();
  private readonly quotas = new Map<string, number>(Object.entries(KMS_DEFAULT_QUOTAS));
  private readonly limiter = new SlidingWindowLimiter();
  private readonly principals = new Map<string, { account: string; arn: string }>();
  private enforcing = false;
  /** Identity-based policies in force, by IAM identity ARN (a role's or user's ARN). */
  private identityPolicies = new Map<string, PolicyDocument[]>();

  private constructor(options: KmsDoubleOptions) {
    super();
    this.defaultAccount = options.defaultAccount ?? '111122223333';
    this.defaultRegion = options.defaultRegion ?? 'us-east-1';
  }

  // -------------------------------------------------------------------------------------------
  // Direct state set-up (no HTTP)
  // -------------------------------------------------------------------------------------------

  addKey(spec: AddKeySpec = {}): string {
    const origin = spec.origin ?? 'AWS_KMS';
    const keySpec = spec.keySpec ?? 'SYMMETRIC_DEFAULT';
    const account = spec.account ?? this.defaultAccount;
    const region = spec.region ?? this.defaultRegion;
    const multiRegion = spec.multiRegion ?? false;
    const keyId = spec.keyId ?? (multiRegion ? `mrk-${hex(16)}` : randomUUID());
    const arn = `arn:aws:kms:${region}:${account}:key/${keyId}`;
    if (this.keys.has(arn)) throw new Error(`KmsDouble.addKey: key ${arn} already exists`);
    if (spec.keyState && !KEY_STATES.has(spec.keyState)) throw new Error(`KmsDouble.addKey: unknown key state ${spec.keyState}`);
    if (spec.importedMaterials !== undefined && origin !== 'EXTERNAL' && spec.importedMaterials > 0) {
      throw new Error('KmsDouble.addKey: importedMaterials is only meaningful for origin EXTERNAL');
    }
    const now = new Date();
    const key: Key = {
      keyId,
      arn,
      account,
      region,
      origin,
      keySpec,
      keyUsage: spec.keyUsage ?? defaultKeyUsage(keySpec),
      state: 'Enabled',
      multiRegion,
      description: spec.description ?? '',
      creationDate: now,
      tags: new Map(Object.entries(spec.tags ?? {})),
      aliases: new Set(),
      materials: [],
      deletedMaterialIds: [],
      keyPolicy: spec.keyPolicy === undefined ? undefined : normalizeDocument(spec.keyPolicy),
    };
    if (origin === 'AWS_KMS') {
      key.materials.push({ id: hex(32), state: 'CURRENT', importState: 'IMPORTED' });
    }
    this.keys.set(arn, key);
    if (origin === 'EXTERNAL') {
      const n = spec.importedMaterials ?? (spec.keyState === 'PendingImport' ? 0 : 1);
      if (n > 1 && keySpec !== 'SYMMETRIC_DEFAULT') {
        throw new Error('KmsDouble.addKey: only symmetric encryption keys can have more than one key material');
      }
      key.state = 'PendingImport';
      for (let i = 0; i < n; i++) this.importMaterial(arn, { makeCurrent: true });
    }
    if (spec.keyState) key.state = spec.keyState;
    if (key.state === 'PendingDeletion') key.deletionDate = new Date(now.getTime() + 30 * 86400_000);
    for (const alias of spec.aliases ?? []) this.addAlias(alias, arn);
    return arn;
  }

  /**
   * Makes a replica of a multi-Region primary key in `region` (as ReplicateKey does): the same
   * key ID, key spec, usage and origin; its own state and policy. For imported material the
   * replica gets copies of the primary's materials (same IDs), imported unless
   * `spec.importMaterial` is false. Returns the replica's ARN.
   */
  replicateKey(primaryArn: string, region: string, spec: ReplicateKeySpec = {}): string {
    const primary = this.mustGetKey(primaryArn);
    const problem = this.replicationProblem(primary, region);
    if (problem) throw new Error(`KmsDouble.replicateKey: ${problem.message}`);
    return this.makeReplica(primary, region, spec.importMaterial ?? true, spec).arn;
  }

  /** Why `primary` cannot be replicated into `region`, as ReplicateKey would answer; undefined when it can. */
  private replicationProblem(primary: Key, region: string): KmsError | undefined {
    // API_ReplicateKey errors: UnsupportedOperationException for a key that is not a multi-Region
    // primary; AlreadyExistsException when the Region has a replica (or the primary) already.
    if (!primary.multiRegion) return new KmsError('UnsupportedOperationException', `${primary.arn} is not a multi-Region key.`);
    if (primary.primaryArn) return new KmsError('UnsupportedOperationException', `${primary.arn} is a replica key; only a multi-Region primary key can be replicated.`);
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
      return new KmsError('ValidationException', `1 validation error detected: Value '${region}' at 'replicaRegion' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$`);
    }
    const arn = replicaArnOf(primary.arn, region);
    if (this.keys.has(arn)) return new KmsError('AlreadyExistsException', `${arn} already exists.`);
    return undefined;
  }

  private makeReplica(primary: Key, region: string, importMaterial: boolean, spec: ReplicateKeySpec): Key {
    const arn = replicaArnOf(primary.arn, region);
    const replica: Key = {
      ...primary,
      arn,
      region,
      primaryArn: primary.arn,
      state: 'Enabled',
      description: spec.description ?? primary.description,
      creationDate: new Date(),
      deletionDate: undefined,
      tags: new Map(),
      aliases: new Set(),
      // AWS_KMS material is shared; imported material is the user's to import into each replica.
      materials: primary.materials
        .filter((m) => m.state !== 'PENDING_ROTATION')
        .map((m) => ({ ...m, importState: primary.origin === 'EXTERNAL' && !importMaterial ? 'PENDING_IMPORT' : m.importState })),
      deletedMaterialIds: [],
      keyPolicy: spec.keyPolicy === undefined ? undefined : normalizeDocument(spec.keyPolicy),
    };
    if (primary.origin === 'EXTERNAL') {
      const imported = replica.materials.length > 0 && replica.materials.every((m) => m.importState === 'IMPORTED');
      replica.state = imported ? (primary.state === 'Disabled' ? 'Disabled' : 'Enabled') : 'PendingImport';
    }
    if (spec.keyState) replica.state = spec.keyState;
    if (replica.state === 'PendingDeletion') replica.deletionDate = new Date(Date.now() + 30 * 86400_000);
    this.keys.set(arn, replica);
    return replica;
  }

  /** The replicas of a primary key, in the order they were made. */
  private replicasOf(primary: Key): Key[] {
    return [...this.keys.values()].filter((k) => k.primaryArn === primary.arn);
  }

  /** Points an alias (`alias/name`) at a key, in the key's account and Region. */
  addAlias(aliasName: string, keyArn: string): void {
    const key = this.mustGetKey(keyArn);
    if (!aliasName.startsWith('alias/')) throw new Error('KmsDouble.addAlias: alias names start with "alias/"');
    this.aliases.set(`${key.account}|${key.region}|${aliasName}`, key.arn);
    key.aliases.add(aliasName);
  }

  /**
   * Imports key material directly (as if GetParametersForImport + ImportKeyMaterial succeeded).
   * - New material on a key without material becomes CURRENT.
   * - `makeCurrent` (default true) models import + RotateKeyOnDemand: the previous CURRENT becomes NON_CURRENT.
   * - `makeCurrent: false` leaves the new material in PENDING_ROTATION.
   * - An existing `keyMaterialId` is re-imported (PENDING_IMPORT -> IMPORTED).
   * Like the service, a PendingImport key becomes Enabled once every permanently associated material is imported.
   */
  importMaterial(
    keyArn: string,
    opts: { keyMaterialId?: string; makeCurrent?: boolean; description?: string; validTo?: Date } = {},
  ): string {
    const key = this.mustGetKey(keyArn);
    if (key.origin !== 'EXTERNAL') throw new Error(`KmsDouble.importMaterial: ${keyArn} has origin ${key.origin}`);
    const id = opts.keyMaterialId ?? hex(32);
    if (!KEY_MATERIAL_ID_RE.test(id)) throw new Error('KmsDouble.importMaterial: a key material ID is 64 lowercase hex characters');
    const makeCurrent = opts.makeCurrent ?? true;
    const expiration = {
      expirationModel: (opts.validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE') as ExpirationModel,
      validTo: opts.validTo,
    };
    let m = key.materials.find((x) => x.id === id);
    if (m) {
      m.importState = 'IMPORTED';
      Object.assign(m, expiration);
      if (opts.description !== undefined) m.description = opts.description;
      if (makeCurrent && m.state === 'PENDING_ROTATION') this.rotateTo(key, m);
    } else {
      if (key.materials.length > 0 && key.keySpec !== 'SYMMETRIC_DEFAULT') {
        throw new Error('KmsDouble.importMaterial: asymmetric and HMAC keys cannot change their key material');
      }
      m = { id, state: 'PENDING_ROTATION', importState: 'IMPORTED', description: opts.description, ...expiration };
      key.materials.push(m);
      if (key.materials.length === 1) m.state = 'CURRENT';
      else if (makeCurrent) this.rotateTo(key, m);
    }
    this.refreshImportState(key);
    return id;
  }

  /** Forces a key state (e.g. 'Creating', 'Updating', 'Unavailable' to exercise KMSInvalidStateException). */
  setKeyState(keyArn: string, state: KeyState): void {
    const key = this.mustGetKey(keyArn);
    key.state = state;
    if (state === 'PendingDeletion' && !key.deletionDate) key.deletionDate = new Date(Date.now() + 30 * 86400_000);
    if (state !== 'PendingDeletion') key.deletionDate = undefined;
  }

  /**
   * Tags a key and untags others, as TagResource and UntagResource would (for a test bed that
   * applies a template's Tags, which CloudFormation does with those calls), without their state
   * checks: CloudFormation does not update a key it is deleting.
   */
  retag(keyArn: string, set: Record<string, string>, remove: readonly string[]): void {
    const key = this.mustGetKey(keyArn);
    for (const k of remove) key.tags.delete(k);
    for (const [k, v] of Object.entries(set)) key.tags.set(k, v);
  }

  /** A snapshot of a key (by key ARN, or key ID when unambiguous), or undefined. */
  key(keyArnOrId: string): KeyView | undefined {
    const key = this.keys.get(keyArnOrId) ?? [...this.keys.values()].find((k) => k.keyId === keyArnOrId);
    if (!key) return undefined;
    return {
      arn: key.arn,
      keyId: key.keyId,
      state: key.state,
      origin: key.origin,
      keySpec: key.keySpec,
      keyUsage: key.keyUsage,
      account: key.account,
      region: key.region,
      multiRegion: key.multiRegion,
      ...(key.multiRegion ? {
        multiRegionKeyType: key.primaryArn ? 'REPLICA' as const : 'PRIMARY' as const,
        primaryArn: key.primaryArn ?? key.arn,
        replicaArns: this.replicasOf(this.keys.get(key.primaryArn ?? key.arn) ?? key).map((r) => r.arn),
      } : {}),
      creationDate: new Date(key.creationDate),
      deletionDate: key.deletionDate ? new Date(key.deletionDate) : undefined,
      tags: Object.fromEntries(key.tags),
      aliases: [...key.aliases],
      materials: key.materials.map((m) => ({
        id: m.id,
        state: m.state,
        importState: m.importState,
        description: m.description,
        expirationModel: m.expirationModel,
        validTo: m.validTo ? new Date(m.validTo) : undefined,
        rotationDate: m.rotationDate ? new Date(m.rotationDate) : undefined,
        rotationType: m.rotationType,
      })),
      deletedMaterialIds: [...key.deletedMaterialIds],
    };
  }

  /** The principal an access key ID is mapped to (setPrincipal), if any. */
  principalOf(accessKeyId: string): { account: string; arn: string } | undefined {
    return this.principals.get(accessKeyId);
  }

  /** Maps an access key ID to the calling principal (account for quotas/key-ID lookups, ARN for AccessDenied messages). */
  setPrincipal(accessKeyId: string, principal: { account?: string; arn?: string }): void {
    const account = principal.account ?? this.defaultAccount;
    this.principals.set(accessKeyId, { account, arn: principal.arn ?? `arn:aws:iam::${account}:user/${accessKeyId}` });
  }

  // -------------------------------------------------------------------------------------------
  // Controls
  // -------------------------------------------------------------------------------------------

  /** Requests per second for `op`, per (calling account, Region). Infinity disables throttling. */
  setQuota(op: string, perSecond: number): void {
    this.quotas.set(op, perSecond);
  }

  /** Forgets the request history of every quota window. */
  resetQuotas(): void {
    this.limiter.reset();
  }

  /**
   * Makes `op` ('*' = any) fail with `errorType`. `times` defaults to Infinity. `status` defaults to
   * the documented status (500 for KMSInternalException / DependencyTimeoutException, 503 for
   * ServiceUnavailable*, else 400). `keyArn` limits the fault to requests naming that key.
   */
  injectError(op: string, errorType: string, opts: { times?: number; status?: number; keyArn?: string; message?: string } = {}): void {
    this.faults.addError({
      op,
      errorType,
      status: opts.status ?? DEFAULT_ERROR_STATUS[errorType] ?? 400,
      message: opts.message,
      times: opts.times,
      matches: opts.keyArn ? (ctx) => this.peekKeyArn(ctx as Ctx) === opts.keyArn : undefined,
    });
  }

  /** Adds an AccessDeniedException rule. Every given field must match; omitted fields match anything. */
  deny(rule: KmsDenyRule): void {
    this.denyRules.push(rule);
  }

  /**
   * Turns policy evaluation on (or off): requests by an access key mapped with `setPrincipal()`
   * are then allowed or denied from the key's policy and the identity's IAM policies, as
   * `evaluateAccess` describes. Requests by unmapped access keys stay allowed (deny rules still
   * apply), so set-up and operator calls are unaffected.
   */
  enforcePolicies(on = true): void {
    this.enforcing = on;
  }

  get enforcingPolicies(): boolean {
    return this.enforcing;
  }

  /** Replaces a key's policy (PutKeyPolicy); `undefined` restores the default key policy. */
  setKeyPolicy(keyArn: string, policy: PolicyDocument | undefined): void {
    this.mustGetKey(keyArn).keyPolicy = policy === undefined ? undefined : normalizeDocument(policy);
  }

  /** The key policy in force (the default key policy when none was set). */
  keyPolicy(keyArn: string): PolicyDocument {
    const key = this.mustGetKey(keyArn);
    return key.keyPolicy ?? defaultKeyPolicy(key.account, partitionOf(key.arn));
  }

  /** Sets the identity-based policies of one IAM identity (role or user ARN); an empty list detaches all. */
  setIdentityPolicies(identityArn: string, policies: PolicyDocument[]): void {
    if (policies.length === 0) this.identityPolicies.delete(identityArn);
    else this.identityPolicies.set(identityArn, policies.map(normalizeDocument));
  }

  /** Replaces every identity-based policy at once (what a resync from a stack's resources does). */
  replaceIdentityPolicies(byIdentity: ReadonlyMap<string, readonly PolicyDocument[]>): void {
    this.identityPolicies = new Map([...byIdentity].filter(([, docs]) => docs.length > 0).map(([arn, docs]) => [arn, docs.map(normalizeDocument)]));
  }

  /**
   * What KMS would decide for `principalArn` calling `action` (e.g. 'kms:DeleteImportedKeyMaterial')
   * on `keyArn`, with the policies in force now; independent of `enforcePolicies()`.
   */
  evaluateAccess(principalArn: string, action: string, keyArn: string): AccessDecision {
    const key = this.mustGetKey(keyArn);
    const account = /^arn:[^:]+:(?:iam|sts)::(\d{12}):/.exec(principalArn)?.[1] ?? this.defaultAccount;
    return evaluateKmsAccess({
      principalArn,
      principalAccount: account,
      action,
      keyArn: key.arn,
      keyPolicy: this.keyPolicy(key.arn),
      identityPolicies: this.identityPoliciesOf(principalArn),
    });
  }

  // -------------------------------------------------------------------------------------------
  // HTTP pipeline
  // -------------------------------------------------------------------------------------------

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = Date.now();
    const requestId = newRequestId();
    const raw = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : target;
    const scope = parseSigV4Authorization(req.headers.authorization);
    let body: Record<string, any>;
    let bodyError: KmsError | undefined;
    try {
      const text = raw.toString('utf8');
      body = text.length ? JSON.parse(text) : {};
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      bodyError = new KmsError('SerializationException', 'Start of structure or map found where not expected.');
      body = {};
    }
    const call: KmsCall = {
      op,
      request: body,
      status: 0,
      at,
      accessKeyId: scope?.accessKeyId,
      region: scope?.region,
      requestId,
      applied: false,
    };
    this.calls.push(call);

    const principal = this.principalFor(scope?.accessKeyId ?? '');
    const ctx: Ctx = {
      op,
      requestId,
      accessKeyId: scope?.accessKeyId ?? '',
      region: scope?.region ?? '',
      account: principal.account,
      principalArn: principal.arn,
      body,
    };
    const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-RequestId': requestId };

    try {
      const delay = this.faults.takeLatency(op);
      if (delay > 0) await sleep(delay);
      if (this.faults.takeDrop(op, 'before')) {
        call.errorType = 'ConnectionDropped';
        dropConnection(req, res);
        return;
      }
      const injected = this.faults.takeError(op, ctx);
      if (injected) {
        throw new KmsError(injected.errorType, injected.message ?? injectedMessage(injected.errorType), injected.status);
      }
      if (!scope) throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
      if (!target.startsWith('TrentService.') || !(SUPPORTED_OPS as readonly string[]).includes(op)) {
        // GUESS: the exact message; the __type is what AWS JSON services return for an unknown X-Amz-Target.
        throw new KmsError('UnknownOperationException', `Unknown operation ${target || '(no X-Amz-Target)'}`);
      }
      if (bodyError) throw bodyError;
      this.throttle(ctx);
      this.checkDenied(ctx);
      this.checkPolicies(ctx);
      this.expireMaterials();
      const result = this.dispatch(op as SupportedOp, ctx);
      call.applied = true;
      if (this.faults.takeDrop(op, 'after')) {
        call.errorType = 'ConnectionDroppedAfterHandling';
        dropConnection(req, res);
        return;
      }
      call.status = 200;
      if (!send(res, 200, headers, JSON.stringify(result))) undelivered(call);
    } catch (err) {
      if (!(err instanceof KmsError)) throw err;
      call.status = err.status;
      call.errorType = err.type;
      call.errorMessage = err.message;
      if (!send(res, err.status, headers, JSON.stringify({ __type: err.type, message: err.message }))) undelivered(call);
    }
  }

  private dispatch(op: SupportedOp, ctx: Ctx): Record<string, unknown> {
    switch (op) {
      case 'CancelKeyDeletion': return this.cancelKeyDeletion(ctx);
      case 'CreateKey': return this.createKey(ctx);
      case 'DeleteImportedKeyMaterial': return this.deleteImportedKeyMaterial(ctx);
      case 'DescribeKey': return this.describeKey(ctx);
      case 'DisableKey': return this.setEnabled(ctx, false);
      case 'EnableKey': return this.setEnabled(ctx, true);
      case 'GetParametersForImport': return this.getParametersForImport(ctx);
      case 'ImportKeyMaterial': return this.importKeyMaterial(ctx);
      case 'ListKeyRotations': return this.listKeyRotations(ctx);
      case 'ListResourceTags': return this.listResourceTags(ctx);
      case 'ReplicateKey': return this.replicateKeyOp(ctx);
      case 'RotateKeyOnDemand': return this.rotateKeyOnDemand(ctx);
      case 'ScheduleKeyDeletion': return this.scheduleKeyDeletion(ctx);
      case 'TagResource': return this.tagResource(ctx);
      case 'UntagResource': return this.untagResource(ctx);
    }
  }

  private principalFor(accessKeyId: string): { account: string; arn: string } {
    return (
      this.principals.get(accessKeyId) ?? {
        account: this.defaultAccount,
        arn: `arn:aws:iam::${this.defaultAccount}:user/${accessKeyId || 'anonymous'}`,
      }
    );
  }

  /**
   * "The rate of requests per second exceeds the AWS KMS request quota for an account and Region"
   * (Developer Guide, throttling.html). For cross-account requests the caller's account is throttled.
   */
  private throttle(ctx: Ctx): void {
    const quota = this.quotas.get(ctx.op);
    if (quota === undefined) return;
    if (!this.limiter.tryAcquire(`${ctx.account}|${ctx.region}|${ctx.op}`, quota)) {
      throw new KmsError('ThrottlingException', 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.', 400);
    }
  }

  private checkDenied(ctx: Ctx): void {
    const resource = this.peekKeyArn(ctx);
    for (const rule of this.denyRules) {
      if (rule.op && rule.op !== ctx.op) continue;
      if (rule.accessKeyId && rule.accessKeyId !== ctx.accessKeyId) continue;
      if (rule.keyArn && rule.keyArn !== resource) continue;
      const action = `kms:${ctx.op}`;
      const res = resource ?? (typeof ctx.body.KeyId === 'string' && ctx.body.KeyId ? ctx.body.KeyId : '*');
      const why =
        rule.policy === 'scp'
          ? 'with an explicit deny in a service control policy'
          : `because no identity-based policy allows the ${action} action`;
      throw new KmsError('AccessDeniedException', rule.message ?? `User: ${ctx.principalArn} is not authorized to perform: ${action} on resource: ${res} ${why}`, 400);
    }
  }

  /**
   * Policy evaluation for mapped principals (see `enforcePolicies`). Requests without a key (CreateKey)
   * and requests whose key does not resolve are left to the operation (NotFoundException etc.).
   */
  private checkPolicies(ctx: Ctx): void {
    if (!this.enforcing || !this.principals.has(ctx.accessKeyId) || ctx.op === 'CreateKey') return;
    let key: Key;
    try {
      key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: ctx.op === 'DescribeKey' });
    } catch {
      return;
    }
    const decision = evaluateKmsAccess({
      principalArn: ctx.principalArn,
      principalAccount: ctx.account,
      action: `kms:${ctx.op}`,
      keyArn: key.arn,
      keyPolicy: key.keyPolicy ?? defaultKeyPolicy(key.account, partitionOf(key.arn)),
      identityPolicies: this.identityPoliciesOf(ctx.principalArn),
    });
    if (!decision.allowed) throw new KmsError('AccessDeniedException', decision.message, 400);
  }

  /** The identity policies of a principal: a role or user ARN, or an assumed-role session of the role. */
  identityPoliciesOf(principalArn: string): PolicyDocument[] {
    const direct = this.identityPolicies.get(principalArn);
    if (direct) return direct;
    const session = parseAssumedRole(principalArn);
    if (!session) return [];
    for (const [arn, docs] of this.identityPolicies) {
      if (roleMatchesSession(arn, session)) return docs;
    }
    return [];
  }

  /** Best-effort key ARN of the request's KeyId (used by deny rules and keyArn-scoped faults); never throws. */
  private peekKeyArn(ctx: Ctx): string | undefined {
    const raw = ctx.body.KeyId;
    if (typeof raw !== 'string' || !raw) return undefined;
    try {
      return this.resolveKey(ctx, raw, { allowAlias: true }).arn;
    } catch {
      const m = ARN_RE.exec(raw);
      if (m && m[4] === 'key') return raw;
      if (UUID_RE.test(raw) || MRK_RE.test(raw)) return `arn:aws:kms:${ctx.region}:${ctx.account}:key/${raw}`;
      return undefined;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Key resolution and validation helpers
  // -------------------------------------------------------------------------------------------

  /**
   * Resolves `KeyId` as the API Reference describes: key ID or key ARN; alias name/ARN only for
   * operations that accept them (DescribeKey). Keys are regional: a key ID is looked up in the
   * request's Region (SigV4 scope) and caller account; a key ARN naming another Region is not found.
   */
  private resolveKey(ctx: Ctx, raw: unknown, opts: { allowAlias: boolean }): Key {
    if (raw === undefined || raw === null) {
      throw new KmsError('ValidationException', "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    }
    if (typeof raw !== 'string' || raw.length < 1 || raw.length > 2048) {
      throw new KmsError('ValidationException', "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048");
    }
    if (raw.startsWith('arn:')) {
      const m = ARN_RE.exec(raw);
      if (!m) throw new KmsError('InvalidArnException', `Invalid arn ${raw}`);
      const [, , region, account, type, rest] = m;
      if (type === 'alias') {
        // Developer Guide (importing-keys-delete-key-material): "You can use the key ID or ARN but
        // you cannot use an alias for this operation." GUESS: the error for a well-formed alias ARN
        // is NotFoundException "Invalid keyId ..." (what moto returns; the API Reference is silent).
        if (!opts.allowAlias) throw new KmsError('NotFoundException', `Invalid keyId ${raw}`);
        if (region !== ctx.region) throw new KmsError('NotFoundException', `Alias ${raw} is not found.`);
        return this.resolveAlias(account, region, `alias/${rest}`, raw);
      }
      if (region !== ctx.region) {
        // KMS keys are regional; the Regional endpoint does not know keys of other Regions.
        throw new KmsError('NotFoundException', `Key '${raw}' does not exist`);
      }
      const key = this.keys.get(raw);
      if (!key) throw new KmsError('NotFoundException', `Key '${raw}' does not exist`);
      if (key.account !== ctx.account && !CROSS_ACCOUNT_OPS.has(ctx.op)) {
        // API Reference: "Cross-account use: No." GUESS: the denial surfaces as AccessDeniedException.
        throw new KmsError(
          'AccessDeniedException',
          `User: ${ctx.principalArn} is not authorized to perform: kms:${ctx.op} on resource: ${key.arn} because no resource-based policy allows the kms:${ctx.op} action`,
        );
      }
      return key;
    }
    if (raw.startsWith('alias/')) {
      if (!opts.allowAlias) throw new KmsError('NotFoundException', `Invalid keyId ${raw}`);
      return this.resolveAlias(ctx.account, ctx.region, raw, `arn:aws:kms:${ctx.region}:${ctx.account}:${raw}`);
    }
    if (!UUID_RE.test(raw) && !MRK_RE.test(raw)) throw new KmsError('NotFoundException', `Invalid keyId ${raw}`);
    const arn = `arn:aws:kms:${ctx.region}:${ctx.account}:key/${raw}`;
    const key = this.keys.get(arn);
    if (!key) throw new KmsError('NotFoundException', `Key '${arn}' does not exist`);
    return key;
  }

  private resolveAlias(account: string, region: string, aliasName: string, display: string): Key {
    const arn = this.aliases.get(`${account}|${region}|${aliasName}`);
    const key = arn ? this.keys.get(arn) : undefined;
    if (!key) throw new KmsError('NotFoundException', `Alias ${display} is not found.`);
    return key;
  }

  private mustGetKey(keyArn: string): Key {
    const key = this.keys.get(keyArn);
    if (!key) throw new Error(`KmsDouble: no key ${keyArn}`);
    return key;
  }

  private requireExternal(key: Key): void {
    // Key state table footnote: "If the KMS key cannot or does not have imported key material: UnsupportedOperationException".
    if (key.origin !== 'EXTERNAL') {
      throw new KmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
    }
  }

  /** KMSInvalidStateException messages follow the key-state table footnotes ("<key ARN> is pending deletion."). */
  private invalidState(key: Key): KmsError {
    const words: Record<KeyState, string> = {
      Creating: 'creating',
      Enabled: 'enabled',
      Disabled: 'disabled',
      PendingDeletion: 'pending deletion',
      PendingImport: 'pending import',
      PendingReplicaDeletion: 'pending replica deletion',
      Unavailable: 'unavailable',
      Updating: 'updating',
    };
    return new KmsError('KMSInvalidStateException', `${key.arn} is ${words[key.state]}.`);
  }

  private rejectStates(key: Key, states: KeyState[]): void {
    if (states.includes(key.state)) throw this.invalidState(key);
  }

  private currentMaterial(key: Key): Material | undefined {
    return key.materials.find((m) => m.state === 'CURRENT');
  }

  /** Materials "permanently associated" with the key (Developer Guide: PENDING_ROTATION ones are not). */
  private permanentMaterials(key: Key): Material[] {
    return key.materials.filter((m) => m.state !== 'PENDING_ROTATION');
  }

  /**
   * ImportKeyMaterial: "For symmetric encryption keys, you will need to import all of the key
   * materials associated with the KMS key to change its state to Enabled."
   */
  private refreshImportState(key: Key): void {
    if (key.state !== 'PendingImport') return;
    const permanent = this.permanentMaterials(key);
    if (permanent.length > 0 && permanent.every((m) => m.importState === 'IMPORTED')) key.state = 'Enabled';
  }

  private rotateTo(key: Key, next: Material): void {
    const current = this.currentMaterial(key);
    if (current && current !== next) current.state = 'NON_CURRENT';
    next.state = 'CURRENT';
    next.rotationDate = new Date();
    next.rotationType = 'ON_DEMAND';
  }

  /** "when imported key material with an expiration date expires, AWS KMS deletes the key material" (importing-keys-delete-key-material). */
  private expireMaterials(): void {
    const now = Date.now();
    for (const key of this.keys.values()) {
      for (const m of [...key.materials]) {
        if (m.importState !== 'IMPORTED' || m.expirationModel !== 'KEY_MATERIAL_EXPIRES' || !m.validTo || m.validTo.getTime() > now) continue;
        this.deleteMaterial(key, m);
      }
    }
  }

  /** Deletes one material with the documented side effects; returns false when there was nothing to delete. */
  private deleteMaterial(key: Key, m: Material): boolean {
    if (m.state === 'PENDING_ROTATION') {
      // "Key material in PENDING_ROTATION ... state is not permanently associated with the KMS key.
      // You can delete this key material and import different key material in its place."
      // Deleting it does not change the key state.
      key.materials = key.materials.filter((x) => x !== m);
      key.deletedMaterialIds.push(m.id);
      return true;
    }
    // "Deletion or expiration of any permanently associated key material changes the key state to
    // Pending import" -- unless the key is PendingDeletion ("this operation does not change the KMS
    // key's state"). GUESS: PendingReplicaDeletion is treated like PendingDeletion.
    const changed = m.importState === 'IMPORTED';
    m.importState = 'PENDING_IMPORT';
    if (changed) key.deletedMaterialIds.push(m.id);
    if (key.state !== 'PendingDeletion' && key.state !== 'PendingReplicaDeletion') key.state = 'PendingImport';
    return changed;
  }

  private keyMetadata(key: Key): Record<string, unknown> {
    const md: Record<string, unknown> = {
      AWSAccountId: key.account,
      KeyId: key.keyId,
      Arn: key.arn,
      CreationDate: epoch(key.creationDate),
      Enabled: key.state === 'Enabled',
      Description: key.description,
      KeyUsage: key.keyUsage,
      KeyState: key.state,
      Origin: key.origin,
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      MultiRegion: key.multiRegion,
    };
    if (key.keySpec === 'SYMMETRIC_DEFAULT') md.EncryptionAlgorithms = ['SYMMETRIC_DEFAULT'];
    if (key.keySpec.startsWith('HMAC_')) md.MacAlgorithms = [`HMAC_SHA_${key.keySpec.slice(5)}`];
    if (key.state === 'PendingDeletion' && key.deletionDate) md.DeletionDate = epoch(key.deletionDate);
    if (key.multiRegion) {
      // The same view from the primary and from every replica (a replica lists itself among ReplicaKeys).
      const primary = (key.primaryArn && this.keys.get(key.primaryArn)) || key;
      md.MultiRegionConfiguration = {
        MultiRegionKeyType: key.primaryArn ? 'REPLICA' : 'PRIMARY',
        PrimaryKey: { Arn: key.primaryArn ?? key.arn, Region: key.primaryArn ? regionOf(key.primaryArn) : key.region },
        ReplicaKeys: this.replicasOf(primary).map((r) => ({ Arn: r.arn, Region: r.region })),
      };
    }
    const current = this.currentMaterial(key);
    if (key.origin === 'EXTERNAL') {
      // "ExpirationModel ... present only when Origin is EXTERNAL". GUESS: omitted before the first import.
      const model = current?.expirationModel ?? key.materials[key.materials.length - 1]?.expirationModel;
      if (model) md.ExpirationModel = model;
      // "ValidTo: The earliest time at which any imported key material permanently associated with this KMS key expires."
      const expiring = this.permanentMaterials(key)
        .filter((m) => m.importState === 'IMPORTED' && m.expirationModel === 'KEY_MATERIAL_EXPIRES' && m.validTo)
        .map((m) => m.validTo!.getTime());
      if (expiring.length) md.ValidTo = Math.min(...expiring) / 1000;
    }
    // "CurrentKeyMaterialId ... present for symmetric encryption keys with AWS_KMS or EXTERNAL origin."
    if (key.keySpec === 'SYMMETRIC_DEFAULT' && (key.origin === 'AWS_KMS' || key.origin === 'EXTERNAL') && current) {
      md.CurrentKeyMaterialId = current.id;
    }
    return md;
  }

  // -------------------------------------------------------------------------------------------
  // Operations
  // -------------------------------------------------------------------------------------------

  /** API_CreateKey: Origin EXTERNAL creates a key without material in PendingImport. */
  private createKey(ctx: Ctx): Record<string, unknown> {
    const b = ctx.body;
    const origin = (b.Origin ?? 'AWS_KMS') as string;
    if (!['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'].includes(origin)) {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${origin}' at 'origin' failed to satisfy constraint: Member must satisfy enum value set: [EXTERNAL_KEY_STORE, AWS_CLOUDHSM, AWS_KMS, EXTERNAL]`);
    }
    if (origin === 'AWS_CLOUDHSM' || origin === 'EXTERNAL_KEY_STORE') {
      // Custom key stores are not modelled.
      throw new KmsError('CustomKeyStoreNotFoundException', 'Custom key stores are not supported by this test double.');
    }
    const keySpec = String(b.KeySpec ?? b.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT');
    const tags: Record<string, string> = {};
    for (const t of (b.Tags ?? []) as Array<{ TagKey?: string; TagValue?: string }>) {
      if (typeof t.TagKey !== 'string') throw new KmsError('TagException', 'Tag keys must be strings.');
      tags[t.TagKey] = String(t.TagValue ?? '');
    }
    let keyPolicy: PolicyDocument | undefined;
    if (b.Policy !== undefined) {
      // API_CreateKey: "If you do not specify a key policy, AWS KMS attaches a default key policy".
      try {
        keyPolicy = JSON.parse(String(b.Policy));
      } catch {
        throw new KmsError('MalformedPolicyDocumentException', 'The new key policy is not valid JSON.');
      }
    }
    const arn = this.addKey({
      keyPolicy,
      origin: origin as KeyOrigin,
      keySpec,
      keyUsage: typeof b.KeyUsage === 'string' ? b.KeyUsage : undefined,
      account: ctx.account,
      region: ctx.region,
      multiRegion: b.MultiRegion === true,
      tags,
      description: typeof b.Description === 'string' ? b.Description : '',
      importedMaterials: origin === 'EXTERNAL' ? 0 : undefined,
      keyState: origin === 'EXTERNAL' ? 'PendingImport' : undefined,
    });
    return { KeyMetadata: this.keyMetadata(this.keys.get(arn)!) };
  }

  private describeKey(ctx: Ctx): Record<string, unknown> {
    const key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: true });
    return { KeyMetadata: this.keyMetadata(key) };
  }

  /**
   * API_DeleteImportedKeyMaterial (2025 revision, with KeyMaterialId):
   * - Origin must be EXTERNAL (else UnsupportedOperationException).
   * - Without KeyMaterialId the current key material is deleted.
   * - "When the specified KMS key is in the PendingDeletion state, this operation does not change
   *   the KMS key's state. Otherwise, it changes the KMS key's state to PendingImport."
   * - Key state table: PendingImport -> succeeds, no effect.
   * - Response: KeyId (key ARN) and KeyMaterialId (the deleted material).
   */
  private deleteImportedKeyMaterial(ctx: Ctx): Record<string, unknown> {
    const key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: false });
    const materialId = ctx.body.KeyMaterialId;
    if (materialId !== undefined && (typeof materialId !== 'string' || !KEY_MATERIAL_ID_RE.test(materialId))) {
      // API Reference: "Length Constraints: Fixed length of 64. Pattern: ^[a-f0-9]+$".
      throw new KmsError('ValidationException', `1 validation error detected: Value '${String(materialId)}' at 'keyMaterialId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-f0-9]+$ and have length 64`);
    }
    this.requireExternal(key);
    // GUESS (current key-state table not retrievable in full): transient multi-Region states and
    // Unavailable reject the call; Enabled/Disabled/PendingImport/PendingDeletion accept it.
    this.rejectStates(key, ['Creating', 'Updating', 'Unavailable']);
    let material: Material | undefined;
    if (materialId !== undefined) {
      material = key.materials.find((m) => m.id === materialId);
      // GUESS: the API Reference lists NotFoundException ("the specified entity or resource could not be found") and nothing more specific.
      if (!material) throw new KmsError('NotFoundException', `Key material ${materialId} is not associated with ${key.arn}`);
    } else {
      material = this.currentMaterial(key);
    }
    if (!material) {
      // A key that never had material is PendingImport: "succeeds (no effect)".
      return { KeyId: key.arn };
    }
    this.deleteMaterial(key, material);
    return { KeyId: key.arn, KeyMaterialId: material.id };
  }

  /**
   * API_ListKeyRotations. IncludeKeyMaterial defaults to ROTATIONS_ONLY ("key materials created by
   * automatic or on-demand key rotation"); ALL_KEY_MATERIAL "adds the first key material and any
   * imported key material pending rotation". Limit 1..1000, default 100. "This parameter can only be
   * used with KMS keys that support automatic or on-demand key rotation" -> other keys get
   * UnsupportedOperationException (GUESS: for the whole operation, not only the parameter).
   */
  private listKeyRotations(ctx: Ctx): Record<string, unknown> {
    const b = ctx.body;
    const key = this.resolveKey(ctx, b.KeyId, { allowAlias: false });
    const include = b.IncludeKeyMaterial ?? 'ROTATIONS_ONLY';
    if (include !== 'ROTATIONS_ONLY' && include !== 'ALL_KEY_MATERIAL') {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${String(include)}' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]`);
    }
    const limit = b.Limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${String(limit)}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000`);
    }
    if (key.keySpec !== 'SYMMETRIC_DEFAULT' || (key.origin !== 'AWS_KMS' && key.origin !== 'EXTERNAL')) {
      throw new KmsError('UnsupportedOperationException', `${key.arn} does not support key rotation: KeySpec ${key.keySpec}, Origin ${key.origin}.`);
    }
    const first = key.materials.find((m) => !m.rotationDate && m.state !== 'PENDING_ROTATION');
    const entries = key.materials.filter((m) =>
      include === 'ALL_KEY_MATERIAL' ? true : m !== first && m.state !== 'PENDING_ROTATION',
    );
    // Order: first material, completed rotations by date, then materials pending rotation.
    const rank = (m: Material): number => (m === first ? 0 : m.state === 'PENDING_ROTATION' ? 2 : 1);
    entries.sort((a, c) => rank(a) - rank(c) || (a.rotationDate?.getTime() ?? 0) - (c.rotationDate?.getTime() ?? 0));
    let offset = 0;
    if (b.Marker !== undefined) offset = this.decodeMarker(key, 'rot', b.Marker);
    const page = entries.slice(offset, offset + limit);
    const truncated = offset + limit < entries.length;
    return {
      Rotations: page.map((m) => this.rotationEntry(key, m)),
      Truncated: truncated,
      ...(truncated ? { NextMarker: this.encodeMarker(key, 'rot', offset + limit) } : {}),
    };
  }

  private rotationEntry(key: Key, m: Material): Record<string, unknown> {
    const e: Record<string, unknown> = { KeyId: key.keyId, KeyMaterialId: m.id, KeyMaterialState: m.state };
    if (key.origin === 'EXTERNAL') {
      // "This field is only present for symmetric encryption KMS keys with EXTERNAL origin."
      if (m.description !== undefined) e.KeyMaterialDescription = m.description;
      e.ImportState = m.importState;
      if (m.expirationModel) e.ExpirationModel = m.expirationModel;
      if (m.expirationModel === 'KEY_MATERIAL_EXPIRES' && m.validTo) e.ValidTo = epoch(m.validTo);
    }
    // "This field is not present for the first key material or an imported key material in PENDING_ROTATION state."
    if (m.rotationDate && m.state !== 'PENDING_ROTATION') {
      e.RotationDate = epoch(m.rotationDate);
      e.RotationType = m.rotationType ?? 'ON_DEMAND';
    }
    return e;
  }

  private encodeMarker(key: Key, kind: string, offset: number): string {
    return Buffer.from(JSON.stringify({ k: key.keyId, t: kind, o: offset })).toString('base64');
  }

  private decodeMarker(key: Key, kind: string, marker: unknown): number {
    try {
      const parsed = JSON.parse(Buffer.from(String(marker), 'base64').toString('utf8'));
      if (parsed.k === key.keyId && parsed.t === kind && Number.isInteger(parsed.o) && parsed.o >= 0) return parsed.o;
    } catch {
      // fall through
    }
    throw new KmsError('InvalidMarkerException', 'The request was rejected because the marker that specifies where pagination should next begin is not valid.');
  }

  /**
   * API_GetParametersForImport: Origin must be EXTERNAL; "Each public key and import token set is
   * valid for 24 hours". Key state table: PendingDeletion -> KMSInvalidStateException for keys with
   * imported material. The wrapping key is random bytes, not a real RSA key.
   */
  private getParametersForImport(ctx: Ctx): Record<string, unknown> {
    const b = ctx.body;
    const key = this.resolveKey(ctx, b.KeyId, { allowAlias: false });
    const algorithms = ['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'];
    const specs = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'];
    if (!algorithms.includes(b.WrappingAlgorithm)) {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${String(b.WrappingAlgorithm)}' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [${algorithms.join(', ')}]`);
    }
    if (!specs.includes(b.WrappingKeySpec)) {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${String(b.WrappingKeySpec)}' at 'wrappingKeySpec' failed to satisfy constraint: Member must satisfy enum value set: [${specs.join(', ')}]`);
    }
    this.requireExternal(key);
    this.rejectStates(key, ['PendingDeletion', 'PendingReplicaDeletion', 'Creating', 'Updating', 'Unavailable']);
    const token = randomBytes(512).toString('base64');
    const validTo = new Date(Date.now() + 24 * 3600_000);
    this.importTokens.set(token, { keyArn: key.arn, validTo });
    const publicKeyBytes = b.WrappingKeySpec === 'RSA_4096' ? 550 : b.WrappingKeySpec === 'RSA_3072' ? 422 : 294;
    return {
      KeyId: key.arn,
      ImportToken: token,
      PublicKey: randomBytes(publicKeyBytes).toString('base64'),
      ParametersValidTo: epoch(validTo),
    };
  }

  /**
   * API_ImportKeyMaterial. The KeyMaterialId is derived, as documented, "based on the KMS key ID and
   * the imported key material" (here: sha256 of key ID + the opaque EncryptedKeyMaterial bytes), so
   * re-importing the same bytes yields the same ID.
   * - ImportType defaults to NEW_KEY_MATERIAL before the first import, EXISTING_KEY_MATERIAL after.
   * - NEW_KEY_MATERIAL on a key that already has material lands in PENDING_ROTATION (symmetric only).
   * - "You cannot specify a key material ID with ImportType set to NEW_KEY_MATERIAL."
   * - State becomes Enabled only once all associated materials are imported.
   * Doc inconsistency: the operation description says KeyState "must be PendingImport or Enabled",
   * the KeyId parameter says "must be PendingImport"; the key-state table allows Enabled/Disabled
   * (footnote [9]) and rejects PendingDeletion (footnote [8]). This double accepts Enabled,
   * Disabled and PendingImport; a Disabled key stays Disabled.
   */
  private importKeyMaterial(ctx: Ctx): Record<string, unknown> {
    const b = ctx.body;
    const key = this.resolveKey(ctx, b.KeyId, { allowAlias: false });
    if (typeof b.ImportToken !== 'string' || !b.ImportToken) {
      throw new KmsError('ValidationException', "1 validation error detected: Value null at 'importToken' failed to satisfy constraint: Member must not be null");
    }
    if (typeof b.EncryptedKeyMaterial !== 'string' || !b.EncryptedKeyMaterial) {
      throw new KmsError('ValidationException', "1 validation error detected: Value null at 'encryptedKeyMaterial' failed to satisfy constraint: Member must not be null");
    }
    if (b.KeyMaterialId !== undefined && (typeof b.KeyMaterialId !== 'string' || !KEY_MATERIAL_ID_RE.test(b.KeyMaterialId))) {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${String(b.KeyMaterialId)}' at 'keyMaterialId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-f0-9]+$ and have length 64`);
    }
    this.requireExternal(key);
    this.rejectStates(key, ['PendingDeletion', 'PendingReplicaDeletion', 'Creating', 'Updating', 'Unavailable']);
    const token = this.importTokens.get(b.ImportToken);
    if (!token || token.keyArn !== key.arn) {
      throw new KmsError('InvalidImportTokenException', 'The request was rejected because the provided import token is invalid or is associated with a different KMS key.');
    }
    if (token.validTo.getTime() <= Date.now()) {
      throw new KmsError('ExpiredImportTokenException', 'The request was rejected because the specified import token is expired.');
    }
    const model = (b.ExpirationModel ?? 'KEY_MATERIAL_EXPIRES') as string;
    if (model !== 'KEY_MATERIAL_EXPIRES' && model !== 'KEY_MATERIAL_DOES_NOT_EXPIRE') {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${model}' at 'expirationModel' failed to satisfy constraint: Member must satisfy enum value set: [KEY_MATERIAL_DOES_NOT_EXPIRE, KEY_MATERIAL_EXPIRES]`);
    }
    let validTo: Date | undefined;
    if (model === 'KEY_MATERIAL_EXPIRES') {
      // "When the value of ExpirationModel is KEY_MATERIAL_EXPIRES, you must specify a value for the ValidTo parameter."
      if (typeof b.ValidTo !== 'number') throw new KmsError('ValidationException', 'ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.');
      validTo = new Date(b.ValidTo * 1000);
      // "The value of this parameter must be a future date and time. The maximum value is 365 days from the request date."
      if (validTo.getTime() <= Date.now() || validTo.getTime() > Date.now() + 365 * 86400_000) {
        throw new KmsError('ValidationException', 'ValidTo must be a future date no more than 365 days from the request date.');
      }
    } else if (b.ValidTo !== undefined) {
      throw new KmsError('ValidationException', 'ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.');
    }
    const symmetric = key.keySpec === 'SYMMETRIC_DEFAULT';
    if (!symmetric && (b.ImportType !== undefined || b.KeyMaterialId !== undefined || b.KeyMaterialDescription !== undefined)) {
      // "This parameter is optional and only usable with symmetric encryption keys."
      throw new KmsError('ValidationException', 'ImportType, KeyMaterialId and KeyMaterialDescription are only supported for symmetric encryption keys.');
    }
    const importType = (b.ImportType ?? (key.materials.length === 0 ? 'NEW_KEY_MATERIAL' : 'EXISTING_KEY_MATERIAL')) as string;
    if (importType !== 'NEW_KEY_MATERIAL' && importType !== 'EXISTING_KEY_MATERIAL') {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${importType}' at 'importType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_KEY_MATERIAL, EXISTING_KEY_MATERIAL]`);
    }
    if (importType === 'NEW_KEY_MATERIAL' && b.KeyMaterialId !== undefined) {
      throw new KmsError('ValidationException', 'You cannot specify a key material ID with ImportType set to NEW_KEY_MATERIAL.');
    }
    const fingerprint = createHash('sha256').update(`${key.keyId}:${b.EncryptedKeyMaterial}`).digest('hex');
    let material: Material | undefined;
    if (importType === 'NEW_KEY_MATERIAL') {
      if (key.materials.some((m) => m.fingerprint === fingerprint)) {
        throw new KmsError('IncorrectKeyMaterialException', 'The key material being imported is already associated with the KMS key.');
      }
      if (!symmetric && key.materials.length > 0) {
        throw new KmsError('IncorrectKeyMaterialException', 'For asymmetric and HMAC keys, you cannot change the key material after the initial import.');
      }
      material = { id: fingerprint, fingerprint, state: key.materials.length === 0 ? 'CURRENT' : 'PENDING_ROTATION', importState: 'IMPORTED' };
      key.materials.push(material);
    } else {
      material = b.KeyMaterialId !== undefined
        ? key.materials.find((m) => m.id === b.KeyMaterialId)
        : key.materials.find((m) => m.fingerprint === fingerprint || m.id === fingerprint);
      // Materials set up with importMaterial() have no known bytes; any bytes re-import them by ID.
      if (!material || (material.fingerprint !== undefined && material.fingerprint !== fingerprint)) {
        throw new KmsError('IncorrectKeyMaterialException', 'The key material in the request is not the same key material that was previously imported into this KMS key.');
      }
      material.fingerprint = fingerprint;
      material.importState = 'IMPORTED';
    }
    material.expirationModel = model as ExpirationModel;
    material.validTo = validTo;
    // "If you do not specify a key material description, AWS KMS retains the value you specified when you last imported the same key material."
    if (typeof b.KeyMaterialDescription === 'string') material.description = b.KeyMaterialDescription;
    this.refreshImportState(key);
    return { KeyId: key.arn, KeyMaterialId: material.id };
  }

  /** API_RotateKeyOnDemand (EXTERNAL keys: promotes the PENDING_ROTATION material). */
  private rotateKeyOnDemand(ctx: Ctx): Record<string, unknown> {
    const key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: false });
    if (key.keySpec !== 'SYMMETRIC_DEFAULT' || (key.origin !== 'AWS_KMS' && key.origin !== 'EXTERNAL')) {
      throw new KmsError('UnsupportedOperationException', `${key.arn} does not support on-demand rotation.`);
    }
    if (key.state !== 'Enabled') throw this.invalidState(key);
    if (key.origin === 'AWS_KMS') {
      const m: Material = { id: hex(32), state: 'PENDING_ROTATION', importState: 'IMPORTED' };
      key.materials.push(m);
      this.rotateTo(key, m);
    } else {
      const pending = key.materials.find((m) => m.state === 'PENDING_ROTATION' && m.importState === 'IMPORTED');
      if (!pending) throw new KmsError('KMSInvalidStateException', `${key.arn} has no key material pending rotation.`);
      this.rotateTo(key, pending);
    }
    return { KeyId: key.arn };
  }

  /**
   * API_ReplicateKey: KeyId names the primary in the request's Region; ReplicaRegion another
   * Region. The replica of a key with imported material is PendingImport until the same material
   * is imported into it (multi-region-keys-import); the answer is the replica's metadata.
   * GUESS: the replica is created at once (no transient Creating state).
   */
  private replicateKeyOp(ctx: Ctx): Record<string, unknown> {
    const primary = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: false });
    const region = ctx.body.ReplicaRegion;
    if (typeof region !== 'string' || !region) {
      throw new KmsError('ValidationException', "1 validation error detected: Value null at 'replicaRegion' failed to satisfy constraint: Member must not be null");
    }
    const problem = this.replicationProblem(primary, region);
    if (problem) throw problem;
    let keyPolicy: PolicyDocument | undefined;
    if (ctx.body.Policy !== undefined) {
      try {
        keyPolicy = JSON.parse(String(ctx.body.Policy));
      } catch {
        throw new KmsError('MalformedPolicyDocumentException', 'The new key policy is not valid JSON.');
      }
    }
    const replica = this.makeReplica(primary, region, false, {
      keyPolicy, description: typeof ctx.body.Description === 'string' ? ctx.body.Description : undefined,
    });
    for (const t of (ctx.body.Tags ?? []) as Array<{ TagKey?: string; TagValue?: string }>) {
      if (typeof t.TagKey === 'string') replica.tags.set(t.TagKey, String(t.TagValue ?? ''));
    }
    return {
      ReplicaKeyMetadata: this.keyMetadata(replica),
      ReplicaPolicy: JSON.stringify(this.keyPolicy(replica.arn)),
      ReplicaTags: [...replica.tags].map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
    };
  }

  /** API_ScheduleKeyDeletion: PendingWindowInDays 7..30 (default 30); state PendingDeletion. */
  private scheduleKeyDeletion(ctx: Ctx): Record<string, unknown> {
    const key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: false });
    const days = ctx.body.PendingWindowInDays ?? 30;
    if (!Number.isInteger(days) || days < 7 || days > 30) {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${String(days)}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30`);
    }
    this.rejectStates(key, ['PendingDeletion', 'PendingReplicaDeletion', 'Creating', 'Updating']);
    key.state = 'PendingDeletion';
    key.deletionDate = new Date(Date.now() + days * 86400_000);
    return { KeyId: key.arn, DeletionDate: epoch(key.deletionDate), KeyState: 'PendingDeletion', PendingWindowInDays: days };
  }

  /**
   * API_CancelKeyDeletion: "When this operation succeeds, the key state of the KMS key is Disabled."
   * GUESS (the docs only say Disabled): an EXTERNAL key whose permanently associated material is not
   * all imported returns to PendingImport instead, since a key without material cannot be Disabled/Enabled.
   */
  private cancelKeyDeletion(ctx: Ctx): Record<string, unknown> {
    const key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: false });
    if (key.state !== 'PendingDeletion' && key.state !== 'PendingReplicaDeletion') {
      throw new KmsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
    }
    const permanent = this.permanentMaterials(key);
    const missing = key.origin === 'EXTERNAL' && (permanent.length === 0 || permanent.some((m) => m.importState !== 'IMPORTED'));
    key.state = missing ? 'PendingImport' : 'Disabled';
    key.deletionDate = undefined;
    return { KeyId: key.arn };
  }

  /** EnableKey/DisableKey: key-state table footnotes [5] pending import and [3] pending deletion fail; Unavailable succeeds without a state change. */
  private setEnabled(ctx: Ctx, enable: boolean): Record<string, unknown> {
    const key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: false });
    this.rejectStates(key, ['PendingImport', 'PendingDeletion', 'PendingReplicaDeletion', 'Creating', 'Updating']);
    if (key.state !== 'Unavailable') key.state = enable ? 'Enabled' : 'Disabled';
    return {};
  }

  private tagResource(ctx: Ctx): Record<string, unknown> {
    const key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: false });
    this.rejectStates(key, ['PendingDeletion', 'PendingReplicaDeletion']);
    const tags = ctx.body.Tags;
    if (!Array.isArray(tags)) throw new KmsError('ValidationException', "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
    for (const t of tags as Array<{ TagKey?: unknown; TagValue?: unknown }>) {
      if (typeof t.TagKey !== 'string' || typeof t.TagValue !== 'string') throw new KmsError('TagException', 'Each tag needs a TagKey and a TagValue.');
      if (t.TagKey.startsWith('aws:')) throw new KmsError('TagException', 'Tag keys beginning with aws: are reserved.');
      key.tags.set(t.TagKey, t.TagValue);
    }
    return {};
  }

  private untagResource(ctx: Ctx): Record<string, unknown> {
    const key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: false });
    this.rejectStates(key, ['PendingDeletion', 'PendingReplicaDeletion']);
    for (const k of (ctx.body.TagKeys ?? []) as unknown[]) key.tags.delete(String(k));
    return {};
  }

  /** API_ListResourceTags: Limit 1..50, default 50; Marker/NextMarker/Truncated. */
  private listResourceTags(ctx: Ctx): Record<string, unknown> {
    const key = this.resolveKey(ctx, ctx.body.KeyId, { allowAlias: false });
    const limit = ctx.body.Limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) {
      throw new KmsError('ValidationException', `1 validation error detected: Value '${String(limit)}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 50`);
    }
    const all = [...key.tags].sort(([a], [c]) => a.localeCompare(c)).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    const offset = ctx.body.Marker !== undefined ? this.decodeMarker(key, 'tags', ctx.body.Marker) : 0;
    const truncated = offset + limit < all.length;
    return {
      Tags: all.slice(offset, offset + limit),
      Truncated: truncated,
      ...(truncated ? { NextMarker: this.encodeMarker(key, 'tags', offset + limit) } : {}),
    };
  }
}

/** The client went away before the response was written (e.g. its requestTimeout fired during injected latency). */
function undelivered(call: KmsCall): void {
  call.status = 0;
  call.errorType = 'ClientDisconnected';
}

function defaultKeyUsage(keySpec: string): string {
  if (keySpec.startsWith('HMAC_')) return 'GENERATE_VERIFY_MAC';
  if (keySpec.startsWith('ECC_') || keySpec.startsWith('ML_DSA')) return 'SIGN_VERIFY';
  return 'ENCRYPT_DECRYPT';
}

function injectedMessage(errorType: string): string {
  switch (errorType) {
    case 'KMSInternalException':
      return 'The request was rejected because an internal exception occurred. The request can be retried.';
    case 'DependencyTimeoutException':
      return 'The system timed out while trying to fulfill the request. You can retry the request.';
    case 'ThrottlingException':
      return 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';
    default:
      return `Injected ${errorType}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Policy evaluation
// ---------------------------------------------------------------------------------------------
//
// Modelled on the AWS KMS Developer Guide:
// - "KMS key access and permissions" (control-access.html): "No AWS principal has any permissions
//   to a KMS key unless that permission is provided explicitly and never denied."; "To use an IAM
//   policy to allow access to a KMS key, the key policy must explicitly allow it."
// - "Key policies in AWS KMS" (key-policies.html): "Unless the key policy explicitly allows it,
//   you cannot use IAM policies to allow access to a KMS key. Without permission from the key
//   policy, IAM policies that allow permissions have no effect. (You can use an IAM policy to deny
//   a permission to a KMS key without permission from a key policy.)"
// - "Determining access to an AWS KMS key" (determining-access.html): an explicit deny in any
//   policy wins; else the key policy either allows the principal directly, or allows the account
//   (the root principal) and thereby lets IAM policies in that account grant access.
// - "Default key policy" (key-policy-default.html), "Allows access to the AWS account and enables
//   IAM policies": `{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
//   "Action": "kms:*", "Resource": "*"}`; it "does not give the AWS account root user permission";
//   it lets IAM policies grant access. In a key policy "Resource": "*" means "this KMS key".
// And on the IAM User Guide for the rest of the policy language:
// - "The difference between explicit and implicit denies" and "Troubleshoot access denied error
//   messages" (troubleshoot_access-denied.html): messages are "User: <principal> is not authorized
//   to perform: <action> on resource: <resource> because no <type> policy allows the <action>
//   action" (implicit) or "... with an explicit deny in a(n) <type> policy" (explicit), where
//   <type> is "identity-based" or "resource-based" (a key policy is a resource-based policy).
// - Action matching is case-insensitive with `*` and `?` wildcards; Resource ARNs match
//   case-sensitively with the same wildcards (IAM JSON policy elements: Action, Resource).
//
// - Conditions (IAM JSON policy elements: Condition; "Condition operators"; "AWS global condition
//   context keys"): every operator of a block must hold, within an operator every key, and a key
//   holds when any of its values matches ("evaluation logic for conditions with multiple context
//   keys or values"). Condition key names are not case-sensitive. Evaluated: the key
//   `aws:PrincipalArn` with the ARN and string operators and their negations (ArnEquals, ArnLike,
//   ArnNotEquals, ArnNotLike, StringEquals, StringNotEquals, StringLike, StringNotLike). "For an IAM role, the request context returns the ARN of the role, not the ARN of
//   the user that assumed the role": for an assumed-role session, the role's ARN. GUESS: the role's
//   path is taken as "/" (a session ARN does not carry it; CDK's roles have that path).
//
// Not modelled: grants, SCPs/RCPs (use deny({ policy: 'scp' })), permissions boundaries, session
// policies, VPC endpoint policies, cross-account evaluation, and every other condition key and
// operator (IfExists, ForAnyValue/ForAllValues included).
// GUESS: a statement with a condition that is not evaluated is treated as not matching the request
// (for an Allow that is the strict reading; for a Deny it is the lenient one), so a test that needs
// such a conditional deny must use deny() instead.

/** An IAM policy statement in JSON form (values as CloudFormation resolved them). */
export interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Principal?: '*' | Record<string, string | string[]>;
  NotPrincipal?: '*' | Record<string, string | string[]>;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, unknown>;
}

export interface PolicyDocument {
  Version?: string;
  Statement?: PolicyStatement | PolicyStatement[];
}

export interface AccessDecision {
  allowed: boolean;
  /** 'key-policy': the key policy allows the principal itself; 'iam': the key policy trusts the account and an IAM policy allows. */
  via?: 'key-policy' | 'iam';
  /** For a denial: the explicit deny's policy type, or the policy type that failed to allow. */
  deniedBy?: 'explicit-key-policy' | 'explicit-identity' | 'key-policy' | 'identity';
  /** The AccessDeniedException message KMS would send (empty when allowed). */
  message: string;
}

export interface KmsAccessRequest {
  principalArn: string;
  principalAccount: string;
  /** e.g. 'kms:DeleteImportedKeyMaterial'. */
  action: string;
  keyArn: string;
  keyPolicy: PolicyDocument;
  identityPolicies: readonly PolicyDocument[];
}

/** KMS's default key policy for keys created without one (key-policy-default.html). */
export function defaultKeyPolicy(account: string, partition = 'aws'): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{
      Sid: 'Enable IAM User Permissions',
      Effect: 'Allow',
      Principal: { AWS: `arn:${partition}:iam::${account}:root` },
      Action: 'kms:*',
      Resource: '*',
    }],
  };
}

/** Decides a request on a KMS key the way KMS does (see the section comment above). */
export function evaluateKmsAccess(req: KmsAccessRequest): AccessDecision {
  const keyStatements = statementsOf(req.keyPolicy);
  const idStatements = req.identityPolicies.flatMap(statementsOf);
  const who = `User: ${req.principalArn} is not authorized to perform: ${req.action} on resource: ${req.keyArn}`;
  const onKey = (s: PolicyStatement) => conditionHolds(s, req) && actionMatches(s, req.action) && keyPolicyResourceMatches(s, req.keyArn);
  const onIdentity = (s: PolicyStatement) => conditionHolds(s, req) && actionMatches(s, req.action) && resourceMatches(s, req.keyArn);

  // 1. An explicit deny anywhere wins. In a resource-based policy a Deny naming the account denies
  //    every principal of the account.
  if (keyStatements.some((s) => isEffect(s, 'Deny') && onKey(s) && principalMatches(s, req, 'deny'))) {
    return { allowed: false, deniedBy: 'explicit-key-policy', message: `${who} with an explicit deny in a resource-based policy` };
  }
  if (idStatements.some((s) => isEffect(s, 'Deny') && onIdentity(s))) {
    return { allowed: false, deniedBy: 'explicit-identity', message: `${who} with an explicit deny in an identity-based policy` };
  }
  // 2. The key policy allows the principal itself (its ARN, its role for a session, or "*").
  if (keyStatements.some((s) => isEffect(s, 'Allow') && onKey(s) && principalMatches(s, req, 'direct'))) {
    return { allowed: true, via: 'key-policy', message: '' };
  }
  // 3. The key policy trusts the account for this action: IAM policies decide.
  if (!keyStatements.some((s) => isEffect(s, 'Allow') && onKey(s) && principalMatches(s, req, 'account'))) {
    return { allowed: false, deniedBy: 'key-policy', message: `${who} because no resource-based policy allows the ${req.action} action` };
  }
  if (idStatements.some((s) => isEffect(s, 'Allow') && onIdentity(s))) {
    return { allowed: true, via: 'iam', message: '' };
  }
  return { allowed: false, deniedBy: 'identity', message: `${who} because no identity-based policy allows the ${req.action} action` };
}

/**
 * Decides a request on a resource that has no resource-based policy in play (CloudFormation's
 * stacks), from the principal's identity-based policies alone: an explicit deny wins, then an
 * allow, else the implicit deny; same matching and messages as evaluateKmsAccess.
 */
export function evaluateIdentityAccess(req: Omit<KmsAccessRequest, 'keyArn' | 'keyPolicy'> & { resourceArn: string }): AccessDecision {
  const statements = req.identityPolicies.flatMap(statementsOf);
  const who = `User: ${req.principalArn} is not authorized to perform: ${req.action} on resource: ${req.resourceArn}`;
  const context = { ...req, keyArn: req.resourceArn, keyPolicy: {} };
  const applies = (st: PolicyStatement) => conditionHolds(st, context) && actionMatches(st, req.action) && resourceMatches(st, req.resourceArn);
  if (statements.some((st) => isEffect(st, 'Deny') && applies(st))) {
    return { allowed: false, deniedBy: 'explicit-identity', message: `${who} with an explicit deny in an identity-based policy` };
  }
  if (statements.some((st) => isEffect(st, 'Allow') && applies(st))) return { allowed: true, message: '' };
  return { allowed: false, deniedBy: 'identity', message: `${who} because no identity-based policy allows the ${req.action} action` };
}

/** Accepts a document given as a JSON string (as CloudFormation and the API may), and copies it. */
function normalizeDocument(doc: PolicyDocument | string): PolicyDocument {
  const parsed = typeof doc === 'string' ? JSON.parse(doc) : doc;
  return JSON.parse(JSON.stringify(parsed ?? {}));
}

function statementsOf(doc: PolicyDocument): PolicyStatement[] {
  const s = doc?.Statement;
  return s === undefined ? [] : [s].flat().filter((x): x is PolicyStatement => typeof x === 'object' && x !== null);
}

function isEffect(s: PolicyStatement, effect: 'Allow' | 'Deny'): boolean {
  return s.Effect === effect;
}

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : [v].flat().map(String));

/** IAM wildcards: `*` any run of characters (including none), `?` exactly one. */
function wildcard(pattern: string, flags: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, flags);
}

function actionMatches(s: PolicyStatement, action: string): boolean {
  const hit = (patterns: string[]) => patterns.some((p) => wildcard(p, 'i').test(action));
  if (s.Action !== undefined) return hit(asList(s.Action));
  if (s.NotAction !== undefined) return !hit(asList(s.NotAction));
  return false;
}

function resourceMatches(s: PolicyStatement, arn: string): boolean {
  const hit = (patterns: string[]) => patterns.some((p) => wildcard(p, '').test(arn));
  if (s.Resource !== undefined) return hit(asList(s.Resource));
  if (s.NotResource !== undefined) return !hit(asList(s.NotResource));
  return false;
}

/** In a key policy "*" means this key; a pattern naming the key's ARN matches it too. */
function keyPolicyResourceMatches(s: PolicyStatement, keyArn: string): boolean {
  return resourceMatches(s, keyArn);
}

/**
 * Whether a key-policy statement's principal covers the request's principal:
 * - 'direct': "*" / {"AWS": "*"}, the principal's own ARN, or (for an assumed-role session) its role's ARN;
 * - 'account': the principal's account, as `arn:<partition>:iam::<account>:root` or the bare account ID
 *   (in an Allow this only enables IAM policies; it grants nothing by itself);
 * - 'deny': either of the above (a Deny naming the account applies to all of its principals).
 * NotPrincipal matches every principal that none of its entries covers.
 */
function principalMatches(s: PolicyStatement, req: KmsAccessRequest, mode: 'direct' | 'account' | 'deny'): boolean {
  const covers = (principal: '*' | Record<string, string | string[]>): boolean => {
    if (principal === '*') return mode !== 'account';
    return asList(principal.AWS).some((p) => {
      if (p === '*') return mode !== 'account';
      const account = p === req.principalAccount || p === `arn:${partitionOf(req.keyArn)}:iam::${req.principalAccount}:root`;
      const self = p === req.principalArn || isRoleOfSession(p, req.principalArn);
      if (mode === 'account') return account;
      if (mode === 'direct') return self;
      return self || account;
    });
  };
  if (s.Principal !== undefined) return covers(s.Principal);
  if (s.NotPrincipal !== undefined) return !covers(s.NotPrincipal);
  return false;
}

function partitionOf(arn: string): string {
  return /^arn:([^:]+):/.exec(arn)?.[1] ?? 'aws';
}

interface AssumedRole {
  partition: string;
  account: string;
  roleName: string;
}

/**
 * ArnEquals and ArnLike alike (IAM User Guide, "Condition operators", ARN condition operators):
 * "Case-sensitive matching of the ARN. Each of the six colon-delimited components of the ARN is
 * checked separately and each can include multi-character match wildcards (*) or single-character
 * match wildcards (?)". The sixth component is the rest of the ARN, colons included.
 */
function arnMatches(value: string, pattern: string): boolean {
  const parts = (arn: string) => {
    const split = arn.split(':');
    return split.length < 6 ? undefined : [...split.slice(0, 5), split.slice(5).join(':')];
  };
  const [v, p] = [parts(value), parts(pattern)];
  return !!v && !!p && p.every((component, i) => wildcard(component, '').test(v[i]));
}

/**
 * Operators evaluated on `aws:PrincipalArn` (IAM User Guide, "Condition operators"): ARN
 * comparisons component by component, string comparisons case-sensitive (StringLike with
 * wildcards across the whole value). A negated operator holds when the value matches none of the
 * listed values ("evaluation logic for conditions with multiple context keys or values").
 */
const CONDITION_OPERATORS: Record<string, { matches: (value: string, pattern: string) => boolean; negated?: boolean }> = {
  ArnEquals: { matches: arnMatches },
  ArnLike: { matches: arnMatches },
  ArnNotEquals: { matches: arnMatches, negated: true },
  ArnNotLike: { matches: arnMatches, negated: true },
  StringEquals: { matches: (value, pattern) => value === pattern },
  StringNotEquals: { matches: (value, pattern) => value === pattern, negated: true },
  StringLike: { matches: (value, pattern) => wildcard(pattern, '').test(value) },
  StringNotLike: { matches: (value, pattern) => wildcard(pattern, '').test(value), negated: true },
};

/** Whether a statement's Condition block holds for the request (no block: it holds; see the section comment). */
function conditionHolds(s: PolicyStatement, req: KmsAccessRequest): boolean {
  if (s.Condition === undefined) return true;
  if (typeof s.Condition !== 'object' || s.Condition === null) return false;
  return Object.entries(s.Condition).every(([operator, keys]) => {
    const op = CONDITION_OPERATORS[operator];
    if (!op || typeof keys !== 'object' || keys === null) return false;
    return Object.entries(keys as Record<string, unknown>).every(([key, values]) => {
      if (key.toLowerCase() !== 'aws:principalarn') return false;
      const value = principalArnContext(req.principalArn);
      const any = asList(values as string | string[]).some((pattern) => op.matches(value, pattern));
      return op.negated ? !any : any;
    });
  });
}

/** The value of `aws:PrincipalArn`: the principal's ARN, or for an assumed-role session its role's ARN (path "/": GUESS). */
function principalArnContext(principalArn: string): string {
  const session = parseAssumedRole(principalArn);
  return session ? `arn:${session.partition}:iam::${session.account}:role/${session.roleName}` : principalArn;
}

/** `arn:aws:sts::111122223333:assumed-role/RoleName/session` (the principal of a Lambda function's calls). */
function parseAssumedRole(arn: string): AssumedRole | undefined {
  const m = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? { partition: m[1], account: m[2], roleName: m[3] } : undefined;
}

/** A role ARN (`arn:aws:iam::ACCOUNT:role/[path/]Name`) is the role of a session whose role name is Name. */
function roleMatchesSession(roleArn: string, session: AssumedRole): boolean {
  const m = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  return !!m && m[1] === session.partition && m[2] === session.account && m[3] === session.roleName;
}

function isRoleOfSession(roleArn: string, principalArn: string): boolean {
  const session = parseAssumedRole(principalArn);
  return !!session && roleMatchesSession(roleArn, session);
}
