import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILE, loadConfig, type LoadedConfig } from '../config/index.js';
import { USAGE, UsageError } from './usage.js';
import { shimVersion } from './version.js';

const COMMON_OPTIONS = {
  config: { type: 'string' },
  'config-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const satisfies ParseArgsConfig['options'];

/** parseArgs with our error type, so every wrong flag ends as a usage error. */
export function parseCommandArgs<T extends ParseArgsConfig['options']>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * `-h`/`--help` and `-v`/`--version` anywhere among a command's flags: prints and answers true,
 * so the command stops there. Read from the parsed flags, never from raw words, so an option
 * value such as `--key -h` is not taken for a flag.
 */
export function answeredHelpOrVersion(values: { help?: boolean; version?: boolean }): boolean {
  if (values.help) process.stdout.write(USAGE);
  else if (values.version) process.stdout.write(`seccomp-oci-shim ${shimVersion()}\n`);
  return Boolean(values.help || values.version);
}

/** Loads the config the flags point at; an explicitly named file must exist. */
export function loadConfigFromFlags(values: { config?: string; 'config-dir'?: string }): LoadedConfig {
  return loadConfig({
    file: values.config ?? DEFAULT_CONFIG_FILE,
    fileRequired: values.config !== undefined,
    dir: values['config-dir'] ?? DEFAULT_CONFIG_DIR,
  });
}
