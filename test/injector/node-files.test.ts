import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createImageAnnotationSource } from '../../src/injector/image-annotations.js';
import { ProfileFiles } from '../../src/injector/profile-files.js';
import { silentLogger } from '../../src/log/logger.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shim-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ProfileFiles', () => {
  it('writes each content once, named by its sha256, readable by the runtime, leaving no temp files', async () => {
    const files = new ProfileFiles(dir);
    const bytes = Buffer.from('{"defaultAction":"SCMP_ACT_ALLOW"}');
    const first = await files.write(bytes);
    const mtime = statSync(first).mtimeMs;
    expect(path.basename(first)).toBe(`${createHash('sha256').update(bytes).digest('hex')}.json`);
    expect(readFileSync(first).equals(bytes)).toBe(true);
    expect(statSync(first).mode & 0o777).toBe(0o644);
    expect(await files.write(bytes)).toBe(first);
    expect(statSync(first).mtimeMs).toBe(mtime);
    expect(readdirSync(files.dir)).toEqual([path.basename(first)]);
  });

  it('replaces a file whose content does not match its name (a torn or tampered file)', async () => {
    const files = new ProfileFiles(dir);
    const bytes = Buffer.from('{"defaultAction":"SCMP_ACT_ERRNO"}');
    const target = await files.write(bytes);
    writeFileSync(target, '{"defaultAction":"SCMP_ACT_ALL');
    expect(await files.write(bytes)).toBe(target);
    expect(readFileSync(target).equals(bytes)).toBe(true);
  });
});

describe('createImageAnnotationSource', () => {
  const options = () => ({ stateDir: dir, cacheEntries: 10, logger: silentLogger() });
  const nothingLocal = { imageAnnotations: async () => undefined };
  const signal = () => new AbortController().signal;

  it('reads the runtime content store first, by the digest the runtime reports, once per digest', async () => {
    const localReads: string[] = [];
    const source = createImageAnnotationSource(
      { imageRepoDigests: async (image) => (image === 'sha256:img' ? ['r.example/app@sha256:1'] : []) },
      {
        imageAnnotations: async (digest) => {
          localReads.push(digest);
          return { 'seccomp-profile.kubernetes.cri-o.io': 'r.example/p:v1' };
        },
      },
      { imageAnnotations: async () => Promise.reject(new Error('the registry must not be asked')) },
      options(),
    );
    expect(await source.annotationsOf('sha256:img', signal())).toEqual({ 'seccomp-profile.kubernetes.cri-o.io': 'r.example/p:v1' });
    await source.annotationsOf('sha256:img', signal());
    expect(localReads).toEqual(['sha256:1']);
  });

  it('answers pods of one new image starting together with one read', async () => {
    let reads = 0;
    const source = createImageAnnotationSource(
      { imageRepoDigests: async () => ['r.example/app@sha256:3'] },
      {
        imageAnnotations: async () => {
          reads += 1;
          await new Promise((resolve) => setTimeout(resolve, 20));
          return { a: 'b' };
        },
      },
      { imageAnnotations: async () => Promise.reject(new Error('the registry must not be asked')) },
      options(),
    );
    const all = await Promise.all([1, 2, 3, 4].map(() => source.annotationsOf('sha256:img', signal())));
    expect(all).toEqual([{ a: 'b' }, { a: 'b' }, { a: 'b' }, { a: 'b' }]);
    expect(reads).toBe(1);
  });

  it('falls back to the registry when the content store cannot answer', async () => {
    const registryReads: string[] = [];
    const source = createImageAnnotationSource(
      { imageRepoDigests: async () => ['r.example/app@sha256:1'] },
      nothingLocal,
      {
        imageAnnotations: async (ref) => {
          registryReads.push(ref);
          return { a: 'b' };
        },
      },
      options(),
    );
    expect(await source.annotationsOf('sha256:img', signal())).toEqual({ a: 'b' });
    expect(registryReads).toEqual(['r.example/app@sha256:1']);
  });

  it('after a restart, reads a known digest from the state directory, asking nobody', async () => {
    const runtime = { imageRepoDigests: async () => ['r.example/app@sha256:2'] };
    const first = createImageAnnotationSource(runtime, nothingLocal, { imageAnnotations: async () => ({ a: 'b' }) }, options());
    await first.annotationsOf('sha256:img', signal());
    expect(readdirSync(path.join(dir, 'image-annotations'))).toEqual(['sha256-2.json']);
    const down = { imageAnnotations: async () => Promise.reject(new Error('down')) };
    const restarted = createImageAnnotationSource(runtime, down, down, options());
    expect(await restarted.annotationsOf('sha256:img', signal())).toEqual({ a: 'b' });
  });

  it('an image never pulled from a registry has no annotations to read', async () => {
    const never = { imageAnnotations: async () => Promise.reject(new Error('must not be called')) };
    const source = createImageAnnotationSource({ imageRepoDigests: async () => [] }, never, never, options());
    expect(await source.annotationsOf('localhost/pause:latest', signal())).toEqual({});
  });

  it('a registry failure after the content store had nothing propagates: the caller fails closed', async () => {
    const source = createImageAnnotationSource(
      { imageRepoDigests: async () => ['r.example/app@sha256:1'] },
      nothingLocal,
      { imageAnnotations: async () => Promise.reject(new Error('registry down')) },
      options(),
    );
    await expect(source.annotationsOf('sha256:img', signal())).rejects.toThrow('registry down');
  });
});
