import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeFileError } from '../../src/files/atomic-write.js';
import { prepareStateDir, STATE_LAYOUT, StateDirError } from '../../src/files/state-dir.js';
import { createImageManifestFacts } from '../../src/injector/image-manifests.js';
import { ProfileFiles } from '../../src/injector/profile-files.js';
import { createLogger } from '../../src/log/logger.js';
import { makeTempDir, removeDirSync, startProcess } from '../../testbed/processes.js';
import { skipUnlessLinux } from '../support/requirements.js';

// Needs Linux and root; elsewhere the suite is skipped with its reason (in CI, an error).
const skip = skipUnlessLinux('State directories on real tmpfs mounts (test/files/state-dir.e2e.test.ts)', { root: true, commands: ['mount', 'umount'] });

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

let dir: string;
const mounts: string[] = [];

/** A tmpfs of its own (root only, as the shim runs): read-only, or small enough to fill. */
function tmpfs(name: string, options: string): string {
  const mountPoint = path.join(dir, name);
  mkdirSync(mountPoint);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountPoint]);
  mounts.push(mountPoint);
  return mountPoint;
}

/** Fills a tmpfs until the kernel answers ENOSPC. */
function fill(mountPoint: string): void {
  execFileSync('sh', ['-c', `dd if=/dev/zero of=${mountPoint}/filler bs=4k 2>/dev/null || true`]);
}

beforeEach(async () => {
  dir = await makeTempDir('state-dir');
});
afterEach(() => {
  for (const mountPoint of mounts.splice(0)) execFileSync('umount', [mountPoint]);
  removeDirSync(dir);
});

describe.skipIf(skip)('prepareStateDir', () => {
  it('creates the layout with explicit modes whatever the umask (000 here)', async () => {
    const previous = process.umask(0);
    try {
      await prepareStateDir(path.join(dir, 'state'));
    } finally {
      process.umask(previous);
    }
    for (const { dir: sub, mode } of STATE_LAYOUT) {
      expect({ sub, mode: statSync(path.join(dir, 'state', sub)).mode & 0o777 }).toEqual({ sub, mode });
    }
  });

  it('takes a world-writable existing directory back to its mode', async () => {
    const state = path.join(dir, 'state');
    mkdirSync(path.join(state, 'profiles'), { recursive: true, mode: 0o777 });
    execFileSync('chmod', ['0777', state, path.join(state, 'profiles')]);
    await prepareStateDir(state);
    expect(statSync(state).mode & 0o777).toBe(0o755);
    expect(statSync(path.join(state, 'profiles')).mode & 0o777).toBe(0o755);
  });

  it('removes the temp files a killed write left, and nothing else', async () => {
    const state = path.join(dir, 'state');
    await prepareStateDir(state);
    // What kill -9 in the middle of writeFileAtomically leaves: a temp file beside the target.
    const torn = [
      path.join(state, 'profiles', `.tmp-${'a'.repeat(64)}.json-0123456789ab`),
      path.join(state, 'image-annotations', '.tmp-sha256-1.json-ba9876543210'),
    ];
    mkdirSync(path.join(state, 'blobs', 'sha256'));
    torn.push(path.join(state, 'blobs', 'sha256', `.tmp-${'b'.repeat(64)}-001122334455`));
    for (const file of torn) writeFileSync(file, '{"defaultAction":"SCMP_ACT_');
    const kept = path.join(state, 'profiles', `${'c'.repeat(64)}.json`);
    writeFileSync(kept, '{"defaultAction":"SCMP_ACT_ALLOW"}');
    const { removedTempFiles } = await prepareStateDir(state);
    expect(removedTempFiles.sort()).toEqual(torn.sort());
    expect(readdirSync(path.join(state, 'profiles'))).toEqual([path.basename(kept)]);
    expect(readdirSync(path.join(state, 'blobs', 'sha256'))).toEqual([]);
  });

  it.each([
    ['on a read-only file system', () => path.join(tmpfs('ro', 'ro,size=1m'), 'state'), /^state directory .*\/ro\/state cannot be created: the file system is read-only \(EROFS\)$/],
    [
      'on a full disk',
      () => {
        const mountPoint = tmpfs('full', 'size=64k');
        fill(mountPoint);
        return path.join(mountPoint, 'state');
      },
      /^state directory .*\/full\/state is not writable: no space left on the device \(ENOSPC\)$/,
    ],
    [
      'below a file',
      () => {
        writeFileSync(path.join(dir, 'file'), '');
        return path.join(dir, 'file', 'state');
      },
      /^state directory .*\/file\/state cannot be created: a part of the path is not a directory \(ENOTDIR\)$/,
    ],
  ] as [string, () => string, RegExp][])('refuses a state directory %s, naming it and the reason', async (_label, place, message) => {
    const state = place();
    const error = await prepareStateDir(state).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateDirError);
    expect((error as Error).message).toMatch(message);
  });
});

describe.skipIf(skip)('a full disk while serving', () => {
  it('fails the profile write with a reason in words, and keeps image annotations working with a warning', async () => {
    const mountPoint = tmpfs('full', 'size=256k');
    const state = path.join(mountPoint, 'state');
    await prepareStateDir(state);
    fill(mountPoint);

    const error = await new ProfileFiles(state).write(Buffer.from('{"defaultAction":"SCMP_ACT_ALLOW"}')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeFileError);
    expect((error as Error).message).toBe(`writing the converted seccomp profile under ${state}/profiles: no space left on the device (ENOSPC)`);

    const lines: { level: number; msg: string }[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    const manifests = createImageManifestFacts(
      {
        imageAnnotations: async (digest) => ({
          digest,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          annotations: { 'seccomp-profile.kubernetes.cri-o.io': 'r.example/p:v1' },
          configDigest: `sha256:${'c'.repeat(64)}`,
        }),
      },
      { imageAnnotations: async () => Promise.reject(new Error('the registry must not be asked')) },
      { stateDir: state, cacheEntries: 10, logger },
    );
    expect((await manifests.of('r.example/app@sha256:1', new AbortController().signal)).annotations).toEqual({ 'seccomp-profile.kubernetes.cri-o.io': 'r.example/p:v1' });
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: 'Image annotation cache file could not be written' })]);
    expect(readdirSync(path.join(state, 'image-annotations'))).toEqual([]);
  });
});

describe.skipIf(skip)('seccomp-oci-shim serve', () => {
  it('stops at start-up with a message naming an unusable state directory, and serves no socket', async () => {
    const state = path.join(tmpfs('ro', 'ro,size=1m'), 'state');
    const socket = path.join(dir, 'shim.sock');
    writeFileSync(path.join(dir, 'config.toml'), '');
    mkdirSync(path.join(dir, 'config.d'));
    const shim = startProcess({
      name: 'shim',
      command: process.execPath,
      args: [
        ...['--import', 'tsx', CLI, 'serve', '--config', path.join(dir, 'config.toml'), '--config-dir', path.join(dir, 'config.d')],
        ...['--listen', socket, '--runtime-endpoint', `unix://${path.join(dir, 'no-runtime.sock')}`, '--state-dir', state],
      ],
      logDir: dir,
    });
    const exited = await Promise.race([shim.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000))]);
    if (exited === undefined) await shim.stop();
    expect(exited?.code).toBe(1);
    expect(readFileSync(shim.logPath, 'utf8')).toContain(`seccomp-oci-shim: state directory ${state} cannot be created: the file system is read-only (EROFS)\n`);
    expect(existsSync(socket)).toBe(false);
  });
});
