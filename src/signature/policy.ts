/**
 * The signature policy: which artifacts need signatures and whose signatures count.
 * The lead's config module maps TOML onto these types; this module only matches and validates.
 */

export type SignatureMode = 'none' | 'required';

/**
 * A keyless (Fulcio-style) signer: the certificate's OIDC issuer and subject (its SAN: email,
 * URI). Each of issuer and subject is given exactly or as a pattern; patterns are JavaScript
 * regular expressions matched against the whole value (implicitly anchored).
 */
export interface KeylessIdentity {
  issuer?: string;
  issuerPattern?: string;
  subject?: string;
  subjectPattern?: string;
}

export interface SignatureRuleSettings {
  mode: SignatureMode;
  /** PEM public key files (ECDSA P-256/P-384/P-521, Ed25519, RSA) whose signatures are accepted. */
  keys?: string[];
  /** Keyless identities accepted; their certificates must chain to `trustedRoot`. */
  identities?: KeylessIdentity[];
  /** A Sigstore trusted_root.json: CAs, transparency logs, CT logs, timestamp authorities. */
  trustedRoot?: string;
  /**
   * Require a transparency-log entry verified against the trusted root. Default false. For
   * key-based signatures without it, log entries are ignored (cosign's --insecure-ignore-tlog
   * offline use). Keyless signatures always need a verified time (a log entry's inclusion
   * promise or an RFC 3161 timestamp); log entries they carry are verified when the trusted
   * root lists a log.
   */
  requireTlog?: boolean;
  /** Require an RFC 3161 timestamp from an authority in the trusted root. Default false. */
  requireTimestamp?: boolean;
  /** Keyless only: require a certificate-transparency SCT in the certificate. Default true. */
  requireSct?: boolean;
  /**
   * How the simple-signing payload's `critical.identity.docker-reference` is checked:
   * `repository` (default) requires its repository path to equal the verified one when it is
   * set (the registry host may differ: mirrors and copies); `ignore` skips it as cosign does.
   */
  dockerReference?: 'repository' | 'ignore';
}

export interface SignatureRule extends SignatureRuleSettings {
  /** `registry[/path]`, matched on path-component boundaries; the longest match wins. */
  prefix: string;
}

export interface SignatureCacheSettings {
  /** Verified results kept in memory. Default 1000. */
  maxEntries?: number;
  /** How long a verified result is trusted before signatures are fetched again. Default 10 minutes. */
  ttlMs?: number;
}

export interface SignaturePolicy {
  default: SignatureRuleSettings;
  rules?: SignatureRule[];
  cache?: SignatureCacheSettings;
}

export interface MatchedRule {
  /** `default` or the rule's prefix, for messages and cache keys. */
  name: string;
  settings: SignatureRuleSettings;
}

/** Normalises a prefix or a `registry/repository` name for matching: no trailing slashes. */
export function trimSlashes(name: string): string {
  return name.replace(/\/+$/, '');
}

/** True when `prefix` equals `name` or is a leading run of its `/`-separated components. */
export function prefixMatches(prefix: string, name: string): boolean {
  const p = trimSlashes(prefix);
  return p === name || name.startsWith(`${p}/`);
}

/** The rule for `registry/repository`: the longest matching prefix, else the default rule. */
export function selectRule(policy: SignaturePolicy, registry: string, repository: string): MatchedRule {
  const name = `${registry}/${repository}`;
  let best: SignatureRule | undefined;
  for (const rule of policy.rules ?? []) {
    if (prefixMatches(rule.prefix, name) && (!best || trimSlashes(rule.prefix).length > trimSlashes(best.prefix).length)) {
      best = rule;
    }
  }
  return best ? { name: trimSlashes(best.prefix), settings: best } : { name: 'default', settings: policy.default };
}

/** Where a rule sits in the policy, for error messages that name the configuration key. */
export function ruleLocation(index: number | 'default'): string {
  return index === 'default' ? 'shim.signature.default' : `shim.signature.rules[${index}]`;
}

/**
 * Structural checks that need no files: returns one message per problem, each naming the
 * rule, so a configuration loader can report them all at once.
 */
export function policyProblems(policy: SignaturePolicy): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const check = (where: string, rule: SignatureRuleSettings): void => {
    if (rule.mode !== 'none' && rule.mode !== 'required') {
      problems.push(`${where}.mode: expected "none" or "required", got ${JSON.stringify(rule.mode)}`);
      return;
    }
    if (rule.mode === 'none') return;
    const keys = rule.keys ?? [];
    const identities = rule.identities ?? [];
    if (keys.length === 0 && identities.length === 0) {
      problems.push(`${where}: mode "required" needs at least one entry in keys or identities`);
    }
    if (identities.length > 0 && !rule.trustedRoot) {
      problems.push(`${where}.trusted_root: keyless identities need a trusted root file`);
    }
    if ((rule.requireTlog || rule.requireTimestamp) && !rule.trustedRoot) {
      problems.push(`${where}.trusted_root: require_tlog and require_timestamp need a trusted root file`);
    }
    identities.forEach((identity, i) => {
      const at = `${where}.identities[${i}]`;
      if (identity.issuer === undefined && identity.issuerPattern === undefined) {
        problems.push(`${at}: needs issuer or issuer_pattern`);
      }
      if (identity.subject === undefined && identity.subjectPattern === undefined) {
        problems.push(`${at}: needs subject or subject_pattern`);
      }
      for (const [field, pattern] of [['issuer_pattern', identity.issuerPattern], ['subject_pattern', identity.subjectPattern]] as const) {
        if (pattern === undefined) continue;
        try {
          new RegExp(pattern);
        } catch (error) {
          problems.push(`${at}.${field}: not a valid regular expression: ${(error as Error).message}`);
        }
      }
    });
  };
  check(ruleLocation('default'), policy.default);
  (policy.rules ?? []).forEach((rule, i) => {
    const where = ruleLocation(i);
    const prefix = trimSlashes(rule.prefix ?? '');
    if (prefix === '') {
      problems.push(`${where}.prefix: must name a registry or repository`);
    } else if (seen.has(prefix)) {
      problems.push(`${where}.prefix: "${prefix}" is already used by ${ruleLocation(seen.get(prefix) ?? 0)}`);
    } else {
      seen.set(prefix, i);
    }
    check(where, rule);
  });
  return problems;
}
