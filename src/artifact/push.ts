import { ArtifactError } from './errors.js';
import { CREATED_ANNOTATION, OCI_EMPTY, OCI_LAYER_TAR, OCI_MANIFEST, SECCOMP_PROFILE_CONFIG, TITLE_ANNOTATION } from './media-types.js';
import { formatReference, parseReference } from './reference.js';
import type { RegistryClient } from './registry-client.js';

export interface PushProfileOptions {
  /** Where to publish: `host/repo:tag`. */
  reference: string;
  /** The profile document, published as the layer as is. */
  profile: Buffer;
  /** The layer's `org.opencontainers.image.title`; `seccomp.json` when not given. */
  title?: string;
  /**
   * `config`: the config carries the seccomp media type (what CRI-O and `oras push --config
   * config.json:<type>` produce). `artifactType`: OCI 1.1's empty config with the manifest's
   * `artifactType` set to the seccomp media type.
   */
  form?: 'config' | 'artifactType';
  /** Manifest annotations; `org.opencontainers.image.created` is set to now unless given (or null to omit). */
  annotations?: Record<string, string>;
  created?: Date | null;
  signal?: AbortSignal;
}

export interface PushedProfile {
  reference: string;
  digest: string;
  manifest: Buffer;
}

/** Publishes a profile as a one-layer OCI artifact; returns the manifest's digest. */
export async function pushProfile(registry: RegistryClient, options: PushProfileOptions): Promise<PushedProfile> {
  const reference = parseReference(options.reference);
  if (options.profile.length === 0) throw new ArtifactError('InvalidArtifact', `pushing "${formatReference(reference)}": the profile is empty`);
  const signal = options.signal ? { signal: options.signal } : {};
  const typedConfig = (options.form ?? 'config') === 'config';
  // `{}\n` as `echo "{}" > config.json` writes it: the config blob of the published examples.
  const configBytes = Buffer.from(typedConfig ? '{}\n' : '{}');
  const config = await registry.putBlob(reference, configBytes, signal);
  const layer = await registry.putBlob(reference, options.profile, signal);
  const annotations: Record<string, string> = {};
  if (options.created !== null) annotations[CREATED_ANNOTATION] = (options.created ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  Object.assign(annotations, options.annotations);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    ...(typedConfig ? {} : { artifactType: SECCOMP_PROFILE_CONFIG }),
    config: { mediaType: typedConfig ? SECCOMP_PROFILE_CONFIG : OCI_EMPTY, digest: config.digest, size: config.size },
    layers: [
      {
        mediaType: OCI_LAYER_TAR,
        digest: layer.digest,
        size: layer.size,
        annotations: { [TITLE_ANNOTATION]: options.title ?? 'seccomp.json' },
      },
    ],
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const { digest } = await registry.putManifest(reference, bytes, OCI_MANIFEST, signal);
  return { reference: formatReference(reference), digest, manifest: bytes };
}
