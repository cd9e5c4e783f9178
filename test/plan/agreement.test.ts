/**
 * The plan and the handler agree (issue: see what a deployment will revoke). Every lifecycle
 * scenario is played again; before each successful update and each deletion of a stack that was
 * stable, the plan is made from the engine's deployed stack (templates, live resources, nested
 * stacks) and the next template, and afterwards compared with what the handler decided during the
 * real event sequence. Steps that fail or roll back are not compared: the plan assumes success.
 */
import { plan, PlannedStack } from '../../cli/plan';
import { ACCOUNT, REGION, Template } from '../lifecycle/assembly';
import { StackEngine } from '../lifecycle/engine';
import { playScenario, Scenario, SCENARIOS } from '../lifecycle/scenarios';
import { NESTED_PERMISSION_SCENARIOS, PERMISSION_SCENARIOS } from '../lifecycle/scenarios-permissions';
import { STACK_SCENARIOS } from '../lifecycle/scenarios-stacks';
import { NESTED_KEY_SCENARIOS } from '../lifecycle/scenarios-nested-keys';

const ENV = { account: ACCOUNT, region: REGION, partition: 'aws' };

/** The deployed stack as the plan would read it online: template, live resources, nested stacks. */
function deployedOf(engine: StackEngine, name = engine.stackName): PlannedStack {
  const nested = new Map<string, PlannedStack>();
  for (const r of engine.resources.values()) {
    if (r.nested) nested.set(r.logicalId, deployedOf(r.nested, `${name}/${r.logicalId}`));
  }
  const live = new Map([...engine.resources.values()].map((r) => [r.logicalId, { physicalId: r.physicalId, type: r.type, status: r.status }]));
  // Parameter values of the root, as DescribeStacks gives them to the plan (cli/sources.ts: not for nested stacks).
  const parameters = engine.parent ? undefined : { ...engine.parameters };
  return { name, template: engine.template as PlannedStack['template'], status: engine.status, live, nested, env: ENV, parameters };
}

/** The next version, nested templates found the way the engine finds them. */
function nextOf(engine: StackEngine, template: Template, name = engine.stackName): PlannedStack {
  const nested = new Map<string, PlannedStack>();
  for (const [id, def] of Object.entries(template.Resources)) {
    if (def.Type !== 'AWS::CloudFormation::Stack') continue;
    const url = (engine as any).resolve(def.Properties?.TemplateURL);
    nested.set(id, nextOf(engine, (engine as any).o.nestedTemplate(String(url)), `${name}/${id}`));
  }
  return { name, template: template as PlannedStack['template'], nested, env: ENV };
}

interface Comparison { readonly step: string; readonly forecast: string[]; readonly decided: string[] }

/** Keys the handler decided to revoke in the answers from `from` on. */
function decided(engine: StackEngine, from: number): string[] {
  return engine.answers.slice(from).filter((a) => a.decision?.decision === 'revoked').flatMap((a) => a.decision!.revokedKeys ?? [a.decision!.keyArn]);
}

/** A key the plan could only describe (created by the deployment) by the ARN it got. */
function resolved(engine: StackEngine, key: string): string {
  const m = /^key (\S+) of /.exec(key);
  return m ? engine.keysCreated.get(m[1]) ?? key : key;
}

const comparisons: Comparison[] = [];
/** Every comparison made, kept across scenarios: the suite must have compared revocations, not only silence. */
const all: Comparison[] = [];
const originalUpdate = StackEngine.prototype.update;
const originalDelete = StackEngine.prototype.deleteStack;

beforeAll(() => {
  StackEngine.prototype.update = async function update(this: StackEngine, newTemplate: Template, options: any = {}) {
    // The next values: those in force, but for those the update passes (as `plan --parameters` takes them).
    const next = { ...nextOf(this, newTemplate), parameters: { ...this.parameters, ...(options.parameters ?? {}) } };
    const forecast = plan(next, deployedOf(this)).filter((i) => i.when === 'deploy' && i.verdict === 'revoke');
    const from = this.answers.length;
    const status = await originalUpdate.call(this, newTemplate, options);
    if (status === 'UPDATE_COMPLETE') {
      comparisons.push({ step: 'update', forecast: forecast.flatMap((i) => i.keys).map((k) => resolved(this, k)).sort(), decided: decided(this, from).sort() });
    }
    return status;
  };
  StackEngine.prototype.deleteStack = async function deleteStack(this: StackEngine, options: any = {}) {
    if (this.parent) return originalDelete.call(this, options);
    const stable = this.status === 'CREATE_COMPLETE' || this.status === 'UPDATE_COMPLETE';
    const deployed = deployedOf(this);
    const forecast = plan(deployed, deployed).filter((i) => i.when === 'destroy' && i.verdict === 'revoke');
    const from = this.answers.length;
    const status = await originalDelete.call(this, options);
    if (stable && status === 'DELETE_COMPLETE') {
      comparisons.push({ step: 'destroy', forecast: forecast.flatMap((i) => i.keys).sort(), decided: decided(this, from).sort() });
    }
    return status;
  };
});
afterAll(() => {
  StackEngine.prototype.update = originalUpdate;
  StackEngine.prototype.deleteStack = originalDelete;
});

describe.each([...SCENARIOS, ...PERMISSION_SCENARIOS, ...NESTED_PERMISSION_SCENARIOS, ...STACK_SCENARIOS, ...NESTED_KEY_SCENARIOS].map((s) => [s.rows.join('/'), s.name, s] as const))(
  '%s %s: plan and handler agree', (_rows, _name, scenario: Scenario) => {
    test('what the plan forecast is what the handler revoked, step by step', async () => {
      comparisons.length = 0;
      const ctx = await playScenario(scenario);
      try {
        for (const c of comparisons) expect({ step: c.step, revoked: c.decided }).toEqual({ step: c.step, revoked: c.forecast });
        all.push(...comparisons);
      } finally {
        await ctx.bed.stop();
      }
    });
  });

test('the comparisons covered revocations on deploy and on destroy, and steps that revoke nothing', () => {
  const revoking = (step: string) => all.filter((c) => c.step === step && c.decided.length > 0).length;
  expect(revoking('update')).toBeGreaterThanOrEqual(5);
  expect(revoking('destroy')).toBeGreaterThanOrEqual(5);
  expect(all.filter((c) => c.decided.length === 0).length).toBeGreaterThanOrEqual(5);
});
