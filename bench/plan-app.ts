/**
 * The app the plan benchmark synthesizes with `cdk synth` (bench/plan-time.ts): one stack per
 * entry of BENCH_PLAN_KEYS_PER_STACK (a comma-separated list of key counts, default "245,244":
 * the 489 keys of issue 13 goal 4 within the construct's 250 keys per stack), one revocation per
 * key, keys imported by ARN.
 */
import { App, Stack } from 'aws-cdk-lib';
import { buildApp, fakeKeyArn } from './baseline';

const perStack = (process.env.BENCH_PLAN_KEYS_PER_STACK ?? '245,244').split(',').map(Number);
const app = new App();
let next = 0;
perStack.forEach((n, i) => {
  const stack = new Stack(app, `PlanBench${i + 1}`, { env: { account: '111111111111', region: 'eu-west-1' } });
  buildApp({ side: 'ours', keyArns: Array.from({ length: n }, (_, j) => fakeKeyArn(next + j)) })(stack);
  next += n;
});
app.synth();
