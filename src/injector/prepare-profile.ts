import { LRUCache } from 'lru-cache';
import { parseProfile, renderRuntimeSpecProfile, toRuntimeSpec } from '../seccomp/index.js';
import type { ContainerTarget, PreparedProfile, ProfilePreparer } from './ports.js';
import type { ProfileFiles } from './profile-files.js';

/** The artifact as the injector needs it; src/artifact's pulled profile has these fields. */
export interface PulledArtifact {
  registry: string;
  repository: string;
  manifestDigest: string;
  bytes: Buffer;
}

export interface ArtifactPuller<P extends PulledArtifact = PulledArtifact> {
  pullProfile(reference: string, options: { signal?: AbortSignal }): Promise<P>;
}

export interface SignatureCheck<V = unknown> {
  verifyArtifact(subject: { reference: string; registry: string; repository: string; digest: string }): Promise<V>;
}

/** The artifact a reference names, checked under the signature policy on the digest fetched. */
export async function pullVerified<P extends PulledArtifact, V>(
  artifacts: ArtifactPuller<P>,
  signatures: SignatureCheck<V>,
  reference: string,
  signal?: AbortSignal,
): Promise<{ pulled: P; verification: V }> {
  const pulled = await artifacts.pullProfile(reference, { signal });
  const verification = await signatures.verifyArtifact({
    reference,
    registry: pulled.registry,
    repository: pulled.repository,
    digest: pulled.manifestDigest,
  });
  return { pulled, verification };
}

export interface NodeFacts {
  /** The node's architecture in OCI/Go terms: amd64, arm64, ... */
  arch: string;
  /** The running kernel's release, for profile rules that need a minimum kernel. */
  kernelVersion: string;
}

export interface ProfilePreparerDeps {
  artifacts: ArtifactPuller;
  signatures: SignatureCheck;
  files: ProfileFiles;
  node: NodeFacts;
  cacheEntries: number;
}

/**
 * Pull, verify, validate, convert, write: one profile for one container. A converted profile
 * depends only on the artifact's digest and the container's capabilities on this node, so the
 * file for that pair is remembered and a warm CreateContainer costs a cache lookup.
 */
export function createProfilePreparer(deps: ProfilePreparerDeps): ProfilePreparer {
  const converted = new LRUCache<string, string>({ max: deps.cacheEntries });
  return {
    async prepare(reference: string, target: ContainerTarget, signal: AbortSignal): Promise<PreparedProfile> {
      const { pulled } = await pullVerified(deps.artifacts, deps.signatures, reference, signal);
      // effectiveCapabilities gives each once; the order is made canonical for the cache key.
      const capabilities = [...target.capabilities].sort();
      const key = `${pulled.manifestDigest} ${capabilities.join(',')}`;
      let path = converted.get(key);
      // Store gc may have removed a file no container used for a long time: it is written again.
      if (path === undefined || !(await deps.files.exists(path))) {
        const profile = parseProfile(pulled.bytes, reference);
        const spec = toRuntimeSpec(profile, { arch: deps.node.arch, capabilities, kernelVersion: deps.node.kernelVersion });
        path = await deps.files.write(renderRuntimeSpecProfile(spec));
        converted.set(key, path);
      }
      return { path, manifestDigest: pulled.manifestDigest, publishedLength: pulled.bytes.length };
    },
  };
}
