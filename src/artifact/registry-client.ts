import { LRUCache } from 'lru-cache';
import type { Logger } from '../log/logger.js';
import { Authenticator } from './auth.js';
import { readVerifiedBody } from './body.js';
import { CredentialStore } from './credentials.js';
import type { Descriptor, ParsedManifest } from './descriptor.js';
import { digestOf, parseDigest, type DigestAlgorithm } from './digest.js';
import { ArtifactError } from './errors.js';
import { readImageAnnotations, type ImageAnnotations } from './image-annotations.js';
import { bareMediaType, decodeManifest } from './manifest-document.js';
import { MANIFEST_ACCEPT, OCI_INDEX } from './media-types.js';
import { nodePlatform } from './platform.js';
import { parseReference, type Reference } from './reference.js';
import { MAX_REFERRERS_PAGES, nextPagePath } from './referrers-pages.js';
import { RegistryCaller, expectOk, type Outcome } from './registry-call.js';
import { DEFAULT_RETRY, type RetryOptions } from './retry.js';
import { Sources, contextualize, type RegistryHostConfig } from './sources.js';
import { DEFAULT_TIMEOUTS, header, Transport, type Timeouts } from './transport.js';

export { decodeManifest } from './manifest-document.js';
export { nextPagePath } from './referrers-pages.js';
export { retryAfterMs, type RetryOptions } from './retry.js';
export type { RegistryHostConfig } from './sources.js';

export interface RegistryClientOptions {
  /** Per registry host (`docker.io`, `host:5000`): TLS, insecure, mirrors. */
  registries?: Record<string, RegistryHostConfig>;
  /** Docker config.json with credentials; none read when undefined. */
  authFile?: string;
  timeouts?: Partial<Timeouts>;
  retry?: Partial<RetryOptions>;
  /** Limit for any manifest or index. */
  maxManifestBytes?: number;
  logger?: Logger;
  userAgent?: string;
}

export interface ManifestResult {
  reference: Reference;
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** The parsed, checked document. */
  manifest: ParsedManifest;
  /** The raw JSON. */
  json: unknown;
  /** `host/repository` that served it (a mirror or the registry). */
  source: string;
}

export interface PutManifestResult {
  digest: string;
  /**
   * The `OCI-Subject` response header: the subject's digest, sent by a registry with the
   * referrers API that indexed the manifest's `subject` itself (distribution spec 1.1).
   */
  ociSubject?: string;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** containers/image's limit for manifests. */
export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * A client for the OCI distribution API: manifests and blobs, verified against their digests while
 * they stream, with auth, TLS per host, mirrors, timeouts and bounded retries.
 */
export class RegistryClient {
  private readonly transport = new Transport();
  /**
   * Registries that answered 404 to the referrers API. A registry that has the API answers 200
   * even when nothing refers to a digest, so the next lookups go straight to the tag schema;
   * remembered for an hour so that an upgraded registry is noticed.
   */
  private readonly withoutReferrersApi = new LRUCache<string, true>({ max: 1000, ttl: 3_600_000 });
  private readonly sources: Sources;
  private readonly caller: RegistryCaller;
  private readonly retry: RetryOptions;
  readonly maxManifestBytes: number;

  constructor(options: RegistryClientOptions = {}) {
    const sources = new Sources(options.registries, options.logger);
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    const userAgent = options.userAgent ?? 'seccomp-oci-shim';
    const secureContextFor = (host: string) => sources.secureContextFor(host);
    this.sources = sources;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    const auth = new Authenticator({
      transport: this.transport,
      credentials: new CredentialStore(options.authFile),
      timeouts,
      secureContextFor,
      isInsecureHost: (host) => sources.hostConfig(host).insecure === true,
      userAgent,
    });
    this.caller = new RegistryCaller({
      transport: this.transport,
      auth,
      timeouts,
      retry: this.retry,
      userAgent,
      secureContextFor,
      logger: options.logger,
    });
  }

  /** Requests sent, for benchmarks and tests. */
  get requestCount(): number {
    return this.caller.requestCount;
  }

  set requestCount(count: number) {
    this.caller.requestCount = count;
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.transport.close();
  }

  private async expectOk<T>(outcome: Outcome<T>): Promise<T> {
    return expectOk(outcome, this.retry.attempts);
  }

  /** Fetches a manifest or index by tag or digest; verified against the digest (or Docker-Content-Digest when fetched by tag). */
  async getManifest(ref: Reference | string, options: RequestOptions & { maxBytes?: number } = {}): Promise<ManifestResult> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    const maxBytes = options.maxBytes ?? this.maxManifestBytes;
    return this.sources.first('pulling', reference, true, options.signal, async (source) => {
      const id = reference.digest ?? reference.tag ?? 'latest';
      const path = `/v2/${source.repository}/manifests/${id}`;
      const outcome = await this.caller.call(source, 'pull', { method: 'GET', path, headers: { accept: MANIFEST_ACCEPT }, signal: options.signal }, async (response) => {
        const announced = header(response.headers, 'docker-content-digest');
        const announcedParsed = announced === undefined ? undefined : parseDigest(announced);
        const algorithm: DigestAlgorithm = typeof announcedParsed === 'object' ? announcedParsed.algorithm : 'sha256';
        const body = await readVerifiedBody(response, {
          maxBytes,
          expectedDigest: reference.digest,
          algorithm,
          what: 'manifest',
        });
        if (reference.digest === undefined && typeof announcedParsed === 'object' && body.digest !== announced) {
          throw new ArtifactError('DigestMismatch', `manifest has digest ${body.digest}, the registry announced ${announced}`);
        }
        return { ...body, contentType: bareMediaType(header(response.headers, 'content-type')) };
      });
      const body = await this.expectOk(outcome);
      const { json, mediaType, manifest } = decodeManifest(body.bytes, body.contentType);
      return { reference, digest: body.digest, mediaType, bytes: body.bytes, manifest, json, source: `${source.registry}/${source.repository}` };
    });
  }

  /** HEAD of a manifest: its digest, media type and size, or undefined when the registry has none. */
  async headManifest(ref: Reference | string, options: RequestOptions = {}): Promise<ManifestHead | undefined> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    return this.sources.first('checking', reference, true, options.signal, async (source) => {
      const id = reference.digest ?? reference.tag ?? 'latest';
      const path = `/v2/${source.repository}/manifests/${id}`;
      const outcome = await this.caller.call(source, 'pull', { method: 'HEAD', path, headers: { accept: MANIFEST_ACCEPT }, signal: options.signal }, async (response) => {
        response.resume();
        return response.headers;
      });
      // A mirror without the manifest is no answer: the next source is asked.
      if (!outcome.ok && outcome.status === 404 && !source.isMirror) return undefined;
      const headers = await this.expectOk(outcome);
      const digest = header(headers, 'docker-content-digest') ?? reference.digest;
      if (digest === undefined || typeof parseDigest(digest) === 'string') {
        // No usable digest header: only the content tells.
        const full = await this.getManifest(reference, options);
        return { digest: full.digest, mediaType: full.mediaType, size: full.bytes.length };
      }
      return { digest, mediaType: bareMediaType(header(headers, 'content-type')), size: Number(header(headers, 'content-length') ?? 0) };
    });
  }

  /** Fetches a blob, verified against its digest (and size when given) while streaming, never more than `maxBytes`. */
  async getBlob(ref: Reference | string, digest: string, options: RequestOptions & { maxBytes: number; size?: number }): Promise<Buffer> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    return this.sources.first('pulling', reference, true, options.signal, async (source) => {
      const parsed = parseDigest(digest);
      if (typeof parsed === 'string') throw new ArtifactError('InvalidArtifact', `blob digest "${digest}": ${parsed}`);
      if (options.size !== undefined && options.size > options.maxBytes) {
        throw new ArtifactError('TooLarge', `blob ${digest} (${options.size} bytes) exceeds the limit of ${options.maxBytes} bytes`);
      }
      const outcome = await this.caller.call(source, 'pull', { method: 'GET', path: `/v2/${source.repository}/blobs/${digest}`, signal: options.signal }, (response) =>
        readVerifiedBody(response, { maxBytes: options.maxBytes, expectedDigest: digest, expectedSize: options.size, what: `blob ${digest}` }),
      );
      return (await this.expectOk(outcome)).bytes;
    });
  }

  /** Uploads a blob unless the repository has it: monolithic upload (POST, then PUT with the digest). */
  async putBlob(ref: Reference | string, bytes: Buffer, options: RequestOptions = {}): Promise<{ digest: string; size: number }> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    const digest = digestOf(bytes);
    return this.sources.first('pushing', reference, false, options.signal, async (source) => {
      const exists = await this.caller.call(source, 'pull,push', { method: 'HEAD', path: `/v2/${source.repository}/blobs/${digest}`, signal: options.signal }, async (r) => {
        r.resume();
      });
      if (exists.ok) return { digest, size: bytes.length };
      const started = await this.caller.call(source, 'pull,push', { method: 'POST', path: `/v2/${source.repository}/blobs/uploads/`, headers: { 'content-length': '0' }, signal: options.signal }, async (r) => {
        r.resume();
        return header(r.headers, 'location');
      });
      const location = await this.expectOk(started);
      if (!location) throw new ArtifactError('InvalidArtifact', 'upload started without a Location header');
      const uploadUrl = new URL(location, source.origin);
      uploadUrl.searchParams.set('digest', digest);
      if (uploadUrl.origin !== source.origin) throw new ArtifactError('InvalidArtifact', `upload location on another origin (${uploadUrl.origin})`);
      const put = await this.caller.call(
        source,
        'pull,push',
        {
          method: 'PUT',
          path: `${uploadUrl.pathname}${uploadUrl.search}`,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
          body: bytes,
          signal: options.signal,
        },
        async (r) => {
          r.resume();
        },
      );
      await this.expectOk(put);
      return { digest, size: bytes.length };
    });
  }

  /**
   * Stores a manifest under the reference's tag (or digest); returns its digest and the
   * registry's `OCI-Subject` answer, which tells a client whether it must maintain the
   * referrers tag schema for a manifest with a `subject` itself.
   */
  async putManifest(ref: Reference | string, bytes: Buffer, mediaType: string, options: RequestOptions = {}): Promise<PutManifestResult> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    const digest = digestOf(bytes);
    if (reference.digest !== undefined && reference.digest !== digest) {
      throw contextualize('pushing', reference, new ArtifactError('DigestMismatch', `manifest has digest ${digest}`));
    }
    return this.sources.first('pushing', reference, false, options.signal, async (source) => {
      const id = reference.tag ?? digest;
      const outcome = await this.caller.call(
        source,
        'pull,push',
        {
          method: 'PUT',
          path: `/v2/${source.repository}/manifests/${id}`,
          headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
          body: bytes,
          signal: options.signal,
        },
        async (r) => {
          r.resume();
          return header(r.headers, 'oci-subject');
        },
      );
      const ociSubject = await this.expectOk(outcome);
      return ociSubject === undefined ? { digest } : { digest, ociSubject };
    });
  }

  /**
   * Manifests that name `digest` as their subject: the OCI 1.1 referrers API, or, where the
   * registry answers 404 to it, the referrers tag schema (an index tagged `sha256-<hex>`).
   */
  async listReferrers(ref: Reference | string, digest: string, options: RequestOptions & { artifactType?: string } = {}): Promise<Descriptor[]> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    const parsed = parseDigest(digest);
    if (typeof parsed === 'string') throw contextualize('listing referrers of', reference, new ArtifactError('InvalidReference', parsed));
    const filter = (list: Descriptor[]): Descriptor[] =>
      options.artifactType === undefined ? list : list.filter((d) => d.artifactType === options.artifactType);
    const subject: Reference = { registry: reference.registry, repository: reference.repository, digest };
    const knownWithoutApi = this.withoutReferrersApi.has(reference.registry);
    const viaApi = knownWithoutApi ? undefined : await this.sources.first('listing referrers of', subject, true, options.signal, async (source) => {
      const query = options.artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(options.artifactType)}`;
      const referrers: Descriptor[] = [];
      let path = `/v2/${source.repository}/referrers/${digest}${query}`;
      for (let page = 1; ; page++) {
        const outcome = await this.caller.call(
          source,
          'pull',
          { method: 'GET', path, headers: { accept: OCI_INDEX }, signal: options.signal },
          async (response) => ({
            body: await readVerifiedBody(response, { maxBytes: this.maxManifestBytes, what: 'referrers index' }),
            link: header(response.headers, 'link'),
          }),
        );
        if (!outcome.ok && outcome.status === 404 && !source.isMirror && page === 1) return undefined;
        const { body, link } = await this.expectOk(outcome);
        referrers.push(...decodeManifest(body.bytes, OCI_INDEX).manifest.manifests);
        const next = nextPagePath(link, source.origin);
        if (next === undefined) return referrers;
        if (page === MAX_REFERRERS_PAGES) {
          throw new ArtifactError('InvalidArtifact', `the referrers list runs past ${MAX_REFERRERS_PAGES} pages`);
        }
        path = next;
      }
    });
    if (viaApi !== undefined) return filter(viaApi);
    this.withoutReferrersApi.set(reference.registry, true);
    const tagged: Reference = { registry: reference.registry, repository: reference.repository, tag: `${parsed.algorithm}-${parsed.hex}` };
    try {
      const index = await this.getManifest(tagged, options);
      return filter(index.manifest.manifests);
    } catch (error) {
      if (error instanceof ArtifactError && error.reason === 'NotFound') return [];
      throw error;
    }
  }

  /** The annotations of an image manifest or index, and of the index's entry for this platform. */
  async getImageAnnotations(
    ref: Reference | string,
    options: RequestOptions & { platform?: { os: string; architecture: string; variant?: string } } = {},
  ): Promise<ImageAnnotations> {
    const top = await this.getManifest(ref, options);
    const byDigest = (digest: string) => this.getManifest({ ...top.reference, tag: undefined, digest }, options);
    return readImageAnnotations(top, byDigest, options.platform ?? nodePlatform());
  }
}
