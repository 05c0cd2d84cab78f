import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArtifactClient, type ArtifactClient } from '../../src/artifact/index.js';
import { nextPagePath } from '../../src/artifact/registry-client.js';

const SUBJECT = `sha256:${'a'.repeat(64)}`;
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

function referrer(n: number): { mediaType: string; digest: string; size: number; artifactType: string } {
  return {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${String(n).padStart(64, '0')}`,
    size: 100 + n,
    artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  };
}

describe('the Link header of a paginated answer', () => {
  const origin = 'http://127.0.0.1:5000';

  it('gives the next page within the same origin, relative or absolute', () => {
    expect(nextPagePath('</v2/r/referrers/x?last=b&n=2>; rel="next"', origin)).toBe('/v2/r/referrers/x?last=b&n=2');
    expect(nextPagePath(`<${origin}/v2/r/referrers/x?n=2>; rel=next`, origin)).toBe('/v2/r/referrers/x?n=2');
    expect(nextPagePath('</first>; rel="prev", </second>; rel="next"', origin)).toBe('/second');
  });

  it('gives nothing without a next link', () => {
    expect(nextPagePath(undefined, origin)).toBeUndefined();
    expect(nextPagePath('</v2/r/referrers/x?n=2>; rel="prev"', origin)).toBeUndefined();
  });

  it('refuses a next page on another origin, which would receive the registry credentials', () => {
    expect(() => nextPagePath('<http://127.0.0.2:5000/v2/r/referrers/x>; rel="next"', origin)).toThrow(
      'the next page of the referrers list is on another origin (http://127.0.0.2:5000)',
    );
  });
});

/** A registry answering the referrers API in pages of one descriptor, linked as the distribution spec describes. */
describe('listing referrers over several pages', () => {
  let server: http.Server;
  let host: string;
  let dir: string;
  let artifacts: ArtifactClient;
  const requests: string[] = [];
  let pages = 3;
  let linkTo: (page: number) => string = (page) => `</v2/signed/p/referrers/${SUBJECT}?page=${page}>; rel="next"`;

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      const url = new URL(request.url ?? '/', 'http://localhost');
      if (url.pathname !== `/v2/signed/p/referrers/${SUBJECT}`) {
        response.writeHead(404).end();
        return;
      }
      const page = Number(url.searchParams.get('page') ?? '1');
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [referrer(page)] }));
      const headers: http.OutgoingHttpHeaders = { 'content-type': OCI_INDEX, 'content-length': body.length };
      if (page < pages) headers.link = linkTo(page + 1);
      response.writeHead(200, headers).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(path.join(os.tmpdir(), 'referrers-pages-'));
    artifacts = createArtifactClient({
      stateDir: dir,
      authFile: null,
      registries: { [host]: { insecure: true } },
      retry: { attempts: 1 },
      timeouts: { connectMs: 2000, requestMs: 5000 },
    });
  });

  afterAll(async () => {
    artifacts?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('follows the next links and returns every page in order', async () => {
    requests.length = 0;
    pages = 3;
    const found = await artifacts.registry.listReferrers(`${host}/signed/p`, SUBJECT);
    expect(found).toEqual([referrer(1), referrer(2), referrer(3)]);
    expect(requests).toEqual([
      `GET /v2/signed/p/referrers/${SUBJECT}`,
      `GET /v2/signed/p/referrers/${SUBJECT}?page=2`,
      `GET /v2/signed/p/referrers/${SUBJECT}?page=3`,
    ]);
  });

  it('stops at 32 pages rather than follow a registry that links on and on', async () => {
    requests.length = 0;
    pages = 1000;
    await expect(artifacts.registry.listReferrers(`${host}/signed/p`, SUBJECT)).rejects.toThrow('the referrers list runs past 32 pages');
    expect(requests).toHaveLength(32);
  });

  it('does not follow a link to another origin', async () => {
    requests.length = 0;
    pages = 2;
    linkTo = () => `<http://127.0.0.2:1/v2/signed/p/referrers/${SUBJECT}?page=2>; rel="next"`;
    await expect(artifacts.registry.listReferrers(`${host}/signed/p`, SUBJECT)).rejects.toThrow('on another origin (http://127.0.0.2:1)');
    expect(requests).toHaveLength(1);
  });
});
