import { describe, expect, it } from 'vitest';
import { withRetries } from '../../src/artifact/retry.js';

/** Answers in turn from `statuses`, recording each send; Retry-After on each when given. */
function script(statuses: number[], retryAfter?: string) {
  let sent = 0;
  const send = async () => {
    const status = statuses[Math.min(sent, statuses.length - 1)]!;
    sent += 1;
    return { status, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter } };
  };
  return { send, sent: () => sent };
}

describe('withRetries (the retry layer)', () => {
  it('sends once when the answer is not 429 or 5xx', async () => {
    for (const status of [200, 301, 401, 404]) {
      const s = script([status]);
      const waits: number[] = [];
      const answer = await withRetries({ attempts: 3, baseDelayMs: 1, maxDelayMs: 10 }, undefined, s.send, (_a, d) => waits.push(d));
      expect([answer.status, s.sent(), waits]).toEqual([status, 1, []]);
    }
  });

  it('backs off exponentially on 5xx and gives the last answer once the attempts are spent', async () => {
    const s = script([503, 502, 500, 200]);
    const waits: Array<[number, number]> = [];
    const answer = await withRetries({ attempts: 3, baseDelayMs: 2, maxDelayMs: 100 }, undefined, s.send, (_a, d, attempt) => waits.push([d, attempt]));
    expect(answer.status).toBe(500);
    expect(s.sent()).toBe(3);
    expect(waits).toEqual([
      [2, 1],
      [4, 2],
    ]);
  });

  it('waits what Retry-After asks, capped, and stops retrying at the first good answer', async () => {
    const s = script([429, 200], '120');
    const waits: number[] = [];
    const answer = await withRetries({ attempts: 5, baseDelayMs: 1, maxDelayMs: 15 }, undefined, s.send, (_a, d) => waits.push(d));
    expect([answer.status, s.sent(), waits]).toEqual([200, 2, [15]]);
  });

  it('stops waiting when the caller aborts', async () => {
    const s = script([503]);
    const abort = new AbortController();
    const done = withRetries({ attempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000 }, abort.signal, s.send, () => abort.abort());
    await expect(done).rejects.toThrow('request aborted by caller');
    expect(s.sent()).toBe(1);
  });
});
