import {
  BoolString, DefaultedProperty, KNOWN_CONTRACT_VERSIONS, MaterialScopeValue, propertyValue, RegionsValue, RevocationProperties,
} from '../lib/contract';
import { HandlerError } from './errors';

export type RequestType = 'Create' | 'Update' | 'Delete';

/** The fields of a CloudFormation custom-resource event the handler relies on, checked. */
export interface RevocationEvent {
  readonly RequestType: RequestType;
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  /** Absent on Create. */
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: RevocationProperties;
  /** Present on Update only. */
  readonly OldResourceProperties?: RevocationProperties;
}

/** The identity of the request, enough to answer CloudFormation even when the rest is garbled. */
export interface ResponseTarget {
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly RequestType?: string;
}

// arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID
const KEY_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/([A-Za-z0-9-]{1,128})$/;
// arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/ID
const STACK_ARN = /^arn:(aws[a-z-]*):cloudformation:([a-z0-9-]+):(\d{12}):stack\/[A-Za-z][A-Za-z0-9-]*\/[A-Za-z0-9-]+$/;
/** Property values are small; anything larger is not ours. */
const MAX_PROPERTY_LENGTH = 2048;
/** Event fields set by CloudFormation (a presigned URL can be long). */
const MAX_EVENT_FIELD_LENGTH = 16384;

export interface ParsedKeyArn {
  readonly arn: string;
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly keyId: string;
}

export interface ParsedStackArn {
  readonly arn: string;
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 80 ? `'${value.slice(0, 80)}...' (${value.length} characters)` : `'${value}'`;
  }
  if (value === undefined) return 'nothing';
  return `a ${Array.isArray(value) ? 'list' : typeof value}`;
}

function requireString(obj: Record<string, unknown>, field: string, where: string, max = MAX_PROPERTY_LENGTH): string {
  const value = obj[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new HandlerError(`${where}${field} must be a non-empty string, got ${describe(value)}`);
  }
  if (value.length > max) {
    throw new HandlerError(`${where}${field} is ${value.length} characters long; at most ${max} are expected`);
  }
  return value;
}

export function parseKeyArn(value: string, where = 'KeyArn'): ParsedKeyArn {
  if (/^alias\//.test(value) || /^arn:[^:]+:kms:[^:]*:[^:]*:alias\//.test(value)) {
    throw new HandlerError(`${where} ${describe(value)} is an alias; DeleteImportedKeyMaterial accepts only a key ID or key ARN, so pass the key ARN`);
  }
  const m = KEY_ARN.exec(value);
  if (!m) {
    throw new HandlerError(`${where} ${describe(value)} is not a KMS key ARN (expected arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)`);
  }
  return { arn: value, partition: m[1], region: m[2], account: m[3], keyId: m[4] };
}

export function parseStackArn(value: string): ParsedStackArn {
  const m = STACK_ARN.exec(value);
  if (!m) {
    throw new HandlerError(`StackId ${describe(value)} is not a CloudFormation stack ARN`);
  }
  return { arn: value, partition: m[1], region: m[2], account: m[3] };
}

function requireBool(obj: Record<string, unknown>, field: DefaultedProperty, where: string): BoolString {
  const value = propertyValue(obj, field);
  if (value !== 'true' && value !== 'false') {
    throw new HandlerError(`${where}${field} must be 'true' or 'false', got ${describe(value)}`);
  }
  return value;
}

/** Checks ResourceProperties (or OldResourceProperties) against the contract. */
export function parseProperties(raw: unknown, which: 'ResourceProperties' | 'OldResourceProperties'): RevocationProperties {
  if (!isObject(raw)) {
    throw new HandlerError(`${which} must be an object, got ${describe(raw)}`);
  }
  const where = `${which}.`;
  const version = requireString(raw, 'ContractVersion', where);
  if (!KNOWN_CONTRACT_VERSIONS.includes(version)) {
    throw new HandlerError(`${where}ContractVersion ${describe(version)} is not supported by this handler (it knows ${KNOWN_CONTRACT_VERSIONS.map((v) => `'${v}'`).join(' and ')})`);
  }
  const keyArn = requireString(raw, 'KeyArn', where);
  parseKeyArn(keyArn, `${where}KeyArn`);
  const keyLogicalId = propertyValue(raw, 'KeyLogicalId');
  if (typeof keyLogicalId !== 'string' || keyLogicalId.length > 255) {
    throw new HandlerError(`${where}KeyLogicalId must be a string of at most 255 characters, got ${describe(keyLogicalId)}`);
  }
  const scope = propertyValue(raw, 'MaterialScope');
  if (scope !== 'ALL' && scope !== 'CURRENT') {
    throw new HandlerError(`${where}MaterialScope must be 'ALL' or 'CURRENT', got ${describe(scope)}`);
  }
  const regions = raw.Regions;
  if (regions !== undefined && regions !== 'ALL' && regions !== 'KEY_REGION') {
    throw new HandlerError(`${where}Regions must be 'ALL' or 'KEY_REGION' when given, got ${describe(regions)}`);
  }
  const tagged = raw.KeyTagged;
  if (tagged !== undefined && tagged !== 'true' && tagged !== 'false') {
    throw new HandlerError(`${where}KeyTagged must be 'true' or 'false' when given, got ${describe(tagged)}`);
  }
  if (tagged === 'true' && keyLogicalId !== '') {
    // L30: a tagged key is another stack's; a KeyLogicalId names one of this stack.
    throw new HandlerError(`${where}KeyTagged is 'true' (a key of another stack) but KeyLogicalId names ${describe(keyLogicalId)} of this stack: ` +
      'the properties contradict each other');
  }
  return {
    KeyArn: keyArn,
    KeyLogicalId: keyLogicalId,
    RevokeOnStackDelete: requireBool(raw, 'RevokeOnStackDelete', where),
    RevokeOnKeyReplacement: requireBool(raw, 'RevokeOnKeyReplacement', where),
    RevokeOnRemoval: requireBool(raw, 'RevokeOnRemoval', where),
    Revoked: requireBool(raw, 'Revoked', where),
    MaterialScope: scope as MaterialScopeValue,
    ...(regions !== undefined ? { Regions: regions as RegionsValue } : {}),
    ...(tagged !== undefined ? { KeyTagged: tagged as BoolString } : {}),
    ContractVersion: version,
  };
}

/**
 * The fields needed to answer at all. Read first and on their own, so that a garbled event
 * still gets a FAILED answer whenever it carries somewhere to send it (LIFECYCLE L19).
 */
export function readResponseTarget(raw: unknown): ResponseTarget | undefined {
  if (!isObject(raw) || typeof raw.ResponseURL !== 'string') return undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    ResponseURL: raw.ResponseURL,
    StackId: str(raw.StackId),
    RequestId: str(raw.RequestId),
    LogicalResourceId: str(raw.LogicalResourceId),
    PhysicalResourceId: typeof raw.PhysicalResourceId === 'string' && raw.PhysicalResourceId ? raw.PhysicalResourceId : undefined,
    RequestType: typeof raw.RequestType === 'string' ? raw.RequestType : undefined,
  };
}

/** The custom resource's ServiceTimeout in seconds, when it is readable. */
export function readServiceTimeoutSeconds(raw: unknown): number | undefined {
  if (!isObject(raw) || !isObject(raw.ResourceProperties)) return undefined;
  const n = Number(raw.ResourceProperties.ServiceTimeout);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Checks the whole event (LIFECYCLE L19). */
export function parseEvent(raw: unknown): RevocationEvent {
  if (!isObject(raw)) throw new HandlerError(`the event must be an object, got ${describe(raw)}`);
  const requestType = raw.RequestType;
  if (requestType !== 'Create' && requestType !== 'Update' && requestType !== 'Delete') {
    throw new HandlerError(`RequestType must be Create, Update or Delete, got ${describe(requestType)}`);
  }
  const responseUrl = requireString(raw, 'ResponseURL', '', MAX_EVENT_FIELD_LENGTH);
  const stackId = requireString(raw, 'StackId', '', MAX_EVENT_FIELD_LENGTH);
  parseStackArn(stackId);
  const requestId = requireString(raw, 'RequestId', '', MAX_EVENT_FIELD_LENGTH);
  const logicalId = requireString(raw, 'LogicalResourceId', '', MAX_EVENT_FIELD_LENGTH);
  let physicalId: string | undefined;
  if (requestType !== 'Create') physicalId = requireString(raw, 'PhysicalResourceId', '', MAX_EVENT_FIELD_LENGTH);
  const props = parseProperties(raw.ResourceProperties, 'ResourceProperties');
  const oldProps = requestType === 'Update' ? parseProperties(raw.OldResourceProperties, 'OldResourceProperties') : undefined;
  return {
    RequestType: requestType,
    ResponseURL: responseUrl,
    StackId: stackId,
    RequestId: requestId,
    LogicalResourceId: logicalId,
    PhysicalResourceId: physicalId,
    ResourceProperties: props,
    OldResourceProperties: oldProps,
  };
}
