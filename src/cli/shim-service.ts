import type { ShimSettings } from '../config/index.js';
import { prepareStateDir } from '../files/state-dir.js';
import { createInjector } from '../injector/index.js';
import { loadSignatureModule, policyNeedsSignatures } from '../injector/signature-check.js';
import type { Logger } from '../log/logger.js';
import { startProxy } from '../proxy/index.js';

export interface ShimService {
  stop(): Promise<void>;
}

/**
 * The shim assembled from its settings: the CreateContainer injector behind the proxy's socket.
 * `serve` runs it until a signal; the tests run the very same assembly in process.
 */
export async function startShimService(settings: ShimSettings, logger: Logger): Promise<ShimService> {
  const { removedTempFiles } = await prepareStateDir(settings.stateDir);
  if (removedTempFiles.length > 0) logger.info({ stateDir: settings.stateDir, files: removedTempFiles.length }, 'Removed temp files of interrupted writes');
  if (policyNeedsSignatures(settings.signature)) await loadSignatureModule();
  const injector = createInjector(settings, logger);
  try {
    const proxy = await startProxy({
      listenPath: settings.listen,
      runtimeEndpoint: settings.runtimeEndpoint,
      interceptor: injector.interceptor,
      logger,
      shutdownGraceMs: settings.shutdownGraceMs,
    });
    return {
      async stop() {
        await proxy.stop();
        injector.close();
      },
    };
  } catch (error) {
    injector.close();
    throw error;
  }
}
