import { LRUCache } from 'lru-cache';
import type { ImageAnnotationSource } from './ports.js';
import type { RuntimeQueries } from './runtime-queries.js';

export interface ManifestAnnotationReader {
  /** Annotations of the manifest a `repo@digest` reference names, merged with its index's. */
  imageAnnotations(digestReference: string, options: { signal?: AbortSignal }): Promise<Record<string, string>>;
}

/**
 * Image annotations for a container's image. containerd's CRI does not return manifest
 * annotations, so they are read from the registry by the digest the runtime recorded for the
 * image; a digest's manifest never changes, so each is read once.
 */
export function createImageAnnotationSource(
  runtime: Pick<RuntimeQueries, 'imageRepoDigests'>,
  manifests: ManifestAnnotationReader,
  cacheEntries: number,
): ImageAnnotationSource {
  const byDigest = new LRUCache<string, Record<string, string>>({ max: cacheEntries });
  return {
    async annotationsOf(image, signal) {
      const repoDigests = await runtime.imageRepoDigests(image);
      // An image with no repo digest was never pulled from a registry (imported or built on
      // the node): there is no manifest to read annotations from.
      const repoDigest = repoDigests[0];
      if (repoDigest === undefined) return {};
      const known = byDigest.get(repoDigest);
      if (known) return known;
      const annotations = await manifests.imageAnnotations(repoDigest, { signal });
      byDigest.set(repoDigest, annotations);
      return annotations;
    },
  };
}
