/** Why one signature candidate was not accepted; several are joined into the final message. */
export type RejectionReason =
  | 'no-signature'
  | 'payload-digest-mismatch'
  | 'docker-reference-mismatch'
  | 'wrong-key'
  | 'identity-mismatch'
  | 'untrusted-certificate'
  | 'signature-mismatch'
  | 'tlog-missing'
  | 'tlog-invalid'
  | 'timestamp-missing'
  | 'timestamp-invalid'
  | 'invalid-signature-format'
  | 'fetch-failed';

export interface Rejection {
  reason: RejectionReason;
  /** Where the candidate came from, e.g. `cosign tag sha256-….sig layer 0`. */
  where: string;
  detail: string;
}

export interface SignatureErrorContext {
  reference: string;
  digest: string;
  rule: string;
  rejections: Rejection[];
}

/**
 * A reference failed its signature policy. The message starts with `SignatureValidationFailed`
 * (CRI-O's reason string) and names the reference, the digest that was fetched, the rule, and
 * every reason a candidate signature was turned down.
 */
export class SignatureError extends Error {
  readonly reference: string;
  readonly digest: string;
  readonly rule: string;
  readonly rejections: Rejection[];

  constructor(context: SignatureErrorContext) {
    const why =
      context.rejections.length === 0
        ? 'no signature found'
        : context.rejections.map((r) => `${r.where}: ${r.reason}: ${r.detail}`).join('; ');
    super(`SignatureValidationFailed: ${context.reference} (digest ${context.digest}) under signature rule "${context.rule}": ${why}`);
    this.name = 'SignatureError';
    this.reference = context.reference;
    this.digest = context.digest;
    this.rule = context.rule;
    this.rejections = context.rejections;
  }

  /** The distinct reasons, for callers and tests that branch on them. */
  get reasons(): RejectionReason[] {
    return [...new Set(this.rejections.map((r) => r.reason))];
  }
}

/** A candidate signature turned down; thrown inside verification and collected by the verifier. */
export class CandidateRejected extends Error {
  readonly reason: RejectionReason;
  constructor(reason: RejectionReason, detail: string) {
    super(detail);
    this.name = 'CandidateRejected';
    this.reason = reason;
  }
}
