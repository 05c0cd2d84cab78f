import { assertBundle, bundleFromJSON, BUNDLE_V03_MEDIA_TYPE, type Bundle } from '@sigstore/bundle';
import { toSignedEntity } from '@sigstore/verify';
import { CandidateRejected } from './errors.js';
import type { SignatureSource } from './source.js';
import {
  isRecord,
  MAX_CANDIDATES,
  MAX_SIGNATURE_BLOB_BYTES,
  parseJsonObject,
  type Candidate,
  type PendingCandidate,
  type Subject,
} from './candidates.js';

/** The referrer artifact type cosign v3 and sigstore clients attach bundles with. */
export const SIGSTORE_BUNDLE_ARTIFACT_TYPE = BUNDLE_V03_MEDIA_TYPE;
/** The in-toto statement type and the predicate cosign v3 signs for an image signature. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/**
 * A DSSE bundle binds to the subject through its in-toto statement: one of the statement's
 * subjects must carry the fetched digest.
 */
function checkStatementSubject(bundle: Bundle, digest: string): void {
  if (bundle.content.$case !== 'dsseEnvelope') return;
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new CandidateRejected('invalid-signature-format', `DSSE payloadType is ${JSON.stringify(envelope.payloadType)}, expected ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  const statement = parseJsonObject(envelope.payload, 'in-toto statement');
  const [alg = '', hex = ''] = digest.split(':', 2);
  if (statement.predicateType !== COSIGN_SIGN_PREDICATE) {
    // Attestations (SBOMs, provenance) also name the digest; only a signing statement approves it.
    throw new CandidateRejected('invalid-signature-format', `in-toto predicateType is ${JSON.stringify(statement.predicateType)}, expected ${COSIGN_SIGN_PREDICATE}`);
  }
  const subjects = Array.isArray(statement.subject) ? statement.subject : [];
  const named = subjects.some((s) => isRecord(s) && isRecord(s.digest) && s.digest[alg] === hex);
  if (!named) {
    throw new CandidateRejected('payload-digest-mismatch', `in-toto statement subjects do not include ${digest}`);
  }
}

/** A message-signature bundle binds by its digest: it must be the fetched manifest's. */
function checkMessageDigest(bundle: Bundle, digest: string): void {
  if (bundle.content.$case !== 'messageSignature') return;
  const { messageDigest } = bundle.content.messageSignature;
  const [alg = '', hex = ''] = digest.split(':', 2);
  if (alg !== 'sha256' || messageDigest.digest.toString('hex') !== hex) {
    throw new CandidateRejected('payload-digest-mismatch', `message signature digest ${messageDigest.digest.toString('hex')} is not ${digest}`);
  }
}

async function readReferrer(source: SignatureSource, subject: Subject, digest: string, where: string): Promise<Candidate> {
  const fetched = await source.getManifest(subject.registry, subject.repository, digest);
  if (!fetched) throw new CandidateRejected('fetch-failed', 'referrer manifest is listed but not found');
  const manifest = parseJsonObject(fetched.body, `referrer manifest ${digest}`);
  const subjectDescriptor = isRecord(manifest.subject) ? manifest.subject : {};
  if (subjectDescriptor.digest !== subject.digest) {
    throw new CandidateRejected('payload-digest-mismatch', `referrer's subject is ${JSON.stringify(subjectDescriptor.digest)}`);
  }
  const layer = Array.isArray(manifest.layers) ? manifest.layers[0] : undefined;
  if (!isRecord(layer) || typeof layer.digest !== 'string' || layer.mediaType !== SIGSTORE_BUNDLE_ARTIFACT_TYPE) {
    throw new CandidateRejected('invalid-signature-format', `referrer has no ${SIGSTORE_BUNDLE_ARTIFACT_TYPE} layer`);
  }
  const blob = await source.getBlob(subject.registry, subject.repository, layer.digest, MAX_SIGNATURE_BLOB_BYTES);
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(parseJsonObject(blob, 'sigstore bundle'));
    assertBundle(bundle);
  } catch (error) {
    throw new CandidateRejected('invalid-signature-format', `not a valid sigstore bundle: ${(error as Error).message}`);
  }
  // A message signature is over the manifest bytes themselves; only then are they needed.
  let artifact: Buffer | undefined;
  if (bundle.content.$case === 'messageSignature') {
    checkMessageDigest(bundle, subject.digest);
    artifact = (await source.getManifest(subject.registry, subject.repository, subject.digest))?.body;
    if (!artifact) throw new CandidateRejected('fetch-failed', `signed manifest ${subject.digest} not found`);
  }
  const entity = toSignedEntity(bundle, artifact);
  return {
    where,
    kind: 'referrer',
    entity,
    checkBinding: (s) => {
      checkStatementSubject(bundle, s.digest);
      checkMessageDigest(bundle, s.digest);
    },
  };
}

/** Sigstore bundles attached to the subject as OCI 1.1 referrers. */
export async function discoverBundleReferrers(source: SignatureSource, subject: Subject): Promise<PendingCandidate[]> {
  const descriptors = await source.listReferrers(subject.registry, subject.repository, subject.digest, SIGSTORE_BUNDLE_ARTIFACT_TYPE);
  const bundles = descriptors.filter((d) => d.artifactType === SIGSTORE_BUNDLE_ARTIFACT_TYPE);
  return bundles.slice(0, MAX_CANDIDATES).map((descriptor) => {
    const where = `referrer ${descriptor.digest}`;
    return { where, load: () => readReferrer(source, subject, descriptor.digest, where) };
  });
}
