import { CfnResource, Stack } from 'aws-cdk-lib';

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
