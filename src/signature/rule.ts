import type { TrustedRoot } from '@sigstore/protobuf-specs';
import type { TrustMaterial } from '@sigstore/verify';
import { policyProblems, ruleLocation, trimSlashes, type KeylessIdentity, type SignaturePolicy, type SignatureRuleSettings } from './policy.js';
import { buildTrustMaterial, loadPublicKey, loadTrustedRoot, type TrustedKey } from './trust.js';

/** A keyless identity with its patterns compiled and anchored. */
export interface CompiledIdentity {
  source: KeylessIdentity;
  issuer: (value: string) => boolean;
  subject: (value: string) => boolean;
}

/** A rule with its files read and its patterns compiled, ready for verification. */
export interface CompiledRule {
  name: string;
  mode: SignatureRuleSettings['mode'];
  keys: TrustedKey[];
  identities: CompiledIdentity[];
  root: TrustedRoot | undefined;
  trust: TrustMaterial;
  requireTlog: boolean;
  requireTimestamp: boolean;
  requireSct: boolean;
  dockerReference: 'repository' | 'ignore';
}

function matcher(exact: string | undefined, pattern: string | undefined): (value: string) => boolean {
  if (exact !== undefined) return (value) => value === exact;
  // Anchored so that `.*@example\.com` cannot be satisfied by `x@example.com.evil`.
  const re = new RegExp(`^(?:${pattern ?? ''})$`);
  return (value) => re.test(value);
}

function compileIdentity(identity: KeylessIdentity): CompiledIdentity {
  return {
    source: identity,
    issuer: matcher(identity.issuer, identity.issuerPattern),
    subject: matcher(identity.subject, identity.subjectPattern),
  };
}

/** Human-readable form of an identity for error messages. */
export function describeIdentity(identity: KeylessIdentity): string {
  const issuer = identity.issuer ?? `/${identity.issuerPattern ?? ''}/`;
  const subject = identity.subject ?? `/${identity.subjectPattern ?? ''}/`;
  return `issuer ${issuer} subject ${subject}`;
}

function compileRule(name: string, where: string, settings: SignatureRuleSettings): CompiledRule {
  const keys = (settings.keys ?? []).map((path, i) => loadPublicKey(path, `${where}.keys[${i}]`));
  const root = settings.trustedRoot ? loadTrustedRoot(settings.trustedRoot, `${where}.trusted_root`) : undefined;
  return {
    name,
    mode: settings.mode,
    keys,
    identities: (settings.identities ?? []).map(compileIdentity),
    root,
    trust: buildTrustMaterial(root, keys),
    requireTlog: settings.requireTlog ?? false,
    requireTimestamp: settings.requireTimestamp ?? false,
    requireSct: settings.requireSct ?? true,
    dockerReference: settings.dockerReference ?? 'repository',
  };
}

export interface CompiledPolicy {
  default: CompiledRule;
  /** Keyed by the rule's normalised prefix, as `selectRule` names it. */
  byName: Map<string, CompiledRule>;
}

/**
 * Validates the policy and reads every key and trusted root it names, so a broken file fails
 * at startup with the configuration key that names it, not at the first pull.
 */
export function compilePolicy(policy: SignaturePolicy): CompiledPolicy {
  const problems = policyProblems(policy);
  if (problems.length > 0) {
    throw new Error(`invalid signature policy: ${problems.join('; ')}`);
  }
  const byName = new Map<string, CompiledRule>();
  (policy.rules ?? []).forEach((rule, i) => {
    // The same normalisation selectRule names its match with, so every match finds its rule.
    const name = trimSlashes(rule.prefix);
    byName.set(name, compileRule(name, ruleLocation(i), rule));
  });
  return { default: compileRule('default', ruleLocation('default'), policy.default), byName };
}
