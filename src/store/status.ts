import path from 'node:path';
import { containersInUse, type InUse } from './containers-in-use.js';
import { blobClosure, readInventory, type Inventory } from './inventory.js';

export interface ProfileStatus {
  reference: string;
  manifestDigest: string;
  /** Bytes of its converted files and the blobs its digest (and its base profiles') stand for. */
  bytes: number;
  files: number;
  /** When the shim last handed it to a container; null for a profile only a container names. */
  lastUse: string | null;
  /** Containers whose audit annotation or profile file names it; null when the runtime did not answer. */
  containers: number | null;
}

export interface StoreStatus {
  stateDir: string;
  profiles: ProfileStatus[];
  totals: { records: number; profileFiles: number; profileBytes: number; blobs: number; blobBytes: number; bytes: number };
  /** Containers the runtime lists, and how many carry a profile from the shim; null when it did not answer. */
  containers: { total: number; withProfile: number } | null;
  runtimeError?: string;
}

/** The store as status shows it: every profile by reference and digest, with its size, last use and users. */
export async function storeStatus(stateDir: string, runtimeEndpoint: string): Promise<StoreStatus> {
  const inventory = await readInventory(stateDir);
  let inUse: InUse | undefined;
  let runtimeError: string | undefined;
  try {
    inUse = await containersInUse(runtimeEndpoint, path.join(stateDir, 'profiles'));
  } catch (error) {
    runtimeError = (error as Error).message;
  }
  const profiles: ProfileStatus[] = [];
  for (const use of inventory.uses) {
    profiles.push({
      reference: use.reference,
      manifestDigest: use.manifestDigest,
      bytes: await bytesOf(inventory, use.files, [use.manifestDigest, ...(use.bases ?? [])]),
      files: use.files.filter((f) => inventory.profiles.has(f)).length,
      lastUse: use.lastUse.toISOString(),
      containers: inUse ? inUse.containers.filter((c) => c.digests.includes(use.manifestDigest) || c.files?.some((f) => use.files.includes(f))).length : null,
    });
  }
  // Profiles containers name that no record holds (applied before records were kept).
  for (const container of inUse?.containers ?? []) {
    for (const applied of container.applied) {
      if (profiles.some((p) => p.reference === applied.reference && p.manifestDigest === applied.digest)) continue;
      profiles.push({
        reference: applied.reference,
        manifestDigest: applied.digest,
        bytes: await bytesOf(inventory, container.files ?? [], [applied.digest]),
        files: (container.files ?? []).filter((f) => inventory.profiles.has(f)).length,
        lastUse: null,
        containers: inUse?.containers.filter((c) => c.digests.includes(applied.digest)).length ?? null,
      });
    }
  }
  profiles.sort((a, b) => a.reference.localeCompare(b.reference) || a.manifestDigest.localeCompare(b.manifestDigest));
  const sum = (items: Iterable<{ bytes: number }>) => [...items].reduce((total, item) => total + item.bytes, 0);
  const profileBytes = sum(inventory.profiles.values());
  const blobBytes = sum(inventory.blobs.values());
  return {
    stateDir,
    profiles,
    totals: {
      records: inventory.uses.length,
      profileFiles: inventory.profiles.size,
      profileBytes,
      blobs: inventory.blobs.size,
      blobBytes,
      bytes: profileBytes + blobBytes,
    },
    containers: inUse ? { total: inUse.containers.length, withProfile: inUse.containers.filter((c) => c.digests.length > 0).length } : null,
    ...(runtimeError ? { runtimeError } : {}),
  };
}

async function bytesOf(inventory: Inventory, files: string[], manifestDigests: string[]): Promise<number> {
  let total = 0;
  for (const file of new Set(files)) total += inventory.profiles.get(file)?.bytes ?? 0;
  const seen = new Set<string>();
  for (const head of manifestDigests) {
    for (const digest of await blobClosure(inventory, head, seen)) total += inventory.blobs.get(digest)?.bytes ?? 0;
  }
  return total;
}
