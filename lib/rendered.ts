import { CfnResource, Stack, Token } from 'aws-cdk-lib';

/** A resource's template entry as it stands now: properties with overrides applied, and its policies. */
export interface RenderedResource {
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: unknown;
  readonly UpdateReplacePolicy?: unknown;
}

/**
 * The resource as it will be written into the template, resolved in its stack: escape-hatch
 * overrides (`addPropertyOverride`, `addOverride`) only show up there, not in the L1 properties.
 */
export function renderedResource(resource: CfnResource): RenderedResource {
  const fragment = (resource as unknown as { _toCloudFormation(): object })._toCloudFormation();
  const rendered = Stack.of(resource).resolve(fragment) as { Resources: Record<string, RenderedResource> };
  return Object.values(rendered.Resources)[0] ?? {};
}

/** Overrides of a resource's template entry (addOverride, addPropertyOverride, and their deletions), read without rendering. */
export function rawOverridesOf(resource: CfnResource): Record<string, unknown> | undefined {
  return (resource as unknown as { rawOverrides?: Record<string, unknown> }).rawOverrides;
}

/**
 * Some top-level properties of a resource as the template will have them, without rendering the
 * rest: the L1 properties of those names resolved and then mapped to CloudFormation (the order
 * `_toCloudFormation` uses: its mapping validates resolved values only), with the escape-hatch
 * overrides of those names applied over them. Rendering a key resolves its key policy, the costly
 * part of its synthesis: one rendering per revocation at validation took about 6% of the
 * synthesis of 100 ExternalKeys (issue 13, goal 5).
 *
 * Only plain overrides are followed: a value (string, number, boolean) or a deletion of one of
 * the names. Any other override that could reach them (a token, an array or object, an override
 * below a name such as `Tags.0.Value`, Properties replaced or removed), or a mapping that refuses
 * the subset, renders the resource whole, as `renderedResource` does.
 */
export function renderedProperties(resource: CfnResource, names: readonly string[]): RenderedResource {
  const whole = () => ({ Properties: pick(renderedResource(resource).Properties ?? {}, names) });
  const overrides = rawOverridesOf(resource);
  const over = overrides?.Properties as Record<string, unknown> | undefined;
  const plain = (value: unknown) => value === undefined || ['string', 'number', 'boolean'].includes(typeof value);
  const followable = overrides === undefined || !('Properties' in overrides) ||
    (isPlainObject(over) && !Token.isUnresolved(over) && names.every((name) => !(name in over!) || (plain(over![name]) && !Token.isUnresolved(over![name]))));
  if (!followable) return whole();
  const l1 = resource as unknown as { cfnProperties: Record<string, unknown>; renderProperties(p: Record<string, unknown>): Record<string, unknown> };
  const all = l1.cfnProperties;
  const subset: Record<string, unknown> = {};
  for (const name of names) {
    const l1Name = name.charAt(0).toLowerCase() + name.slice(1);
    if (!(l1Name in all)) return whole();
    subset[l1Name] = all[l1Name];
  }
  let written: Record<string, unknown>;
  try {
    written = l1.renderProperties(Stack.of(resource).resolve(subset) ?? {}) ?? {};
  } catch {
    return whole();
  }
  const picked: Record<string, unknown> = {};
  for (const name of names) picked[name] = over !== undefined && name in over ? over[name] : written[name];
  return { Properties: pick(picked, names) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The named entries that are defined. */
function pick(properties: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) if (properties[name] !== undefined) out[name] = properties[name];
  return out;
}
