import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignatureVerifier, SignatureError, signArtifact, type SignaturePolicy } from '../../src/signature/index.js';
import { buildSimpleSigningPayload } from '../../src/signature/simple-signing.js';
import { privateKeyPem, profileAllowing, startSignatureTestbed, type ProxiedSignatureTestbed } from '../../testbed/signature/testbed.js';

const ISSUER = 'https://token.actions.sigstore.test';
const ALICE = 'alice@example.com';

let bed: ProxiedSignatureTestbed;
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** A cosign `.sig` manifest written by hand, for signatures signArtifact would never make. */
async function attachCosignLayer(repository: string, digest: string, payload: Buffer, annotations: Record<string, string>): Promise<void> {
  const blob = await bed.source.putBlob(bed.registry.host, repository, payload);
  const config = await bed.source.putBlob(bed.registry.host, repository, Buffer.from('{}'));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: blob.digest, size: blob.size, annotations }],
  };
  const tag = `${digest.replace(':', '-')}.sig`;
  await bed.source.putManifest(bed.registry.host, repository, tag, Buffer.from(JSON.stringify(manifest)), manifest.mediaType);
}

function keyPolicy(extra: Partial<SignaturePolicy> = {}): SignaturePolicy {
  return {
    default: { mode: 'none' },
    rules: [{ prefix: `${bed.registry.host}/signed`, mode: 'required', keys: [bed.publisherPub] }],
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
  bed = await startSignatureTestbed({ tempPrefix: 'sig-registry-', countingProxy: true, retry: { attempts: 1 } });
});

afterAll(async () => {
  await bed?.stop();
});

describe('key-based signatures on a real registry', () => {
  it('accepts a profile signed with the publisher key in cosign tag format', async () => {
    const digest = await bed.push('signed/web', 'v1', profileAllowing('read'));
    const signed = await signArtifact({ client: bed.source, registry: bed.registry.host, repository: 'signed/web', digest, privateKeyPem: privateKeyPem(bed.publisher.privateKey), bundle: false });
    expect(signed.signatureTag).toBe(`${digest.replace(':', '-')}.sig`);
    const verifier = createSignatureVerifier(keyPolicy(), bed.source);
    const result = await verifier.verifyArtifact({ reference: `${bed.registry.host}/signed/web:v1`, registry: bed.registry.host, repository: 'signed/web', digest });
    expect(result).toMatchObject({ verified: true, rule: `${bed.registry.host}/signed`, signer: { kind: 'key', name: bed.publisherPub }, cached: false });
    expect(result.foundIn).toBe(`cosign tag ${signed.signatureTag} layer 0`);
  });

  it('accepts a sigstore bundle attached as a referrer through the referrers tag schema', async () => {
    const digest = await bed.push('signed/bundle', 'v1', profileAllowing('write'));
    const signed = await signArtifact({ client: bed.source, registry: bed.registry.host, repository: 'signed/bundle', digest, privateKeyPem: privateKeyPem(bed.publisher.privateKey), cosignTag: false });
    // Registry 2.8 has no referrers API: the index under the digest's tag is what lists the bundle.
    expect(signed.referrersTagUpdated).toBe(true);
    const index = await bed.source.getManifest(bed.registry.host, 'signed/bundle', digest.replace(':', '-'));
    expect(JSON.parse(index!.body.toString())).toMatchObject({
      manifests: [{ digest: signed.bundleManifestDigest, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }],
    });
    const verifier = createSignatureVerifier(keyPolicy(), bed.source);
    const result = await verifier.verifyArtifact({ reference: 'bundle', registry: bed.registry.host, repository: 'signed/bundle', digest });
    expect(result).toMatchObject({ verified: true, signer: { kind: 'key', name: bed.publisherPub }, foundIn: `referrer ${signed.bundleManifestDigest}` });
  });

  it('rejects an unsigned profile, naming reference, digest and rule', async () => {
    const digest = await bed.push('signed/unsigned', 'v1', profileAllowing('open'));
    const verifier = createSignatureVerifier(keyPolicy(), bed.source);
    const error = await rejection(verifier.verifyArtifact({ reference: `${bed.registry.host}/signed/unsigned:v1`, registry: bed.registry.host, repository: 'signed/unsigned', digest }));
    expect(error.reasons).toEqual(['no-signature']);
    expect(error.message).toMatch(/^SignatureValidationFailed: /);
    expect(error.message).toContain(`${bed.registry.host}/signed/unsigned:v1`);
    expect(error.message).toContain(digest);
    expect(error.message).toContain(`rule "${bed.registry.host}/signed"`);
  });

  it('rejects a profile signed by another key, in both formats', async () => {
    const digest = await bed.push('signed/stranger', 'v1', profileAllowing('close'));
    await signArtifact({ client: bed.source, registry: bed.registry.host, repository: 'signed/stranger', digest, privateKeyPem: privateKeyPem(stranger.privateKey) });
    const verifier = createSignatureVerifier(keyPolicy(), bed.source);
    const error = await rejection(verifier.verifyArtifact({ reference: 'stranger', registry: bed.registry.host, repository: 'signed/stranger', digest }));
    expect(error.reasons).toEqual(['wrong-key']);
    expect(error.rejections.map((r) => r.where)).toEqual([expect.stringMatching(/^cosign tag /), expect.stringMatching(/^referrer sha256:/)]);
  });

  it('rejects the artifact re-pushed under the same tag after signing, and still accepts the signed digest', async () => {
    const signedDigest = await bed.push('signed/replaced', 'v1', profileAllowing('stat'));
    await signArtifact({ client: bed.source, registry: bed.registry.host, repository: 'signed/replaced', digest: signedDigest, privateKeyPem: privateKeyPem(bed.publisher.privateKey) });
    const replacedDigest = await bed.push('signed/replaced', 'v1', profileAllowing('ptrace'));
    expect(replacedDigest).not.toBe(signedDigest);
    const resolved = await bed.source.getManifest(bed.registry.host, 'signed/replaced', 'v1');
    expect(resolved?.digest).toBe(replacedDigest);
    const verifier = createSignatureVerifier(keyPolicy(), bed.source);
    const error = await rejection(verifier.verifyArtifact({ reference: 'replaced:v1', registry: bed.registry.host, repository: 'signed/replaced', digest: replacedDigest }));
    expect(error.reasons).toEqual(['no-signature']);
    expect(error.message).toContain(replacedDigest);
    await expect(verifier.verifyArtifact({ reference: 'replaced', registry: bed.registry.host, repository: 'signed/replaced', digest: signedDigest })).resolves.toMatchObject({ verified: true });
  });

  it('rejects a genuine signature whose payload names another digest', async () => {
    const target = await bed.push('signed/moved', 'v1', profileAllowing('kill'));
    const other = await bed.push('signed/moved', 'v2', profileAllowing('fork'));
    const payload = buildSimpleSigningPayload(`${bed.registry.host}/signed/moved`, other);
    const signature = sign('sha256', payload, bed.publisher.privateKey).toString('base64');
    await attachCosignLayer('signed/moved', target, payload, { 'dev.cosignproject.cosign/signature': signature });
    const verifier = createSignatureVerifier(keyPolicy(), bed.source);
    const error = await rejection(verifier.verifyArtifact({ reference: 'moved', registry: bed.registry.host, repository: 'signed/moved', digest: target }));
    expect(error.reasons).toEqual(['payload-digest-mismatch']);
    expect(error.message).toContain(`docker-manifest-digest is "${other}"`);
  });

  it('rejects a signature for the same digest made for another repository', async () => {
    const digest = await bed.push('signed/copied', 'v1', profileAllowing('kill'));
    const payload = buildSimpleSigningPayload(`${bed.registry.host}/elsewhere/thing`, digest);
    const signature = sign('sha256', payload, bed.publisher.privateKey).toString('base64');
    await attachCosignLayer('signed/copied', digest, payload, { 'dev.cosignproject.cosign/signature': signature });
    const request = { reference: 'copied', registry: bed.registry.host, repository: 'signed/copied', digest };
    const error = await rejection(createSignatureVerifier(keyPolicy(), bed.source).verifyArtifact(request));
    expect(error.reasons).toEqual(['docker-reference-mismatch']);
    const lenient = keyPolicy({ rules: [{ prefix: `${bed.registry.host}/signed`, mode: 'required', keys: [bed.publisherPub], dockerReference: 'ignore' }] });
    await expect(createSignatureVerifier(lenient, bed.source).verifyArtifact(request)).resolves.toMatchObject({ verified: true });
  });

  it('does not check repositories whose rule has mode "none"', async () => {
    const digest = await bed.push('open/web', 'v1', profileAllowing('read'));
    const verifier = createSignatureVerifier(keyPolicy(), bed.source);
    await expect(verifier.verifyArtifact({ reference: 'open', registry: bed.registry.host, repository: 'open/web', digest })).resolves.toEqual({
      verified: false,
      rule: 'default',
      cached: false,
    });
  });

  it('answers a repeated verification from the cache without registry traffic', async () => {
    const digest = await bed.push('signed/cached', 'v1', profileAllowing('read'), bed.proxy.host);
    await signArtifact({ client: bed.source, registry: bed.proxy.host, repository: 'signed/cached', digest, privateKeyPem: privateKeyPem(bed.publisher.privateKey) });
    const policy: SignaturePolicy = { default: { mode: 'required', keys: [bed.publisherPub] } };
    const verifier = createSignatureVerifier(policy, bed.source);
    const request = { reference: 'cached', registry: bed.proxy.host, repository: 'signed/cached', digest };
    bed.proxy.reset();
    await expect(verifier.verifyArtifact(request)).resolves.toMatchObject({ verified: true, cached: false });
    const hex = digest.slice('sha256:'.length);
    expect(bed.proxy.requests).toContain(`GET /v2/signed/cached/manifests/sha256-${hex}.sig`);
    bed.proxy.reset();
    await expect(verifier.verifyArtifact(request)).resolves.toMatchObject({ verified: true, cached: true });
    expect(bed.proxy.requests).toEqual([]);
  });

  it('asks a registry without the referrers API for it once, then goes straight to the referrers tag', async () => {
    const policy: SignaturePolicy = { default: { mode: 'required', keys: [bed.publisherPub] } };
    for (const tag of ['a', 'b']) {
      const digest = await bed.push('signed/once', tag, profileAllowing(`once-${tag}`), bed.proxy.host);
      await signArtifact({ client: bed.source, registry: bed.proxy.host, repository: 'signed/once', digest, privateKeyPem: privateKeyPem(bed.publisher.privateKey) });
      bed.proxy.reset();
      const request = { reference: tag, registry: bed.proxy.host, repository: 'signed/once', digest };
      await expect(createSignatureVerifier(policy, bed.source).verifyArtifact(request)).resolves.toMatchObject({ verified: true });
      const hex = digest.slice('sha256:'.length);
      const manifests = bed.proxy.requests.filter((r) => !r.includes('/blobs/'));
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
    const leaf = bed.pki.issueLeaf({ san, issuer: ISSUER });
    const payload = buildSimpleSigningPayload(`${bed.registry.host}/${repository}`, digest);
    const signature = sign('sha256', payload, leaf.privateKey);
    await attachCosignLayer(repository, digest, payload, {
      'dev.cosignproject.cosign/signature': signature.toString('base64'),
      'dev.sigstore.cosign/certificate': leaf.pem,
      'dev.sigstore.cosign/chain': bed.pki.caCert.root.toDER().toString('base64'),
      'dev.sigstore.cosign/bundle': bed.pki.rekorBundle(payload, signature, leaf.pem),
    });
  }

  function keylessPolicy(subject: string): SignaturePolicy {
    return {
      default: { mode: 'none' },
      rules: [{ prefix: `${bed.registry.host}/keyless`, mode: 'required', trustedRoot: bed.trustedRoot, identities: [{ issuer: ISSUER, subject }] }],
    };
  }

  it('accepts the expected identity', async () => {
    const digest = await bed.push('keyless/web', 'v1', profileAllowing('read'));
    await signKeyless('keyless/web', digest, `email:${ALICE}`);
    const result = await createSignatureVerifier(keylessPolicy(ALICE), bed.source).verifyArtifact({ reference: 'kl', registry: bed.registry.host, repository: 'keyless/web', digest });
    expect(result).toMatchObject({ verified: true, signer: { kind: 'keyless', name: `${ISSUER} ${ALICE}` } });
  });

  it('rejects another identity', async () => {
    const digest = await bed.push('keyless/mallory', 'v1', profileAllowing('read'));
    await signKeyless('keyless/mallory', digest, 'email:mallory@example.com');
    const error = await rejection(
      createSignatureVerifier(keylessPolicy(ALICE), bed.source).verifyArtifact({ reference: 'kl', registry: bed.registry.host, repository: 'keyless/mallory', digest }),
    );
    expect(error.reasons).toEqual(['identity-mismatch']);
    expect(error.message).toContain('mallory@example.com');
  });
});
