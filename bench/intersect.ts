/**
 * What the baseline merge costs on a cold CreateContainer (a warm one is a cache lookup): the
 * largest real profiles, the containers/common default intersected with itself and with
 * containerd 1.6.20's captured default, against the conversion that every cold profile already
 * pays (parse + toRuntimeSpec + render), measured interleaved in the same run.
 * Run: npx tsx bench/intersect.ts [iterations]
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  CONTAINERD_DEFAULT_CAPABILITIES,
  intersectSeccomp,
  parseProfile,
  renderRuntimeSpecProfile,
  toRuntimeSpec,
} from '../src/seccomp/index.js';

const iterations = Number(process.argv[2] ?? 2000);
const bytes = (name: string) => readFileSync(new URL(`../config/baselines/${name}`, import.meta.url));
const common = bytes('containers-common-default.json');
const containerd = bytes('containerd-1.6.20-runtime-default.amd64.json');
const target = { arch: 'amd64', capabilities: CONTAINERD_DEFAULT_CAPABILITIES };
const nativeArch = 'SCMP_ARCH_X86_64' as const;

const commonSpec = toRuntimeSpec(parseProfile(common, 'common'), target);
const containerdSpec = toRuntimeSpec(parseProfile(containerd, 'containerd'), target);
const commonProfile = parseProfile(common, 'common');

const cases: Record<string, () => unknown> = {
  'conversion alone: parse + convert + render containers/common (baseline)': () =>
    renderRuntimeSpecProfile(toRuntimeSpec(parseProfile(common, 'common'), target)),
  'merge: containers/common ∩ containers/common (converted inputs)': () => intersectSeccomp(commonSpec, commonSpec, { nativeArch }),
  'merge: containerd default ∩ containers/common (converted inputs)': () => intersectSeccomp(containerdSpec, commonSpec, { nativeArch }),
  'what a cold merged profile adds: convert the parsed baseline + merge + render': () =>
    renderRuntimeSpecProfile(intersectSeccomp(toRuntimeSpec(commonProfile, target), commonSpec, { nativeArch }).profile),
};

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
for (let warm = 0; warm < 200; warm++) for (const run of Object.values(cases)) run();
for (let i = 0; i < iterations; i++) {
  for (const [name, run] of Object.entries(cases)) {
    const start = performance.now();
    run();
    samples[name]?.push(performance.now() - start);
  }
}

const baselineP50 = percentile(samples[Object.keys(cases)[0] ?? ''] ?? [], 50);
const merged = intersectSeccomp(commonSpec, commonSpec, { nativeArch });
process.stdout.write(
  `${iterations} iterations each, interleaved; containers/common converted: ${commonSpec.syscalls?.length} entries, ` +
    `merged with itself: ${merged.profile.syscalls?.length} entries, tightened ${merged.report.tightened.length}, forced ${merged.report.forcedDeny.length}\n`,
);
for (const [name, times] of Object.entries(samples)) {
  const p50 = percentile(times, 50);
  process.stdout.write(
    `${name}\n  p50 ${(p50 * 1000).toFixed(0)} µs, p99 ${(percentile(times, 99) * 1000).toFixed(0)} µs, ${(p50 / baselineP50).toFixed(2)}× the conversion's p50\n`,
  );
}
