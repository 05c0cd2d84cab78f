import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/artifact/index.js';
import { APPLIED_BASELINE_ANNOTATION, APPLIED_PROFILE_ANNOTATION } from '../../src/injector/create-container.js';
import { startContainerd, type ContainerdNode } from '../../testbed/containerd.js';
import { connectCri, containerConfig, podSandboxConfig, type CriClient, type SecurityProfile } from '../../testbed/cri.js';
import { ociArchitecture } from '../../testbed/images.js';
import { startRegistry, type TestRegistry } from '../../testbed/registry.js';
import { startShim, type TestShim } from '../../testbed/shim.js';
import { REAL_NODE, skipUnlessLinux } from '../support/requirements.js';
import { pushCrioShapedProfile } from '../../testbed/crio-artifact.js';
import { stopAll } from '../../testbed/stop-all.js';

// Needs Linux and root; elsewhere the suite is skipped with its reason (in CI, an error).
const skip = skipUnlessLinux('Baselines on real containerd (test/e2e/baseline.e2e.test.ts)', REAL_NODE);

const KEY = 'seccomp-profile.kubernetes.cri-o.io';

/** The node's baseline for handler runc: symlinks are denied, everything else allowed. */
const DENY_SYMLINK_BASELINE = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['symlink', 'symlinkat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};
const DENY_MKDIR_ARTIFACT = {
  defaultAction: 'SCMP_ACT_ALLOW',
  // As published profiles say it; without it only the native architecture would survive the merge.
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};
const ALLOW_ALL_ARTIFACT = { defaultAction: 'SCMP_ACT_ALLOW' };

/** containerd's RuntimeDefault as shipped in config/baselines/ for this machine's architecture. */
const CONTAINERD_BASELINE = new URL(`../../config/baselines/containerd-1.6.20-runtime-default.${ociArchitecture()}.json`, import.meta.url).pathname;

interface Seccomp {
  defaultAction: string;
  architectures?: string[];
  syscalls?: { names: string[]; action: string; errnoRet?: number; args?: unknown[] }[];
}

let registry: TestRegistry;
let node: ContainerdNode;
let shim: TestShim;
let cri: CriClient;
let baselineFile: string;
const refs: Record<string, string> = {};


async function create(pod: string, options: { ref: string; handler?: string; seccomp?: SecurityProfile }): Promise<string> {
  const sandbox = podSandboxConfig({ name: pod, annotations: { [`${KEY}/POD`]: options.ref } });
  const podId = await cri.runPodSandbox(sandbox, options.handler ?? '');
  const containerId = await cri.createContainer(podId, containerConfig({ name: 'app', image: node.image, seccomp: options.seccomp }), sandbox);
  await cri.startContainer(containerId);
  return containerId;
}



/** What the kernel lets the container do: each command's exit code, and the seccomp mode. */
async function kernelSays(containerId: string) {
  return {
    mkdir: (await cri.sh(containerId, 'mkdir /tmp/made')).code,
    symlink: (await cri.sh(containerId, 'ln -s /tmp /tmp/link')).code,
    touch: (await cri.sh(containerId, 'touch /tmp/touched')).code,
    seccompMode: (await cri.sh(containerId, 'grep ^Seccomp: /proc/self/status')).out.trim(),
  };
}

const ruleFor = (seccomp: Seccomp | null, name: string) => seccomp?.syscalls?.filter((s) => s.names.includes(name)) ?? [];

beforeAll(async () => {
  registry = await startRegistry();
  node = await startContainerd({
    extraConfig: `
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.defaulted]
      runtime_type = "io.containerd.runc.v2"
`,
  });
  baselineFile = path.join(node.dir, 'deny-symlink-baseline.json');
  writeFileSync(baselineFile, JSON.stringify(DENY_SYMLINK_BASELINE));
  shim = await startShim(node.endpoint, (settings) => {
    settings.registries[registry.host] = { insecure: true, mirrors: [] };
    settings.runtimes.runc = { allowedAnnotations: [KEY], baselineProfile: baselineFile };
    settings.runtimes.defaulted = { allowedAnnotations: [KEY], baselineProfile: CONTAINERD_BASELINE, applyToRuntimeDefault: true };
  });
  cri = connectCri(`unix://${shim.socketPath}`);
  const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
  refs.denyMkdir = `${registry.host}/profiles/deny-mkdir:v1`;
  refs.allowAll = `${registry.host}/profiles/allow-all:v1`;
  await pushCrioShapedProfile(client, refs.denyMkdir, DENY_MKDIR_ARTIFACT);
  await pushCrioShapedProfile(client, refs.allowAll, ALLOW_ALL_ARTIFACT);
  client.close();
}, 180_000);

afterAll(() => stopAll(cri, shim, node, registry), 120_000);

describe.skipIf(skip)('annotated profiles intersected with the node baseline, enforced by the kernel', () => {
  it('an Unconfined container gets the baseline and the artifact together: mkdir and symlink denied, touch allowed', async () => {
    const containerId = await create('pod-unconfined', { ref: refs.denyMkdir ?? '', seccomp: { profile_type: 'Unconfined' } });
    expect(await kernelSays(containerId)).toEqual({ mkdir: 1, symlink: 1, touch: 0, seccompMode: 'Seccomp:\t2' });
    const { seccomp, annotations } = await cri.appliedSeccomp<Seccomp>(containerId);
    expect(seccomp?.syscalls).toEqual([{ names: ['mkdir', 'mkdirat', 'symlink', 'symlinkat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
    expect(annotations[APPLIED_PROFILE_ANNOTATION]).toMatch(new RegExp(`^${refs.denyMkdir}@sha256:[0-9a-f]{64}$`));
    expect(annotations[APPLIED_BASELINE_ANNOTATION]).toMatch(new RegExp(`^${baselineFile}@sha256:[0-9a-f]{64}$`));
  });

  it('an artifact that allows everything cannot loosen the baseline', async () => {
    const containerId = await create('pod-allow-all', { ref: refs.allowAll ?? '', seccomp: { profile_type: 'Unconfined' } });
    expect(await kernelSays(containerId)).toEqual({ mkdir: 0, symlink: 1, touch: 0, seccompMode: 'Seccomp:\t2' });
  });

  it('logs one line per container saying what the baseline tightened', () => {
    const lines = shim.logs.filter((line) => String(line.msg).startsWith('Seccomp baseline '));
    const tightened = `Seccomp baseline ${baselineFile} tightened the artifact's profile: 2 syscalls restricted beyond the artifact's rules: symlink, symlinkat`;
    expect(lines.map((line) => line.msg)).toEqual([
      // The baseline lists no architecture: only the native one stays of the artifact's archMap.
      `${tightened}; architectures dropped: ${process.arch === 'arm64' ? 'SCMP_ARCH_ARM' : 'SCMP_ARCH_X86, SCMP_ARCH_X32'}`,
      tightened,
    ]);
    expect(lines[0]).toMatchObject({ name: '/runtime.v1.RuntimeService/CreateContainer', tightened: ['symlink', 'symlinkat'] });
  });

  it('RuntimeDefault with apply_to_runtime_default gets containerd\'s default intersected with the artifact', async () => {
    const containerId = await create('pod-defaulted', { ref: refs.denyMkdir ?? '', handler: 'defaulted', seccomp: { profile_type: 'RuntimeDefault' } });
    const { seccomp, annotations } = await cri.appliedSeccomp<Seccomp>(containerId);
    const containerdDefault = JSON.parse(readFileSync(CONTAINERD_BASELINE, 'utf8')) as Seccomp;
    expect(seccomp?.defaultAction).toBe(containerdDefault.defaultAction);
    expect(seccomp?.architectures).toEqual(containerdDefault.architectures);
    expect(ruleFor(seccomp, 'mkdir')).toEqual([{ names: expect.arrayContaining(['mkdir']) as unknown, action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
    expect(ruleFor(seccomp, 'read')).toEqual([expect.objectContaining({ action: 'SCMP_ACT_ALLOW' })]);
    // What containerd's default denies stays denied: unshare is not in its allow list.
    expect(ruleFor(seccomp, 'unshare')).toEqual([]);
    expect(annotations[APPLIED_BASELINE_ANNOTATION]).toMatch(new RegExp(`^${CONTAINERD_BASELINE}@sha256:`));
    expect(await kernelSays(containerId)).toEqual({ mkdir: 1, symlink: 0, touch: 0, seccompMode: 'Seccomp:\t2' });
  });

  it('RuntimeDefault without apply_to_runtime_default keeps containerd\'s default unchanged: the shipped baseline itself', async () => {
    const containerId = await create('pod-runtime-default', { ref: refs.denyMkdir ?? '', seccomp: { profile_type: 'RuntimeDefault' } });
    const { seccomp, annotations } = await cri.appliedSeccomp<Seccomp>(containerId);
    expect(seccomp).toEqual(JSON.parse(readFileSync(CONTAINERD_BASELINE, 'utf8')));
    expect(annotations[APPLIED_PROFILE_ANNOTATION]).toBeUndefined();
    expect(await kernelSays(containerId)).toEqual({ mkdir: 0, symlink: 0, touch: 0, seccompMode: 'Seccomp:\t2' });
  });
});
