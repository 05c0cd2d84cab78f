/**
 * What signature discovery and publishing need from a registry. The artifact module's
 * RegistryClient satisfies it; tests may pass anything that speaks the distribution protocol.
 * `registry` is the host (with port) and `repository` the path inside it, as in references.
 */

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface FetchedManifest {
  /** The digest of `body` as served (sha256 over the exact bytes). */
  digest: string;
  mediaType: string;
  body: Buffer;
}

export interface PutManifestResult {
  digest: string;
  /**
   * The registry's `OCI-Subject` response header, present when it indexed the manifest's
   * subject itself (OCI 1.1 referrers API); absent means the referrers tag schema must be
   * maintained by the client.
   */
  ociSubject?: string;
}

export interface SignatureSource {
  /** A manifest by tag or digest; `undefined` when the registry answers 404. */
  getManifest(registry: string, repository: string, reference: string): Promise<FetchedManifest | undefined>;
  /** A blob by digest, refusing more than `maxBytes`; the returned bytes match `digest`. */
  getBlob(registry: string, repository: string, digest: string, maxBytes: number): Promise<Buffer>;
  /**
   * Referrers of `digest` (OCI 1.1), through the referrers API or, where the registry has
   * none, the referrers tag schema; an empty list when there are none.
   */
  listReferrers(registry: string, repository: string, digest: string, artifactType?: string): Promise<OciDescriptor[]>;
}

/** What signing additionally needs: writes. */
export interface SignaturePublisher extends SignatureSource {
  putBlob(registry: string, repository: string, body: Buffer): Promise<{ digest: string; size: number }>;
  putManifest(registry: string, repository: string, reference: string, body: Buffer, mediaType: string): Promise<PutManifestResult>;
}
