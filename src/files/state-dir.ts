import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { NodeFileError } from './atomic-write.js';

/**
 * The state directory's layout and modes. Modes are set explicitly, never left to the umask:
 * under umask 000 a directory would be world-writable and anyone on the node could swap a
 * profile between the shim writing it and the runtime loading it. Profiles stay readable by
 * the runtime whatever user it runs as; the caches are the shim's own.
 */
export const STATE_LAYOUT: readonly { dir: string; mode: number }[] = [
  { dir: '', mode: 0o755 },
  { dir: 'profiles', mode: 0o755 },
  { dir: 'blobs', mode: 0o700 },
  { dir: 'tags', mode: 0o700 },
  { dir: 'image-annotations', mode: 0o700 },
];

/** Leftovers of atomic writes cut short (kill -9, power loss): `.tmp-<name>-<random>`. */
const TEMP_PREFIX = '.tmp-';
/** blobs/<algorithm>/<hex> is the deepest the layout goes. */
const MAX_DEPTH = 3;

export class StateDirError extends Error {
  override readonly name = 'StateDirError';
}

export interface PreparedStateDir {
  /** Temp files of interrupted writes that were removed. */
  removedTempFiles: string[];
}

/**
 * Makes the state directory usable before the shim serves: creates it and its subdirectories
 * with their modes, proves each writable, and removes temp files an interrupted write left.
 * Throws StateDirError naming the directory and the reason when it cannot be used, so the
 * shim stops at start-up instead of failing containers later.
 */
export async function prepareStateDir(stateDir: string): Promise<PreparedStateDir> {
  for (const { dir, mode } of STATE_LAYOUT) {
    const full = path.join(stateDir, dir);
    await attempt(full, 'cannot be created', () => createDir(full, mode));
    await attempt(full, 'cannot be given its mode', () => chmod(full, mode));
    await attempt(full, 'is not writable', () => probeWritable(full));
  }
  return { removedTempFiles: await removeTempFiles(stateDir, MAX_DEPTH) };
}

/** mkdir -p; Node's recursive mkdir says ENOENT for any failure, so the last step is repeated for the real reason. */
async function createDir(dir: string, mode: number): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(dir, { mode });
  }
}

async function attempt(dir: string, what: string, step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (error) {
    throw new StateDirError(new NodeFileError(`state directory ${dir} ${what}`, error).message, { cause: error });
  }
}

/** A small file created, synced and removed: what every later write needs (space, permission, a writable mount). */
async function probeWritable(dir: string): Promise<void> {
  const probe = path.join(dir, `${TEMP_PREFIX}probe-${randomBytes(6).toString('hex')}`);
  const handle = await open(probe, 'wx', 0o600);
  try {
    await handle.writeFile('probe\n');
    await handle.sync();
  } finally {
    await handle.close();
    await unlink(probe).catch(() => undefined);
  }
}

/** Removes `.tmp-*` files in `dir` and the directories below it, `depth` levels deep. */
async function removeTempFiles(dir: string, depth: number): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isFile() && entry.name.startsWith(TEMP_PREFIX)) {
      await attempt(dir, `holds ${entry.name}, which cannot be removed`, () => rm(full, { force: true }));
      removed.push(full);
    } else if (entry.isDirectory() && depth > 0) {
      removed.push(...(await removeTempFiles(full, depth - 1)));
    }
  }
  return removed;
}
