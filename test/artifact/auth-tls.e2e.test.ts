import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactError, createArtifactClient, type ArtifactClient, type ArtifactClientOptions } from '../../src/artifact/index.js';
import { startCountingProxy, startRegistry, type TestRegistry } from '../../testbed/registry.js';
import { sampleProfile } from '../support/artifact/raw-registry.js';

const tempDirs: string[] = [];
const clients: ArtifactClient[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'artifact-auth-'));
  tempDirs.push(dir);
  return dir;
}

async function authFile(auths: Record<string, Record<string, string>>): Promise<string> {
  const file = path.join(await tempDir(), 'config.json');
  await writeFile(file, JSON.stringify({ auths }));
  return file;
}

async function client(options: Partial<ArtifactClientOptions>): Promise<ArtifactClient> {
  const created = createArtifactClient({
    stateDir: await tempDir(),
    authFile: null,
    timeouts: { connectMs: 2000, requestMs: 5000 },
    retry: { attempts: 1 },
    ...options,
  });
  clients.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<ArtifactError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArtifactError);
  return error as ArtifactError;
}

afterAll(async () => {
  for (const c of clients) c.close();
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe('basic auth (htpasswd)', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: { htpasswd: { username: 'alice', password: 's3cret' } } });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes and pulls with credentials from a docker config file; refuses without them', async () => {
    const registries = { [registry.host]: { insecure: true } };
    const file = await authFile({ [`http://${registry.host}`]: { auth: Buffer.from('alice:s3cret').toString('base64') } });
    const c = await client({ registries, authFile: file });
    const profile = sampleProfile('basic');
    const pushed = await c.push({ reference: `${registry.host}/basic/p:v1`, profile });
    c.registry.requestCount = 0;
    const pulled = await c.pullProfile(`${registry.host}/basic/p:v1`);
    expect(pulled.bytes.equals(profile)).toBe(true);
    expect(pulled.manifestDigest).toBe(pushed.digest);
    // The basic header learnt during the push is sent up front: no 401 round trip.
    expect(c.registry.requestCount).toBe(2);

    const fields = await client({ registries, authFile: await authFile({ [registry.host]: { username: 'alice', password: 's3cret' } }) });
    expect((await fields.pullProfile(`${registry.host}/basic/p:v1`)).bytes.equals(profile)).toBe(true);

    const anonymous = await failure((await client({ registries })).pullProfile(`${registry.host}/basic/p:v1`));
    expect(anonymous.reason).toBe('Unauthorized');
    expect(anonymous.message).toBe(`pulling "${registry.host}/basic/p:v1": ${registry.host} asks for basic auth and no credentials are configured for it`);

    const wrong = await client({ registries, authFile: await authFile({ [registry.host]: { username: 'alice', password: 'nope' } }) });
    const denied = await failure(wrong.pullProfile(`${registry.host}/basic/p:v1`));
    expect(denied.reason).toBe('Unauthorized');
    expect(denied.message).toMatch(/\(401\)$/);
  });
});

describe('token auth (bearer tokens from a token server)', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({
      auth: { token: { users: { bob: 'hunter2' }, refreshTokens: { 'refresh-for-bob': 'bob' }, anonymousPull: true, expiresIn: 1 } },
    });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes with a password, pulls anonymously, caches tokens per scope until they expire', async () => {
    const registries = { [registry.host]: { insecure: true } };
    const token = registry.token!;
    const withPassword = await client({ registries, authFile: await authFile({ [registry.host]: { auth: Buffer.from('bob:hunter2').toString('base64') } }) });
    const profile = sampleProfile('token');
    await withPassword.push({ reference: `${registry.host}/tok/p:v1`, profile });
    expect(token.requests.at(-1)).toMatchObject({ method: 'GET', account: 'bob', scope: ['repository:tok/p:pull,push'] });

    const anonymous = await client({ registries });
    const before = token.requests.length;
    anonymous.registry.requestCount = 0;
    const pulled = await anonymous.pullProfile(`${registry.host}/tok/p:v1`);
    expect(pulled.bytes.equals(profile)).toBe(true);
    // 401, token, manifest, blob: the token is reused for the blob.
    expect(anonymous.registry.requestCount).toBe(3);
    expect(token.requests.slice(before)).toEqual([{ method: 'GET', scope: ['repository:tok/p:pull'], account: undefined }]);

    await anonymous.registry.getManifest(`${registry.host}/tok/p@${pulled.manifestDigest}`);
    expect(token.requests.length).toBe(before + 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await anonymous.registry.getManifest(`${registry.host}/tok/p@${pulled.manifestDigest}`);
    expect(token.requests.length).toBe(before + 2);
  });

  it('exchanges an identity token with the refresh_token grant', async () => {
    const registries = { [registry.host]: { insecure: true } };
    const c = await client({ registries, authFile: await authFile({ [registry.host]: { identitytoken: 'refresh-for-bob' } }) });
    const profile = sampleProfile('identity token');
    const pushed = await c.push({ reference: `${registry.host}/tok/identity:v1`, profile });
    expect(registry.token!.requests.at(-1)).toMatchObject({ method: 'POST', grant: 'refresh_token', account: 'bob' });
    const pulled = await c.pullProfile(`${registry.host}/tok/identity:v1`);
    expect(pulled.manifestDigest).toBe(pushed.digest);

    const bad = await client({ registries, authFile: await authFile({ [registry.host]: { identitytoken: 'stolen' } }) });
    const error = await failure(bad.pullProfile(`${registry.host}/tok/identity:v1`));
    expect(error.reason).toBe('Unauthorized');
    expect(error.message).toContain('token endpoint');
  });

  it('fails with Unauthorized when the token grants no push', async () => {
    const registries = { [registry.host]: { insecure: true } };
    const anonymous = await client({ registries });
    const error = await failure(anonymous.push({ reference: `${registry.host}/tok/nopush:v1`, profile: sampleProfile() }));
    expect(error.reason).toBe('Unauthorized');
    expect(error.message).toMatch(new RegExp(`^pushing "${registry.host}/tok/nopush:v1": .*\\(401\\)$`));
  });
});

describe('TLS', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ tls: true });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('trusts the registry through its CA file and refuses it without', async () => {
    const c = await client({ registries: { [registry.host]: { caFile: registry.caFile! } } });
    const profile = sampleProfile('tls');
    const pushed = await c.push({ reference: `${registry.host}/tls/p:v1`, profile });
    const pulled = await (await client({ registries: { [registry.host]: { caFile: registry.caFile! } } })).pullProfile(`${registry.host}/tls/p:v1`);
    expect(pulled.bytes.equals(profile)).toBe(true);
    expect(pulled.manifestDigest).toBe(pushed.digest);

    const untrusted = await failure((await client({})).pullProfile(`${registry.host}/tls/p:v1`));
    expect(untrusted.reason).toBe('RegistryUnavailable');
    expect(untrusted.message).toMatch(/certificate/i);
  });

  it('never falls back to plain HTTP for a registry not listed as insecure', async () => {
    const plain = await startCountingProxy(registry.host);
    try {
      const error = await failure((await client({})).pullProfile(`${plain.host}/tls/p:v1`));
      expect(error.reason).toBe('RegistryUnavailable');
      expect(plain.requests).toEqual([]);
    } finally {
      await plain.stop();
    }
  });
});
