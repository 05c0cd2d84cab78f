import { unlink } from 'node:fs/promises';
import type { InUse } from './containers-in-use.js';
import { blobClosure, type ImageRecord, type Inventory, type StoredItem, type TagRecord } from './inventory.js';
import { ProfileUses, type ProfileUse } from './profile-uses.js';

export interface GcPolicy {
  /** How long a profile no container uses is kept after its last use. */
  graceMs: number;
  /** The most bytes profiles and blobs may take; the least recently used unused ones go first. */
  maxBytes: number;
}

/**
 * Nothing used this recently is removed, whatever the policy says: a CreateContainer may have
 * been handed the file a moment ago and the runtime not have listed the container yet. It is
 * well above how stale a usage record may be on disk (LAST_USE_RESOLUTION_MS).
 */
export const IN_FLIGHT_MS = 10 * 60_000;

/** Removed together: a usage record with its files and blobs, or one file no record names. */
interface Unit {
  use?: ProfileUse;
  items: StoredItem[];
  lastUse: Date;
  inUse: boolean;
}

export type RemovalReason = 'unused' | 'size';

export interface GcPlan {
  uses: { use: ProfileUse; reason: RemovalReason }[];
  tags: TagRecord[];
  /** Profiles first, then blobs, manifests before what they point at. */
  items: { item: StoredItem; reason: RemovalReason }[];
  /** Image annotation records of images the runtime no longer holds. */
  imageRecords: ImageRecord[];
  bytesBefore: number;
  bytesAfter: number;
  /** False when the runtime did not say which profile file each container loads: no profile file is removed then. */
  filesKnown: boolean;
}

/**
 * Decides what goes, never touching anything a listed container references (its audit
 * annotation's digests and everything they point at, the profile files its status names), nor
 * anything used within IN_FLIGHT_MS: first whatever has been unused for the grace period, then,
 * while the store is over its size bound, the least recently used of the rest.
 */
export async function planGc(inventory: Inventory, inUse: InUse, policy: GcPolicy, now: Date): Promise<GcPlan> {
  const protectedBlobs = new Set<string>();
  for (const digest of inUse.manifestDigests) for (const d of await blobClosure(inventory, digest)) protectedBlobs.add(d);
  const protectedFiles = new Set(inUse.files);
  const isProtected = (item: StoredItem) =>
    item.kind === 'blob' ? protectedBlobs.has(item.id) : !inUse.filesKnown || protectedFiles.has(item.file);

  const units: Unit[] = [];
  const claimed = new Set<StoredItem>();
  for (const use of inventory.uses) {
    const items: StoredItem[] = [];
    for (const file of use.files) {
      const item = inventory.profiles.get(file);
      if (item) items.push(item);
    }
    const seen = new Set<string>();
    for (const head of [use.manifestDigest, ...(use.bases ?? [])]) {
      for (const digest of await blobClosure(inventory, head, seen)) items.push(inventory.blobs.get(digest) as StoredItem);
    }
    for (const item of items) claimed.add(item);
    const inUseNow = inUse.manifestDigests.has(use.manifestDigest) || items.some(isProtected);
    units.push({ use, items, lastUse: use.lastUse, inUse: inUseNow });
  }
  for (const item of [...inventory.profiles.values(), ...inventory.blobs.values()]) {
    if (!claimed.has(item)) units.push({ items: [item], lastUse: item.modified, inUse: isProtected(item) });
  }

  const removable = (unit: Unit) => !unit.inUse && now.getTime() - unit.lastUse.getTime() > IN_FLIGHT_MS;
  const removed = new Map<Unit, RemovalReason>();
  for (const unit of units) {
    if (removable(unit) && now.getTime() - unit.lastUse.getTime() > policy.graceMs) removed.set(unit, 'unused');
  }
  const all = [...inventory.profiles.values(), ...inventory.blobs.values()];
  const bytesBefore = sum(all);
  const kept = () => keptItems(units, removed, isProtected);
  let bytesAfter = sum([...kept()]);
  if (bytesAfter > policy.maxBytes) {
    const candidates = units.filter((u) => removable(u) && !removed.has(u)).sort((a, b) => a.lastUse.getTime() - b.lastUse.getTime());
    for (const unit of candidates) {
      if (bytesAfter <= policy.maxBytes) break;
      removed.set(unit, 'size');
      bytesAfter = sum([...kept()]);
    }
  }

  const keptNow = kept();
  const reasonOf = new Map<StoredItem, RemovalReason>();
  for (const [unit, reason] of removed) for (const item of unit.items) if (!keptNow.has(item)) reasonOf.set(item, reason);
  const goingDigests = new Set([...reasonOf.keys()].filter((i) => i.kind === 'blob').map((i) => i.id));
  // Unit order keeps each closure's manifests before their layers.
  const ordered = [...new Set([...removed.keys()].flatMap((u) => u.items))].filter((i) => reasonOf.has(i));
  ordered.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'profile' ? -1 : 1));
  return {
    uses: [...removed].filter(([u]) => u.use).map(([u, reason]) => ({ use: u.use as ProfileUse, reason })),
    tags: inventory.tags.filter((t) => goingDigests.has(t.digest)),
    items: ordered.map((item) => ({ item, reason: reasonOf.get(item) as RemovalReason })),
    imageRecords: staleImageRecords(inventory.imageRecords, inUse.imageDigests, now),
    bytesBefore,
    bytesAfter,
    filesKnown: inUse.filesKnown,
  };
}

/**
 * Records are a cache of what an image's manifest says, worth keeping while the image is on the
 * node: one whose image is gone (and that was not written moments ago) goes. Nothing goes when the
 * runtime did not list its images. An image listed without repo digests (imported, not pulled)
 * loses its record too; a later CreateContainer reads the node's content store again.
 */
function staleImageRecords(records: ImageRecord[], onNode: Set<string> | undefined, now: Date): ImageRecord[] {
  if (onNode === undefined) return [];
  return records.filter((record) => !onNode.has(record.digest) && now.getTime() - record.modified.getTime() > IN_FLIGHT_MS);
}

function keptItems(units: Unit[], removed: Map<Unit, RemovalReason>, isProtected: (item: StoredItem) => boolean): Set<StoredItem> {
  const kept = new Set<StoredItem>();
  for (const unit of units) {
    for (const item of unit.items) if (!removed.has(unit) || isProtected(item)) kept.add(item);
  }
  return kept;
}

function sum(items: Iterable<StoredItem>): number {
  let total = 0;
  for (const item of items) total += item.bytes;
  return total;
}

/**
 * Carries a plan out so that a kill at any point leaves a consistent state: usage records go
 * first (what is left is an unnamed file a later run judges by its age), then tag records (no
 * tag points at a manifest that is gone), then profile files, then blobs, manifests before the
 * content they name (a stored manifest finds its content, as the puller expects). Each removal
 * is one unlink: a file is there, whole, or not at all. A profile handed out again since the
 * plan was made has a newer record: that record, and every file a record names now, stays.
 */
export async function executeGc(stateDir: string, plan: GcPlan): Promise<void> {
  const uses = new ProfileUses(stateDir);
  for (const { use } of plan.uses) {
    const current = await uses.read(use.reference, use.manifestDigest);
    if (current && current.lastUse > use.lastUse) continue;
    await uses.remove(use);
  }
  const named = new Set((await uses.list()).flatMap((use) => use.files));
  for (const tag of plan.tags) await unlinkIfThere(tag.file);
  for (const record of plan.imageRecords) await unlinkIfThere(record.file);
  for (const { item } of plan.items) {
    if (item.kind === 'profile' && named.has(item.file)) continue;
    await unlinkIfThere(item.file);
  }
}

async function unlinkIfThere(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
