import { LRUCache } from 'lru-cache';
import { SingleFlight, untilAborted } from '../artifact/index.js';
import type { ContainerTarget, PreparedProfile, ProfilePreparer } from './ports.js';
import type { ProfileFiles } from './profile-files.js';
import { createProfileConverter, type ProfileConverter } from './profile-conversions.js';

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
  /** Bounded, off-thread for big profiles; see createProfileConverter. */
  converter?: ProfileConverter;
}

/**
 * Pull, verify, validate, convert, write: one profile for one container. A converted profile
 * depends only on the artifact's digest and the container's capabilities on this node, so the
 * file for that pair is remembered and a warm CreateContainer costs a cache lookup; concurrent
 * callers for one pair share one conversion.
 */
export function createProfilePreparer(deps: ProfilePreparerDeps): ProfilePreparer {
  const converted = new LRUCache<string, string>({ max: deps.cacheEntries });
  // Pods of one profile start together (a rollout, a node reboot): they share one conversion.
  const conversions = new SingleFlight<string>();
  const converter = deps.converter ?? createProfileConverter();
  return {
    async prepare(reference: string, target: ContainerTarget, signal: AbortSignal): Promise<PreparedProfile> {
      const { pulled } = await pullVerified(deps.artifacts, deps.signatures, reference, signal);
      // effectiveCapabilities gives each once; the order is made canonical for the cache key.
      const capabilities = [...target.capabilities].sort();
      const key = `${pulled.manifestDigest} ${capabilities.join(',')}`;
      const path =
        converted.get(key) ??
        (await untilAborted(
          conversions.run(key, async () => {
            const node = { arch: deps.node.arch, capabilities, kernelVersion: deps.node.kernelVersion };
            const written = await deps.files.write(await converter.convert(pulled.bytes, reference, node));
            converted.set(key, written);
            return written;
          }),
          signal,
          () => new Error(`converting the seccomp profile from ${reference}: aborted by the caller`),
        ));
      return { path, manifestDigest: pulled.manifestDigest, publishedLength: pulled.bytes.length };
    },
  };
}
