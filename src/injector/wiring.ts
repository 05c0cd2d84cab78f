import os from 'node:os';
import { createArtifactClient, mergedImageAnnotations, nodePlatform, type ArtifactClient } from '../artifact/index.js';
import type { ShimSettings } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import type { CallInterceptor } from '../proxy/index.js';
import type { SignatureVerifier } from '../signature/index.js';
import { createContainerInjector } from './create-container.js';
import { createContainerdManifestReader } from './containerd-content.js';
import { createImageAnnotationSource } from './image-annotations.js';
import { createProfilePreparer } from './prepare-profile.js';
import { ProfileFiles } from './profile-files.js';
import { createProfileConverter, DEFAULT_CONVERTER_OPTIONS } from './profile-conversions.js';
import { createRuntimeQueries } from './runtime-queries.js';
import { loadSignatureModule, signatureCheckFor } from './signature-check.js';

/** The artifact client as the settings describe it; `pull` and `push` use the same one. */
export function artifactClientFor(settings: ShimSettings, logger: Logger): ArtifactClient {
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
  });
}

export async function signatureVerifierFor(settings: ShimSettings, artifacts: ArtifactClient, logger: Logger): Promise<SignatureVerifier> {
  const { createSignatureVerifier, registrySignatureSource } = await loadSignatureModule();
  return createSignatureVerifier(settings.signature, registrySignatureSource(artifacts.registry), logger);
}

export interface Injector {
  interceptor: CallInterceptor;
  close(): void;
}

/** Binds the CreateContainer story to the real runtime, registry, signature policy and disk. */
export function createInjector(settings: ShimSettings, logger: Logger): Injector {
  const artifacts = artifactClientFor(settings, logger);
  const runtime = createRuntimeQueries(settings.runtimeEndpoint);
  const localManifests = createContainerdManifestReader(settings.runtimeEndpoint);
  const images = createImageAnnotationSource(
    runtime,
    localManifests,
    {
      async imageAnnotations(digestReference, options) {
        return mergedImageAnnotations(await artifacts.registry.getImageAnnotations(digestReference, options));
      },
    },
    { stateDir: settings.stateDir, cacheEntries: settings.artifact.cacheEntries, logger },
  );
  const profiles = createProfilePreparer({
    artifacts,
    signatures: signatureCheckFor(settings, artifacts, logger),
    files: new ProfileFiles(settings.stateDir),
    node: { arch: nodePlatform().architecture, kernelVersion: os.release() },
    cacheEntries: settings.artifact.cacheEntries,
    converter: createProfileConverter({ ...DEFAULT_CONVERTER_OPTIONS, maxConcurrent: settings.artifact.maxConversions }, logger),
  });
  return {
    interceptor: createContainerInjector({ settings, runtime, images, profiles, logger }),
    close() {
      runtime.close();
      localManifests.close();
      artifacts.close();
    },
  };
}
