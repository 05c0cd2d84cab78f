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
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RegistryClient } from '../src/artifact/index.js';
import { pushProfile } from '../src/artifact/push.js';
import { createSignatureVerifier, registrySignatureSource, signArtifact, type SignaturePolicy } from '../src/signature/index.js';
import { buildSimpleSigningPayload } from '../src/signature/simple-signing.js';
import { startRegistry } from '../test/support/registry.js';
import { TestSigstore } from '../test/signature/support/pki.js';

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
  const registry = await startRegistry();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-verify-'));
  const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
  try {
    const source = registrySignatureSource(client);
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = path.join(dir, 'publisher.pub');
    writeFileSync(pub, keys.publicKey.export({ type: 'spki', format: 'pem' }));
    const profile = Buffer.from(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] }));

    const signed = await pushProfile(client, { reference: `${registry.host}/bench/signed:v1`, profile, created: null });
    await signArtifact({ client: source, registry: registry.host, repository: 'bench/signed', digest: signed.digest, privateKeyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) });
    const keyPolicy: SignaturePolicy = { default: { mode: 'required', keys: [pub] } };
    const request = { reference: `${registry.host}/bench/signed:v1`, registry: registry.host, repository: 'bench/signed', digest: signed.digest };

    const pki = new TestSigstore(dir);
    const trustedRoot = pki.writeTrustedRoot();
    const keyless = await pushProfile(client, { reference: `${registry.host}/bench/keyless:v1`, profile: Buffer.concat([profile, Buffer.from(' ')]), created: null });
    const leaf = pki.issueLeaf({ san: 'email:alice@example.com', issuer: 'https://issuer.test' });
    const payload = buildSimpleSigningPayload(`${registry.host}/bench/keyless`, keyless.digest);
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
    await source.putManifest(registry.host, 'bench/keyless', `${keyless.digest.replace(':', '-')}.sig`, Buffer.from(JSON.stringify(sigManifest)), sigManifest.mediaType);
    const keylessPolicy: SignaturePolicy = { default: { mode: 'required', trustedRoot, identities: [{ issuer: 'https://issuer.test', subject: 'alice@example.com' }] } };
    const keylessRequest = { reference: 'keyless', registry: registry.host, repository: 'bench/keyless', digest: keyless.digest };

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
    client.close();
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
