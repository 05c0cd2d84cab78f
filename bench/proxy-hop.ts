/**
 * Cost of the proxy hop against real containerd: Version and ListContainers (50 containers)
 * straight to containerd's socket, through src/proxy, and through a plain byte pipe (the floor
 * any hop costs), in one run, same client code and options, calls interleaved (rotating which
 * target goes first), after a warm-up.
 *
 *   npx tsx bench/proxy-hop.ts [--iterations N] [--containers N] [--in-process]
 *
 * By default the proxy and the pipe run in a child process, as the shim runs beside kubelet;
 * --in-process runs them on the benchmark's own event loop instead.
 * Prints p50/p99 per method and target, the p50 ratio (hop / direct), the p99 overhead, and what
 * each hop adds to p50 in microseconds (the pipe's figure is the floor on this machine).
 * Targets from the issue: ratio <= 1.15, p99 overhead < 0.5 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { criType } from '../src/cri/proto.js';
import { silentLogger } from '../src/log/logger.js';
import { startProxy, type CallInterceptor } from '../src/proxy/index.js';
import { startContainerd } from '../testbed/containerd.js';
import { connectCri, containerConfig, podSandboxConfig } from '../testbed/cri.js';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const ITERATIONS = flag('--iterations', 3000);
const CONTAINERS = flag('--containers', 50);
const WARMUP = 300;
const IN_PROCESS = process.argv.includes('--in-process');

const identity = (b: Buffer): Buffer => b;

function call(client: grpc.Client, method: string, request: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    client.makeUnaryRequest(method, identity, identity, request, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err) => {
      if (err) reject(new Error(`${method}: ${err.message}`));
      else resolve(performance.now() - start);
    });
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The shim's real configuration intercepts CreateContainer; keep that set up here too. */
const passThroughInterceptor: CallInterceptor = {
  methods: new Set(['/runtime.v1.RuntimeService/CreateContainer']),
  intercept: async (c) => ({ action: 'forward', message: c.message }),
};

interface Hops {
  proxyPath: string;
  pipePath: string;
  stop(): Promise<void>;
}

/** The hop with no HTTP/2 awareness at all: each connection piped to the runtime byte for byte. */
async function startPipe(listenPath: string, runtimePath: string): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(runtimePath);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(listenPath, resolve));
  return server;
}

async function startHopsHere(dir: string, runtimeEndpoint: string, runtimePath: string): Promise<Hops> {
  const proxy = await startProxy({
    listenPath: path.join(dir, 'shim.sock'),
    runtimeEndpoint,
    interceptor: passThroughInterceptor,
    logger: silentLogger(),
  });
  const pipe = await startPipe(path.join(dir, 'pipe.sock'), runtimePath);
  return {
    proxyPath: proxy.listenPath,
    pipePath: path.join(dir, 'pipe.sock'),
    stop: async () => {
      await proxy.stop();
      await new Promise((resolve) => pipe.close(resolve));
    },
  };
}

async function startHopsInChild(dir: string, runtimeEndpoint: string): Promise<Hops> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', dir, runtimeEndpoint],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`proxy child exited with ${code}`)));
  });
  return {
    proxyPath: path.join(dir, 'shim.sock'),
    pipePath: path.join(dir, 'pipe.sock'),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Child mode: serve the proxy and the pipe until SIGTERM. */
async function serve(dir: string, runtimeEndpoint: string): Promise<void> {
  const hops = await startHopsHere(dir, runtimeEndpoint, runtimeEndpoint.replace(/^unix:\/\//, ''));
  process.once('SIGTERM', () => void hops.stop().then(() => process.exit(0)));
  process.stdout.write('ready\n');
}

async function main(): Promise<void> {
  const node = await startContainerd();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-proxy-hop-'));
  const cri = connectCri(node.socketPath);
  const clients: grpc.Client[] = [];
  let hops: Hops | undefined;
  try {
    const sandbox = podSandboxConfig({ name: 'bench' });
    const podId = await cri.runPodSandbox(sandbox);
    for (let i = 0; i < CONTAINERS; i += 1) {
      await cri.createContainer(podId, containerConfig({ name: `c${i}` }), sandbox);
    }
    const listed = (await cri.listContainers()).length;

    hops = IN_PROCESS
      ? await startHopsHere(scratch, node.endpoint, node.socketPath)
      : await startHopsInChild(scratch, node.endpoint);
    const client = (socketPath: string): grpc.Client => {
      const created = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure());
      clients.push(created);
      return created;
    };
    const targets: Array<[string, grpc.Client]> = [
      ['direct', client(node.socketPath)],
      ['pipe', client(hops.pipePath)],
      ['proxy', client(hops.proxyPath)],
    ];

    const methods: Array<[string, string, Buffer]> = [
      ['Version', '/runtime.v1.RuntimeService/Version', Buffer.from(criType('VersionRequest').encode({ version: 'v1' }).finish())],
      [`ListContainers (${listed})`, '/runtime.v1.RuntimeService/ListContainers', Buffer.alloc(0)],
    ];
    console.log(
      `containerd ${node.socketPath}; ${listed} containers; ${ITERATIONS} calls per method and target after ${WARMUP} warm-up; ` +
        `hops ${IN_PROCESS ? 'in the benchmark process' : 'in a child process'}; node ${process.version}; load ${os.loadavg()[0]!.toFixed(2)}\n`,
    );
    console.log('method               | hop   | direct p50 | hop p50  | ratio | direct p99 | hop p99  | p99 overhead');
    console.log('---------------------|-------|-----------:|---------:|------:|-----------:|---------:|-------------:');
    const summaries: string[] = [];
    for (const [name, method, request] of methods) {
      for (let i = 0; i < WARMUP; i += 1) {
        for (const [, target] of targets) await call(target, method, request);
      }
      const times = targets.map(() => [] as number[]);
      for (let i = 0; i < ITERATIONS; i += 1) {
        // Rotate who goes first so no target always runs right after another's GC or I/O.
        for (let k = 0; k < targets.length; k += 1) {
          const t = (i + k) % targets.length;
          times[t]!.push(await call(targets[t]![1], method, request));
        }
      }
      const d50 = percentile(times[0]!, 50);
      const d99 = percentile(times[0]!, 99);
      const hopCost = (t: number) => (percentile(times[t]!, 50) - d50) * 1000;
      for (let t = 1; t < targets.length; t += 1) {
        const h50 = percentile(times[t]!, 50);
        const h99 = percentile(times[t]!, 99);
        console.log(
          `${name.padEnd(20)} | ${targets[t]![0].padEnd(5)} | ${d50.toFixed(3).padStart(7)} ms | ${h50.toFixed(3).padStart(5)} ms | ${(h50 / d50)
            .toFixed(2)
            .padStart(5)} | ${d99.toFixed(3).padStart(7)} ms | ${h99.toFixed(3).padStart(5)} ms | ${(h99 - d99).toFixed(3).padStart(9)} ms`,
        );
      }
      summaries.push(`${name}: the pipe adds ${hopCost(1).toFixed(0)} us to p50, the proxy ${hopCost(2).toFixed(0)} us`);
    }
    console.log(`\n${summaries.join('\n')}`);
  } finally {
    for (const c of clients) c.close();
    cri.close();
    await hops?.stop();
    await node.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

const serveIndex = process.argv.indexOf('--serve');
(serveIndex > 0 ? serve(process.argv[serveIndex + 1]!, process.argv[serveIndex + 2]!) : main()).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
