import type { ShimSettings } from '../config/index.js';
import { createCriProbe } from '../cri/probe.js';
import { prepareStateDir } from '../files/state-dir.js';
import { createInjector } from '../injector/index.js';
import { loadSignatureModule, policyNeedsSignatures } from '../injector/signature-check.js';
import type { Logger } from '../log/logger.js';
import type { MetricsServer } from '../metrics/index.js';
import { startProxy } from '../proxy/index.js';
import { startBackgroundGc } from '../store/index.js';

export interface ShimService {
  /** Where metrics are served, when `[shim.metrics] listen` is set. */
  readonly metricsAddress?: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 2000;

/**
 * The shim assembled from its settings: the CreateContainer injector behind the proxy's socket,
 * the metrics listener when one is configured, and store gc in the background.
 * `serve` runs it until a signal; the tests run the very same assembly in process.
 */
export async function startShimService(settings: ShimSettings, logger: Logger): Promise<ShimService> {
  const { removedTempFiles } = await prepareStateDir(settings.stateDir);
  if (removedTempFiles.length > 0) logger.info({ stateDir: settings.stateDir, files: removedTempFiles.length }, 'Removed temp files of interrupted writes');
  if (policyNeedsSignatures(settings.signature)) await loadSignatureModule();
  // prom-client is loaded only where metrics are asked for: it costs start-up time.
  const metricsModule = settings.metrics.listen ? await import('../metrics/index.js') : undefined;
  const metrics = metricsModule && new metricsModule.ShimMetrics({ cacheEntries: () => injector.cacheEntries(), stateDir: settings.stateDir });
  const injector = createInjector(settings, logger, metrics);
  const stops: (() => Promise<void> | void)[] = [() => injector.close()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    const proxy = await startProxy({
      listenPath: settings.listen,
      runtimeEndpoint: settings.runtimeEndpoint,
      interceptor: injector.interceptor,
      logger,
      shutdownGraceMs: settings.shutdownGraceMs,
      ...(metrics ? { observer: metrics } : {}),
    });
    stops.push(() => proxy.stop());
    let metricsServer: MetricsServer | undefined;
    if (metricsModule && metrics) {
      const runtime = createCriProbe(settings.runtimeEndpoint);
      stops.push(() => runtime.close());
      metricsServer = await metricsModule.startMetricsServer({
        listen: settings.metrics.listen,
        registry: metrics.registry,
        logger,
        async notReady() {
          const answer = await runtime.check(READY_TIMEOUT_MS);
          return answer.ok ? undefined : `runtime does not answer: ${answer.error}`;
        },
      });
      stops.push(() => metricsServer?.stop());
    }
    if (settings.gc.intervalMs > 0) {
      const gc = startBackgroundGc(
        {
          stateDir: settings.stateDir,
          runtimeEndpoint: settings.runtimeEndpoint,
          policy: { graceMs: settings.gc.graceMs, maxBytes: settings.gc.maxBytes },
          logger,
          ...(metrics ? { observer: metrics } : {}),
        },
        settings.gc.intervalMs,
      );
      stops.push(() => gc.stop());
    }
    let stopping: Promise<void> | undefined;
    return {
      ...(metricsServer ? { metricsAddress: metricsServer.address } : {}),
      stop: () => (stopping ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
