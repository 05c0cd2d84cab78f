import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { SecureContext } from 'node:tls';

export interface Timeouts {
  /** Until the TCP connection is up. */
  connectMs: number;
  /** For the whole exchange: connect, request, response headers and body. */
  requestMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 10_000, requestMs: 30_000 };

export interface ExchangeRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer;
  /** TLS trust for https URLs; Node's defaults when absent. */
  secureContext?: SecureContext;
  timeouts: Timeouts;
  signal?: AbortSignal;
}

/** A failure below HTTP: no connection, a reset, a timeout, or the caller's abort. */
export class TransportError extends Error {
  override readonly name = 'TransportError';

  constructor(
    readonly kind: 'timeout' | 'network' | 'aborted',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** First value of a response header. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const PLAIN_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection closed before the response was complete',
  ENOTFOUND: 'host name does not resolve',
  EAI_AGAIN: 'host name does not resolve (temporary DNS failure)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

function describe(error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  if (err.message === 'aborted') return PLAIN_WORDS.ECONNRESET as string;
  const words = err.code === undefined ? undefined : PLAIN_WORDS[err.code];
  if (words !== undefined) return words;
  // TLS verification failures carry codes such as UNABLE_TO_VERIFY_LEAF_SIGNATURE.
  return err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
}

/**
 * One HTTP exchange with a connect timeout and an overall deadline that also covers reading the
 * body in `handle`. Connections are kept alive between exchanges (idle sockets do not keep the
 * process alive).
 */
export class Transport {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });

  async exchange<T>(request: ExchangeRequest, handle: (response: IncomingMessage) => Promise<T>): Promise<T> {
    const deadline = new AbortController();
    let timedOut: string | undefined;
    const overall = setTimeout(() => {
      timedOut = `no complete response from ${request.url.host} within ${request.timeouts.requestMs} ms`;
      deadline.abort();
    }, request.timeouts.requestMs);
    const signal = request.signal ? AbortSignal.any([deadline.signal, request.signal]) : deadline.signal;
    let response: IncomingMessage | undefined;
    try {
      response = await new Promise<IncomingMessage>((resolve, reject) => {
        const secure = request.url.protocol === 'https:';
        const options: https.RequestOptions & { secureContext?: SecureContext } = {
          method: request.method,
          headers: request.headers,
          agent: secure ? this.httpsAgent : this.httpAgent,
          signal,
        };
        if (secure && request.secureContext) options.secureContext = request.secureContext;
        const req = (secure ? https : http).request(request.url, options, resolve);
        req.once('error', reject);
        req.once('socket', (socket) => {
          if (!socket.connecting) return;
          const timer = setTimeout(() => {
            timedOut = `connecting to ${request.url.host} took longer than ${request.timeouts.connectMs} ms`;
            req.destroy();
          }, request.timeouts.connectMs);
          socket.once('connect', () => clearTimeout(timer));
          socket.once('close', () => clearTimeout(timer));
        });
        req.end(request.body);
      });
      return await handle(response);
    } catch (error) {
      if (timedOut !== undefined) throw new TransportError('timeout', timedOut, { cause: error });
      if (request.signal?.aborted) throw new TransportError('aborted', 'request aborted by caller', { cause: error });
      if (error instanceof Error && !isSocketError(error)) throw error;
      throw new TransportError('network', `${request.url.host}: ${describe(error)}`, { cause: error });
    } finally {
      clearTimeout(overall);
      // A body left unread would pin the socket; dropping the connection is cheaper than draining it.
      if (response && !response.complete) response.destroy();
    }
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Errors raised by sockets and the HTTP parser, as opposed to errors thrown by a response handler. */
function isSocketError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' || error.message === 'aborted' || error.name === 'AbortError';
}
