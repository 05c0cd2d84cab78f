import { LRUCache } from 'lru-cache';
import { ArtifactError, SingleFlight } from '../artifact/index.js';
import {
  isSpoDocument,
  OCI_PROFILE_PREFIX,
  parseSpoProfile,
  unionSyscalls,
  type SeccompProfile,
  type SeccompRule,
  type SpoSeccompProfile,
} from '../seccomp/index.js';
import type { ProfileSource } from './profile-conversions.js';

/**
 * Stacked profiles, as the Security Profiles Operator resolves them: an SPO `SeccompProfile`
 * whose `spec.baseProfileName` is `oci://REF` gets the union of its syscall rules with those of
 * REF's profile, and of REF's own base, and so on; the child's other fields (defaultAction,
 * architectures, flags) stay. A CRI-O JSON profile has no base: it is a chain of one.
 */

/** SPO's limit: the profile and at most 14 bases under it; a 16th profile fails. */
export const MAX_CHAIN_LENGTH = 15;
/** Between the links in the applied-profile annotation: `REF@DIGEST,BASE@DIGEST,...`, child first. */
export const CHAIN_SEPARATOR = ',';

export interface PulledLink {
  manifestDigest: string;
  bytes: Buffer;
  layerTitle?: string;
}

/** Pulls one link exactly as an annotated reference is pulled: artifact client, then signature policy. */
export type LinkPuller<P extends PulledLink, V> = (reference: string, signal?: AbortSignal) => Promise<{ pulled: P; verification: V }>;

export interface ChainLink<P extends PulledLink = PulledLink, V = unknown> {
  reference: string;
  digest: string;
  /** Length of the profile as published (the layer). */
  publishedLength: number;
  format: 'spo' | 'json';
  /** The SPO object's `metadata.name`. */
  name?: string;
  pulled: P;
  verification: V;
}

export interface ResolvedChain<P extends PulledLink = PulledLink, V = unknown> {
  /** The annotated profile first, then each base in order. */
  links: ChainLink<P, V>[];
  /** Every link's digest in order: what the merged profile depends on. */
  key: string;
  /**
   * What the conversion starts from: an SPO chain's child with the union of every link's syscall
   * rules; a CRI-O JSON artifact's bytes, read only by the conversion (which may run off the
   * proxy's thread: a JSON profile has no base to find, so it need not be read here).
   */
  source: ProfileSource;
}

/**
 * Published bytes of the profiles held parsed (and merged): the entry count alone would let a node
 * hold up to that many times the artifact size limit. An evicted profile is parsed again from the
 * artifact client's caches.
 */
const MAX_HELD_BYTES = 64 * 1024 * 1024;

type ReadLink =
  | { format: 'json' }
  | {
      format: 'spo';
      /** Published length, what the cache's size bound counts. */
      size: number;
      profile: SeccompProfile;
      name?: string;
      base?: string;
    };

/** `REF@DIGEST` of each link, as the annotation and error messages name them. */
export function formatChain(links: Pick<ChainLink, 'reference' | 'digest'>[]): string {
  return links.map((link) => `${link.reference}@${link.digest}`).join(CHAIN_SEPARATOR);
}

/**
 * Resolves the chain a reference starts. Each link is pulled on its own (so its cache, store,
 * mirrors, auth and signature rule apply); a link's parsed profile is kept by digest and the
 * merged profile by the chain's digests, so a warm chain costs cache lookups only.
 */
export type ChainResolver<P extends PulledLink, V> = (reference: string, signal?: AbortSignal) => Promise<ResolvedChain<P, V>>;

/** Reads an SPO object's text; the shim's reads big ones off the proxy's thread (ProfileConverter.readSpo). */
export type SpoReader = (bytes: Buffer, source: string) => Promise<SpoSeccompProfile>;

const readSpoInline: SpoReader = async (bytes, source) => parseSpoProfile(bytes, source);

export function createChainResolver<P extends PulledLink, V>(pull: LinkPuller<P, V>, cacheEntries: number, readSpo: SpoReader = readSpoInline): ChainResolver<P, V> {
  const parsed = new LRUCache<string, Extract<ReadLink, { format: 'spo' }>>({ max: cacheEntries, maxSize: MAX_HELD_BYTES, sizeCalculation: (link) => Math.max(1, link.size) });
  const merged = new LRUCache<string, { size: number; profile: SeccompProfile }>({
    max: cacheEntries,
    maxSize: MAX_HELD_BYTES,
    sizeCalculation: (entry) => Math.max(1, entry.size),
  });

  // Pods that start together with one new chain read each link once.
  const reads = new SingleFlight<Extract<ReadLink, { format: 'spo' }>>();

  async function read(pulled: PulledLink, reference: string): Promise<ReadLink> {
    if (!isSpoDocument(pulled.bytes, pulled.layerTitle)) return { format: 'json' };
    const known = parsed.get(pulled.manifestDigest);
    if (known !== undefined) return known;
    return reads.run(pulled.manifestDigest, async () => {
      const spo = await readSpo(pulled.bytes, reference);
      const link: Extract<ReadLink, { format: 'spo' }> = { size: pulled.bytes.length, format: 'spo', profile: spo.profile };
      if (spo.name !== undefined) link.name = spo.name;
      if (spo.baseProfileName !== undefined) link.base = spo.baseProfileName;
      parsed.set(pulled.manifestDigest, link);
      return link;
    });
  }

  return async function resolveChain(reference: string, signal?: AbortSignal): Promise<ResolvedChain<P, V>> {
    const links: ChainLink<P, V>[] = [];
    const profiles: SeccompProfile[] = [];
    let next: string | undefined = reference;
    while (next !== undefined) {
      const current: string = next;
      const { pulled, verification } = await withChainContext(links, () => pull(current, signal));
      const link = await withChainContext(links, () => read(pulled, current));
      const seen = links.findIndex((l) => l.digest === pulled.manifestDigest);
      const entry: ChainLink<P, V> = { reference: current, digest: pulled.manifestDigest, publishedLength: pulled.bytes.length, format: link.format, pulled, verification };
      if (link.format === 'json') {
        if (links.length > 0) {
          throw chainError([...links, entry], 'is not a Security Profiles Operator SeccompProfile: only those can be base profiles');
        }
        return { links: [entry], key: entry.digest, source: { bytes: pulled.bytes } };
      }
      if (link.name !== undefined) entry.name = link.name;
      links.push(entry);
      profiles.push(link.profile);
      if (seen >= 0) throw chainError(links, `is a cycle: link ${links.length} is link ${seen + 1} again`);
      next = baseReference(links, link.base);
    }
    const key = links.map((l) => l.digest).join(' ');
    let profile = merged.get(key)?.profile;
    if (profile === undefined) {
      profile = mergeChain(profiles);
      merged.set(key, { size: links.reduce((sum, l) => sum + l.publishedLength, 0), profile });
    }
    return { links, key, source: { profile } };
  };
}

/** SPO's order: the rules gathered so far are the right side, each next base the left. */
function mergeChain(profiles: SeccompProfile[]): SeccompProfile {
  const [child, ...bases] = profiles;
  if (child === undefined) throw new Error('a chain has at least one link');
  if (bases.length === 0) return child;
  let syscalls: SeccompRule[] = child.syscalls;
  for (const base of bases) syscalls = unionSyscalls(base.syscalls, syscalls);
  return { ...child, syscalls };
}

function baseReference(links: ChainLink[], base: string | undefined): string | undefined {
  if (base === undefined) return undefined;
  if (!base.startsWith(OCI_PROFILE_PREFIX)) {
    throw chainError(links, `names base profile "${base}", a cluster object a node cannot read: only ${OCI_PROFILE_PREFIX}REF bases can be resolved`);
  }
  if (links.length >= MAX_CHAIN_LENGTH) {
    throw chainError(links, `goes on to ${base}: more than ${MAX_CHAIN_LENGTH} profiles (SPO's limit of ${MAX_CHAIN_LENGTH - 1} base profiles)`);
  }
  return base.slice(OCI_PROFILE_PREFIX.length);
}

function chainError(links: ChainLink[], problem: string): ArtifactError {
  return new ArtifactError('InvalidArtifact', `base profile chain ${links.map((l) => `${l.reference}@${l.digest}`).join(' -> ')} ${problem}`);
}

/** Failures past the first link say which chain they belong to; the error keeps its class (and CRI word). */
async function withChainContext<T>(links: ChainLink[], run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw addContext(links, error);
  }
}

function addContext(links: ChainLink[], error: unknown): unknown {
  if (links.length === 0 || !(error instanceof Error)) return error;
  const context = `base profile of ${links.map((l) => `${l.reference}@${l.digest}`).join(' -> ')}`;
  const word = /^([A-Z][A-Za-z]+): /.exec(error.message);
  const message = word ? `${word[0]}${context}: ${error.message.slice(word[0].length)}` : `${context}: ${error.message}`;
  // A copy, not the error itself: a single-flight pull hands one error object to every waiter.
  const copy = Object.assign(Object.create(Object.getPrototypeOf(error) as object) as Error, error);
  Object.defineProperty(copy, 'message', { value: message, writable: true, configurable: true });
  Object.defineProperty(copy, 'cause', { value: error, writable: true, configurable: true });
  copy.stack = error.stack;
  return copy;
}
