/**
 * Every LIFECYCLE row end to end: the real handler bundle, run as Lambda would run it, against the
 * KMS and CloudFormation doubles over HTTP, through CloudFormation's event sequences. Each test
 * checks the keys' state in the KMS double afterwards; a failure prints the scenario's timeline.
 */
import { ALL_SCENARIOS } from './all-scenarios';
import { playScenario, ScenarioContext } from './scenarios';
import { formatTimeline } from './timeline';

describe.each(ALL_SCENARIOS.map((s) => [s.rows.join('/'), s.name, s] as const))('%s %s', (_rows, _name, scenario) => {
  let ctx: ScenarioContext | undefined;
  afterAll(async () => { await ctx?.bed.stop(); });

  test(scenario.description, async () => {
    ctx = await playScenario(scenario);
    try {
      scenario.check(ctx, expect);
      for (const answer of ctx.bed.engine.answers) {
        // Every event got an answer, before the function's timeout.
        expect(answer.responseStatus).not.toBe('NO RESPONSE');
        expect(answer.invocation?.timedOut).toBe(false);
        expect(answer.invocation?.crashed).toBeUndefined();
      }
    } catch (err) {
      (err as Error).message = `${scenario.rows.join('/')} ${scenario.name}, after step "${ctx.steps[ctx.steps.length - 1]}":\n` +
        `${(err as Error).message}\n\nTimeline:\n${formatTimeline(ctx)}`;
      throw err;
    }
  });
});
