import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILE, loadConfig, type LoadedConfig } from '../config/index.js';
import { UsageError } from './usage.js';

export const COMMON_OPTIONS = {
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

/** Loads the config the flags point at; an explicitly named file must exist. */
export function loadConfigFromFlags(values: { config?: string; 'config-dir'?: string }): LoadedConfig {
  return loadConfig({
    file: values.config ?? DEFAULT_CONFIG_FILE,
    fileRequired: values.config !== undefined,
    dir: values['config-dir'] ?? DEFAULT_CONFIG_DIR,
  });
}
