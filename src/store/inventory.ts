import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ProfileUses, type ProfileUse } from './profile-uses.js';

/** A file of the state directory gc may remove. */
export interface StoredItem {
  kind: 'profile' | 'blob';
  /** Absolute path. */
  file: string;
  /** The blob's digest; the profile file's own path for profiles. */
  id: string;
  bytes: number;
  modified: Date;
}

export interface TagRecord {
  file: string;
  digest: string;
}

/** A cached record of what one image manifest's annotations say (see injector/image-manifests.ts). */
export interface ImageRecord {
  file: string;
  /** The manifest digest the record is kept under. */
  digest: string;
  modified: Date;
}

/** What the state directory holds, read in one pass. */
export interface Inventory {
  stateDir: string;
  profilesDir: string;
  profiles: Map<string, StoredItem>;
  blobs: Map<string, StoredItem>;
  uses: ProfileUse[];
  tags: TagRecord[];
  imageRecords: ImageRecord[];
}

export async function readInventory(stateDir: string): Promise<Inventory> {
  const profilesDir = path.join(stateDir, 'profiles');
  const profiles = new Map<string, StoredItem>();
  for (const item of await itemsIn(profilesDir, (name) => /^[0-9a-f]{64}\.json$/.test(name))) {
    profiles.set(item.file, { ...item, kind: 'profile', id: item.file });
  }
  const blobs = new Map<string, StoredItem>();
  for (const algorithm of await readdir(path.join(stateDir, 'blobs')).catch(() => [] as string[])) {
    if (algorithm !== 'sha256' && algorithm !== 'sha512') continue;
    for (const item of await itemsIn(path.join(stateDir, 'blobs', algorithm), (name) => /^[0-9a-f]+$/.test(name))) {
      const digest = `${algorithm}:${path.basename(item.file)}`;
      blobs.set(digest, { ...item, kind: 'blob', id: digest });
    }
  }
  return {
    stateDir,
    profilesDir,
    profiles,
    blobs,
    uses: await new ProfileUses(stateDir).list(),
    tags: await readTags(stateDir),
    imageRecords: await readImageRecords(stateDir),
  };
}

async function readImageRecords(stateDir: string): Promise<ImageRecord[]> {
  const records: ImageRecord[] = [];
  for (const item of await itemsIn(path.join(stateDir, 'image-annotations'), (name) => /^sha(256|512)-[0-9a-f]+\.json$/.test(name))) {
    const digest = path.basename(item.file, '.json').replace('-', ':');
    records.push({ file: item.file, digest, modified: item.modified });
  }
  return records;
}

/** Regular files whose names pass `accept`; temp files of an unfinished atomic write are not items. */
async function itemsIn(dir: string, accept: (name: string) => boolean): Promise<Omit<StoredItem, 'kind' | 'id'>[]> {
  const items: Omit<StoredItem, 'kind' | 'id'>[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!accept(name)) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile()) items.push({ file, bytes: info.size, modified: info.mtime });
  }
  return items;
}

async function readTags(stateDir: string): Promise<TagRecord[]> {
  const dir = path.join(stateDir, 'tags');
  const tags: TagRecord[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith('.')) continue;
    const file = path.join(dir, name);
    try {
      const record = JSON.parse(await readFile(file, 'utf8')) as { digest?: unknown };
      if (typeof record.digest === 'string') tags.push({ file, digest: record.digest });
    } catch {
      // A record gc cannot read is left alone.
    }
  }
  return tags;
}

/**
 * The blobs a manifest digest stands for, itself first: an index's manifests, a manifest's config
 * and layers, as far as the store holds them. Manifests come before what they point at.
 */
export async function blobClosure(inventory: Inventory, digest: string, seen = new Set<string>()): Promise<string[]> {
  if (seen.has(digest)) return [];
  seen.add(digest);
  const item = inventory.blobs.get(digest);
  if (!item) return [];
  const closure = [digest];
  for (const child of await referencedDigests(item)) closure.push(...(await blobClosure(inventory, child, seen)));
  return closure;
}

/** Digests a stored manifest or index names; nothing for a layer or a config. */
async function referencedDigests(item: StoredItem): Promise<string[]> {
  // Manifests are at most a few MiB; layers are read only to find they are not JSON manifests.
  if (item.bytes > 4 * 1024 * 1024) return [];
  try {
    const doc = JSON.parse(await readFile(item.file, 'utf8')) as {
      schemaVersion?: unknown;
      config?: { digest?: unknown };
      layers?: { digest?: unknown }[];
      manifests?: { digest?: unknown }[];
    };
    if (doc.schemaVersion !== 2) return [];
    const children = [doc.config?.digest, ...(doc.layers ?? []).map((l) => l.digest), ...(doc.manifests ?? []).map((m) => m.digest)];
    return children.filter((d): d is string => typeof d === 'string');
  } catch {
    return [];
  }
}

export interface StoreTotals {
  profiles: number;
  profileBytes: number;
  blobs: number;
  blobBytes: number;
}

/** Counts and sizes of profile files and blobs, without reading any of them. */
export async function storeTotals(stateDir: string): Promise<StoreTotals> {
  const profiles = await itemsIn(path.join(stateDir, 'profiles'), (name) => /^[0-9a-f]{64}\.json$/.test(name));
  const blobs: Omit<StoredItem, 'kind' | 'id'>[] = [];
  for (const algorithm of ['sha256', 'sha512']) blobs.push(...(await itemsIn(path.join(stateDir, 'blobs', algorithm), (name) => /^[0-9a-f]+$/.test(name))));
  const bytes = (items: { bytes: number }[]) => items.reduce((total, item) => total + item.bytes, 0);
  return { profiles: profiles.length, profileBytes: bytes(profiles), blobs: blobs.length, blobBytes: bytes(blobs) };
}
