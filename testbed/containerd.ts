import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connectCri, type CriClient } from './cri.js';
import { BUSYBOX_IMAGE, buildBusyboxImage, writeImportTar } from './images.js';
import {
  killQuietly,
  makeTempDir,
  onProcessExit,
  removeDirSync,
  runCommand,
  runSync,
  startProcess,
  waitUntil,
  type ManagedProcess,
} from './processes.js';

/**
 * A throwaway containerd with its CRI plugin, private to one test file: its own root, state,
 * socket and runc state directory under a fresh temp dir, the busybox image imported as
 * `localhost/pause:latest`. The settings this machine kind needs are commented in its config below.
 */
export interface ContainerdNode {
  /** containerd's CRI socket path. */
  socketPath: string;
  /** `unix://<socketPath>`, as kubelet's --container-runtime-endpoint takes it. */
  endpoint: string;
  /** The temp dir holding config, root, state, runc state and logs. */
  dir: string;
  /** The image imported for pods and containers (`localhost/pause:latest`). */
  image: string;
  process: ManagedProcess;
  /** The last lines of containerd's log. */
  logTail(lines?: number): string;
  /** Removes every pod and container, stops containerd and its shims, unmounts and deletes `dir`. */
  stop(): Promise<void>;
}

export interface StartContainerdOptions {
  /** TOML appended to the generated config (e.g. more plugin settings). */
  extraConfig?: string;
  /** How long to wait for containerd's CRI to answer Version; 30 s by default. */
  readyTimeoutMs?: number;
}

/** The CRI namespace; CRI objects live there, `ctr` must import into it. */
const K8S_NAMESPACE = 'k8s.io';

function configToml(dir: string, extra = ''): string {
  const q = (p: string) => JSON.stringify(path.join(dir, p));
  return `version = 2
root = ${q('root')}
state = ${q('state')}

[grpc]
  address = ${q('containerd.sock')}

# Keeps containerd's /opt/containerd out of the machine's /opt.
[plugins."io.containerd.internal.v1.opt"]
  path = ${q('opt')}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${BUSYBOX_IMAGE}"
  # Lowering oom_score_adj is denied on this machine; without this every RunPodSandbox fails
  # with runc's "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      # runc's own state goes under our dir (default /run/containerd/runc), so cleanup can find
      # exactly this node's containers and never another containerd's.
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = ${q('runc')}
${extra}`;
}

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mountPoint): mountPoint is string => mountPoint !== undefined)
    .map(unescape)
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(prefix))
    .sort((a, b) => b.split('/').length - a.split('/').length);
}

/** A containerd-shim-runc-v2 process: its pid, and the namespace and id it serves. */
export interface ShimProcess {
  pid: number;
  namespace: string;
  id: string;
}

/** The containerd-shim-runc-v2 processes serving the containerd at `socketPath`. */
export function shimProcesses(socketPath: string): ShimProcess[] {
  const shims: ShimProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    if (!argv[0]?.endsWith('containerd-shim-runc-v2')) continue;
    const flag = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
    if (flag('-address') !== socketPath) continue;
    shims.push({ pid: Number(entry), namespace: flag('-namespace') ?? '', id: flag('-id') ?? '' });
  }
  return shims;
}

/**
 * The socket a shim listens on. containerd 1.6 puts it in /run/containerd/s/ whatever its
 * state dir, named by sha256 of `<containerd socket>/<namespace>/<id>`; a SIGKILLed shim
 * leaves it behind.
 */
export function shimSocketPath(socketPath: string, shim: ShimProcess): string {
  const hash = createHash('sha256').update(path.join(socketPath, shim.namespace, shim.id)).digest('hex');
  return path.join('/run/containerd/s', hash);
}

/** Container ids in every runc state root under `runcDir` (one per containerd namespace). */
function runcContainers(runcDir: string): Array<{ root: string; id: string }> {
  if (!existsSync(runcDir)) return [];
  const found: Array<{ root: string; id: string }> = [];
  for (const namespace of readdirSync(runcDir)) {
    const root = path.join(runcDir, namespace);
    const { status, output } = runSync('runc', ['--root', root, 'list', '-q']);
    if (status !== 0) continue;
    for (const id of output.split('\n').map((s) => s.trim()).filter(Boolean)) found.push({ root, id });
  }
  return found;
}

/**
 * Synchronous last-resort teardown: runs from an exit hook when the test process dies before
 * stop(), and as the tail of stop(). Kills runc containers, shims and containerd, unmounts
 * and deletes the dir. Returns what it could not do.
 */
function teardownSync(dir: string, socketPath: string, containerd: ManagedProcess): string[] {
  const problems: string[] = [];
  if (containerd.running()) killQuietly(containerd.pid, 'SIGKILL');
  for (const { root, id } of runcContainers(path.join(dir, 'runc'))) {
    const { status, output } = runSync('runc', ['--root', root, 'delete', '--force', id]);
    if (status !== 0) problems.push(`runc delete --force ${id}: ${output.trim()}`);
  }
  for (const shim of shimProcesses(socketPath)) {
    killQuietly(shim.pid, 'SIGKILL');
    rmSync(shimSocketPath(socketPath, shim), { force: true });
  }
  for (const mountPoint of mountsUnder(dir)) {
    if (runSync('umount', [mountPoint]).status !== 0) {
      // Lazy unmount detaches a busy mount at once; the kernel frees it when its last user goes.
      const lazy = runSync('umount', ['-l', mountPoint]);
      if (lazy.status !== 0) problems.push(`umount -l ${mountPoint}: ${lazy.output.trim()}`);
    }
  }
  const stillMounted = mountsUnder(dir);
  if (stillMounted.length === 0) removeDirSync(dir);
  else problems.push(`left ${dir} in place: still mounted ${stillMounted.join(', ')}`);
  return problems;
}

/** Stops and removes every container, then every pod, through CRI. Returns what failed. */
async function removeAllCriObjects(cri: CriClient): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message}`);
    }
  };
  const options = { timeoutMs: 30_000 };
  let containers: Array<{ id: string }> = [];
  await attempt('ListContainers', async () => (containers = await cri.listContainers({}, options)));
  for (const { id } of containers) {
    await attempt(`StopContainer ${id}`, () => cri.stopContainer(id, 0, options));
    await attempt(`RemoveContainer ${id}`, () => cri.removeContainer(id, options));
  }
  let pods: Array<{ id: string }> = [];
  await attempt('ListPodSandbox', async () => (pods = await cri.listPodSandbox({}, options)));
  for (const { id } of pods) {
    await attempt(`StopPodSandbox ${id}`, () => cri.stopPodSandbox(id, options));
    await attempt(`RemovePodSandbox ${id}`, () => cri.removePodSandbox(id, options));
  }
  return problems;
}

/**
 * Imports the busybox layout as `localhost/pause:latest`: `--base-name` plus the index's
 * ref.name `latest` names the manifest. testbed.md also passes `--index-name` with the same
 * name; measured here, that makes ctr create a second record of that name for the index blob
 * and fail about 1 import in 15 with "content digest <index digest>: not found".
 */
async function importImage(dir: string, socketPath: string): Promise<void> {
  const [name, tag] = BUSYBOX_IMAGE.split(':') as [string, string];
  const imageTar = await writeImportTar(dir, await buildBusyboxImage(), tag);
  await runCommand('ctr', ['--address', socketPath, '--namespace', K8S_NAMESPACE, 'images', 'import', '--base-name', name, imageTar]);
}

/** Starts containerd on a fresh temp dir, waits for CRI, imports the busybox image. */
export async function startContainerd(options: StartContainerdOptions = {}): Promise<ContainerdNode> {
  const dir = await makeTempDir('e2e-containerd');
  const socketPath = path.join(dir, 'containerd.sock');
  const configPath = path.join(dir, 'config.toml');
  await writeFile(configPath, configToml(dir, options.extraConfig));

  const containerd = startProcess({ name: 'containerd', command: 'containerd', args: ['--config', configPath], logDir: dir });
  const unregister = onProcessExit(() => {
    teardownSync(dir, socketPath, containerd);
  });
  const cri = connectCri(socketPath);
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const problems: string[] = [];
      if (containerd.running()) problems.push(...(await removeAllCriObjects(cri)));
      cri.close();
      await containerd.stop(15_000);
      problems.push(...teardownSync(dir, socketPath, containerd));
      unregister();
      if (problems.length > 0) {
        throw new Error(`containerd node ${dir} was not cleaned up completely:\n${problems.join('\n')}`);
      }
    })();
    return stopped;
  };

  try {
    await waitUntil(async () => (await cri.version({ timeoutMs: 2_000 })).runtime_name === 'containerd', {
      what: `containerd CRI Version on ${socketPath}`,
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      intervalMs: 200,
      process: containerd,
    });
    await importImage(dir, socketPath);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }

  return {
    socketPath,
    endpoint: `unix://${socketPath}`,
    dir,
    image: BUSYBOX_IMAGE,
    process: containerd,
    logTail: (lines) => containerd.logTail(lines),
    stop,
  };
}
