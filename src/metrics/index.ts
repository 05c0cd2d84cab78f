export { ShimMetrics, pullErrorReason, type MetricsSources, type PullErrorReason } from './shim-metrics.js';
export { startMetricsServer, parseListen, type MetricsServer, type MetricsServerOptions } from './server.js';
export { callClass, type CallClass } from './call-class.js';
