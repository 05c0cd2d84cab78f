import type { Descriptor, ParsedManifest } from './descriptor.js';
import { ArtifactError } from './errors.js';
import { OCI_EMPTY, SECCOMP_PROFILE_CONFIG } from './media-types.js';

/**
 * `compatible`: any artifact, its first layer, as CRI-O accepts them (older recipes used
 * `application/vnd.unknown.config.v1+json` or an image config). `strict`: KEP-6061's typed
 * artifact: the seccomp config media type, or the empty config with that `artifactType`, and
 * exactly one layer.
 */
export type ArtifactMode = 'compatible' | 'strict';

export interface ProfileArtifact {
  configMediaType: string;
  artifactType?: string;
  layer: Descriptor;
}

/** Picks the layer holding the profile; the layer's media type is never required. */
export function profileLayerOf(manifest: ParsedManifest, mode: ArtifactMode): ProfileArtifact {
  const configMediaType = manifest.config?.mediaType;
  if (configMediaType === undefined) throw new ArtifactError('InvalidArtifact', 'manifest has no config descriptor');
  if (mode === 'strict') {
    const typed =
      configMediaType === SECCOMP_PROFILE_CONFIG || (configMediaType === OCI_EMPTY && manifest.artifactType === SECCOMP_PROFILE_CONFIG);
    if (!typed) {
      throw new ArtifactError(
        'InvalidArtifact',
        `strict mode: config media type "${configMediaType}"${manifest.artifactType ? ` with artifactType "${manifest.artifactType}"` : ''} is not a seccomp profile artifact (${SECCOMP_PROFILE_CONFIG})`,
      );
    }
    if (manifest.layers.length !== 1) {
      throw new ArtifactError('InvalidArtifact', `strict mode: a seccomp profile artifact has exactly one layer, this one has ${manifest.layers.length}`);
    }
  }
  const layer = manifest.layers[0];
  if (layer === undefined) throw new ArtifactError('InvalidArtifact', 'artifact has no layers');
  const artifact: ProfileArtifact = { configMediaType, layer };
  if (manifest.artifactType !== undefined) artifact.artifactType = manifest.artifactType;
  return artifact;
}
