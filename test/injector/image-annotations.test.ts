import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ImageAnnotations } from '../../src/artifact/index.js';
import { createImageAnnotationSource, ImageInspectError } from '../../src/injector/image-annotations.js';
import { createImageManifestFacts, type LocalManifestSource, type RegistryManifestSource } from '../../src/injector/image-manifests.js';
import type { ImageRecord } from '../../src/injector/runtime-queries.js';
import { silentLogger } from '../../src/log/logger.js';

const KEY = 'seccomp-profile.kubernetes.cri-o.io';
const CONFIG = `sha256:${'c'.repeat(64)}`;
const OTHER_CONFIG = `sha256:${'d'.repeat(64)}`;
const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shim-image-annotations-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const options = () => ({ stateDir: dir, cacheEntries: 10, logger: silentLogger() });
const signal = () => new AbortController().signal;
const manifest = (d: string, annotations: Record<string, string>, configDigest = CONFIG): ImageAnnotations => ({
  digest: d,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  annotations,
  configDigest,
});
const nothingLocal: LocalManifestSource = { imageAnnotations: async () => undefined };
const noRegistry: RegistryManifestSource = { imageAnnotations: async () => Promise.reject(new Error('the registry must not be asked')) };

describe('createImageManifestFacts', () => {
  it('reads the runtime content store first, once per digest, keeping the config digest', async () => {
    const localReads: string[] = [];
    const facts = createImageManifestFacts(
      {
        imageAnnotations: async (d) => {
          localReads.push(d);
          return manifest(d, { [KEY]: 'r.example/p:v1' });
        },
      },
      noRegistry,
      options(),
    );
    expect(await facts.of(`r.example/app@${digest(1)}`, signal())).toEqual({ annotations: { [KEY]: 'r.example/p:v1' }, configDigest: CONFIG });
    await facts.of(`r.example/app@${digest(1)}`, signal());
    expect(localReads).toEqual([digest(1)]);
  });

  it('merges an index\'s annotations with its platform manifest\'s, whose own win', async () => {
    const facts = createImageManifestFacts(
      {
        imageAnnotations: async (d) => ({
          digest: d,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          annotations: { a: 'index', b: 'index' },
          platformManifest: { digest: digest(9), annotations: { b: 'platform' } },
          configDigest: CONFIG,
        }),
      },
      noRegistry,
      options(),
    );
    expect(await facts.of(`r.example/app@${digest(1)}`, signal())).toEqual({ annotations: { a: 'index', b: 'platform' }, configDigest: CONFIG });
  });

  it('answers pods of one new image starting together with one read', async () => {
    let reads = 0;
    const facts = createImageManifestFacts(
      {
        imageAnnotations: async (d) => {
          reads += 1;
          await new Promise((resolve) => setTimeout(resolve, 20));
          return manifest(d, { a: 'b' });
        },
      },
      noRegistry,
      options(),
    );
    const all = await Promise.all([1, 2, 3, 4].map(() => facts.of(`r.example/app@${digest(3)}`, signal())));
    expect(all.map((f) => f.annotations)).toEqual([{ a: 'b' }, { a: 'b' }, { a: 'b' }, { a: 'b' }]);
    expect(reads).toBe(1);
  });

  it('falls back to the registry by repo@digest when the content store cannot answer', async () => {
    const registryReads: string[] = [];
    const facts = createImageManifestFacts(
      nothingLocal,
      {
        imageAnnotations: async (ref) => {
          registryReads.push(ref);
          return manifest(digest(1), { a: 'b' });
        },
      },
      options(),
    );
    expect((await facts.of(`r.example/app@${digest(1)}`, signal())).annotations).toEqual({ a: 'b' });
    expect(registryReads).toEqual([`r.example/app@${digest(1)}`]);
  });

  it('after a restart, reads a known digest from the state directory, asking nobody', async () => {
    const first = createImageManifestFacts(nothingLocal, { imageAnnotations: async () => manifest(digest(2), { a: 'b' }) }, options());
    await first.of(`r.example/app@${digest(2)}`, signal());
    expect(readdirSync(path.join(dir, 'image-annotations'))).toEqual([`${digest(2).replace(':', '-')}.json`]);
    const down = { imageAnnotations: async () => Promise.reject(new Error('down')) };
    const restarted = createImageManifestFacts(down, down, options());
    expect(await restarted.of(`r.example/app@${digest(2)}`, signal())).toEqual({ annotations: { a: 'b' }, configDigest: CONFIG });
  });

  it('a registry failure after the content store had nothing propagates: the caller fails closed', async () => {
    const facts = createImageManifestFacts(nothingLocal, { imageAnnotations: async () => Promise.reject(new Error('registry down')) }, options());
    await expect(facts.of(`r.example/app@${digest(1)}`, signal())).rejects.toThrow('registry down');
  });
});

/**
 * A node holding three images that share one config (so one image id) and differ only in their
 * manifests' annotations, the way `podman build --annotation` or `crane mutate` make them.
 */
function siblingsNode(node: { names?: Record<string, string>; namesUnsupported?: boolean } = {}) {
  const plain = `r.example/app@${digest(1)}`;
  const withA = `r.example/app@${digest(2)}`;
  const withC = `r.example/app@${digest(3)}`;
  const annotations: Record<string, Record<string, string>> = {
    [digest(1)]: { 'org.opencontainers.image.title': 'plain' },
    [digest(2)]: { [KEY]: 'r.example/profiles/a:v1' },
    [digest(3)]: { [KEY]: 'r.example/profiles/c:v1' },
  };
  const names: Record<string, string> = node.names ?? {
    'r.example/app:plain': digest(1),
    'r.example/app:with-a': digest(2),
    'r.example/app:with-c': digest(3),
  };
  const record: ImageRecord = { id: CONFIG, repoDigests: [plain, withA, withC] };
  const nameLookups: string[] = [];
  const source = createImageAnnotationSource(
    { imageStatus: async (image) => (image === CONFIG || image.startsWith('r.example/app') ? record : { id: '', repoDigests: [] }) },
    {
      targetOf: async (name) => {
        nameLookups.push(name);
        if (node.namesUnsupported) return undefined;
        const target = names[name];
        return target ? { digest: target, mediaType: 'application/vnd.oci.image.manifest.v1+json' } : undefined;
      },
    },
    createImageManifestFacts({ imageAnnotations: async (d) => manifest(d, annotations[d] ?? {}) }, noRegistry, options()),
    silentLogger(),
  );
  return { source, nameLookups };
}

describe('createImageAnnotationSource: the manifest the pod named, never a sibling', () => {
  it('each of three images sharing one id gets exactly its own annotations by its tag', async () => {
    const { source, nameLookups } = siblingsNode();
    const of = (userSpecifiedImage: string) => source.annotationsOf({ image: CONFIG, userSpecifiedImage }, signal());
    expect(await of('r.example/app:plain')).toEqual({ 'org.opencontainers.image.title': 'plain' });
    expect(await of('r.example/app:with-a')).toEqual({ [KEY]: 'r.example/profiles/a:v1' });
    expect(await of('r.example/app:with-c')).toEqual({ [KEY]: 'r.example/profiles/c:v1' });
    expect(nameLookups).toEqual(['r.example/app:plain', 'r.example/app:with-a', 'r.example/app:with-c']);
  });

  it('a digest reference is its digest, without asking the image store', async () => {
    const { source, nameLookups } = siblingsNode();
    expect(await source.annotationsOf({ image: CONFIG, userSpecifiedImage: `r.example/app@${digest(3)}` }, signal())).toEqual({
      [KEY]: 'r.example/profiles/c:v1',
    });
    expect(nameLookups).toEqual([]);
  });

  it('docker.io names are normalized before the image store is asked', async () => {
    const { source, nameLookups } = siblingsNode();
    await expect(source.annotationsOf({ image: CONFIG, userSpecifiedImage: 'nginx' }, signal())).rejects.toBeInstanceOf(ImageInspectError);
    expect(nameLookups).toEqual(['docker.io/library/nginx:latest']);
  });

  it('without user_specified_image, siblings that disagree fail the container naming the id, the manifests and the way out', async () => {
    const { source } = siblingsNode();
    const error = (await source.annotationsOf({ image: CONFIG, userSpecifiedImage: '' }, signal()).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ImageInspectError);
    expect(error.message).toContain(`image ${CONFIG} is kept for several manifests`);
    expect(error.message).toContain(`r.example/app@${digest(2)} {"${KEY}":"r.example/profiles/a:v1"}`);
    expect(error.message).toContain(`r.example/app@${digest(3)}`);
    expect(error.message).toContain('kubelet before 1.28 sends no user_specified_image');
    expect(error.message).toContain('set the profile with a pod annotation, or run kubelet 1.28 or later');
  });

  it('without user_specified_image, manifests that agree on their seccomp annotations are used', async () => {
    const agreeing: Record<string, ImageAnnotations> = {
      [digest(1)]: manifest(digest(1), { [KEY]: 'r.example/profiles/a:v1', 'org.opencontainers.image.title': 'one' }),
      [digest(2)]: manifest(digest(2), { [KEY]: 'r.example/profiles/a:v1', 'org.opencontainers.image.title': 'two' }),
    };
    const source = createImageAnnotationSource(
      { imageStatus: async () => ({ id: CONFIG, repoDigests: [`r.example/app@${digest(1)}`, `r.example/other@${digest(2)}`] }) },
      { targetOf: async () => undefined },
      createImageManifestFacts({ imageAnnotations: async (d) => agreeing[d] }, noRegistry, options()),
      silentLogger(),
    );
    expect(await source.annotationsOf({ image: CONFIG, userSpecifiedImage: '' }, signal())).toEqual({ [KEY]: 'r.example/profiles/a:v1' });
  });

  it('a name that now points to another image than the one the container runs is not trusted: the id rule decides', async () => {
    const moved = createImageAnnotationSource(
      { imageStatus: async () => ({ id: CONFIG, repoDigests: [`r.example/app@${digest(1)}`, `r.example/app@${digest(2)}`] }) },
      { targetOf: async () => ({ digest: digest(4), mediaType: 'application/vnd.oci.image.manifest.v1+json' }) },
      createImageManifestFacts(
        {
          imageAnnotations: async (d) =>
            d === digest(4) ? manifest(d, { [KEY]: 'r.example/profiles/new:v1' }, OTHER_CONFIG) : manifest(d, { [KEY]: `r.example/profiles/${d.slice(7, 9)}:v1` }),
        },
        noRegistry,
        options(),
      ),
      silentLogger(),
    );
    await expect(moved.annotationsOf({ image: CONFIG, userSpecifiedImage: 'r.example/app:v1' }, signal())).rejects.toThrow(
      /names none of them on this node/,
    );
  });

  it('a runtime without an image store (CRI-O): the one manifest of the named repository is used', async () => {
    const source = createImageAnnotationSource(
      { imageStatus: async () => ({ id: 'c'.repeat(64), repoDigests: [`r.example/app@${digest(1)}`, `r.example/fork@${digest(2)}`] }) },
      { targetOf: async () => undefined },
      createImageManifestFacts(
        { imageAnnotations: async (d) => manifest(d, d === digest(1) ? { [KEY]: 'r.example/profiles/a:v1' } : {}) },
        noRegistry,
        options(),
      ),
      silentLogger(),
    );
    expect(await source.annotationsOf({ image: 'c'.repeat(64), userSpecifiedImage: 'r.example/app:v1' }, signal())).toEqual({
      [KEY]: 'r.example/profiles/a:v1',
    });
    expect(await source.annotationsOf({ image: 'c'.repeat(64), userSpecifiedImage: 'r.example/fork:v1' }, signal())).toEqual({});
  });

  it('a runtime without an image store and several manifests of the named repository: ambiguous, the same error', async () => {
    const { source } = siblingsNode({ namesUnsupported: true });
    await expect(source.annotationsOf({ image: CONFIG, userSpecifiedImage: 'r.example/app:with-a' }, signal())).rejects.toThrow(
      /the pod's image "r.example\/app:with-a" names none of them on this node/,
    );
  });

  it('an image never pulled from a registry and not named has no annotations to read', async () => {
    const never = { imageAnnotations: async () => Promise.reject(new Error('must not be called')) };
    const source = createImageAnnotationSource(
      { imageStatus: async () => ({ id: CONFIG, repoDigests: [] }) },
      { targetOf: async () => undefined },
      createImageManifestFacts(never, never, options()),
      silentLogger(),
    );
    expect(await source.annotationsOf({ image: 'localhost/pause:latest', userSpecifiedImage: '' }, signal())).toEqual({});
  });

  it('an image store that fails to answer fails the container with ImageInspectError, not a guess', async () => {
    const source = createImageAnnotationSource(
      { imageStatus: async () => ({ id: CONFIG, repoDigests: [`r.example/app@${digest(1)}`] }) },
      { targetOf: async () => Promise.reject(new Error('connection reset')) },
      createImageManifestFacts(nothingLocal, noRegistry, options()),
      silentLogger(),
    );
    await expect(source.annotationsOf({ image: CONFIG, userSpecifiedImage: 'r.example/app:v1' }, signal())).rejects.toThrow(
      'reading which manifest image "r.example/app:v1" is on this node: connection reset',
    );
  });
});
