/**
 * The shipped plan command (assets/plan/cli.js, built by `npm run bundle`) run as a user runs it:
 * a separate Node.js process, offline against saved assemblies, online against the
 * CloudFormation double with the SDK's default credential chain, and on the oldest Node.js major
 * this machine has besides the tests' own.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KeyMaterialRevocation } from '../../lib/index';
import { CloudFormationDouble } from '../doubles/cloudformation-double';

const CLI = path.join(__dirname, '..', '..', 'assets', 'plan', 'cli.js');
const ENV = { account: '111111111111', region: 'eu-west-1' };
const KEY_1 = 'arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-1111-1111-111111111111';
const KEY_2 = 'arn:aws:kms:eu-west-1:111111111111:key/22222222-2222-2222-2222-222222222222';
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:111111111111:stack/Byok/7d1c0000-0000-0000-0000-000000000001';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function assembly(keyArn: string): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-cli-'));
  dirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:enable-path-metadata': true } });
  const stack = new Stack(app, 'Byok', { env: ENV });
  new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Key', keyArn) });
  app.synth();
  return outdir;
}

function cli(args: string[], env: Record<string, string> = {}, node = process.execPath) {
  const r = spawnSync(node, [CLI, ...args], {
    encoding: 'utf8', timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking this process: for servers (the CloudFormation double) running in it. */
function cliAsync(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The assembly's Byok stack deployed in the CloudFormation double, its revocation live for KEY_1. */
function putDeployed(cfn: CloudFormationDouble, outdir: string, liveKey = KEY_1): void {
  const template = JSON.parse(fs.readFileSync(path.join(outdir, 'Byok.template.json'), 'utf8'));
  const revocation = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'Custom::KmsKeyMaterialRevocation')!;
  cfn.putStack(STACK_ID, {
    status: 'UPDATE_COMPLETE', template,
    resources: [{ logicalId: revocation, physicalId: `kms-key-material-revocation:${liveKey}`, type: 'Custom::KmsKeyMaterialRevocation', status: 'CREATE_COMPLETE' }],
  });
}

const v1 = assembly(KEY_1);
const v2 = assembly(KEY_2);

describe('cdk-kms-key-material plan', () => {
  test('L9: offline, in plain words: the old key is revoked once the update succeeds; destroy would revoke the new one', () => {
    const r = cli(['plan', '--app', v2, '--deployed', v1]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Stack Byok (from file)');
    expect(r.stdout).toMatch(new RegExp(`Deploying now would revoke:\\n  - ${KEY_1} \\(Byok/Revocation\\): key replaced`));
    expect(r.stdout).toMatch(new RegExp(`cdk destroy \\(after this deployment\\) would revoke:\\n  - ${KEY_2}`));
    expect(r.stdout).toContain('if it fails and rolls back, nothing is revoked');
  });

  test('L9: --json gives the same findings, machine-readable', () => {
    const r = cli(['plan', '--app', v2, '--deployed', v1, '--json']);
    const out = JSON.parse(r.stdout);
    const deploy = out.stacks[0].items.filter((i: any) => i.when === 'deploy' && i.verdict === 'revoke');
    expect(deploy.map((i: any) => i.keys)).toEqual([[KEY_1]]);
    expect(out.unexpectedRevocations).toBe(1);
  });

  test('--fail-on-revoke exits 2 unless every revocation is allowed by key ARN or construct path', () => {
    expect(cli(['plan', '--app', v2, '--deployed', v1, '--fail-on-revoke']).code).toBe(2);
    expect(cli(['plan', '--app', v2, '--deployed', v1, '--fail-on-revoke', '--allow', KEY_1]).code).toBe(0);
    expect(cli(['plan', '--app', v2, '--deployed', v1, '--fail-on-revoke', '--allow', 'Byok/Revocation']).code).toBe(0);
    expect(cli(['plan', '--app', v1, '--deployed', v1, '--fail-on-revoke']).code).toBe(0);
  });

  test('online: the deployed stack is read from CloudFormation (DescribeStacks, GetTemplate, ListStackResources) with the default credential chain', async () => {
    const cfn = await CloudFormationDouble.start({ defaultAccount: '111111111111' });
    try {
      putDeployed(cfn, v1);
      const env = { AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.endpoint, AWS_ACCESS_KEY_ID: 'AKIAPLAN', AWS_SECRET_ACCESS_KEY: 'x' };
      const r = await cliAsync(['plan', '--app', v2], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Stack Byok (deployed)');
      expect(r.stdout).toMatch(new RegExp(`would revoke:\\n  - ${KEY_1}`));
      expect(cfn.calls.map((c) => c.op).sort()).toEqual(['DescribeStacks', 'GetTemplate', 'ListStackResources']);
      // A stack that is not deployed yet: nothing to compare, nothing revoked on deploy.
      cfn.removeStack(STACK_ID);
      expect((await cliAsync(['plan', '--app', v2], env)).stdout).toContain('Stack Byok (not deployed)');
    } finally {
      await cfn.stop();
    }
  });

  test('L9/S7 online: a key given by a parameter is named by its value; --parameters gives the next value, the others keep theirs', async () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-cli-'));
    dirs.push(outdir);
    const app = new App({ outdir, context: { 'aws:cdk:enable-path-metadata': true } });
    const stack = new Stack(app, 'Byok', { env: ENV });
    const param = new CfnParameter(stack, 'KeyArnParam', { type: 'String' });
    new KeyMaterialRevocation(stack, 'Revocation', { key: kms.Key.fromKeyArn(stack, 'Key', param.valueAsString) });
    app.synth();
    const cfn = await CloudFormationDouble.start({ defaultAccount: '111111111111' });
    try {
      putDeployed(cfn, outdir);
      cfn.setParameters(STACK_ID, { KeyArnParam: KEY_1, BootstrapVersion: '/cdk-bootstrap/hnb659fds/version' });
      const env = { AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.endpoint, AWS_ACCESS_KEY_ID: 'AKIAPLAN', AWS_SECRET_ACCESS_KEY: 'x' };
      const kept = await cliAsync(['plan', '--app', outdir], env);
      expect(kept.stderr).toBe('');
      expect(kept.stdout).toContain('Deploying now would revoke: nothing');
      expect(kept.stdout).toContain(`cdk destroy (after this deployment) would revoke:\n  - ${KEY_1}`);
      for (const given of [`KeyArnParam=${KEY_2}`, `Byok:KeyArnParam=${KEY_2}`]) {
        const moved = await cliAsync(['plan', '--app', outdir, '--parameters', given, '--fail-on-revoke'], env);
        expect(moved.stdout).toMatch(new RegExp(`would revoke:\\n  - ${KEY_1}`));
        expect(moved.code).toBe(2);
      }
      // A value for another stack changes nothing here; this stack's own wins over one for every stack, as in cdk deploy.
      expect((await cliAsync(['plan', '--app', outdir, '--parameters', `Other:KeyArnParam=${KEY_2}`], env)).stdout).toContain('Deploying now would revoke: nothing');
      const own = await cliAsync(['plan', '--app', outdir, '--parameters', `Byok:KeyArnParam=${KEY_2}`, '--parameters', `KeyArnParam=${KEY_1}`], env);
      expect(own.stdout).toMatch(new RegExp(`would revoke:\\n  - ${KEY_1}`));
    } finally {
      await cfn.stop();
    }
    const offline = cli(['plan', '--app', outdir, '--deployed', outdir, '--parameters', `KeyArnParam=${KEY_2}`]);
    expect(offline.code).toBe(1);
    expect(offline.stderr).toContain('--parameters needs the deployed stacks online');
    expect(cli(['plan', '--app', outdir, '--deployed', outdir, '--parameters', 'no-equals-sign']).stderr).toContain('expected NAME=VALUE');
  });

  test('L30: --fail-on-revoke also exits 2 on a step the plan foresees failing (what the handler then does is past it), unless allowed by construct path', async () => {
    const cfn = await CloudFormationDouble.start({ defaultAccount: '111111111111' });
    try {
      // The live physical ID names a third key: the Update would contradict itself, and the handler fail.
      putDeployed(cfn, v1, 'arn:aws:kms:eu-west-1:111111111111:key/33333333-3333-3333-3333-333333333333');
      const env = { AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.endpoint, AWS_ACCESS_KEY_ID: 'AKIAPLAN', AWS_SECRET_ACCESS_KEY: 'x' };
      const failing = await cliAsync(['plan', '--app', v2, '--fail-on-revoke'], env);
      expect(failing.stdout).toContain('the handler would fail');
      expect(failing.code).toBe(2);
      expect(failing.stderr).toContain('foreseen failure');
      expect((await cliAsync(['plan', '--app', v2, '--fail-on-revoke', '--allow', 'Byok/Revocation'], env)).code).toBe(0);
      expect((await cliAsync(['plan', '--app', v2], env)).code).toBe(0);
    } finally {
      await cfn.stop();
    }
  });

  test('a deployed stack that cannot be reached gives a clear message and exit 1, never a stack trace', () => {
    const r = cli(['plan', '--app', v2], { AWS_ENDPOINT_URL_CLOUDFORMATION: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'AKIAPLAN', AWS_SECRET_ACCESS_KEY: 'x', AWS_MAX_ATTEMPTS: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cdk-kms-key-material: cannot read stack Byok from CloudFormation: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test.each([
    [['plan', '--app', '/nonexistent/cdk.out'], /no cdk.json here|not a cloud assembly|failed/],
    [['plan', '--app', v1, '--deployed', '/nonexistent.json'], /--deployed \/nonexistent.json: no such file/],
    [['plan', '--bogus'], /Unknown option '--bogus'/],
    [['plan', '--app', v1, 'NoSuchStack', '--deployed', v1], /no stack named NoSuchStack/],
  ])('%j fails with a message, exit 1, no stack trace', (args, message) => {
    const r = cli(args as string[], {}, process.execPath);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('runs on an older Node.js major than the tests\' own (the Node.js 20 of this machine, if present)', () => {
    const older = ['/usr/bin/node', '/bin/node'].find((p) => fs.existsSync(p));
    if (!older) return;
    const version = spawnSync(older, ['--version'], { encoding: 'utf8' }).stdout.trim();
    expect(Number(version.slice(1).split('.')[0])).toBeLessThan(Number(process.versions.node.split('.')[0]));
    const r = cli(['plan', '--app', v2, '--deployed', v1], {}, older);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(KEY_1);
  });
});
