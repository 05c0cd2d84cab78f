import { createHash } from 'node:crypto';
import { accessSync, constants, copyFileSync, createWriteStream, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { GenericContainer, getContainerRuntimeClient, ImageName, Wait, type StartedTestContainer } from 'testcontainers';
import { makeTempDir, removeDirSync, runCommand } from './processes.js';

/**
 * Where the test registry runs: in a container through testcontainers when a Docker-compatible
 * engine is reachable, as a plain process otherwise. Decided once per process; tests only see
 * `startRegistry` (registry.ts).
 */

/** `container` or `process`: forces the choice (set by the global setup after it decided, or by hand). */
export const REGISTRY_MODE_ENV = 'SECCOMP_OCI_SHIM_TEST_REGISTRY';
/** `host` when the engine shares this machine's network namespace (the podman service the global setup starts). */
export const REGISTRY_NETWORK_ENV = 'SECCOMP_OCI_SHIM_TEST_NETWORK';
/** The pid of the test run that owns the containers; they carry it as a label so the run can remove them. */
export const TEST_RUN_ENV = 'SECCOMP_OCI_SHIM_TEST_RUN';
export const TEST_RUN_LABEL = 'seccomp-oci-shim.test-run';

/** Distribution 2.8 as published on Docker Hub: what a laptop without Debian's package pulls. */
export const UPSTREAM_REGISTRY_IMAGE = 'registry:2.8.3';
/** Where the registry's files go inside its container. */
export const CONTAINER_CONFIG_DIR = '/etc/docker/registry';

export type RegistryBackend =
  | { kind: 'container'; engine: string; network: 'host' | 'bridge' }
  | { kind: 'process'; why: string };

let decided: Promise<RegistryBackend> | undefined;

/** The backend for this process, logged once. */
export function registryBackend(): Promise<RegistryBackend> {
  decided ??= decide().then((backend) => {
    console.info(
      backend.kind === 'container'
        ? `test registry: a container through testcontainers (${backend.engine}, ${backend.network} network)`
        : `test registry: a docker-registry process (${backend.why})`,
    );
    return backend;
  });
  return decided;
}

async function decide(): Promise<RegistryBackend> {
  const forced = process.env[REGISTRY_MODE_ENV];
  if (forced === 'process') return { kind: 'process', why: `${REGISTRY_MODE_ENV}=process` };
  if (forced !== undefined && forced !== 'container') {
    throw new Error(`${REGISTRY_MODE_ENV}=${forced}: expected "container" or "process"`);
  }
  try {
    return { kind: 'container', engine: await engineDescription(), network: process.env[REGISTRY_NETWORK_ENV] === 'host' ? 'host' : 'bridge' };
  } catch (error) {
    if (forced === 'container') throw new Error(`${REGISTRY_MODE_ENV}=container, but ${(error as Error).message}`);
    return { kind: 'process', why: 'no Docker-compatible engine reachable' };
  }
}

/** The engine testcontainers finds (DOCKER_HOST, ~/.testcontainers.properties, the usual sockets), or an error saying none was. */
export async function engineDescription(): Promise<string> {
  let client;
  try {
    client = await getContainerRuntimeClient();
  } catch (error) {
    throw new Error(`no Docker-compatible engine is reachable (${(error as Error).message})`);
  }
  const runtime = client.info.containerRuntime;
  return `${runtime.operatingSystem} ${runtime.serverVersion} at ${process.env.DOCKER_HOST ?? runtime.host}`;
}

/** The first executable `name` on PATH, if any. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Absolute paths of the shared objects `ldd` says the binary loads (the loader included). */
async function sharedObjects(binary: string): Promise<string[]> {
  const output = await runCommand('ldd', [binary]);
  return [...output.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)].map((match) => match[1]!);
}

const DOCKERFILE = 'FROM scratch\nCOPY rootfs/ /\nENTRYPOINT ["/usr/bin/docker-registry"]\n';

let image: Promise<string> | undefined;

/**
 * The registry image. Where Debian's docker-registry is installed (CI here, where no image can
 * be pulled): a `FROM scratch` image of that binary and the libc it links, tagged by a hash of
 * its contents so that an unchanged binary is built once per engine. Elsewhere: Docker Hub's.
 */
export function registryImage(): Promise<string> {
  image ??= prepareImage();
  return image;
}

async function prepareImage(): Promise<string> {
  const binary = process.platform === 'linux' ? onPath('docker-registry') : undefined;
  if (!binary) return UPSTREAM_REGISTRY_IMAGE;
  const files = [binary, ...(await sharedObjects(binary))];
  const hash = createHash('sha256').update(DOCKERFILE);
  for (const file of files) hash.update(`${file}\n`).update(readFileSync(file));
  const name = `localhost/seccomp-oci-shim/test-registry:${hash.digest('hex').slice(0, 16)}`;
  const client = await getContainerRuntimeClient();
  if (await client.image.exists(ImageName.fromString(name))) return name;
  const context = await makeTempDir('registry-image');
  try {
    for (const file of files) {
      // Copied under the path the binary asks for, with the content of what that path links to.
      const target = path.join(context, 'rootfs', file === binary ? '/usr/bin/docker-registry' : file);
      mkdirSync(path.dirname(target), { recursive: true });
      copyFileSync(realpathSync(file), target);
    }
    writeFileSync(path.join(context, 'Dockerfile'), DOCKERFILE);
    await GenericContainer.fromDockerfile(context).build(name, { deleteOnExit: false });
  } finally {
    removeDirSync(context);
  }
  return name;
}

export interface RegistryContainerOptions {
  /** The registry's config for the address it should listen on. */
  config: (addr: string) => string;
  /** Host files copied to CONTAINER_CONFIG_DIR under their base names. */
  files: string[];
  /** A free port of 127.0.0.1 to listen on, for the host network (ignored on a bridge). */
  hostPort: () => Promise<number>;
  /** The container's output goes here. */
  logPath: string;
}

export interface RegistryContainer {
  host: string;
  container: StartedTestContainer;
  stop(): Promise<void>;
}

/**
 * Starts the registry in a container and waits for its "listening on" line. On the host network
 * it listens on a free port of 127.0.0.1 itself (a new one if another process took it meanwhile);
 * on a bridge it listens on 5000 and the engine publishes that port.
 */
export async function startRegistryContainer(backend: RegistryBackend & { kind: 'container' }, options: RegistryContainerOptions): Promise<RegistryContainer> {
  const name = await registryImage();
  const log = createWriteStream(options.logPath, { flags: 'a' });
  try {
    for (let attempt = 1; ; attempt += 1) {
      const port = backend.network === 'host' ? await options.hostPort() : 5000;
      const addr = backend.network === 'host' ? `127.0.0.1:${port}` : `:${port}`;
      const run = process.env[TEST_RUN_ENV];
      let container = new GenericContainer(name)
        .withCommand(['serve', `${CONTAINER_CONFIG_DIR}/config.yml`])
        .withCopyContentToContainer([{ content: options.config(addr), target: `${CONTAINER_CONFIG_DIR}/config.yml` }])
        .withCopyFilesToContainer(options.files.map((file) => ({ source: file, target: `${CONTAINER_CONFIG_DIR}/${path.basename(file)}` })))
        .withLogConsumer((stream: Readable) => stream.pipe(log, { end: false }))
        .withWaitStrategy(Wait.forLogMessage(/listening on/))
        .withStartupTimeout(60_000);
      if (run) container = container.withLabels({ [TEST_RUN_LABEL]: run });
      container = backend.network === 'host' ? container.withNetworkMode('host') : container.withExposedPorts(port);
      let started: StartedTestContainer;
      try {
        started = await container.start();
      } catch (error) {
        const inUse = /address already in use/;
        if (attempt < 5 && backend.network === 'host' && (inUse.test(String(error)) || inUse.test(readFileSync(options.logPath, 'utf8')))) continue;
        throw new Error(`registry container (${name}) did not start: ${(error as Error).message}; log ${options.logPath}`);
      }
      // Port publishing answers on 127.0.0.1 as well as on "localhost"; test certificates name 127.0.0.1.
      const reachable = started.getHost() === 'localhost' ? '127.0.0.1' : started.getHost();
      const host = backend.network === 'host' ? addr : `${reachable}:${started.getMappedPort(port)}`;
      return {
        host,
        container: started,
        async stop() {
          // Its data is thrown away with it: nothing to wait for.
          await started.stop({ timeout: 0 });
          log.end();
        },
      };
    }
  } catch (error) {
    log.end();
    throw error;
  }
}
