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

/** The repository path of a docker reference: no registry host, tag or digest. */
export function repositoryPath(dockerReference: string): string {
  let name = dockerReference;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) name = name.slice(0, colon);
  const parts = name.split('/');
  const first = parts[0] ?? '';
  // Same rule as the reference grammar: a first component with a dot, a colon or `localhost` is a host.
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    parts.shift();
  }
  return parts.join('/');
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
