import { parseReference } from '../artifact/index.js';
import { CandidateRejected } from './errors.js';

/** Media type of cosign's payload layer (cosign SIGNATURE_SPEC, "Simple Signing"). */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** The `critical.type` cosign writes and expects. */
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

/** The payload cosign signs: it binds the signature to one manifest digest. */
export function buildSimpleSigningPayload(dockerReference: string, manifestDigest: string): Buffer {
  const payload = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': manifestDigest },
      type: COSIGN_SIGNATURE_TYPE,
    },
    optional: null,
  };
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Looks a key up the way cosign's Go decoder does (case-insensitively): the spec's own example
 * spells `Docker-manifest-digest` while cosign writes `docker-manifest-digest`.
 */
function field(object: Record<string, unknown>, key: string): unknown {
  if (key in object) return object[key];
  const lower = key.toLowerCase();
  const found = Object.keys(object).find((k) => k.toLowerCase() === lower);
  return found === undefined ? undefined : object[found];
}

/**
 * The repository path of a docker reference, normalised as references are everywhere in the
 * shim (`docker.io/nginx` is `library/nginx`); undefined when it is not a reference at all.
 */
export function repositoryPath(dockerReference: string): string | undefined {
  try {
    return parseReference(dockerReference).repository;
  } catch {
    return undefined;
  }
}

export interface PayloadExpectation {
  digest: string;
  repository: string;
  dockerReference: 'repository' | 'ignore';
}

/**
 * Checks a simple-signing payload against the digest that was actually fetched: a signature
 * over any other manifest does not count, whoever made it.
 */
export function checkSimpleSigningPayload(payload: Buffer, expected: PayloadExpectation): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    throw new CandidateRejected('invalid-signature-format', `payload is not JSON: ${(error as Error).message}`);
  }
  const critical = isRecord(parsed) ? field(parsed, 'critical') : undefined;
  if (!isRecord(critical)) {
    throw new CandidateRejected('invalid-signature-format', 'payload has no "critical" object');
  }
  const type = field(critical, 'type');
  if (type !== COSIGN_SIGNATURE_TYPE) {
    throw new CandidateRejected('invalid-signature-format', `payload critical.type is ${JSON.stringify(type)}, expected "${COSIGN_SIGNATURE_TYPE}"`);
  }
  const image = field(critical, 'image');
  const digest = isRecord(image) ? field(image, 'docker-manifest-digest') : undefined;
  if (digest !== expected.digest) {
    throw new CandidateRejected(
      'payload-digest-mismatch',
      `payload critical.image.docker-manifest-digest is ${JSON.stringify(digest)}, the fetched manifest is ${expected.digest}`,
    );
  }
  if (expected.dockerReference === 'ignore') return;
  const identity = field(critical, 'identity');
  const reference = isRecord(identity) ? field(identity, 'docker-reference') : undefined;
  if (reference === undefined || reference === null || reference === '') return;
  if (typeof reference !== 'string' || repositoryPath(reference) !== expected.repository) {
    throw new CandidateRejected(
      'docker-reference-mismatch',
      `payload critical.identity.docker-reference ${JSON.stringify(reference)} names another repository than ${expected.repository}`,
    );
  }
}
