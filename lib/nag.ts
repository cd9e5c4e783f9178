import * as cdk from 'aws-cdk-lib';
import { Aspects, CfnResource, IAspect, Lazy, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * Acknowledges a cdk-nag finding on one of our resources, with its reason, for both cdk-nag
 * majors: v2 reads the `cdk_nag` metadata; v3 reads acknowledgements made through aws-cdk-lib's
 * `Validations`, which only newer aws-cdk-lib versions have (hence the feature test), under the
 * rule ID (`AwsSolutions-KMS5`) or, for one finding of a rule, `RuleId[FindingId]`.
 * Findings of one resource must be acknowledged in one call: the metadata entry is replaced.
 *
 * The `cdk_nag` metadata (about 236 template bytes per ExternalKey) is left in the template only
 * where a cdk-nag v2 pack reads it: the pack, an Aspect, reads it (`getMetadata`) while it visits
 * the resource, during aspect invocation, never from the template. So the entry stays in the
 * resource's metadata, where every pack sees it whatever the aspect order and however often the
 * app is synthesized, and an override of the template's `Metadata.cdk_nag` decides at rendering,
 * after the aspects (also for a nested stack's template, whose asset hash is taken from the same
 * rendering), whether it is written: not when no aspect of the resource or of one of its scopes,
 * the App included, is a v2 pack. In a Stage under a pack on the App (which does not visit the
 * Stage) it is written: more than needed, never less.
 */
export function acknowledgeNagFindings(resource: CfnResource, findings: ReadonlyArray<NagFinding>): void {
  if (findings.length === 0) return;
  const metadata = {
    rules_to_suppress: findings.map((f) => ({
      id: f.ruleId, reason: f.reason, ...(f.finding === undefined ? {} : { applies_to: [f.finding] }),
    })),
  };
  resource.addMetadata('cdk_nag', metadata);
  resource.addOverride('Metadata.cdk_nag', Lazy.uncachedAny({
    produce: () => {
      const current = resource.getMetadata('cdk_nag');
      // Only our own entry is left out: one that replaced it (NagSuppressions merging the user's
      // suppressions into it, cdk-nag v3's writeSuppressionsToCloudFormation) is written as it is.
      return current === metadata && !nagPackInScope(resource) ? undefined : current;
    },
  }));
  const validations = (cdk as unknown as { Validations?: ValidationsClass }).Validations;
  if (!validations) return;
  for (const f of findings) {
    const id = f.finding === undefined ? f.ruleId : `${f.ruleId}[${f.finding}]`;
    // Validations reserves '::' (prefix::rule), which finding IDs contain (`Resource::arn:...`),
    // and refuses an ID it cannot read as one. Such an ID is not handed to it: its error would be
    // caught here, but aws-cdk-lib writes the code of every error it creates to the CLI's error
    // file (CDK_ERROR_FILE), where a later, unrelated synth failure would be reported as ours.
    if (!refusedByValidations(id)) {
      try {
        validations.of(resource).acknowledge({ id, reason: f.reason });
        continue;
      } catch {
        // An aws-cdk-lib with other rules for IDs: recorded below, as for a refused one.
      }
    }
    // Recorded where Validations would, and where cdk-nag v3 reads it.
    const key = validations.ACKNOWLEDGED_RULES_METADATA_KEY ?? 'aws:cdk:acknowledged-rules';
    const previous = resource.node.metadata.filter((m) => m.type === key).pop()?.data as Record<string, string> | undefined;
    resource.node.addMetadata(key, { ...previous, [`annotation::${id}`]: f.reason });
  }
}

/** Whether `Validations.acknowledge` throws for this ID: more than one '::', or an empty prefix before one. */
function refusedByValidations(id: string): boolean {
  const parts = id.split('::');
  return parts.length > 2 || (parts.length === 2 && parts[0] === '');
}

/** Whether an aspect of `resource` or of one of its scopes is a cdk-nag v2 pack. */
function nagPackInScope(resource: CfnResource): boolean {
  return resource.node.scopes.some((scope) => Aspects.of(scope).all.some(isNagPack));
}

/**
 * A cdk-nag v2 pack (class NagPack, e.g. AwsSolutionsChecks), by duck typing: cdk-nag is no
 * dependency of the library, and a second copy of it would defeat `instanceof`. A v2 NagPack is an
 * Aspect (`visit`) with the public getter `readPackName` (its rule prefix, a string); cdk-nag v3's
 * NagPack has the getter too, but is a validation plugin, no Aspect, and reads only `Validations`.
 */
function isNagPack(aspect: IAspect): boolean {
  const candidate = aspect as unknown as { readonly readPackName?: unknown; readonly visit?: unknown };
  return typeof candidate.visit === 'function' && typeof candidate.readPackName === 'string';
}

interface ValidationsClass {
  readonly ACKNOWLEDGED_RULES_METADATA_KEY?: string;
  of(c: Construct): { acknowledge(r: { id: string; reason: string }): void };
}

/** One finding to acknowledge: rule, the exact finding ID, and why it is acceptable. */
export interface NagFinding {
  readonly ruleId: string;
  /** The finding of a rule that reports several (`applies_to`); undefined for the whole rule. */
  readonly finding?: string;
  readonly reason: string;
}

/**
 * The finding ID cdk-nag gives a wildcard resource in a policy (`Resource::` and the ARN with each
 * Ref written `<LogicalId>` and each Fn::GetAtt `<LogicalId.Attribute>`), resolved in `stack`.
 */
export function nagResourceFinding(stack: Stack, arn: string): string {
  return `Resource::${flatten(stack.resolve(arn))}`;
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\${/g, '<').replace(/}/g, '>');
  const o = node as Record<string, any>;
  if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(flatten).join(o['Fn::Join'][0]);
  if (o['Fn::Sub']) return flatten(o['Fn::Sub']);
  if (o['Fn::GetAtt']) return `<${flatten(o['Fn::GetAtt'][0])}.${flatten(o['Fn::GetAtt'][1])}>`;
  if (o['Fn::ImportValue']) return flatten(o['Fn::ImportValue']);
  if (o.Ref) return `<${flatten(o.Ref)}>`;
  return JSON.stringify(node);
}
