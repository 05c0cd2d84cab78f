#!/usr/bin/env node
import { ConfigError } from '../config/index.js';
import { USAGE, UsageError } from './usage.js';
import { shimVersion } from './version.js';

// Each command loads its own modules: `serve` must not pay for push's signing code at start-up.
const COMMANDS: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  serve: async () => (await import('./serve.js')).serve,
  pull: async () => (await import('./pull.js')).pull,
  push: async () => (await import('./push.js')).push,
  gc: async () => (await import('./gc.js')).gc,
  status: async () => (await import('./status.js')).status,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === 'version' || command === '--version' || command === '-v') {
    process.stdout.write(`seccomp-oci-shim ${shimVersion()}\n`);
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) throw new UsageError(`unknown command "${command}"`);
  return (await load())(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`seccomp-oci-shim: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`seccomp-oci-shim: configuration: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`seccomp-oci-shim: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
