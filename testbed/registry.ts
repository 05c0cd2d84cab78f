import { createHash, createSign, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { StartedTestContainer } from 'testcontainers';
import {
  freeTcpPort,
  makeTempDir,
  removeDirSync,
  runCommand,
  startProcess,
  waitUntil,
  type ManagedProcess,
} from './processes.js';
import { CONTAINER_CONFIG_DIR, onPath, registryBackend, startRegistryContainer, type RegistryBackend } from './registry-engine.js';

/**
 * A real OCI registry for tests: CNCF distribution 2.8 (Debian's `docker-registry`, in a
 * container or as a process) on 127.0.0.1, optionally with basic auth (htpasswd), token auth (a token server of the test's own
 * issuing JWTs the registry trusts), and TLS (a CA made by the test with openssl).
 */

export interface TokenServerOptions {
  /** username → password accepted at the token endpoint (GET with Basic auth). */
  users?: Record<string, string>;
  /** refresh token → username, for the OAuth2 `refresh_token` grant (Docker's `identitytoken`). */
  refreshTokens?: Record<string, string>;
  /** Whether an anonymous request gets pull access; true by default. */
  anonymousPull?: boolean;
  /** `expires_in` of the issued tokens, seconds; 300 by default. */
  expiresIn?: number;
}

export interface RegistryOptions {
  auth?: { htpasswd: { username: string; password: string } } | { token: TokenServerOptions };
  /** Serve HTTPS with a certificate for 127.0.0.1 from a fresh test CA. */
  tls?: boolean;
  /**
   * Overrides the run's choice, for the helper's own tests: `process`, or `published-port`, a
   * container on the engine's bridge network with its port published, as on a laptop.
   */
  runAs?: 'process' | 'published-port';
}

export interface TokenServer {
  url: string;
  /** Requests the token endpoint answered, in order. */
  readonly requests: { method: string; scope: string[]; account?: string; grant?: string }[];
  stop(): Promise<void>;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`: a reference prefix and the key of the client's `registries` config. */
  host: string;
  /** `http://127.0.0.1:PORT` or `https://...`. */
  url: string;
  /** A temp directory of the registry's own (its certificates, logs), removed by `stop`. */
  dir: string;
  /** The registry's process, when it runs as one. */
  process?: ManagedProcess;
  /** The registry's container, when it runs in one. */
  container?: StartedTestContainer;
  /** The CA that signed the registry's certificate (when `tls`). */
  caFile?: string;
  token?: TokenServer;
  stop(): Promise<void>;
}

/** A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl CLI. */
export async function makeTestCertificates(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.pem');
  const keyFile = path.join(dir, 'server.key');
  const csr = path.join(dir, 'server.csr');
  const certFile = path.join(dir, 'server.pem');
  const ext = path.join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await runCommand('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=seccomp-oci-shim test CA']);
  await runCommand('openssl', ['req', ...ec, '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1']);
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await runCommand('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { caFile, certFile, keyFile };
}

/**
 * An htpasswd line with a bcrypt hash, the only format distribution accepts. Made by Apache's
 * `htpasswd` where it is installed (apache2-utils; macOS ships it), else by the system's crypt(3)
 * through perl (glibc's libxcrypt does bcrypt, macOS's crypt does not).
 */
export async function htpasswdLine(username: string, password: string): Promise<string> {
  if (onPath('htpasswd')) {
    const line = (await runCommand('htpasswd', ['-n', '-b', '-B', '-C', '5', username, password])).trim();
    if (!/^[^:]+:\$2[aby]\$05\$.{53}$/.test(line)) throw new Error(`htpasswd did not produce a bcrypt line: "${line}"`);
    return `${line}\n`;
  }
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(21);
  // The 22nd salt character carries 2 bits only; these four are its canonical values.
  const salt = [...bytes].map((b) => alphabet[b % 64]).join('') + '.Oeu'[randomBytes(1)[0]! % 4];
  const hash = (await runCommand('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`])).trim();
  if (!hash.startsWith('$2b$05$') || hash.length !== 60) throw new Error(`perl crypt did not produce a bcrypt hash: "${hash}"`);
  return `${username}:${hash}\n`;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A token server as in distribution's token spec: GET with optional Basic auth, or POST with the
 * refresh_token grant; answers JWTs signed with a key whose self-signed certificate the registry
 * trusts (`rootcertbundle`), carried in the JWT's `x5c` header.
 */
async function startTokenServer(
  dir: string,
  options: TokenServerOptions,
  service: string,
  issuer: string,
): Promise<TokenServer & { certFile: string; port: number }> {
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.pem');
  await runCommand('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=token-issuer']);
  const key = readFileSync(keyFile, 'utf8');
  const certDer = new X509Certificate(readFileSync(certFile)).raw;
  const expiresIn = options.expiresIn ?? 300;
  const requests: TokenServer['requests'] = [];

  const sign = (subject: string, scopes: string[], allowed: (action: string) => boolean): string => {
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(':');
      if (type !== 'repository' || !name || !actions) return [];
      return [{ type, name, actions: actions.split(',').filter(allowed) }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: subject, aud: service, exp: now + expiresIn, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(key);
    return `${input}.${base64url(signature)}`;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://token');
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const params = req.method === 'POST' ? form : url.searchParams;
      const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
      let user: string | undefined;
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
      if (req.method === 'POST') {
        const grant = form.get('grant_type') ?? '';
        user = grant === 'refresh_token' ? options.refreshTokens?.[form.get('refresh_token') ?? ''] : undefined;
        requests.push({ method: 'POST', scope: scopes, grant, account: user });
        if (!user) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
          return;
        }
      } else {
        if (basic?.[1]) {
          const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
          const colon = decoded.indexOf(':');
          const name = decoded.slice(0, colon);
          if (colon < 0 || options.users?.[name] !== decoded.slice(colon + 1)) {
            requests.push({ method: 'GET', scope: scopes, account: name });
            res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
            return;
          }
          user = name;
        }
        requests.push({ method: 'GET', scope: scopes, account: user });
      }
      const anonymousPull = options.anonymousPull ?? true;
      const token = sign(user ?? '', scopes, (action) => user !== undefined || (anonymousPull && action === 'pull'));
      const body: Record<string, unknown> = { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/token`, requests, certFile, port, stop: () => closeServer(server) };
}

function registryConfig(
  addr: string,
  dataDir: string,
  logLevel: 'warn' | 'info',
  auth: string,
  tls: { certFile: string; keyFile: string } | undefined,
): string {
  const lines = [
    'version: 0.1',
    'log:',
    `  level: ${logLevel}`,
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${addr}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  if (tls) lines.push('  tls:', `    certificate: ${tls.certFile}`, `    key: ${tls.keyFile}`);
  return `${lines.join('\n')}\n${auth}`;
}

/** True once the registry answers its base endpoint (200, or 401 when it wants auth). */
function probe(url: string, ca: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const target = new URL('/v2/', url);
    const request = (target.protocol === 'https:' ? https : http).get(target, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 || res.statusCode === 401);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
  });
}

/** What a started registry is: its address, its process or container, and how to stop it. */
interface RunningRegistry {
  host: string;
  process?: ManagedProcess;
  container?: StartedTestContainer;
  stop(): Promise<void>;
}

/** The registry as a process on a free port of 127.0.0.1 (a new port if another process took it meanwhile). */
async function startRegistryProcess(dir: string, config: (addr: string) => string, scheme: string, ca: string | undefined): Promise<RunningRegistry> {
  if (!onPath('docker-registry')) {
    throw new Error(
      'the test registry needs a Docker-compatible engine (Docker, Podman, Colima; none is reachable) or the docker-registry binary (Debian: apt-get install docker-registry)',
    );
  }
  for (let attempt = 1; ; attempt += 1) {
    const port = await freeTcpPort();
    const configFile = path.join(dir, 'config.yml');
    await writeFile(configFile, config(`127.0.0.1:${port}`));
    const proc = startProcess({ name: `registry-${attempt}`, command: 'docker-registry', args: ['serve', configFile], logDir: dir });
    const url = `${scheme}://127.0.0.1:${port}`;
    try {
      await waitUntil(() => probe(url, ca), { what: `registry on ${url}`, process: proc, timeoutMs: 20_000 });
    } catch (error) {
      await proc.stop();
      if (attempt < 5 && /address already in use/.test(proc.logTail())) continue;
      throw error;
    }
    return { host: `127.0.0.1:${port}`, process: proc, stop: () => proc.stop() };
  }
}

async function chosenBackend(runAs: RegistryOptions['runAs']): Promise<RegistryBackend> {
  if (runAs === 'process') return { kind: 'process', why: 'asked for' };
  const backend = await registryBackend();
  if (runAs === undefined) return backend;
  if (backend.kind !== 'container') throw new Error(`a registry with a published port needs a Docker-compatible engine: ${backend.why}`);
  return { ...backend, network: 'bridge' };
}

/**
 * Starts a registry on 127.0.0.1: in a container when a Docker-compatible engine is reachable,
 * as a process otherwise (registry-engine.ts decides). Either way on a port of its own, and
 * `stop` removes it with everything it stored.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const backend = await chosenBackend(options.runAs);
  const dir = await makeTempDir('registry');
  const cleanups: (() => Promise<void>)[] = [];
  // A file the registry reads: a process reads it where it is, a container gets a copy.
  const files: string[] = [];
  const use = (file: string): string => {
    files.push(file);
    return backend.kind === 'container' ? `${CONTAINER_CONFIG_DIR}/${path.basename(file)}` : file;
  };
  try {
    const certs = options.tls ? await makeTestCertificates(dir) : undefined;
    let auth = '';
    let token: (TokenServer & { certFile: string }) | undefined;
    if (options.auth && 'htpasswd' in options.auth) {
      const file = path.join(dir, 'htpasswd');
      await writeFile(file, await htpasswdLine(options.auth.htpasswd.username, options.auth.htpasswd.password));
      auth = `auth:\n  htpasswd:\n    realm: test-registry\n    path: ${use(file)}\n`;
    } else if (options.auth && 'token' in options.auth) {
      const service = 'test-registry';
      const issuer = 'test-token-issuer';
      token = await startTokenServer(dir, options.auth.token, service, issuer);
      cleanups.push(token.stop);
      auth = `auth:\n  token:\n    realm: ${token.url}\n    service: ${service}\n    issuer: ${issuer}\n    rootcertbundle: ${use(token.certFile)}\n`;
    }
    const tls = certs ? { certFile: use(certs.certFile), keyFile: use(certs.keyFile) } : undefined;
    const scheme = certs ? 'https' : 'http';
    const ca = certs ? readFileSync(certs.caFile, 'utf8') : undefined;
    let running: RunningRegistry;
    if (backend.kind === 'container') {
      // "info" for the "listening on" line the start waits for.
      const config = (addr: string): string => registryConfig(addr, '/var/lib/registry', 'info', auth, tls);
      running = await startRegistryContainer(backend, { config, files, hostPort: freeTcpPort, logPath: path.join(dir, 'registry-container.log') });
    } else {
      await mkdir(path.join(dir, 'data'), { recursive: true });
      running = await startRegistryProcess(dir, (addr) => registryConfig(addr, path.join(dir, 'data'), 'warn', auth, tls), scheme, ca);
    }
    const registry: TestRegistry = {
      host: running.host,
      url: `${scheme}://${running.host}`,
      dir,
      async stop() {
        await running.stop();
        for (const cleanup of cleanups) await cleanup();
        removeDirSync(dir);
      },
    };
    if (running.process) registry.process = running.process;
    if (running.container) registry.container = running.container;
    if (certs) registry.caFile = certs.caFile;
    if (token) registry.token = token;
    return registry;
  } catch (error) {
    for (const cleanup of cleanups) await cleanup();
    removeDirSync(dir);
    throw error;
  }
}

export interface CountingProxy {
  /** `127.0.0.1:PORT`, to be used as an insecure registry host in front of the target. */
  host: string;
  /** Requests forwarded since the last reset, as `METHOD /path`. */
  readonly requests: string[];
  reset(): void;
  stop(): Promise<void>;
}

/** A plain-HTTP reverse proxy in front of a registry that records every request it forwards. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const requests: string[] = [];
  const [targetHost = '127.0.0.1', targetPort = '80'] = target.split(':');
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const upstream = http.request(
      { host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  const port = await listen(server);
  return {
    host: `127.0.0.1:${port}`,
    requests,
    reset: () => {
      requests.length = 0;
    },
    async stop() {
      agent.destroy();
      await closeServer(server);
    },
  };
}

/** `sha256:<hex>` of the bytes. */
export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
