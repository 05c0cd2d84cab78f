import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `seccomp-oci-shim COMMAND ...` as an operator would, from its TypeScript source, with the
 * config files of `configDir` only (an empty `empty.toml` and `config.d/` there): without them the
 * machine's own /etc/seccomp-oci-shim would be read too. The wait is bounded.
 */
export function runCli(configDir: string, args: string[], timeoutMs = 30_000): Promise<CliRun> {
  const [command, ...rest] = args;
  const isolated = command === undefined ? [] : [command, '--config', path.join(configDir, 'empty.toml'), '--config-dir', path.join(configDir, 'config.d'), ...rest];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...isolated], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`seccomp-oci-shim ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
