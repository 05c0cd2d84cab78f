export { ConfigError, DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILE, loadConfig } from './load.js';
export type { ConfigLocation, LoadedConfig } from './load.js';
export { defaultSettings } from './settings.js';
export type { ArtifactMode, RegistrySettings, RuntimeHandlerSettings, ShimSettings } from './settings.js';
export { parseDuration } from './duration.js';
