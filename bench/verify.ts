/**
 * What signature verification adds to a profile pull, measured against a real registry
 * (Debian's docker-registry on loopback): `npx tsx bench/verify.ts [iterations]`.
 *
 * - pull: manifest by tag + profile blob, the work verification is added to (for scale);
 * - cold verify: a verifier with an empty cache (signature discovery in both places, payload
 *   fetch, crypto), connections already open as they would be right after the pull;
 * - warm verify: the same (digest, rule) again, answered from the in-memory cache;
 * - keyless cold verify: certificate chain, SCT and Rekor inclusion promise checked too.
 */
import { sign } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { createSignatureVerifier, signArtifact, type SignaturePolicy } from '../src/signature/index.js';
import { buildSimpleSigningPayload } from '../src/signature/simple-signing.js';
import { privateKeyPem, profileAllowing, startSignatureTestbed } from '../testbed/signature/testbed.js';

const iterations = Number(process.argv[2] ?? 200);

function summary(label: string, samples: number[]): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  console.log(`${label.padEnd(34)} n=${samples.length}  p50 ${at(0.5).toFixed(3)} ms  p95 ${at(0.95).toFixed(3)} ms  mean ${mean.toFixed(3)} ms`);
}

async function time(count: number, fn: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return samples;
}

async function main(): Promise<void> {
  const bed = await startSignatureTestbed({ tempPrefix: 'bench-verify-' });
  const { registry, client, source, pki, trustedRoot } = bed;
  try {
    const profile = profileAllowing('read');

    const signedDigest = await bed.push('bench/signed', 'v1', profile);
    await signArtifact({ client: source, registry: registry.host, repository: 'bench/signed', digest: signedDigest, privateKeyPem: privateKeyPem(bed.publisher.privateKey) });
    const keyPolicy: SignaturePolicy = { default: { mode: 'required', keys: [bed.publisherPub] } };
    const request = { reference: `${registry.host}/bench/signed:v1`, registry: registry.host, repository: 'bench/signed', digest: signedDigest };

    const keylessDigest = await bed.push('bench/keyless', 'v1', Buffer.concat([profile, Buffer.from(' ')]));
    const leaf = pki.issueLeaf({ san: 'email:alice@example.com', issuer: 'https://issuer.test' });
    const payload = buildSimpleSigningPayload(`${registry.host}/bench/keyless`, keylessDigest);
    const signature = sign('sha256', payload, leaf.privateKey);
    const payloadBlob = await source.putBlob(registry.host, 'bench/keyless', payload);
    const configBlob = await source.putBlob(registry.host, 'bench/keyless', Buffer.from('{}'));
    const sigManifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: [{
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...payloadBlob,
        annotations: {
          'dev.cosignproject.cosign/signature': signature.toString('base64'),
          'dev.sigstore.cosign/certificate': leaf.pem,
          'dev.sigstore.cosign/bundle': pki.rekorBundle(payload, signature, leaf.pem),
        },
      }],
    };
    await source.putManifest(registry.host, 'bench/keyless', `${keylessDigest.replace(':', '-')}.sig`, Buffer.from(JSON.stringify(sigManifest)), sigManifest.mediaType);
    const keylessPolicy: SignaturePolicy = { default: { mode: 'required', trustedRoot, identities: [{ issuer: 'https://issuer.test', subject: 'alice@example.com' }] } };
    const keylessRequest = { reference: 'keyless', registry: registry.host, repository: 'bench/keyless', digest: keylessDigest };

    // Warm-up: JIT, connections, registry caches.
    for (let i = 0; i < 20; i++) {
      await createSignatureVerifier(keyPolicy, source).verifyArtifact(request);
      await createSignatureVerifier(keylessPolicy, source).verifyArtifact(keylessRequest);
    }

    const pull = await time(iterations, async () => {
      const manifest = await client.getManifest({ registry: registry.host, repository: 'bench/signed', tag: 'v1' });
      const layer = manifest.manifest.layers[0];
      if (!layer) throw new Error('profile manifest has no layer');
      await client.getBlob(manifest.reference, layer.digest, { maxBytes: 1 << 20 });
    });
    // Verifiers are made up front: the shim makes one at startup, so compiling the policy is not per pull.
    const coldVerifiers = Array.from({ length: iterations }, () => createSignatureVerifier(keyPolicy, source));
    const coldKeylessVerifiers = Array.from({ length: iterations }, () => createSignatureVerifier(keylessPolicy, source));
    let next = 0;
    const cold = await time(iterations, () => coldVerifiers[next++]!.verifyArtifact(request));
    const shared = createSignatureVerifier(keyPolicy, source);
    await shared.verifyArtifact(request);
    const warm = await time(iterations * 10, () => shared.verifyArtifact(request));
    next = 0;
    const coldKeyless = await time(iterations, () => coldKeylessVerifiers[next++]!.verifyArtifact(keylessRequest));

    console.log(`node ${process.version}, registry ${registry.host} (docker-registry 2.8, loopback, no referrers API), ${os.cpus().length} CPUs`);
    summary('pull (manifest by tag + blob)', pull);
    summary('cold verify, key (cosign tag)', cold);
    summary('warm verify (cache hit)', warm);
    summary('cold verify, keyless (SCT + SET)', coldKeyless);
  } finally {
    await bed.stop();
  }
}

await main();
