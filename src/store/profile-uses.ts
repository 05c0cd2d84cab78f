import { createHash } from 'node:crypto';
import { access, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../files/atomic-write.js';

/**
 * Which profiles the shim handed to containers: one record per `REF@DIGEST` under
 * `<stateDir>/profile-uses/`, naming the converted files made from it and when it was last used.
 * gc and status read it; the runtime, not this index, says what is in use right now.
 */
export interface ProfileUse {
  reference: string;
  manifestDigest: string;
  /** Absolute paths of the runtime-spec files converted from this artifact (one per capability set). */
  files: string[];
  /** Manifest digests of base profiles stacked under it (SPO's chain), kept with it. */
  bases?: string[];
  lastUse: Date;
}

/** How stale a record's `lastUse` on disk may get while the profile keeps being used. */
export const LAST_USE_RESOLUTION_MS = 60_000;

export class ProfileUses {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'profile-uses');
  }

  fileOf(reference: string, manifestDigest: string): string {
    const key = createHash('sha256').update(`${reference}@${manifestDigest}`).digest('hex');
    return path.join(this.dir, `${key}.json`);
  }

  async read(reference: string, manifestDigest: string): Promise<ProfileUse | undefined> {
    return parseRecord(await readFile(this.fileOf(reference, manifestDigest), 'utf8').catch(() => undefined));
  }

  async has(reference: string, manifestDigest: string): Promise<boolean> {
    return access(this.fileOf(reference, manifestDigest)).then(
      () => true,
      () => false,
    );
  }

  async write(use: ProfileUse): Promise<void> {
    const record = { ...use, files: [...new Set(use.files)].sort(), lastUse: use.lastUse.toISOString() };
    await writeFileAtomically(this.fileOf(use.reference, use.manifestDigest), `${JSON.stringify(record)}\n`);
  }

  /** Every readable record; unreadable ones (a foreign file) are skipped, never guessed at. */
  async list(): Promise<ProfileUse[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const uses: ProfileUse[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const use = parseRecord(await readFile(path.join(this.dir, name), 'utf8').catch(() => undefined));
      if (use) uses.push(use);
    }
    return uses;
  }

  async remove(use: Pick<ProfileUse, 'reference' | 'manifestDigest'>): Promise<void> {
    await unlink(this.fileOf(use.reference, use.manifestDigest)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

function parseRecord(text: string | undefined): ProfileUse | undefined {
  if (text === undefined) return undefined;
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    const lastUse = new Date(String(raw.lastUse));
    if (typeof raw.reference !== 'string' || typeof raw.manifestDigest !== 'string' || Number.isNaN(lastUse.getTime())) return undefined;
    const strings = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
    const bases = strings(raw.bases);
    return { reference: raw.reference, manifestDigest: raw.manifestDigest, files: strings(raw.files), lastUse, ...(bases.length > 0 ? { bases } : {}) };
  } catch {
    return undefined;
  }
}
