import { createHash, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { TransparencyLogEntry } from '@sigstore/bundle';
import { RFC3161Timestamp, X509Certificate } from '@sigstore/core';
import type { SignedEntity } from '@sigstore/verify';
import { CandidateRejected } from './errors.js';

type SignatureContent = SignedEntity['signature'];
type Timestamp = SignedEntity['timestamps'][number];

/** One signature from a cosign `.sig` manifest layer: the payload blob and its annotations. */
export interface CosignSignature {
  payload: Buffer;
  /** `dev.cosignproject.cosign/signature`, decoded. */
  signature: Buffer;
  /** `dev.sigstore.cosign/certificate`: the signing certificate (keyless). */
  certificatePem?: string;
  /** `dev.sigstore.cosign/bundle`: Rekor's signed entry timestamp and the entry it covers. */
  rekorBundle?: string;
  /** `dev.sigstore.cosign/rfc3161timestamp`: `{"SignedRFC3161Timestamp": base64 DER}`. */
  rfc3161Timestamp?: string;
}

function equalBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Digests a key type may have been used with. Cosign signs with sha256 whatever the key;
 * other Sigstore signers pair P-384 and P-521 with sha384 and sha512.
 */
function hashesFor(key: KeyObject): (string | null)[] {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return [null];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'secp384r1') return ['sha256', 'sha384'];
      if (curve === 'secp521r1') return ['sha256', 'sha512'];
      return ['sha256'];
    }
    default:
      return ['sha256'];
  }
}

/** Verifies a detached signature over `data` with whatever digest the key type allows. */
export function verifyDetached(data: Buffer, key: KeyObject, signature: Buffer): boolean {
  return hashesFor(key).some((hash) => {
    try {
      return cryptoVerify(hash, data, key, signature);
    } catch {
      return false;
    }
  });
}

/** The signed payload as @sigstore/verify sees it: the tlog body is compared against these. */
class PayloadSignatureContent implements SignatureContent {
  readonly signature: Buffer;
  private readonly payload: Buffer;
  private readonly digest: Buffer;

  constructor(payload: Buffer, signature: Buffer) {
    this.payload = payload;
    this.signature = signature;
    this.digest = createHash('sha256').update(payload).digest();
  }

  compareSignature(signature: Buffer): boolean {
    return equalBytes(signature, this.signature);
  }

  compareDigest(digest: Buffer): boolean {
    return equalBytes(digest, this.digest);
  }

  verifySignature(key: KeyObject): boolean {
    return verifyDetached(this.payload, key, this.signature);
  }
}

interface RekorBundleJson {
  SignedEntryTimestamp?: unknown;
  Payload?: { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown };
}

/** Cosign's Rekor bundle annotation as a protobuf-specs tlog entry with an inclusion promise. */
export function rekorBundleToEntry(text: string): TransparencyLogEntry {
  let parsed: RekorBundleJson;
  try {
    parsed = JSON.parse(text) as RekorBundleJson;
  } catch (error) {
    throw new CandidateRejected('invalid-signature-format', `dev.sigstore.cosign/bundle is not JSON: ${(error as Error).message}`);
  }
  const p = parsed.Payload;
  if (
    typeof parsed.SignedEntryTimestamp !== 'string' ||
    !p ||
    typeof p.body !== 'string' ||
    typeof p.integratedTime !== 'number' ||
    typeof p.logIndex !== 'number' ||
    typeof p.logID !== 'string' ||
    !/^[0-9a-f]{64}$/.test(p.logID)
  ) {
    throw new CandidateRejected('invalid-signature-format', 'dev.sigstore.cosign/bundle lacks SignedEntryTimestamp or Payload {body, integratedTime, logIndex, logID}');
  }
  const body = Buffer.from(p.body, 'base64');
  let kind: unknown;
  let apiVersion: unknown;
  try {
    ({ kind, apiVersion } = JSON.parse(body.toString('utf8')) as { kind?: unknown; apiVersion?: unknown });
  } catch {
    throw new CandidateRejected('invalid-signature-format', 'dev.sigstore.cosign/bundle Payload.body is not a JSON log entry');
  }
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') {
    throw new CandidateRejected('invalid-signature-format', 'dev.sigstore.cosign/bundle Payload.body has no kind/apiVersion');
  }
  return {
    logIndex: String(p.logIndex),
    logId: { keyId: Buffer.from(p.logID, 'hex') },
    kindVersion: { kind, version: apiVersion },
    integratedTime: String(p.integratedTime),
    inclusionPromise: { signedEntryTimestamp: Buffer.from(parsed.SignedEntryTimestamp, 'base64') },
    inclusionProof: undefined,
    canonicalizedBody: body,
  };
}

function parseRfc3161Annotation(text: string): RFC3161Timestamp {
  let value: unknown;
  try {
    value = (JSON.parse(text) as { SignedRFC3161Timestamp?: unknown }).SignedRFC3161Timestamp;
  } catch (error) {
    throw new CandidateRejected('invalid-signature-format', `dev.sigstore.cosign/rfc3161timestamp is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'string') {
    throw new CandidateRejected('invalid-signature-format', 'dev.sigstore.cosign/rfc3161timestamp has no SignedRFC3161Timestamp');
  }
  try {
    return RFC3161Timestamp.parse(Buffer.from(value, 'base64'));
  } catch (error) {
    throw new CandidateRejected('invalid-signature-format', `RFC 3161 timestamp does not parse: ${(error as Error).message}`);
  }
}

function parseCertificate(pem: string): X509Certificate {
  try {
    return X509Certificate.parse(pem);
  } catch (error) {
    throw new CandidateRejected('invalid-signature-format', `dev.sigstore.cosign/certificate does not parse: ${(error as Error).message}`);
  }
}

/**
 * A cosign tag-scheme signature in the shape @sigstore/verify checks. The key is a placeholder
 * (`public-key` with an empty hint) when there is no certificate; the caller substitutes each
 * configured key's hint in turn.
 */
export function cosignSignatureToEntity(sig: CosignSignature): SignedEntity {
  const tlogEntries = sig.rekorBundle ? [rekorBundleToEntry(sig.rekorBundle)] : [];
  const timestamps: Timestamp[] = tlogEntries.map((tlogEntry) => ({ $case: 'transparency-log', tlogEntry }));
  if (sig.rfc3161Timestamp) {
    timestamps.push({ $case: 'timestamp-authority', timestamp: parseRfc3161Annotation(sig.rfc3161Timestamp) });
  }
  return {
    signature: new PayloadSignatureContent(sig.payload, sig.signature),
    key: sig.certificatePem
      ? { $case: 'certificate', certificate: parseCertificate(sig.certificatePem) }
      : { $case: 'public-key', hint: '' },
    tlogEntries,
    timestamps,
  };
}
