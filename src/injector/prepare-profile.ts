import { LRUCache } from 'lru-cache';
import { renderRuntimeSpecProfile, toRuntimeSpec } from '../seccomp/index.js';
import type { ContainerTarget, PreparedProfile, ProfilePreparer } from './ports.js';
import { createChainResolver, formatChain } from './profile-chain.js';
import type { ProfileFiles } from './profile-files.js';

/** The artifact as the injector needs it; src/artifact's pulled profile has these fields. */
export interface PulledArtifact {
  registry: string;
  repository: string;
  manifestDigest: string;
  bytes: Buffer;
  /** The profile layer's title; SPO's YAML layers are told apart by it. */
  layerTitle?: string;
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
 * depends only on the digests of its chain (the artifact and any SPO base profiles under it) and
 * the container's capabilities on this node, so the file for that pair is remembered and a warm
 * CreateContainer costs cache lookups.
 */
export function createProfilePreparer(deps: ProfilePreparerDeps): ProfilePreparer {
  const converted = new LRUCache<string, string>({ max: deps.cacheEntries });
  const resolveChain = createChainResolver((ref, signal) => pullVerified(deps.artifacts, deps.signatures, ref, signal), deps.cacheEntries);
  return {
    async prepare(reference: string, target: ContainerTarget, signal: AbortSignal): Promise<PreparedProfile> {
      const chain = await resolveChain(reference, signal);
      // effectiveCapabilities gives each once; the order is made canonical for the cache key.
      const capabilities = [...target.capabilities].sort();
      const key = `${chain.key} ${capabilities.join(',')}`;
      let path = converted.get(key);
      if (path === undefined) {
        const spec = toRuntimeSpec(chain.profile, { arch: deps.node.arch, capabilities, kernelVersion: deps.node.kernelVersion });
        path = await deps.files.write(renderRuntimeSpecProfile(spec));
        converted.set(key, path);
      }
      const [head] = chain.links;
      return { path, manifestDigest: head?.digest ?? '', publishedLength: head?.publishedLength ?? 0, applied: formatChain(chain.links) };
    },
  };
}
