import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/artifact/index.js';
import { pushProfile } from '../../src/artifact/push.js';
import { startContainerd, type ContainerdNode } from '../../testbed/containerd.js';
import { connectCri, containerConfig, podSandboxConfig, type CriClient } from '../../testbed/cri.js';
import { startRegistry, type TestRegistry } from '../../testbed/registry.js';
import { startShimProcess, type ShimProcess } from '../../testbed/shim-process.js';
import { REAL_NODE, skipUnlessLinux } from '../support/requirements.js';
import { stopAll } from '../../testbed/stop-all.js';

// Needs Linux and root; elsewhere the suite is skipped with its reason (in CI, an error).
const skip = skipUnlessLinux('A burst of pods on real containerd (test/e2e/burst.e2e.test.ts)', REAL_NODE);

const KEY = 'seccomp-profile.kubernetes.cri-o.io/POD';
const PODS = 6;

/**
 * About 200 KiB: mkdir denied, then rules for syscall names no kernel has (runc skips them), so
 * the shim converts it on a worker thread (64 KiB and more) and the filter stays loadable.
 */
function bigProfile(): Buffer {
  const padding = Array.from({ length: 1800 }, (_, i) => ({ names: [`no_such_syscall_${i}`], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: i, op: 'SCMP_CMP_EQ' }] }));
  return Buffer.from(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }, ...padding] }));
}

/** About 100 KiB of SPO YAML: chmod denied, padded like bigProfile, so the shim reads it on a worker thread. */
function bigSpoProfile(): Buffer {
  const lines = [
    'apiVersion: security-profiles-operator.x-k8s.io/v1beta1',
    'kind: SeccompProfile',
    'metadata:',
    '  name: big-spo',
    'spec:',
    '  defaultAction: SCMP_ACT_ALLOW',
    '  syscalls:',
    '  - action: SCMP_ACT_ERRNO',
    '    errnoRet: 1',
    '    names: [chmod, fchmodat]',
  ];
  for (let i = 0; i < 1200; i += 1) lines.push('  - action: SCMP_ACT_ERRNO', `    names: [no_such_syscall_${i}]`, '    args:', `    - {index: 0, value: ${i}, op: SCMP_CMP_EQ}`);
  return Buffer.from(lines.join('\n') + '\n');
}

let registry: TestRegistry;
let node: ContainerdNode;
let shim: ShimProcess;
let cri: CriClient;
let reference: string;
let spoReference: string;

beforeAll(async () => {
  registry = await startRegistry();
  node = await startContainerd();
  shim = await startShimProcess(
    node.endpoint,
    `[shim.registries."${registry.host}"]\ninsecure = true\n\n[crio.runtime.runtimes.runc]\nallowed_annotations = ["seccomp-profile.kubernetes.cri-o.io"]\n`,
  );
  cri = connectCri(`unix://${shim.socketPath}`);
  reference = `${registry.host}/profiles/big:v1`;
  const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
  await pushProfile(client, { reference, profile: bigProfile() });
  spoReference = `${registry.host}/profiles/big-spo:v1`;
  await pushProfile(client, { reference: spoReference, profile: bigSpoProfile() });
  client.close();
}, 180_000);

afterAll(() => stopAll(cri, shim, node, registry), 120_000);

describe.skipIf(skip)('pods starting at once with one big profile, through the shim process on containerd', () => {
  it('creates every container with the profile, converted once on a thread, and the kernel enforces it', async () => {
    const started = await Promise.all(
      Array.from({ length: PODS }, async (_, i) => {
        const pod = podSandboxConfig({ name: `burst-${i}`, annotations: { [KEY]: reference } });
        const podId = await cri.runPodSandbox(pod);
        return cri.createContainer(podId, containerConfig({ name: 'app', seccomp: { profile_type: 'Unconfined' } }), pod);
      }),
    );
    const loaded = await Promise.all(
      started.map(async (id) => {
        const status = await cri.containerStatus(id, true);
        const info = JSON.parse(String((status.info as Record<string, string>).info)) as { runtimeSpec: { linux: { seccomp?: { syscalls?: { names: string[] }[] } } } };
        return info.runtimeSpec.linux.seccomp?.syscalls ?? [];
      }),
    );
    for (const syscalls of loaded) {
      expect(syscalls).toHaveLength(1801);
      expect(syscalls[0]?.names).toEqual(['mkdir', 'mkdirat']);
    }
    // One capability set, one digest: one file, written once.
    const profiles = path.join(path.dirname(shim.configFile), 'state', 'profiles');
    expect(readdirSync(profiles).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    expect(readdirSync(profiles).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    const conversions = shim.logLines().filter((line) => line.msg === 'Converted seccomp profile for this node');
    expect(conversions).toEqual([expect.objectContaining({ ref: reference, bytes: bigProfile().length, onThread: true })]);
    const pulls = shim.logLines().filter((line) => line.msg === 'Retrieved OCI artifact seccomp profile of len: ' + bigProfile().length);
    expect(pulls).toHaveLength(PODS);
    for (const line of shim.logLines()) expect(JSON.stringify(line).length).toBeLessThanOrEqual(16 * 1024);

    await cri.startContainer(started[0] as string);
    const mkdir = await cri.execSync(started[0] as string, ['/bin/sh', '-c', 'mkdir /tmp/denied'], 20);
    expect(mkdir.exit_code).not.toBe(0);
    expect(`${mkdir.stdout.toString()}${mkdir.stderr.toString()}`).toMatch(/Operation not permitted/);
  }, 180_000);

  it('reads a big SPO profile once, on a thread, for pods that start together, and the kernel enforces it', async () => {
    expect(bigSpoProfile().length).toBeGreaterThan(64 * 1024);
    const started = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const pod = podSandboxConfig({ name: `burst-spo-${i}`, annotations: { [KEY]: spoReference } });
        const podId = await cri.runPodSandbox(pod);
        return cri.createContainer(podId, containerConfig({ name: 'app', seccomp: { profile_type: 'Unconfined' } }), pod);
      }),
    );
    const reads = shim.logLines().filter((line) => line.msg === 'Read SPO seccomp profile');
    expect(reads).toEqual([expect.objectContaining({ ref: spoReference, bytes: bigSpoProfile().length, onThread: true })]);
    for (const id of started) {
      const status = await cri.containerStatus(id, true);
      const info = JSON.parse(String((status.info as Record<string, string>).info)) as { runtimeSpec: { linux: { seccomp?: { syscalls?: { names: string[] }[] } } } };
      expect(info.runtimeSpec.linux.seccomp?.syscalls?.[0]?.names).toEqual(['chmod', 'fchmodat']);
    }
    await cri.startContainer(started[0] as string);
    const chmod = await cri.execSync(started[0] as string, ['/bin/sh', '-c', 'chmod 600 /tmp'], 20);
    expect(chmod.exit_code).not.toBe(0);
    expect(`${chmod.stdout.toString()}${chmod.stderr.toString()}`).toMatch(/Operation not permitted/);
  }, 180_000);
});
