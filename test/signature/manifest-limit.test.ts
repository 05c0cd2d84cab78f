import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OCI_MANIFEST } from '../../src/artifact/index.js';
import { MAX_SIGNATURE_BLOB_BYTES } from '../../src/signature/candidates.js';
import { createSignatureVerifier, SignatureError } from '../../src/signature/index.js';
import { sha256 } from '../../testbed/registry.js';
import { startFakeRegistryWithSource, type FakeRegistryWithSource } from '../support/signature/fake-registry.js';

const subjectDigest = `sha256:${'a'.repeat(64)}`;
const sigTag = `sha256-${'a'.repeat(64)}.sig`;

/** A valid OCI manifest of exactly `size` bytes, padded in an annotation. */
function manifestOfSize(size: number): Buffer {
  const shaped = (pad: string): Buffer =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 2 },
        layers: [],
        annotations: { pad },
      }),
    );
  const body = shaped('x'.repeat(size - shaped('').length));
  expect(body.length).toBe(size);
  return body;
}

let fake: FakeRegistryWithSource;

beforeEach(async () => {
  fake = await startFakeRegistryWithSource();
});

afterEach(async () => {
  await fake?.stop();
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('reading the manifest unexpectedly succeeded');
}

describe('signature manifests are read under the signature limit', () => {
  it('is 1 MiB, below the artifact module limit for manifests', () => {
    expect(MAX_SIGNATURE_BLOB_BYTES).toBe(1024 * 1024);
    expect(fake.client.maxManifestBytes).toBeGreaterThan(MAX_SIGNATURE_BLOB_BYTES);
  });

  it('reads a signature manifest of exactly the limit', async () => {
    const body = manifestOfSize(MAX_SIGNATURE_BLOB_BYTES);
    fake.registry.serveManifest('sig/at', sigTag, body);
    const fetched = await fake.source.getManifest(fake.registry.host, 'sig/at', sigTag);
    expect(fetched?.body.equals(body)).toBe(true);
    expect(fetched?.digest).toBe(sha256(body));
  });

  it('refuses one byte more by its Content-Length, naming the limit and the reference', async () => {
    fake.registry.serveManifest('sig/over', sigTag, manifestOfSize(MAX_SIGNATURE_BLOB_BYTES + 1));
    const error = await failure(fake.source.getManifest(fake.registry.host, 'sig/over', sigTag));
    expect(error.message).toBe(`pulling "${fake.registry.host}/sig/over:${sigTag}": manifest (${MAX_SIGNATURE_BLOB_BYTES + 1} bytes) exceeds the limit of ${MAX_SIGNATURE_BLOB_BYTES} bytes`);
  });

  it('refuses one byte more sent without a Content-Length, once the count passes the limit', async () => {
    fake.registry.serveManifest('sig/chunked', sigTag, manifestOfSize(MAX_SIGNATURE_BLOB_BYTES + 1), { chunked: true });
    const error = await failure(fake.source.getManifest(fake.registry.host, 'sig/chunked', sigTag));
    expect(error.message).toBe(`pulling "${fake.registry.host}/sig/chunked:${sigTag}": manifest exceeds the limit of ${MAX_SIGNATURE_BLOB_BYTES} bytes`);
  });

  it('fails a required signature check with that reason rather than reading on', async () => {
    fake.registry.serveManifest('sig/verify', sigTag, manifestOfSize(2 * MAX_SIGNATURE_BLOB_BYTES), { chunked: true });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sig-limit-'));
    let error: Error;
    try {
      const key = path.join(dir, 'publisher.pub');
      writeFileSync(key, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
      const verifier = createSignatureVerifier({ default: { mode: 'required', keys: [key] } }, fake.source);
      error = await failure(verifier.verifyArtifact({ reference: 'sig/verify', registry: fake.registry.host, repository: 'sig/verify', digest: subjectDigest }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(error).toBeInstanceOf(SignatureError);
    expect(error.message).toContain(`pulling "${fake.registry.host}/sig/verify:${sigTag}": manifest exceeds the limit of ${MAX_SIGNATURE_BLOB_BYTES} bytes`);
  });
});
