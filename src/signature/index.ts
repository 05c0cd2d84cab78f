export type {
  KeylessIdentity,
  SignatureCacheSettings,
  SignatureMode,
  SignaturePolicy,
  SignatureRule,
  SignatureRuleSettings,
} from './policy.js';
export { policyProblems, selectRule } from './policy.js';
export { SignatureError, type Rejection, type RejectionReason } from './errors.js';
export type { FetchedManifest, OciDescriptor, PutManifestResult, SignaturePublisher, SignatureSource } from './source.js';
export { createSignatureVerifier, type SignatureObserver, type SignatureVerifier, type VerificationResult, type VerifyRequest } from './verifier.js';
export type { SignerInfo } from './verify-entity.js';
export { attachBundleReferrer, signArtifact, loadPrivateKey, type AttachBundleOptions, type SignArtifactOptions, type SignArtifactResult } from './sign.js';
export { cosignSignatureTag } from './cosign-tag.js';
export { SIGSTORE_BUNDLE_ARTIFACT_TYPE } from './referrers.js';
export { registrySignatureSource } from './registry-source.js';
