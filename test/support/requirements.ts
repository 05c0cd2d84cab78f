import { onPath } from '../../testbed/registry-engine.js';

/**
 * What suites need from the machine. On a laptop a suite that cannot run there is skipped with
 * its reason printed; in CI (CI set, Linux, root) every suite must run, so a skip is an error.
 */

export interface LinuxNeeds {
  /** Starts containerd and runc, or checks seccomp and cgroups in the kernel. */
  root?: boolean;
  /** Executables that must be on PATH (containerd, runc, ctr, busybox, ...). */
  commands?: string[];
}

/** A node of our own: containerd and runc as root, the busybox image imported with ctr. */
export const REAL_NODE: LinuxNeeds = { root: true, commands: ['containerd', 'runc', 'ctr', 'busybox'] };

/** The command line that installs the Linux tools the suites use (Debian 12). */
export const INSTALL_HINT = 'bash scripts/install-deps.sh';

/** True in CI on Linux as root, where nothing may be skipped. */
export function mustRunEverything(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && !['', '0', 'false'].includes(ci.toLowerCase()) && process.platform === 'linux' && process.getuid?.() === 0;
}

/** What this machine lacks of `needs`, said for a person, or undefined. */
export function missingOnLinux(needs: LinuxNeeds): string | undefined {
  if (process.platform !== 'linux') return `Linux (this is ${process.platform})`;
  const uid = process.getuid?.();
  if (needs.root && uid !== 0) return `root (running as uid ${uid})`;
  const absent = (needs.commands ?? []).filter((command) => !onPath(command));
  return absent.length > 0 ? `${absent.join(', ')} on PATH (${INSTALL_HINT})` : undefined;
}

/**
 * Whether to skip a suite that needs Linux (and `needs`). Says why when it skips; throws where
 * nothing may be skipped. Use as `describe.skipIf(skipUnlessLinux('...', { root: true }))(...)`.
 */
export function skipUnlessLinux(what: string, needs: LinuxNeeds = {}): boolean {
  const missing = missingOnLinux(needs);
  if (missing === undefined) return false;
  const reason = `${what} needs ${missing}`;
  if (mustRunEverything()) throw new Error(`CI on Linux as root runs every suite, but ${reason}`);
  console.warn(`skipped: ${reason}`);
  return true;
}
