import { createHash, type Hash } from 'node:crypto';

/** The digest algorithms of the OCI image spec, with the length of their lowercase hex encoding. */
const ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof ALGORITHMS;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/** Parses `sha256:<64 hex>` or `sha512:<128 hex>`; returns a reason string when it is not one. */
export function parseDigest(digest: string): ParsedDigest | string {
  const colon = digest.indexOf(':');
  if (colon < 0) return 'digest has no algorithm';
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  if (!Object.hasOwn(ALGORITHMS, algorithm)) return `unsupported digest algorithm "${algorithm}"`;
  const length = ALGORITHMS[algorithm as DigestAlgorithm];
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    return `${algorithm} digest must be ${length} lowercase hex characters`;
  }
  return { algorithm: algorithm as DigestAlgorithm, hex };
}

export function isValidDigest(digest: string): boolean {
  return typeof parseDigest(digest) !== 'string';
}

export function digestOf(bytes: Buffer | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Hashes a stream chunk by chunk, so content is checked as it arrives. */
export class DigestVerifier {
  private readonly hash: Hash;

  constructor(readonly algorithm: DigestAlgorithm) {
    this.hash = createHash(algorithm);
  }

  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }

  digest(): string {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}
