import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { SecureContext } from 'node:tls';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../log/logger.js';
import { Authenticator, type AuthTarget } from './auth.js';
import { readSmallBody, readVerifiedBody } from './body.js';
import { CredentialStore } from './credentials.js';
import { parseManifestJson, type Descriptor, type ParsedManifest } from './descriptor.js';
import { digestOf, parseDigest, type DigestAlgorithm } from './digest.js';
import { ArtifactError } from './errors.js';
import { readImageAnnotations, type ImageAnnotations } from './image-annotations.js';
import { MANIFEST_ACCEPT, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST } from './media-types.js';
import { nodePlatform } from './platform.js';
import { formatReference, normalizeRegistryHost, parseReference, registryApiHost, type Reference } from './reference.js';
import { TlsTrust } from './tls-trust.js';
import { DEFAULT_TIMEOUTS, header, Transport, TransportError, type Timeouts } from './transport.js';

export interface RegistryHostConfig {
  /** Plain HTTP. Only ever for hosts listed so: there is no fallback from HTTPS. */
  insecure?: boolean;
  /** A PEM file of CAs trusted for this host, in addition to the system's. */
  caFile?: string;
  /** `host[:port][/path-prefix]` mirrors tried in order before this registry, for reads. */
  mirrors?: string[];
}

export interface RetryOptions {
  /** Tries per request, the first one included. */
  attempts: number;
  baseDelayMs: number;
  /** Cap for the backoff and for a Retry-After the server asks for. */
  maxDelayMs: number;
}

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

/** One place a repository can be read from: a mirror or the registry itself. */
interface Source {
  /** The registry or mirror host as configured (key of `registries`, of credentials). */
  registry: string;
  /** `https://registry-1.docker.io` */
  origin: string;
  repository: string;
  insecure: boolean;
  secureContext?: SecureContext;
  isMirror: boolean;
}

interface Outcome<T> {
  ok: boolean;
  value?: T;
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

const DEFAULT_RETRY: RetryOptions = { attempts: 3, baseDelayMs: 200, maxDelayMs: 10_000 };
const MAX_REDIRECTS = 5;
/** containers/image's limit for manifests. */
export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new TransportError('aborted', 'request aborted by caller'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new TransportError('aborted', 'request aborted by caller'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After as seconds or an HTTP date (RFC 9110), in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The registry's own words from an error document (`{"errors":[{"code","message"}]}`), or ''. */
function registryErrorText(text: string): string {
  try {
    const errors = (JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] }).errors;
    const first = errors?.[0];
    const message = typeof first?.message === 'string' && first.message ? first.message : first?.code;
    return typeof message === 'string' ? message : '';
  } catch {
    return '';
  }
}

function statusError(status: number, text: string, attempts: number): ArtifactError {
  const said = registryErrorText(text);
  const retried = attempts > 1 ? ` after ${attempts} attempts` : '';
  if (status === 404) return new ArtifactError('NotFound', `${said || 'not found'} (404)`);
  if (status === 401) return new ArtifactError('Unauthorized', `${said || 'authentication required'} (401)`);
  if (status === 403) return new ArtifactError('Unauthorized', `${said || 'access denied'} (403)`);
  if (status === 429) return new ArtifactError('RegistryUnavailable', `${said || 'too many requests'} (429)${retried}`);
  if (status >= 500) return new ArtifactError('RegistryUnavailable', `${said || 'server error'} (${status})${retried}`);
  return new ArtifactError('InvalidArtifact', `${said || 'unexpected answer'} (${status})`);
}

/** Media type without parameters: `application/json; charset=utf-8` → `application/json`. */
function bareMediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

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
  private readonly tls = new TlsTrust();
  private readonly auth: Authenticator;
  private readonly registries: Record<string, RegistryHostConfig>;
  private readonly timeouts: Timeouts;
  private readonly retry: RetryOptions;
  private readonly userAgent: string;
  readonly maxManifestBytes: number;
  /** Requests sent, for benchmarks and tests. */
  requestCount = 0;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.registries = Object.fromEntries(Object.entries(options.registries ?? {}).map(([host, config]) => [normalizeRegistryHost(host), config]));
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.userAgent = options.userAgent ?? 'seccomp-oci-shim';
    this.maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.auth = new Authenticator({
      transport: this.transport,
      credentials: new CredentialStore(options.authFile),
      timeouts: this.timeouts,
      secureContextFor: (host) => this.secureContextFor(host),
      isInsecureHost: (host) => this.hostConfig(host).insecure === true,
      userAgent: this.userAgent,
    });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.transport.close();
  }

  private hostConfig(host: string): RegistryHostConfig {
    return this.registries[normalizeRegistryHost(host)] ?? {};
  }

  private secureContextFor(host: string): SecureContext {
    return this.tls.context(this.hostConfig(host).caFile);
  }

  private source(registry: string, repository: string, isMirror: boolean): Source {
    const config = this.hostConfig(registry);
    const insecure = config.insecure === true;
    const source: Source = {
      registry,
      origin: `${insecure ? 'http' : 'https'}://${registryApiHost(registry)}`,
      repository,
      insecure,
      isMirror,
    };
    if (!insecure) source.secureContext = this.tls.context(config.caFile);
    return source;
  }

  /** Mirrors in configured order (reads only), then the registry. */
  private sources(reference: Reference, withMirrors: boolean): Source[] {
    const list: Source[] = [];
    if (withMirrors) {
      for (const mirror of this.hostConfig(reference.registry).mirrors ?? []) {
        const slash = mirror.indexOf('/');
        const host = slash < 0 ? mirror : mirror.slice(0, slash);
        const prefix = slash < 0 ? '' : `${mirror.slice(slash + 1).replace(/\/+$/, '')}/`;
        list.push(this.source(host, `${prefix}${reference.repository}`, true));
      }
    }
    list.push(this.source(reference.registry, reference.repository, false));
    return list;
  }

  /** Runs `operation` against each source until one succeeds; the registry's own error is the one reported. */
  private async fromSources<T>(
    action: string,
    reference: Reference,
    withMirrors: boolean,
    signal: AbortSignal | undefined,
    operation: (source: Source) => Promise<T>,
  ): Promise<T> {
    const sources = this.sources(reference, withMirrors);
    for (const [i, source] of sources.entries()) {
      try {
        return await operation(source);
      } catch (error) {
        const wrapped = this.contextualize(action, reference, error);
        if (i === sources.length - 1 || signal?.aborted) throw wrapped;
        this.options.logger?.warn({ mirror: source.registry, err: wrapped.message }, `Mirror ${source.registry} failed, trying the next source`);
      }
    }
    throw new Error('unreachable: no sources');
  }

  /** Gives an error the action and the reference: `pulling "host/repo:tag": manifest unknown (404)`. */
  private contextualize(action: string, reference: Reference, error: unknown): ArtifactError {
    const where = `${action} "${formatReference(reference)}"`;
    if (error instanceof ArtifactError) return new ArtifactError(error.reason, `${where}: ${error.message}`, { cause: error });
    if (error instanceof TransportError) return new ArtifactError('RegistryUnavailable', `${where}: ${error.message}`, { cause: error });
    return new ArtifactError('RegistryUnavailable', `${where}: ${(error as Error).message}`, { cause: error });
  }

  /**
   * One API call with what the protocol asks of a client: the cached Authorization sent up front,
   * a 401 answered once, 429/5xx retried with backoff (honouring Retry-After), redirects followed
   * without the Authorization header once they leave the registry's origin.
   */
  private async call<T>(
    source: Source,
    actions: 'pull' | 'pull,push',
    request: { method: string; path: string; headers?: Record<string, string>; body?: Buffer; signal?: AbortSignal | undefined },
    onSuccess: (response: IncomingMessage) => Promise<T>,
  ): Promise<Outcome<T>> {
    const target: AuthTarget = {
      registry: source.registry,
      repository: source.repository,
      scope: `repository:${source.repository}:${actions}`,
      insecure: source.insecure,
    };
    let url = new URL(`${source.origin}${request.path}`);
    let attempts = 1;
    let redirects = 0;
    let answeredChallenge = false;
    for (;;) {
      const sameOrigin = url.origin === source.origin;
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...request.headers };
      const authorization = sameOrigin ? this.auth.cached(target) : undefined;
      if (authorization) headers.authorization = authorization;
      this.requestCount += 1;
      this.options.logger?.debug({ method: request.method, url: url.href }, 'Registry request');
      const secureContext = sameOrigin ? source.secureContext : url.protocol === 'https:' ? this.secureContextFor(url.host) : undefined;
      const outcome: Outcome<T> = await this.transport.exchange(
        {
          method: request.method,
          url,
          headers,
          body: request.body,
          secureContext,
          timeouts: this.timeouts,
          signal: request.signal,
        },
        async (response) => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) return { ok: true, value: await onSuccess(response), status, headers: response.headers, text: '' };
          return { ok: false, status, headers: response.headers, text: request.method === 'HEAD' ? '' : await readSmallBody(response) };
        },
      );
      if (outcome.ok) return outcome;
      const { status } = outcome;
      const location = header(outcome.headers, 'location');
      if (status >= 300 && status < 400 && location !== undefined) {
        redirects += 1;
        if (redirects > MAX_REDIRECTS) throw new ArtifactError('RegistryUnavailable', `more than ${MAX_REDIRECTS} redirects`);
        const next = new URL(location, url);
        if (url.protocol === 'https:' && next.protocol !== 'https:') {
          throw new ArtifactError('RegistryUnavailable', `refusing redirect from https to ${next.protocol} (${next.origin})`);
        }
        url = next;
        continue;
      }
      if (status === 401 && sameOrigin && !answeredChallenge) {
        answeredChallenge = true;
        if (authorization) this.auth.forget(target);
        await this.auth.answer(target, header(outcome.headers, 'www-authenticate'), request.signal);
        continue;
      }
      if ((status === 429 || status >= 500) && attempts < this.retry.attempts) {
        const backoff = this.retry.baseDelayMs * 2 ** (attempts - 1);
        const delay = Math.min(retryAfterMs(header(outcome.headers, 'retry-after')) ?? backoff, this.retry.maxDelayMs);
        this.options.logger?.debug({ url: url.href, status, delayMs: delay, attempt: attempts }, 'Registry asked to retry later');
        attempts += 1;
        await sleep(delay, request.signal);
        continue;
      }
      return outcome;
    }
  }

  private async expectOk<T>(outcome: Outcome<T>): Promise<T> {
    if (!outcome.ok) throw statusError(outcome.status, outcome.text, this.retry.attempts);
    return outcome.value as T;
  }

  /** Fetches a manifest or index by tag or digest; verified against the digest (or Docker-Content-Digest when fetched by tag). */
  async getManifest(ref: Reference | string, options: RequestOptions & { maxBytes?: number } = {}): Promise<ManifestResult> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    const maxBytes = options.maxBytes ?? this.maxManifestBytes;
    return this.fromSources('pulling', reference, true, options.signal, async (source) => {
      const id = reference.digest ?? reference.tag ?? 'latest';
      const path = `/v2/${source.repository}/manifests/${id}`;
      const outcome = await this.call(source, 'pull', { method: 'GET', path, headers: { accept: MANIFEST_ACCEPT }, signal: options.signal }, async (response) => {
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
    return this.fromSources('checking', reference, true, options.signal, async (source) => {
      const id = reference.digest ?? reference.tag ?? 'latest';
      const path = `/v2/${source.repository}/manifests/${id}`;
      const outcome = await this.call(source, 'pull', { method: 'HEAD', path, headers: { accept: MANIFEST_ACCEPT }, signal: options.signal }, async (response) => {
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
    return this.fromSources('pulling', reference, true, options.signal, async (source) => {
      const parsed = parseDigest(digest);
      if (typeof parsed === 'string') throw new ArtifactError('InvalidArtifact', `blob digest "${digest}": ${parsed}`);
      if (options.size !== undefined && options.size > options.maxBytes) {
        throw new ArtifactError('TooLarge', `blob ${digest} (${options.size} bytes) exceeds the limit of ${options.maxBytes} bytes`);
      }
      const outcome = await this.call(source, 'pull', { method: 'GET', path: `/v2/${source.repository}/blobs/${digest}`, signal: options.signal }, (response) =>
        readVerifiedBody(response, { maxBytes: options.maxBytes, expectedDigest: digest, expectedSize: options.size, what: `blob ${digest}` }),
      );
      return (await this.expectOk(outcome)).bytes;
    });
  }

  /** Uploads a blob unless the repository has it: monolithic upload (POST, then PUT with the digest). */
  async putBlob(ref: Reference | string, bytes: Buffer, options: RequestOptions = {}): Promise<{ digest: string; size: number }> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    const digest = digestOf(bytes);
    return this.fromSources('pushing', reference, false, options.signal, async (source) => {
      const exists = await this.call(source, 'pull,push', { method: 'HEAD', path: `/v2/${source.repository}/blobs/${digest}`, signal: options.signal }, async (r) => {
        r.resume();
      });
      if (exists.ok) return { digest, size: bytes.length };
      const started = await this.call(source, 'pull,push', { method: 'POST', path: `/v2/${source.repository}/blobs/uploads/`, headers: { 'content-length': '0' }, signal: options.signal }, async (r) => {
        r.resume();
        return header(r.headers, 'location');
      });
      const location = await this.expectOk(started);
      if (!location) throw new ArtifactError('InvalidArtifact', 'upload started without a Location header');
      const uploadUrl = new URL(location, source.origin);
      uploadUrl.searchParams.set('digest', digest);
      if (uploadUrl.origin !== source.origin) throw new ArtifactError('InvalidArtifact', `upload location on another origin (${uploadUrl.origin})`);
      const put = await this.call(
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
      throw this.contextualize('pushing', reference, new ArtifactError('DigestMismatch', `manifest has digest ${digest}`));
    }
    return this.fromSources('pushing', reference, false, options.signal, async (source) => {
      const id = reference.tag ?? digest;
      const outcome = await this.call(
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
    if (typeof parsed === 'string') throw this.contextualize('listing referrers of', reference, new ArtifactError('InvalidReference', parsed));
    const filter = (list: Descriptor[]): Descriptor[] =>
      options.artifactType === undefined ? list : list.filter((d) => d.artifactType === options.artifactType);
    const subject: Reference = { registry: reference.registry, repository: reference.repository, digest };
    const knownWithoutApi = this.withoutReferrersApi.has(reference.registry);
    const viaApi = knownWithoutApi ? undefined : await this.fromSources('listing referrers of', subject, true, options.signal, async (source) => {
      const query = options.artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(options.artifactType)}`;
      const referrers: Descriptor[] = [];
      let path = `/v2/${source.repository}/referrers/${digest}${query}`;
      for (let page = 1; ; page++) {
        const outcome = await this.call(
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

/** Pages of one referrers list the client follows; a registry that links on past them is refused. */
const MAX_REFERRERS_PAGES = 32;

/**
 * The path of the next page a paginated answer links to (`Link: <url>; rel="next"`, RFC 8288,
 * as the distribution spec pages referrers lists). Only within the registry's own origin: the
 * next request carries the registry's credentials.
 */
export function nextPagePath(link: string | undefined, origin: string): string | undefined {
  if (link === undefined) return undefined;
  for (const entry of link.split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(entry);
    if (!match || !/(^|;)\s*rel="?next"?\s*(;|$)/i.test(match[2]!)) continue;
    const url = new URL(match[1]!, origin);
    if (url.origin !== origin) {
      throw new ArtifactError('InvalidArtifact', `the next page of the referrers list is on another origin (${url.origin})`);
    }
    return `${url.pathname}${url.search}`;
  }
  return undefined;
}

const KNOWN_MANIFEST_TYPES = new Set([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST]);

/** Parses manifest bytes; the media type is the document's own, else the Content-Type it came with. */
export function decodeManifest(bytes: Buffer, contentType: string): { json: unknown; mediaType: string; manifest: ParsedManifest } {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ArtifactError('InvalidArtifact', `manifest is not JSON (Content-Type "${contentType || 'none'}")`);
  }
  const declared = (json as { mediaType?: unknown } | null)?.mediaType;
  let mediaType = typeof declared === 'string' && declared !== '' ? declared : contentType;
  // The OCI spec lets `mediaType` be omitted; then the shape tells, as containers/image guesses it.
  if (!KNOWN_MANIFEST_TYPES.has(mediaType) && typeof json === 'object' && json !== null && declared === undefined) {
    if (Array.isArray((json as { manifests?: unknown }).manifests)) mediaType = OCI_INDEX;
    else if ((json as { config?: unknown }).config !== undefined) mediaType = OCI_MANIFEST;
  }
  if (!KNOWN_MANIFEST_TYPES.has(mediaType)) throw new ArtifactError('InvalidArtifact', `unsupported manifest media type "${mediaType}"`);
  return { json, mediaType, manifest: parseManifestJson(json, mediaType) };
}
