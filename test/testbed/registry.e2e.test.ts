import { describe, expect, it } from 'vitest';
import { pushSeedShapedArtifact, rawGet, sampleProfile } from '../support/artifact/raw-registry.js';
import { canConnect } from '../../testbed/processes.js';
import { registryBackend } from '../../testbed/registry-engine.js';
import { startRegistry, type RegistryOptions, type TestRegistry } from '../../testbed/registry.js';
import { mustRunEverything } from '../support/requirements.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const backend = await registryBackend();

/** Pushes an artifact, reads its manifest back by tag, and checks the port is closed after `stop`. */
async function servesThenStops(registry: TestRegistry): Promise<void> {
  try {
    const pushed = await pushSeedShapedArtifact(registry.host, 'helper/p', 'v1', sampleProfile('helper'));
    const read = await rawGet(registry.host, '/v2/helper/p/manifests/v1', OCI_MANIFEST);
    expect(read.status).toBe(200);
    expect(read.headers['docker-content-digest']).toBe(pushed.digest);
    expect(read.body.equals(pushed.manifest)).toBe(true);
  } finally {
    await registry.stop();
  }
  const [host = '', port = ''] = registry.host.split(':');
  expect(await canConnect({ host, port: Number(port) })).toBe(false);
}

async function started(options: RegistryOptions): Promise<TestRegistry> {
  const registry = await startRegistry(options);
  expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(registry.url).toBe(`http://${registry.host}`);
  return registry;
}

describe('startRegistry (testbed/registry.ts)', () => {
  it('runs the registry where the run decided: a container when an engine is reachable, else a process', async () => {
    const registry = await started({});
    expect(registry.container !== undefined).toBe(backend.kind === 'container');
    expect(registry.process !== undefined).toBe(backend.kind === 'process');
    await servesThenStops(registry);
  });

  it('runs it as a process when asked', async () => {
    const registry = await started({ runAs: 'process' });
    expect(registry.process?.running()).toBe(true);
    expect(registry.container).toBeUndefined();
    await servesThenStops(registry);
  });

  const noEngine = backend.kind === 'process' ? backend.why : undefined;
  if (noEngine !== undefined && mustRunEverything()) throw new Error(`CI on Linux as root runs the registry in a container, but ${noEngine}`);
  it.skipIf(noEngine !== undefined)("runs it in a container on the engine's bridge with its port published, as on a laptop", async () => {
    const registry = await started({ runAs: 'published-port' });
    expect(registry.container).toBeDefined();
    expect(registry.process).toBeUndefined();
    await servesThenStops(registry);
  });
});
