import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { SecureContext } from 'node:tls';
import type { Logger } from '../log/logger.js';
import type { AuthTarget, Authenticator } from './auth.js';
import { readSmallBody } from './body.js';
import { ArtifactError } from './errors.js';
import { withRetries, type RetryOptions } from './retry.js';
import { header, type Timeouts, type Transport } from './transport.js';

/** One place a repository can be read from: a mirror or the registry itself. */
export interface Source {
  /** The registry or mirror host as configured (key of `registries`, of credentials). */
  registry: string;
  /** `https://registry-1.docker.io` */
  origin: string;
  repository: string;
  insecure: boolean;
  secureContext?: SecureContext;
  isMirror: boolean;
}

export interface CallRequest {
  method: string;
  /** Path and query on the source's origin. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal | undefined;
}

/** The registry's last answer to a call: `value` from onSuccess when it was a 2xx. */
export interface Outcome<T> {
  ok: boolean;
  value?: T;
  status: number;
  headers: IncomingHttpHeaders;
  /** The error document of a failed answer (none for HEAD). */
  text: string;
  /** Where the answer came from, after redirects. */
  url: URL;
  /** The request carried a cached Authorization. */
  authorized: boolean;
}

export interface RegistryCallerOptions {
  transport: Transport;
  auth: Authenticator;
  timeouts: Timeouts;
  retry: RetryOptions;
  userAgent: string;
  /** TLS trust for a host a redirect leads to. */
  secureContextFor(host: string): SecureContext;
  logger?: Logger | undefined;
}

const MAX_REDIRECTS = 5;

/**
 * One registry API call, in layers as oras-go layers its client: auth over redirects over retries
 * over one exchange.
 * - auth (call): the cached Authorization goes up front; a 401 from the registry's own origin is
 *   answered once (challenge, token) and the request sent again from where it was refused;
 * - redirects (followRedirects): Location followed up to 5 times, never from https to http, the
 *   Authorization only ever sent to the registry's own origin;
 * - retries (retry.ts): 429 and 5xx sent again with backoff or Retry-After;
 * - exchange (send): one HTTP request and its answer.
 */
export class RegistryCaller {
  /** Requests sent, for benchmarks and tests. */
  requestCount = 0;

  constructor(private readonly options: RegistryCallerOptions) {}

  async call<T>(
    source: Source,
    actions: 'pull' | 'pull,push',
    request: CallRequest,
    onSuccess: (response: IncomingMessage) => Promise<T>,
  ): Promise<Outcome<T>> {
    const target: AuthTarget = {
      registry: source.registry,
      repository: source.repository,
      scope: `repository:${source.repository}:${actions}`,
      insecure: source.insecure,
    };
    const first = await this.followRedirects(source, target, new URL(`${source.origin}${request.path}`), request, onSuccess);
    if (first.status !== 401 || first.url.origin !== source.origin) return first;
    if (first.authorized) this.options.auth.forget(target);
    await this.options.auth.answer(target, header(first.headers, 'www-authenticate'), request.signal);
    return this.followRedirects(source, target, first.url, request, onSuccess);
  }

  private async followRedirects<T>(
    source: Source,
    target: AuthTarget,
    start: URL,
    request: CallRequest,
    onSuccess: (response: IncomingMessage) => Promise<T>,
  ): Promise<Outcome<T>> {
    let url = start;
    for (let redirects = 0; ; ) {
      const at = url;
      const outcome = await withRetries(
        this.options.retry,
        request.signal,
        () => this.send(source, target, at, request, onSuccess),
        (answer, delayMs, attempt) =>
          this.options.logger?.debug({ url: at.href, status: answer.status, delayMs, attempt }, 'Registry asked to retry later'),
      );
      const location = header(outcome.headers, 'location');
      if (outcome.status < 300 || outcome.status >= 400 || location === undefined) return outcome;
      redirects += 1;
      if (redirects > MAX_REDIRECTS) throw new ArtifactError('RegistryUnavailable', `more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      if (url.protocol === 'https:' && next.protocol !== 'https:') {
        throw new ArtifactError('RegistryUnavailable', `refusing redirect from https to ${next.protocol} (${next.origin})`);
      }
      url = next;
    }
  }

  private async send<T>(
    source: Source,
    target: AuthTarget,
    url: URL,
    request: CallRequest,
    onSuccess: (response: IncomingMessage) => Promise<T>,
  ): Promise<Outcome<T>> {
    const sameOrigin = url.origin === source.origin;
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, ...request.headers };
    const authorization = sameOrigin ? this.options.auth.cached(target) : undefined;
    if (authorization) headers.authorization = authorization;
    const authorized = authorization !== undefined;
    this.requestCount += 1;
    this.options.logger?.debug({ method: request.method, url: url.href }, 'Registry request');
    const secureContext = sameOrigin
      ? source.secureContext
      : url.protocol === 'https:'
        ? this.options.secureContextFor(url.host)
        : undefined;
    return this.options.transport.exchange(
      {
        method: request.method,
        url,
        headers,
        body: request.body,
        secureContext,
        timeouts: this.options.timeouts,
        signal: request.signal,
      },
      async (response): Promise<Outcome<T>> => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          return { ok: true, value: await onSuccess(response), status, headers: response.headers, text: '', url, authorized };
        }
        const text = request.method === 'HEAD' ? '' : await readSmallBody(response);
        return { ok: false, status, headers: response.headers, text, url, authorized };
      },
    );
  }
}

/** The value of a 2xx answer, or the error its status stands for. */
export function expectOk<T>(outcome: Outcome<T>, attempts: number): T {
  if (!outcome.ok) throw statusError(outcome.status, outcome.text, attempts);
  return outcome.value as T;
}

function statusError(status: number, text: string, attempts: number): ArtifactError {
  const said = registryErrorText(text);
  const retried = attempts > 1 ? ` after ${attempts} attempts` : '';
  if (status === 404) return new ArtifactError('NotFound', `${said || 'not found'} (404)`);
  if (status === 401) return new ArtifactError('Unauthorized', `${said || 'authentication required'} (401)`);
  if (status === 403) return new ArtifactError('Unauthorized', `${said || 'access denied'} (403)`);
  if (status === 429) return new ArtifactError('RegistryUnavailable', `${said || 'too many requests'} (429)${retried}`);
  if (status >= 500) return new ArtifactError('RegistryUnavailable', `${said || 'server error'} (${status})${retried}`);
  return new ArtifactError('InvalidArtifact', `${said || 'unexpected answer'} (${status})`);
}

/** The registry's own words from an error document (`{"errors":[{"code","message"}]}`), or ''. */
function registryErrorText(text: string): string {
  try {
    const errors = (JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] }).errors;
    const first = errors?.[0];
    const message = typeof first?.message === 'string' && first.message ? first.message : first?.code;
    return typeof message === 'string' ? message : '';
  } catch {
    return '';
  }
}
