/**
 * What a test registry costs to start and stop, each way testbed/registry.ts can run it,
 * interleaved in one run: as a process (the baseline), in a container on the host network (CI
 * here, through the podman service the test run starts), in a container with a published port
 * (a laptop's way). Uses the test run's own global setup, so it starts and stops the same things.
 *
 *   npx tsx bench/test-registry.ts [--runs N]
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import setup from '../test/support/global-setup.js';
import { registryBackend } from '../testbed/registry-engine.js';
import { startRegistry, type RegistryOptions } from '../testbed/registry.js';

const MEASURING_ENV = 'SECCOMP_OCI_SHIM_BENCH_CHILD';
const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function measure(): Promise<void> {
  const backend = await registryBackend();
  const ways: [string, RegistryOptions][] = [['process', { runAs: 'process' }]];
  if (backend.kind === 'container') {
    ways.push([`container, ${backend.network} network`, {}]);
    if (backend.network === 'host') ways.push(['container, published port', { runAs: 'published-port' }]);
  }
  const times = new Map(ways.map(([name]) => [name, { start: [] as number[], stop: [] as number[] }]));
  for (let run = 0; run < RUNS; run += 1) {
    for (const [name, options] of ways) {
      const t0 = performance.now();
      const registry = await startRegistry(options);
      const t1 = performance.now();
      await registry.stop();
      const t2 = performance.now();
      times.get(name)!.start.push(t1 - t0);
      times.get(name)!.stop.push(t2 - t1);
    }
  }
  const base = times.get('process')!;
  const baseTotal = median(base.start) + median(base.stop);
  console.log(`${RUNS} runs each, interleaved; medians`);
  for (const [name, { start, stop }] of times) {
    const total = median(start) + median(stop);
    console.log(
      `${name.padEnd(28)} start ${median(start).toFixed(0).padStart(5)} ms  stop ${median(stop).toFixed(0).padStart(5)} ms  ` +
        `start+stop ${total.toFixed(0).padStart(5)} ms  (${(total / baseTotal).toFixed(1)}x the process, +${(total - baseTotal).toFixed(0)} ms)`,
    );
  }
}

/**
 * testcontainers keeps the engine configuration it read first, and the setup looked before it
 * started podman: the measuring runs in a child that inherits the setup's environment, as
 * vitest's workers do.
 */
async function main(): Promise<void> {
  const teardown = await setup();
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, [MEASURING_ENV]: '1' },
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) process.exitCode = 1;
  } finally {
    await teardown();
  }
}

await (process.env[MEASURING_ENV] ? measure() : main());
