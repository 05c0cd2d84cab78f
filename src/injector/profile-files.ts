import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { NodeFileError, writeFileAtomically } from '../files/atomic-write.js';

/**
 * Converted profiles on the node, one file per content, named by its sha256, under
 * `<stateDir>/profiles/`. The runtime reads them by absolute path when it creates a container,
 * so a file is complete before anyone is told its name.
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
    try {
      await writeFileAtomically(target, bytes);
    } catch (error) {
      throw new NodeFileError(`writing the converted seccomp profile under ${this.dir}`, error);
    }
    return target;
  }

  /** Whether the file is (still) there. */
  async exists(file: string): Promise<boolean> {
    return fs.access(file).then(
      () => true,
      () => false,
    );
  }

  private async holds(file: string, digest: string): Promise<boolean> {
    try {
      return createHash('sha256').update(await fs.readFile(file)).digest('hex') === digest;
    } catch {
      return false;
    }
  }
}
