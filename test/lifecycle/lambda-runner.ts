/**
 * Runs the shipped handler bundle the way AWS Lambda would: in separate Node.js processes of the
 * runtime's major version, with the function's Handler string, environment and timeout, a context
 * whose getRemainingTimeInMillis counts down, warm containers reused, and a container killed when
 * an invocation outlives the function's timeout.
 */
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface FunctionSpec {
  readonly functionName: string;
  readonly assetDir: string;
  /** The template's Handler, "<module>.<export>". */
  readonly handler: string;
  /** The template's Runtime, e.g. nodejs24.x. */
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly region: string;
  readonly environment: Record<string, string>;
}

function stringsOnly(env: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The role's temporary credentials, as Lambda provides them to a sandbox. */
export const ROLE_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'ASIAHANDLERROLE00001',
  AWS_SECRET_ACCESS_KEY: 'handler-role-secret',
  AWS_SESSION_TOKEN: 'handler-role-session-token',
} as const;

/**
 * The access key of a function other than the bed's root handler (a nested stack's), so that the
 * KMS double can tell its requests apart and evaluate them as its own role's (iam-state.ts).
 */
export function accessKeyIdOf(functionName: string): string {
  return `ASIAFN${createHash('sha256').update(functionName).digest('hex').slice(0, 14).toUpperCase()}`;
}

export interface InvocationResult {
  /** What the handler threw (Lambda would report a function error), if it did. */
  readonly error?: string;
  readonly logs: Array<{ level: string; line: string }>;
  readonly durationMs: number;
  /** The invocation outlived the function's timeout and its container was killed. */
  readonly timedOut: boolean;
  /** The container died during the invocation. */
  readonly crashed?: string;
  /** A new container was started for this invocation; its module load time. */
  readonly coldStartLoadMs?: number;
}

export interface RunnerOptions {
  /** Containers running at once (Lambda scales out; here bounded by the machine). Default 8. */
  readonly maxConcurrency?: number;
  /** Overrides the template's timeout, to play short-timeout functions. */
  readonly timeoutMs?: number;
  /** Added to the function's environment (endpoints of the test doubles, credentials). */
  readonly env?: Record<string, string>;
}

const WORKER = path.join(__dirname, 'lambda-worker.js');
const ROOT = path.join(__dirname, '..', '..');

/** A Node.js binary of the runtime's major version: this process's, or the node@N devDependency. */
export function nodeForRuntime(runtime: string): string {
  const m = /^nodejs(\d+)\.x$/.exec(runtime);
  if (!m) throw new Error(`runtime ${runtime} is not a Node.js runtime`);
  const major = m[1];
  const candidates = [process.execPath, path.join(ROOT, 'node_modules', 'node', 'bin', 'node')];
  for (const candidate of candidates) {
    if (!fs.existsSync(candidate)) continue;
    const version = candidate === process.execPath
      ? process.versions.node
      : execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    if (version.split('.')[0] === major) return candidate;
  }
  throw new Error(`no Node.js ${major} found for runtime ${runtime}: run the tests through npm (node@${major} is a devDependency)`);
}

interface Container {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  busy: boolean;
  pending?: (msg: any) => void;
  exited?: string;
}

export class LambdaRunner {
  private readonly containers: Container[] = [];
  private readonly waiting: Array<() => void> = [];
  private readonly node: string;
  private readonly home = fs.mkdtempSync(path.join(os.tmpdir(), 'lambda-home-'));
  private counter = 0;
  /** Containers started, for the cold-start count. */
  started = 0;

  /** The function's environment variables as deployed (the template's may hold unresolved intrinsics). */
  private environment: Record<string, string>;

  constructor(readonly spec: FunctionSpec, private readonly options: RunnerOptions = {}) {
    this.node = nodeForRuntime(spec.runtime);
    this.environment = stringsOnly(spec.environment);
  }

  /**
   * The function's environment as CloudFormation resolved it (for example REVOCATION_STACK_ID from
   * AWS::StackId). A change takes effect as in Lambda: the sandboxes of the old configuration are
   * retired and new ones start with the new one.
   */
  useEnvironment(environment: Record<string, unknown> | undefined): void {
    const next = stringsOnly(environment ?? {});
    if (JSON.stringify(next) === JSON.stringify(this.environment)) return;
    this.environment = next;
    for (const c of this.containers.filter((x) => !x.busy)) c.child.kill('SIGKILL');
    this.containers.splice(0, this.containers.length, ...this.containers.filter((x) => x.busy));
  }

  get timeoutMs(): number {
    return this.options.timeoutMs ?? this.spec.timeoutSeconds * 1000;
  }

  async invoke(event: unknown): Promise<InvocationResult> {
    const { container, coldStartLoadMs } = await this.acquire();
    const id = ++this.counter;
    const started = Date.now();
    try {
      const outcome = await new Promise<any>((resolve) => {
        const timer = setTimeout(() => {
          // Lambda stops the sandbox at the timeout; nothing after it runs.
          container.child.kill('SIGKILL');
          resolve({ timedOut: true });
        }, this.timeoutMs);
        container.pending = (msg) => { clearTimeout(timer); resolve(msg); };
        container.child.send({ type: 'invoke', id, requestId: `invocation-${id}`, event, timeoutMs: this.timeoutMs });
      });
      if (outcome.timedOut) {
        return { logs: [], durationMs: Date.now() - started, timedOut: true, coldStartLoadMs };
      }
      if (outcome.type === 'exit') {
        return { logs: [], durationMs: Date.now() - started, timedOut: false, crashed: outcome.reason, coldStartLoadMs };
      }
      return { error: outcome.error, logs: outcome.logs, durationMs: outcome.durationMs, timedOut: false, coldStartLoadMs };
    } finally {
      container.pending = undefined;
      container.busy = false;
      if (container.exited) this.containers.splice(this.containers.indexOf(container), 1);
      this.waiting.shift()?.();
    }
  }

  /**
   * Starts containers up to `n` (within maxConcurrency) and waits for their init (Node.js start
   * and module load), as Lambda initialises sandboxes side by side: for measurements that leave
   * init out, where queueing many inits on a few CPUs would distort them.
   */
  async prewarm(n: number): Promise<void> {
    const starting: Array<Promise<number>> = [];
    while (this.containers.length < Math.min(n, this.options.maxConcurrency ?? 8)) starting.push(this.spawn().ready);
    await Promise.all(starting);
  }

  async stop(): Promise<void> {
    for (const c of this.containers) c.child.kill('SIGKILL');
    this.containers.length = 0;
    fs.rmSync(this.home, { recursive: true, force: true });
  }

  private async acquire(): Promise<{ container: Container; coldStartLoadMs?: number }> {
    for (;;) {
      const idle = this.containers.find((c) => !c.busy && !c.exited);
      if (idle) {
        idle.busy = true;
        return { container: idle };
      }
      if (this.containers.length < (this.options.maxConcurrency ?? 8)) {
        const container = this.spawn();
        container.busy = true;
        const loadMs = await container.ready;
        return { container, coldStartLoadMs: loadMs };
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private spawn(): Container {
    this.started++;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      LAMBDA_TASK_ROOT: this.spec.assetDir,
      AWS_EXECUTION_ENV: `AWS_Lambda_${this.spec.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: this.spec.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.spec.memorySize),
      AWS_REGION: this.spec.region,
      AWS_DEFAULT_REGION: this.spec.region,
      ...ROLE_CREDENTIALS,
      // No shared config or instance metadata: only what Lambda gives.
      AWS_CONFIG_FILE: path.join(this.home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(this.home, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      ...this.environment,
      ...this.options.env,
      TESTBED_ASSET_DIR: this.spec.assetDir,
      TESTBED_HANDLER: this.spec.handler,
    };
    const child = fork(WORKER, [], { execPath: this.node, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    let readyResolve!: (ms: number) => void;
    let readyReject!: (err: Error) => void;
    const container: Container = {
      child,
      busy: false,
      ready: new Promise<number>((resolve, reject) => { readyResolve = resolve; readyReject = reject; }),
    };
    container.ready.catch(() => undefined);
    child.on('message', (msg: any) => {
      if (msg.type === 'ready') readyResolve(msg.loadMs);
      else if (msg.type === 'done') container.pending?.(msg);
    });
    child.on('exit', (code, signal) => {
      container.exited = `exit code ${code}, signal ${signal}`;
      readyReject(new Error(`the Lambda container exited during init: ${container.exited}`));
      container.pending?.({ type: 'exit', reason: container.exited });
      if (!container.busy) {
        const i = this.containers.indexOf(container);
        if (i >= 0) this.containers.splice(i, 1);
      }
    });
    this.containers.push(container);
    return container;
  }
}
