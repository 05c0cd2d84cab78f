import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { writeFileAtomically } from '../files/atomic-write.js';
import type { ImageAnnotationSource } from './ports.js';
import type { RuntimeQueries } from './runtime-queries.js';

export interface ManifestAnnotationReader {
  /** Annotations of the manifest a `repo@digest` reference names, merged with its index's. */
  imageAnnotations(digestReference: string, options: { signal?: AbortSignal }): Promise<Record<string, string>>;
}

/**
 * Image annotations for a container's image. containerd's CRI does not return manifest
 * annotations, so they are read from the registry by the digest the runtime recorded for the
 * image. A digest's manifest never changes, so each is read once: kept in memory and under
 * `<stateDir>/image-annotations/`, so that after a restart a node whose images are already
 * known does not depend on their registries being reachable.
 */
export function createImageAnnotationSource(
  runtime: Pick<RuntimeQueries, 'imageRepoDigests'>,
  manifests: ManifestAnnotationReader,
  options: { stateDir: string; cacheEntries: number },
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

  return {
    async annotationsOf(image, signal) {
      const repoDigests = await runtime.imageRepoDigests(image);
      // An image with no repo digest was never pulled from a registry (imported or built on
      // the node): there is no manifest to read annotations from.
      const repoDigest = repoDigests[0];
      if (repoDigest === undefined) return {};
      const digest = repoDigest.slice(repoDigest.lastIndexOf('@') + 1);
      let annotations = byDigest.get(digest) ?? (await stored(digest));
      if (annotations === undefined) {
        annotations = await manifests.imageAnnotations(repoDigest, { signal });
        await writeFileAtomically(fileOf(digest), JSON.stringify(annotations));
      }
      byDigest.set(digest, annotations);
      return annotations;
    },
  };
}
