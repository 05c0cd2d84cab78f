import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { errorText, type Logger } from '../log/logger.js';
import { profileLayerOf, type ArtifactMode } from './artifact-rules.js';
import { ArtifactError } from './errors.js';
import { isIndexMediaType, TITLE_ANNOTATION } from './media-types.js';
import { formatPlatform, nodePlatform, selectPlatformManifest, type Platform } from './platform.js';
import { profileFromLayer } from './profile-layer.js';
import { formatReference, parseReference, type Reference } from './reference.js';
import { decodeManifest, type ManifestResult, type RegistryClient } from './registry-client.js';
import { SingleFlight, untilAborted } from './singleflight.js';
import type { ContentStore } from './store.js';

export interface PulledProfile {
  /** The reference as given. */
  reference: string;
  registry: string;
  repository: string;
  /** The digest the reference resolves to (an index's digest when it names an index): what signatures sign. */
  manifestDigest: string;
  /** The image manifest the profile came from: `manifestDigest` itself, or the index's entry for this platform. */
  imageManifestDigest: string;
  configMediaType: string;
  artifactType?: string;
  layerDigest: string;
  layerMediaType: string;
  /** The layer's `org.opencontainers.image.title`, when it has one (SPO's layers are `profile-<platform>.yaml`). */
  layerTitle?: string;
  /** The profile document, unpacked from a tar layer when it was one. */
  bytes: Buffer;
  fromCache: 'memory' | 'store' | 'network';
}

export interface PullCacheOptions {
  /** Entries per cache (tag resolutions, profiles). */
  max: number;
  /**
   * Bytes of profile documents held in memory, whatever their count: `max` alone would let a
   * node hold up to `max` times the artifact size limit. A profile evicted here is still in the
   * content store, so its next pull reads the disk instead of the registry.
   */
  maxBytes: number;
  /** How long a tag resolution and a pulled profile are kept; a tag older than this is resolved again. */
  ttlMs: number;
  /** Where the TTL reads the time (milliseconds); `performance` unless a test drives the clock. */
  clock?: { now(): number };
}

/** Where a pulled profile came from, as metrics name it. */
export type PullSource = 'memory' | 'store' | 'registry';

/** Told of every pull and how long it took; a failed pull counts under `registry`, where pulls fail. */
export interface PullObserver {
  profilePulled(result: 'success' | 'error', source: PullSource, seconds: number): void;
}

export interface ProfilePullerOptions {
  registry: RegistryClient;
  store: ContentStore;
  mode: ArtifactMode;
  maxArtifactBytes: number;
  cache: PullCacheOptions;
  /** Whether a stored digest may stand in for a tag while its registry is unreachable (fail open). */
  allowStaleTagOnError: boolean;
  platform?: Platform;
  logger?: Logger;
  observer?: PullObserver;
  /**
   * One pull as a whole (tag, index, manifest, blob, with their redirects and retries): each
   * request has its own timeout, and without this their sum could outlast kubelet's call.
   */
  pullTimeoutMs?: number;
}

export const DEFAULT_PULL_TIMEOUT_MS = 90_000;

type CachedProfile = Omit<PulledProfile, 'reference' | 'registry' | 'repository' | 'fromCache'>;

/** Fetches what a manifest stands for: content from the store if it is there, else from the registry. */
interface Fetched {
  network: boolean;
  /** Ends the pull's registry requests at its overall deadline. */
  signal: AbortSignal;
  /** Content fetched from the registry, to be stored once the whole artifact is verified. */
  toStore: Map<string, Buffer>;
}

/**
 * Reference → verified profile bytes: memory cache, then the content store, then the registry;
 * concurrent pulls of one reference share one fetch; nothing is stored unless the whole artifact
 * was verified and its profile extracted.
 */
export class ProfilePuller {
  private readonly tags: LRUCache<string, string>;
  private readonly profiles: LRUCache<string, CachedProfile>;
  private readonly inflight = new SingleFlight<PulledProfile>();
  private readonly platform: Platform;

  constructor(private readonly options: ProfilePullerOptions) {
    // A given clock is read at every check: lru-cache otherwise reuses one reading for 1 ms.
    const clock = options.cache.clock ? { perf: options.cache.clock, ttlResolution: 0 } : {};
    this.tags = new LRUCache({ max: options.cache.max, ttl: options.cache.ttlMs, ...clock });
    this.profiles = new LRUCache({
      max: options.cache.max,
      maxSize: options.cache.maxBytes,
      sizeCalculation: (profile) => Math.max(1, profile.bytes.length),
      ttl: options.cache.ttlMs,
      ...clock,
    });
    this.platform = options.platform ?? nodePlatform();
  }

  async pullProfile(input: string, options: { signal?: AbortSignal } = {}): Promise<PulledProfile> {
    const reference = parseReference(input);
    const key = formatReference(reference);
    const observer = this.options.observer;
    const started = observer ? performance.now() : 0;
    let pulled: PulledProfile;
    try {
      pulled = await untilAborted(
        this.inflight.run(key, () => this.pull(reference)),
        options.signal,
        () => new ArtifactError('RegistryUnavailable', `pulling "${key}": aborted by the caller`),
      );
    } catch (error) {
      observer?.profilePulled('error', 'registry', (performance.now() - started) / 1000);
      throw error;
    }
    observer?.profilePulled('success', pulled.fromCache === 'network' ? 'registry' : pulled.fromCache, (performance.now() - started) / 1000);
    return { ...pulled, reference: input };
  }

  /** Profiles held in memory now. */
  get cacheEntries(): number {
    return this.profiles.size;
  }

  private async pull(reference: Reference): Promise<PulledProfile> {
    const timeoutMs = this.options.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await this.pullWithin(reference, signal);
    } catch (error) {
      if (!signal.aborted) throw error;
      const key = formatReference(reference);
      throw new ArtifactError('RegistryUnavailable', `pulling "${key}": not complete within ${timeoutMs / 1000} s (pull_timeout)`, { cause: error });
    }
  }

  private async pullWithin(reference: Reference, signal: AbortSignal): Promise<PulledProfile> {
    const key = formatReference(reference);
    const fetched: Fetched = { network: false, toStore: new Map(), signal };
    let digest = reference.digest;
    let topManifest: ManifestResult | undefined;
    let resolvedTag: string | undefined;
    if (digest === undefined) {
      digest = this.tags.get(key);
      if (digest === undefined) {
        const resolution = await this.resolveTag(reference, fetched);
        digest = resolution.digest;
        topManifest = resolution.manifest;
        // A stale stand-in is not remembered as a fresh resolution: the next pull asks again.
        resolvedTag = resolution.stale ? undefined : digest;
      }
    }
    const common = { reference: key, registry: reference.registry, repository: reference.repository };
    const cached = this.profiles.get(digest);
    if (cached) {
      if (resolvedTag !== undefined) this.tags.set(key, resolvedTag);
      return { ...cached, ...common, fromCache: fetched.network ? 'network' : 'memory' };
    }
    let profile: CachedProfile;
    try {
      profile = await this.load(reference, digest, topManifest, fetched);
    } catch (error) {
      // Registry errors already name the reference; rule and unpacking errors get it here.
      if (!(error instanceof ArtifactError) || error.message.startsWith('pulling "')) throw error;
      throw new ArtifactError(error.reason, `pulling "${key}": ${error.message}`, { cause: error });
    }
    // Layers before manifests: a stored manifest always finds its content stored too.
    // The store is a cache: a disk that refuses it costs a later download, not this container.
    const unstored = (error: unknown) => this.options.logger?.warn({ ref: key, err: (error as Error).message }, 'Pulled content could not be stored on disk');
    for (const [contentDigest, bytes] of [...fetched.toStore].reverse()) await this.options.store.put(contentDigest, bytes).catch(unstored);
    if (resolvedTag !== undefined) {
      this.tags.set(key, resolvedTag);
      if (this.options.allowStaleTagOnError && fetched.network) await this.options.store.putTag(key, resolvedTag).catch(unstored);
    }
    this.profiles.set(digest, profile);
    const fromCache = fetched.network ? 'network' : 'store';
    this.options.logger?.debug({ ref: key, digest, layer: profile.layerDigest, fromCache }, 'Pulled OCI artifact');
    return { ...profile, ...common, fromCache };
  }

  /** GET of the manifest by tag; with `allowStaleTagOnError`, a persisted resolution stands in when the registry is unreachable. */
  private async resolveTag(reference: Reference, fetched: Fetched): Promise<{ digest: string; manifest?: ManifestResult; stale: boolean }> {
    try {
      fetched.network = true;
      const manifest = await this.options.registry.getManifest(reference, { signal: fetched.signal });
      fetched.toStore.set(manifest.digest, manifest.bytes);
      return { digest: manifest.digest, manifest, stale: false };
    } catch (error) {
      if (!this.options.allowStaleTagOnError || !(error instanceof ArtifactError) || error.reason !== 'RegistryUnavailable') throw error;
      const key = formatReference(reference);
      const stored = await this.options.store.getTag(key);
      if (!stored) throw error;
      fetched.network = false;
      this.options.logger?.warn({ ref: key, digest: stored.digest, resolvedAt: stored.resolvedAt, err: errorText(error) }, 'Registry unreachable; using the last resolution of the tag (allowStaleTagOnError)');
      return { digest: stored.digest, stale: true };
    }
  }

  private async manifest(reference: Reference, digest: string, fetched: Fetched): Promise<ManifestResult> {
    const limit = this.options.registry.maxManifestBytes;
    const stored = await this.options.store.get(digest, limit);
    const pinned: Reference = { ...reference, digest };
    if (stored) {
      const decoded = decodeManifest(stored, '');
      return { ...decoded, reference: pinned, digest, bytes: stored, source: 'store' };
    }
    fetched.network = true;
    const result = await this.options.registry.getManifest(pinned, { signal: fetched.signal });
    fetched.toStore.set(digest, result.bytes);
    return result;
  }

  private async load(reference: Reference, digest: string, top: ManifestResult | undefined, fetched: Fetched): Promise<CachedProfile> {
    let manifest = top ?? (await this.manifest(reference, digest, fetched));
    if (isIndexMediaType(manifest.mediaType)) {
      const entry = selectPlatformManifest(manifest.manifest.manifests, this.platform);
      if (!entry) throw new ArtifactError('InvalidArtifact', `index ${digest} has no ${formatPlatform(this.platform)} entry`);
      manifest = await this.manifest(reference, entry.digest, fetched);
      if (isIndexMediaType(manifest.mediaType)) throw new ArtifactError('InvalidArtifact', `index ${digest} points to another index (${entry.digest})`);
    }
    const artifact = profileLayerOf(manifest.manifest, this.options.mode, this.platform);
    const { layer } = artifact;
    const max = this.options.maxArtifactBytes;
    if (layer.size > max) throw new ArtifactError('TooLarge', `layer ${layer.digest} (${layer.size} bytes) exceeds the limit of ${max} bytes`);
    let layerBytes = await this.options.store.get(layer.digest, max);
    if (!layerBytes) {
      fetched.network = true;
      layerBytes = await this.options.registry.getBlob(reference, layer.digest, { maxBytes: max, size: layer.size, signal: fetched.signal });
      fetched.toStore.set(layer.digest, layerBytes);
    }
    const profile: CachedProfile = {
      manifestDigest: digest,
      imageManifestDigest: manifest.digest,
      configMediaType: artifact.configMediaType,
      layerDigest: layer.digest,
      layerMediaType: layer.mediaType,
      bytes: await profileFromLayer(layerBytes, max),
    };
    if (artifact.artifactType !== undefined) profile.artifactType = artifact.artifactType;
    const title = layer.annotations?.[TITLE_ANNOTATION];
    if (title !== undefined) profile.layerTitle = title;
    return profile;
  }
}
