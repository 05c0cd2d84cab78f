import { describe, expect, it } from 'vitest';
import { defaultSettings } from '../../src/config/index.js';
import { policyNeedsSignatures, signatureCheckFor } from '../../src/injector/signature-check.js';
import { silentLogger } from '../../src/log/logger.js';
import { createSignatureVerifier, type SignaturePolicy, type SignatureSource } from '../../src/signature/index.js';
import type { ArtifactClient } from '../../src/artifact/index.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;
const subjects = [
  { reference: 'r.example/team/p:v1', registry: 'r.example', repository: 'team/p', digest: DIGEST },
  { reference: 'other.example/p:v1', registry: 'other.example', repository: 'p', digest: DIGEST },
];
const noSource = new Proxy({}, { get: () => () => Promise.reject(new Error('the policy asks for no signature: nothing may be fetched')) }) as SignatureSource;

describe('signatureCheckFor', () => {
  it('answers a policy without signatures exactly as the verifier does, rule by rule', async () => {
    const policy: SignaturePolicy = { default: { mode: 'none' }, rules: [{ prefix: 'r.example/team', mode: 'none' }] };
    const settings = { ...defaultSettings(), signature: policy };
    const check = signatureCheckFor(settings, { registry: {} } as ArtifactClient, silentLogger());
    const verifier = createSignatureVerifier(policy, noSource, silentLogger());
    for (const subject of subjects) expect(await check.verifyArtifact(subject)).toEqual(await verifier.verifyArtifact(subject));
    expect(await check.verifyArtifact(subjects[0]!)).toEqual({ verified: false, rule: 'r.example/team', cached: false });
  });

  it('tells a policy that asks for a signature anywhere from one that asks nowhere', () => {
    expect(policyNeedsSignatures({ default: { mode: 'none' }, rules: [] })).toBe(false);
    expect(policyNeedsSignatures({ default: { mode: 'required', keys: ['/k.pub'] } })).toBe(true);
    expect(policyNeedsSignatures({ default: { mode: 'none' }, rules: [{ prefix: 'r.example', mode: 'required', keys: ['/k.pub'] }] })).toBe(true);
  });
});
