import { isArtifactError, type RegistryClient, type Reference } from '../artifact/index.js';
import { MAX_SIGNATURE_BLOB_BYTES } from './candidates.js';
import type { OciDescriptor, SignaturePublisher } from './source.js';

function at(registry: string, repository: string, reference: string): Reference {
  return reference.includes(':') ? { registry, repository, digest: reference } : { registry, repository, tag: reference };
}

/**
 * The artifact module's distribution client as a signature source and publisher. A 404 on a
 * manifest is "no signatures of this kind", not an error. Manifests are read under the
 * signature limit, not the artifact module's larger one: signatures are kilobytes.
 */
export function registrySignatureSource(client: RegistryClient): SignaturePublisher {
  return {
    async getManifest(registry, repository, reference) {
      try {
        const result = await client.getManifest(at(registry, repository, reference), { maxBytes: MAX_SIGNATURE_BLOB_BYTES });
        return { digest: result.digest, mediaType: result.mediaType, body: result.bytes };
      } catch (error) {
        if (isArtifactError(error, 'NotFound')) return undefined;
        throw error;
      }
    },
    getBlob: (registry, repository, digest, maxBytes) => client.getBlob({ registry, repository, digest }, digest, { maxBytes }),
    async listReferrers(registry, repository, digest, artifactType) {
      const list = await client.listReferrers({ registry, repository, digest }, digest, artifactType === undefined ? {} : { artifactType });
      return list.map((d): OciDescriptor => ({ ...d }));
    },
    putBlob: (registry, repository, body) => client.putBlob({ registry, repository, tag: 'latest' }, body),
    putManifest: (registry, repository, reference, body, mediaType) => client.putManifest(at(registry, repository, reference), body, mediaType),
  };
}
