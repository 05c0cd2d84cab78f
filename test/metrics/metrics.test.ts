import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactError } from '../../src/artifact/index.js';
import { createContainerInjector } from '../../src/injector/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { callClass, parseListen, pullErrorReason, ShimMetrics, startMetricsServer, type MetricsServer } from '../../src/metrics/index.js';
import { ProfileError } from '../../src/seccomp/index.js';
import { makeTempDir, removeDirSync } from '../../testbed/processes.js';
import { createContainerRequest, metricSample } from '../support/create-container-request.js';

const KEY = 'seccomp-profile.kubernetes.cri-o.io';
const DIGEST = `sha256:${'a'.repeat(64)}`;



let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('metrics');
});
afterAll(() => removeDirSync(dir));

describe('metrics: each outcome counted once, with its labels', () => {
  it('CreateContainer outcomes as the injector reaches them', async () => {
    const metrics = new ShimMetrics({ cacheEntries: () => 7, stateDir: dir });
    const interceptor = createContainerInjector({
      settings: { defaultRuntime: 'runc', runtimes: { runc: { allowedAnnotations: [KEY] }, locked: { allowedAnnotations: [] } }, defaultCapabilities: [] },
      runtime: { sandboxHandler: async (id) => (id === 'locked' ? 'locked' : '') },
      images: { annotationsOf: async () => ({}) },
      profiles: {
        prepare: async (reference) => {
          if (reference.endsWith(':missing')) throw new ArtifactError('NotFound', 'manifest unknown (404)');
          if (reference.endsWith(':down')) throw new ArtifactError('RegistryUnavailable', 'connection refused');
          if (reference.endsWith(':bad')) throw new ProfileError(reference, 'syscalls', 'not a list');
          return { path: '/state/profiles/x.json', manifestDigest: DIGEST, publishedLength: 10, applied: `${reference}@${DIGEST}` };
        },
      },
      logger: silentLogger(),
      observer: metrics,
    });
    const call = (message: Buffer) =>
      interceptor.intercept({ method: '/runtime.v1.RuntimeService/CreateContainer', message, requestId: 'r', signal: new AbortController().signal });
    await call(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: 'reg/p:v1' } }));
    await call(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: 'reg/p:v1' } }));
    await call(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: 'reg/p:missing' } }));
    await call(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: 'reg/p:down' } }));
    await call(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: 'reg/p:bad' } }));
    await call(createContainerRequest({ podAnnotations: {} }));
    await call(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: 'reg/p:v1' }, securityContext: { seccomp: { profile_type: 'RuntimeDefault' } } }));
    await call(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: 'reg/p:v1' }, podSandboxId: 'locked' }));

    const text = await metrics.registry.metrics();
    const m = (series: string) => metricSample(text, `seccomp_oci_shim_${series}`);
    expect(m('create_container_total{outcome="applied"}')).toBe(2);
    // The missing artifact and the invalid profile: an artifact that cannot be used, either way.
    expect(m('create_container_total{outcome="rejected",reason="ErrImagePull"}')).toBe(2);
    expect(m('create_container_total{outcome="rejected",reason="RegistryUnavailable"}')).toBe(1);
    expect(m('create_container_total{outcome="rejected",reason="other"}')).toBeUndefined();
    expect(m('create_container_total{outcome="no_annotation"}')).toBe(1);
    expect(m('create_container_total{outcome="not_considered"}')).toBe(1);
    expect(m('create_container_total{outcome="not_allowed"}')).toBe(1);
    expect(m('profile_pull_errors_total{reason="registry_unavailable"}')).toBe(1);
    expect(m('profile_pull_errors_total{reason="security_profile_invalid"}')).toBe(1);
    expect(m('profile_pull_errors_total{reason="other"}')).toBe(1);
    expect(m('cache_entries')).toBe(7);
  });

  it('pulls, signatures, proxy calls and gc', async () => {
    const metrics = new ShimMetrics({ cacheEntries: () => 0, stateDir: dir });
    metrics.profilePulled('success', 'registry', 0.02);
    metrics.profilePulled('success', 'memory', 0.00001);
    metrics.profilePulled('success', 'memory', 0.00001);
    metrics.profilePulled('error', 'registry', 0.5);
    metrics.signatureVerification('verified');
    metrics.signatureVerification('failed');
    metrics.connectionOpened();
    metrics.connectionOpened();
    metrics.connectionClosed();
    for (const method of ['/runtime.v1.RuntimeService/Version', '/runtime.v1.RuntimeService/ListContainers', '/runtime.v1.ImageService/ListImages', '/foo.Bar/Baz']) {
      metrics.callStarted(method);
    }
    metrics.runtimeUnavailable();
    metrics.gcRun('skipped');
    const text = await metrics.registry.metrics();
    const m = (series: string) => metricSample(text, `seccomp_oci_shim_${series}`);
    expect(m('profile_pulls_total{result="success",source="registry"}')).toBe(1);
    expect(m('profile_pulls_total{result="success",source="memory"}')).toBe(2);
    expect(m('profile_pulls_total{result="error",source="registry"}')).toBe(1);
    expect(m('profile_pull_duration_seconds_count{cached="true"}')).toBe(2);
    expect(m('profile_pull_duration_seconds_count{cached="false"}')).toBe(1);
    expect(m('profile_pull_duration_seconds_bucket{le="0.05",cached="false"}')).toBe(1);
    expect(m('profile_pull_duration_seconds_bucket{le="0.01",cached="false"}')).toBe(0);
    expect(m('signature_verifications_total{result="verified"}')).toBe(1);
    expect(m('signature_verifications_total{result="failed"}')).toBe(1);
    expect(m('proxy_connections')).toBe(1);
    expect(m('proxy_connections_total')).toBe(2);
    expect(m('proxy_calls_total{class="runtime"}')).toBe(2);
    expect(m('proxy_calls_total{class="image"}')).toBe(1);
    expect(m('proxy_calls_total{class="other"}')).toBe(1);
    expect(m('runtime_unavailable_total')).toBe(1);
    expect(m('gc_runs_total{result="skipped"}')).toBe(1);
    expect(m('store_profiles')).toBe(0);
    expect(m('store_bytes')).toBe(0);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('maps causes to KEP-6061 pull error reasons and methods to classes', () => {
    expect(pullErrorReason(new ArtifactError('Unauthorized', 'x'))).toBe('unauthenticated');
    expect(pullErrorReason(new ArtifactError('TooLarge', 'x'))).toBe('security_profile_invalid');
    expect(pullErrorReason(new Error('x'))).toBe('other');
    expect(callClass('/runtime.v1.ImageService/PullImage')).toBe('image');
    expect(callClass('/runtime.v1alpha2.RuntimeService/Version')).toBe('other');
  });
});

describe('metrics listener', () => {
  let server: MetricsServer;
  let ready: string | undefined;

  const get = (target: { socketPath?: string; port?: number; host?: string }, urlPath: string) =>
    new Promise<{ status: number; body: string; type: string }>((resolve, reject) => {
      http
        .get({ ...target, path: urlPath }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body, type: String(response.headers['content-type']) }));
        })
        .on('error', reject);
    });

  beforeAll(async () => {
    const metrics = new ShimMetrics({ cacheEntries: () => 3, stateDir: dir });
    server = await startMetricsServer({ listen: '127.0.0.1:0', registry: metrics.registry, notReady: async () => ready, logger: silentLogger() });
  });
  afterAll(() => server.stop());

  it('serves /metrics in the text format and /readyz by the runtime answering', async () => {
    const [host, port] = server.address.split(':');
    const metrics = await get({ host, port: Number(port) }, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metricSample(metrics.body, 'seccomp_oci_shim_cache_entries')).toBe(3);
    ready = undefined;
    expect(await get({ host, port: Number(port) }, '/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
    ready = 'runtime does not answer: connect ENOENT';
    expect(await get({ host, port: Number(port) }, '/readyz')).toMatchObject({ status: 503, body: 'not ready: runtime does not answer: connect ENOENT\n' });
    expect((await get({ host, port: Number(port) }, '/other')).status).toBe(404);
  });

  it('listens on a unix socket path too, and reads addresses strictly', async () => {
    const socketPath = path.join(dir, 'metrics.sock');
    const metrics = new ShimMetrics({ cacheEntries: () => 0, stateDir: dir });
    const unix = await startMetricsServer({ listen: socketPath, registry: metrics.registry, notReady: async () => undefined, logger: silentLogger() });
    try {
      expect((await get({ socketPath }, '/readyz')).status).toBe(200);
    } finally {
      await unix.stop();
    }
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(() => parseListen('9464')).toThrow(/expected host:port or an absolute unix socket path/);
    expect(() => parseListen('localhost:99999')).toThrow(/metrics listen "localhost:99999"/);
  });
});
