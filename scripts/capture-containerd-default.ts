/**
 * Captures the seccomp profile containerd applies to a RuntimeDefault container, as
 * `crictl inspect` shows it (`.info.runtimeSpec.linux.seccomp`), for config/baselines/.
 *
 * containerd generates that profile per container from its capabilities and the node's
 * architecture; this captures it for a plain container with containerd's default capabilities
 * on this machine's architecture, from a throwaway containerd started with its own directories.
 *
 *   npx tsx scripts/capture-containerd-default.ts [output.json]
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { startContainerd } from '../testbed/containerd.js';
import { connectCri, containerConfig, podSandboxConfig } from '../testbed/cri.js';
import { ociArchitecture } from '../testbed/images.js';

const node = await startContainerd();
const cri = connectCri(node.endpoint);
try {
  const sandbox = podSandboxConfig({ name: 'capture-runtime-default' });
  const podId = await cri.runPodSandbox(sandbox);
  const config = containerConfig({ name: 'app', image: node.image, seccomp: { profile_type: 'RuntimeDefault' } });
  const containerId = await cri.createContainer(podId, config, sandbox);
  const status = await cri.containerStatus(containerId, true);
  const info = JSON.parse(String((status.info as Record<string, string>).info)) as {
    runtimeSpec: { linux: { seccomp: unknown }; process: { capabilities?: { bounding?: string[] } } };
  };
  const version = execFileSync('containerd', ['--version'], { encoding: 'utf8' }).trim();
  const output = process.argv[2] ?? `containerd-runtime-default.${ociArchitecture()}.json`;
  writeFileSync(output, `${JSON.stringify(info.runtimeSpec.linux.seccomp, null, 2)}\n`);
  process.stdout.write(
    `${version}\narchitecture: ${ociArchitecture()}\ncapabilities: ${(info.runtimeSpec.process.capabilities?.bounding ?? []).join(' ')}\nwrote ${output}\n`,
  );
} finally {
  cri.close();
  await node.stop();
}
