import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { SingleFlight, untilAborted } from '../artifact/index.js';
import { writeFileAtomically } from '../files/atomic-write.js';
import type { Logger } from '../log/logger.js';
import type { LocalManifestReader } from './containerd-content.js';
import type { ImageAnnotationSource } from './ports.js';
import type { RuntimeQueries } from './runtime-queries.js';

export interface ManifestAnnotationReader {
  /** Annotations of the manifest a `repo@digest` reference names, merged with its index's. */
  imageAnnotations(digestReference: string, options: { signal?: AbortSignal }): Promise<Record<string, string>>;
}

export interface ImageAnnotationSourceOptions {
  stateDir: string;
  cacheEntries: number;
  logger: Logger;
}

/**
 * Image annotations for a container's image. containerd's CRI does not return manifest
 * annotations, so they are read by the digest the runtime recorded for the image: from the
 * runtime's own content store when it has one (containerd), else from the registry. A digest's
 * manifest never changes, so each is read once and kept in memory and under
 * `<stateDir>/image-annotations/`.
 */
export function createImageAnnotationSource(
  runtime: Pick<RuntimeQueries, 'imageRepoDigests'>,
  local: Pick<LocalManifestReader, 'imageAnnotations'>,
  registry: ManifestAnnotationReader,
  options: ImageAnnotationSourceOptions,
): ImageAnnotationSource {
  const byDigest = new LRUCache<string, Record<string, string>>({ max: options.cacheEntries });
  const dir = path.join(options.stateDir, 'image-annotations');
  const fileOf = (digest: string) => path.join(dir, `${digest.replace(':', '-')}.json`);

  async function stored(digest: string): Promise<Record<string, string> | undefined> {
    try {
      return JSON.parse(await readFile(fileOf(digest), 'utf8')) as Record<string, string>;
    } catch {
      return undefined;
    }
  }

  // Pods of one new image start together: one read (and one file write) serves them all. The
  // shared read is not tied to the first caller's signal; each caller stops waiting on its own.
  const reads = new SingleFlight<Record<string, string>>();
  const shared = new AbortController().signal;

  async function read(image: string, repoDigest: string, digest: string): Promise<Record<string, string>> {
    const known = byDigest.get(digest) ?? (await stored(digest));
    if (known !== undefined) {
      byDigest.set(digest, known);
      return known;
    }
    let from = 'runtime content store';
    let annotations = await local.imageAnnotations(digest, shared);
    if (annotations === undefined) {
      from = 'registry';
      annotations = await registry.imageAnnotations(repoDigest, { signal: shared });
    }
    options.logger.debug({ image, repoDigest, from }, 'Read image annotations');
    // The file only spares a read after a restart: a disk that refuses it must not fail the pod.
    await writeFileAtomically(fileOf(digest), JSON.stringify(annotations)).catch((error: unknown) => {
      options.logger.warn({ file: fileOf(digest), err: (error as Error).message }, 'Image annotation cache file could not be written');
    });
    byDigest.set(digest, annotations);
    return annotations;
  }

  return {
    async annotationsOf(image, signal) {
      const repoDigests = await runtime.imageRepoDigests(image);
      // An image with no repo digest was never pulled from a registry (imported or built on
      // the node): there is no manifest to read annotations from.
      const repoDigest = repoDigests[0];
      if (repoDigest === undefined) return {};
      const digest = repoDigest.slice(repoDigest.lastIndexOf('@') + 1);
      const known = byDigest.get(digest);
      if (known !== undefined) return known;
      return untilAborted(reads.run(digest, () => read(image, repoDigest, digest)), signal, () => new Error(`reading annotations of ${repoDigest}: aborted`));
    },
  };
}
