import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactError, createArtifactClient, nodePlatform, OCI_INDEX, OCI_MANIFEST, type ArtifactClient, type ArtifactClientOptions } from '../../src/artifact/index.js';
import { sha256 } from '../../testbed/registry.js';
import { sampleProfile } from '../support/artifact/raw-registry.js';

/** A registry stand-in that misbehaves as each test tells it to. */
interface Seen {
  method: string;
  url: string;
  authorization?: string;
  at: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function startServer(): Promise<{ server: http.Server; host: string; seen: Seen[]; handle: (h: Handler) => void }> {
  const seen: Seen[] = [];
  let handler: Handler = (_req, res) => res.writeHead(404).end();
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, at: Date.now() });
    handler(req, res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, host: `127.0.0.1:${port}`, seen, handle: (h) => (handler = h) });
    });
  });
}

const profile = sampleProfile('faults');
const layerDigest = sha256(profile);
const config = Buffer.from('{}\n');

function manifestWith(layers: unknown[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.cncf.seccomp-profile.config.v1+json', digest: sha256(config), size: config.length },
      layers,
    }),
  );
}

const goodManifest = manifestWith([{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: profile.length }]);

function sendJson(res: http.ServerResponse, bytes: Buffer, mediaType = OCI_MANIFEST): void {
  res.writeHead(200, { 'content-type': mediaType, 'content-length': bytes.length, 'docker-content-digest': sha256(bytes) }).end(bytes);
}

/** Serves `manifest` at /v2/f/p/manifests/v1 (and by digest) and hands blob requests to `blob`. */
function artifact(manifest: Buffer, blob: Handler = (_req, res) => res.writeHead(200, { 'content-length': profile.length }).end(profile)): Handler {
  return (req, res) => {
    if (req.url === '/v2/f/p/manifests/v1' || req.url === `/v2/f/p/manifests/${sha256(manifest)}`) sendJson(res, manifest);
    else if (req.url?.startsWith('/v2/f/p/blobs/')) blob(req, res);
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}');
  };
}

let fault: Awaited<ReturnType<typeof startServer>>;
let dir: string;
const clients: ArtifactClient[] = [];
const tempDirs: string[] = [];

async function client(options: Partial<ArtifactClientOptions> = {}): Promise<ArtifactClient> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'artifact-faults-'));
  tempDirs.push(dir);
  const created = createArtifactClient({
    stateDir: dir,
    authFile: null,
    registries: { [fault.host]: { insecure: true } },
    timeouts: { connectMs: 500, requestMs: 800 },
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 2000 },
    ...options,
  });
  clients.push(created);
  return created;
}

async function pullFailure(c: ArtifactClient, ref = `${fault.host}/f/p:v1`): Promise<ArtifactError> {
  const error = await c.pullProfile(ref).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArtifactError);
  return error as ArtifactError;
}

async function storeIsEmpty(): Promise<boolean> {
  const entries = await readdir(dir, { recursive: true });
  return entries.length === 0;
}

beforeAll(async () => {
  fault = await startServer();
});

afterEach(() => {
  fault.seen.length = 0;
});

afterAll(async () => {
  for (const c of clients) c.close();
  fault.server.closeAllConnections();
  await new Promise((resolve) => fault.server.close(resolve));
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

describe('a misbehaving registry', () => {
  it('retries 500 a bounded number of times, then reports RegistryUnavailable', async () => {
    fault.handle((_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('boom'));
    const error = await pullFailure(await client());
    expect(error.reason).toBe('RegistryUnavailable');
    expect(error.message).toBe(`pulling "${fault.host}/f/p:v1": server error (500) after 3 attempts`);
    expect(fault.seen).toHaveLength(3);
    expect(await storeIsEmpty()).toBe(true);
  });

  it('honours Retry-After (seconds and HTTP date) on 429 and caps it', async () => {
    let calls = 0;
    const ok = artifact(goodManifest);
    fault.handle((req, res) => {
      calls += 1;
      if (calls === 1) res.writeHead(429, { 'retry-after': '1' }).end();
      else if (calls === 2) res.writeHead(429, { 'retry-after': new Date(Date.now() + 2000).toUTCString() }).end();
      else if (calls === 3) res.writeHead(503, { 'retry-after': '3600' }).end();
      else ok(req, res);
    });
    const c = await client({ retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 1500 } });
    const pulled = await c.pullProfile(`${fault.host}/f/p:v1`);
    expect(pulled.bytes.equals(profile)).toBe(true);
    const [first, second, third, fourth] = fault.seen.map((s) => s.at);
    // Lower bounds only: a timer never fires early. Seconds, then a date about 1-2 s ahead, then the cap.
    expect(second! - first!).toBeGreaterThanOrEqual(990);
    expect(third! - second!).toBeGreaterThanOrEqual(900);
    expect(fourth! - third!).toBeGreaterThanOrEqual(1490);

    fault.seen.length = 0;
    fault.handle((_req, res) => res.writeHead(429, { 'retry-after': '0' }).end());
    const limited = await pullFailure(await client());
    expect(limited.reason).toBe('RegistryUnavailable');
    expect(limited.message).toBe(`pulling "${fault.host}/f/p:v1": too many requests (429) after 3 attempts`);
    expect(fault.seen).toHaveLength(3);
  });

  it('gives up on a server that never answers', async () => {
    fault.handle(() => undefined);
    const error = await pullFailure(await client());
    expect(error.reason).toBe('RegistryUnavailable');
    expect(error.message).toBe(`pulling "${fault.host}/f/p:v1": no complete response from ${fault.host} within 800 ms`);
    expect(await storeIsEmpty()).toBe(true);
  });

  it('rejects a truncated blob', async () => {
    fault.handle(
      artifact(goodManifest, (_req, res) => {
        res.writeHead(200, { 'content-length': profile.length });
        res.write(profile.subarray(0, 10));
        setTimeout(() => res.destroy(), 20);
      }),
    );
    const error = await pullFailure(await client());
    expect(error.reason).toBe('RegistryUnavailable');
    expect(error.message).toBe(`pulling "${fault.host}/f/p:v1": ${fault.host}: connection closed before the response was complete`);
    expect(await storeIsEmpty()).toBe(true);
  });

  it('rejects a blob whose content does not match its digest', async () => {
    const forged = Buffer.from(profile.toString().replace('ALLOW', 'ERRNO'));
    fault.handle(artifact(goodManifest, (_req, res) => res.writeHead(200, { 'content-length': forged.length }).end(forged)));
    const error = await pullFailure(await client());
    expect(error.reason).toBe('DigestMismatch');
    expect(error.message).toBe(`pulling "${fault.host}/f/p:v1": blob ${layerDigest}: content has digest ${sha256(forged)}, expected ${layerDigest}`);
    expect(await storeIsEmpty()).toBe(true);
  });

  it('rejects a manifest whose content does not match the digest it was asked for', async () => {
    const other = manifestWith([]);
    fault.handle((req, res) => (req.url?.includes('/manifests/') ? sendJson(res, other) : res.writeHead(404).end()));
    const error = await pullFailure(await client(), `${fault.host}/f/p@${sha256(goodManifest)}`);
    expect(error.reason).toBe('DigestMismatch');
    expect(await storeIsEmpty()).toBe(true);
  });

  it('refuses oversized blobs: by descriptor before asking, by Content-Length before reading, by count while streaming', async () => {
    const big = Buffer.alloc(4096, 0x20);
    const bigManifest = manifestWith([{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(big), size: big.length }]);
    fault.handle(artifact(bigManifest, (_req, res) => res.writeHead(200, { 'content-length': big.length }).end(big)));
    const byDescriptor = await pullFailure(await client({ maxArtifactBytes: 1024 }));
    expect(byDescriptor.reason).toBe('TooLarge');
    expect(byDescriptor.message).toBe(`pulling "${fault.host}/f/p:v1": layer ${sha256(big)} (4096 bytes) exceeds the limit of 1024 bytes`);
    expect(fault.seen.map((s) => s.url)).toEqual(['/v2/f/p/manifests/v1']);
    expect(await storeIsEmpty()).toBe(true);

    // The descriptor claims a small size; the server announces more.
    fault.handle(artifact(goodManifest, (_req, res) => res.writeHead(200, { 'content-length': 1 << 30 }).end()));
    const byHeader = await pullFailure(await client({ maxArtifactBytes: profile.length }));
    expect(byHeader.reason).toBe('TooLarge');
    expect(byHeader.message).toBe(`pulling "${fault.host}/f/p:v1": blob ${layerDigest} (1073741824 bytes) exceeds the limit of ${profile.length} bytes`);
    expect(await storeIsEmpty()).toBe(true);

    // No Content-Length: the stream is cut at the limit.
    fault.handle(
      artifact(goodManifest, (_req, res) => {
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = (): void => {
          while (sent < 1 << 24 && res.write(chunk)) sent += chunk.length;
          if (sent < 1 << 24) res.once('drain', pump);
          else res.end();
        };
        res.on('close', () => (sent = 1 << 24));
        pump();
      }),
    );
    const byCount = await pullFailure(await client({ maxArtifactBytes: profile.length }));
    expect(byCount.reason).toBe('TooLarge');
    expect(byCount.message).toBe(`pulling "${fault.host}/f/p:v1": blob ${layerDigest} exceeds the limit of ${profile.length} bytes`);
    expect(await storeIsEmpty()).toBe(true);
  });

  it('rejects HTML where a manifest belongs', async () => {
    fault.handle((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Welcome to nginx!</body></html>'));
    const error = await pullFailure(await client());
    expect(error.reason).toBe('InvalidArtifact');
    expect(error.message).toBe(`pulling "${fault.host}/f/p:v1": manifest is not JSON (Content-Type "text/html")`);
    expect(await storeIsEmpty()).toBe(true);
  });

  it('rejects an artifact with zero layers', async () => {
    fault.handle(artifact(manifestWith([])));
    const error = await pullFailure(await client());
    expect(error.reason).toBe('InvalidArtifact');
    expect(error.message).toBe(`pulling "${fault.host}/f/p:v1": artifact has no layers`);
    expect(await storeIsEmpty()).toBe(true);
  });

  it('rejects an index without a linux entry for this architecture', async () => {
    const platform = nodePlatform();
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: sha256(goodManifest), size: goodManifest.length, platform: { os: 'windows', architecture: platform.architecture } },
          { mediaType: OCI_MANIFEST, digest: sha256(goodManifest), size: goodManifest.length, platform: { os: 'linux', architecture: 'mips64' } },
        ],
      }),
    );
    fault.handle((_req, res) => sendJson(res, index, OCI_INDEX));
    const error = await pullFailure(await client());
    expect(error.reason).toBe('InvalidArtifact');
    expect(error.message).toBe(`pulling "${fault.host}/f/p:v1": index ${sha256(index)} has no linux/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''} entry`);
    expect(await storeIsEmpty()).toBe(true);
  });

  it('follows a blob redirect to another host without the Authorization header', async () => {
    const cdn = await startServer();
    try {
      cdn.handle((_req, res) => res.writeHead(200, { 'content-length': profile.length }).end(profile));
      const ok = artifact(goodManifest, (_req, res) => res.writeHead(307, { location: `http://${cdn.host}/blobs/layer?sig=abc` }).end());
      fault.handle((req, res) => {
        if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="fault"' }).end();
          return;
        }
        ok(req, res);
      });
      const authDir = await mkdtemp(path.join(os.tmpdir(), 'artifact-faults-auth-'));
      tempDirs.push(authDir);
      const authFile = path.join(authDir, 'config.json');
      await writeFile(authFile, JSON.stringify({ auths: { [fault.host]: { username: 'u', password: 'p' } } }));
      const pulled = await (await client({ authFile })).pullProfile(`${fault.host}/f/p:v1`);
      expect(pulled.bytes.equals(profile)).toBe(true);
      const blobRequests = fault.seen.filter((s) => s.url.includes('/blobs/'));
      expect(blobRequests.length).toBeGreaterThanOrEqual(1);
      expect(blobRequests.every((s) => s.authorization !== undefined)).toBe(true);
      expect(cdn.seen).toEqual([expect.objectContaining({ url: '/blobs/layer?sig=abc', authorization: undefined })]);
    } finally {
      cdn.server.closeAllConnections();
      await new Promise((resolve) => cdn.server.close(resolve));
    }
  });

  it('rejects an invalid reference, quoting it, before any request', async () => {
    const c = await client();
    for (const ref of ['UPPER/Case:v1', 'host:5000/p:v1@sha256:abc', 'a/b:' + 'x'.repeat(200), '']) {
      const error = await pullFailure(c, ref);
      expect(error.reason).toBe('InvalidReference');
      expect(error.message.startsWith(`invalid reference "${ref}": `)).toBe(true);
    }
    expect(fault.seen).toEqual([]);
  });
});
