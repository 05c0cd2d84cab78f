import { onPath } from './registry-engine.js';

/**
 * What suites need from the machine. On a laptop a suite that cannot run here is skipped with its
 * reason printed; in CI (CI set, Linux, root) every suite must run, so a skip is an error there.
 */

/** True in CI on Linux as root, where nothing may be skipped. */
export function mustRunEverything(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && !['', '0', 'false'].includes(ci.toLowerCase()) && process.platform === 'linux' && process.getuid?.() === 0;
}

/** What is missing for a suite that starts real runtimes (Linux, root, the commands), or undefined. */
export function missingLinuxRoot(commands: string[]): string | undefined {
  if (process.platform !== 'linux') return `Linux (this is ${process.platform})`;
  const uid = process.getuid?.();
  if (uid !== 0) return `root (running as uid ${uid})`;
  const absent = commands.filter((command) => !onPath(command));
  return absent.length > 0 ? `${absent.join(', ')} on PATH` : undefined;
}

/**
 * Whether to skip a suite that needs Linux, root and `commands` (containerd, runc: the kernel's
 * seccomp and cgroups). Says why when it skips; throws where nothing may be skipped.
 * Use as `describe.skipIf(skipUnlessLinuxRoot('...', ['containerd', 'runc']))(...)`.
 */
export function skipUnlessLinuxRoot(what: string, commands: string[]): boolean {
  const missing = missingLinuxRoot(commands);
  if (missing === undefined) return false;
  const reason = `${what} needs ${missing}`;
  if (mustRunEverything()) throw new Error(`CI on Linux as root runs every suite, but ${reason}`);
  console.warn(`skipped: ${reason}`);
  return true;
}
