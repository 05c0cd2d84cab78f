import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/artifact/index.js';
import { APPLIED_PROFILE_ANNOTATION } from '../../src/injector/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { collectGarbage, containersInUse, ProfileUses, readInventory } from '../../src/store/index.js';
import { startContainerd, type ContainerdNode } from '../../testbed/containerd.js';
import { connectCri, containerConfig, CriCallError, podSandboxConfig, type CriClient } from '../../testbed/cri.js';
import { buildBusyboxImage, pushImage } from '../../testbed/images.js';
import { makeTempDir, removeDirSync } from '../../testbed/processes.js';
import { startRegistry, type TestRegistry } from '../../testbed/registry.js';
import { startShim, type TestShim } from '../../testbed/shim.js';
import { REAL_NODE, skipUnlessLinux } from '../support/requirements.js';
import { runCli, type CliRun } from '../support/cli.js';
import { pushCrioShapedProfile } from '../../testbed/crio-artifact.js';
import { stopAll } from '../../testbed/stop-all.js';
import { metricSample } from '../support/create-container-request.js';

// Needs Linux and root; elsewhere the suite is skipped with its reason (in CI, an error).
const skip = skipUnlessLinux('Metrics, gc and status on real containerd (test/e2e/operability.e2e.test.ts)', REAL_NODE);

const KEY = 'seccomp-profile.kubernetes.cri-o.io';
const DAY = 24 * 3_600_000;

let registry: TestRegistry;
let registryClient: RegistryClient;
let node: ContainerdNode;
let shim: TestShim;
let cri: CriClient;
let dir: string;

/** The CLI as an operator runs it on this node: the shim's socket, the runtime and the state directory by flag. */
function cli(args: string[]): Promise<CliRun> {
  const [command = '', ...rest] = args;
  return runCli(dir, [command, '--listen', shim.socketPath, '--runtime-endpoint', node.endpoint, '--state-dir', shim.settings.stateDir, ...rest], 60_000);
}
const refs: Record<string, string> = {};
const digests: Record<string, string> = {};
const containers: Record<string, { podId: string; containerId: string }> = {};

function denyProfile(syscall: string) {
  return { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [syscall], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
}


/** RunPodSandbox and CreateContainer through the shim, shaped as kubelet sends them (Unconfined asked for). */
async function create(pod: string, annotations: Record<string, string>): Promise<{ podId: string; containerId: string }> {
  const sandbox = podSandboxConfig({ name: pod, annotations });
  const podId = await cri.runPodSandbox(sandbox);
  const config = containerConfig({ name: 'app', image: node.image, seccomp: { profile_type: 'Unconfined' } as never });
  return { podId, containerId: await cri.createContainer(podId, config, sandbox) };
}

async function remove(created: { podId: string; containerId: string }): Promise<void> {
  await cri.removeContainer(created.containerId);
  await cri.stopPodSandbox(created.podId);
  await cri.removePodSandbox(created.podId);
}

function scrape(urlPath = '/metrics'): Promise<{ status: number; body: string }> {
  const [host, port] = (shim.metricsAddress ?? '').split(':');
  return new Promise((resolve, reject) => {
    http
      .get({ host, port: Number(port), path: urlPath, timeout: 10_000 }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}



beforeAll(async () => {
  dir = await makeTempDir('operability');
  writeFileSync(path.join(dir, 'empty.toml'), '');
  mkdirSync(path.join(dir, 'config.d'));
  registry = await startRegistry();
  node = await startContainerd({
    extraConfig: `
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."${registry.host}"]
  endpoint = ["${registry.url}"]
`,
  });
  shim = await startShim(node.endpoint, (settings) => {
    settings.registries[registry.host] = { insecure: true, mirrors: [] };
    settings.runtimes.runc = { allowedAnnotations: [KEY] };
    settings.metrics.listen = '127.0.0.1:0';
    // gc runs when the test says so.
    settings.gc.intervalMs = 0;
  });
  cri = connectCri(`unix://${shim.socketPath}`);
  registryClient = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
  for (const [name, syscall] of [['kept', 'mkdir'], ['dropped', 'rmdir'], ['old', 'chmod']] as const) {
    refs[name] = `${registry.host}/profiles/${name}:v1`;
    digests[name] = await pushCrioShapedProfile(registryClient, refs[name], denyProfile(syscall));
  }
}, 180_000);

afterAll(async () => {
  registryClient?.close();
  await stopAll(cri, shim, node, registry);
  if (dir) removeDirSync(dir);
}, 120_000);

describe.skipIf(skip)('metrics after real CreateContainers on containerd through the shim', () => {
  it('counts applied, rejected and unannotated containers, pulls by source, store size and calls', async () => {
    containers.kept = await create('kept', { [`${KEY}/POD`]: refs.kept ?? '' });
    containers.dropped = await create('dropped', { [`${KEY}/POD`]: refs.dropped ?? '' });
    const missing = create('missing', { [`${KEY}/POD`]: `${registry.host}/profiles/missing:v1` });
    await expect(missing).rejects.toThrow(CriCallError);
    await expect(missing).rejects.toThrow(/ErrImagePull: container "app" in pod "e2e\/missing"/);
    containers.plain = await create('plain', {});

    const before = await scrape();
    expect(before.status).toBe(200);
    const m = (series: string) => metricSample(before.body, `seccomp_oci_shim_${series}`);
    expect(m('create_container_total{outcome="applied"}')).toBe(2);
    expect(m('create_container_total{outcome="rejected",reason="ErrImagePull"}')).toBe(1);
    expect(m('create_container_total{outcome="no_annotation"}')).toBe(1);
    expect(m('create_container_total{outcome="not_considered"}')).toBeUndefined();
    expect(m('profile_pulls_total{result="success",source="registry"}')).toBe(2);
    expect(m('profile_pulls_total{result="error",source="registry"}')).toBe(1);
    expect(m('profile_pull_duration_seconds_count{cached="false"}')).toBe(2);
    expect(m('profile_pull_errors_total{reason="other"}')).toBe(1);
    expect(m('store_profiles')).toBe(2);
    expect(m('store_bytes')).toBeGreaterThan(0);
    expect(m('cache_entries')).toBe(2);
    expect(m('proxy_connections')).toBeGreaterThanOrEqual(1);

    // Exactly the calls made: three Versions more on the runtime class, nothing elsewhere.
    for (let i = 0; i < 3; i += 1) await cri.version();
    const after = await scrape();
    expect(metricSample(after.body, 'seccomp_oci_shim_proxy_calls_total{class="runtime"}')).toBe((m('proxy_calls_total{class="runtime"}') ?? NaN) + 3);
    expect(metricSample(after.body, 'seccomp_oci_shim_proxy_calls_total{class="image"}')).toBe(m('proxy_calls_total{class="image"}'));

    // The same profile again: served from memory, counted as cached.
    containers.again = await create('again', { [`${KEY}/POD`]: refs.kept ?? '' });
    const third = await scrape();
    expect(metricSample(third.body, 'seccomp_oci_shim_profile_pulls_total{result="success",source="memory"}')).toBe(1);
    expect(metricSample(third.body, 'seccomp_oci_shim_profile_pull_duration_seconds_count{cached="true"}')).toBe(1);
    expect(metricSample(third.body, 'seccomp_oci_shim_create_container_total{outcome="applied"}')).toBe(3);
    expect(await scrape('/readyz')).toEqual({ status: 200, body: 'ok\n' });
  });
});

describe.skipIf(skip)('store gc on a node with profiles in use and unused', () => {
  it('the runtime names each container\'s profile by annotation and by file', async () => {
    const inUse = await containersInUse(node.endpoint, path.join(shim.settings.stateDir, 'profiles'));
    const kept = inUse.containers.find((c) => c.id === containers.kept?.containerId);
    expect(kept?.applied).toEqual([{ reference: refs.kept, digest: digests.kept }]);
    expect(kept?.files).toHaveLength(1);
    expect(existsSync(kept?.files?.[0] ?? '')).toBe(true);
    expect(inUse.filesKnown).toBe(true);
  });

  it('removes the profile of a removed container after the grace period, keeps the one a container uses', async () => {
    const status = await cri.containerStatus(containers.dropped?.containerId ?? '');
    expect(status.status?.annotations[APPLIED_PROFILE_ANNOTATION]).toBe(`${refs.dropped}@${digests.dropped}`);
    await remove(containers.dropped ?? { podId: '', containerId: '' });
    const uses = new ProfileUses(shim.settings.stateDir);
    const dropped = await uses.read(refs.dropped ?? '', digests.dropped ?? '');
    const kept = await uses.read(refs.kept ?? '', digests.kept ?? '');
    expect(dropped?.files).toHaveLength(1);

    // Within the grace period nothing goes; two days later the unused one does.
    const policy = { graceMs: DAY, maxBytes: 256 * 1024 * 1024 };
    const gc = (now: Date) => collectGarbage({ stateDir: shim.settings.stateDir, runtimeEndpoint: node.endpoint, policy, dryRun: false, logger: silentLogger(), now: () => now });
    expect((await gc(new Date())).items).toEqual([]);
    const plan = await gc(new Date(Date.now() + 2 * DAY));
    expect(plan.uses.map((u) => u.use.reference)).toEqual([refs.dropped]);
    expect(existsSync(dropped?.files[0] ?? '')).toBe(false);
    expect(await uses.read(refs.dropped ?? '', digests.dropped ?? '')).toBeUndefined();
    const inventory = await readInventory(shim.settings.stateDir);
    expect(inventory.blobs.has(digests.dropped ?? '')).toBe(false);
    expect(inventory.blobs.has(digests.kept ?? '')).toBe(true);
    expect(existsSync(kept?.files[0] ?? '')).toBe(true);

    // The removed profile comes back from the registry when a pod names it again.
    containers.back = await create('back', { [`${KEY}/POD`]: refs.dropped ?? '' });
    expect(existsSync(dropped?.files[0] ?? '')).toBe(true);
    expect((await uses.read(refs.dropped ?? '', digests.dropped ?? ''))?.files).toEqual(dropped?.files);
  });

  it('removes the image annotation record of an image the runtime removed, keeps it while the image is there', async () => {
    // A container of an image pulled from a registry: CreateContainer reads and records its manifest annotations.
    const image = `${registry.host}/apps/busybox:v1`;
    // Its own config (entrypoint), so its own image id: removing it leaves the pause image alone.
    const pushed = await pushImage(registryClient, image, await buildBusyboxImage({ entrypoint: ['/bin/sleep', '3601'] }));
    await cri.call('image', 'PullImage', { image: { image } });
    const sandbox = podSandboxConfig({ name: 'from-registry' });
    const podId = await cri.runPodSandbox(sandbox);
    const config = containerConfig({ name: 'app', imageSpec: await cri.kubeletImageSpec(image), seccomp: { profile_type: 'Unconfined' } as never });
    const created = { podId, containerId: await cri.createContainer(podId, config, sandbox) };
    const record = path.join(shim.settings.stateDir, 'image-annotations', `${pushed.replace(':', '-')}.json`);
    expect(existsSync(record)).toBe(true);

    const policy = { graceMs: DAY, maxBytes: 256 * 1024 * 1024 };
    const gcAt = (now: Date) => collectGarbage({ stateDir: shim.settings.stateDir, runtimeEndpoint: node.endpoint, policy, dryRun: false, logger: silentLogger(), now: () => now });
    const later = new Date(Date.now() + 2 * DAY);
    expect((await gcAt(later)).imageRecords).toEqual([]);
    expect(existsSync(record)).toBe(true);

    await remove(created);
    await cri.call('image', 'RemoveImage', { image: { image } });
    // Written moments ago: kept for now; once the in-flight window has passed, it goes.
    expect((await gcAt(new Date())).imageRecords).toEqual([]);
    expect((await gcAt(later)).imageRecords.map((r) => r.digest)).toEqual([pushed]);
    expect(existsSync(record)).toBe(false);
  });

  it('`gc --dry-run` names what `gc` then removes', async () => {
    const created = await create('old', { [`${KEY}/POD`]: refs.old ?? '' });
    await remove(created);
    // Make it look last used three days ago, files included. The puller stores a manifest and its
    // layer (the config is never fetched), so the profile is one file and two blobs.
    const uses = new ProfileUses(shim.settings.stateDir);
    const old = await uses.read(refs.old ?? '', digests.old ?? '');
    const past = new Date(Date.now() - 3 * DAY);
    await uses.write({ ...(old ?? { reference: '', manifestDigest: '', files: [] }), lastUse: past });
    const inventory = await readInventory(shim.settings.stateDir);
    for (const item of [...inventory.profiles.values(), ...inventory.blobs.values()]) {
      if (old?.files.includes(item.file) || item.kind === 'blob') utimesSync(item.file, past, past);
    }

    const dry = await cli(['gc', '--dry-run']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would remove ${refs.old}@${digests.old} (last used ${past.toISOString()}, unused)`);
    expect(dry.stdout).toMatch(/would remove 1 profile records, 1 profile files, 2 blobs, 0 tag records, 0 image annotation records/);
    expect(existsSync(old?.files[0] ?? '')).toBe(true);

    const real = await cli(['gc']);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/removed 1 profile records, 1 profile files, 2 blobs/);
    expect(existsSync(old?.files[0] ?? '')).toBe(false);
    expect((await readInventory(shim.settings.stateDir)).blobs.has(digests.kept ?? '')).toBe(true);
  });
});

describe.skipIf(skip)('status', () => {
  it('--json: the shim and the runtime answer, each profile with its size, last use and containers', async () => {
    const run = await cli(['status', '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      shim: { answers: boolean };
      runtime: { answers: boolean; version: string };
      store: {
        profiles: { reference: string; manifestDigest: string; bytes: number; files: number; lastUse: string | null; containers: number | null }[];
        totals: { records: number; profileFiles: number; blobs: number; bytes: number };
        containers: { total: number; withProfile: number };
      };
    };
    expect(report.shim.answers).toBe(true);
    expect(report.runtime).toMatchObject({ answers: true, version: expect.stringMatching(/^containerd /) as unknown });
    const byRef = Object.fromEntries(report.store.profiles.map((p) => [p.reference, p]));
    expect(Object.keys(byRef).sort()).toEqual([refs.dropped, refs.kept].sort());
    expect(byRef[refs.kept ?? '']).toMatchObject({ manifestDigest: digests.kept, files: 1, containers: 2 });
    expect(byRef[refs.dropped ?? '']).toMatchObject({ manifestDigest: digests.dropped, files: 1, containers: 1 });
    expect(byRef[refs.kept ?? '']?.bytes).toBeGreaterThan(0);
    expect(Date.parse(byRef[refs.kept ?? '']?.lastUse ?? '')).toBeGreaterThan(Date.now() - 10 * 60_000);
    // The profile gc removed came back from the shim's memory cache, so only its file was written again.
    expect(report.store.totals).toMatchObject({ records: 2, profileFiles: 2, blobs: 2 });
    expect(report.store.containers).toEqual({ total: 4, withProfile: 3 });
  });

  it('reads as text, and says when the shim does not answer', async () => {
    const run = await cli(['status']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`shim:     ${shim.socketPath}: answers`);
    expect(run.stdout).toMatch(/runtime: {2}unix:\/\/.*: answers \(containerd /);
    expect(run.stdout).toMatch(/store: {4}.*: 2 profile files \(.*\), 2 blobs \(.*\), .* of 256\.0 MiB allowed/);
    const row = run.stdout.split('\n').find((line) => line.startsWith(refs.kept ?? '-'));
    expect(row).toMatch(new RegExp(`^${refs.kept}\\s+${digests.kept}\\s+\\d+(\\.\\d)? (B|KiB)\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+2$`));

    const down = await cli(['status', '--listen', path.join(dir, 'nobody.sock')]);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/shim: {5}.*nobody\.sock: does not answer/);
  });
});
