/**
 * Cost of the proxy hop against real containerd: Version and ListContainers (50 containers)
 * straight to containerd's socket and through src/proxy, in one run, same client code and
 * options, calls interleaved (alternating which target goes first), after a warm-up.
 *
 *   npx tsx bench/proxy-hop.ts [--iterations N] [--containers N]
 *
 * Prints p50/p99 per method and target, the p50 ratio (proxy / direct) and the p99 overhead.
 * Targets from the issue: ratio <= 1.15, p99 overhead < 0.5 ms.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { criType } from '../src/cri/proto.js';
import { silentLogger } from '../src/log/logger.js';
import { startProxy, type CallInterceptor } from '../src/proxy/index.js';
import { startContainerd } from '../test/support/containerd.js';
import { connectCri, containerConfig, podSandboxConfig } from '../test/support/cri.js';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const ITERATIONS = flag('--iterations', 3000);
const CONTAINERS = flag('--containers', 50);
const WARMUP = 300;

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

async function main(): Promise<void> {
  const node = await startContainerd();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-proxy-hop-'));
  const cri = connectCri(node.socketPath);
  const clients: grpc.Client[] = [];
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
  try {
    const sandbox = podSandboxConfig({ name: 'bench' });
    const podId = await cri.runPodSandbox(sandbox);
    for (let i = 0; i < CONTAINERS; i += 1) {
      await cri.createContainer(podId, containerConfig({ name: `c${i}` }), sandbox);
    }
    const listed = (await cri.listContainers()).length;

    proxy = await startProxy({
      listenPath: path.join(scratch, 'shim.sock'),
      runtimeEndpoint: node.endpoint,
      interceptor: passThroughInterceptor,
      logger: silentLogger(),
    });
    const direct = new grpc.Client(`unix://${node.socketPath}`, grpc.credentials.createInsecure());
    const proxied = new grpc.Client(`unix://${proxy.listenPath}`, grpc.credentials.createInsecure());
    clients.push(direct, proxied);

    const methods: Array<[string, string, Buffer]> = [
      ['Version', '/runtime.v1.RuntimeService/Version', Buffer.from(criType('VersionRequest').encode({ version: 'v1' }).finish())],
      [`ListContainers (${listed})`, '/runtime.v1.RuntimeService/ListContainers', Buffer.alloc(0)],
    ];
    console.log(
      `containerd ${node.socketPath}; ${listed} containers; ${ITERATIONS} calls per method and target after ${WARMUP} warm-up; node ${process.version}\n`,
    );
    console.log('method                 | direct p50 | proxy p50 | ratio | direct p99 | proxy p99 | p99 overhead');
    console.log('-----------------------|-----------:|----------:|------:|-----------:|----------:|-------------:');
    for (const [name, method, request] of methods) {
      for (let i = 0; i < WARMUP; i += 1) {
        await call(direct, method, request);
        await call(proxied, method, request);
      }
      const times = { direct: [] as number[], proxied: [] as number[] };
      for (let i = 0; i < ITERATIONS; i += 1) {
        // Alternate who goes first so neither target always runs right after the other's GC or I/O.
        if (i % 2 === 0) {
          times.direct.push(await call(direct, method, request));
          times.proxied.push(await call(proxied, method, request));
        } else {
          times.proxied.push(await call(proxied, method, request));
          times.direct.push(await call(direct, method, request));
        }
      }
      const d50 = percentile(times.direct, 50);
      const p50 = percentile(times.proxied, 50);
      const d99 = percentile(times.direct, 99);
      const p99 = percentile(times.proxied, 99);
      console.log(
        `${name.padEnd(22)} | ${d50.toFixed(3).padStart(7)} ms | ${p50.toFixed(3).padStart(6)} ms | ${(p50 / d50).toFixed(2).padStart(5)} | ${d99
          .toFixed(3)
          .padStart(7)} ms | ${p99.toFixed(3).padStart(6)} ms | ${(p99 - d99).toFixed(3).padStart(9)} ms`,
      );
    }
  } finally {
    for (const client of clients) client.close();
    cri.close();
    await proxy?.stop();
    await node.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
