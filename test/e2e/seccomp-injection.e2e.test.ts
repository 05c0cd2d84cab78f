import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/artifact/index.js';
import { APPLIED_PROFILE_ANNOTATION } from '../../src/injector/index.js';
import { createContainerdManifestReader } from '../../src/injector/containerd-content.js';
import { registrySignatureSource, signArtifact } from '../../src/signature/index.js';
import { startContainerd, type ContainerdNode } from '../../testbed/containerd.js';
import { connectCri, containerConfig, CriCallError, podSandboxConfig, type CriClient, type CriMessage, type RuntimeSeccomp } from '../../testbed/cri.js';
import { blobOf, buildBusyboxImage, descriptorOf, OCI_CONFIG, OCI_MANIFEST, pushImage, type BusyboxImage } from '../../testbed/images.js';
import { startRegistry, type TestRegistry } from '../../testbed/registry.js';
import { startShim, type TestShim } from '../../testbed/shim.js';
import { REAL_NODE, skipUnlessLinux } from '../support/requirements.js';
import { pushCrioShapedProfile } from '../../testbed/crio-artifact.js';
import { stopAll } from '../../testbed/stop-all.js';

const OLD_KEY = 'seccomp-profile.kubernetes.cri-o.io';
const NEW_KEY = 'seccomp-profile.crio.io';

/**
 * A profile in the Docker/moby format published profiles use: mkdir is denied for everybody,
 * rmdir only for containers holding CAP_SYS_ADMIN. containerd would read this file wrongly as is
 * (testbed.md: archMap dropped, `name` lost, `includes` ignored); the shim converts it first.
 */
const DENY_MKDIR_PROFILE = {
  defaultAction: 'SCMP_ACT_ALLOW',
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    { name: 'rmdir', action: 'SCMP_ACT_ERRNO', errnoRet: 1, includes: { caps: ['CAP_SYS_ADMIN'] } },
  ],
};

/** A second profile, so that which of two sibling images a container came from shows in its rules. */
const DENY_CHMOD_PROFILE = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};

const NATIVE_ARCHES: Record<string, string[]> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

let registry: TestRegistry;
let node: ContainerdNode;
let shim: TestShim;
let cri: CriClient;
let profileRef: string;
let signedRef: string;
let unsignedRef: string;
const imageRefs: Record<string, string> = {};
/** Images sharing one config: the repository, and each tag's manifest digest as pushed. */
let siblingRepo: string;
const siblings: Record<'plain' | 'withA' | 'withC', string> = { plain: '', withA: '', withC: '' };

/** The busybox image again with other manifest annotations and its own config, so its own image id. */
function imageVariant(base: BusyboxImage, variant: string, annotations: Record<string, string>): BusyboxImage {
  const config = JSON.parse(base.config.bytes.toString()) as { config: Record<string, unknown> };
  config.config.Labels = { variant };
  const configBlob = blobOf(OCI_CONFIG, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptorOf(configBlob),
    layers: [descriptorOf(base.layer)],
    annotations,
  };
  return { ...base, config: configBlob, manifest: blobOf(OCI_MANIFEST, Buffer.from(JSON.stringify(manifest))) };
}

/** The busybox image with the same config (so the same image id) and other manifest annotations. */
function imageSibling(base: BusyboxImage, annotations: Record<string, string>): BusyboxImage {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptorOf(base.config),
    layers: [descriptorOf(base.layer)],
    annotations,
  };
  return { ...base, manifest: blobOf(OCI_MANIFEST, Buffer.from(JSON.stringify(manifest))) };
}


interface CaseOptions {
  pod: string;
  container?: string;
  podAnnotations?: Record<string, string>;
  /** The pod's image text; node.image by default. */
  image?: string;
  /**
   * `kubelet` (the default): the image id in `image.image`, the pod's text in
   * `user_specified_image`, as kubelet 1.28+ sends it. `id-only`: the id alone, as kubelet
   * 1.26/1.27 send it. `name-only`: the text alone in `image.image`, as crictl sends it.
   */
  shape?: 'kubelet' | 'id-only' | 'name-only';
  handler?: string;
  seccomp?: CriMessage;
  securityContext?: CriMessage;
}

async function imageSpecFor(image: string, shape: CaseOptions['shape'], handler: string): Promise<CriMessage> {
  if (shape === 'name-only') return { image };
  const kubelet = await cri.kubeletImageSpec(image, handler);
  return shape === 'id-only' ? { image: kubelet.image } : kubelet;
}

async function createThroughShim(options: CaseOptions): Promise<{ podId: string; containerId: string }> {
  const sandbox = podSandboxConfig({ name: options.pod, annotations: options.podAnnotations ?? {} });
  const handler = options.handler ?? '';
  const podId = await cri.runPodSandbox(sandbox, handler);
  const config = containerConfig({
    name: options.container ?? 'app',
    imageSpec: await imageSpecFor(options.image ?? node.image, options.shape, handler),
    seccomp: options.seccomp as never,
    securityContext: options.securityContext ?? {},
  });
  const containerId = await cri.createContainer(podId, config, sandbox);
  return { podId, containerId };
}



function ruleNames(seccomp: RuntimeSeccomp | null): string[] {
  return (seccomp?.syscalls ?? []).flatMap((rule) => rule.names).sort();
}

// containerd, runc and the kernel's seccomp: nothing here runs elsewhere.
const skip = skipUnlessLinux('CreateContainer on real containerd (test/e2e/seccomp-injection.test.ts)', REAL_NODE);

beforeAll(async () => {
  registry = await startRegistry();
  node = await startContainerd({
    extraConfig: `
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.restricted]
      runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."${registry.host}"]
  endpoint = ["${registry.url}"]
`,
  });
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyFile = path.join(registry.dir, 'signer.pub');
  writeFileSync(publicKeyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));

  shim = await startShim(node.endpoint, (settings) => {
    settings.registries[registry.host] = { insecure: true, mirrors: [] };
    settings.runtimes.runc = { allowedAnnotations: [OLD_KEY, NEW_KEY] };
    settings.runtimes.restricted = { allowedAnnotations: [] };
    settings.signature.rules = [{ prefix: `${registry.host}/signed-only`, mode: 'required', keys: [publicKeyFile] }];
  });
  cri = connectCri(`unix://${shim.socketPath}`);

  const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
  profileRef = `${registry.host}/profiles/deny-mkdir:v1`;
  await pushCrioShapedProfile(client, profileRef, DENY_MKDIR_PROFILE);
  unsignedRef = `${registry.host}/signed-only/deny-mkdir:unsigned`;
  await pushCrioShapedProfile(client, unsignedRef, DENY_MKDIR_PROFILE);
  signedRef = `${registry.host}/signed-only/deny-mkdir:signed`;
  const signedDigest = await pushCrioShapedProfile(client, signedRef, { ...DENY_MKDIR_PROFILE, comment: 'signed' });
  await signArtifact({
    client: registrySignatureSource(client),
    registry: registry.host,
    repository: 'signed-only/deny-mkdir',
    digest: signedDigest,
    privateKeyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
  });

  const base = await buildBusyboxImage();
  const variants: Record<string, Record<string, string>> = {
    plain: { [OLD_KEY]: profileRef },
    pod: { [`${OLD_KEY}/POD`]: profileRef },
    container: { [`${OLD_KEY}/app`]: profileRef },
    other: { [`${OLD_KEY}/sidecar`]: profileRef },
  };
  for (const [variant, annotations] of Object.entries(variants)) {
    const ref = `${registry.host}/images/busybox:${variant}`;
    await pushImage(client, ref, imageVariant(base, variant, annotations));
    await cri.call('image', 'PullImage', { image: { image: ref } });
    imageRefs[variant] = ref;
  }

  // Three images sharing one config, so containerd keeps them as one image id: annotating an
  // existing image (podman build --annotation, crane mutate) makes exactly these.
  const chmodRef = `${registry.host}/profiles/deny-chmod:v1`;
  await pushCrioShapedProfile(client, chmodRef, DENY_CHMOD_PROFILE);
  const shared = imageVariant(base, 'siblings', {});
  siblingRepo = `${registry.host}/images/siblings`;
  siblings.plain = await pushImage(client, `${siblingRepo}:plain`, imageSibling(shared, {}));
  siblings.withA = await pushImage(client, `${siblingRepo}:with-a`, imageSibling(shared, { [`${OLD_KEY}/POD`]: profileRef }));
  siblings.withC = await pushImage(client, `${siblingRepo}:with-c`, imageSibling(shared, { [`${OLD_KEY}/POD`]: chmodRef }));
  // `moving` is with-a when the node pulls it, then the registry's tag moves on to with-c.
  await pushImage(client, `${siblingRepo}:moving`, imageSibling(shared, { [`${OLD_KEY}/POD`]: profileRef }));
  for (const tag of ['plain', 'with-a', 'with-c', 'moving']) {
    await cri.call('image', 'PullImage', { image: { image: `${siblingRepo}:${tag}` } });
  }
  await pushImage(client, `${siblingRepo}:moving`, imageSibling(shared, { [`${OLD_KEY}/POD`]: chmodRef }));
  client.close();
}, 180_000);

afterAll(() => stopAll(cri, shim, node, registry), 120_000);

describe.skipIf(skip)('CreateContainer through the shim on containerd: which annotation applies, as in CRI-O', () => {
  const arches = NATIVE_ARCHES[process.arch] ?? [];

  // Table values are built per test: the references exist only once beforeAll has pushed them.
  it.each([
    ['pod annotation /<container>', `${OLD_KEY}/app`, undefined],
    ['pod annotation /POD', `${OLD_KEY}/POD`, undefined],
    ['pod annotation with the current crio.io key', `${NEW_KEY}/POD`, undefined],
    ['seccomp explicitly Unconfined', `${OLD_KEY}/POD`, { profile_type: 'Unconfined' }],
  ] as [string, string, CriMessage | undefined][])('%s: the converted profile is applied', async (label, key, seccompField) => {
    const { containerId } = await createThroughShim({
      pod: `pod-${label.replace(/[^a-z]+/gi, '-').toLowerCase()}`,
      podAnnotations: { [key]: profileRef },
      seccomp: seccompField,
    });
    const { seccomp, annotations } = await cri.appliedSeccomp(containerId);
    expect(seccomp?.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(seccomp?.architectures).toEqual(arches);
    expect(seccomp?.syscalls).toEqual([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
    expect(annotations[APPLIED_PROFILE_ANNOTATION]).toMatch(new RegExp(`^${profileRef}@sha256:[0-9a-f]{64}$`));
  });

  it.each([
    ['image annotation without suffix', 'plain', 'kubelet'],
    ['image annotation /POD', 'pod', 'kubelet'],
    ['image annotation /<container>', 'container', 'kubelet'],
    ['image annotation, the id alone (kubelet 1.26)', 'plain', 'id-only'],
    ['image annotation, the name alone (crictl)', 'pod', 'name-only'],
  ] as const)('%s: the profile the image names is applied', async (_label, variant, shape) => {
    const { containerId } = await createThroughShim({ pod: `pod-image-${variant}-${shape}`, image: imageRefs[variant], shape });
    expect(ruleNames((await cri.appliedSeccomp(containerId)).seccomp)).toEqual(['mkdir', 'mkdirat']);
  });

  it('reads image annotations from containerd\'s content store on the node, not from the registry', () => {
    const reads = shim.logs.filter((line) => line.msg === 'Read image annotations');
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(reads.map((line) => line.from)).toEqual(reads.map(() => 'runtime content store'));
  });

  it('the content store reader checks what it reads against the digest', async () => {
    const reader = createContainerdManifestReader(node.endpoint);
    try {
      const signal = new AbortController().signal;
      const status = await cri.imageStatus(imageRefs.plain ?? '');
      const repoDigest = ((status.image as { repo_digests: string[] }).repo_digests[0] ?? '').split('@')[1] ?? '';
      expect((await reader.imageAnnotations(repoDigest, signal))?.annotations).toEqual({ [OLD_KEY]: profileRef });
      expect(await reader.imageAnnotations(`sha256:${'0'.repeat(64)}`, signal)).toBeUndefined();
    } finally {
      reader.close();
    }
  });

  it.each([
    ['an image annotation for another container', { image: 'other' }],
    ['a pod annotation for another container', { podAnnotations: { [`${OLD_KEY}/sidecar`]: 'never-pulled.invalid/x:y' } }],
    ['a runtime handler that does not allow the annotation', { handler: 'restricted', podAnnotations: { [`${OLD_KEY}/POD`]: 'never-pulled.invalid/x:y' } }],
  ] as [string, { image?: string; handler?: string; podAnnotations?: Record<string, string> }][])(
    '%s: nothing is applied, the container stays Unconfined',
    async (label, options) => {
      const { containerId } = await createThroughShim({
        pod: `pod-none-${label.replace(/[^a-z]+/gi, '-').toLowerCase()}`,
        ...options,
        image: options.image ? imageRefs[options.image] : undefined,
      });
      expect((await cri.appliedSeccomp(containerId)).seccomp).toBeNull();
    },
  );

  it('RuntimeDefault in the security context wins over the annotation', async () => {
    const { containerId } = await createThroughShim({
      pod: 'pod-runtime-default',
      podAnnotations: { [`${OLD_KEY}/POD`]: 'never-pulled.invalid/x:y' },
      seccomp: { profile_type: 'RuntimeDefault' },
    });
    const { seccomp, annotations } = await cri.appliedSeccomp(containerId);
    // containerd's own default profile: deny by default, hundreds of allowed syscalls.
    expect(seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(ruleNames(seccomp).length).toBeGreaterThan(100);
    expect(annotations[APPLIED_PROFILE_ANNOTATION]).toBeUndefined();
  });

  it('Localhost in the security context wins over the annotation', async () => {
    const own = path.join(node.dir, 'own-profile.json');
    writeFileSync(own, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }] }));
    const { containerId } = await createThroughShim({
      pod: 'pod-localhost',
      podAnnotations: { [`${OLD_KEY}/POD`]: 'never-pulled.invalid/x:y' },
      seccomp: { profile_type: 'Localhost', localhost_ref: own },
    });
    expect(ruleNames((await cri.appliedSeccomp(containerId)).seccomp)).toEqual(['chmod']);
  });

  it('a reference that does not exist fails CreateContainer, naming container, annotation and cause', async () => {
    const missing = `${registry.host}/profiles/deny-mkdir:does-not-exist`;
    const error = await createThroughShim({ pod: 'pod-missing', podAnnotations: { [`${OLD_KEY}/app`]: missing } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CriCallError);
    const details = (error as CriCallError).details;
    expect(details).toMatch(/^ErrImagePull: container "app" in pod "e2e\/pod-missing": seccomp profile annotation /);
    expect(details).toContain(`${OLD_KEY}/app=${missing}`);
    expect(details).toMatch(/does-not-exist/);
    const pod = (await cri.listPodSandbox()).find((p) => p.metadata?.name === 'pod-missing');
    expect(pod?.id).toMatch(/^[0-9a-f]{64}$/);
    expect((await cri.listContainers()).filter((c) => c.pod_sandbox_id === pod?.id)).toEqual([]);
  });

  it('many rejected calls in a row leave kubelet\'s connection to containerd working', async () => {
    const missing = `${registry.host}/profiles/deny-mkdir:also-missing`;
    const sandbox = podSandboxConfig({ name: 'pod-rejected-often', annotations: { [`${OLD_KEY}/POD`]: missing } });
    const podId = await cri.runPodSandbox(sandbox);
    for (let attempt = 0; attempt < 6; attempt++) {
      const error = await cri.createContainer(podId, containerConfig({ name: 'app', attempt }), sandbox).catch((e: unknown) => e);
      expect((error as CriCallError).details).toMatch(/^ErrImagePull: /);
    }
    expect((await cri.version()).runtime_name).toBe('containerd');
  });

  it('logs the events like CRI-O, with the CRI method and a request id', () => {
    const messages = shim.logs.map((line) => String(line.msg));
    expect(messages).toContain(`Found container specific seccomp profile annotation: ${OLD_KEY}/app=${profileRef}`);
    expect(messages).toContain(`Found pod specific seccomp profile annotation: ${OLD_KEY}=${profileRef}`);
    expect(messages).toContain(`Found image specific seccomp profile annotation: ${OLD_KEY}=${profileRef}`);
    expect(messages).toContain(`Found image specific seccomp profile annotation for container app: ${OLD_KEY}=${profileRef}`);
    expect(messages).toContain(`Found image specific seccomp profile annotation for pod: ${OLD_KEY}=${profileRef}`);
    expect(messages).toContain(`Pulling OCI artifact from ref: ${profileRef}`);
    const retrieved = shim.logs.find((line) => String(line.msg).startsWith('Retrieved OCI artifact seccomp profile of len: '));
    expect(retrieved?.msg).toBe(`Retrieved OCI artifact seccomp profile of len: ${JSON.stringify(DENY_MKDIR_PROFILE).length}`);
    expect(retrieved).toMatchObject({ name: '/runtime.v1.RuntimeService/CreateContainer' });
    expect(String(retrieved?.id)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe.skipIf(skip)('images that share one config: each container gets its own image\'s annotations, never a sibling\'s', () => {
  it('containerd keeps the three images as one image id listing every manifest (the premise)', async () => {
    const statuses = await Promise.all(['plain', 'with-a', 'with-c'].map((tag) => cri.imageStatus(`${siblingRepo}:${tag}`)));
    const images = statuses.map((status) => status.image as { id: string; repo_digests: string[] });
    expect(new Set(images.map((image) => image.id)).size).toBe(1);
    expect(images[0]?.repo_digests).toEqual(expect.arrayContaining(Object.values(siblings).map((digest) => `${siblingRepo}@${digest}`)));
  });

  it('by tag, in any order: with-c gets C, plain gets none, with-a gets A', async () => {
    const rulesOf = async (tag: string) => {
      const { containerId } = await createThroughShim({ pod: `pod-sibling-${tag}`, image: `${siblingRepo}:${tag}` });
      return ruleNames((await cri.appliedSeccomp(containerId)).seccomp);
    };
    expect(await rulesOf('with-c')).toEqual(['chmod', 'fchmodat']);
    expect(await rulesOf('plain')).toEqual([]);
    expect(await rulesOf('with-a')).toEqual(['mkdir', 'mkdirat']);
  });

  it('by digest reference: that manifest\'s annotations', async () => {
    const { containerId } = await createThroughShim({ pod: 'pod-sibling-digest', image: `${siblingRepo}@${siblings.withC}` });
    expect(ruleNames((await cri.appliedSeccomp(containerId)).seccomp)).toEqual(['chmod', 'fchmodat']);
  });

  it('a tag re-pointed in the registry after the node pulled it: the node\'s record wins', async () => {
    const { containerId } = await createThroughShim({ pod: 'pod-sibling-moving', image: `${siblingRepo}:moving` });
    expect(ruleNames((await cri.appliedSeccomp(containerId)).seccomp)).toEqual(['mkdir', 'mkdirat']);
  });

  it('in the kernel: with-a denies mkdir, its unannotated sibling does not', async () => {
    const annotated = await createThroughShim({ pod: 'pod-sibling-kernel-a', image: `${siblingRepo}:with-a` });
    const plain = await createThroughShim({ pod: 'pod-sibling-kernel-plain', image: `${siblingRepo}:plain` });
    await cri.startContainer(annotated.containerId);
    await cri.startContainer(plain.containerId);
    expect((await cri.sh(annotated.containerId, 'mkdir /tmp/x')).out).toMatch(/Operation not permitted/);
    expect(await cri.sh(plain.containerId, 'mkdir /tmp/x && grep "^Seccomp:" /proc/self/status')).toEqual({ code: 0, out: 'Seccomp:\t0\n' });
  });

  it('the id alone (kubelet before 1.28) with siblings that disagree fails clearly and creates nothing', async () => {
    const id = ((await cri.imageStatus(`${siblingRepo}:with-a`)).image as { id: string }).id;
    const error = await createThroughShim({ pod: 'pod-sibling-id-only', image: `${siblingRepo}:with-a`, shape: 'id-only' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CriCallError);
    const details = (error as CriCallError).details;
    expect(details).toMatch(/^ImageInspectError: container "app" in pod "e2e\/pod-sibling-id-only": reading seccomp profile annotations: /);
    expect(details).toContain(`image ${id} is kept for several manifests whose seccomp profile annotations differ`);
    expect(details).toContain(`${siblingRepo}@${siblings.withA}`);
    expect(details).toContain(`${siblingRepo}@${siblings.withC}`);
    expect(details).toContain('set the profile with a pod annotation, or run kubelet 1.28 or later');
    const pod = (await cri.listPodSandbox()).find((p) => p.metadata?.name === 'pod-sibling-id-only');
    expect((await cri.listContainers()).filter((c) => c.pod_sandbox_id === pod?.id)).toEqual([]);
  });

  it('the id alone, but a pod annotation names the profile: the pod annotation applies, no image is read', async () => {
    const { containerId } = await createThroughShim({
      pod: 'pod-sibling-id-only-annotated',
      image: `${siblingRepo}:with-c`,
      shape: 'id-only',
      podAnnotations: { [`${OLD_KEY}/POD`]: profileRef },
    });
    expect(ruleNames((await cri.appliedSeccomp(containerId)).seccomp)).toEqual(['mkdir', 'mkdirat']);
  });
});

describe.skipIf(skip)('the profile in the kernel', () => {
  it('denies mkdir, shows Seccomp: 2, and leaves rmdir to containers without CAP_SYS_ADMIN', async () => {
    const { containerId } = await createThroughShim({ pod: 'pod-kernel', podAnnotations: { [`${OLD_KEY}/app`]: profileRef } });
    await cri.startContainer(containerId);
    const status = await cri.sh(containerId, 'grep "^Seccomp:" /proc/self/status');
    expect(status.out.trim()).toBe('Seccomp:\t2');
    const mkdir = await cri.sh(containerId, 'mkdir /tmp/denied');
    expect(mkdir.code).not.toBe(0);
    expect(mkdir.out).toMatch(/Operation not permitted/);
    // rmdir of a missing directory: ENOENT when rmdir is allowed, EPERM when the profile denies it.
    const rmdir = await cri.sh(containerId, 'rmdir /tmp/missing');
    expect(rmdir.out).toMatch(/No such file or directory/);
  });

  it('a container holding CAP_SYS_ADMIN gets the rmdir rule too, and the kernel enforces it', async () => {
    const { containerId } = await createThroughShim({
      pod: 'pod-kernel-sysadmin',
      podAnnotations: { [`${OLD_KEY}/app`]: profileRef },
      securityContext: { capabilities: { add_capabilities: ['SYS_ADMIN'] } },
    });
    const { seccomp } = await cri.appliedSeccomp(containerId);
    expect(ruleNames(seccomp)).toEqual(['mkdir', 'mkdirat', 'rmdir']);
    await cri.startContainer(containerId);
    expect((await cri.sh(containerId, 'rmdir /tmp/missing')).out).toMatch(/Operation not permitted/);
  });

  it('the file the runtime loaded is the converted runtime-spec profile the shim wrote', async () => {
    const { containerId } = await createThroughShim({ pod: 'pod-file', podAnnotations: { [`${OLD_KEY}/app`]: profileRef } });
    const { seccomp } = await cri.appliedSeccomp(containerId);
    const profileDir = path.join(shim.settings.stateDir, 'profiles');
    const files = readdirSync(profileDir).filter((f) => f.endsWith('.json'));
    const written = files.map((f) => JSON.parse(readFileSync(path.join(profileDir, f), 'utf8')) as RuntimeSeccomp);
    expect(written).toContainEqual(seccomp);
  });
});

describe.skipIf(skip)('signature policy on the CreateContainer path', () => {
  it('an unsigned profile under a policy that requires signatures fails with SignatureValidationFailed', async () => {
    const error = await createThroughShim({ pod: 'pod-unsigned', podAnnotations: { [`${OLD_KEY}/POD`]: unsignedRef } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CriCallError);
    expect((error as CriCallError).details).toMatch(/^SignatureValidationFailed: container "app" in pod "e2e\/pod-unsigned"/);
    expect((error as CriCallError).details).toContain(unsignedRef);
  });

  it('the signed profile runs with the profile enforced', async () => {
    const { containerId } = await createThroughShim({ pod: 'pod-signed', podAnnotations: { [`${OLD_KEY}/POD`]: signedRef } });
    await cri.startContainer(containerId);
    expect((await cri.sh(containerId, 'mkdir /tmp/denied')).out).toMatch(/Operation not permitted/);
  });
});
