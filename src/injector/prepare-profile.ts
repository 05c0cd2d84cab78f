import { LRUCache } from 'lru-cache';
import { SingleFlight, untilAborted } from '../artifact/index.js';
import type { ContainerTarget, PreparedProfile, ProfilePreparer } from './ports.js';
import { createChainResolver, formatChain } from './profile-chain.js';
import type { ProfileFiles } from './profile-files.js';
import { createProfileConverter, type ProfileConverter } from './profile-conversions.js';

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
  /** Bounded, off-thread for big profiles; see createProfileConverter. */
  converter?: ProfileConverter;
}

/**
 * Pull, verify, validate, convert, write: one profile for one container. A converted profile
 * depends only on the digests of its chain (the artifact and any SPO base profiles under it), the
 * container's capabilities on this node and the handler's baseline, so the file for each is
 * remembered and a warm CreateContainer costs cache lookups; pods that start together share one
 * conversion (a rollout, a node reboot).
 */
export function createProfilePreparer(deps: ProfilePreparerDeps): ProfilePreparer {
  const converted = new LRUCache<string, Pick<PreparedProfile, 'path' | 'baseline'>>({ max: deps.cacheEntries });
  const conversions = new SingleFlight<Pick<PreparedProfile, 'path' | 'baseline'>>();
  const converter = deps.converter ?? createProfileConverter();
  const resolveChain = createChainResolver(
    (ref, signal) => pullVerified(deps.artifacts, deps.signatures, ref, signal),
    deps.cacheEntries,
    (bytes, source) => converter.readSpo(bytes, source),
  );
  return {
    async prepare(reference: string, target: ContainerTarget, signal: AbortSignal): Promise<PreparedProfile> {
      const chain = await resolveChain(reference, signal);
      // effectiveCapabilities gives each once; the order is made canonical for the cache key.
      const capabilities = [...target.capabilities].sort();
      const { baseline } = target;
      const key = `${chain.key} ${capabilities.join(',')} ${baseline ? `${baseline.file}@${baseline.digest}` : ''}`;
      let written = converted.get(key);
      // Store gc may have removed a file no container used for a long time: it is written again.
      if (written === undefined || !(await deps.files.exists(written.path))) {
        written = await untilAborted(
          conversions.run(key, async () => {
            const forContainer = { arch: deps.node.arch, capabilities, kernelVersion: deps.node.kernelVersion };
            const result = await converter.convert(chain.source, reference, forContainer, baseline);
            const fresh = { path: await deps.files.write(result.rendered), ...(result.baseline ? { baseline: result.baseline } : {}) };
            converted.set(key, fresh);
            return fresh;
          }),
          signal,
          () => new Error(`converting the seccomp profile from ${reference}: aborted by the caller`),
        );
      }
      const [head] = chain.links;
      return { ...written, manifestDigest: head?.digest ?? '', publishedLength: head?.publishedLength ?? 0, applied: formatChain(chain.links) };
    },
  };
}
