import path from 'node:path';
import { defaultSettings, type ShimSettings } from '../src/config/index.js';
import { startShimService, type ShimService } from '../src/cli/shim-service.js';
import { createLogger, type Logger } from '../src/log/logger.js';
import { makeTempDir, removeDirSync } from './processes.js';

export interface TestShim {
  /** The shim's socket, where kubelet would point. */
  socketPath: string;
  settings: ShimSettings;
  /** Where metrics are served, when the settings name a listener. */
  metricsAddress?: string;
  /** JSON log lines the shim wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/**
 * The shim as `serve` assembles it (config settings → injector → proxy), in this process, with
 * its state and socket in a temp dir and its log lines kept for assertions.
 */
export async function startShim(runtimeEndpoint: string, configure: (settings: ShimSettings) => void = () => {}): Promise<TestShim> {
  const dir = await makeTempDir('shim');
  const settings = defaultSettings();
  settings.runtimeEndpoint = runtimeEndpoint;
  settings.stateDir = path.join(dir, 'state');
  settings.listen = path.join(dir, 'shim.sock');
  settings.artifact.authFile = path.join(dir, 'no-auth.json');
  settings.logLevel = 'debug';
  configure(settings);
  const logs: Record<string, unknown>[] = [];
  const logger: Logger = createLogger({
    level: settings.logLevel,
    destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  let service: ShimService;
  try {
    service = await startShimService(settings, logger);
  } catch (error) {
    removeDirSync(dir);
    throw error;
  }
  return {
    socketPath: settings.listen,
    settings,
    ...(service.metricsAddress ? { metricsAddress: service.metricsAddress } : {}),
    logs,
    async stop() {
      await service.stop();
      removeDirSync(dir);
    },
  };
}
