import { createLogger } from '../log/logger.js';
import { startShimService } from './shim-service.js';
import { answeredHelpOrVersion, loadConfigFromFlags, parseCommandArgs } from './options.js';
import { shimVersion } from './version.js';

const SERVE_OPTIONS = {
  listen: { type: 'string' },
  'runtime-endpoint': { type: 'string' },
  'state-dir': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/** `serve`: the shim's main job, until SIGTERM or SIGINT. */
export async function serve(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, SERVE_OPTIONS);
  if (answeredHelpOrVersion(values)) return 0;
  const { settings, files, warnings } = loadConfigFromFlags(values);
  // Flags win over files: the systemd unit and the demo set them per node.
  settings.listen = values.listen ?? settings.listen;
  settings.runtimeEndpoint = values['runtime-endpoint'] ?? settings.runtimeEndpoint;
  settings.stateDir = values['state-dir'] ?? settings.stateDir;
  settings.logLevel = values['log-level'] ?? settings.logLevel;

  const logger = createLogger({ level: settings.logLevel });
  for (const warning of warnings) logger.warn({ config: warning }, 'Ignoring unknown configuration key');
  logger.info({ version: shimVersion(), configFiles: files }, 'Starting seccomp-oci-shim');
  for (const [handler, runtime] of Object.entries(settings.runtimes)) {
    if (runtime.allowedAnnotations.length > 0) {
      logger.warn({ handler }, `Allowed annotations are specified for workload [${runtime.allowedAnnotations.join(' ')}]`);
    }
  }

  const shim = await startShimService(settings, logger);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'Stopping seccomp-oci-shim');
  await shim.stop();
  logger.info('Stopped');
  return 0;
}
