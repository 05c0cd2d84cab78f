import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArtifactError,
  createArtifactClient,
  nodePlatform,
  OCI_INDEX,
  OCI_MANIFEST,
  type ArtifactClient,
  type ArtifactClientOptions,
} from '../../src/artifact/index.js';
import { freeTcpPort, runCommand } from '../../testbed/processes.js';
import { sha256, startCountingProxy, startRegistry, type CountingProxy, type TestRegistry } from '../../testbed/registry.js';
import { pushSeedShapedArtifact, rawGet, rawPutBlob, rawPutManifest, sampleProfile } from '../support/artifact/raw-registry.js';

const SEED_CONFIG_DIGEST = 'sha256:ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356';
/** The OCI 1.1 empty descriptor's digest, as given in the image spec. */
const EMPTY_CONFIG_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

let registry: TestRegistry;
let proxy: CountingProxy;
const tempDirs: string[] = [];
const clients: ArtifactClient[] = [];

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'artifact-store-'));
  tempDirs.push(dir);
  return dir;
}

async function client(options: Partial<ArtifactClientOptions> = {}): Promise<ArtifactClient> {
  const created = createArtifactClient({
    stateDir: options.stateDir ?? (await stateDir()),
    authFile: null,
    registries: { [proxy.host]: { insecure: true }, [registry.host]: { insecure: true } },
    timeouts: { connectMs: 2000, requestMs: 5000 },
    ...options,
  });
  clients.push(created);
  return created;
}

async function storedFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(path.join(dir, 'blobs', 'sha256'))).sort();
  } catch {
    return [];
  }
}

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startCountingProxy(registry.host);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await proxy?.stop();
  await registry?.stop();
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe('pulling from a real registry (distribution 2.8)', () => {
  it('pulls an artifact of the seed shape, made over raw HTTP, byte-identical in 2 requests', async () => {
    const profile = sampleProfile('seed');
    const seed = await pushSeedShapedArtifact(registry.host, 'crio/seccomp', 'v2', profile);
    const dir = await stateDir();
    const c = await client({ stateDir: dir });
    proxy.reset();
    const pulled = await c.pullProfile(`${proxy.host}/crio/seccomp:v2`);
    expect(pulled.bytes.equals(profile)).toBe(true);
    expect(pulled).toMatchObject({
      reference: `${proxy.host}/crio/seccomp:v2`,
      registry: proxy.host,
      repository: 'crio/seccomp',
      manifestDigest: seed.digest,
      imageManifestDigest: seed.digest,
      configMediaType: 'application/vnd.cncf.seccomp-profile.config.v1+json',
      layerDigest: seed.layerDigest,
      layerMediaType: 'application/vnd.oci.image.layer.v1.tar',
      fromCache: 'network',
    });
    expect(proxy.requests).toEqual([`GET /v2/crio/seccomp/manifests/v2`, `GET /v2/crio/seccomp/blobs/${seed.layerDigest}`]);
    // Manifest and layer are stored by digest; the config blob was never needed.
    expect(await storedFiles(dir)).toEqual([seed.digest, seed.layerDigest].map((d) => d.slice(7)).sort());
    expect(SEED_CONFIG_DIGEST).toBe(sha256('{}\n'));

    proxy.reset();
    const again = await c.pullProfile(`${proxy.host}/crio/seccomp:v2`);
    expect(again.fromCache).toBe('memory');
    expect(again.bytes.equals(profile)).toBe(true);
    expect(proxy.requests).toEqual([]);
  });

  it('pushes in the config form: skopeo reads the manifest, the pull gets the file back byte-identical', async () => {
    const dir = await stateDir();
    const file = path.join(dir, 'nginx-1.25.3.json');
    const profile = sampleProfile('push-config');
    await writeFile(file, profile);
    const c = await client();
    const pushed = await c.push({ reference: `${proxy.host}/profiles/nginx:1.25.3`, profile: { file } });
    const raw = await runCommand('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/profiles/nginx:1.25.3`]);
    expect(sha256(Buffer.from(raw))).toBe(pushed.digest);
    const manifest = JSON.parse(raw) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.cncf.seccomp-profile.config.v1+json', digest: SEED_CONFIG_DIGEST, size: 3 },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: sha256(profile),
          size: profile.length,
          annotations: { 'org.opencontainers.image.title': 'nginx-1.25.3.json' },
        },
      ],
    });
    expect(manifest.artifactType).toBeUndefined();
    expect((await rawGet(registry.host, `/v2/profiles/nginx/blobs/${SEED_CONFIG_DIGEST}`)).body.toString()).toBe('{}\n');

    const fresh = await client({ mode: 'strict' });
    const pulled = await fresh.pullProfile(`${proxy.host}/profiles/nginx:1.25.3`);
    expect(pulled.bytes.equals(profile)).toBe(true);
    expect(pulled.manifestDigest).toBe(pushed.digest);
  });

  it('pushes in the OCI 1.1 form (empty config, artifactType) and pulls it back in strict mode', async () => {
    const profile = sampleProfile('push-artifact-type');
    const c = await client();
    const pushed = await c.push({ reference: `${proxy.host}/profiles/typed:v1`, profile, form: 'artifactType' });
    const raw = await runCommand('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/profiles/typed:v1`]);
    expect(sha256(Buffer.from(raw))).toBe(pushed.digest);
    expect(JSON.parse(raw)).toMatchObject({
      artifactType: 'application/vnd.cncf.seccomp-profile.config.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_CONFIG_DIGEST, size: 2 },
      layers: [{ digest: sha256(profile), annotations: { 'org.opencontainers.image.title': 'seccomp.json' } }],
    });
    const pulled = await (await client({ mode: 'strict' })).pullProfile(`${proxy.host}/profiles/typed:v1`);
    expect(pulled.bytes.equals(profile)).toBe(true);
    expect(pulled.artifactType).toBe('application/vnd.cncf.seccomp-profile.config.v1+json');
    expect(pulled.configMediaType).toBe('application/vnd.oci.empty.v1+json');
  });

  it('accepts an untyped artifact in compatible mode only; strict mode rejects it naming the reference', async () => {
    const profile = sampleProfile('untyped');
    const config = Buffer.from('{}');
    const configDigest = await rawPutBlob(registry.host, 'legacy/p', config);
    const layerDigest = await rawPutBlob(registry.host, 'legacy/p', profile);
    await rawPutManifest(
      registry.host,
      'legacy/p',
      'v1',
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.unknown.config.v1+json', digest: configDigest, size: config.length },
        layers: [{ mediaType: 'application/octet-stream', digest: layerDigest, size: profile.length }],
      },
      OCI_MANIFEST,
    );
    const compatible = await (await client()).pullProfile(`${proxy.host}/legacy/p:v1`);
    expect(compatible.bytes.equals(profile)).toBe(true);
    const dir = await stateDir();
    const strict = await client({ mode: 'strict', stateDir: dir });
    const error = await strict.pullProfile(`${proxy.host}/legacy/p:v1`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).reason).toBe('InvalidArtifact');
    expect((error as ArtifactError).message).toBe(
      `pulling "${proxy.host}/legacy/p:v1": strict mode: config media type "application/vnd.unknown.config.v1+json" is not a seccomp profile artifact (application/vnd.cncf.seccomp-profile.config.v1+json)`,
    );
    expect(await storedFiles(dir)).toEqual([]);
  });

  it('resolves an index to the linux entry of this node architecture', async () => {
    const mine = sampleProfile('mine');
    const other = sampleProfile('other arch');
    const platform = nodePlatform();
    const otherArch = platform.architecture === 'amd64' ? 'arm64' : 'amd64';
    const childOf = async (profile: Buffer, tag: string) => {
      const configDigest = await rawPutBlob(registry.host, 'multi/p', Buffer.from('{}\n'));
      const layerDigest = await rawPutBlob(registry.host, 'multi/p', profile);
      return rawPutManifest(
        registry.host,
        'multi/p',
        tag,
        {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.cncf.seccomp-profile.config.v1+json', digest: configDigest, size: 3 },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: profile.length }],
          annotations: { which: tag },
        },
        OCI_MANIFEST,
      );
    };
    const otherChild = await childOf(other, 'other');
    const myChild = await childOf(mine, 'mine');
    const index = await rawPutManifest(
      registry.host,
      'multi/p',
      'v1',
      {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: otherChild.digest, size: otherChild.bytes.length, platform: { os: 'linux', architecture: otherArch } },
          { mediaType: OCI_MANIFEST, digest: myChild.digest, size: myChild.bytes.length, platform: { ...platform } },
        ],
        annotations: { 'seccomp-profile.kubernetes.cri-o.io/POD': 'example/profile:v1' },
      },
      OCI_INDEX,
    );
    const c = await client();
    proxy.reset();
    const pulled = await c.pullProfile(`${proxy.host}/multi/p:v1`);
    expect(pulled.bytes.equals(mine)).toBe(true);
    expect(pulled.manifestDigest).toBe(index.digest);
    expect(pulled.imageManifestDigest).toBe(myChild.digest);
    expect(proxy.requests).toHaveLength(3);

    const annotations = await c.registry.getImageAnnotations(`${proxy.host}/multi/p@${index.digest}`);
    expect(annotations).toEqual({
      digest: index.digest,
      mediaType: OCI_INDEX,
      annotations: { 'seccomp-profile.kubernetes.cri-o.io/POD': 'example/profile:v1' },
      platformManifest: { digest: myChild.digest, annotations: { which: 'mine' } },
      // The config of the platform's manifest (here the seed's `{}` config): the image id it runs as.
      configDigest: 'sha256:ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356',
    });
  });

  it('shares one fetch among 200 concurrent pulls of an uncached reference', async () => {
    const profile = sampleProfile('concurrent');
    const seed = await pushSeedShapedArtifact(registry.host, 'busy/p', 'v1', profile);
    const c = await client();
    proxy.reset();
    const results = await Promise.all(Array.from({ length: 200 }, () => c.pullProfile(`${proxy.host}/busy/p:v1`)));
    expect(results.every((r) => r.bytes.equals(profile) && r.manifestDigest === seed.digest)).toBe(true);
    expect(proxy.requests).toEqual([`GET /v2/busy/p/manifests/v1`, `GET /v2/busy/p/blobs/${seed.layerDigest}`]);
  });

  it('resolves a tag again once its TTL has passed and sees the new content', async () => {
    const first = sampleProfile('ttl first');
    const second = sampleProfile('ttl second');
    await pushSeedShapedArtifact(registry.host, 'ttl/p', 'v1', first);
    // The cache's clock is the test's: a loaded machine cannot stretch the time between pulls.
    let nowMs = 1_000_000;
    const c = await client({ cache: { ttlMs: 300, clock: { now: () => nowMs } } });
    expect((await c.pullProfile(`${proxy.host}/ttl/p:v1`)).bytes.equals(first)).toBe(true);
    await pushSeedShapedArtifact(registry.host, 'ttl/p', 'v1', second);
    nowMs += 299;
    expect((await c.pullProfile(`${proxy.host}/ttl/p:v1`)).bytes.equals(first)).toBe(true);
    nowMs += 2;
    proxy.reset();
    const after = await c.pullProfile(`${proxy.host}/ttl/p:v1`);
    expect(after.bytes.equals(second)).toBe(true);
    expect(after.fromCache).toBe('network');
    expect(proxy.requests.filter((r) => r.includes('/manifests/'))).toHaveLength(1);
  });

  it('bounds the memory cache by bytes: a profile pushed out is read from the store, not the registry', async () => {
    const first = sampleProfile('bytes first');
    const second = sampleProfile('bytes second');
    const a = await pushSeedShapedArtifact(registry.host, 'bytes/a', 'v1', first);
    const b = await pushSeedShapedArtifact(registry.host, 'bytes/b', 'v1', second);
    // Room for one of the two profiles only.
    const c = await client({ cache: { maxBytes: first.length + second.length - 1 } });
    await c.pullProfile(`${proxy.host}/bytes/a@${a.digest}`);
    await c.pullProfile(`${proxy.host}/bytes/b@${b.digest}`);
    proxy.reset();
    expect((await c.pullProfile(`${proxy.host}/bytes/b@${b.digest}`)).fromCache).toBe('memory');
    const evicted = await c.pullProfile(`${proxy.host}/bytes/a@${a.digest}`);
    expect(evicted.fromCache).toBe('store');
    expect(evicted.bytes.equals(first)).toBe(true);
    expect(proxy.requests).toEqual([]);
  });

  it('refetches content whose stored file was corrupted', async () => {
    const profile = sampleProfile('corrupt');
    const seed = await pushSeedShapedArtifact(registry.host, 'corrupt/p', 'v1', profile);
    const dir = await stateDir();
    await (await client({ stateDir: dir })).pullProfile(`${proxy.host}/corrupt/p@${seed.digest}`);
    const layerFile = path.join(dir, 'blobs', 'sha256', seed.layerDigest.slice(7));
    await writeFile(layerFile, '{"defaultAction":"SCMP_ACT_ALLOW"}');
    proxy.reset();
    const pulled = await (await client({ stateDir: dir })).pullProfile(`${proxy.host}/corrupt/p@${seed.digest}`);
    expect(pulled.bytes.equals(profile)).toBe(true);
    expect(pulled.fromCache).toBe('network');
    expect(proxy.requests).toEqual([`GET /v2/corrupt/p/blobs/${seed.layerDigest}`]);
    expect((await readFile(layerFile)).equals(profile)).toBe(true);
  });

  it('tries mirrors in order: a refused connection, a 503 and a 404 fall through, then the first mirror with the content serves', async () => {
    const profile = sampleProfile('mirrored');
    const seed = await pushSeedShapedArtifact(registry.host, 'team/mirrored', 'v1', profile);
    const mirror = await startCountingProxy(registry.host);
    // A mirror without the content: the same registry under a namespace nobody pushed to.
    const empty = `${registry.host}/cache`;
    const deadPort = await startCountingProxy('127.0.0.1:1');
    const deadHost = deadPort.host;
    await deadPort.stop();
    const failing = http.createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const failingHost = `127.0.0.1:${(failing.address() as AddressInfo).port}`;
    try {
      // A loopback port nobody listens on: the upstream exists in name only, and no lookup leaves the machine.
      const upstream = `127.0.0.1:${await freeTcpPort()}`;
      const c = await client({
        registries: {
          [upstream]: { mirrors: [deadHost, failingHost, empty, mirror.host] },
          [deadHost]: { insecure: true },
          [failingHost]: { insecure: true },
          [registry.host]: { insecure: true },
          [mirror.host]: { insecure: true },
        },
        retry: { attempts: 2, baseDelayMs: 10 },
      });
      const pulled = await c.pullProfile(`${upstream}/team/mirrored:v1`);
      expect(pulled.bytes.equals(profile)).toBe(true);
      expect(pulled.registry).toBe(upstream);
      expect(mirror.requests).toEqual([`GET /v2/team/mirrored/manifests/v1`, `GET /v2/team/mirrored/blobs/${seed.layerDigest}`]);
      // Nothing reached the upstream (nothing listens there); without mirrors the pull fails.
      const noMirror = await client({ registries: {} });
      const error = await noMirror.pullProfile(`${upstream}/team/mirrored:v1`).catch((e: unknown) => e);
      expect((error as ArtifactError).reason).toBe('RegistryUnavailable');
    } finally {
      failing.closeAllConnections();
      await new Promise((resolve) => failing.close(resolve));
      await mirror.stop();
    }
  });

  it('answers HEAD, lists referrers through the tag schema fallback, and reports 404 as NotFound', async () => {
    const profile = sampleProfile('referred');
    const seed = await pushSeedShapedArtifact(registry.host, 'refs/p', 'v1', profile);
    const c = await client();
    expect(await c.registry.headManifest(`${proxy.host}/refs/p:v1`)).toEqual({ digest: seed.digest, mediaType: OCI_MANIFEST, size: seed.manifest.length });
    expect(await c.registry.headManifest(`${proxy.host}/refs/p:missing`)).toBeUndefined();
    expect(await c.registry.listReferrers(`${proxy.host}/refs/p`, seed.digest)).toEqual([]);

    const signature = await pushSeedShapedArtifact(registry.host, 'refs/p', 'sig', sampleProfile('a referrer'));
    const descriptor = { mediaType: OCI_MANIFEST, digest: signature.digest, size: signature.manifest.length, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' };
    await rawPutManifest(registry.host, 'refs/p', `sha256-${seed.digest.slice(7)}`, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [descriptor] }, OCI_INDEX);
    proxy.reset();
    expect(await c.registry.listReferrers(`${proxy.host}/refs/p`, seed.digest)).toEqual([descriptor]);
    // The registry answered 404 to the referrers API above; it is not asked again.
    expect(proxy.requests).toEqual([`GET /v2/refs/p/manifests/sha256-${seed.digest.slice(7)}`]);
    expect(await c.registry.listReferrers(`${proxy.host}/refs/p`, seed.digest, { artifactType: 'other' })).toEqual([]);

    const error = await c.registry.getManifest(`${proxy.host}/refs/p:missing`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).reason).toBe('NotFound');
    expect((error as ArtifactError).message).toBe(`pulling "${proxy.host}/refs/p:missing": manifest unknown (404)`);
  });
});

describe('with the registry gone', () => {
  it('serves a digest-pinned reference from the store with 0 requests; a tag fails closed unless allowStaleTagOnError', async () => {
    // The client reaches the registry through two proxies; stopping the inner one takes the
    // registry away from it while the outer one still counts what the client asks for.
    const inner = await startCountingProxy(registry.host);
    const front = await startCountingProxy(inner.host);
    const dir = await stateDir();
    const profile = sampleProfile('offline');
    const registries = { [front.host]: { insecure: true } };
    let seed: Awaited<ReturnType<typeof pushSeedShapedArtifact>>;
    try {
      seed = await pushSeedShapedArtifact(registry.host, 'offline/p', 'v1', profile);
      const first = createArtifactClient({ stateDir: dir, authFile: null, registries, allowStaleTagOnError: true });
      clients.push(first);
      await first.pullProfile(`${front.host}/offline/p:v1`);
      await first.pullProfile(`${front.host}/offline/p@${seed.digest}`);
    } finally {
      await inner.stop();
    }
    front.reset();
    const timeouts = { connectMs: 1000, requestMs: 2000 };
    const restarted = createArtifactClient({ stateDir: dir, authFile: null, registries, timeouts, retry: { attempts: 1 } });
    clients.push(restarted);
    const pinned = await restarted.pullProfile(`${front.host}/offline/p@${seed.digest}`);
    expect(pinned.bytes.equals(profile)).toBe(true);
    expect(pinned.fromCache).toBe('store');
    expect(front.requests).toEqual([]);

    const closed = await restarted.pullProfile(`${front.host}/offline/p:v1`).catch((e: unknown) => e);
    expect((closed as ArtifactError).reason).toBe('RegistryUnavailable');
    expect((closed as ArtifactError).message).toMatch(new RegExp(`^pulling "${front.host}/offline/p:v1": .*\\(502\\)`));

    const open = createArtifactClient({ stateDir: dir, authFile: null, registries, timeouts, retry: { attempts: 1 }, allowStaleTagOnError: true });
    clients.push(open);
    try {
      const stale = await open.pullProfile(`${front.host}/offline/p:v1`);
      expect(stale.bytes.equals(profile)).toBe(true);
      expect(stale.manifestDigest).toBe(seed.digest);
      expect(stale.fromCache).toBe('store');
      // The stand-in is not cached as a fresh resolution: the next pull asks the registry again.
      front.reset();
      await open.pullProfile(`${front.host}/offline/p:v1`);
      expect(front.requests).toEqual([`GET /v2/offline/p/manifests/v1`]);
    } finally {
      await front.stop();
    }
  });
});
