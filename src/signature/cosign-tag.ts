import { CandidateRejected } from './errors.js';
import { cosignSignatureToEntity } from './entity.js';
import { checkSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from './simple-signing.js';
import type { SignatureSource } from './source.js';
import {
  digestTag,
  isRecord,
  MAX_CANDIDATES,
  MAX_SIGNATURE_BLOB_BYTES,
  parseJsonObject,
  type Candidate,
  type PendingCandidate,
  type Subject,
} from './candidates.js';

/** Annotation keys of cosign's signature layers (cosign specs/SIGNATURE_SPEC.md). */
export const COSIGN_ANNOTATIONS = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161Timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

/** `sha256:abc…` → `sha256-abc….sig`: where cosign's tag scheme keeps an artifact's signatures. */
export function cosignSignatureTag(digest: string): string {
  return `${digestTag(digest)}.sig`;
}

function annotation(annotations: Record<string, unknown>, key: string): string | undefined {
  const value = annotations[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Reads every simple-signing layer of the subject's `.sig` manifest. A missing tag is no
 * error: it means there are no signatures of this kind.
 */
export async function discoverCosignSignatures(source: SignatureSource, subject: Subject): Promise<PendingCandidate[]> {
  const tag = cosignSignatureTag(subject.digest);
  const fetched = await source.getManifest(subject.registry, subject.repository, tag);
  if (!fetched) return [];
  const manifest = parseJsonObject(fetched.body, `signature manifest ${tag}`);
  const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
  const signatureLayers = layers.filter((l): l is Record<string, unknown> => isRecord(l) && l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE);
  return signatureLayers.slice(0, MAX_CANDIDATES).map((layer, i) => {
    const where = `cosign tag ${tag} layer ${i}`;
    return { where, load: () => readLayer(source, subject, layer, where) };
  });
}

async function readLayer(source: SignatureSource, subject: Subject, layer: Record<string, unknown>, where: string): Promise<Candidate> {
  const annotations = isRecord(layer.annotations) ? layer.annotations : {};
  const signature = annotation(annotations, COSIGN_ANNOTATIONS.signature);
  if (!signature) {
    throw new CandidateRejected('invalid-signature-format', `layer has no ${COSIGN_ANNOTATIONS.signature} annotation`);
  }
  if (typeof layer.digest !== 'string') {
    throw new CandidateRejected('invalid-signature-format', 'layer has no digest');
  }
  if (typeof layer.size === 'number' && layer.size > MAX_SIGNATURE_BLOB_BYTES) {
    throw new CandidateRejected('invalid-signature-format', `payload of ${layer.size} bytes exceeds ${MAX_SIGNATURE_BLOB_BYTES}`);
  }
  const payload = await source.getBlob(subject.registry, subject.repository, layer.digest, MAX_SIGNATURE_BLOB_BYTES);
  const entity = cosignSignatureToEntity({
    payload,
    signature: Buffer.from(signature, 'base64'),
    certificatePem: annotation(annotations, COSIGN_ANNOTATIONS.certificate),
    rekorBundle: annotation(annotations, COSIGN_ANNOTATIONS.bundle),
    rfc3161Timestamp: annotation(annotations, COSIGN_ANNOTATIONS.rfc3161Timestamp),
  });
  return {
    where,
    kind: 'cosign-tag',
    entity,
    checkBinding: (s, dockerReference) =>
      checkSimpleSigningPayload(payload, { digest: s.digest, repository: s.repository, dockerReference }),
  };
}
