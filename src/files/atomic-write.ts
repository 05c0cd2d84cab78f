import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** A file the shim needs could not be written: what it was doing, and the system's reason in words. */
export class NodeFileError extends Error {
  override readonly name = 'NodeFileError';

  constructor(doing: string, cause: unknown) {
    const err = cause as NodeJS.ErrnoException;
    const why = err.code !== undefined && ERRNO_WORDS[err.code] ? `${ERRNO_WORDS[err.code]} (${err.code})` : err.message;
    super(`${doing}: ${why}`, { cause });
  }
}

const ERRNO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'the directory does not exist and cannot be created',
  ENOTDIR: 'a part of the path is not a directory',
  EIO: 'input/output error',
};

/**
 * Writes a file so that readers see the old content or the whole new content, even across a
 * crash: a temp file beside it, fsync, rename, fsync of the directory. The runtime and later
 * shim runs read these files by name, so a torn profile must never be visible under one.
 */
export async function writeFileAtomically(file: string, bytes: Buffer | string): Promise<void> {
  const dir = path.dirname(file);
  // An explicit mode: the umask alone (000 on some nodes) would make it world-writable.
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const temp = path.join(dir, `.tmp-${path.basename(file)}-${randomBytes(6).toString('hex')}`);
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  // The rename is durable only once the directory entry is.
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
