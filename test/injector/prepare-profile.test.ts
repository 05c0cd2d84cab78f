import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProfilePreparer } from '../../src/injector/prepare-profile.js';
import { ProfileFiles } from '../../src/injector/profile-files.js';

const PROFILE = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['rmdir'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } }],
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shim-prepare-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function preparer(verify: () => Promise<unknown> = async () => ({ verified: false })) {
  const pulls: string[] = [];
  const files = new ProfileFiles(dir);
  const prepare = createProfilePreparer({
    artifacts: {
      pullProfile: async (reference) => {
        pulls.push(reference);
        return { registry: 'r.example', repository: 'p', manifestDigest: `sha256:${'b'.repeat(64)}`, bytes: Buffer.from(JSON.stringify(PROFILE)) };
      },
    },
    signatures: { verifyArtifact: verify },
    files,
    node: { arch: 'amd64', kernelVersion: '6.1.0' },
    cacheEntries: 10,
  });
  return { prepare, pulls, files };
}

const signal = () => new AbortController().signal;

describe('createProfilePreparer', () => {
  it('converts per capability set: one file with the rule for CAP_SYS_ADMIN holders, one without', async () => {
    const { prepare, files } = preparer();
    const plain = await prepare.prepare('r.example/p:v1', { capabilities: ['CAP_CHOWN'] }, signal());
    const admin = await prepare.prepare('r.example/p:v1', { capabilities: ['CAP_SYS_ADMIN', 'CAP_CHOWN'] }, signal());
    const adminAgain = await prepare.prepare('r.example/p:v1', { capabilities: ['CAP_CHOWN', 'CAP_SYS_ADMIN'] }, signal());
    expect(plain.path).not.toBe(admin.path);
    expect(adminAgain.path).toBe(admin.path);
    expect(readdirSync(files.dir).sort()).toEqual([path.basename(plain.path), path.basename(admin.path)].sort());
    expect(plain.publishedLength).toBe(JSON.stringify(PROFILE).length);
  });

  it('writes nothing when the signature check fails', async () => {
    const { prepare, files } = preparer(async () => Promise.reject(new Error('SignatureValidationFailed: no signature')));
    await expect(prepare.prepare('r.example/p:v1', { capabilities: [] }, signal())).rejects.toThrow('SignatureValidationFailed');
    expect(() => readdirSync(files.dir)).toThrow(/ENOENT/);
  });
});
