import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient } from '../../../src/artifact/index.js';
import { registrySignatureSource, type SignaturePublisher } from '../../../src/signature/index.js';
import { sha256 } from '../../../testbed/registry.js';

/**
 * An in-memory stand-in for a distribution registry on 127.0.0.1 (port 0), for what Debian's
 * registry 2.8 cannot show: the OCI 1.1 `OCI-Subject` answer to a manifest with a `subject`,
 * and manifests of any size. Speaks just enough of the API for signing and verifying: blob
 * HEAD/POST/PUT/GET, manifest GET/PUT by tag or digest. Every request is recorded as `METHOD path`.
 */
export interface FakeRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `METHOD /path?query` of every request, in order. */
  readonly requests: string[];
  /** Whether a PUT of a manifest with a `subject` is answered with `OCI-Subject` (as a registry with the referrers API does). */
  answerOciSubject: boolean;
  /** Serves `body` at `/v2/<repository>/manifests/<reference>`, with or without a Content-Length. */
  serveManifest(repository: string, reference: string, body: Buffer, options?: { chunked?: boolean }): void;
  stop(): Promise<void>;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function subjectOf(body: Buffer): string | undefined {
  try {
    const digest = (JSON.parse(body.toString('utf8')) as { subject?: { digest?: unknown } }).subject?.digest;
    return typeof digest === 'string' ? digest : undefined;
  } catch {
    return undefined;
  }
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  /** `repository/digest` → bytes: blobs belong to a repository, as in a registry. */
  const blobs = new Map<string, Buffer>();
  /** `repository/reference` → manifest bytes, media type, whether sent without Content-Length. */
  const manifests = new Map<string, { body: Buffer; mediaType: string; chunked: boolean }>();
  const requests: string[] = [];
  let uploads = 0;
  const registry: FakeRegistry = {
    host: '',
    requests,
    answerOciSubject: false,
    serveManifest(repository, reference, body, options = {}) {
      manifests.set(`${repository}/${reference}`, { body, mediaType: 'application/vnd.oci.image.manifest.v1+json', chunked: options.chunked === true });
    },
    stop: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };

  const notFound = (res: http.ServerResponse, code: string): void => {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] }));
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const body = await readBody(req);
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    const upload = /^\/v2\/(.+)\/blobs\/uploads\/(\d*)$/.exec(url.pathname);
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (blob?.[2] !== undefined) {
      const stored = blobs.get(`${blob[1]}/${blob[2]}`);
      if (stored === undefined) return notFound(res, 'BLOB_UNKNOWN');
      res.writeHead(200, { 'content-length': stored.length, 'docker-content-digest': blob[2] });
      res.end(req.method === 'HEAD' ? undefined : stored);
      return;
    }
    if (upload?.[1] !== undefined && req.method === 'POST') {
      uploads += 1;
      res.writeHead(202, { location: `/v2/${upload[1]}/blobs/uploads/${uploads}`, 'content-length': 0 }).end();
      return;
    }
    if (upload !== null && req.method === 'PUT') {
      const digest = url.searchParams.get('digest') ?? '';
      if (sha256(body) !== digest) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"errors":[{"code":"DIGEST_INVALID"}]}');
        return;
      }
      blobs.set(`${upload[1]}/${digest}`, body);
      res.writeHead(201, { location: `/v2/${upload[1]}/blobs/${digest}`, 'docker-content-digest': digest, 'content-length': 0 }).end();
      return;
    }
    if (manifest?.[1] !== undefined && manifest[2] !== undefined) {
      const [, repository, reference] = manifest;
      if (req.method === 'PUT') {
        const digest = sha256(body);
        const entry = { body, mediaType: req.headers['content-type'] ?? '', chunked: false };
        manifests.set(`${repository}/${reference}`, entry);
        manifests.set(`${repository}/${digest}`, entry);
        const subject = subjectOf(body);
        const headers: http.OutgoingHttpHeaders = { location: `/v2/${repository}/manifests/${digest}`, 'docker-content-digest': digest, 'content-length': 0 };
        if (registry.answerOciSubject && subject !== undefined) headers['oci-subject'] = subject;
        res.writeHead(201, headers).end();
        return;
      }
      const stored = manifests.get(`${repository}/${reference}`);
      if (stored === undefined) return notFound(res, 'MANIFEST_UNKNOWN');
      const headers: http.OutgoingHttpHeaders = { 'content-type': stored.mediaType, 'docker-content-digest': sha256(stored.body) };
      if (!stored.chunked) headers['content-length'] = stored.body.length;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : stored.body);
      return;
    }
    notFound(res, 'NAME_UNKNOWN');
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registry.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return registry;
}

export interface FakeRegistryWithSource {
  registry: FakeRegistry;
  /** A client for the fake (plain HTTP, no retries) and the signature source over it. */
  client: RegistryClient;
  source: SignaturePublisher;
  stop(): Promise<void>;
}

export async function startFakeRegistryWithSource(): Promise<FakeRegistryWithSource> {
  const registry = await startFakeRegistry();
  const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } }, retry: { attempts: 1 } });
  return {
    registry,
    client,
    source: registrySignatureSource(client),
    async stop() {
      client.close();
      await registry.stop();
    },
  };
}
