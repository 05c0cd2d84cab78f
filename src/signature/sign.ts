import { createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { dsse } from '@sigstore/core';
import { digestOf, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from '../artifact/index.js';
import { digestTag, isRecord, MAX_SIGNATURE_BLOB_BYTES, parseJsonObject } from './candidates.js';
import { COSIGN_ANNOTATIONS, cosignSignatureTag } from './cosign-tag.js';
import { COSIGN_SIGN_PREDICATE, IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V1, SIGSTORE_BUNDLE_ARTIFACT_TYPE } from './referrers.js';
import { buildSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from './simple-signing.js';
import type { OciDescriptor, SignaturePublisher } from './source.js';
import { keyHint } from './trust.js';

const OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';

export interface SignArtifactOptions {
  client: SignaturePublisher;
  registry: string;
  repository: string;
  /** The pushed manifest's digest: what is signed. */
  digest: string;
  /** Unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1), or PKCS#8 encrypted with `passphrase`. */
  privateKeyPem: string | Buffer;
  passphrase?: string;
  /** Written to the payload's docker-reference; `registry/repository` by default. */
  dockerReference?: string;
  /** Write cosign's `sha256-<hex>.sig` tag (default true). */
  cosignTag?: boolean;
  /** Attach a sigstore bundle as an OCI referrer (default true). */
  bundle?: boolean;
}

export interface SignArtifactResult {
  /** The cosign signature tag written: `sha256-<hex>.sig`. */
  signatureTag?: string;
  signatureManifestDigest?: string;
  /** The referrer manifest holding the sigstore bundle, when one was attached. */
  bundleManifestDigest?: string;
  /** True when the referrers tag index was updated because the registry has no referrers API. */
  referrersTagUpdated?: boolean;
}

/**
 * Reads the publisher's key. Cosign's own encrypted format (`ENCRYPTED SIGSTORE PRIVATE KEY`,
 * scrypt + secretbox) is not supported: `cosign import-key-pair`'s input or an unencrypted
 * PKCS#8 export works instead.
 */
export function loadPrivateKey(pem: string | Buffer, passphrase?: string): KeyObject {
  const text = pem.toString();
  if (text.includes('ENCRYPTED SIGSTORE PRIVATE KEY') || text.includes('ENCRYPTED COSIGN PRIVATE KEY')) {
    throw new Error('cosign-encrypted private keys are not supported; export the key as unencrypted or passphrase-protected PKCS#8 PEM');
  }
  const key = passphrase === undefined ? createPrivateKey(text) : createPrivateKey({ key: text, passphrase });
  if (!['ec', 'ed25519', 'rsa'].includes(key.asymmetricKeyType ?? '')) {
    throw new Error(`unsupported private key type ${key.asymmetricKeyType}; use ECDSA, Ed25519 or RSA`);
  }
  return key;
}

/** Ed25519 signs the message itself; ECDSA and RSA over its sha256, as cosign does. */
function signBytes(key: KeyObject, data: Buffer): Buffer {
  return cryptoSign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/**
 * Signs in cosign's tag scheme: the simple-signing payload as a layer of the `.sig` manifest,
 * the signature in its annotation. Signatures already under the tag are kept (cosign appends).
 */
async function publishCosignSignature(options: SignArtifactOptions, key: KeyObject): Promise<{ tag: string; digest: string }> {
  const { client, registry, repository, digest } = options;
  const payload = buildSimpleSigningPayload(options.dockerReference ?? `${registry}/${repository}`, digest);
  const signature = signBytes(key, payload).toString('base64');
  const payloadBlob = await client.putBlob(registry, repository, payload);
  const tag = cosignSignatureTag(digest);

  const existing = await client.getManifest(registry, repository, tag);
  const previous = existing ? parseJsonObject(existing.body, `signature manifest ${tag}`) : {};
  const layers: OciDescriptor[] = (Array.isArray(previous.layers) ? previous.layers : [])
    .filter((l): l is OciDescriptor => isRecord(l) && typeof l.digest === 'string')
    .filter((l) => !(l.digest === payloadBlob.digest && l.annotations?.[COSIGN_ANNOTATIONS.signature] === signature));
  layers.push({
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    digest: payloadBlob.digest,
    size: payloadBlob.size,
    annotations: { [COSIGN_ANNOTATIONS.signature]: signature },
  });
  // Cosign's .sig manifests are images; their config lists the layers as diff_ids.
  const config = json({
    architecture: '',
    os: '',
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  });
  const configBlob = await client.putBlob(registry, repository, config);
  const manifest = json({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_IMAGE_CONFIG, digest: configBlob.digest, size: configBlob.size },
    layers,
  });
  const put = await client.putManifest(registry, repository, tag, manifest, OCI_MANIFEST);
  return { tag, digest: put.digest };
}

/** A sigstore bundle (v0.3, DSSE over cosign's signing statement) for a key-based signature. */
export function buildKeyBundle(key: KeyObject, subjectName: string, digest: string): Buffer {
  const [alg = '', hex = ''] = digest.split(':', 2);
  const statement = json({
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: subjectName, digest: { [alg]: hex } }],
    predicateType: COSIGN_SIGN_PREDICATE,
    predicate: {},
  });
  const signature = signBytes(key, dsse.preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, statement));
  const hint = keyHint(createPublicKey(key));
  return json({
    mediaType: SIGSTORE_BUNDLE_ARTIFACT_TYPE,
    verificationMaterial: { publicKey: { hint }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: {
      payload: statement.toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: signature.toString('base64'), keyid: '' }],
    },
  });
}

export interface AttachBundleOptions {
  client: SignaturePublisher;
  registry: string;
  repository: string;
  /** The manifest the bundle signs: the referrer's subject. */
  digest: string;
  /** The bundle's JSON bytes. */
  bundle: Buffer;
  /** `dsse-envelope` or `message-signature`, as the bundle holds. */
  content: 'dsse-envelope' | 'message-signature';
  predicateType?: string;
}

/**
 * Attaches a sigstore bundle as an OCI 1.1 referrer of the signed manifest (cosign
 * specs/BUNDLE_SPEC.md). When the registry does not index the subject itself (no OCI-Subject
 * header), the referrers tag schema's index (`sha256-<hex>`) is updated as the distribution
 * spec asks of clients.
 */
export async function attachBundleReferrer(options: AttachBundleOptions): Promise<{ digest: string; tagUpdated: boolean }> {
  const { client, registry, repository, digest } = options;
  const signed = await client.getManifest(registry, repository, digest);
  if (!signed) throw new Error(`cannot attach a bundle: manifest ${registry}/${repository}@${digest} not found`);
  const bundleBlob = await client.putBlob(registry, repository, options.bundle);
  const emptyBlob = await client.putBlob(registry, repository, Buffer.from('{}'));
  const annotations: Record<string, string> = {
    'dev.sigstore.bundle.content': options.content,
    ...(options.predicateType ? { 'dev.sigstore.bundle.predicateType': options.predicateType } : {}),
    'org.opencontainers.image.created': new Date().toISOString(),
  };
  const manifest = json({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: SIGSTORE_BUNDLE_ARTIFACT_TYPE,
    config: { mediaType: OCI_EMPTY, digest: emptyBlob.digest, size: emptyBlob.size },
    layers: [
      {
        mediaType: SIGSTORE_BUNDLE_ARTIFACT_TYPE,
        digest: bundleBlob.digest,
        size: bundleBlob.size,
        annotations: { 'org.opencontainers.image.title': `${digestTag(bundleBlob.digest)}.sigstore.json` },
      },
    ],
    subject: { mediaType: signed.mediaType, digest, size: signed.body.length },
    annotations,
  });
  const manifestDigest = digestOf(manifest);
  const put = await client.putManifest(registry, repository, manifestDigest, manifest, OCI_MANIFEST);
  // The distribution spec's rule: without OCI-Subject naming this subject, the client keeps the referrers tag.
  if (put.ociSubject === digest) return { digest: put.digest, tagUpdated: false };

  const tag = digestTag(digest);
  const existing = await client.getManifest(registry, repository, tag);
  const index = existing ? parseJsonObject(existing.body, `referrers index ${tag}`) : {};
  const entries = (Array.isArray(index.manifests) ? index.manifests : []).filter(
    (m): m is OciDescriptor => isRecord(m) && typeof m.digest === 'string' && m.digest !== manifestDigest,
  );
  entries.push({ mediaType: OCI_MANIFEST, digest: manifestDigest, size: manifest.length, artifactType: SIGSTORE_BUNDLE_ARTIFACT_TYPE, annotations });
  const body = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries });
  if (body.length > MAX_SIGNATURE_BLOB_BYTES) {
    throw new Error(`referrers index ${tag} would exceed ${MAX_SIGNATURE_BLOB_BYTES} bytes`);
  }
  await client.putManifest(registry, repository, tag, body, OCI_INDEX);
  return { digest: put.digest, tagUpdated: true };
}

/** `push --sign --key KEY`: signs the pushed manifest's digest for cosign and sigstore verifiers. */
export async function signArtifact(options: SignArtifactOptions): Promise<SignArtifactResult> {
  if (!/^sha256:[0-9a-f]{64}$/.test(options.digest)) {
    throw new Error(`cannot sign ${options.registry}/${options.repository}: ${JSON.stringify(options.digest)} is not a sha256 digest`);
  }
  const key = loadPrivateKey(options.privateKeyPem, options.passphrase);
  const result: SignArtifactResult = {};
  if (options.cosignTag ?? true) {
    const cosign = await publishCosignSignature(options, key);
    result.signatureTag = cosign.tag;
    result.signatureManifestDigest = cosign.digest;
  }
  if (options.bundle ?? true) {
    const referrer = await attachBundleReferrer({
      client: options.client,
      registry: options.registry,
      repository: options.repository,
      digest: options.digest,
      bundle: buildKeyBundle(key, `${options.registry}/${options.repository}`, options.digest),
      content: 'dsse-envelope',
      predicateType: COSIGN_SIGN_PREDICATE,
    });
    result.bundleManifestDigest = referrer.digest;
    result.referrersTagUpdated = referrer.tagUpdated;
  }
  return result;
}
