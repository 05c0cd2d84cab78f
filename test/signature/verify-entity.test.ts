import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosignSignatureToEntity, type CosignSignature } from '../../src/signature/entity.js';
import { CandidateRejected } from '../../src/signature/errors.js';
import type { SignatureRuleSettings } from '../../src/signature/policy.js';
import { compilePolicy } from '../../src/signature/rule.js';
import { buildSimpleSigningPayload } from '../../src/signature/simple-signing.js';
import { verifySignedEntity } from '../../src/signature/verify-entity.js';
import { TestSigstore } from '../../testbed/signature/pki.js';

const ISSUER = 'https://token.actions.sigstore.test';
const ALICE = 'alice@example.com';

let dir: string;
let pki: TestSigstore;
let trustedRoot: string;
const payload = buildSimpleSigningPayload('127.0.0.1:5000/profiles/web', `sha256:${'c'.repeat(64)}`);

function writeKey(name: string, key: KeyObject): string {
  const file = path.join(dir, name);
  writeFileSync(file, key.export({ type: 'spki', format: 'pem' }));
  return file;
}

function verify(sig: CosignSignature, rule: SignatureRuleSettings): string {
  const compiled = compilePolicy({ default: rule }).default;
  try {
    return verifySignedEntity(cosignSignatureToEntity(sig), compiled).name;
  } catch (error) {
    if (error instanceof CandidateRejected) return `rejected ${error.reason}: ${error.message}`;
    throw error;
  }
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sig-entity-'));
  pki = new TestSigstore(dir);
  trustedRoot = pki.writeTrustedRoot();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('key-based signatures', () => {
  it('accepts ECDSA P-256, P-384, Ed25519 and RSA keys and rejects others', () => {
    const pairs: [string, { privateKey: KeyObject; publicKey: KeyObject }][] = [
      ['p256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
      ['p384', generateKeyPairSync('ec', { namedCurve: 'P-384' })],
      ['ed25519', generateKeyPairSync('ed25519')],
      ['rsa', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ];
    for (const [name, pair] of pairs) {
      const keyFile = writeKey(`${name}.pub`, pair.publicKey);
      const signature = sign(name === 'ed25519' ? null : 'sha256', payload, pair.privateKey);
      expect(verify({ payload, signature }, { mode: 'required', keys: [keyFile] })).toBe(keyFile);
    }
    const stranger = writeKey('stranger.pub', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const signature = sign('sha256', payload, pairs[0]![1].privateKey);
    expect(verify({ payload, signature }, { mode: 'required', keys: [stranger] })).toMatch(/^rejected wrong-key: signature does not verify with any configured key/);
  });

  it('ignores log entries unless the rule requires them, then verifies them', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = writeKey('tlog.pub', pair.publicKey);
    const signature = sign('sha256', payload, pair.privateKey);
    const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verify({ payload, signature }, { mode: 'required', keys: [keyFile], trustedRoot, requireTlog: true })).toMatch(/^rejected tlog-missing/);
    const rekorBundle = pki.rekorBundle(payload, signature, pem);
    expect(verify({ payload, signature, rekorBundle }, { mode: 'required', keys: [keyFile], trustedRoot, requireTlog: true })).toBe(keyFile);
    // A log entry for other content does not count.
    const otherEntry = pki.rekorBundle(Buffer.from('other'), signature, pem);
    expect(verify({ payload, signature, rekorBundle: otherEntry }, { mode: 'required', keys: [keyFile], trustedRoot, requireTlog: true })).toMatch(/^rejected tlog-invalid/);
    // Without the requirement, the same bad entry is ignored as cosign --insecure-ignore-tlog does.
    expect(verify({ payload, signature, rekorBundle: otherEntry }, { mode: 'required', keys: [keyFile] })).toBe(keyFile);
  });

  it('requires an RFC 3161 timestamp when asked', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = writeKey('tsa.pub', pair.publicKey);
    const signature = sign('sha256', payload, pair.privateKey);
    const rule: SignatureRuleSettings = { mode: 'required', keys: [keyFile], trustedRoot, requireTimestamp: true };
    expect(verify({ payload, signature }, rule)).toMatch(/^rejected timestamp-missing/);
    expect(verify({ payload, signature, rfc3161Timestamp: pki.timestampAnnotation(signature) }, rule)).toBe(keyFile);
    expect(verify({ payload, signature, rfc3161Timestamp: pki.timestampAnnotation(Buffer.from('another signature')) }, rule)).toMatch(
      /^rejected timestamp-invalid/,
    );
  });
});

describe('keyless signatures', () => {
  const keyless = (subject: string, extra: Partial<SignatureRuleSettings> = {}): SignatureRuleSettings => ({
    mode: 'required',
    trustedRoot,
    identities: [{ issuer: ISSUER, subject }],
    ...extra,
  });

  function signKeyless(options: { san?: string; issuer?: string; sct?: boolean } = {}): CosignSignature & { certPem: string } {
    const leaf = pki.issueLeaf({ san: options.san ?? `email:${ALICE}`, issuer: options.issuer ?? ISSUER, sct: options.sct });
    const signature = sign('sha256', payload, leaf.privateKey);
    return { payload, signature, certificatePem: leaf.pem, certPem: leaf.pem };
  }

  it('accepts the right identity with a Rekor inclusion promise and an SCT', () => {
    const sig = signKeyless();
    sig.rekorBundle = pki.rekorBundle(payload, sig.signature, sig.certPem);
    expect(verify(sig, keyless(ALICE))).toBe(`${ISSUER} ${ALICE}`);
  });

  it('accepts a timestamp authority instead of the log', () => {
    const sig = signKeyless();
    sig.rfc3161Timestamp = pki.timestampAnnotation(sig.signature);
    expect(verify(sig, keyless(ALICE))).toBe(`${ISSUER} ${ALICE}`);
  });

  it('rejects another identity, by subject and by issuer, exact or by pattern', () => {
    const sig = signKeyless();
    sig.rekorBundle = pki.rekorBundle(payload, sig.signature, sig.certPem);
    expect(verify(sig, keyless('bob@example.com'))).toMatch(/^rejected identity-mismatch: certificate issuer "https:\/\/token.actions.sigstore.test" subject "alice@example.com"/);
    expect(verify(sig, { ...keyless(ALICE), identities: [{ issuer: 'https://accounts.example', subject: ALICE }] })).toMatch(/^rejected identity-mismatch/);
    expect(verify(sig, { ...keyless(ALICE), identities: [{ issuer: ISSUER, subjectPattern: '.*@example\\.com' }] })).toBe(`${ISSUER} ${ALICE}`);
    // Patterns are anchored: a prefix match is not enough.
    expect(verify(sig, { ...keyless(ALICE), identities: [{ issuer: ISSUER, subjectPattern: 'alice' }] })).toMatch(/^rejected identity-mismatch/);
  });

  it('reads the legacy v1 issuer extension and URI subjects', () => {
    const uri = 'https://github.com/example/profiles/.github/workflows/release.yml@refs/heads/main';
    const leaf = pki.issueLeaf({ san: `URI:${uri}`, issuer: ISSUER, issuerExtension: 'v1' });
    const signature = sign('sha256', payload, leaf.privateKey);
    const sig = { payload, signature, certificatePem: leaf.pem, rekorBundle: pki.rekorBundle(payload, signature, leaf.pem) };
    expect(verify(sig, keyless(uri))).toBe(`${ISSUER} ${uri}`);
  });

  it('needs a verified time: no log entry and no timestamp is rejected', () => {
    expect(verify(signKeyless(), keyless(ALICE))).toMatch(/^rejected timestamp-missing/);
  });

  it('rejects a certificate that was not valid when the log says the signature was made', () => {
    const sig = signKeyless();
    const twoDaysAgo = Math.floor(Date.now() / 1000) - 2 * 86400;
    sig.rekorBundle = pki.rekorBundle(payload, sig.signature, sig.certPem, twoDaysAgo);
    expect(verify(sig, keyless(ALICE))).toMatch(/^rejected untrusted-certificate: .*not valid or expired/);
  });

  it('rejects a certificate from another CA', () => {
    const otherDir = mkdtempSync(path.join(os.tmpdir(), 'sig-other-'));
    try {
      const other = new TestSigstore(otherDir);
      const leaf = other.issueLeaf({ san: `email:${ALICE}`, issuer: ISSUER });
      const signature = sign('sha256', payload, leaf.privateKey);
      const sig = { payload, signature, certificatePem: leaf.pem, rfc3161Timestamp: pki.timestampAnnotation(signature) };
      expect(verify(sig, keyless(ALICE))).toMatch(/^rejected untrusted-certificate/);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('requires an SCT by default and accepts its absence only when configured', () => {
    const sig = signKeyless({ sct: false });
    sig.rekorBundle = pki.rekorBundle(payload, sig.signature, sig.certPem);
    expect(verify(sig, keyless(ALICE))).toMatch(/^rejected untrusted-certificate: expected 1 SCTs, got 0/);
    expect(verify(sig, keyless(ALICE, { requireSct: false }))).toBe(`${ISSUER} ${ALICE}`);
  });

  it('rejects an SCT from a CT log the trusted root does not list', () => {
    const sig = signKeyless();
    sig.rekorBundle = pki.rekorBundle(payload, sig.signature, sig.certPem);
    const withoutCtlog = pki.writeTrustedRoot({ ctlog: false, file: 'no-ctlog.json' });
    expect(verify(sig, keyless(ALICE, { trustedRoot: withoutCtlog }))).toMatch(/^rejected untrusted-certificate: SCT verification failed/);
  });

  it('rejects an inclusion promise signed by a log the trusted root does not list', () => {
    const sig = signKeyless();
    sig.rekorBundle = pki.rekorBundle(payload, sig.signature, sig.certPem);
    const tsaOnly = pki.writeTrustedRoot({ tlog: false, file: 'no-tlog.json' });
    // The entry is then no time source: with no timestamp either, the certificate cannot be checked.
    expect(verify(sig, keyless(ALICE, { trustedRoot: tsaOnly }))).toMatch(/^rejected timestamp-missing/);
    // Same log id, another key: a forged promise.
    const otherLog = pki.writeTrustedRoot({ tlogKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, file: 'forged-log.json' });
    expect(verify(sig, keyless(ALICE, { trustedRoot: otherLog }))).toMatch(/^rejected tlog-invalid: inclusion promise could not be verified/);
  });

  it('rejects a payload signed by another key than the certificate', () => {
    const sig = signKeyless();
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    sig.signature = sign('sha256', payload, stranger.privateKey);
    sig.rfc3161Timestamp = pki.timestampAnnotation(sig.signature);
    expect(verify(sig, keyless(ALICE))).toMatch(/^rejected signature-mismatch/);
  });

  it('requires a log entry when the rule says so, even with a timestamp', () => {
    const sig = signKeyless();
    sig.rfc3161Timestamp = pki.timestampAnnotation(sig.signature);
    expect(verify(sig, keyless(ALICE, { requireTlog: true }))).toMatch(/^rejected tlog-missing/);
  });
});
