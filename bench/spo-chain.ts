/**
 * What stacking costs on the CreateContainer path: a three-level SPO chain (child by tag, its
 * base by tag, that base's base by digest) against a single CRI-O JSON artifact of the same
 * size as baseline, measured in one run through the preparer the injector uses (pull, signature
 * policy, parse, union, convert, write), against a real registry behind a request-counting proxy.
 *
 *   npx tsx bench/spo-chain.ts [--runs N]
 *
 * Cold: a fresh client, state dir and preparer every run (empty store, no connections). Warm:
 * the same preparer again (memory caches). Prints medians, requests and chain/baseline ratios.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createArtifactClient, nodePlatform, type ArtifactClient } from '../src/artifact/index.js';
import { defaultSettings } from '../src/config/index.js';
import { createProfilePreparer } from '../src/injector/prepare-profile.js';
import { ProfileFiles } from '../src/injector/profile-files.js';
import { signatureCheckFor } from '../src/injector/signature-check.js';
import { silentLogger } from '../src/log/logger.js';
import type { ProfilePreparer } from '../src/injector/ports.js';
import { startCountingProxy, startRegistry } from '../testbed/registry.js';
import { publishSpocArtifact, spoProfileYaml } from '../test/support/spoc.js';
import { pushSeedShapedArtifact } from '../test/support/artifact/raw-registry.js';
import { stopAll } from '../testbed/stop-all.js';

const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 15;
const WARM_RUNS = 2000;
const HERE = { os: 'linux', architecture: nodePlatform().architecture };
/** Each level denies 100 made-up syscall names on top of its own: profiles of realistic size (a few KiB). */
const filler = (prefix: string) => Array.from({ length: 100 }, (_, i) => `${prefix}_${i}`);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const registry = await startRegistry();
  const proxy = await startCountingProxy(registry.host);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-spo-'));
  const clients: ArtifactClient[] = [];
  const signal = new AbortController().signal;
  let stateCount = 0;
  const preparer = (): ProfilePreparer => {
    const settings = defaultSettings();
    settings.stateDir = path.join(scratch, `state-${(stateCount += 1)}`);
    const artifacts = createArtifactClient({ stateDir: settings.stateDir, authFile: null, registries: { [proxy.host]: { insecure: true } } });
    clients.push(artifacts);
    return createProfilePreparer({
      artifacts,
      signatures: signatureCheckFor(settings, artifacts, silentLogger()),
      files: new ProfileFiles(settings.stateDir),
      node: { arch: HERE.architecture, kernelVersion: os.release() },
      cacheEntries: 100,
    });
  };
  try {
    const base = await publishSpocArtifact(registry.host, 'bench/base', 'v1', [{ yaml: spoProfileYaml('base', ['symlink', ...filler('base')]), platform: HERE }]);
    await publishSpocArtifact(registry.host, 'bench/middle', 'v1', [{ yaml: spoProfileYaml('middle', ['rmdir', ...filler('middle')], `oci://${proxy.host}/bench/base@${base.digest}`), platform: HERE }]);
    await publishSpocArtifact(registry.host, 'bench/child', 'v1', [{ yaml: spoProfileYaml('child', ['mkdir', ...filler('child')], `oci://${proxy.host}/bench/middle:v1`), platform: HERE }]);
    const single = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', ...filler('single')], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] });
    await pushSeedShapedArtifact(registry.host, 'bench/single', 'v1', Buffer.from(single));
    const cases = { 'single CRI-O JSON artifact (baseline)': `${proxy.host}/bench/single:v1`, 'three-level SPO chain': `${proxy.host}/bench/child:v1` };
    const target = { capabilities: ['CAP_CHOWN'] };
    const results: Record<string, { cold: number; coldRequests: number; warm: number; warmRequests: number }> = {};
    for (let run = 0; run < 2; run += 1) {
      // Interleaved: each case's runs alternate with the other's, so machine load hits both alike.
      const cold: Record<string, number[]> = {};
      const requests: Record<string, number> = {};
      for (let i = 0; i < RUNS; i += 1) {
        for (const [label, reference] of Object.entries(cases)) {
          const p = preparer();
          proxy.reset();
          const start = performance.now();
          await p.prepare(reference, target, signal);
          (cold[label] ??= []).push(performance.now() - start);
          requests[label] = proxy.requests.length;
        }
      }
      if (run === 0) continue; // the first round warms the JIT and the registry's own caches
      for (const [label, reference] of Object.entries(cases)) {
        const p = preparer();
        await p.prepare(reference, target, signal);
        proxy.reset();
        const start = performance.now();
        for (let i = 0; i < WARM_RUNS; i += 1) await p.prepare(reference, target, signal);
        results[label] = { cold: median(cold[label] ?? []), coldRequests: requests[label] ?? 0, warm: (performance.now() - start) / WARM_RUNS, warmRequests: proxy.requests.length };
      }
    }
    const baseline = results['single CRI-O JSON artifact (baseline)'];
    const chain = results['three-level SPO chain'];
    console.log(`${RUNS} cold runs per case (median), ${WARM_RUNS} warm runs (mean); 2-core machine shared with other work: compare ratios, not absolutes\n`);
    console.log('| case | cold | cold requests | warm | warm requests |');
    console.log('|---|---|---|---|---|');
    for (const [label, r] of Object.entries(results)) {
      console.log(`| ${label} | ${r.cold.toFixed(2)} ms | ${r.coldRequests} | ${(r.warm * 1000).toFixed(1)} µs | ${r.warmRequests} |`);
    }
    if (baseline && chain) console.log(`\nchain / baseline: cold ${(chain.cold / baseline.cold).toFixed(2)}x, warm ${(chain.warm / baseline.warm).toFixed(2)}x`);
  } finally {
    await stopAll(...clients, proxy, registry);
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
