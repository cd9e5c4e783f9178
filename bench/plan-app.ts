/**
 * The app the plan benchmark synthesizes with `cdk synth` (bench/plan-time.ts): BENCH_PLAN_STACKS
 * stacks of BENCH_PLAN_KEYS_PER_STACK revocations each, keys imported by ARN (the largest app of
 * issue 13 goal 4, within the construct's 250 keys per stack).
 */
import { App, Stack } from 'aws-cdk-lib';
import { buildApp, fakeKeyArn } from './baseline';

const stacks = Number(process.env.BENCH_PLAN_STACKS ?? 2);
const perStack = Number(process.env.BENCH_PLAN_KEYS_PER_STACK ?? 245);
const app = new App();
for (let i = 0; i < stacks; i++) {
  const stack = new Stack(app, `PlanBench${i + 1}`, { env: { account: '111111111111', region: 'eu-west-1' } });
  buildApp({ side: 'ours', keyArns: Array.from({ length: perStack }, (_, j) => fakeKeyArn(i * perStack + j)) })(stack);
}
app.synth();
