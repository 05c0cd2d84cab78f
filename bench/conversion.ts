/**
 * A profile of the artifact size limit converted for one container, and an SPO SeccompProfile
 * (YAML) of that size read, each inline on the event loop and on a worker thread
 * (createProfileConverter), interleaved: wall time of the work and
 * the longest the event loop went without running a 5 ms timer meanwhile (what every other CRI
 * call through the shim waits at worst). The same figures for an idle loop are the baseline.
 *
 *   npx tsx bench/conversion.ts [--runs N] [--profile-kib 1024]
 *
 * From TypeScript sources the thread first registers tsx, which adds to its wall time (the
 * built shim runs conversion-worker.js directly); the stall is what this measures.
 */
import { performance } from 'node:perf_hooks';
import { createProfileConverter, DEFAULT_CONVERTER_OPTIONS, renderForContainer } from '../src/injector/profile-conversions.js';
import { parseProfile, parseSpoProfile } from '../src/seccomp/index.js';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}
const RUNS = flag('--runs', 5);
const BYTES = flag('--profile-kib', 1024) * 1024;
const TARGET = { arch: 'amd64', capabilities: ['CAP_CHOWN', 'CAP_KILL'], kernelVersion: '6.1.0' };

function profile(bytes: number): Buffer {
  const rules: string[] = [];
  let length = 50;
  for (let i = 0; length < bytes - 200; i += 1) {
    const rule = `{"names":["s${i}"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}],"includes":{"caps":["CAP_SYS_ADMIN"]}}`;
    rules.push(rule);
    length += rule.length + 1;
  }
  return Buffer.from(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[${rules.join(',')}]}`);
}

function spoProfile(bytes: number): Buffer {
  let yaml = 'apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n  name: bench\nspec:\n  defaultAction: SCMP_ACT_ALLOW\n  syscalls:\n';
  for (let i = 0; yaml.length < bytes - 200; i += 1) {
    yaml += `  - action: SCMP_ACT_ERRNO\n    names:\n    - s${i}\n    args:\n    - index: 1\n      value: 18446744073709551615\n      op: SCMP_CMP_EQ\n`;
  }
  return Buffer.from(yaml);
}

/** Runs `work` while a 5 ms timer measures how late the loop gets to it. */
async function withLag(work: () => Promise<unknown>): Promise<{ wall: number; maxLag: number }> {
  let maxLag = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - last - 5);
    last = now;
  }, 5);
  const started = performance.now();
  await work();
  const wall = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(timer);
  return { wall, maxLag };
}

const bytes = profile(BYTES);
const spoBytes = spoProfile(BYTES);
const onThread = createProfileConverter({ ...DEFAULT_CONVERTER_OPTIONS, workerFromBytes: 0 });
type Row = { wall: number; maxLag: number };
const rows = { idle: [] as number[], inline: [] as Row[], thread: [] as Row[], 'spo read inline': [] as Row[], 'spo read thread': [] as Row[] };
await onThread.convert({ bytes }, 'bench', TARGET); // the first thread start loads tsx
for (let run = 0; run < RUNS; run += 1) {
  rows.idle.push((await withLag(() => new Promise((resolve) => setTimeout(resolve, 300)))).maxLag);
  rows.inline.push(await withLag(async () => renderForContainer(parseProfile(bytes, 'bench'), 'bench', TARGET)));
  rows.thread.push(await withLag(() => onThread.convert({ bytes }, 'bench', TARGET)));
  rows['spo read inline'].push(await withLag(async () => parseSpoProfile(spoBytes, 'bench')));
  rows['spo read thread'].push(await withLag(() => onThread.readSpo(spoBytes, 'bench')));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(`JSON profile ${(bytes.length / 1024).toFixed(0)} KiB, SPO YAML ${(spoBytes.length / 1024).toFixed(0)} KiB, ${RUNS} runs interleaved (machine shared: noisy)`);
console.log(`idle loop            max lag median ${median(rows.idle).toFixed(1)} ms`);
for (const kind of ['inline', 'thread', 'spo read inline', 'spo read thread'] as const) {
  console.log(
    `${kind.padEnd(20)} wall median ${median(rows[kind].map((r) => r.wall)).toFixed(0).padStart(5)} ms   event-loop max lag median ${median(rows[kind].map((r) => r.maxLag)).toFixed(1).padStart(6)} ms, worst ${Math.max(...rows[kind].map((r) => r.maxLag)).toFixed(1)} ms`,
  );
}
