/**
 * `npm run simulate -- <scenario>`: plays one lifecycle scenario against local KMS and
 * CloudFormation doubles with the real handler bundle, and prints what happened: each event,
 * the stack status, the handler's decision, the KMS calls and the keys' state afterwards.
 * `npm run simulate -- --list` lists the scenarios.
 */
import { expect } from 'expect';
import { ALL_SCENARIOS as SCENARIOS } from '../test/lifecycle/all-scenarios';
import { playScenario } from '../test/lifecycle/scenarios';
import { formatTimeline } from '../test/lifecycle/timeline';

async function main(): Promise<number> {
  const arg = process.argv[2];
  if (!arg || arg === '--list' || arg === '--help') {
    console.log('Scenarios (npm run simulate -- <name>):\n');
    const nameWidth = Math.max(...SCENARIOS.map((s) => s.name.length));
    const rowsWidth = Math.max(...SCENARIOS.map((s) => s.rows.join('/').length));
    for (const s of SCENARIOS) console.log(`  ${s.name.padEnd(nameWidth)}  ${s.rows.join('/').padEnd(rowsWidth)}  ${s.description}`);
    return arg ? 0 : 1;
  }
  const scenario = SCENARIOS.find((s) => s.name === arg);
  if (!scenario) {
    console.error(`no scenario named '${arg}'; npm run simulate -- --list shows them`);
    return 2;
  }
  console.log(`${scenario.name} (${scenario.rows.join(', ')}): ${scenario.description}\n`);
  const ctx = await playScenario(scenario);
  try {
    console.log(formatTimeline(ctx));
    try {
      scenario.check(ctx, expect);
      console.log('\nchecks: every expectation of this scenario holds');
      return 0;
    } catch (err) {
      console.log(`\nchecks: FAILED\n${(err as Error).message}`);
      return 1;
    }
  } finally {
    await ctx.bed.stop();
  }
}

main().then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });
