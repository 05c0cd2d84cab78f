/**
 * N pods starting at once through the shim on real containerd (a node reboot, a rollout), all
 * annotated with one profile of the artifact size limit (1 MiB by default), pushed fresh for
 * each N so that every round pulls and converts it anew. The shim is the built one (dist/),
 * in its own process, as installed. Per N it prints:
 *   wall time of the burst (RunPodSandbox + CreateContainer + StartContainer for every pod),
 *   the shim's CPU for the burst (utime + stime from /proc), its memory high-water mark over
 *   its idle RSS (VmHWM, reset before each burst), the registry requests the burst caused
 *   (counted by a forwarding proxy in front of the registry), and Version latency through the
 *   shim on another connection, idle and during the burst, beside Version straight to
 *   containerd at the same moments (the node's own slowdown under the burst).
 *
 *   npm run build && npx tsx bench/load.ts [--pods 1,10,30,110] [--profile-kib 1024]
 *
 * Targets from issue 15 (N = 30, 1 MiB): memory high-water within 150 MB of idle, shim CPU for
 * the burst under 3 s, Version p99 during the burst within 50 ms of idle.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { RegistryClient } from '../src/artifact/index.js';
import { pushProfile } from '../src/artifact/push.js';
import { startContainerd } from '../testbed/containerd.js';
import { connectCri, containerConfig, podSandboxConfig, type CriClient } from '../testbed/cri.js';
import { makeTempDir, removeDirSync, startProcess, waitForUnixSocket } from '../testbed/processes.js';
import { startRegistry } from '../testbed/registry.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const KEY = 'seccomp-profile.kubernetes.cri-o.io/POD';

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index > 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}
const POD_COUNTS = flag('--pods', '1,10,30,110').split(',').map(Number);
const PROFILE_BYTES = Number(flag('--profile-kib', '1024')) * 1024;

/**
 * A valid profile just under `bytes`: rules for syscall names the kernel does not have (runc
 * skips those, so the filter stays small enough to load), with arguments and capability
 * conditions, so parsing, validation and conversion all do their full work.
 */
function profileOf(bytes: number, round: string): Buffer {
  const head = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[';
  const rules: string[] = [];
  let length = head.length + 2;
  for (let i = 0; ; i += 1) {
    const rule = `{"names":["bench_${round}_${i}"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":${i},"op":"SCMP_CMP_EQ"}],"includes":{"caps":["CAP_SYS_ADMIN"]}}`;
    if (length + rule.length + 1 > bytes) break;
    rules.push(rule);
    length += rule.length + 1;
  }
  return Buffer.from(`${head}${rules.join(',')}]}`);
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** utime + stime of a process, in milliseconds (clock ticks are 100 Hz on Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1]);
}

/** A forwarding HTTP proxy in front of the registry that counts what passes. */
async function countingProxy(target: string): Promise<{ host: string; count: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests += 1;
    const upstream = http.request({ host: '127.0.0.1', port: Number(target.split(':')[1]), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.once('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Version every 20 ms until stopped: how the target answers others meanwhile (a failed call counts as its time). */
function versionProbe(cri: CriClient): { stop: () => Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await cri.version().catch(() => undefined);
      samples.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** Starts the pods at once; resolves with the sandboxes created and the first failures' messages. */
async function burst(cri: CriClient, pods: number, reference: string | undefined, round: string): Promise<{ podIds: string[]; failures: string[] }> {
  const podIds: string[] = [];
  const results = await Promise.allSettled(
    Array.from({ length: pods }, async (_, i) => {
      const pod = podSandboxConfig({ name: `load-${round}-${i}`, annotations: reference === undefined ? {} : { [KEY]: reference } });
      const podId = await cri.runPodSandbox(pod);
      podIds.push(podId);
      const id = await cri.createContainer(podId, containerConfig({ name: 'app', seccomp: { profile_type: 'Unconfined' } }), pod);
      await cri.startContainer(id);
    }),
  );
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
  return { podIds, failures };
}

async function removePods(cri: CriClient, podIds: string[]): Promise<void> {
  for (const podId of podIds) {
    await cri.stopPodSandbox(podId).catch(() => undefined);
    await cri.removePodSandbox(podId).catch(() => undefined);
  }
}

const registry = await startRegistry();
const proxy = await countingProxy(registry.host);
const node = await startContainerd();
const dir = await makeTempDir('bench-load');
const config = path.join(dir, 'config.toml');
writeFileSync(
  config,
  `[shim.registries."${proxy.host}"]\ninsecure = true\n\n[crio.runtime.runtimes.runc]\nallowed_annotations = ["seccomp-profile.kubernetes.cri-o.io"]\n`,
);
await mkdir(path.join(dir, 'config.d'));
const socket = path.join(dir, 'shim.sock');
const shim = startProcess({
  name: 'shim',
  command: process.execPath,
  args: [
    ...[CLI, 'serve', '--config', config, '--config-dir', path.join(dir, 'config.d'), '--log-level', 'warn'],
    ...['--listen', socket, '--runtime-endpoint', node.endpoint, '--state-dir', path.join(dir, 'state')],
  ],
  logDir: dir,
});
const pusher = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
try {
  await waitForUnixSocket(socket, { timeoutMs: 30_000, process: shim });
  const cri = connectCri(`unix://${socket}`);
  const probeClient = connectCri(`unix://${socket}`);
  const directClient = connectCri(node.endpoint);
  // One unannotated pod first: loads what the first calls need, so rounds compare alike.
  await removePods(cri, (await burst(cri, 1, undefined, 'warm')).podIds);
  console.log(`profile: ${(PROFILE_BYTES / 1024).toFixed(0)} KiB per round (fresh each round); shim pid ${shim.pid}; machine shared, figures noisy`);
  console.log('pods   wall ms   shim CPU ms   RSS idle MB   high-water over idle MB   registry requests   Version p50/p99 idle → burst ms: shim | direct');
  for (const pods of POD_COUNTS) {
    const round = `n${pods}-${Date.now()}`;
    const reference = `${proxy.host}/bench/load:${round}`;
    const profile = profileOf(PROFILE_BYTES, round.replace(/-/g, '_'));
    // Pushed to the registry itself (its upload URLs name its own origin), pulled through the counter.
    await pushProfile(pusher, { reference: `${registry.host}/bench/load:${round}`, profile });

    const idleProbe = versionProbe(probeClient);
    const idleDirectProbe = versionProbe(directClient);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleVersion = await idleProbe.stop();
    const idleDirect = await idleDirectProbe.stop();

    writeFileSync(`/proc/${shim.pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
    const idleKb = statusKb(shim.pid, 'VmRSS');
    const cpuBefore = cpuMs(shim.pid);
    const requestsBefore = proxy.count();
    const busyProbe = versionProbe(probeClient);
    const busyDirectProbe = versionProbe(directClient);
    const started = performance.now();
    const { podIds, failures } = await burst(cri, pods, reference, round);
    const wall = performance.now() - started;
    const busyVersion = await busyProbe.stop();
    const busyDirect = await busyDirectProbe.stop();
    const cpu = cpuMs(shim.pid) - cpuBefore;
    const highWaterKb = statusKb(shim.pid, 'VmHWM');
    const requests = proxy.count() - requestsBefore;
    await removePods(cri, podIds);
    const version = (samples: number[]) => `${percentile(samples, 50).toFixed(1)}/${percentile(samples, 99).toFixed(1)}`;
    console.log(
      `${String(pods).padStart(4)}   ${wall.toFixed(0).padStart(7)}   ${String(cpu).padStart(11)}   ${(idleKb / 1024).toFixed(0).padStart(11)}   ${((highWaterKb - idleKb) / 1024).toFixed(0).padStart(23)}   ${String(requests).padStart(17)}   ${version(idleVersion)} → ${version(busyVersion)} | ${version(idleDirect)} → ${version(busyDirect)}`,
    );
    if (failures.length > 0) console.log(`      ${failures.length} of ${pods} pods failed; first: ${failures[0]}`);
  }
  cri.close();
  probeClient.close();
  directClient.close();
} finally {
  pusher.close();
  await shim.stop();
  await node.stop();
  await proxy.close();
  await registry.stop();
  removeDirSync(dir);
}
