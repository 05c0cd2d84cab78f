import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactError, createArtifactClient, type ArtifactClient } from '../../src/artifact/index.js';

let server: http.Server;
let host: string;
let dir: string;
let client: ArtifactClient | undefined;
let requests = 0;

beforeEach(async () => {
  requests = 0;
  dir = await mkdtemp(path.join(os.tmpdir(), 'pull-deadline-'));
  // Every answer comes just within the per-request timeout, and asks to be retried.
  server = http.createServer((_req, res) => {
    requests += 1;
    setTimeout(() => res.writeHead(503, { 'content-type': 'text/plain' }).end('busy'), 400);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  client?.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('one pull', () => {
  it('ends at its overall deadline however many retries each request would still get', async () => {
    client = createArtifactClient({
      stateDir: dir,
      authFile: null,
      registries: { [host]: { insecure: true } },
      timeouts: { connectMs: 500, requestMs: 800 },
      retry: { attempts: 50, baseDelayMs: 10, maxDelayMs: 10 },
      pullTimeoutMs: 1500,
    });
    const error = await client.pullProfile(`${host}/f/p:v1`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).reason).toBe('RegistryUnavailable');
    expect((error as ArtifactError).message).toBe(`pulling "${host}/f/p:v1": not complete within 1.5 s (pull_timeout)`);
    // 50 attempts of 400 ms would take 20 s; the deadline stops them after a handful.
    expect(requests).toBeGreaterThanOrEqual(1);
    expect(requests).toBeLessThanOrEqual(5);
    expect(await readdir(dir, { recursive: true })).toEqual([]);
  });
});
