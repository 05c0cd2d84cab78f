import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { profileLayerOf } from '../../src/artifact/artifact-rules.js';
import { parseChallenges } from '../../src/artifact/auth.js';
import { CredentialStore } from '../../src/artifact/credentials.js';
import { parseManifestJson } from '../../src/artifact/descriptor.js';
import { ArtifactError, criErrorWord, digestOf, nodePlatform, selectPlatformManifest } from '../../src/artifact/index.js';
import { profileFromLayer } from '../../src/artifact/profile-layer.js';
import { retryAfterMs } from '../../src/artifact/registry-client.js';
import { ContentStore } from '../../src/artifact/store.js';
import { tarBuffer } from '../../testbed/images.js';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'artifact-unit-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown> | (() => unknown)): Promise<ArtifactError> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ArtifactError);
  return error as ArtifactError;
}

describe('WWW-Authenticate', () => {
  it('parses bearer and basic challenges, quoted and bare values, several in one header', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull' } },
    ]);
    expect(parseChallenges('Basic realm="a \\"quoted\\" realm", Bearer realm=https://x/t, error=insufficient_scope')).toEqual([
      { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', error: 'insufficient_scope' } },
    ]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    const now = Date.parse('2024-02-26T09:03:30Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Mon, 26 Feb 2024 09:03:40 GMT', now)).toBe(10_000);
    expect(retryAfterMs('Mon, 26 Feb 2024 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('credentials from a docker config file', () => {
  it('matches hosts, Docker Hub aliases, path prefixes and wildcards, most specific first', async () => {
    const file = path.join(await tempDir(), 'config.json');
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    await writeFile(
      file,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hub:hubpw') },
          'registry.example:5000': { username: 'reg', password: 'regpw' },
          'registry.example:5000/team': { auth: b64('team:teampw') },
          '*.corp.example': { identitytoken: 'refresh' },
          'exact.corp.example': { auth: b64('exact:pw:with:colons') },
        },
      }),
    );
    const store = new CredentialStore(file);
    expect(await store.lookup('docker.io', 'library/ubuntu')).toEqual({ username: 'hub', password: 'hubpw' });
    expect(await store.lookup('registry.example:5000', 'other/p')).toEqual({ username: 'reg', password: 'regpw' });
    expect(await store.lookup('registry.example:5000', 'team/p')).toEqual({ username: 'team', password: 'teampw' });
    expect(await store.lookup('registry.example:5000', 'teamster/p')).toEqual({ username: 'reg', password: 'regpw' });
    expect(await store.lookup('a.corp.example', 'p')).toEqual({ identityToken: 'refresh' });
    expect(await store.lookup('exact.corp.example', 'p')).toEqual({ username: 'exact', password: 'pw:with:colons' });
    expect(await store.lookup('a.b.corp.example', 'p')).toBeUndefined();
    expect(await store.lookup('registry.example', 'p')).toBeUndefined();

    // The file is read again when it changes.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeFile(file, JSON.stringify({ auths: { 'docker.io': { username: 'new', password: 'pw' } } }));
    expect(await store.lookup('docker.io', 'library/ubuntu')).toEqual({ username: 'new', password: 'pw' });
  });

  it('treats a missing file as anonymous and a malformed one as an error naming it', async () => {
    const dir = await tempDir();
    expect(await new CredentialStore(path.join(dir, 'absent.json')).lookup('docker.io', 'x')).toBeUndefined();
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{"auths": {"h": {"auth": "bm9jb2xvbg=="}}}');
    const error = await rejection(new CredentialStore(bad).lookup('h', 'x'));
    expect(error.reason).toBe('InvalidConfig');
    expect(error.message).toBe(`auth file ${bad}: auths["h"].auth is not base64 of "user:password"`);
  });
});

describe('platform selection', () => {
  const entry = (architecture: string, variant?: string, os = 'linux') => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: digestOf(`${os}/${architecture}/${variant ?? ''}`),
    size: 1,
    platform: { os, architecture, ...(variant ? { variant } : {}) },
  });

  it("maps Node's arch names and picks the best variant", () => {
    expect(nodePlatform('x64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(nodePlatform('arm64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(nodePlatform('ppc64')).toEqual({ os: 'linux', architecture: 'ppc64le' });
    const all = [entry('amd64', undefined, 'windows'), entry('arm', 'v6'), entry('arm', 'v7'), entry('arm64'), entry('amd64')];
    expect(selectPlatformManifest(all, { os: 'linux', architecture: 'amd64' })).toBe(all[4]);
    expect(selectPlatformManifest(all, { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(all[3]);
    expect(selectPlatformManifest(all, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(all[2]);
    expect(selectPlatformManifest(all, { os: 'linux', architecture: 'arm', variant: 'v6' })).toBe(all[1]);
    expect(selectPlatformManifest([entry('arm', 'v7')], { os: 'linux', architecture: 'arm', variant: 'v6' })).toBeUndefined();
    expect(selectPlatformManifest(all, { os: 'linux', architecture: 's390x' })).toBeUndefined();
  });
});

describe('the profile inside a layer', () => {
  const json = Buffer.from('{"defaultAction":"SCMP_ACT_ERRNO"}\n');

  it('returns a raw layer as it is, unpacks a tar with one .json file, gzip-compressed or not', async () => {
    expect((await profileFromLayer(json, 1024)).equals(json)).toBe(true);
    const tar = await tarBuffer([{ name: 'profiles', type: 'directory' }, { name: 'profiles/README', content: Buffer.from('x') }, { name: 'profiles/seccomp.json', content: json }]);
    expect((await profileFromLayer(tar, 1 << 20)).equals(json)).toBe(true);
    expect((await profileFromLayer(gzipSync(tar), 1 << 20)).equals(json)).toBe(true);
    expect((await profileFromLayer(gzipSync(json), 1024)).equals(json)).toBe(true);
  });

  it('refuses a tar without exactly one .json file, and gzip that inflates past the limit', async () => {
    const two = await tarBuffer([{ name: 'a.json', content: json }, { name: 'b.json', content: json }]);
    expect((await rejection(profileFromLayer(two, 1 << 20))).message).toBe('layer tar archive must hold exactly one .json file, it holds 2 (files: a.json, b.json)');
    const bomb = gzipSync(Buffer.alloc(10 << 20));
    const error = await rejection(profileFromLayer(bomb, 1 << 20));
    expect(error.reason).toBe('TooLarge');
    expect(error.message).toBe('layer decompresses to more than the limit of 1048576 bytes');
  });
});

describe('artifact rules', () => {
  const layer = { mediaType: 'application/x-anything', digest: digestOf('l'), size: 1 };
  const manifest = (configMediaType: string, layers: unknown[], artifactType?: string) =>
    parseManifestJson(
      { schemaVersion: 2, ...(artifactType ? { artifactType } : {}), config: { mediaType: configMediaType, digest: digestOf('c'), size: 1 }, layers },
      'application/vnd.oci.image.manifest.v1+json',
    );
  const seccomp = 'application/vnd.cncf.seccomp-profile.config.v1+json';

  it('compatible mode takes the first layer of anything; strict mode wants the type and one layer', async () => {
    expect(profileLayerOf(manifest('application/vnd.oci.image.config.v1+json', [layer, { ...layer, digest: digestOf('2') }]), 'compatible').layer).toEqual(layer);
    expect(profileLayerOf(manifest(seccomp, [layer]), 'strict')).toEqual({ configMediaType: seccomp, layer });
    expect(profileLayerOf(manifest('application/vnd.oci.empty.v1+json', [layer], seccomp), 'strict')).toEqual({
      configMediaType: 'application/vnd.oci.empty.v1+json',
      artifactType: seccomp,
      layer,
    });
    expect((await rejection(() => profileLayerOf(manifest(seccomp, [layer, layer]), 'strict'))).message).toBe(
      'strict mode: a seccomp profile artifact has exactly one layer, this one has 2',
    );
    expect((await rejection(() => profileLayerOf(manifest('application/vnd.oci.empty.v1+json', [layer], 'application/other'), 'strict'))).reason).toBe('InvalidArtifact');
    expect((await rejection(() => profileLayerOf(manifest(seccomp, []), 'compatible'))).message).toBe('artifact has no layers');
  });

  it('checks descriptors', async () => {
    const error = await rejection(() => manifest(seccomp, [{ ...layer, digest: 'sha256:xyz' }]));
    expect(error.message).toBe('layers[0]: digest "sha256:xyz": sha256 digest must be 64 lowercase hex characters');
    expect((await rejection(() => manifest(seccomp, [{ ...layer, size: -1 }]))).message).toBe('layers[0]: size must be a non-negative integer');
  });

  it('maps reasons to CRI error words', () => {
    expect(criErrorWord('RegistryUnavailable')).toBe('RegistryUnavailable');
    expect(criErrorWord('InvalidReference')).toBe('InvalidImageName');
    expect(criErrorWord('NotFound')).toBe('ErrImagePull');
    expect(criErrorWord('DigestMismatch')).toBe('ErrImagePull');
  });
});

describe('content store', () => {
  it('stores by digest atomically, verifies on read, removes corrupt files', async () => {
    const dir = await tempDir();
    const store = new ContentStore(dir);
    const bytes = Buffer.from('profile');
    const digest = digestOf(bytes);
    await store.put(digest, bytes);
    const file = path.join(dir, 'blobs', 'sha256', digest.slice(7));
    expect(await readdir(path.dirname(file))).toEqual([digest.slice(7)]);
    expect((await store.get(digest, 100))?.equals(bytes)).toBe(true);
    expect(await store.get(digest, 3)).toBeUndefined();
    await writeFile(file, 'tampered');
    expect(await store.get(digest, 100)).toBeUndefined();
    expect(await readdir(path.dirname(file))).toEqual([]);
    expect((await rejection(store.put(digest, Buffer.from('other')))).reason).toBe('DigestMismatch');
    const sha512 = digestOf(bytes, 'sha512');
    await store.put(sha512, bytes);
    expect((await store.get(sha512, 100))?.equals(bytes)).toBe(true);
  });

  it('keeps tag resolutions', async () => {
    const store = new ContentStore(await tempDir());
    const digest = digestOf('x');
    expect(await store.getTag('h/p:v1')).toBeUndefined();
    await store.putTag('h/p:v1', digest, new Date('2024-02-26T09:03:30Z'));
    expect(await store.getTag('h/p:v1')).toEqual({ digest, resolvedAt: '2024-02-26T09:03:30.000Z' });
  });
});
