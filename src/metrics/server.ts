import { lstat, rm } from 'node:fs/promises';
import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';

export interface MetricsServerOptions {
  /** `host:port` (`127.0.0.1:9464`, `[::1]:9464`) or an absolute unix socket path. */
  listen: string;
  registry: Registry;
  /** Undefined when the shim is ready, else why not. */
  notReady(): Promise<string | undefined>;
  logger: Logger;
}

export interface MetricsServer {
  /** Where it listens: the socket path, or `host:port` with the port actually bound. */
  readonly address: string;
  stop(): Promise<void>;
}

type ListenTarget = { path: string } | { host: string; port: number };

export function parseListen(listen: string): ListenTarget {
  if (listen.startsWith('/')) return { path: listen };
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new Error(`metrics listen "${listen}": expected host:port or an absolute unix socket path`);
  return { host: match[1] ?? match[2] ?? '', port };
}

/** `GET /metrics` (Prometheus text format) and `GET /readyz` (200 when the runtime answers). */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const target = parseListen(options.listen);
  const server = http.createServer((request, response) => {
    void answer(options, request, response).catch((error: unknown) => {
      options.logger.error({ err: error, path: request.url }, 'metrics request failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('internal error\n');
    });
  });
  if ('path' in target) await removeStaleSocket(target.path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.removeListener('error', reject);
      resolve();
    };
    if ('path' in target) server.listen(target.path, onListening);
    else server.listen(target.port, target.host, onListening);
  });
  const bound = server.address();
  const address = typeof bound === 'string' || bound === null ? options.listen : `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  options.logger.info({ address }, 'metrics listening');
  return {
    address,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if ('path' in target) await rm(target.path, { force: true });
    },
  };
}

async function answer(options: MetricsServerOptions, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    const body = await options.registry.metrics();
    response.writeHead(200, { 'content-type': options.registry.contentType }).end(request.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/readyz') {
    const problem = await options.notReady();
    response.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain' }).end(problem ? `not ready: ${problem}\n` : 'ok\n');
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /readyz\n');
}

/** A socket left by a crashed shim is replaced; anything else at the path is an error. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const info = await lstat(socketPath).catch(() => undefined);
  if (info === undefined) return;
  if (!info.isSocket()) throw new Error(`cannot listen for metrics on ${socketPath}: it exists and is not a socket`);
  await rm(socketPath, { force: true });
}
