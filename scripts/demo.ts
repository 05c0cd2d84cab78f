/**
 * `npm run demo`: the shim in front of a real containerd + runc, end to end, on this machine.
 *
 * 1. start a throwaway containerd (own dirs and socket under /tmp, busybox image imported)
 * 2. start seccomp-oci-shim in front of it
 * 3. run a pod and a container through the shim, as kubelet would
 * 4. exec in the container and show what containerd reports about it
 * 5. remove everything again (also on Ctrl-C or failure)
 *
 * Needs root (containerd and runc) and the Debian packages from scripts/install-deps.sh.
 */
import path from 'node:path';
import { createLogger } from '../src/log/logger.js';
import { startProxy } from '../src/proxy/index.js';
import { startContainerd, type ContainerdNode } from '../test/support/containerd.js';
import { connectCri, containerConfig, podSandboxConfig, type CriClient } from '../test/support/cri.js';

interface Demo {
  node?: ContainerdNode;
  shim?: { listenPath: string; stop(): Promise<void> };
  cri?: CriClient;
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

async function startNodeAndShim(demo: Demo): Promise<CriClient> {
  const node = await step('start a throwaway containerd (CRI plugin, runc, native snapshotter)', async () => {
    demo.node = await startContainerd();
    show('containerd socket', demo.node.socketPath);
    show('image imported', demo.node.image);
    return demo.node;
  });

  const shim = await step('start seccomp-oci-shim in front of it', async () => {
    const started = await startProxy({
      listenPath: path.join(node.dir, 'seccomp-oci-shim.sock'),
      runtimeEndpoint: node.endpoint,
      logger: createLogger({ level: process.env.SECCOMP_OCI_SHIM_LOG_LEVEL ?? 'warn' }),
    });
    demo.shim = started;
    show('shim socket', started.listenPath);
    return started;
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
  const podConfig = podSandboxConfig({ name: 'demo', namespace: 'default' });

  demo.podId = await step('RunPodSandbox through the shim (host network: no CNI on this machine)', async () => {
    const podId = await cri.runPodSandbox(podConfig);
    show('pod id', podId);
    return podId;
  });
  const podId = demo.podId;

  demo.containerId = await step('CreateContainer + StartContainer through the shim', async () => {
    const containerId = await cri.createContainer(podId, containerConfig({ name: 'workload' }), podConfig);
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
  });

  await step('ExecSync in the container through the shim', async () => {
    const exec = await cri.execSync(containerId, ['sh', '-c', 'id; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status'], 10);
    show('exit code', exec.exit_code);
    for (const line of Buffer.from(exec.stdout).toString().trimEnd().split('\n')) show('stdout', line);
  });
}

async function cleanUp(demo: Demo): Promise<void> {
  await step('remove container and pod through the shim, stop the shim and containerd', async () => {
    const cri = demo.cri;
    try {
      if (cri && demo.containerId) {
        await cri.stopContainer(demo.containerId, 0);
        await cri.removeContainer(demo.containerId);
      }
      if (cri && demo.podId) {
        await cri.stopPodSandbox(demo.podId);
        await cri.removePodSandbox(demo.podId);
      }
    } finally {
      cri?.close();
      try {
        await demo.shim?.stop();
      } finally {
        // Also removes whatever a failed step left in containerd, kills its shims, deletes its temp dir.
        await demo.node?.stop();
      }
    }
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('the demo starts containerd and runc, which need root: run it as root');
  }
  const demo: Demo = {};
  try {
    const cri = await startNodeAndShim(demo);
    await runWorkload(demo, cri);
  } finally {
    await cleanUp(demo);
  }
  process.stdout.write('\nAll calls went through the shim; containerd and everything it started are gone again.\n');
}

main().catch((error: unknown) => {
  console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
