import type { ParsedManifest } from './descriptor.js';
import { isIndexMediaType } from './media-types.js';
import { selectPlatformManifest, type Platform } from './platform.js';

export interface ImageAnnotations {
  /** The manifest or index the reference points to. */
  digest: string;
  mediaType: string;
  annotations: Record<string, string>;
  /** When the reference is an index: the entry for this node's platform, if it has one. */
  platformManifest?: { digest: string; annotations: Record<string, string> };
  /**
   * The config digest of the image manifest that runs here (the manifest itself, or the index's
   * entry for the platform): containerd's and CRI-O's image id. Absent for an index without an
   * entry for the platform.
   */
  configDigest?: string;
}

/** A manifest or index as read, from a registry or a runtime's content store. */
export interface ReadManifest {
  digest: string;
  mediaType: string;
  manifest: ParsedManifest;
}

/**
 * An image's annotations, read the way a runtime resolves the image: a manifest's own, or for
 * an index its own and those of the entry for `platform`, fetched by digest. An index without
 * an entry for the platform has only its own. A fetch that fails fails the whole.
 */
export async function readImageAnnotations(
  top: ReadManifest,
  manifestByDigest: (digest: string) => Promise<ReadManifest>,
  platform: Platform,
): Promise<ImageAnnotations> {
  const result: ImageAnnotations = { digest: top.digest, mediaType: top.mediaType, annotations: top.manifest.annotations };
  if (!isIndexMediaType(top.mediaType)) {
    if (top.manifest.config) result.configDigest = top.manifest.config.digest;
    return result;
  }
  const entry = selectPlatformManifest(top.manifest.manifests, platform);
  if (entry === undefined) return result;
  const child = await manifestByDigest(entry.digest);
  result.platformManifest = { digest: child.digest, annotations: child.manifest.annotations };
  if (child.manifest.config) result.configDigest = child.manifest.config.digest;
  return result;
}

/** One map of an image's annotations: the platform manifest's win over its index's, being the more specific. */
export function mergedImageAnnotations(found: ImageAnnotations): Record<string, string> {
  return { ...found.annotations, ...found.platformManifest?.annotations };
}
