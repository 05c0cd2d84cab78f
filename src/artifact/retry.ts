import type { IncomingHttpHeaders } from 'node:http';
import { TransportError, header } from './transport.js';

/**
 * The retry layer of a registry call: one request sent again while the registry answers 429 or
 * 5xx, with exponential backoff or the Retry-After the registry asks for. It knows nothing of
 * auth or redirects; the layers above it (registry-call.ts) do.
 */
export interface RetryOptions {
  /** Tries per request, the first one included. */
  attempts: number;
  baseDelayMs: number;
  /** Cap for the backoff and for a Retry-After the server asks for. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 3, baseDelayMs: 200, maxDelayMs: 10_000 };

/** What the retry layer reads of an answer. */
export interface RetryableAnswer {
  status: number;
  headers: IncomingHttpHeaders;
}

/** An answer worth asking again: the registry is busy or failing, not refusing. */
export function isRetryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * Sends with `send` until the answer is not retryable or the attempts are spent; returns the
 * last answer. `onRetry` hears each wait before it starts.
 */
export async function withRetries<A extends RetryableAnswer>(
  policy: RetryOptions,
  signal: AbortSignal | undefined,
  send: () => Promise<A>,
  onRetry: (answer: A, delayMs: number, attempt: number) => void,
): Promise<A> {
  for (let attempt = 1; ; attempt += 1) {
    const answer = await send();
    if (!isRetryable(answer.status) || attempt >= policy.attempts) return answer;
    const backoff = policy.baseDelayMs * 2 ** (attempt - 1);
    const delay = Math.min(retryAfterMs(header(answer.headers, 'retry-after')) ?? backoff, policy.maxDelayMs);
    onRetry(answer, delay, attempt);
    await sleep(delay, signal);
  }
}

/** Retry-After as seconds or an HTTP date (RFC 9110), in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new TransportError('aborted', 'request aborted by caller'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new TransportError('aborted', 'request aborted by caller'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
