import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/artifact/index.js';
import { pushProfile } from '../../src/artifact/push.js';
import {
  createSignatureVerifier,
  registrySignatureSource,
  SignatureError,
  signArtifact,
  type SignaturePolicy,
  type SignaturePublisher,
} from '../../src/signature/index.js';
import { buildSimpleSigningPayload } from '../../src/signature/simple-signing.js';
import { startCountingProxy, startRegistry, type CountingProxy, type TestRegistry } from '../support/registry.js';
import { TestSigstore } from './support/pki.js';

const ISSUER = 'https://token.actions.sigstore.test';
const ALICE = 'alice@example.com';

let registry: TestRegistry;
let proxy: CountingProxy;
let client: RegistryClient;
let source: SignaturePublisher;
let dir: string;
let pki: TestSigstore;
let trustedRoot: string;
const publisher = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let publisherPub: string;

function pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function profile(name: string): Buffer {
  return Buffer.from(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: [name], action: 'SCMP_ACT_ALLOW' }] }));
}

async function push(repository: string, tag: string, body: Buffer, host = registry.host): Promise<string> {
  return (await pushProfile(client, { reference: `${host}/${repository}:${tag}`, profile: body, created: null })).digest;
}

/** A cosign `.sig` manifest written by hand, for signatures signArtifact would never make. */
async function attachCosignLayer(repository: string, digest: string, payload: Buffer, annotations: Record<string, string>): Promise<void> {
  const blob = await source.putBlob(registry.host, repository, payload);
  const config = await source.putBlob(registry.host, repository, Buffer.from('{}'));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: blob.digest, size: blob.size, annotations }],
  };
  const tag = `${digest.replace(':', '-')}.sig`;
  await source.putManifest(registry.host, repository, tag, Buffer.from(JSON.stringify(manifest)), manifest.mediaType);
}

function keyPolicy(extra: Partial<SignaturePolicy> = {}): SignaturePolicy {
  return {
    default: { mode: 'none' },
    rules: [{ prefix: `${registry.host}/signed`, mode: 'required', keys: [publisherPub] }],
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<SignatureError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SignatureError) return error;
    throw error;
  }
  throw new Error('verification unexpectedly succeeded');
}

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startCountingProxy(registry.host);
  client = new RegistryClient({ registries: { [registry.host]: { insecure: true }, [proxy.host]: { insecure: true } }, retry: { attempts: 1 } });
  source = registrySignatureSource(client);
  dir = mkdtempSync(path.join(os.tmpdir(), 'sig-registry-'));
  pki = new TestSigstore(dir);
  trustedRoot = pki.writeTrustedRoot();
  publisherPub = path.join(dir, 'publisher.pub');
  writeFileSync(publisherPub, publisher.publicKey.export({ type: 'spki', format: 'pem' }));
});

afterAll(async () => {
  client?.close();
  await proxy?.stop();
  await registry?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('key-based signatures on a real registry', () => {
  it('accepts a profile signed with the publisher key in cosign tag format', async () => {
    const digest = await push('signed/web', 'v1', profile('read'));
    const signed = await signArtifact({ client: source, registry: registry.host, repository: 'signed/web', digest, privateKeyPem: pem(publisher.privateKey), bundle: false });
    expect(signed.signatureTag).toBe(`${digest.replace(':', '-')}.sig`);
    const verifier = createSignatureVerifier(keyPolicy(), source);
    const result = await verifier.verifyArtifact({ reference: `${registry.host}/signed/web:v1`, registry: registry.host, repository: 'signed/web', digest });
    expect(result).toMatchObject({ verified: true, rule: `${registry.host}/signed`, signer: { kind: 'key', name: publisherPub }, cached: false });
    expect(result.foundIn).toBe(`cosign tag ${signed.signatureTag} layer 0`);
  });

  it('accepts a sigstore bundle attached as a referrer through the referrers tag schema', async () => {
    const digest = await push('signed/bundle', 'v1', profile('write'));
    const signed = await signArtifact({ client: source, registry: registry.host, repository: 'signed/bundle', digest, privateKeyPem: pem(publisher.privateKey), cosignTag: false });
    // Registry 2.8 has no referrers API: the index under the digest's tag is what lists the bundle.
    expect(signed.referrersTagUpdated).toBe(true);
    const index = await source.getManifest(registry.host, 'signed/bundle', digest.replace(':', '-'));
    expect(JSON.parse(index!.body.toString())).toMatchObject({
      manifests: [{ digest: signed.bundleManifestDigest, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }],
    });
    const verifier = createSignatureVerifier(keyPolicy(), source);
    const result = await verifier.verifyArtifact({ reference: 'bundle', registry: registry.host, repository: 'signed/bundle', digest });
    expect(result).toMatchObject({ verified: true, signer: { kind: 'key', name: publisherPub }, foundIn: `referrer ${signed.bundleManifestDigest}` });
  });

  it('rejects an unsigned profile, naming reference, digest and rule', async () => {
    const digest = await push('signed/unsigned', 'v1', profile('open'));
    const verifier = createSignatureVerifier(keyPolicy(), source);
    const error = await rejection(verifier.verifyArtifact({ reference: `${registry.host}/signed/unsigned:v1`, registry: registry.host, repository: 'signed/unsigned', digest }));
    expect(error.reasons).toEqual(['no-signature']);
    expect(error.message).toMatch(/^SignatureValidationFailed: /);
    expect(error.message).toContain(`${registry.host}/signed/unsigned:v1`);
    expect(error.message).toContain(digest);
    expect(error.message).toContain(`rule "${registry.host}/signed"`);
  });

  it('rejects a profile signed by another key, in both formats', async () => {
    const digest = await push('signed/stranger', 'v1', profile('close'));
    await signArtifact({ client: source, registry: registry.host, repository: 'signed/stranger', digest, privateKeyPem: pem(stranger.privateKey) });
    const verifier = createSignatureVerifier(keyPolicy(), source);
    const error = await rejection(verifier.verifyArtifact({ reference: 'stranger', registry: registry.host, repository: 'signed/stranger', digest }));
    expect(error.reasons).toEqual(['wrong-key']);
    expect(error.rejections.map((r) => r.where)).toEqual([expect.stringMatching(/^cosign tag /), expect.stringMatching(/^referrer sha256:/)]);
  });

  it('rejects the artifact re-pushed under the same tag after signing, and still accepts the signed digest', async () => {
    const signedDigest = await push('signed/replaced', 'v1', profile('stat'));
    await signArtifact({ client: source, registry: registry.host, repository: 'signed/replaced', digest: signedDigest, privateKeyPem: pem(publisher.privateKey) });
    const replacedDigest = await push('signed/replaced', 'v1', profile('ptrace'));
    expect(replacedDigest).not.toBe(signedDigest);
    const resolved = await source.getManifest(registry.host, 'signed/replaced', 'v1');
    expect(resolved?.digest).toBe(replacedDigest);
    const verifier = createSignatureVerifier(keyPolicy(), source);
    const error = await rejection(verifier.verifyArtifact({ reference: 'replaced:v1', registry: registry.host, repository: 'signed/replaced', digest: replacedDigest }));
    expect(error.reasons).toEqual(['no-signature']);
    expect(error.message).toContain(replacedDigest);
    await expect(verifier.verifyArtifact({ reference: 'replaced', registry: registry.host, repository: 'signed/replaced', digest: signedDigest })).resolves.toMatchObject({ verified: true });
  });

  it('rejects a genuine signature whose payload names another digest', async () => {
    const target = await push('signed/moved', 'v1', profile('kill'));
    const other = await push('signed/moved', 'v2', profile('fork'));
    const payload = buildSimpleSigningPayload(`${registry.host}/signed/moved`, other);
    const signature = sign('sha256', payload, publisher.privateKey).toString('base64');
    await attachCosignLayer('signed/moved', target, payload, { 'dev.cosignproject.cosign/signature': signature });
    const verifier = createSignatureVerifier(keyPolicy(), source);
    const error = await rejection(verifier.verifyArtifact({ reference: 'moved', registry: registry.host, repository: 'signed/moved', digest: target }));
    expect(error.reasons).toEqual(['payload-digest-mismatch']);
    expect(error.message).toContain(`docker-manifest-digest is "${other}"`);
  });

  it('rejects a signature for the same digest made for another repository', async () => {
    const digest = await push('signed/copied', 'v1', profile('kill'));
    const payload = buildSimpleSigningPayload(`${registry.host}/elsewhere/thing`, digest);
    const signature = sign('sha256', payload, publisher.privateKey).toString('base64');
    await attachCosignLayer('signed/copied', digest, payload, { 'dev.cosignproject.cosign/signature': signature });
    const request = { reference: 'copied', registry: registry.host, repository: 'signed/copied', digest };
    const error = await rejection(createSignatureVerifier(keyPolicy(), source).verifyArtifact(request));
    expect(error.reasons).toEqual(['docker-reference-mismatch']);
    const lenient = keyPolicy({ rules: [{ prefix: `${registry.host}/signed`, mode: 'required', keys: [publisherPub], dockerReference: 'ignore' }] });
    await expect(createSignatureVerifier(lenient, source).verifyArtifact(request)).resolves.toMatchObject({ verified: true });
  });

  it('does not check repositories whose rule has mode "none"', async () => {
    const digest = await push('open/web', 'v1', profile('read'));
    const verifier = createSignatureVerifier(keyPolicy(), source);
    await expect(verifier.verifyArtifact({ reference: 'open', registry: registry.host, repository: 'open/web', digest })).resolves.toEqual({
      verified: false,
      rule: 'default',
      cached: false,
    });
  });

  it('answers a repeated verification from the cache without registry traffic', async () => {
    const digest = await push('signed/cached', 'v1', profile('read'), proxy.host);
    await signArtifact({ client: source, registry: proxy.host, repository: 'signed/cached', digest, privateKeyPem: pem(publisher.privateKey) });
    const policy: SignaturePolicy = { default: { mode: 'required', keys: [publisherPub] } };
    const verifier = createSignatureVerifier(policy, source);
    const request = { reference: 'cached', registry: proxy.host, repository: 'signed/cached', digest };
    proxy.reset();
    await expect(verifier.verifyArtifact(request)).resolves.toMatchObject({ verified: true, cached: false });
    const hex = digest.slice('sha256:'.length);
    expect(proxy.requests).toContain(`GET /v2/signed/cached/manifests/sha256-${hex}.sig`);
    proxy.reset();
    await expect(verifier.verifyArtifact(request)).resolves.toMatchObject({ verified: true, cached: true });
    expect(proxy.requests).toEqual([]);
  });

  it('asks a registry without the referrers API for it once, then goes straight to the referrers tag', async () => {
    const policy: SignaturePolicy = { default: { mode: 'required', keys: [publisherPub] } };
    for (const tag of ['a', 'b']) {
      const digest = await push('signed/once', tag, profile(`once-${tag}`), proxy.host);
      await signArtifact({ client: source, registry: proxy.host, repository: 'signed/once', digest, privateKeyPem: pem(publisher.privateKey) });
      proxy.reset();
      const request = { reference: tag, registry: proxy.host, repository: 'signed/once', digest };
      await expect(createSignatureVerifier(policy, source).verifyArtifact(request)).resolves.toMatchObject({ verified: true });
      const hex = digest.slice('sha256:'.length);
      const manifests = proxy.requests.filter((r) => !r.includes('/blobs/'));
      // The API is asked at most on the first verification (earlier tests may have asked it already).
      const apiCalls = manifests.filter((r) => r.includes('/referrers/'));
      expect(apiCalls.length).toBeLessThanOrEqual(tag === 'a' ? 1 : 0);
      // Both discoveries start together; the cosign tag's signature is accepted.
      expect(manifests.filter((r) => !r.includes('/referrers/')).sort()).toEqual(
        [`GET /v2/signed/once/manifests/sha256-${hex}`, `GET /v2/signed/once/manifests/sha256-${hex}.sig`].sort(),
      );
    }
  });
});

describe('keyless signatures on a real registry', () => {
  async function signKeyless(repository: string, digest: string, san: string): Promise<void> {
    const leaf = pki.issueLeaf({ san, issuer: ISSUER });
    const payload = buildSimpleSigningPayload(`${registry.host}/${repository}`, digest);
    const signature = sign('sha256', payload, leaf.privateKey);
    await attachCosignLayer(repository, digest, payload, {
      'dev.cosignproject.cosign/signature': signature.toString('base64'),
      'dev.sigstore.cosign/certificate': leaf.pem,
      'dev.sigstore.cosign/chain': pki.caCert.root.toDER().toString('base64'),
      'dev.sigstore.cosign/bundle': pki.rekorBundle(payload, signature, leaf.pem),
    });
  }

  function keylessPolicy(subject: string): SignaturePolicy {
    return {
      default: { mode: 'none' },
      rules: [{ prefix: `${registry.host}/keyless`, mode: 'required', trustedRoot, identities: [{ issuer: ISSUER, subject }] }],
    };
  }

  it('accepts the expected identity', async () => {
    const digest = await push('keyless/web', 'v1', profile('read'));
    await signKeyless('keyless/web', digest, `email:${ALICE}`);
    const result = await createSignatureVerifier(keylessPolicy(ALICE), source).verifyArtifact({ reference: 'kl', registry: registry.host, repository: 'keyless/web', digest });
    expect(result).toMatchObject({ verified: true, signer: { kind: 'keyless', name: `${ISSUER} ${ALICE}` } });
  });

  it('rejects another identity', async () => {
    const digest = await push('keyless/mallory', 'v1', profile('read'));
    await signKeyless('keyless/mallory', digest, 'email:mallory@example.com');
    const error = await rejection(
      createSignatureVerifier(keylessPolicy(ALICE), source).verifyArtifact({ reference: 'kl', registry: registry.host, repository: 'keyless/mallory', digest }),
    );
    expect(error.reasons).toEqual(['identity-mismatch']);
    expect(error.message).toContain('mallory@example.com');
  });
});
