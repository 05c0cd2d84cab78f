import { startPodmanService, type PodmanService } from './podman-service.js';
import {
  engineDescription,
  onPath,
  REGISTRY_MODE_ENV,
  REGISTRY_NETWORK_ENV,
  TEST_RUN_ENV,
} from '../../testbed/registry-engine.js';
import { missingOnLinux, mustRunEverything } from './requirements.js';

/**
 * vitest's global setup: decides once per run where the test registry runs and tells the test
 * workers through the environment (registry-engine.ts). An engine testcontainers finds is used
 * as it is (a laptop's Docker, with Ryuk). Failing that, on Linux as root with podman installed
 * (CI here), podman's API is started for the run and stopped after it, with its containers.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const strict = mustRunEverything();
  let service: PodmanService | undefined;
  let engine: string | undefined;
  if (process.env[REGISTRY_MODE_ENV] !== 'process') {
    // testcontainers keeps the configuration it read first: once it looked here, this process
    // cannot point it at a service started afterwards, so only the test workers use it then.
    engine = await engineDescription().catch(() => undefined);
    if (engine === undefined && process.env.DOCKER_HOST === undefined && missingOnLinux({ root: true, commands: ['podman'] }) === undefined) {
      try {
        service = await startPodmanService(String(process.pid));
        Object.assign(process.env, {
          DOCKER_HOST: service.dockerHost,
          // Ryuk's image cannot be pulled here; the service's stop removes the run's containers.
          TESTCONTAINERS_RYUK_DISABLED: 'true',
          // testcontainers takes this machine for a container and would look for a gateway otherwise.
          TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1',
          // The service runs here, as root: containers can share the host's network, which skips
          // podman's bridge and port publishing (1.3 s more per container: bench/test-registry.ts).
          [REGISTRY_NETWORK_ENV]: 'host',
        });
        engine = service.description;
      } catch (error) {
        await service?.stop();
        service = undefined;
        if (strict) throw error;
        console.warn(`podman's API service did not start (${(error as Error).message}); the registry runs as a process`);
      }
    }
  }
  const teardown = async (): Promise<void> => {
    await service?.stop();
  };
  try {
    if (engine !== undefined) {
      process.env[REGISTRY_MODE_ENV] = 'container';
      process.env[TEST_RUN_ENV] = String(process.pid);
      console.info(`test registry: a container through testcontainers on ${engine}`);
    } else {
      // A run told to use a process (npm run test:unit, which starts no registry) is not judged.
      if (strict && process.env[REGISTRY_MODE_ENV] !== 'process') {
        throw new Error(
          `CI on Linux as root runs the registry tests through testcontainers, but no Docker-compatible engine is reachable and ${
            onPath('podman') ? "podman's API service could not be started" : 'podman is not installed (scripts/install-deps.sh installs it)'
          }`,
        );
      }
      process.env[REGISTRY_MODE_ENV] = 'process';
      console.info('test registry: no Docker-compatible engine reachable; docker-registry runs as a process');
    }
    const missing = missingOnLinux({ root: true });
    if (missing !== undefined) {
      console.info(`suites that start containerd and runc and check seccomp in the kernel need ${missing}: they are skipped`);
    }
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
