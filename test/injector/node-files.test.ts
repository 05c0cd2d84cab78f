import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
