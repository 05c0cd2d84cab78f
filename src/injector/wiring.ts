import os from 'node:os';
import { createArtifactClient, nodePlatform, type ArtifactClient, type PullObserver } from '../artifact/index.js';
import type { ShimSettings } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import type { CallInterceptor } from '../proxy/index.js';
import type { SignatureObserver, SignatureVerifier } from '../signature/index.js';
import { ProfileUses } from '../store/profile-uses.js';
import { loadBaselines } from './baselines.js';
import { createContainerInjector } from './create-container.js';
import { createContainerdManifestReader } from './containerd-content.js';
import { createContainerdImageNames } from './containerd-images.js';
import { createImageAnnotationSource } from './image-annotations.js';
import { createImageManifestFacts } from './image-manifests.js';
import type { InjectionObserver } from './outcome.js';
import { createProfilePreparer } from './prepare-profile.js';
import { ProfileFiles } from './profile-files.js';
import { recordingUses } from './record-uses.js';
import { createProfileConverter, DEFAULT_CONVERTER_OPTIONS } from './profile-conversions.js';
import { createRuntimeQueries } from './runtime-queries.js';
import { loadSignatureModule, signatureCheckFor } from './signature-check.js';

/** The artifact client as the settings describe it; `pull` and `push` use the same one. */
export function artifactClientFor(settings: ShimSettings, logger: Logger, observer?: PullObserver): ArtifactClient {
  return createArtifactClient({
    stateDir: settings.stateDir,
    maxArtifactBytes: settings.artifact.maxBytes,
    mode: settings.artifact.mode,
    registries: settings.registries,
    authFile: settings.artifact.authFile,
    timeouts: { requestMs: settings.artifact.requestTimeoutMs },
    cache: { max: settings.artifact.cacheEntries, ttlMs: settings.artifact.cacheTtlMs },
    allowStaleTagOnError: settings.artifact.allowStaleTagOnError,
    pullTimeoutMs: settings.artifact.pullTimeoutMs,
    logger,
    observer,
  });
}

export async function signatureVerifierFor(
  settings: ShimSettings,
  artifacts: ArtifactClient,
  logger: Logger,
  observer?: SignatureObserver,
): Promise<SignatureVerifier> {
  const { createSignatureVerifier, registrySignatureSource } = await loadSignatureModule();
  return createSignatureVerifier(settings.signature, registrySignatureSource(artifacts.registry), logger, observer);
}

export interface Injector {
  interceptor: CallInterceptor;
  /** Profiles in the artifact client's memory cache now. */
  cacheEntries(): number;
  close(): void;
}

/** The metrics side of each piece; absent, nothing is counted. */
export type InjectorObserver = PullObserver & SignatureObserver & InjectionObserver;

/** Binds the CreateContainer story to the real runtime, registry, signature policy and disk. */
export function createInjector(settings: ShimSettings, logger: Logger, observer?: InjectorObserver): Injector {
  // First: a baseline that cannot be used stops start-up before anything else is opened.
  const baselines = loadBaselines(settings, nodePlatform().architecture);
  for (const [handler, baseline] of baselines) {
    logger.info({ handler, baseline: baseline.file, digest: baseline.digest }, 'Seccomp profiles from OCI artifacts are intersected with a baseline');
  }
  const artifacts = artifactClientFor(settings, logger, observer);
  const runtime = createRuntimeQueries(settings.runtimeEndpoint);
  const localManifests = createContainerdManifestReader(settings.runtimeEndpoint);
  const localNames = createContainerdImageNames(settings.runtimeEndpoint);
  const manifests = createImageManifestFacts(
    localManifests,
    { imageAnnotations: (digestReference, options) => artifacts.registry.getImageAnnotations(digestReference, options) },
    { stateDir: settings.stateDir, cacheEntries: settings.artifact.cacheEntries, logger },
  );
  const images = createImageAnnotationSource(runtime, localNames, manifests, logger);
  const preparer = createProfilePreparer({
    artifacts,
    signatures: signatureCheckFor(settings, artifacts, logger, observer),
    files: new ProfileFiles(settings.stateDir),
    node: { arch: nodePlatform().architecture, kernelVersion: os.release() },
    cacheEntries: settings.artifact.cacheEntries,
    converter: createProfileConverter({ ...DEFAULT_CONVERTER_OPTIONS, maxConcurrent: settings.artifact.maxConversions }, logger),
  });
  const profiles = recordingUses(preparer, new ProfileUses(settings.stateDir));
  return {
    interceptor: createContainerInjector({ settings, runtime, images, profiles, logger, baselines, observer }),
    cacheEntries: () => artifacts.cacheEntries(),
    close() {
      runtime.close();
      localManifests.close();
      localNames.close();
      artifacts.close();
    },
  };
}
