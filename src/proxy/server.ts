import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { unixSocketPath } from '../cri/proto.js';
import type { ProxyOptions, RunningProxy } from './api.js';
import { ProxyConnection } from './connection.js';

const SOCKET_MODE = 0o660;
const SOCKET_DIR_MODE = 0o750;
const DEFAULT_SHUTDOWN_GRACE_MS = 5000;
/** How long the start-up probe waits for a possible live owner of the socket. */
const PROBE_TIMEOUT_MS = 1000;

/** Serves `listenPath`, forwarding every call to the runtime (see ProxyConnection). */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const listenPath = unixSocketPath(options.listenPath);
  const runtimePath = unixSocketPath(options.runtimeEndpoint);
  const log = options.logger;
  await prepareSocketPath(listenPath, log);

  const connections = new Set<ProxyConnection>();
  const server = net.createServer((socket) => {
    const connection = new ProxyConnection(socket, {
      runtimePath,
      runtimeEndpoint: options.runtimeEndpoint,
      logger: log,
      ...(options.interceptor ? { interceptor: options.interceptor } : {}),
      ...(options.observer ? { observer: options.observer } : {}),
    });
    connections.add(connection);
    options.observer?.connectionOpened();
    void connection.closed.then(() => {
      connections.delete(connection);
      options.observer?.connectionClosed();
    });
  });
  await listenWithMode(server, listenPath);
  log.info({ listenPath, runtimeEndpoint: options.runtimeEndpoint }, 'proxy listening');

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    const graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    const openCalls = [...connections].reduce((sum, c) => sum + c.openCalls, 0);
    log.info({ listenPath, connections: connections.size, openCalls, graceMs }, 'proxy stopping');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const drained = Promise.all([...connections].map((c) => c.drain())).then(() => true);
    const allDrained = await Promise.race([drained, graceOver]);
    clearTimeout(timer);
    const cut = [...connections].reduce((sum, c) => sum + c.openCalls, 0);
    for (const connection of connections) connection.destroy();
    await closed;
    await rm(listenPath, { force: true });
    log.info({ listenPath, allDrained, callsCut: cut }, 'proxy stopped');
  };
  return {
    listenPath,
    stop: () => (stopping ??= stop()),
  };
}

/**
 * Creates the socket's directory if missing and clears a stale socket a crashed shim left
 * behind; refuses when the path is not a socket or a live process still serves it.
 */
async function prepareSocketPath(listenPath: string, log: ProxyOptions['logger']): Promise<void> {
  await mkdir(path.dirname(listenPath), { recursive: true, mode: SOCKET_DIR_MODE });
  const stat = await lstat(listenPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (stat === undefined) return;
  if (!stat.isSocket()) throw new Error(`cannot listen on ${listenPath}: it exists and is not a socket`);
  if (await someoneServes(listenPath)) {
    throw new Error(`cannot listen on ${listenPath}: another process is serving it`);
  }
  await rm(listenPath, { force: true });
  log.info({ listenPath }, 'removed stale socket');
}

function someoneServes(socketPath: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect(socketPath);
    const timer = setTimeout(() => {
      probe.destroy();
      // A socket that neither accepts nor refuses has an owner that is alive but stuck.
      resolve(true);
    }, PROBE_TIMEOUT_MS);
    probe.once('connect', () => {
      clearTimeout(timer);
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(new Error(`cannot check whether ${socketPath} is in use: ${err.message}`));
    });
  });
}

/** Listens with the socket created 0660 from the start (umask), then enforces it with chmod. */
async function listenWithMode(server: net.Server, listenPath: string): Promise<void> {
  let previousUmask: number | undefined;
  try {
    // Not available in worker threads; chmod below still applies the mode there.
    previousUmask = process.umask(0o777 & ~SOCKET_MODE);
  } catch {
    previousUmask = undefined;
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPath, () => {
        server.removeListener('error', reject);
        resolve();
      });
      // The socket file is created synchronously inside listen(); the umask can go back now.
      if (previousUmask !== undefined) process.umask(previousUmask);
      previousUmask = undefined;
    });
  } finally {
    if (previousUmask !== undefined) process.umask(previousUmask);
  }
  await chmod(listenPath, SOCKET_MODE);
}
