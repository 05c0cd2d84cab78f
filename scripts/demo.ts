/**
 * `npm run demo`: the shim's main job, end to end, on this machine.
 *
 * 1. start a local OCI registry and publish a seccomp profile to it (denies mkdir)
 * 2. start a throwaway containerd (own dirs and socket under /tmp, busybox image imported)
 * 3. start `seccomp-oci-shim serve` in front of it, with a config file allowing the
 *    annotation for the runc handler
 * 4. run a pod annotated with `seccomp-profile.kubernetes.cri-o.io/POD` through the shim
 * 5. show the profile containerd applied and the kernel enforcing it
 * 6. remove everything again (also on Ctrl-C or failure)
 *
 * Needs root (containerd and runc) and the Debian packages from scripts/install-deps.sh.
 */
import { createArtifactClient } from '../src/artifact/index.js';
import { startContainerd, type ContainerdNode } from '../testbed/containerd.js';
import { connectCri, containerConfig, podSandboxConfig, type CriClient } from '../testbed/cri.js';
import { BUSYBOX_IMAGE } from '../testbed/images.js';
import { startRegistry, type TestRegistry } from '../testbed/registry.js';
import { startShimProcess, type ShimProcess } from '../testbed/shim-process.js';

const ANNOTATION = 'seccomp-profile.kubernetes.cri-o.io/POD';

/** The profile the demo publishes, in the Docker format published profiles use. */
const DENY_MKDIR = {
  defaultAction: 'SCMP_ACT_ALLOW',
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};

interface Demo {
  registry?: TestRegistry;
  node?: ContainerdNode;
  shim?: ShimProcess;
  cri?: CriClient;
  profileRef?: string;
  podId?: string;
  containerId?: string;
}

let stepNumber = 0;

async function step<T>(title: string, action: () => Promise<T>): Promise<T> {
  stepNumber += 1;
  const started = Date.now();
  process.stdout.write(`\n[${stepNumber}] ${title}\n`);
  const result = await action();
  process.stdout.write(`    done in ${Date.now() - started} ms\n`);
  return result;
}

function show(label: string, value: unknown): void {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  process.stdout.write(`    ${label.padEnd(18)} ${text}\n`);
}

async function publishProfile(demo: Demo): Promise<string> {
  return step('start a local OCI registry and push a seccomp profile that denies mkdir', async () => {
    demo.registry = await startRegistry();
    const ref = `${demo.registry.host}/profiles/deny-mkdir:v1`;
    const client = createArtifactClient({
      stateDir: `${demo.registry.dir}/push-state`,
      registries: { [demo.registry.host]: { insecure: true } },
      authFile: null,
    });
    try {
      const pushed = await client.push({ reference: ref, profile: Buffer.from(JSON.stringify(DENY_MKDIR, null, 2)) });
      show('profile', ref);
      show('digest', pushed.digest);
    } finally {
      client.close();
    }
    demo.profileRef = ref;
    return ref;
  });
}

async function startNodeAndShim(demo: Demo): Promise<CriClient> {
  const node = await step('start a throwaway containerd (CRI plugin, runc, native snapshotter)', async () => {
    demo.node = await startContainerd();
    show('containerd socket', demo.node.socketPath);
    show('image imported', demo.node.image);
    return demo.node;
  });

  const shim = await step('start `seccomp-oci-shim serve` in front of it, with a config file', async () => {
    const registryHost = demo.registry?.host ?? '';
    // What an operator writes: CRI-O's layout for the handler, the shim's own table for the registry.
    const config = [
      '[crio.runtime.runtimes.runc]',
      'allowed_annotations = ["seccomp-profile.kubernetes.cri-o.io"]',
      '',
      `[shim.registries."${registryHost}"]`,
      'insecure = true',
      '',
    ].join('\n');
    demo.shim = await startShimProcess(node.endpoint, config);
    show('shim socket', demo.shim.socketPath);
    show('config', demo.shim.configFile);
    for (const line of config.trimEnd().split('\n')) show('', line);
    return { listenPath: demo.shim.socketPath };
  });

  demo.cri = connectCri(shim.listenPath);
  const cri = demo.cri;
  await step('ask the runtime who it is, through the shim (Version)', async () => {
    const version = await cri.version();
    show('runtime', `${version.runtime_name} ${version.runtime_version} (CRI ${version.runtime_api_version})`);
  });
  return cri;
}

async function runWorkload(demo: Demo, cri: CriClient): Promise<void> {
  const podConfig = podSandboxConfig({ name: 'demo', namespace: 'default', annotations: { [ANNOTATION]: demo.profileRef ?? '' } });

  demo.podId = await step(`RunPodSandbox through the shim, annotated ${ANNOTATION}`, async () => {
    const podId = await cri.runPodSandbox(podConfig);
    show('pod id', podId);
    return podId;
  });
  const podId = demo.podId;

  demo.containerId = await step('CreateContainer + StartContainer through the shim', async () => {
    // As kubelet sends it: the image id, and the pod's own image text beside it.
    const imageSpec = await cri.kubeletImageSpec(BUSYBOX_IMAGE);
    const config = containerConfig({ name: 'workload', imageSpec, seccomp: { profile_type: 'Unconfined' } });
    const containerId = await cri.createContainer(podId, config, podConfig);
    await cri.startContainer(containerId);
    show('container id', containerId);
    return containerId;
  });
  const containerId = demo.containerId;

  await step('ContainerStatus (verbose), as `crictl inspect` shows it', async () => {
    const { status, info } = await cri.containerStatus(containerId, true);
    const details = JSON.parse(info.info ?? '{}') as {
      pid?: number;
      runtimeSpec?: { process?: { args?: string[] }; linux?: { seccomp?: unknown } };
    };
    show('state', status?.state);
    show('image', `${status?.image?.image} (${status?.image_ref})`);
    show('host pid', details.pid);
    show('command', details.runtimeSpec?.process?.args?.join(' '));
    show('seccomp in spec', details.runtimeSpec?.linux?.seccomp ?? null);
    show('profile source', status?.annotations?.['seccomp-oci-shim.io/profile']);
  });

  await step('what the shim logged for CreateContainer (grep-able like CRI-O)', async () => {
    for (const line of demo.shim?.logLines() ?? []) {
      if (/seccomp profile annotation|OCI artifact/.test(String(line.msg))) show('log', String(line.msg));
    }
  });

  await step('ExecSync in the container through the shim', async () => {
    const exec = await cri.execSync(containerId, ['sh', '-c', 'id; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status'], 10);
    show('exit code', exec.exit_code);
    for (const line of Buffer.from(exec.stdout).toString().trimEnd().split('\n')) show('stdout', line);
  });

  await step('the kernel enforces the profile: mkdir is denied in the container', async () => {
    const exec = await cri.execSync(containerId, ['mkdir', '/tmp/not-allowed'], 10);
    show('exit code', exec.exit_code);
    show('stderr', Buffer.from(exec.stderr).toString().trim());
    if (exec.exit_code === 0) throw new Error('mkdir succeeded: the profile was not enforced');
  });
}

async function cleanUp(demo: Demo): Promise<void> {
  await step('remove container and pod through the shim, stop the shim, containerd and the registry', async () => {
    // Every part is stopped even when an earlier one fails; the first failure is reported.
    const failures: unknown[] = [];
    const attempt = async (action: () => Promise<unknown>) => {
      try {
        await action();
      } catch (error) {
        failures.push(error);
      }
    };
    const cri = demo.cri;
    await attempt(async () => {
      if (cri && demo.containerId) {
        await cri.stopContainer(demo.containerId, 0);
        await cri.removeContainer(demo.containerId);
      }
      if (cri && demo.podId) {
        await cri.stopPodSandbox(demo.podId);
        await cri.removePodSandbox(demo.podId);
      }
    });
    cri?.close();
    await attempt(async () => {
      const code = await demo.shim?.stop();
      if (code !== undefined && code !== 0) throw new Error(`seccomp-oci-shim exited with ${code} on SIGTERM`);
    });
    // Also removes whatever a failed step left in containerd, kills its shims, deletes its temp dir.
    await attempt(async () => demo.node?.stop());
    await attempt(async () => demo.registry?.stop());
    if (failures.length > 0) throw failures[0];
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('the demo starts containerd and runc, which need root: run it as root');
  }
  const demo: Demo = {};
  try {
    await publishProfile(demo);
    const cri = await startNodeAndShim(demo);
    await runWorkload(demo, cri);
  } finally {
    await cleanUp(demo);
  }
  process.stdout.write('\nThe annotated pod got its profile from the registry through the shim; containerd, the registry and everything they started are gone again.\n');
}

main().catch((error: unknown) => {
  console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
