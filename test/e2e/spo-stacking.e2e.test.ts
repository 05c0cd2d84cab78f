import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArtifactClient, nodePlatform, RegistryClient } from '../../src/artifact/index.js';
import { APPLIED_PROFILE_ANNOTATION, pullVerified } from '../../src/injector/index.js';
import { createChainResolver } from '../../src/injector/profile-chain.js';
import { registrySignatureSource, signArtifact } from '../../src/signature/index.js';
import { startContainerd, type ContainerdNode } from '../../testbed/containerd.js';
import { connectCri, containerConfig, CriCallError, podSandboxConfig, type CriClient } from '../../testbed/cri.js';
import { startCountingProxy, startRegistry, type CountingProxy, type TestRegistry } from '../../testbed/registry.js';
import { startShim, type TestShim } from '../../testbed/shim.js';
import { publishSpocArtifact, spoProfileYaml } from '../support/spoc.js';
import { REAL_NODE, skipUnlessLinux } from '../support/requirements.js';
import { stopAll } from '../../testbed/stop-all.js';

// Needs Linux and root; elsewhere the suite is skipped with its reason (in CI, an error).
const skip = skipUnlessLinux('SPO artifacts on real containerd (test/e2e/spo-stacking.e2e.test.ts)', REAL_NODE);

const KEY = 'seccomp-profile.kubernetes.cri-o.io';
const NATIVE = nodePlatform();
const HERE = { os: 'linux', architecture: NATIVE.architecture };
const ELSEWHERE = { os: 'linux', architecture: NATIVE.architecture === 'amd64' ? 'arm64' : 'amd64' };

let registry: TestRegistry;
/** The registry as the shim sees it: every request it makes is counted. */
let counted: CountingProxy;
let node: ContainerdNode;
let shim: TestShim;
let cri: CriClient;
/** References as the shim reads them (through the counting proxy); content is written to the registry itself. */
let host: string;
const refs: Record<string, string> = {};
const digests: Record<string, string> = {};

async function publish(name: string, repository: string, tag: string, denied: string[], base?: string): Promise<string> {
  const { digest } = await publishSpocArtifact(registry.host, repository, tag, [{ yaml: spoProfileYaml(name, denied, base), platform: HERE }]);
  refs[name] = `${host}/${repository}:${tag}`;
  digests[name] = digest;
  return digest;
}

async function create(pod: string, reference: string): Promise<string> {
  const sandbox = podSandboxConfig({ name: pod, annotations: { [`${KEY}/POD`]: reference } });
  const podId = await cri.runPodSandbox(sandbox);
  return cri.createContainer(podId, containerConfig({ name: 'app' }), sandbox);
}

async function createFails(pod: string, reference: string): Promise<string> {
  const error = await create(pod, reference).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CriCallError);
  return (error as CriCallError).details;
}

async function applied(containerId: string): Promise<{ syscalls: { names: string[]; action: string }[]; annotation: string | undefined }> {
  const { seccomp, annotations } = await cri.appliedSeccomp(containerId);
  return { syscalls: seccomp?.syscalls ?? [], annotation: annotations[APPLIED_PROFILE_ANNOTATION] };
}

async function exec(containerId: string, script: string): Promise<string> {
  return (await cri.sh(containerId, `${script} 2>&1; echo "exit=$?"`)).out;
}

beforeAll(async () => {
  registry = await startRegistry();
  counted = await startCountingProxy(registry.host);
  host = counted.host;
  node = await startContainerd();
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyFile = path.join(registry.dir, 'signer.pub');
  writeFileSync(publicKeyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
  shim = await startShim(node.endpoint, (settings) => {
    settings.registries[host] = { insecure: true, mirrors: [] };
    settings.runtimes.runc = { allowedAnnotations: [KEY] };
    settings.signature.rules = [{ prefix: `${host}/signed-only`, mode: 'required', keys: [publicKeyFile] }];
  });
  cri = connectCri(`unix://${shim.socketPath}`);

  await publish('single', 'spo/single', 'v1', ['mkdir', 'mkdirat']);
  // Three levels: the base by digest under the middle, the middle by tag under the child.
  const baseDigest = await publish('base', 'spo/base', 'v1', ['symlink', 'symlinkat']);
  await publish('middle', 'spo/middle', 'v1', ['rmdir'], `oci://${host}/spo/base@${baseDigest}`);
  await publish('child', 'spo/child', 'v1', ['mkdir', 'mkdirat'], `oci://${host}/spo/middle:v1`);

  const both = await publishSpocArtifact(registry.host, 'spo/two-platforms', 'v1', [
    { yaml: spoProfileYaml('elsewhere', ['mkdir', 'mkdirat']), platform: ELSEWHERE },
    { yaml: spoProfileYaml('here', ['rmdir']), platform: HERE },
  ]);
  refs.twoPlatforms = `${host}/spo/two-platforms:v1`;
  digests.twoPlatforms = both.digest;

  await publish('cycle-a', 'spo/cycle-a', 'v1', ['mkdir'], `oci://${host}/spo/cycle-b:v1`);
  await publish('cycle-b', 'spo/cycle-b', 'v1', ['rmdir'], `oci://${host}/spo/cycle-a:v1`);
  for (let level = 15; level >= 0; level -= 1) {
    await publish(`deep${level}`, 'spo/deep', `l${level}`, [`mkdir`], level < 15 ? `oci://${host}/spo/deep:l${level + 1}` : undefined);
  }

  const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
  try {
    await publish('unsigned-base', 'signed-only/base', 'unsigned', ['rmdir']);
    await publish('on-unsigned', 'spo/on-unsigned', 'v1', ['mkdir'], `oci://${refs['unsigned-base']}`);
    const signedDigest = await publish('signed-base', 'signed-only/base', 'signed', ['rmdir', 'chmod']);
    await signArtifact({
      client: registrySignatureSource(client),
      registry: registry.host,
      repository: 'signed-only/base',
      digest: signedDigest,
      privateKeyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    });
    await publish('on-signed', 'spo/on-signed', 'v1', ['mkdir'], `oci://${refs['signed-base']}`);
  } finally {
    client.close();
  }
}, 180_000);

afterAll(() => stopAll(cri, shim, node, counted, registry), 120_000);

describe.skipIf(skip)("SPO artifacts in spoc's byte layout, through a pod annotation on containerd", () => {
  it('a SeccompProfile bound to this platform is applied and enforced', async () => {
    const containerId = await create('spo-single', refs.single ?? '');
    const { syscalls, annotation } = await applied(containerId);
    expect(syscalls).toEqual([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
    expect(annotation).toBe(`${refs.single}@${digests.single}`);
    await cri.startContainer(containerId);
    expect(await exec(containerId, 'mkdir /tmp/denied')).toMatch(/Operation not permitted[\s\S]*exit=1/);
    expect(await exec(containerId, 'touch /tmp/allowed')).toBe('exit=0\n');
  });

  it(`of a two-platform artifact, the ${HERE.os}/${HERE.architecture} layer is the one applied`, async () => {
    const containerId = await create('spo-two-platforms', refs.twoPlatforms ?? '');
    expect((await applied(containerId)).syscalls.flatMap((s) => s.names)).toEqual(['rmdir']);
    await cri.startContainer(containerId);
    expect(await exec(containerId, 'rmdir /tmp/missing')).toMatch(/Operation not permitted/);
    expect(await exec(containerId, 'mkdir /tmp/made')).toBe('exit=0\n');
  });
});

describe.skipIf(skip)('stacked profiles: baseProfileName oci://, resolved on the node', () => {
  it('a three-level chain (tag, then digest) gives the union; the kernel denies each level\'s syscall and allows the rest', async () => {
    const containerId = await create('spo-chain', refs.child ?? '');
    const { syscalls, annotation } = await applied(containerId);
    expect(syscalls.flatMap((s) => s.names)).toEqual(['mkdir', 'mkdirat', 'rmdir', 'symlink', 'symlinkat']);
    expect(annotation).toBe(
      [`${refs.child}@${digests.child}`, `${refs.middle}@${digests.middle}`, `${host}/spo/base@${digests.base}@${digests.base}`].join(','),
    );
    await cri.startContainer(containerId);
    expect(await exec(containerId, 'mkdir /tmp/x')).toMatch(/Operation not permitted/);
    expect(await exec(containerId, 'rmdir /tmp/missing')).toMatch(/Operation not permitted/);
    expect(await exec(containerId, 'ln -s /tmp /tmp/link')).toMatch(/Operation not permitted/);
    expect(await exec(containerId, 'touch /tmp/f && ln /tmp/f /tmp/hard && cat /tmp/hard && grep "^Seccomp:" /proc/self/status')).toBe('Seccomp:\t2\nexit=0\n');
  });

  it('the warm chain makes no registry request at all', async () => {
    counted.reset();
    const containerId = await create('spo-chain-warm', refs.child ?? '');
    expect((await applied(containerId)).annotation?.split(',')).toHaveLength(3);
    expect(counted.requests).toEqual([]);
  });

  it('a digest-pinned chain needs no network after its first pull: a fresh client on the same store (a restart) reads it all from disk', async () => {
    const middleDigest = await publish('pinned-middle', 'spo/pinned-middle', 'v1', ['rmdir'], `oci://${host}/spo/base@${digests.base}`);
    const childDigest = await publish('pinned-child', 'spo/pinned-child', 'v1', ['mkdir'], `oci://${host}/spo/pinned-middle@${middleDigest}`);
    const reference = `${host}/spo/pinned-child@${childDigest}`;
    const stateDir = path.join(registry.dir, 'restart-state');
    const resolveWith = async () => {
      const artifacts = createArtifactClient({ stateDir, authFile: null, registries: { [host]: { insecure: true } } });
      const noPolicy = { verifyArtifact: async () => ({ verified: false }) };
      try {
        return await createChainResolver((ref, signal) => pullVerified(artifacts, noPolicy, ref, signal), 10)(reference);
      } finally {
        artifacts.close();
      }
    };
    const first = await resolveWith();
    counted.reset();
    const again = await resolveWith();
    expect(counted.requests).toEqual([]);
    expect(again.links.map((l) => l.pulled.fromCache)).toEqual(['store', 'store', 'store']);
    expect(again.source).toEqual(first.source);
    expect('profile' in again.source).toBe(true);
  });

  it('a cycle fails the container with a message naming the chain', async () => {
    const details = await createFails('spo-cycle', refs['cycle-a'] ?? '');
    expect(details).toMatch(/^ErrImagePull: container "app" in pod "e2e\/spo-cycle": seccomp profile annotation /);
    expect(details).toContain(
      `base profile chain ${refs['cycle-a']}@${digests['cycle-a']} -> ${refs['cycle-b']}@${digests['cycle-b']} -> ${refs['cycle-a']}@${digests['cycle-a']} is a cycle`,
    );
  });

  it('a 16-deep chain fails past SPO\'s limit, naming the chain; 15 deep is applied', async () => {
    const details = await createFails('spo-deep', refs.deep0 ?? '');
    expect(details).toMatch(/^ErrImagePull: container "app" in pod "e2e\/spo-deep": /);
    expect(details).toContain(`base profile chain ${refs.deep0}@${digests.deep0} -> ${refs.deep1}@`);
    expect(details).toMatch(/ -> [^ ]+deep:l14@sha256:[0-9a-f]{64} goes on to oci:\/\/[^ ]+\/spo\/deep:l15: more than 15 profiles/);
    const containerId = await create('spo-deep-15', refs.deep1 ?? '');
    expect((await applied(containerId)).annotation?.split(',')).toHaveLength(15);
  });

  it('an unsigned base under a rule requiring signatures fails with SignatureValidationFailed naming the base; a signed one passes', async () => {
    const details = await createFails('spo-unsigned-base', refs['on-unsigned'] ?? '');
    expect(details).toMatch(/^SignatureValidationFailed: container "app" in pod "e2e\/spo-unsigned-base": /);
    expect(details).toContain(`base profile of ${refs['on-unsigned']}@${digests['on-unsigned']}: ${refs['unsigned-base']} (digest ${digests['unsigned-base']})`);
    const containerId = await create('spo-signed-base', refs['on-signed'] ?? '');
    expect((await applied(containerId)).syscalls.flatMap((s) => s.names)).toEqual(['chmod', 'mkdir', 'rmdir']);
  });
});
