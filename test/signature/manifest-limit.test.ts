import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OCI_MANIFEST, RegistryClient } from '../../src/artifact/index.js';
import { MAX_SIGNATURE_BLOB_BYTES } from '../../src/signature/candidates.js';
import { createSignatureVerifier, registrySignatureSource, SignatureError, type SignatureSource } from '../../src/signature/index.js';
import { startFakeRegistry, type FakeRegistry } from './support/fake-registry.js';

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

let registry: FakeRegistry;
let client: RegistryClient;
let source: SignatureSource;

beforeEach(async () => {
  registry = await startFakeRegistry();
  client = new RegistryClient({ registries: { [registry.host]: { insecure: true } }, retry: { attempts: 1 } });
  source = registrySignatureSource(client);
});

afterEach(async () => {
  client?.close();
  await registry?.stop();
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
    expect(client.maxManifestBytes).toBeGreaterThan(MAX_SIGNATURE_BLOB_BYTES);
  });

  it('reads a signature manifest of exactly the limit', async () => {
    const body = manifestOfSize(MAX_SIGNATURE_BLOB_BYTES);
    registry.serveManifest('sig/at', sigTag, body);
    const fetched = await source.getManifest(registry.host, 'sig/at', sigTag);
    expect(fetched?.body.equals(body)).toBe(true);
    expect(fetched?.digest).toBe(`sha256:${createHash('sha256').update(body).digest('hex')}`);
  });

  it('refuses one byte more by its Content-Length, naming the limit and the reference', async () => {
    registry.serveManifest('sig/over', sigTag, manifestOfSize(MAX_SIGNATURE_BLOB_BYTES + 1));
    const error = await failure(source.getManifest(registry.host, 'sig/over', sigTag));
    expect(error.message).toBe(`pulling "${registry.host}/sig/over:${sigTag}": manifest (${MAX_SIGNATURE_BLOB_BYTES + 1} bytes) exceeds the limit of ${MAX_SIGNATURE_BLOB_BYTES} bytes`);
  });

  it('refuses one byte more sent without a Content-Length, once the count passes the limit', async () => {
    registry.serveManifest('sig/chunked', sigTag, manifestOfSize(MAX_SIGNATURE_BLOB_BYTES + 1), { chunked: true });
    const error = await failure(source.getManifest(registry.host, 'sig/chunked', sigTag));
    expect(error.message).toBe(`pulling "${registry.host}/sig/chunked:${sigTag}": manifest exceeds the limit of ${MAX_SIGNATURE_BLOB_BYTES} bytes`);
  });

  it('fails a required signature check with that reason rather than reading on', async () => {
    registry.serveManifest('sig/verify', sigTag, manifestOfSize(2 * MAX_SIGNATURE_BLOB_BYTES), { chunked: true });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sig-limit-'));
    let error: Error;
    try {
      const key = path.join(dir, 'publisher.pub');
      writeFileSync(key, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
      const verifier = createSignatureVerifier({ default: { mode: 'required', keys: [key] } }, source);
      error = await failure(verifier.verifyArtifact({ reference: 'sig/verify', registry: registry.host, repository: 'sig/verify', digest: subjectDigest }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(error).toBeInstanceOf(SignatureError);
    expect(error.message).toContain(`pulling "${registry.host}/sig/verify:${sigTag}": manifest exceeds the limit of ${MAX_SIGNATURE_BLOB_BYTES} bytes`);
  });
});
