import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import type { ArtifactMode } from './artifact-rules.js';
import { KUBELET_AUTH_FILE } from './credentials.js';
import { ProfilePuller, type PulledProfile, type PullObserver } from './pull.js';
import { pushProfile, type PushedProfile, type PushProfileOptions } from './push.js';
import { RegistryClient, type RegistryHostConfig, type RetryOptions } from './registry-client.js';
import { ContentStore } from './store.js';
import type { Timeouts } from './transport.js';

export { ArtifactError, criErrorWord, isArtifactError, type ArtifactErrorReason } from './errors.js';
export { parseReference, formatReference, registryApiHost, type Reference } from './reference.js';
export { parseDigest, digestOf, isValidDigest } from './digest.js';
export { SingleFlight, untilAborted } from './singleflight.js';
export { KUBELET_AUTH_FILE } from './credentials.js';
export { nodePlatform, selectPlatformManifest, type Platform } from './platform.js';
export type { Descriptor, ParsedManifest } from './descriptor.js';
export * from './media-types.js';
export {
  RegistryClient,
  DEFAULT_MAX_MANIFEST_BYTES,
  decodeManifest,
  type RegistryClientOptions,
  type RegistryHostConfig,
  type RetryOptions,
  type ManifestResult,
  type ManifestHead,
  type PutManifestResult,
} from './registry-client.js';
export { readImageAnnotations, mergedImageAnnotations, type ImageAnnotations, type ReadManifest } from './image-annotations.js';
export type { PulledProfile, PullObserver, PullSource } from './pull.js';
export type { PushedProfile, PushProfileOptions } from './push.js';
export type { ArtifactMode } from './artifact-rules.js';
export type { Timeouts } from './transport.js';

export interface ArtifactClientOptions {
  /** The content store lives in `<stateDir>/blobs`. */
  stateDir: string;
  /** Limit per layer blob and unpacked profile; 1 MiB by default. */
  maxArtifactBytes?: number;
  /** Limit per manifest; 4 MiB by default. */
  maxManifestBytes?: number;
  mode?: ArtifactMode;
  registries?: Record<string, RegistryHostConfig>;
  /** Docker config.json with pull credentials; kubelet's node file by default; null for none. */
  authFile?: string | null;
  timeouts?: Partial<Timeouts>;
  retry?: Partial<RetryOptions>;
  /** In-memory cache: 1000 entries, 64 MiB of profiles and 24 hours by default. */
  cache?: { max?: number; maxBytes?: number; ttlMs?: number; clock?: { now(): number } };
  /**
   * Whether the last stored resolution of a tag may stand in while the registry is unreachable.
   * Off by default: a tag that cannot be resolved fails the pull (fail closed).
   */
  allowStaleTagOnError?: boolean;
  /** One whole pull; 90 s by default (kubelet gives a CRI call 2 minutes). */
  pullTimeoutMs?: number;
  logger?: Logger;
  userAgent?: string;
  observer?: PullObserver;
}

export interface PushOptions extends Omit<PushProfileOptions, 'profile'> {
  /** The profile: its bytes, or a file whose base name becomes the layer title. */
  profile: Buffer | { file: string };
}

export interface ArtifactClient {
  /** Reference → verified profile bytes (memory cache, store, registry). */
  pullProfile(reference: string, options?: { signal?: AbortSignal }): Promise<PulledProfile>;
  /** Publishes a profile as an artifact; resolves to the manifest digest and reference. */
  push(options: PushOptions): Promise<PushedProfile>;
  /** The lower-level distribution client (manifests, blobs, referrers, annotations). */
  registry: RegistryClient;
  /** Profiles held in the memory cache now. */
  cacheEntries(): number;
  /** Closes idle connections. */
  close(): void;
}

export const DEFAULT_MAX_ARTIFACT_BYTES = 1024 * 1024;
/** Room for 1000 profiles of 64 KiB; typical profiles are a few KiB to 30 KiB. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export function createArtifactClient(options: ArtifactClientOptions): ArtifactClient {
  const registry = new RegistryClient({
    registries: options.registries,
    authFile: options.authFile === null ? undefined : (options.authFile ?? KUBELET_AUTH_FILE),
    timeouts: options.timeouts,
    retry: options.retry,
    maxManifestBytes: options.maxManifestBytes,
    logger: options.logger,
    userAgent: options.userAgent,
  });
  const puller = new ProfilePuller({
    registry,
    store: new ContentStore(options.stateDir),
    mode: options.mode ?? 'compatible',
    maxArtifactBytes: options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES,
    cache: {
      max: options.cache?.max ?? 1000,
      maxBytes: options.cache?.maxBytes ?? DEFAULT_CACHE_BYTES,
      ttlMs: options.cache?.ttlMs ?? 24 * 3_600_000,
      ...(options.cache?.clock ? { clock: options.cache.clock } : {}),
    },
    allowStaleTagOnError: options.allowStaleTagOnError ?? false,
    pullTimeoutMs: options.pullTimeoutMs,
    logger: options.logger,
    observer: options.observer,
  });
  return {
    pullProfile: (reference, pullOptions) => puller.pullProfile(reference, pullOptions),
    async push(pushOptions) {
      const { profile, ...rest } = pushOptions;
      if (Buffer.isBuffer(profile)) return pushProfile(registry, { ...rest, profile });
      return pushProfile(registry, { title: path.basename(profile.file), ...rest, profile: await readFile(profile.file) });
    },
    registry,
    cacheEntries: () => puller.cacheEntries,
    close: () => registry.close(),
  };
}
export { pushSpoProfile, spoLayerTitle, SPO_ARTIFACT_TYPE, type SpoLayer } from './spo-push.js';
