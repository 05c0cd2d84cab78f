/**
 * What the seccomp injection adds to CreateContainer on real containerd: the same containers
 * created through the shim with a pod annotation naming a stored profile and without one,
 * interleaved in one run, plus the injector's own time measured around its intercept call.
 * Run: npx tsx bench/create-container.ts [iterations]
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RegistryClient } from '../src/artifact/index.js';
import { pushProfile } from '../src/artifact/push.js';
import { criType } from '../src/cri/proto.js';
import { CREATE_CONTAINER, createInjector } from '../src/injector/index.js';
import type { ShimSettings } from '../src/config/index.js';
import { silentLogger } from '../src/log/logger.js';
import { registrySignatureSource, signArtifact } from '../src/signature/index.js';
import { startContainerd } from '../testbed/containerd.js';
import { connectCri, containerConfig, podSandboxConfig, type CriMessage } from '../testbed/cri.js';
import { BUSYBOX_IMAGE } from '../testbed/images.js';
import { startRegistry } from '../testbed/registry.js';
import { startShim } from '../testbed/shim.js';

const KEY = 'seccomp-profile.kubernetes.cri-o.io/POD';
const iterations = Number(process.argv[2] ?? 60);

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The injector's own time per warm CreateContainer, 2000 times, after one call that warms every cache. */
async function measureInjector(settings: ShimSettings, podId: string, pod: CriMessage, imageSpec: CriMessage): Promise<number[]> {
  const injector = createInjector(settings, silentLogger());
  const type = criType('CreateContainerRequest');
  const message = Buffer.from(
    type
      .encode(
        type.fromObject({
          pod_sandbox_id: podId,
          config: containerConfig({ name: 'probe', imageSpec, seccomp: { profile_type: 'Unconfined' } }),
          sandbox_config: pod,
        }),
      )
      .finish(),
  );
  const intercept = () =>
    injector.interceptor.intercept({ method: CREATE_CONTAINER, message, requestId: 'bench', signal: new AbortController().signal });
  const times: number[] = [];
  try {
    await intercept();
    for (let i = 0; i < 2000; i++) {
      const start = performance.now();
      const decision = await intercept();
      times.push(performance.now() - start);
      if (decision.action !== 'forward' || decision.message.length <= message.length) throw new Error('the injector did not apply the profile');
    }
  } finally {
    injector.close();
  }
  return times;
}

const registry = await startRegistry();
const node = await startContainerd();
const shim = await startShim(node.endpoint, (settings) => {
  settings.registries[registry.host] = { insecure: true, mirrors: [] };
  settings.runtimes.runc = { allowedAnnotations: ['seccomp-profile.kubernetes.cri-o.io'] };
  settings.logLevel = 'info';
});
try {
  const profileRef = `${registry.host}/bench/profile:v1`;
  const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
  const profile = readFileSync(new URL('../testbed/fixtures/containers-common-default.json', import.meta.url));
  const profileDigest = (await pushProfile(client, { reference: profileRef, profile })).digest;
  client.close();

  const cri = connectCri(`unix://${shim.socketPath}`);
  const annotatedPod = podSandboxConfig({ name: 'bench-annotated', annotations: { [KEY]: profileRef } });
  const plainPod = podSandboxConfig({ name: 'bench-plain' });
  const imageSpec = await cri.kubeletImageSpec(BUSYBOX_IMAGE);
  const annotatedId = await cri.runPodSandbox(annotatedPod);
  const plainId = await cri.runPodSandbox(plainPod);
  const timed = { annotated: [] as number[], plain: [] as number[] };

  const createOnce = async (kind: 'annotated' | 'plain', index: number, record: boolean) => {
    const [podId, pod] = kind === 'annotated' ? [annotatedId, annotatedPod] : [plainId, plainPod];
    const config = containerConfig({ name: `c${index}`, imageSpec, seccomp: { profile_type: 'Unconfined' } });
    const start = performance.now();
    const id = await cri.createContainer(podId, config, pod);
    if (record) timed[kind].push(performance.now() - start);
    await cri.removeContainer(id);
  };
  // Warm-up: the first annotated call pulls, converts and writes the profile.
  for (let i = 0; i < 5; i++) {
    await createOnce('annotated', 1000 + i, false);
    await createOnce('plain', 1000 + i, false);
  }
  for (let i = 0; i < iterations; i++) {
    const order: ('annotated' | 'plain')[] = i % 2 === 0 ? ['annotated', 'plain'] : ['plain', 'annotated'];
    for (const kind of order) await createOnce(kind, i, true);
  }
  cri.close();

  // The injector alone, on the same request bytes, with warm caches: once with no signature
  // policy and once with a policy that requires the signature the profile carries.
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyFile = path.join(shim.settings.stateDir, 'bench-signer.pub');
  writeFileSync(publicKeyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
  const signer = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
  await signArtifact({
    client: registrySignatureSource(signer),
    registry: registry.host,
    repository: 'bench/profile',
    digest: profileDigest,
    privateKeyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
  });
  signer.close();
  const signedSettings = structuredClone(shim.settings);
  signedSettings.signature = { default: { mode: 'required', keys: [publicKeyFile] }, rules: [] };
  const injectorTimes = await measureInjector(shim.settings, annotatedId, annotatedPod, imageSpec);
  const verifiedTimes = await measureInjector(signedSettings, annotatedId, annotatedPod, imageSpec);

  const row = (label: string, samples: number[]) =>
    `${label.padEnd(34)} p50 ${percentile(samples, 50).toFixed(3).padStart(9)} ms   p99 ${percentile(samples, 99).toFixed(3).padStart(9)} ms   n=${samples.length}`;
  console.log(`CreateContainer on containerd through the shim (${iterations} each, interleaved)`);
  console.log(row('without annotation', timed.plain));
  console.log(row('with annotation (stored profile)', timed.annotated));
  console.log(
    `added: p50 ${(percentile(timed.annotated, 50) - percentile(timed.plain, 50)).toFixed(3)} ms, p99 ${(percentile(timed.annotated, 99) - percentile(timed.plain, 99)).toFixed(3)} ms (end to end, includes containerd's own variance)`,
  );
  console.log(row('injector alone (warm, in process)', injectorTimes));
  console.log(row('  same, signature required (cached)', verifiedTimes));
} finally {
  await shim.stop();
  await node.stop();
  await registry.stop();
}
