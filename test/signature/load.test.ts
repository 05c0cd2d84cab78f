import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignatureVerifier, loadPrivateKey, type SignatureSource } from '../../src/signature/index.js';

let dir: string;
// Policy loading reads files only; a source that is never called is enough here.
const unusedSource: SignatureSource = {
  getManifest: () => Promise.reject(new Error('not called')),
  getBlob: () => Promise.reject(new Error('not called')),
  listReferrers: () => Promise.reject(new Error('not called')),
};

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sig-load-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('loading a policy', () => {
  it('names the configuration key and the file of a missing or malformed key', () => {
    const missing = path.join(dir, 'missing.pub');
    expect(() => createSignatureVerifier({ default: { mode: 'none' }, rules: [{ prefix: 'r/x', mode: 'required', keys: [missing] }] }, unusedSource)).toThrow(
      `shim.signature.rules[0].keys[0]: cannot read public key file ${missing}`,
    );
    const garbage = path.join(dir, 'garbage.pub');
    writeFileSync(garbage, 'not a key');
    expect(() => createSignatureVerifier({ default: { mode: 'required', keys: [garbage] } }, unusedSource)).toThrow(
      `shim.signature.default.keys[0]: ${garbage} is not a PEM public key`,
    );
  });

  it('refuses key types cosign cannot produce', () => {
    const x448 = path.join(dir, 'x448.pub');
    writeFileSync(x448, generateKeyPairSync('x448').publicKey.export({ type: 'spki', format: 'pem' }));
    expect(() => createSignatureVerifier({ default: { mode: 'required', keys: [x448] } }, unusedSource)).toThrow(/holds a x448 key/);
  });

  it('names a trusted root that is not one', () => {
    const root = path.join(dir, 'root.json');
    writeFileSync(root, JSON.stringify({ mediaType: 'application/json' }));
    expect(() =>
      createSignatureVerifier({ default: { mode: 'required', trustedRoot: root, identities: [{ issuer: 'i', subject: 's' }] } }, unusedSource),
    ).toThrow(`shim.signature.default.trusted_root: trusted root ${root} has mediaType "application/json"`);
  });

  it('reports every structural problem at once', () => {
    expect(() => createSignatureVerifier({ default: { mode: 'required' }, rules: [{ prefix: '', mode: 'none' }] }, unusedSource)).toThrow(
      'invalid signature policy: shim.signature.default: mode "required" needs at least one entry in keys or identities; shim.signature.rules[0].prefix: must name a registry or repository',
    );
  });
});

describe('loading a signing key', () => {
  it('reads unencrypted and passphrase-protected PKCS#8 and SEC1 EC keys', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(loadPrivateKey(pair.privateKey.export({ type: 'pkcs8', format: 'pem' })).asymmetricKeyType).toBe('ec');
    expect(loadPrivateKey(pair.privateKey.export({ type: 'sec1', format: 'pem' })).asymmetricKeyType).toBe('ec');
    const encrypted = pair.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' });
    expect(loadPrivateKey(encrypted, 'pw').asymmetricKeyType).toBe('ec');
    expect(() => loadPrivateKey(encrypted, 'wrong')).toThrow();
  });

  it('explains that cosign-encrypted keys are not supported', () => {
    const cosignKey = '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n';
    expect(() => loadPrivateKey(cosignKey)).toThrow(/cosign-encrypted private keys are not supported/);
  });
});
