import type { Descriptor, ParsedManifest } from './descriptor.js';
import { ArtifactError } from './errors.js';
import { OCI_EMPTY, SECCOMP_PROFILE_CONFIG, TITLE_ANNOTATION } from './media-types.js';
import { formatPlatform, selectPlatformManifest, type Platform } from './platform.js';

/** The unbound layers the Security Profiles Operator falls back to when no layer names a platform. */
const SPO_UNBOUND_TITLES = ['profile.yaml', 'profile.json'];

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

/**
 * Picks the layer holding the profile; the layer's media type is never required. In compatible
 * mode an untyped artifact with platform-bound layers (the Security Profiles Operator's `spoc
 * push` layout) gives the layer for `platform`, else its unbound `profile.yaml` or `profile.json`;
 * anything else gives its first layer, as CRI-O takes it.
 */
export function profileLayerOf(manifest: ParsedManifest, mode: ArtifactMode, platform?: Platform): ProfileArtifact {
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
  const layer = typedAsSeccomp(configMediaType, manifest) || !platform ? manifest.layers[0] : spoLayerOf(manifest.layers, platform);
  if (layer === undefined) throw new ArtifactError('InvalidArtifact', 'artifact has no layers');
  const artifact: ProfileArtifact = { configMediaType, layer };
  if (manifest.artifactType !== undefined) artifact.artifactType = manifest.artifactType;
  return artifact;
}

function typedAsSeccomp(configMediaType: string, manifest: ParsedManifest): boolean {
  return configMediaType === SECCOMP_PROFILE_CONFIG || manifest.artifactType === SECCOMP_PROFILE_CONFIG;
}

/** SPO's choice: the layer bound to this platform, then an unbound profile.yaml/profile.json, then the first layer (CRI-O's). */
function spoLayerOf(layers: Descriptor[], platform: Platform): Descriptor | undefined {
  const bound = layers.filter((layer) => layer.platform !== undefined);
  const chosen = selectPlatformManifest(bound, platform);
  if (chosen) return chosen;
  const unbound = layers.filter((layer) => layer.platform === undefined);
  const named = unbound.find((layer) => SPO_UNBOUND_TITLES.includes(layer.annotations?.[TITLE_ANNOTATION] ?? ''));
  if (named) return named;
  if (bound.length > 0) {
    const offered = bound.map((layer) => formatPlatform({ os: layer.platform?.os ?? '?', architecture: layer.platform?.architecture ?? '?', ...(layer.platform?.variant ? { variant: layer.platform.variant } : {}) }));
    throw new ArtifactError('InvalidArtifact', `no profile layer for platform ${formatPlatform(platform)} (the artifact has layers for ${offered.join(', ')})`);
  }
  return unbound[0];
}
