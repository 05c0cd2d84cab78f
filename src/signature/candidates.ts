import type { SignedEntity } from '@sigstore/verify';
import { CandidateRejected } from './errors.js';

/** What a signature must be bound to: the manifest that was actually fetched. */
export interface Subject {
  registry: string;
  repository: string;
  digest: string;
}

/** One signature found in the registry, not yet trusted. */
export interface Candidate {
  /** Where it was found, for messages: tag or referrer digest, and layer. */
  where: string;
  /** `cosign-tag` or `referrer`, reported with an accepted signature. */
  kind: 'cosign-tag' | 'referrer';
  entity: SignedEntity;
  /** Throws CandidateRejected unless the signed content names the subject's digest. */
  checkBinding(subject: Subject, dockerReference: 'repository' | 'ignore'): void;
}

/**
 * A signature known to exist but not yet fetched: its blobs are read only when the ones before
 * it were not accepted, so a pull signed in the first place looked at costs no more requests.
 */
export interface PendingCandidate {
  where: string;
  load(): Promise<Candidate>;
}

/** Descriptor, manifest and blob caps: signatures are kilobytes; anything larger is refused. */
export const MAX_SIGNATURE_BLOB_BYTES = 1 << 20;
/** How many signatures of one kind are looked at, so a flooded tag cannot stall a pull. */
export const MAX_CANDIDATES = 32;

/** `sha256:abc…` → `sha256-abc…`, the form digests take in tags (cosign and OCI referrers tag schema). */
export function digestTag(digest: string): string {
  const [alg = '', hex = ''] = digest.split(':', 2);
  return `${alg.slice(0, 32)}-${hex.slice(0, 64)}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses manifest bytes as a JSON object, naming where they came from on failure. */
export function parseJsonObject(body: Buffer, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new CandidateRejected('invalid-signature-format', `${what} is not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(parsed)) throw new CandidateRejected('invalid-signature-format', `${what} is not a JSON object`);
  return parsed;
}
