import type { ArtifactClient } from '../artifact/index.js';
import type { ShimSettings } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { selectRule, type SignaturePolicy } from '../signature/policy.js';
import type { SignatureObserver } from '../signature/verifier.js';
import type { SignatureCheck } from './prepare-profile.js';

type SignatureModule = typeof import('../signature/index.js');

let loaded: SignatureModule | undefined;

/**
 * The signature verification code (sigstore and its protobuf types: a large part of the
 * shim's modules) loaded on demand. `serve` awaits it at start-up only when the policy asks
 * for signatures, so a node that needs none never loads it and one that does finds its key
 * and trust root problems before serving.
 */
export async function loadSignatureModule(): Promise<SignatureModule> {
  loaded ??= await import('../signature/index.js');
  return loaded;
}

/** Whether any rule of the policy asks for a signature. */
export function policyNeedsSignatures(policy: SignaturePolicy): boolean {
  return policy.default.mode !== 'none' || (policy.rules ?? []).some((rule) => rule.mode !== 'none');
}

/**
 * The verifier for the settings' policy. A policy that asks for no signature anywhere answers
 * as the verifier would (not verified, by the matching rule) without loading its code; else the
 * verifier is built now when its module is loaded, or on the first verification.
 */
export function signatureCheckFor(settings: ShimSettings, artifacts: ArtifactClient, logger: Logger, observer?: SignatureObserver): SignatureCheck {
  if (!policyNeedsSignatures(settings.signature)) {
    return {
      verifyArtifact: async ({ registry, repository }) => ({ verified: false, rule: selectRule(settings.signature, registry, repository).name, cached: false }),
    };
  }
  const create = (module: SignatureModule) =>
    module.createSignatureVerifier(settings.signature, module.registrySignatureSource(artifacts.registry), logger, observer);
  if (loaded) return create(loaded);
  let verifier: Promise<SignatureCheck> | undefined;
  return {
    async verifyArtifact(subject) {
      verifier ??= loadSignatureModule().then(create);
      return (await verifier).verifyArtifact(subject);
    },
  };
}
