import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, removeDirSync, startProcess, waitForUnixSocket, type ManagedProcess } from './processes.js';

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

export interface ShimProcess {
  socketPath: string;
  /** The TOML file the shim was started with. */
  configFile: string;
  process: ManagedProcess;
  /** The JSON log lines the shim has written so far. */
  logLines(): Record<string, unknown>[];
  /** SIGTERM, as systemd stops it; resolves with its exit code. */
  stop(): Promise<number | null>;
}

/**
 * `seccomp-oci-shim serve` as its own process, as an operator runs it: a config file holding
 * `configToml`, flags for the socket, the runtime endpoint and the state directory.
 */
export async function startShimProcess(runtimeEndpoint: string, configToml: string): Promise<ShimProcess> {
  const dir = await makeTempDir('shim-serve');
  // Both places are the process's own, so nothing under /etc/seccomp-oci-shim is read.
  const configFile = path.join(dir, 'config.toml');
  const configDir = path.join(dir, 'config.d');
  mkdirSync(configDir);
  writeFileSync(configFile, configToml);
  const socketPath = path.join(dir, 'shim.sock');
  const shim = startProcess({
    name: 'seccomp-oci-shim',
    command: process.execPath,
    args: [
      ...['--import', 'tsx', CLI, 'serve', '--config', configFile, '--config-dir', configDir],
      ...['--listen', socketPath, '--runtime-endpoint', runtimeEndpoint, '--state-dir', path.join(dir, 'state')],
    ],
    logDir: dir,
  });
  try {
    await waitForUnixSocket(socketPath, { timeoutMs: 30_000, process: shim });
  } catch (error) {
    await shim.stop();
    removeDirSync(dir);
    throw error;
  }
  return {
    socketPath,
    configFile,
    process: shim,
    logLines: () =>
      readFileSync(shim.logPath, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    async stop() {
      await shim.stop();
      const { code } = await shim.exited;
      removeDirSync(dir);
      return code;
    },
  };
}
