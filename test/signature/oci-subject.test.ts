import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OCI_MANIFEST, RegistryClient } from '../../src/artifact/index.js';
import { attachBundleReferrer, registrySignatureSource, type SignaturePublisher } from '../../src/signature/index.js';
import { startFakeRegistry, type FakeRegistry } from './support/fake-registry.js';

const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const config = Buffer.from('{}');
const layer = Buffer.from('{"defaultAction":"SCMP_ACT_ERRNO"}');
const subject = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.cncf.seccomp-profile.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
  }),
);
const subjectDigest = sha256(subject);
// Not verified here: only where it goes matters.
const bundle = Buffer.from(JSON.stringify({ mediaType: BUNDLE_TYPE, note: 'fixed bytes, so the blob digest is known' }));

let registry: FakeRegistry;
let client: RegistryClient;
let source: SignaturePublisher;

// A fresh registry per test: its request log and upload numbers start from nothing.
beforeEach(async () => {
  registry = await startFakeRegistry();
  client = new RegistryClient({ registries: { [registry.host]: { insecure: true } }, retry: { attempts: 1 } });
  source = registrySignatureSource(client);
});

afterEach(async () => {
  client?.close();
  await registry?.stop();
});

/** The requests attaching a bundle makes whatever the registry answers: subject, two blobs, the referrer. */
function attachRequests(repository: string, referrerDigest: string): string[] {
  const upload = (n: number, blob: Buffer): string[] => [
    `HEAD /v2/${repository}/blobs/${sha256(blob)}`,
    `POST /v2/${repository}/blobs/uploads/`,
    `PUT /v2/${repository}/blobs/uploads/${n}?digest=${encodeURIComponent(sha256(blob))}`,
  ];
  return [`GET /v2/${repository}/manifests/${subjectDigest}`, ...upload(1, bundle), ...upload(2, config), `PUT /v2/${repository}/manifests/${referrerDigest}`];
}

async function attach(repository: string): Promise<{ digest: string; tagUpdated: boolean }> {
  registry.serveManifest(repository, subjectDigest, subject);
  return attachBundleReferrer({ client: source, registry: registry.host, repository, digest: subjectDigest, bundle, content: 'dsse-envelope' });
}

describe('attaching a bundle referrer and the OCI-Subject answer', () => {
  it('leaves the referrers tag alone when the registry answers OCI-Subject', async () => {
    registry.answerOciSubject = true;
    const attached = await attach('with/api');
    expect(attached.tagUpdated).toBe(false);
    expect(registry.requests).toEqual(attachRequests('with/api', attached.digest));
  });

  it('maintains the referrers tag when the registry does not answer OCI-Subject', async () => {
    registry.answerOciSubject = false;
    const attached = await attach('without/api');
    expect(attached.tagUpdated).toBe(true);
    const tag = `sha256-${subjectDigest.slice('sha256:'.length)}`;
    expect(registry.requests).toEqual([...attachRequests('without/api', attached.digest), `GET /v2/without/api/manifests/${tag}`, `PUT /v2/without/api/manifests/${tag}`]);
    const index = await source.getManifest(registry.host, 'without/api', tag);
    expect(JSON.parse(index!.body.toString())).toMatchObject({ manifests: [{ digest: attached.digest, artifactType: BUNDLE_TYPE }] });
  });

  it('hands the OCI-Subject header of a manifest PUT to the signature source, and nothing when it is absent', async () => {
    const referrer = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: 2 }, layers: [], subject: { mediaType: OCI_MANIFEST, digest: subjectDigest, size: subject.length } }));
    registry.answerOciSubject = true;
    await expect(source.putManifest(registry.host, 'put/ref', sha256(referrer), referrer, OCI_MANIFEST)).resolves.toEqual({ digest: sha256(referrer), ociSubject: subjectDigest });
    registry.answerOciSubject = false;
    await expect(source.putManifest(registry.host, 'put/ref', sha256(referrer), referrer, OCI_MANIFEST)).resolves.toEqual({ digest: sha256(referrer) });
    await expect(client.putManifest(`${registry.host}/put/ref:v1`, referrer, OCI_MANIFEST)).resolves.toBe(sha256(referrer));
  });
});
