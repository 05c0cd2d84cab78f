import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProfilePreparer } from '../../src/injector/prepare-profile.js';
import { ProfileFiles } from '../../src/injector/profile-files.js';
import { recordingUses } from '../../src/injector/record-uses.js';
import { ProfileUses } from '../../src/store/index.js';
import { makeTempDir, removeDirSync } from '../../testbed/processes.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;
const REF = 'registry.example/profiles/app:v1';
const PROFILE = Buffer.from(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
  { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
  { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } },
] }));

let stateDir: string;
beforeEach(async () => {
  stateDir = await makeTempDir('uses');
});
afterEach(() => removeDirSync(stateDir));

function preparer(now: () => Date) {
  const files = new ProfileFiles(stateDir);
  const inner = createProfilePreparer({
    artifacts: { pullProfile: async () => ({ registry: 'registry.example', repository: 'profiles/app', manifestDigest: DIGEST, bytes: PROFILE }) },
    signatures: { verifyArtifact: async () => undefined },
    files,
    node: { arch: 'amd64', kernelVersion: '6.1.0' },
    cacheEntries: 10,
  });
  return recordingUses(inner, new ProfileUses(stateDir), now);
}

describe('profile usage records', () => {
  it('records each REF@DIGEST with its files before the path is handed out, last use at most a minute stale', async () => {
    let clock = new Date('2026-12-01T12:00:00Z');
    const profiles = preparer(() => clock);
    const signal = new AbortController().signal;
    const first = await profiles.prepare(REF, { capabilities: ['CAP_CHOWN'] }, signal);
    const uses = new ProfileUses(stateDir);
    expect(await uses.read(REF, DIGEST)).toEqual({ reference: REF, manifestDigest: DIGEST, files: [first.path], lastUse: clock });

    const written = clock;
    clock = new Date(clock.getTime() + 30_000);
    await profiles.prepare(REF, { capabilities: ['CAP_CHOWN'] }, signal);
    expect((await uses.read(REF, DIGEST))?.lastUse).toEqual(written);
    clock = new Date(clock.getTime() + 31_000);
    await profiles.prepare(REF, { capabilities: ['CAP_CHOWN'] }, signal);
    expect((await uses.read(REF, DIGEST))?.lastUse).toEqual(clock);

    // Another capability set converts to another file: recorded at once.
    const second = await profiles.prepare(REF, { capabilities: ['CAP_SYS_ADMIN'] }, signal);
    expect(second.path).not.toBe(first.path);
    expect((await uses.read(REF, DIGEST))?.files.sort()).toEqual([first.path, second.path].sort());
  });

  it('records the base profiles of a chain the preparer reports as REF@DIGEST,BASE@DIGEST', async () => {
    const BASE = `sha256:${'b'.repeat(64)}`;
    const inner = {
      prepare: async () => ({ path: path.join(stateDir, 'profiles', 'x.json'), manifestDigest: DIGEST, publishedLength: 1, applied: `${REF}@${DIGEST},reg/base:v1@${BASE}` }),
    };
    const profiles = recordingUses(inner, new ProfileUses(stateDir));
    await profiles.prepare(REF, { capabilities: [] }, new AbortController().signal);
    expect((await new ProfileUses(stateDir).read(REF, DIGEST))?.bases).toEqual([BASE]);
  });

  it('a file gc removed is written again, not handed out from the memory cache', async () => {
    const profiles = preparer(() => new Date());
    const signal = new AbortController().signal;
    const first = await profiles.prepare(REF, { capabilities: [] }, signal);
    rmSync(first.path);
    const again = await profiles.prepare(REF, { capabilities: [] }, signal);
    expect(again.path).toBe(first.path);
    expect(path.dirname(again.path)).toBe(path.join(stateDir, 'profiles'));
    expect(await new ProfileFiles(stateDir).exists(again.path)).toBe(true);
  });
});
