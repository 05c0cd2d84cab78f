import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { mergedImageAnnotations, SingleFlight, untilAborted, type ImageAnnotations } from '../artifact/index.js';
import { writeFileAtomically } from '../files/atomic-write.js';
import { errorText, type Logger } from '../log/logger.js';

/** What the shim needs of one image manifest (or index, resolved for this node's platform). */
export interface ManifestFacts {
  /** The index's annotations merged with the platform manifest's, or the manifest's own. */
  annotations: Record<string, string>;
  /** The config digest of the manifest that runs here: the image id it belongs to. */
  configDigest?: string;
}

/** Reads a manifest from the node; undefined when the node cannot say. */
export interface LocalManifestSource {
  imageAnnotations(digest: string, signal: AbortSignal): Promise<ImageAnnotations | undefined>;
}

/** Reads a manifest from its registry by `repo@digest`. */
export interface RegistryManifestSource {
  imageAnnotations(digestReference: string, options: { signal?: AbortSignal }): Promise<ImageAnnotations>;
}

export interface ImageManifestFactsOptions {
  stateDir: string;
  cacheEntries: number;
  logger: Logger;
}

export interface ImageManifestFacts {
  /** Facts of the manifest `repo@digest` names: from memory, the state directory, the node, else the registry. */
  of(repoDigest: string, signal: AbortSignal): Promise<ManifestFacts>;
}

const STORED_VERSION = 2;
type StoredFacts = ManifestFacts & { version: number };

function factsOf(found: ImageAnnotations): ManifestFacts {
  const facts: ManifestFacts = { annotations: mergedImageAnnotations(found) };
  if (found.configDigest !== undefined) facts.configDigest = found.configDigest;
  return facts;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/**
 * Manifest facts by digest. A digest's content never changes, so each is read once and kept in
 * memory and under `<stateDir>/image-annotations/`; the key is the manifest digest alone, so what
 * one manifest says can never be served for another.
 */
export function createImageManifestFacts(
  local: LocalManifestSource,
  registry: RegistryManifestSource,
  options: ImageManifestFactsOptions,
): ImageManifestFacts {
  const byDigest = new LRUCache<string, ManifestFacts>({ max: options.cacheEntries });
  const dir = path.join(options.stateDir, 'image-annotations');
  const fileOf = (digest: string) => path.join(dir, `${digest.replace(':', '-')}.json`);

  async function stored(digest: string): Promise<ManifestFacts | undefined> {
    try {
      const kept = JSON.parse(await readFile(fileOf(digest), 'utf8')) as Partial<StoredFacts>;
      // Files from before the config digest was kept hold annotations alone: read those again.
      if (kept.version !== STORED_VERSION || !isStringMap(kept.annotations)) return undefined;
      const facts: ManifestFacts = { annotations: kept.annotations };
      if (typeof kept.configDigest === 'string') facts.configDigest = kept.configDigest;
      return facts;
    } catch {
      return undefined;
    }
  }

  // Pods of one new image start together: one read (and one file write) serves them all. The
  // shared read is not tied to the first caller's signal; each caller stops waiting on its own.
  const reads = new SingleFlight<ManifestFacts>();
  const shared = new AbortController().signal;

  async function read(repoDigest: string, digest: string): Promise<ManifestFacts> {
    const known = byDigest.get(digest) ?? (await stored(digest));
    if (known !== undefined) {
      byDigest.set(digest, known);
      return known;
    }
    let from = 'runtime content store';
    let found = await local.imageAnnotations(digest, shared);
    if (found === undefined) {
      from = 'registry';
      found = await registry.imageAnnotations(repoDigest, { signal: shared });
    }
    const facts = factsOf(found);
    options.logger.debug({ repoDigest, from }, 'Read image annotations');
    const kept: StoredFacts = { version: STORED_VERSION, ...facts };
    // The file only spares a read after a restart: a disk that refuses it must not fail the pod.
    await writeFileAtomically(fileOf(digest), JSON.stringify(kept)).catch((error: unknown) => {
      options.logger.warn({ file: fileOf(digest), err: errorText(error) }, 'Image annotation cache file could not be written');
    });
    byDigest.set(digest, facts);
    return facts;
  }

  return {
    of(repoDigest, signal) {
      const digest = repoDigest.slice(repoDigest.lastIndexOf('@') + 1);
      const known = byDigest.get(digest);
      if (known !== undefined) return Promise.resolve(known);
      return untilAborted(reads.run(digest, () => read(repoDigest, digest)), signal, () => new Error(`reading annotations of ${repoDigest}: aborted`));
    },
  };
}
