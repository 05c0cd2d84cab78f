import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { isValidDigest, SingleFlight } from '../artifact/index.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { PendingCandidate, Subject } from './candidates.js';
import { discoverCosignSignatures } from './cosign-tag.js';
import { CandidateRejected, SignatureError, type Rejection } from './errors.js';
import { selectRule, type SignaturePolicy } from './policy.js';
import { discoverBundleReferrers } from './referrers.js';
import { compilePolicy, type CompiledPolicy, type CompiledRule } from './rule.js';
import type { SignatureSource } from './source.js';
import { verifySignedEntity, type SignerInfo } from './verify-entity.js';

export interface VerifyRequest {
  /** The reference as written in the annotation, for messages. */
  reference: string;
  registry: string;
  repository: string;
  /** The digest of the manifest that was actually fetched. */
  digest: string;
}

export interface VerificationResult {
  /** False only when the matching rule has mode "none". */
  verified: boolean;
  rule: string;
  signer?: SignerInfo;
  /** Where the accepted signature was found. */
  foundIn?: string;
  /** True when the result came from the in-memory cache. */
  cached: boolean;
}

/** Told of each signature check under a rule that requires one. */
export interface SignatureObserver {
  signatureVerification(result: 'verified' | 'cached' | 'failed'): void;
}

export interface SignatureVerifier {
  verifyArtifact(request: VerifyRequest): Promise<VerificationResult>;
  /** The rule name that applies to `registry/repository`, for logs and `pull --explain`-style output. */
  ruleFor(registry: string, repository: string): string;
}


function toRejection(where: string, error: unknown): Rejection {
  if (error instanceof CandidateRejected) return { reason: error.reason, where, detail: error.message };
  return { reason: 'fetch-failed', where, detail: error instanceof Error ? error.message : String(error) };
}

/**
 * Finds the subject's signatures in both places at once (cosign's tag, bundle referrers), then
 * loads and checks them one by one, cosign's first, until one is accepted.
 */
async function findAcceptedSignature(
  source: SignatureSource,
  subject: Subject,
  rule: CompiledRule,
): Promise<{ accepted?: { signer: SignerInfo; where: string }; rejections: Rejection[]; seen: number }> {
  const lookups: [string, Promise<PendingCandidate[]>][] = [
    ['cosign signature tag', discoverCosignSignatures(source, subject)],
    ['sigstore bundle referrers', discoverBundleReferrers(source, subject)],
  ];
  // Both lookups run concurrently; a failure of one is reported, not thrown past the other.
  for (const [, lookup] of lookups) lookup.catch(() => undefined);
  const rejections: Rejection[] = [];
  let seen = 0;
  for (const [where, lookup] of lookups) {
    let pending: PendingCandidate[];
    try {
      pending = await lookup;
    } catch (error) {
      rejections.push(toRejection(where, error));
      continue;
    }
    for (const candidate of pending) {
      seen += 1;
      try {
        const loaded = await candidate.load();
        loaded.checkBinding(subject, rule.dockerReference);
        return { accepted: { signer: verifySignedEntity(loaded.entity, rule), where: loaded.where }, rejections, seen };
      } catch (error) {
        rejections.push(toRejection(candidate.where, error));
      }
    }
  }
  return { rejections, seen };
}

/**
 * The policy applied to fetched artifacts. Rules are compiled (files read) here, so a broken
 * key or trusted root fails at startup. A verified (digest, rule, repository) is cached for
 * the configured time; failures are not cached, so a signature published a moment later counts
 * at the next attempt. Concurrent checks of the same key share one registry round.
 */
export function createSignatureVerifier(
  policy: SignaturePolicy,
  source: SignatureSource,
  logger: Logger = silentLogger(),
  observer?: SignatureObserver,
): SignatureVerifier {
  const compiled: CompiledPolicy = compilePolicy(policy);
  const cache = new LRUCache<string, { signer: SignerInfo; foundIn: string }>({
    max: policy.cache?.maxEntries ?? 1000,
    ttl: policy.cache?.ttlMs ?? 10 * 60_000,
  });
  const inFlight = new SingleFlight<VerificationResult>();

  const ruleFor = (registry: string, repository: string): CompiledRule => {
    const { name } = selectRule(policy, registry, repository);
    if (name === 'default') return compiled.default;
    const rule = compiled.byName.get(name);
    // Never fall back to the default here: that could turn a "required" rule into "none".
    if (rule === undefined) throw new Error(`signature policy has no compiled rule "${name}"`);
    return rule;
  };

  async function verifyUncached(request: VerifyRequest, rule: CompiledRule, key: string): Promise<VerificationResult> {
    const started = performance.now();
    const subject: Subject = { registry: request.registry, repository: request.repository, digest: request.digest };
    const checked = await findAcceptedSignature(source, subject, rule);
    const fields = { reference: request.reference, digest: request.digest, rule: rule.name, ms: Math.round(performance.now() - started) };
    if (checked.accepted) {
      cache.set(key, { signer: checked.accepted.signer, foundIn: checked.accepted.where });
      observer?.signatureVerification('verified');
      logger.info({ ...fields, signer: checked.accepted.signer.name, foundIn: checked.accepted.where }, 'signature verified');
      return { verified: true, rule: rule.name, signer: checked.accepted.signer, foundIn: checked.accepted.where, cached: false };
    }
    const rejections = checked.rejections;
    if (checked.seen === 0 && rejections.length === 0) {
      rejections.push({
        reason: 'no-signature',
        where: `${request.registry}/${request.repository}`,
        detail: `no cosign signature tag and no sigstore bundle referrer for ${request.digest}`,
      });
    }
    const error = new SignatureError({ reference: request.reference, digest: request.digest, rule: rule.name, rejections });
    logger.warn({ ...fields, reasons: error.reasons }, error.message);
    observer?.signatureVerification('failed');
    throw error;
  }

  return {
    ruleFor: (registry, repository) => ruleFor(registry, repository).name,

    async verifyArtifact(request: VerifyRequest): Promise<VerificationResult> {
      const rule = ruleFor(request.registry, request.repository);
      if (rule.mode === 'none') return { verified: false, rule: rule.name, cached: false };
      if (!isValidDigest(request.digest)) {
        observer?.signatureVerification('failed');
        throw new SignatureError({
          reference: request.reference,
          digest: request.digest,
          rule: rule.name,
          rejections: [{ reason: 'invalid-signature-format', where: 'request', detail: 'not a content digest' }],
        });
      }
      const key = `${request.digest}\n${rule.name}\n${request.registry}/${request.repository}`;
      const hit = cache.get(key);
      if (hit) {
        logger.debug({ reference: request.reference, digest: request.digest, rule: rule.name }, 'signature verified (cached)');
        observer?.signatureVerification('cached');
        return { verified: true, rule: rule.name, signer: hit.signer, foundIn: hit.foundIn, cached: true };
      }
      return inFlight.run(key, () => verifyUncached(request, rule, key));
    },
  };
}
