import { PolicyError, VerificationError, Verifier, type SignedEntity } from '@sigstore/verify';
import { CandidateRejected, type RejectionReason } from './errors.js';
import { describeIdentity, type CompiledRule } from './rule.js';

/** Who made an accepted signature. */
export interface SignerInfo {
  kind: 'key' | 'keyless';
  /** The key file, or `issuer subject` of the certificate. */
  name: string;
}

function errorDetail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

/** Maps @sigstore/verify's error codes onto the reasons this module reports. */
function rejectionFor(error: unknown, signatureReason: RejectionReason): CandidateRejected {
  if (error instanceof CandidateRejected) return error;
  if (error instanceof PolicyError) return new CandidateRejected('identity-mismatch', errorDetail(error));
  if (!(error instanceof VerificationError)) return new CandidateRejected('invalid-signature-format', errorDetail(error));
  const detail = errorDetail(error);
  switch (error.code) {
    case 'TIMESTAMP_ERROR':
      return new CandidateRejected(/^expected \d+ timestamps/.test(error.message) ? 'timestamp-missing' : 'timestamp-invalid', detail);
    case 'TLOG_ERROR':
      return new CandidateRejected('tlog-missing', detail);
    case 'TLOG_BODY_ERROR':
    case 'TLOG_INCLUSION_PROMISE_ERROR':
    case 'TLOG_INCLUSION_PROOF_ERROR':
    case 'TLOG_MISSING_INCLUSION_ERROR':
      return new CandidateRejected('tlog-invalid', detail);
    case 'CERTIFICATE_ERROR':
      return new CandidateRejected('untrusted-certificate', detail);
    case 'PUBLIC_KEY_ERROR':
    case 'SIGNATURE_ERROR':
      return new CandidateRejected(signatureReason, detail);
    default:
      return new CandidateRejected('invalid-signature-format', detail);
  }
}

function countTsaTimestamps(entity: SignedEntity): number {
  return entity.timestamps.filter((t) => t.$case === 'timestamp-authority').length;
}

function requireTsa(rule: CompiledRule, entity: SignedEntity): void {
  if (rule.requireTimestamp && countTsaTimestamps(entity) === 0) {
    throw new CandidateRejected('timestamp-missing', 'the rule requires an RFC 3161 timestamp and the signature carries none');
  }
}

/**
 * Key-based: the signature must verify with one of the rule's keys. Log entries and
 * timestamps are checked only when the rule asks for them; otherwise they are ignored, as
 * cosign does offline with --insecure-ignore-tlog.
 */
function verifyWithKeys(entity: SignedEntity, rule: CompiledRule): SignerInfo {
  const key = rule.keys.find((k) => entity.signature.verifySignature(k.key));
  if (!key) {
    throw new CandidateRejected('wrong-key', `signature does not verify with any configured key (${rule.keys.map((k) => k.name).join(', ')})`);
  }
  const candidate: SignedEntity = {
    signature: entity.signature,
    key: { $case: 'public-key', hint: key.hint },
    tlogEntries: rule.requireTlog ? entity.tlogEntries : [],
    timestamps: entity.timestamps.filter(
      (t) => (t.$case === 'transparency-log' && rule.requireTlog) || (t.$case === 'timestamp-authority' && rule.requireTimestamp),
    ),
  };
  requireTsa(rule, candidate);
  const verifier = new Verifier(rule.trust, {
    tlogThreshold: rule.requireTlog ? 1 : 0,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  try {
    verifier.verify(candidate);
  } catch (error) {
    throw rejectionFor(error, 'wrong-key');
  }
  return { kind: 'key', name: key.name };
}

/**
 * Keyless: the certificate must chain to a CA of the trusted root at a verified time (a log
 * entry's inclusion promise or an RFC 3161 timestamp), the payload must verify with its key,
 * and its OIDC issuer and subject must match one of the rule's identities.
 */
function verifyKeyless(entity: SignedEntity, rule: CompiledRule): SignerInfo {
  const useTlog = rule.requireTlog || (rule.root?.tlogs.length ?? 0) > 0;
  const candidate: SignedEntity = useTlog
    ? entity
    : { ...entity, tlogEntries: [], timestamps: entity.timestamps.filter((t) => t.$case === 'timestamp-authority') };
  requireTsa(rule, candidate);
  const verifier = new Verifier(rule.trust, {
    tlogThreshold: rule.requireTlog ? 1 : 0,
    ctlogThreshold: rule.requireSct ? 1 : 0,
    // Without a verified time the short-lived certificate's validity cannot be checked.
    timestampThreshold: 1,
  });
  let signer;
  try {
    signer = verifier.verify(candidate);
  } catch (error) {
    throw rejectionFor(error, 'signature-mismatch');
  }
  const issuer = signer.identity?.extensions?.issuer ?? '';
  const subject = signer.identity?.subjectAlternativeName ?? '';
  const match = rule.identities.find((id) => id.issuer(issuer) && id.subject(subject));
  if (!match) {
    throw new CandidateRejected(
      'identity-mismatch',
      `certificate issuer ${JSON.stringify(issuer)} subject ${JSON.stringify(subject)} matches none of: ${rule.identities.map((id) => describeIdentity(id.source)).join('; ')}`,
    );
  }
  return { kind: 'keyless', name: `${issuer} ${subject}` };
}

/**
 * Checks one signature against a rule: keys first (cosign's --key ignores any certificate),
 * then the certificate against the keyless identities. Throws CandidateRejected with the most
 * telling reason.
 */
export function verifySignedEntity(entity: SignedEntity, rule: CompiledRule): SignerInfo {
  let keyFailure: CandidateRejected | undefined;
  if (rule.keys.length > 0) {
    try {
      return verifyWithKeys(entity, rule);
    } catch (error) {
      keyFailure = rejectionFor(error, 'wrong-key');
    }
  }
  if (entity.key.$case === 'certificate' && rule.identities.length > 0) {
    // A signature that verified with a configured key but failed a log/timestamp check says
    // more about the problem than a keyless attempt would.
    if (keyFailure && keyFailure.reason !== 'wrong-key') throw keyFailure;
    return verifyKeyless(entity, rule);
  }
  if (keyFailure) throw keyFailure;
  throw new CandidateRejected(
    'wrong-key',
    entity.key.$case === 'certificate'
      ? 'signature carries a certificate and the rule accepts no keyless identities'
      : 'signature carries no certificate and the rule accepts no keys',
  );
}
