import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OCI_MANIFEST } from '../../src/artifact/index.js';
import { attachBundleReferrer } from '../../src/signature/index.js';
import { sha256 } from '../../testbed/registry.js';
import { startFakeRegistryWithSource, type FakeRegistryWithSource } from '../support/signature/fake-registry.js';

const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

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

// A fresh registry per test: its request log and upload numbers start from nothing.
let fake: FakeRegistryWithSource;

beforeEach(async () => {
  fake = await startFakeRegistryWithSource();
});

afterEach(async () => {
  await fake?.stop();
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
  fake.registry.serveManifest(repository, subjectDigest, subject);
  return attachBundleReferrer({ client: fake.source, registry: fake.registry.host, repository, digest: subjectDigest, bundle, content: 'dsse-envelope' });
}

describe('attaching a bundle referrer and the OCI-Subject answer', () => {
  it('leaves the referrers tag alone when the registry answers OCI-Subject', async () => {
    fake.registry.answerOciSubject = true;
    const attached = await attach('with/api');
    expect(attached.tagUpdated).toBe(false);
    expect(fake.registry.requests).toEqual(attachRequests('with/api', attached.digest));
  });

  it('maintains the referrers tag when the registry does not answer OCI-Subject', async () => {
    fake.registry.answerOciSubject = false;
    const attached = await attach('without/api');
    expect(attached.tagUpdated).toBe(true);
    const tag = `sha256-${subjectDigest.slice('sha256:'.length)}`;
    expect(fake.registry.requests).toEqual([...attachRequests('without/api', attached.digest), `GET /v2/without/api/manifests/${tag}`, `PUT /v2/without/api/manifests/${tag}`]);
    const index = await fake.source.getManifest(fake.registry.host, 'without/api', tag);
    expect(JSON.parse(index!.body.toString())).toMatchObject({ manifests: [{ digest: attached.digest, artifactType: BUNDLE_TYPE }] });
  });

  it('hands the OCI-Subject header of a manifest PUT to the signature source, and nothing when it is absent', async () => {
    const referrer = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: 2 }, layers: [], subject: { mediaType: OCI_MANIFEST, digest: subjectDigest, size: subject.length } }));
    fake.registry.answerOciSubject = true;
    await expect(fake.source.putManifest(fake.registry.host, 'put/ref', sha256(referrer), referrer, OCI_MANIFEST)).resolves.toEqual({ digest: sha256(referrer), ociSubject: subjectDigest });
    fake.registry.answerOciSubject = false;
    await expect(fake.source.putManifest(fake.registry.host, 'put/ref', sha256(referrer), referrer, OCI_MANIFEST)).resolves.toEqual({ digest: sha256(referrer) });
    await expect(fake.client.putManifest(`${fake.registry.host}/put/ref:v1`, referrer, OCI_MANIFEST)).resolves.toEqual({ digest: sha256(referrer) });
  });
});
