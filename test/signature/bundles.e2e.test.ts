import { createHash, sign, type KeyObject } from 'node:crypto';
import { dsse } from '@sigstore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachBundleReferrer, createSignatureVerifier, SignatureError, type SignaturePolicy } from '../../src/signature/index.js';
import { profileAllowing, startSignatureTestbed, type SignatureTestbed } from '../../testbed/signature/testbed.js';

const ISSUER = 'https://token.actions.sigstore.test';
const ALICE = 'alice@example.com';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const IN_TOTO = 'application/vnd.in-toto+json';

let bed: SignatureTestbed;
let counter = 0;

function pushFresh(repository: string): Promise<string> {
  return bed.push(repository, 'v1', profileAllowing(`s${counter++}`));
}

function statement(digest: string, predicateType = 'https://sigstore.dev/cosign/sign/v1'): Buffer {
  const [alg = '', hex = ''] = digest.split(':');
  return Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { [alg]: hex } }], predicateType, predicate: {} }));
}

function dsseBundle(payload: Buffer, key: KeyObject, material: Record<string, unknown>, timestamp = false): Buffer {
  const sig = sign('sha256', dsse.preAuthEncoding(IN_TOTO, payload), key);
  const timestamps = timestamp ? [{ signedTimestamp: bed.pki.timestamp(sig).toString('base64') }] : [];
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE,
      verificationMaterial: { ...material, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: timestamps } },
      dsseEnvelope: { payload: payload.toString('base64'), payloadType: IN_TOTO, signatures: [{ sig: sig.toString('base64'), keyid: '' }] },
    }),
  );
}

async function verify(policy: SignaturePolicy, repository: string, digest: string): Promise<string> {
  try {
    const result = await createSignatureVerifier(policy, bed.source).verifyArtifact({ reference: repository, registry: bed.registry.host, repository, digest });
    return `${result.signer?.kind} ${result.signer?.name} via ${result.foundIn?.split(' ')[0]}`;
  } catch (error) {
    if (error instanceof SignatureError) return `rejected ${error.reasons.join(',')}: ${error.message}`;
    throw error;
  }
}

const keyPolicy = (): SignaturePolicy => ({ default: { mode: 'required', keys: [bed.publisherPub] } });
const keylessPolicy = (subject: string): SignaturePolicy => ({ default: { mode: 'required', trustedRoot: bed.trustedRoot, identities: [{ issuer: ISSUER, subject }] } });

beforeAll(async () => {
  bed = await startSignatureTestbed({ tempPrefix: 'sig-bundles-', retry: { attempts: 1 } });
});

afterAll(async () => {
  await bed?.stop();
});

describe('sigstore bundles attached as referrers', () => {
  it('accepts a keyless DSSE bundle with a certificate and an RFC 3161 timestamp, for the right identity only', async () => {
    const digest = await pushFresh('bundles/keyless');
    const leaf = bed.pki.issueLeaf({ san: `email:${ALICE}`, issuer: ISSUER });
    const bundle = dsseBundle(statement(digest), leaf.privateKey, { certificate: { rawBytes: leaf.der.toString('base64') } }, true);
    await attachBundleReferrer({ client: bed.source, registry: bed.registry.host, repository: 'bundles/keyless', digest, bundle, content: 'dsse-envelope' });
    expect(await verify(keylessPolicy(ALICE), 'bundles/keyless', digest)).toBe(`keyless ${ISSUER} ${ALICE} via referrer`);
    expect(await verify(keylessPolicy('bob@example.com'), 'bundles/keyless', digest)).toMatch(/^rejected identity-mismatch: /);
  });

  it('rejects a keyless bundle without any verified time', async () => {
    const digest = await pushFresh('bundles/untimed');
    const leaf = bed.pki.issueLeaf({ san: `email:${ALICE}`, issuer: ISSUER });
    const bundle = dsseBundle(statement(digest), leaf.privateKey, { certificate: { rawBytes: leaf.der.toString('base64') } });
    await attachBundleReferrer({ client: bed.source, registry: bed.registry.host, repository: 'bundles/untimed', digest, bundle, content: 'dsse-envelope' });
    expect(await verify(keylessPolicy(ALICE), 'bundles/untimed', digest)).toMatch(/^rejected timestamp-missing: /);
  });

  it('accepts a key-based message-signature bundle over the manifest bytes', async () => {
    const digest = await pushFresh('bundles/message');
    const manifest = (await bed.source.getManifest(bed.registry.host, 'bundles/message', digest))!.body;
    expect(`sha256:${createHash('sha256').update(manifest).digest('hex')}`).toBe(digest);
    const bundle = Buffer.from(
      JSON.stringify({
        mediaType: BUNDLE,
        verificationMaterial: { publicKey: { hint: 'anything' }, tlogEntries: [] },
        messageSignature: {
          messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(digest.slice(7), 'hex').toString('base64') },
          signature: sign('sha256', manifest, bed.publisher.privateKey).toString('base64'),
        },
      }),
    );
    await attachBundleReferrer({ client: bed.source, registry: bed.registry.host, repository: 'bundles/message', digest, bundle, content: 'message-signature' });
    expect(await verify(keyPolicy(), 'bundles/message', digest)).toBe(`key ${bed.publisherPub} via referrer`);
  });

  it('does not take an attestation (another predicate) or a statement about another digest as a signature', async () => {
    const digest = await pushFresh('bundles/attested');
    const other = await pushFresh('bundles/other');
    const material = { publicKey: { hint: 'x' } };
    await attachBundleReferrer({
      client: bed.source, registry: bed.registry.host, repository: 'bundles/attested', digest, content: 'dsse-envelope',
      bundle: dsseBundle(statement(digest, 'https://cyclonedx.org/bom'), bed.publisher.privateKey, material),
    });
    await attachBundleReferrer({
      client: bed.source, registry: bed.registry.host, repository: 'bundles/attested', digest, content: 'dsse-envelope',
      bundle: dsseBundle(statement(other), bed.publisher.privateKey, material),
    });
    const outcome = await verify(keyPolicy(), 'bundles/attested', digest);
    expect(outcome).toMatch(/^rejected invalid-signature-format,payload-digest-mismatch: /);
    expect(outcome).toContain('predicateType is "https://cyclonedx.org/bom"');
    expect(outcome).toContain(`in-toto statement subjects do not include ${digest}`);
  });
});
