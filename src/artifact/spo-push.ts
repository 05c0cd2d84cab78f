import { ArtifactError } from './errors.js';
import { CREATED_ANNOTATION, OCI_EMPTY, OCI_LAYER_TAR, OCI_MANIFEST, TITLE_ANNOTATION } from './media-types.js';
import type { Platform } from './platform.js';
import type { PushedProfile } from './push.js';
import { formatReference, parseReference } from './reference.js';
import type { RegistryClient } from './registry-client.js';

/**
 * The Security Profiles Operator's artifact layout, as `spoc push` makes it with oras-go's
 * PackManifest (OCI 1.1): the empty config inline, `artifactType` oras' unknown-config type, one
 * raw YAML layer per platform titled `profile-<os>-<arch>[-<variant>][-<osversion>].yaml` with
 * `platform` in its descriptor, or one unbound `profile.yaml`.
 */
export const SPO_ARTIFACT_TYPE = 'application/vnd.unknown.config.v1+json';
/** OCI's empty descriptor, `{}` with its bytes inline as oras writes it. */
const EMPTY_CONFIG = Buffer.from('{}');

export interface SpoLayer {
  /** The SeccompProfile YAML, published as is. */
  profile: Buffer;
  /** The platform the layer is bound to; none gives SPO's fallback `profile.yaml`. */
  platform?: Platform & { osVersion?: string };
}

/** SPO's layer title for a platform (its profileName). */
export function spoLayerTitle(platform?: SpoLayer['platform']): string {
  const parts = platform ? [platform.os, platform.architecture, platform.variant, platform.osVersion].filter((p) => p) : [];
  return `profile${parts.map((p) => `-${p}`).join('')}.yaml`;
}

export async function pushSpoProfile(
  registry: RegistryClient,
  options: { reference: string; layers: SpoLayer[]; created?: Date; signal?: AbortSignal },
): Promise<PushedProfile> {
  const reference = parseReference(options.reference);
  if (options.layers.length === 0) throw new ArtifactError('InvalidArtifact', `pushing "${formatReference(reference)}": no profile to publish`);
  const signal = options.signal ? { signal: options.signal } : {};
  const config = await registry.putBlob(reference, EMPTY_CONFIG, signal);
  const layers = [];
  for (const layer of options.layers) {
    const blob = await registry.putBlob(reference, layer.profile, signal);
    const platform = layer.platform;
    layers.push({
      mediaType: OCI_LAYER_TAR,
      digest: blob.digest,
      size: blob.size,
      annotations: { [TITLE_ANNOTATION]: spoLayerTitle(platform) },
      // Go's ocispec.Platform member order: architecture, os, os.version, variant.
      ...(platform
        ? {
            platform: {
              architecture: platform.architecture,
              os: platform.os,
              ...(platform.osVersion ? { 'os.version': platform.osVersion } : {}),
              ...(platform.variant ? { variant: platform.variant } : {}),
            },
          }
        : {}),
    });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: SPO_ARTIFACT_TYPE,
    config: { mediaType: OCI_EMPTY, digest: config.digest, size: config.size, data: EMPTY_CONFIG.toString('base64') },
    layers,
    annotations: { [CREATED_ANNOTATION]: (options.created ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z') },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const { digest } = await registry.putManifest(reference, bytes, OCI_MANIFEST, signal);
  return { reference: formatReference(reference), digest, manifest: bytes };
}
