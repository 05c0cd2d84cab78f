import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killQuietly, makeTempDir, removeDirSync, startProcess, waitUntil, type ManagedProcess } from '../../testbed/processes.js';
import { TEST_RUN_LABEL } from '../../testbed/registry-engine.js';

/**
 * podman's Docker-compatible API on a socket of the test run's own, for testcontainers where no
 * other engine is reachable (CI here: root, Linux, no Docker). Images and containers live in a
 * storage of the project's own under the temp dir, kept between runs so the registry image is
 * built once; the run removes its own containers (Ryuk, testcontainers' reaper, is off: its
 * image cannot be pulled here).
 */

/** The settings podman needs here; named by CONTAINERS_CONF for the service only. */
export const CONTAINERS_CONF = fileURLToPath(new URL('./containers.conf', import.meta.url));
const STORAGE = path.join(os.tmpdir(), 'seccomp-oci-shim-podman');
const TESTCONTAINERS_LABEL = 'org.testcontainers=true';

export interface PodmanService {
  /** `unix:///...`, for DOCKER_HOST. */
  dockerHost: string;
  /** What answers, for the log. */
  description: string;
  process: ManagedProcess;
  /** Removes the run's containers (by label), then stops the service. */
  stop(): Promise<void>;
}

interface ContainerSummary {
  Id: string;
  Labels?: Record<string, string> | null;
}

/** One Docker API call over the unix socket. */
function api(socketPath: string, method: string, pathAndQuery: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ socketPath, method, path: pathAndQuery, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.on('timeout', () => request.destroy(new Error(`${method} ${pathAndQuery}: no answer from podman in 30 s`)));
    request.end();
  });
}

async function listContainers(socketPath: string, labels: string[]): Promise<ContainerSummary[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: labels }));
  const { status, body } = await api(socketPath, 'GET', `/containers/json?all=true&filters=${filters}`);
  if (status !== 200) throw new Error(`listing containers labelled ${labels.join(', ')}: podman answered ${status}: ${body}`);
  return JSON.parse(body) as ContainerSummary[];
}

async function removeContainers(socketPath: string, containers: ContainerSummary[]): Promise<void> {
  for (const { Id } of containers) {
    const { status, body } = await api(socketPath, 'DELETE', `/containers/${Id}?force=true&v=true`);
    if (status !== 204 && status !== 200 && status !== 404) throw new Error(`removing container ${Id}: podman answered ${status}: ${body}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Starts the service for the run whose pid labels its containers, after removing what dead runs left. */
export async function startPodmanService(run: string): Promise<PodmanService> {
  const dir = await makeTempDir('podman');
  const socketPath = path.join(dir, 'podman.sock');
  const proc = startProcess({
    name: 'podman-service',
    command: 'podman',
    args: [
      '--root', path.join(STORAGE, 'root'),
      '--runroot', path.join(STORAGE, 'runroot'),
      '--tmpdir', path.join(STORAGE, 'tmp'),
      'system', 'service', '--time=0', `unix://${socketPath}`,
    ],
    logDir: dir,
    env: { ...process.env, CONTAINERS_CONF },
  });
  const stop = async (): Promise<void> => {
    try {
      if (proc.running()) await removeContainers(socketPath, await listContainers(socketPath, [TESTCONTAINERS_LABEL, `${TEST_RUN_LABEL}=${run}`]));
    } finally {
      await proc.stop();
      removeDirSync(dir);
    }
  };
  try {
    await waitUntil(async () => (await api(socketPath, 'GET', '/_ping')).status === 200, { what: `podman's API on ${socketPath}`, process: proc });
    // A run killed before its teardown leaves its containers running (conmon outlives the service).
    const left = (await listContainers(socketPath, [TESTCONTAINERS_LABEL, TEST_RUN_LABEL])).filter((c) => {
      const owner = Number(c.Labels?.[TEST_RUN_LABEL]);
      return Number.isInteger(owner) && owner > 0 && !alive(owner);
    });
    await removeContainers(socketPath, left);
    const version = JSON.parse((await api(socketPath, 'GET', '/version')).body) as { Version?: string };
    const dockerHost = `unix://${socketPath}`;
    return { dockerHost, description: `podman ${version.Version} at ${dockerHost} (started for this run)`, process: proc, stop };
  } catch (error) {
    await stop().catch(() => killQuietly(proc.pid, 'SIGKILL'));
    throw error;
  }
}
