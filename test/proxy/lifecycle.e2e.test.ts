import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { startProxy, type RunningProxy } from '../../src/proxy/index.js';
import { FakeRuntime } from '../support/proxy/fake-runtime.js';
import { rawClient, unary } from '../support/proxy/raw-client.js';
import { WindowChecker } from '../support/proxy/window-checker.js';

const VERSION = '/runtime.v1.RuntimeService/Version';
const SLOW = '/runtime.v1.RuntimeService/ExecSync';
const HANG = '/runtime.v1.RuntimeService/Attach';

let dir: string;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'proxy-lifecycle-'));
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

function fakeRuntime(name: string): FakeRuntime {
  const fake = new FakeRuntime(path.join(dir, name))
    .onUnary(VERSION, () => ({ response: Buffer.from('v1') }))
    .onUnary(SLOW, () => new Promise((resolve) => setTimeout(() => resolve({ response: Buffer.from('slow done') }), 400)))
    .onUnary(HANG, () => new Promise(() => undefined));
  cleanups.push(() => fake.stop());
  return fake;
}

async function proxyTo(runtimeSocket: string, name: string, extra: { shutdownGraceMs?: number } = {}): Promise<RunningProxy> {
  const proxy = await startProxy({
    listenPath: path.join(dir, name, 'shim.sock'),
    runtimeEndpoint: `unix://${runtimeSocket}`,
    logger: silentLogger(),
    ...extra,
  });
  cleanups.push(() => proxy.stop());
  return proxy;
}

function clientOf(proxy: RunningProxy): grpc.Client {
  const client = rawClient(proxy.listenPath);
  cleanups.push(() => client.close());
  return client;
}

describe('runtime availability', () => {
  it('fails calls with UNAVAILABLE naming the endpoint while the runtime is down, then serves again', async () => {
    const runtimeSocket = path.join(dir, 'later.sock');
    const proxy = await proxyTo(runtimeSocket, 'later');
    const client = clientOf(proxy);

    // A deadline far away: the answer must come from the proxy, not from the deadline.
    const down = await unary(client, VERSION, Buffer.alloc(0), { deadlineMs: 20_000 });
    expect(down.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(down.status.details).toContain(`connection to runtime unix://${runtimeSocket} failed`);
    expect(down.status.details).toContain('ENOENT');

    const fake = fakeRuntime('later.sock');
    await fake.start();
    let outcome = down;
    for (let attempt = 0; attempt < 50 && outcome.status.code !== grpc.status.OK; attempt++) {
      outcome = await unary(client, VERSION, Buffer.alloc(0), { deadlineMs: 5000 });
      if (outcome.status.code !== grpc.status.OK) await new Promise((r) => setTimeout(r, 100));
    }
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(outcome.response?.toString()).toBe('v1');
  });

  it('ends calls in flight with UNAVAILABLE when the runtime dies, and recovers when it is back', async () => {
    const fake = fakeRuntime('dies-backend.sock');
    await fake.start();
    // The proxy talks to the runtime through a pipe whose sudden close is a crash as the proxy
    // sees it: no RST_STREAM, no GOAWAY, the socket just goes away.
    const runtimeSocket = path.join(dir, 'dies.sock');
    const crashable = new WindowChecker(runtimeSocket, fake.socketPath);
    await crashable.start();
    const proxy = await proxyTo(runtimeSocket, 'dies');
    const client = clientOf(proxy);
    expect((await unary(client, VERSION, Buffer.alloc(0))).status.code).toBe(grpc.status.OK);

    const hanging = unary(client, HANG, Buffer.alloc(0), { deadlineMs: 20_000 });
    await waitFor(() => fake.calls.some((c) => c.method === HANG));
    await crashable.stop();
    const outcome = await hanging;
    expect(outcome.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(outcome.status.details).toContain(`connection to runtime unix://${runtimeSocket} closed`);

    const back = new WindowChecker(runtimeSocket, fake.socketPath);
    await back.start();
    cleanups.push(() => back.stop());
    let status = grpc.status.UNAVAILABLE as grpc.status;
    for (let attempt = 0; attempt < 50 && status !== grpc.status.OK; attempt++) {
      status = (await unary(client, VERSION, Buffer.alloc(0), { deadlineMs: 5000 })).status.code;
      if (status !== grpc.status.OK) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(grpc.status.OK);
  });
});

describe('the listening socket', () => {
  it('is created 0660 in a directory created 0750', async () => {
    const proxy = await proxyTo(path.join(dir, 'none.sock'), 'modes/nested');
    expect((await stat(proxy.listenPath)).mode & 0o777).toBe(0o660);
    expect((await stat(path.dirname(proxy.listenPath))).mode & 0o777).toBe(0o750);
    expect((await stat(proxy.listenPath)).isSocket()).toBe(true);
  });

  it('replaces a stale socket left by a crashed process', async () => {
    const socketPath = path.join(dir, 'stale', 'shim.sock');
    await rm(path.dirname(socketPath), { recursive: true, force: true });
    await leaveStaleSocket(socketPath);
    expect(await canConnect(socketPath)).toBe(false);
    expect(existsSync(socketPath)).toBe(true);
    const fake = fakeRuntime('stale-runtime.sock');
    await fake.start();
    const proxy = await proxyTo(fake.socketPath, 'stale');
    const outcome = await unary(clientOf(proxy), VERSION, Buffer.alloc(0));
    expect(outcome.response?.toString()).toBe('v1');
  });

  it('refuses to start when a live process serves the socket', async () => {
    const socketPath = path.join(dir, 'live.sock');
    const owner = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => owner.listen(socketPath, resolve));
    cleanups.push(() => new Promise((resolve) => owner.close(resolve)));
    await expect(
      startProxy({ listenPath: socketPath, runtimeEndpoint: '/nonexistent.sock', logger: silentLogger() }),
    ).rejects.toThrow(`cannot listen on ${socketPath}: another process is serving it`);
    expect(await canConnect(socketPath)).toBe(true);
  });

  it('refuses to replace a file that is not a socket', async () => {
    const filePath = path.join(dir, 'regular-file');
    await writeFile(filePath, 'keep me');
    await expect(
      startProxy({ listenPath: filePath, runtimeEndpoint: '/nonexistent.sock', logger: silentLogger() }),
    ).rejects.toThrow('exists and is not a socket');
  });
});

describe('graceful stop', () => {
  it('lets an in-flight call finish, then removes the socket', async () => {
    const fake = fakeRuntime('graceful.sock');
    await fake.start();
    const proxy = await proxyTo(fake.socketPath, 'graceful', { shutdownGraceMs: 5000 });
    const client = clientOf(proxy);
    expect((await unary(client, VERSION, Buffer.alloc(0))).status.code).toBe(grpc.status.OK);

    const inFlight = unary(client, SLOW, Buffer.alloc(0));
    await waitFor(() => fake.calls.some((c) => c.method === SLOW));
    await proxy.stop();
    const outcome = await inFlight;
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(outcome.response?.toString()).toBe('slow done');
    expect(existsSync(proxy.listenPath)).toBe(false);
  });

  it('cuts calls that outlast the grace period and still resolves', async () => {
    const fake = fakeRuntime('grace-over.sock');
    await fake.start();
    const proxy = await proxyTo(fake.socketPath, 'grace-over', { shutdownGraceMs: 200 });
    const client = clientOf(proxy);
    const hanging = unary(client, HANG, Buffer.alloc(0), { deadlineMs: 20_000 });
    await waitFor(() => fake.calls.some((c) => c.method === HANG));
    await proxy.stop();
    expect((await hanging).status.code).toBe(grpc.status.UNAVAILABLE);
    expect(existsSync(proxy.listenPath)).toBe(false);
  });
});

describe('logs', () => {
  it('writes lifecycle lines at info/warn and per-call lines only at debug', async () => {
    const fake = fakeRuntime('logs.sock');
    await fake.start();
    const collect = async (level: string): Promise<Array<Record<string, unknown>>> => {
      const lines: string[] = [];
      const logger = createLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
      const proxy = await startProxy({
        listenPath: path.join(dir, `logs-${level}`, 'shim.sock'),
        runtimeEndpoint: fake.socketPath,
        logger,
      });
      const client = rawClient(proxy.listenPath);
      await unary(client, VERSION, Buffer.alloc(0));
      client.close();
      await proxy.stop();
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    };

    const info = await collect('info');
    expect(info.map((l) => l.msg)).toEqual(['proxy listening', 'proxy stopping', 'proxy stopped']);
    expect(info[0]).toMatchObject({ level: 30, runtimeEndpoint: fake.socketPath });

    const debug = await collect('debug');
    const call = debug.find((l) => l.msg === 'call');
    expect(call).toMatchObject({ level: 20, method: VERSION, grpcCode: 0 });
    expect(typeof call?.durationMs).toBe('number');
    expect(call?.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    const missing = path.join(dir, 'missing-runtime.sock');
    const proxy = await startProxy({ listenPath: path.join(dir, 'logs-down', 'shim.sock'), runtimeEndpoint: missing, logger });
    const client = rawClient(proxy.listenPath);
    await unary(client, VERSION, Buffer.alloc(0));
    client.close();
    await proxy.stop();
    const warn = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 40);
    expect(warn).toMatchObject({ runtimeEndpoint: missing });
    expect(String(warn?.msg)).toContain('runtime not reachable');
  });
});

/** A unix socket file with no listener: what a SIGKILLed server leaves behind. */
async function leaveStaleSocket(socketPath: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['-e', `require('fs').mkdirSync(require('path').dirname(process.argv[1]), { recursive: true });
require('net').createServer().listen(process.argv[1], () => console.log('up'))`, socketPath],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`socket owner exited early with ${code}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

function canConnect(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
