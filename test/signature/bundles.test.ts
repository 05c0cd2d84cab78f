import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dsse } from '@sigstore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/artifact/index.js';
import { pushProfile } from '../../src/artifact/push.js';
import {
  attachBundleReferrer,
  createSignatureVerifier,
  registrySignatureSource,
  SignatureError,
  type SignaturePolicy,
  type SignaturePublisher,
} from '../../src/signature/index.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { TestSigstore } from './support/pki.js';

const ISSUER = 'https://token.actions.sigstore.test';
const ALICE = 'alice@example.com';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const IN_TOTO = 'application/vnd.in-toto+json';

let registry: TestRegistry;
let client: RegistryClient;
let source: SignaturePublisher;
let dir: string;
let pki: TestSigstore;
let trustedRoot: string;
const publisher = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let publisherPub: string;
let counter = 0;

async function pushFresh(repository: string): Promise<string> {
  const profile = Buffer.from(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: [`s${counter++}`], action: 'SCMP_ACT_ALLOW' }] }));
  return (await pushProfile(client, { reference: `${registry.host}/${repository}:v1`, profile, created: null })).digest;
}

function statement(digest: string, predicateType = 'https://sigstore.dev/cosign/sign/v1'): Buffer {
  const [alg = '', hex = ''] = digest.split(':');
  return Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { [alg]: hex } }], predicateType, predicate: {} }));
}

function dsseBundle(payload: Buffer, key: KeyObject, material: Record<string, unknown>, timestamp = false): Buffer {
  const sig = sign('sha256', dsse.preAuthEncoding(IN_TOTO, payload), key);
  const timestamps = timestamp ? [{ signedTimestamp: pki.timestamp(sig).toString('base64') }] : [];
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
    const result = await createSignatureVerifier(policy, source).verifyArtifact({ reference: repository, registry: registry.host, repository, digest });
    return `${result.signer?.kind} ${result.signer?.name} via ${result.foundIn?.split(' ')[0]}`;
  } catch (error) {
    if (error instanceof SignatureError) return `rejected ${error.reasons.join(',')}: ${error.message}`;
    throw error;
  }
}

const keyPolicy = (): SignaturePolicy => ({ default: { mode: 'required', keys: [publisherPub] } });
const keylessPolicy = (subject: string): SignaturePolicy => ({ default: { mode: 'required', trustedRoot, identities: [{ issuer: ISSUER, subject }] } });

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient({ registries: { [registry.host]: { insecure: true } }, retry: { attempts: 1 } });
  source = registrySignatureSource(client);
  dir = mkdtempSync(path.join(os.tmpdir(), 'sig-bundles-'));
  pki = new TestSigstore(dir);
  trustedRoot = pki.writeTrustedRoot();
  publisherPub = path.join(dir, 'publisher.pub');
  writeFileSync(publisherPub, publisher.publicKey.export({ type: 'spki', format: 'pem' }));
});

afterAll(async () => {
  client?.close();
  await registry?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('sigstore bundles attached as referrers', () => {
  it('accepts a keyless DSSE bundle with a certificate and an RFC 3161 timestamp, for the right identity only', async () => {
    const digest = await pushFresh('bundles/keyless');
    const leaf = pki.issueLeaf({ san: `email:${ALICE}`, issuer: ISSUER });
    const bundle = dsseBundle(statement(digest), leaf.privateKey, { certificate: { rawBytes: leaf.der.toString('base64') } }, true);
    await attachBundleReferrer({ client: source, registry: registry.host, repository: 'bundles/keyless', digest, bundle, content: 'dsse-envelope' });
    expect(await verify(keylessPolicy(ALICE), 'bundles/keyless', digest)).toBe(`keyless ${ISSUER} ${ALICE} via referrer`);
    expect(await verify(keylessPolicy('bob@example.com'), 'bundles/keyless', digest)).toMatch(/^rejected identity-mismatch: /);
  });

  it('rejects a keyless bundle without any verified time', async () => {
    const digest = await pushFresh('bundles/untimed');
    const leaf = pki.issueLeaf({ san: `email:${ALICE}`, issuer: ISSUER });
    const bundle = dsseBundle(statement(digest), leaf.privateKey, { certificate: { rawBytes: leaf.der.toString('base64') } });
    await attachBundleReferrer({ client: source, registry: registry.host, repository: 'bundles/untimed', digest, bundle, content: 'dsse-envelope' });
    expect(await verify(keylessPolicy(ALICE), 'bundles/untimed', digest)).toMatch(/^rejected timestamp-missing: /);
  });

  it('accepts a key-based message-signature bundle over the manifest bytes', async () => {
    const digest = await pushFresh('bundles/message');
    const manifest = (await source.getManifest(registry.host, 'bundles/message', digest))!.body;
    expect(`sha256:${createHash('sha256').update(manifest).digest('hex')}`).toBe(digest);
    const bundle = Buffer.from(
      JSON.stringify({
        mediaType: BUNDLE,
        verificationMaterial: { publicKey: { hint: 'anything' }, tlogEntries: [] },
        messageSignature: {
          messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(digest.slice(7), 'hex').toString('base64') },
          signature: sign('sha256', manifest, publisher.privateKey).toString('base64'),
        },
      }),
    );
    await attachBundleReferrer({ client: source, registry: registry.host, repository: 'bundles/message', digest, bundle, content: 'message-signature' });
    expect(await verify(keyPolicy(), 'bundles/message', digest)).toBe(`key ${publisherPub} via referrer`);
  });

  it('does not take an attestation (another predicate) or a statement about another digest as a signature', async () => {
    const digest = await pushFresh('bundles/attested');
    const other = await pushFresh('bundles/other');
    const material = { publicKey: { hint: 'x' } };
    await attachBundleReferrer({
      client: source, registry: registry.host, repository: 'bundles/attested', digest, content: 'dsse-envelope',
      bundle: dsseBundle(statement(digest, 'https://cyclonedx.org/bom'), publisher.privateKey, material),
    });
    await attachBundleReferrer({
      client: source, registry: registry.host, repository: 'bundles/attested', digest, content: 'dsse-envelope',
      bundle: dsseBundle(statement(other), publisher.privateKey, material),
    });
    const outcome = await verify(keyPolicy(), 'bundles/attested', digest);
    expect(outcome).toMatch(/^rejected invalid-signature-format,payload-digest-mismatch: /);
    expect(outcome).toContain('predicateType is "https://cyclonedx.org/bom"');
    expect(outcome).toContain(`in-toto statement subjects do not include ${digest}`);
  });
});
