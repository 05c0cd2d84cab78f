import { parseAppliedProfiles } from '../store/containers-in-use.js';
import { LAST_USE_RESOLUTION_MS, type ProfileUse, type ProfileUses } from '../store/profile-uses.js';
import type { PreparedProfile, ProfilePreparer } from './ports.js';

/**
 * The preparer, with every profile it hands out recorded in the usage index before the runtime
 * is told its path: gc then never sees a file in use as unused. The record on disk is rewritten
 * when a new file appears or the record is gone, and otherwise at most once a minute, so a warm
 * CreateContainer costs one stat and no write.
 */
export function recordingUses(inner: ProfilePreparer, uses: ProfileUses, now: () => Date = () => new Date()): ProfilePreparer {
  const known = new Map<string, { use: ProfileUse; written: number }>();
  const writes = new Map<string, Promise<void>>();

  async function record(reference: string, manifestDigest: string, file: string, bases: string[]): Promise<void> {
    const key = `${reference}@${manifestDigest}`;
    const at = now();
    let entry = known.get(key);
    if (!entry) {
      const stored = await uses.read(reference, manifestDigest);
      entry = known.get(key) ?? { use: stored ?? { reference, manifestDigest, files: [], lastUse: at }, written: 0 };
      known.set(key, entry);
    }
    const newFile = !entry.use.files.includes(file);
    if (newFile) entry.use.files.push(file);
    if (bases.length > 0) entry.use.bases = bases;
    if (at > entry.use.lastUse) entry.use.lastUse = at;
    // A record gc removed meanwhile is written again at once.
    if (!newFile && at.getTime() - entry.written < LAST_USE_RESOLUTION_MS && (await uses.has(reference, manifestDigest))) return;
    entry.written = at.getTime();
    const current = entry;
    // One write at a time per record, each with the newest content.
    const write = (writes.get(key) ?? Promise.resolve()).then(() => uses.write({ ...current.use, files: [...current.use.files] }));
    writes.set(key, write.catch(() => undefined));
    try {
      await write;
    } catch (error) {
      current.written = 0;
      throw error;
    }
  }

  return {
    async prepare(reference, target, signal) {
      const prepared = await inner.prepare(reference, target, signal);
      await record(reference, prepared.manifestDigest, prepared.path, basesOf(prepared));
      return prepared;
    },
  };
}

/** The SPO base profiles' digests, from the whole chain the audit annotation names (`REF@DIGEST,BASE@DIGEST,...`). */
function basesOf(prepared: PreparedProfile): string[] {
  return parseAppliedProfiles(prepared.applied).digests.filter((digest) => digest !== prepared.manifestDigest);
}
