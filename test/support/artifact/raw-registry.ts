import http from 'node:http';
import { sha256 } from '../../../testbed/registry.js';

/**
 * Writes to a registry with bare HTTP requests, independently of src/artifact, so tests can
 * check the client against content it did not produce itself.
 */
function send(method: string, url: URL, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

export async function rawPutBlob(host: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const started = await send('POST', new URL(`http://${host}/v2/${repository}/blobs/uploads/`), { 'content-length': '0' });
  if (started.status !== 202) throw new Error(`POST upload: ${started.status} ${started.body.toString()}`);
  const location = new URL(String(started.headers.location), `http://${host}`);
  location.searchParams.set('digest', digest);
  const put = await send('PUT', location, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }, bytes);
  if (put.status !== 201) throw new Error(`PUT blob: ${put.status} ${put.body.toString()}`);
  return digest;
}

export async function rawPutManifest(host: string, repository: string, tag: string, manifest: unknown, mediaType: string): Promise<{ digest: string; bytes: Buffer }> {
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const put = await send('PUT', new URL(`http://${host}/v2/${repository}/manifests/${tag}`), { 'content-type': mediaType }, bytes);
  if (put.status !== 201) throw new Error(`PUT manifest: ${put.status} ${put.body.toString()}`);
  return { digest: sha256(bytes), bytes };
}

/** PUTs a manifest's exact bytes (as Go's json.Marshal wrote them, say), not re-serialized. */
export async function rawPutManifestBytes(host: string, repository: string, tag: string, bytes: Buffer, mediaType: string): Promise<string> {
  const put = await send('PUT', new URL(`http://${host}/v2/${repository}/manifests/${tag}`), { 'content-type': mediaType }, bytes);
  if (put.status !== 201) throw new Error(`PUT manifest: ${put.status} ${put.body.toString()}`);
  return sha256(bytes);
}

export async function rawGet(host: string, path: string, accept?: string): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return send('GET', new URL(`http://${host}${path}`), accept ? { accept } : {});
}

/** The artifact of the seed (quay.io/crio/seccomp:v2): config `{}\n` typed as a seccomp profile, one layer titled seccomp.json holding the raw JSON. */
export async function pushSeedShapedArtifact(host: string, repository: string, tag: string, profile: Buffer): Promise<{ digest: string; layerDigest: string; manifest: Buffer }> {
  const config = Buffer.from('{}\n');
  const configDigest = await rawPutBlob(host, repository, config);
  const layerDigest = await rawPutBlob(host, repository, profile);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.cncf.seccomp-profile.config.v1+json', digest: configDigest, size: config.length },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: layerDigest,
        size: profile.length,
        annotations: { 'org.opencontainers.image.title': 'seccomp.json' },
      },
    ],
    annotations: { 'org.opencontainers.image.created': '2024-02-26T09:03:30Z' },
  };
  const put = await rawPutManifest(host, repository, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
  return { digest: put.digest, layerDigest, manifest: put.bytes };
}

/** A small but real seccomp profile in Docker's format (what the seed's artifact holds). */
export function sampleProfile(extra = ''): Buffer {
  return Buffer.from(
    `${JSON.stringify(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, comment: extra }],
      },
      null,
      2,
    )}\n`,
  );
}
