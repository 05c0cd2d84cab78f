/**
 * Pull cost of src/artifact against skopeo on the same artifact, in one run, against a real
 * registry (distribution 2.8) behind a request-counting proxy on 127.0.0.1.
 *
 *   npx tsx bench/pull.ts [--runs N]
 *
 * Prints: requests and wall time of a cold pull (fresh client, empty store) and of
 * `skopeo copy docker://... dir:...`; a warm pull from memory; a digest-pinned pull from the
 * store in a fresh client; and the requests 200 concurrent pulls of one uncached reference cause.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createArtifactClient, type ArtifactClient } from '../src/artifact/index.js';
import { runCommand } from '../testbed/processes.js';
import { startCountingProxy, startRegistry } from '../testbed/registry.js';
import { stopAll } from '../testbed/stop-all.js';

const PROFILE = fileURLToPath(new URL('../testbed/fixtures/containers-common-default.json', import.meta.url));
const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 15;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}

async function main(): Promise<void> {
  const registry = await startRegistry();
  const proxy = await startCountingProxy(registry.host);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-pull-'));
  const clients: ArtifactClient[] = [];
  let stateCount = 0;
  const client = (stateDir?: string): ArtifactClient => {
    const created = createArtifactClient({
      stateDir: stateDir ?? path.join(scratch, `state-${(stateCount += 1)}`),
      authFile: null,
      registries: { [proxy.host]: { insecure: true } },
    });
    clients.push(created);
    return created;
  };
  try {
    const profile = await readFile(PROFILE);
    const ref = `${proxy.host}/bench/seccomp:v1`;
    const pushed = await client().push({ reference: ref, profile: { file: PROFILE } });
    console.log(`artifact: ${ref} (${pushed.digest}), profile ${profile.length} bytes, ${RUNS} runs each\n`);

    // Cold: a fresh client and an empty store every time (connections are not reused across runs).
    const coldTimes: number[] = [];
    let coldRequests: string[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const c = client();
      proxy.reset();
      const start = performance.now();
      const pulled = await c.pullProfile(ref);
      coldTimes.push(performance.now() - start);
      if (!pulled.bytes.equals(profile)) throw new Error('cold pull returned other bytes');
      coldRequests = [...proxy.requests];
      c.close();
    }

    const skopeoTimes: number[] = [];
    let skopeoRequests: string[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const target = path.join(scratch, `skopeo-${i}`);
      proxy.reset();
      const start = performance.now();
      await runCommand('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `dir:${target}`]);
      skopeoTimes.push(performance.now() - start);
      skopeoRequests = [...proxy.requests];
    }

    // Warm: the same client again, from the memory cache.
    const warm = client();
    await warm.pullProfile(ref);
    proxy.reset();
    const warmRuns = 10_000;
    const warmStart = performance.now();
    for (let i = 0; i < warmRuns; i += 1) await warm.pullProfile(ref);
    const warmPerPull = (performance.now() - warmStart) / warmRuns;
    const warmRequests = proxy.requests.length;

    // Store: a fresh client (a restart) on a filled store, digest-pinned reference.
    const storeDir = path.join(scratch, 'store-shared');
    await client(storeDir).pullProfile(`${ref.replace(/:v1$/, '')}@${pushed.digest}`);
    const storeTimes: number[] = [];
    proxy.reset();
    for (let i = 0; i < RUNS; i += 1) {
      const c = client(storeDir);
      const start = performance.now();
      const pulled = await c.pullProfile(`${ref.replace(/:v1$/, '')}@${pushed.digest}`);
      storeTimes.push(performance.now() - start);
      if (pulled.fromCache !== 'store') throw new Error(`expected a store hit, got ${pulled.fromCache}`);
    }
    const storeRequests = proxy.requests.length;

    // 200 concurrent pulls of one reference nobody has pulled yet.
    await client().push({ reference: `${proxy.host}/bench/seccomp:concurrent`, profile });
    const concurrent = client();
    proxy.reset();
    const start = performance.now();
    await Promise.all(Array.from({ length: 200 }, () => concurrent.pullProfile(`${proxy.host}/bench/seccomp:concurrent`)));
    const concurrentTime = performance.now() - start;
    const concurrentRequests = [...proxy.requests];

    console.log('| what | requests | wall time (median) |');
    console.log('|---|---|---|');
    console.log(`| cold pull, src/artifact (in process) | ${coldRequests.length} | ${ms(median(coldTimes))} |`);
    console.log(`| skopeo copy docker:// dir: (process) | ${skopeoRequests.length} | ${ms(median(skopeoTimes))} |`);
    console.log(`| warm pull (memory cache) | ${warmRequests} | ${(warmPerPull * 1000).toFixed(2)} µs per pull (${warmRuns} pulls) |`);
    console.log(`| digest-pinned pull, fresh client, from store | ${storeRequests} | ${ms(median(storeTimes))} |`);
    console.log(`| 200 concurrent pulls of one uncached tag | ${concurrentRequests.length} | ${ms(concurrentTime)} for all |`);
    console.log('\nrequests, cold pull:   ', coldRequests.join(', '));
    console.log('requests, skopeo copy: ', skopeoRequests.join(', '));
    console.log('requests, 200 at once: ', concurrentRequests.join(', '));
  } finally {
    await stopAll(...clients, proxy, registry);
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
