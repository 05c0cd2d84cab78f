import type { IncomingMessage } from 'node:http';
import { ArtifactError } from './errors.js';
import { DigestVerifier, type DigestAlgorithm } from './digest.js';
import { header } from './transport.js';

export interface ReadBodyOptions {
  /** More than this is refused: by Content-Length before reading, by count while reading. */
  maxBytes: number;
  /** The digest the content must have; its algorithm is the one used. */
  expectedDigest?: string;
  /** Algorithm to compute when no digest is expected (content fetched by tag). */
  algorithm?: DigestAlgorithm;
  /** The size a descriptor promised. */
  expectedSize?: number;
  /** What is being read, for messages: "manifest", "blob sha256:...". */
  what: string;
}

export interface VerifiedBody {
  bytes: Buffer;
  digest: string;
}

function tooLarge(what: string, size: number | undefined, limit: number): ArtifactError {
  const actual = size === undefined ? '' : ` (${size} bytes)`;
  return new ArtifactError('TooLarge', `${what}${actual} exceeds the limit of ${limit} bytes`);
}

/** Reads a response body, hashing and counting as it streams; never holds more than `maxBytes`. */
export async function readVerifiedBody(response: IncomingMessage, options: ReadBodyOptions): Promise<VerifiedBody> {
  const { maxBytes, expectedSize, what } = options;
  const lengthHeader = header(response.headers, 'content-length');
  const declared = lengthHeader === undefined ? undefined : Number(lengthHeader);
  if (declared !== undefined && declared > maxBytes) throw tooLarge(what, declared, maxBytes);
  if (expectedSize !== undefined && expectedSize > maxBytes) throw tooLarge(what, expectedSize, maxBytes);
  if (declared !== undefined && expectedSize !== undefined && declared !== expectedSize) {
    throw new ArtifactError('DigestMismatch', `${what}: server announces ${declared} bytes, the descriptor says ${expectedSize}`);
  }
  const algorithm = options.expectedDigest ? (options.expectedDigest.split(':')[0] as DigestAlgorithm) : (options.algorithm ?? 'sha256');
  const verifier = new DigestVerifier(algorithm);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(what, undefined, maxBytes);
    verifier.update(chunk);
    chunks.push(chunk);
  }
  if (expectedSize !== undefined && total !== expectedSize) {
    throw new ArtifactError('DigestMismatch', `${what}: received ${total} bytes, the descriptor says ${expectedSize}`);
  }
  const digest = verifier.digest();
  if (options.expectedDigest !== undefined && digest !== options.expectedDigest) {
    throw new ArtifactError('DigestMismatch', `${what}: content has digest ${digest}, expected ${options.expectedDigest}`);
  }
  return { bytes: Buffer.concat(chunks, total), digest };
}

/** Reads at most `limit` bytes of a body (error documents, redirects) and drops the rest. */
export async function readSmallBody(response: IncomingMessage, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (total < limit) chunks.push(chunk.subarray(0, limit - total));
    total += chunk.length;
    if (total >= limit) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}
