/**
 * One Lambda sandbox per invocation, as Lambda scales out when CloudFormation sends hundreds of
 * Deletes at once: every invocation gets a module instance of the handler bundle of its own (its
 * own SDK clients and what it remembers of the stack), loaded before the clock starts.
 *
 * Why in this process: this 2-CPU machine cannot start hundreds of Node.js processes at once
 * without their cold starts queueing for the CPUs, which Lambda's sandboxes do not (each has its
 * own); LambdaRunner (test/lifecycle) therefore runs a bounded number of containers. Here the
 * sandboxes' init happens in parallel, as in Lambda, and is left out of the timing (§3 measures
 * it); what is measured is how hundreds of independent handlers share the KMS quota. The handlers
 * share this process's event loop: their CPU work (signing, parsing) is small next to the waits.
 */
import * as path from 'node:path';
import { InvocationResult, ROLE_CREDENTIALS } from '../test/lifecycle/lambda-runner';

type Handler = (event: unknown, context: { getRemainingTimeInMillis(): number }) => Promise<void>;

/** A fresh module instance of the bundle: what a new sandbox's init loads. */
function loadInstance(file: string): Handler {
  delete require.cache[file];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(file) as { handler: Handler }).handler;
}

/**
 * Runs `fn` with this process's environment set up as Lambda sets up a sandbox's for the SDK (the
 * role's temporary credentials, no shared config files, no instance metadata) plus `extra` (the
 * doubles' endpoints, the Region, the function's variables), and restores it afterwards.
 */
export async function withSandboxEnvironment<T>(extra: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, {
    ...ROLE_CREDENTIALS,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    ...extra,
  });
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/**
 * Runs `fn` with the console silenced: hundreds of handlers log here, interleaved, and nothing
 * below reads their lines (outcomes come from their answers and the doubles' call logs). One
 * switch for the whole run: per-invocation capture cannot tell concurrent handlers apart. With
 * `onLine`, every line is handed to it instead (the benchmark tallies the decision lines).
 */
export async function withSilencedConsole<T>(fn: () => Promise<T>, onLine?: (line: string) => void): Promise<T> {
  const saved = { log: console.log, warn: console.warn, error: console.error, info: console.info };
  const quiet = onLine ? (...args: unknown[]) => onLine(args.map(String).join(' ')) : () => undefined;
  Object.assign(console, { log: quiet, warn: quiet, error: quiet, info: quiet });
  try {
    return await fn();
  } finally {
    Object.assign(console, saved);
  }
}

/** Plays the function for the StackEngine in place of a LambdaRunner. */
export class InProcessSandboxes {
  /** Sandboxes used so far (one per invocation when fresh, else the one warm sandbox). */
  started = 0;
  private readonly file: string;
  private readonly pool: Handler[] = [];
  private warm?: Handler;
  /** The function's environment as deployed (REVOCATION_STACK_ID resolved), set by the engine before each invocation. */
  private environment: Record<string, string> = {};

  /**
   * @param assetDir the handler's asset directory (index.js inside)
   * @param timeoutMs the function's timeout, counted down by the context
   */
  constructor(assetDir: string, private readonly timeoutMs: number) {
    this.file = path.resolve(assetDir, 'index.js');
  }

  /** Loads `n` sandboxes ahead: Lambda would initialise them in parallel when the Deletes arrive. */
  prepare(n: number): void {
    while (this.pool.length < n) this.pool.push(loadInstance(this.file));
  }

  /** From now on every invocation takes a fresh sandbox from the pool (Lambda scaling out). */
  freshPerInvocation = false;

  /**
   * The function's environment as CloudFormation resolved it (the engine calls this before every
   * invocation, as it does for a LambdaRunner). The sandboxes share this process's environment, so
   * it is applied at each invocation's start: the handler reads REVOCATION_STACK_ID and
   * REVOCATION_TEST_RESPONSE_ORIGIN synchronously, before its first await, so stacks whose
   * sandboxes run side by side in this process each see their own.
   */
  useEnvironment(environment: Record<string, unknown> | undefined): void {
    this.environment = Object.fromEntries(Object.entries(environment ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }

  async invoke(event: unknown): Promise<InvocationResult> {
    let handler: Handler;
    if (this.freshPerInvocation) {
      handler = this.pool.shift() ?? loadInstance(this.file);
      this.started++;
    } else {
      if (!this.warm) {
        this.warm = loadInstance(this.file);
        this.started++;
      }
      handler = this.warm;
    }
    const started = Date.now();
    const deadline = started + this.timeoutMs;
    let error: string | undefined;
    Object.assign(process.env, this.environment);
    try {
      await handler(event, { getRemainingTimeInMillis: () => deadline - Date.now() });
    } catch (err) {
      error = (err as Error).message;
    }
    return { logs: [], durationMs: Date.now() - started, timedOut: false, error };
  }
}
