import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { FrameReader } from '../../src/proxy/frame-reader.js';
import { ErrorCode, FrameType } from '../../src/proxy/frames.js';
import { StreamTable } from '../../src/proxy/stream-table.js';
import type { StreamState } from '../../src/proxy/stream-state.js';

/** A table with a recording host: the frames it queued for the runtime, the calls ended, drains. */
function table() {
  const toRuntime: Buffer[] = [];
  const ended: Array<[number, unknown]> = [];
  let idle = 0;
  const calls = new StreamTable(
    {
      injectToRuntime: (frame) => toRuntime.push(frame),
      interceptionEnded: (stream, _interception, outcome) => ended.push([stream.id, outcome]),
      lastCallFinished: () => {
        idle += 1;
      },
    },
    silentLogger(),
    false,
  );
  const resets = (): Array<[number, number]> => {
    const reader = new FrameReader();
    for (const frame of toRuntime) reader.push(frame);
    const out: Array<[number, number]> = [];
    for (let header = reader.peek(); header !== undefined; header = reader.peek()) {
      expect(header.type).toBe(FrameType.RST_STREAM);
      const id = header.streamId;
      out.push([id, reader.take().payloadUInt31()]);
    }
    return out;
  };
  return { calls, ended, resets, idle: () => idle };
}

const intercepted = (stream: StreamState): StreamState => {
  stream.interception = { phase: 'deciding', held: [], heldBytes: 0, abort: new AbortController(), sent: 0 };
  return stream;
};

describe('StreamTable', () => {
  it('opens calls, ends them once, and says when the last one finished', () => {
    const t = table();
    const a = t.calls.open(1, '/runtime.v1.RuntimeService/Version', true)!;
    t.calls.open(3, '/runtime.v1.RuntimeService/ListContainers', true);
    expect(t.calls.size).toBe(2);
    expect(t.calls.lastClientStreamId).toBe(3);
    t.calls.finish(a, 0);
    t.calls.finish(a, 0);
    expect(t.calls.size).toBe(1);
    expect(t.idle()).toBe(0);
    t.calls.end(3, 'reset by client');
    t.calls.end(5, 'reset by client');
    expect(t.calls.size).toBe(0);
    expect(t.idle()).toBe(1);
  });

  it('resets a stream with CANCEL and retires it only once the runtime answers a stream opened after the reset', () => {
    const t = table();
    t.calls.open(1, '/m', false);
    t.calls.open(3, '/m', true);
    t.calls.reset(1);
    expect(t.resets()).toEqual([[1, ErrorCode.CANCEL]]);
    expect(t.calls.isReset(1)).toBe(true);
    t.calls.retireResetStreams(3);
    expect(t.calls.anyReset).toBe(true);
    t.calls.open(5, '/m', true);
    t.calls.retireResetStreams(5);
    expect(t.calls.anyReset).toBe(false);
  });

  it('counts a header block still in progress as forwarded before the reset', () => {
    const t = table();
    t.calls.open(1, '/m', false);
    t.calls.forwardedHeaders(3);
    t.calls.reset(1);
    t.calls.retireResetStreams(3);
    expect(t.calls.isReset(1)).toBe(true);
    t.calls.retireResetStreams(5);
    expect(t.calls.isReset(1)).toBe(false);
  });

  it('after the drain starts, resets streams the client opens above the bound instead of opening them', () => {
    const t = table();
    t.calls.open(1, '/m', false);
    expect(t.calls.startDrain()).toBe(true);
    expect(t.calls.startDrain()).toBe(false);
    expect(t.calls.drainLastStreamId).toBe(1);
    expect(t.calls.open(3, '/m', true)).toBeUndefined();
    expect(t.calls.has(3)).toBe(false);
    expect(t.calls.lastClientStreamId).toBe(3);
    expect(t.resets()).toEqual([[3, ErrorCode.CANCEL]]);
  });

  it('forgets calls above the runtime GOAWAY, resets the intercepted ones, and keeps the rest', () => {
    const t = table();
    t.calls.open(1, '/m', true);
    t.calls.open(3, '/m', true);
    intercepted(t.calls.open(5, '/m', false)!);
    t.calls.refuseAbove(1);
    expect([...t.calls.values()].map((s) => s.id)).toEqual([1]);
    expect(t.calls.runtimeLastStreamId).toBe(1);
    expect(t.resets()).toEqual([[5, ErrorCode.CANCEL]]);
    expect(t.ended).toEqual([[5, 'refused by runtime GOAWAY']]);
    expect([...t.calls.unanswered()].map((s) => s.id)).toEqual([1]);
  });
});
