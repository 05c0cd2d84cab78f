import type { ShimSettings } from '../config/index.js';

/** The flags that place the shim on a node; `serve`, `gc` and `status` read them alike. */
export const NODE_OPTIONS = {
  listen: { type: 'string' },
  'runtime-endpoint': { type: 'string' },
  'state-dir': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/** Flags win over files: the systemd unit and the demo set them per node. */
export function applyNodeFlags(
  settings: ShimSettings,
  values: { listen?: string; 'runtime-endpoint'?: string; 'state-dir'?: string; 'log-level'?: string },
): void {
  settings.listen = values.listen ?? settings.listen;
  settings.runtimeEndpoint = values['runtime-endpoint'] ?? settings.runtimeEndpoint;
  settings.stateDir = values['state-dir'] ?? settings.stateDir;
  settings.logLevel = values['log-level'] ?? settings.logLevel;
}
