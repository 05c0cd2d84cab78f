import type { RegistryClient } from '../src/artifact/index.js';
import { OCI_MANIFEST } from '../src/artifact/media-types.js';

const SECCOMP_CONFIG = 'application/vnd.cncf.seccomp-profile.config.v1+json';

/**
 * Pushes a profile in the exact shape of CRI-O's published artifact (the seed's
 * `quay.io/crio/seccomp:v2`): config `{}\n` typed as a seccomp profile, one tar-typed layer
 * holding the raw JSON, titled `seccomp.json`. Written by hand, not by the shim's own `push`, so
 * that tests read what the ecosystem publishes. Returns the manifest digest.
 */
export async function pushCrioShapedProfile(client: RegistryClient, ref: string, profile: unknown): Promise<string> {
  const layer = Buffer.from(JSON.stringify(profile));
  const config = Buffer.from('{}\n');
  const layerDigest = (await client.putBlob(ref, layer)).digest;
  const configDigest = (await client.putBlob(ref, config)).digest;
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: SECCOMP_CONFIG, digest: configDigest, size: config.length },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: layerDigest,
        size: layer.length,
        annotations: { 'org.opencontainers.image.title': 'seccomp.json' },
      },
    ],
  };
  return (await client.putManifest(ref, Buffer.from(JSON.stringify(manifest)), OCI_MANIFEST)).digest;
}
