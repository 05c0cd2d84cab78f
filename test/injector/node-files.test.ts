import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createImageAnnotationSource } from '../../src/injector/image-annotations.js';
import { ProfileFiles } from '../../src/injector/profile-files.js';

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
  it('reads the manifest by the repo digest the runtime reports, once per digest', async () => {
    const reads: string[] = [];
    const source = createImageAnnotationSource(
      { imageRepoDigests: async (image) => (image === 'sha256:img' ? ['r.example/app@sha256:1'] : []) },
      {
        imageAnnotations: async (ref) => {
          reads.push(ref);
          return { 'seccomp-profile.kubernetes.cri-o.io': 'r.example/p:v1' };
        },
      },
      { stateDir: dir, cacheEntries: 10 },
    );
    const signal = new AbortController().signal;
    expect(await source.annotationsOf('sha256:img', signal)).toEqual({ 'seccomp-profile.kubernetes.cri-o.io': 'r.example/p:v1' });
    await source.annotationsOf('sha256:img', signal);
    expect(reads).toEqual(['r.example/app@sha256:1']);
  });

  it('after a restart, reads a known digest from the state directory, not the registry', async () => {
    const runtime = { imageRepoDigests: async () => ['r.example/app@sha256:2'] };
    const first = createImageAnnotationSource(runtime, { imageAnnotations: async () => ({ a: 'b' }) }, { stateDir: dir, cacheEntries: 10 });
    await first.annotationsOf('sha256:img', new AbortController().signal);
    expect(readdirSync(path.join(dir, 'image-annotations'))).toEqual(['sha256-2.json']);
    const restarted = createImageAnnotationSource(
      runtime,
      { imageAnnotations: async () => Promise.reject(new Error('registry down')) },
      { stateDir: dir, cacheEntries: 10 },
    );
    expect(await restarted.annotationsOf('sha256:img', new AbortController().signal)).toEqual({ a: 'b' });
  });

  it('an image never pulled from a registry has no annotations to read', async () => {
    const source = createImageAnnotationSource(
      { imageRepoDigests: async () => [] },
      { imageAnnotations: async () => Promise.reject(new Error('must not be called')) },
      { stateDir: dir, cacheEntries: 10 },
    );
    expect(await source.annotationsOf('localhost/pause:latest', new AbortController().signal)).toEqual({});
  });

  it('a registry failure propagates: the caller fails closed', async () => {
    const source = createImageAnnotationSource(
      { imageRepoDigests: async () => ['r.example/app@sha256:1'] },
      { imageAnnotations: async () => Promise.reject(new Error('registry down')) },
      { stateDir: dir, cacheEntries: 10 },
    );
    await expect(source.annotationsOf('sha256:img', new AbortController().signal)).rejects.toThrow('registry down');
  });
});
