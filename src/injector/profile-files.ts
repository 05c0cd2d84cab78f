import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Converted profiles on the node, one file per content, named by its sha256, under
 * `<stateDir>/profiles/`. The runtime reads them by absolute path when it creates a container,
 * so a file is written completely (temp file, fsync, rename) before anyone is told its name.
 */
export class ProfileFiles {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'profiles');
  }

  /** Writes the bytes unless a file with the same content exists; returns the absolute path. */
  async write(bytes: Buffer): Promise<string> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    const target = path.join(this.dir, `${digest}.json`);
    if (await this.holds(target, digest)) return target;
    await fs.mkdir(this.dir, { recursive: true, mode: 0o755 });
    const temp = path.join(this.dir, `.${digest}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await fs.open(temp, 'wx', 0o644);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temp, target);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
    await syncDirectory(this.dir);
    return target;
  }

  private async holds(file: string, digest: string): Promise<boolean> {
    try {
      return createHash('sha256').update(await fs.readFile(file)).digest('hex') === digest;
    } catch {
      return false;
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
