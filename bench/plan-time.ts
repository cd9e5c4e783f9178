/**
 * Issue 13 goal 4: the plan command's time on a 489-key app, next to `cdk synth` of the same
 * app. Both timed as whole processes, offline: `cdk synth` (the aws-cdk CLI of node_modules, the
 * app run through tsx, version reporting on as by default) into a cloud assembly, then
 * `node assets/plan/cli.js plan --app <assembly> --deployed <assembly>` (the shipped bundle,
 * comparing the app with itself as deployed: every revocation is read and judged, none revoked).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median, ms, progress } from './stats';

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'assets', 'plan', 'cli.js');

export interface PlanTimeResult {
  readonly stacks: number;
  /** Keys in each stack (a single number in records made when every stack had the same count). */
  readonly keysPerStack: number[] | number;
  /** Keys in the app (absent from older records: stacks × keysPerStack). */
  readonly keys?: number;
  /** Resources in each synthesized template (CDKMetadata included). */
  readonly resourcesPerStack: number[];
  readonly synthRuns: number[];
  readonly synthMedianMs: number;
  readonly planRuns: number[];
  readonly planMedianMs: number;
  /** The plan's own summary: revocations it judged for the deployment, and what it said would be revoked (expected 0). */
  readonly planExitCode: number;
  readonly planRevocationsJudged?: number;
  readonly planUnexpectedRevocations?: number;
  /** What the plan says `cdk destroy` would revoke (expected: every key). */
  readonly planDestroyRevokes?: number;
  readonly cliBytes: number;
}

function time(cmd: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; status: number; stdout: string; stderr: string } {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { ms: ms(started), status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Keys per stack of a record, old (one number for every stack) or new (a list). */
export function planKeysPerStack(pt: PlanTimeResult): number[] {
  return Array.isArray(pt.keysPerStack) ? pt.keysPerStack : Array.from({ length: pt.stacks }, () => pt.keysPerStack as number);
}

export function measurePlanTime(o: { keysPerStack: number[]; synthRuns: number; planRuns: number }): PlanTimeResult {
  const keys = o.keysPerStack.reduce((a, n) => a + n, 0);
  progress(`plan command: ${keys} keys in ${o.keysPerStack.length} stacks (${o.keysPerStack.join(' + ')}), cdk synth ${o.synthRuns} runs, plan ${o.planRuns} runs`);
  if (!fs.existsSync(CLI)) throw new Error('assets/plan/cli.js is missing: run `npm run bundle` first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-plan-'));
  const env = {
    ...process.env, BENCH_PLAN_KEYS_PER_STACK: o.keysPerStack.join(','),
    CDK_DISABLE_VERSION_CHECK: '1',
  };
  const cdk = path.join(ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk');
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  try {
    const out = path.join(dir, 'cdk.out');
    const synthRuns: number[] = [];
    for (let i = 0; i < o.synthRuns + 1; i++) {
      fs.rmSync(out, { recursive: true, force: true });
      const r = time(process.execPath, [cdk, 'synth', '--app', `${tsx} bench/plan-app.ts`, '--output', out, '--quiet', '--no-notices', '--ci'], env);
      if (r.status !== 0) throw new Error(`cdk synth failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
      if (i > 0) synthRuns.push(r.ms); // the first one warms the page cache and tsx's cache
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { type: string; properties?: { templateFile?: string } }> };
    const resourcesPerStack = Object.values(manifest.artifacts).filter((a) => a.type === 'aws:cloudformation:stack').map((a) =>
      Object.keys((JSON.parse(fs.readFileSync(path.join(out, a.properties!.templateFile!), 'utf8')) as { Resources: object }).Resources).length);
    const planRuns: number[] = [];
    let last = { ms: 0, status: 0, stdout: '', stderr: '' };
    for (let i = 0; i < o.planRuns + 1; i++) {
      last = time(process.execPath, [CLI, 'plan', '--app', out, '--deployed', out], env);
      if (last.status !== 0) throw new Error(`plan failed (${last.status}): ${last.stderr.slice(0, 2000)}`);
      if (i > 0) planRuns.push(last.ms);
    }
    let judged: number | undefined;
    let unexpected: number | undefined;
    let destroyRevokes: number | undefined;
    try {
      const json = JSON.parse(execFileSync(process.execPath, [CLI, 'plan', '--app', out, '--deployed', out, '--json'], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }));
      unexpected = json.unexpectedRevocations;
      const counted = countItems(json);
      judged = counted.deploy;
      destroyRevokes = counted.destroyRevokes;
    } catch {
      // the figures above stand without the summary
    }
    return {
      stacks: o.keysPerStack.length, keysPerStack: o.keysPerStack, keys, resourcesPerStack,
      synthRuns, synthMedianMs: median(synthRuns), planRuns, planMedianMs: median(planRuns),
      planExitCode: last.status, planRevocationsJudged: judged, planDestroyRevokes: destroyRevokes, planUnexpectedRevocations: unexpected, cliBytes: fs.statSync(CLI).size,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The plan's items: revocations judged for the deployment, and those `cdk destroy` would revoke. */
function countItems(json: unknown): { deploy: number; destroyRevokes: number } {
  const items = ((json as { stacks?: Array<{ items?: Array<{ when?: string; verdict?: string }> }> }).stacks ?? []).flatMap((st) => st.items ?? []);
  return { deploy: items.filter((x) => x.when === 'deploy').length, destroyRevokes: items.filter((x) => x.when === 'destroy' && x.verdict === 'revoke').length };
}
