import type { SecureContext } from 'node:tls';
import { ArtifactError } from './errors.js';
import { readSmallBody, readVerifiedBody } from './body.js';
import type { Credentials, CredentialStore } from './credentials.js';
import type { Timeouts, Transport } from './transport.js';

export interface Challenge {
  /** Lowercased: `bearer`, `basic`. */
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header (RFC 7235): one or more `Scheme k=v, k="v"` challenges. */
export function parseChallenges(value: string): Challenge[] {
  const challenges: Challenge[] = [];
  const token = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*/y;
  let pos = 0;
  let current: Challenge | undefined;
  while (pos < value.length) {
    token.lastIndex = pos;
    const name = token.exec(value);
    if (!name) {
      pos += 1;
      continue;
    }
    pos = token.lastIndex;
    if (value[pos] === '=') {
      pos += 1;
      let paramValue = '';
      if (value[pos] === '"') {
        pos += 1;
        while (pos < value.length && value[pos] !== '"') {
          if (value[pos] === '\\') pos += 1;
          paramValue += value[pos] ?? '';
          pos += 1;
        }
        pos += 1;
      } else {
        const end = value.indexOf(',', pos);
        paramValue = value.slice(pos, end < 0 ? undefined : end).trim();
        pos = end < 0 ? value.length : end;
      }
      if (current) current.params[(name[1] ?? '').toLowerCase()] = paramValue;
    } else {
      current = { scheme: (name[1] ?? '').toLowerCase(), params: {} };
      challenges.push(current);
    }
    while (pos < value.length && /[\s,]/.test(value[pos] ?? '')) pos += 1;
  }
  return challenges;
}

/** Where a registry (or mirror) is reached, as far as authentication cares. */
export interface AuthTarget {
  /** The registry as configured and as credentials are keyed: `docker.io`, `mirror:5000`. */
  registry: string;
  repository: string;
  /** `repository:<name>:pull` or `...:pull,push`. */
  scope: string;
  /** Whether plain-HTTP token endpoints may be used (the registry itself is insecure). */
  insecure: boolean;
}

export interface AuthenticatorOptions {
  transport: Transport;
  credentials: CredentialStore;
  timeouts: Timeouts;
  secureContextFor(host: string): SecureContext | undefined;
  isInsecureHost(host: string): boolean;
  userAgent: string;
  now?: () => number;
}

interface CachedAuth {
  header: string;
  expiresAt: number;
}

const DEFAULT_TOKEN_LIFETIME_S = 60;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
const CLIENT_ID = 'seccomp-oci-shim';

/**
 * Answers registry challenges: bearer tokens from the challenge's realm (anonymous, with a
 * password, or with a refresh token), or basic auth. Answers are cached per registry and scope,
 * tokens until they expire, so later requests carry them without a 401 round trip.
 */
export class Authenticator {
  private readonly cache = new Map<string, CachedAuth>();
  private readonly now: () => number;

  constructor(private readonly options: AuthenticatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The Authorization header to send up front, if one is known and still valid. */
  cached(target: AuthTarget): string | undefined {
    const key = this.cacheKey(target);
    const entry = this.cache.get(key) ?? this.cache.get(this.basicKey(target));
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.cache.delete(key);
      return undefined;
    }
    return entry.header;
  }

  /** Works out an Authorization header from a 401's WWW-Authenticate value; throws Unauthorized when none can be had. */
  async answer(target: AuthTarget, wwwAuthenticate: string | undefined, signal?: AbortSignal): Promise<string> {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const credentials = await this.options.credentials.lookup(target.registry, target.repository);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    let value: CachedAuth;
    if (bearer) {
      value = await this.fetchToken(target, bearer, credentials, signal);
    } else if (basic) {
      if (credentials?.username === undefined || credentials.password === undefined) {
        throw new ArtifactError('Unauthorized', `${target.registry} asks for basic auth and no credentials are configured for it`);
      }
      const encoded = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
      // Basic credentials hold for every repository and action of the registry.
      const header = `Basic ${encoded}`;
      this.cache.set(this.basicKey(target), { header, expiresAt: Number.POSITIVE_INFINITY });
      return header;
    } else {
      throw new ArtifactError('Unauthorized', `${target.registry} answered 401 without a usable WWW-Authenticate challenge`);
    }
    this.cache.set(this.cacheKey(target), value);
    return value.header;
  }

  /** Forgets what was cached for a target, after the registry refused it. */
  forget(target: AuthTarget): void {
    this.cache.delete(this.cacheKey(target));
    this.cache.delete(this.basicKey(target));
  }

  private cacheKey(target: AuthTarget): string {
    return `${target.registry}|${target.scope}`;
  }

  private basicKey(target: AuthTarget): string {
    return `${target.registry}|basic`;
  }

  private async fetchToken(
    target: AuthTarget,
    challenge: Challenge,
    credentials: Credentials | undefined,
    signal: AbortSignal | undefined,
  ): Promise<CachedAuth> {
    if (credentials?.registryToken) {
      return { header: `Bearer ${credentials.registryToken}`, expiresAt: Number.POSITIVE_INFINITY };
    }
    const realm = challenge.params.realm;
    if (!realm) throw new ArtifactError('Unauthorized', `${target.registry}: bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new ArtifactError('Unauthorized', `${target.registry}: bearer realm "${realm}" is not a URL`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (target.insecure || this.options.isInsecureHost(url.host)))) {
      throw new ArtifactError('Unauthorized', `${target.registry}: refusing token realm "${realm}" (only https unless the registry is insecure)`);
    }
    const service = challenge.params.service;
    // Our scope covers what a challenge asks for our repository; other resources it names are added.
    const ownPrefix = `repository:${target.repository}:`;
    const extra = (challenge.params.scope ?? '').split(' ').filter((scope) => scope !== '' && !scope.startsWith(ownPrefix));
    const scopes = [target.scope, ...new Set(extra)];
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, accept: 'application/json' };
    let method = 'GET';
    let body: Buffer | undefined;
    if (credentials?.identityToken) {
      // OAuth2 refresh-token grant (distribution's token spec, "oauth.md").
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: CLIENT_ID });
      if (service) form.set('service', service);
      form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (service) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (credentials?.username !== undefined && credentials.password !== undefined) {
        url.searchParams.set('account', credentials.username);
        headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
      }
    }
    const issuedAt = this.now();
    const exchange: ExchangeOutcome = await this.options.transport.exchange(
      { method, url, headers, body, secureContext: this.options.secureContextFor(url.host), timeouts: this.options.timeouts, signal },
      async (response) => {
        const status = response.statusCode ?? 0;
        if (status !== 200) return { status, text: await readSmallBody(response, 4096) };
        const { bytes } = await readVerifiedBody(response, { maxBytes: MAX_TOKEN_RESPONSE_BYTES, what: 'token response' });
        return { status, text: bytes.toString('utf8') };
      },
    );
    if (exchange.status !== 200) {
      const reason = exchange.status === 401 || exchange.status === 403 ? 'Unauthorized' : exchange.status >= 500 ? 'RegistryUnavailable' : 'Unauthorized';
      throw new ArtifactError(reason, `token endpoint ${url.origin}${url.pathname} answered ${exchange.status}`);
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(exchange.text) as typeof parsed;
    } catch {
      throw new ArtifactError('Unauthorized', `token endpoint ${url.origin}${url.pathname} answered with something other than JSON`);
    }
    const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new ArtifactError('Unauthorized', `token endpoint ${url.origin}${url.pathname} answered without a token`);
    }
    const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    // Renew a little early so a token does not expire between our check and the registry's.
    const margin = Math.min(10, lifetime / 10);
    return { header: `Bearer ${token}`, expiresAt: issuedAt + (lifetime - margin) * 1000 };
  }
}

interface ExchangeOutcome {
  status: number;
  text: string;
}
