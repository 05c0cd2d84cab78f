import { describe, expect, it } from 'vitest';
import { FrameScanner, passesAsItCame } from '../../src/proxy/frame-scanner.js';
import { Flag, FrameType, encodeFrame, windowUpdateFrame } from '../../src/proxy/frames.js';
import { WindowGiveBack } from '../../src/proxy/window-give-back.js';

describe('FrameScanner', () => {
  it('walks the whole frames of a chunk in place and says whether they fill it', () => {
    const chunk = Buffer.concat([
      encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x82])),
      windowUpdateFrame(0, 0x1234),
      encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('hello')),
    ]);
    const scanner = new FrameScanner();
    const seen: Array<[number, number, number, string]> = [];
    for (scanner.start(chunk); scanner.next(); ) {
      const h = scanner.header;
      seen.push([h.type, h.flags, h.streamId, h.type === FrameType.WINDOW_UPDATE ? String(scanner.payloadUInt31()) : scanner.payload().toString('latin1')]);
    }
    expect(seen).toEqual([
      [FrameType.HEADERS, Flag.END_HEADERS, 1, '\x82'],
      [FrameType.WINDOW_UPDATE, 0, 0, String(0x1234)],
      [FrameType.DATA, Flag.END_STREAM, 1, 'hello'],
    ]);
    expect(scanner.complete).toBe(true);

    for (scanner.start(chunk.subarray(0, chunk.length - 2)); scanner.next(); );
    expect(scanner.complete).toBe(false);
    for (scanner.start(chunk.subarray(0, 4)); scanner.next(); );
    expect(scanner.complete).toBe(false);
  });

  it('lets only frames the fast bookkeeping knows pass as they came', () => {
    const header = (type: number, flags: number, length: number) => ({ type, flags, length, streamId: 0 });
    expect(passesAsItCame(header(FrameType.DATA, 0, 10))).toBe(true);
    expect(passesAsItCame(header(FrameType.PING, 0, 8))).toBe(true);
    expect(passesAsItCame(header(FrameType.HEADERS, Flag.END_HEADERS, 3))).toBe(true);
    expect(passesAsItCame(header(FrameType.HEADERS, 0, 3))).toBe(false);
    expect(passesAsItCame(header(FrameType.SETTINGS, Flag.ACK, 0))).toBe(true);
    expect(passesAsItCame(header(FrameType.SETTINGS, 0, 6))).toBe(false);
    expect(passesAsItCame(header(FrameType.WINDOW_UPDATE, 0, 4))).toBe(true);
    expect(passesAsItCame(header(FrameType.WINDOW_UPDATE, 0, 5))).toBe(false);
    expect(passesAsItCame(header(FrameType.GOAWAY, 0, 8))).toBe(false);
    expect(passesAsItCame(header(FrameType.CONTINUATION, Flag.END_HEADERS, 1))).toBe(false);
  });
});

describe('WindowGiveBack', () => {
  it('pays what it owes in one connection-level update, and stream-level updates only for open streams', () => {
    const sent: Buffer[] = [];
    const open = new Set([1]);
    const giveBack = new WindowGiveBack({ injectToClient: (f) => sent.push(f), isOpen: (id) => open.has(id) });
    giveBack.pay();
    expect(sent).toEqual([]);
    giveBack.owe(1, 100, true);
    giveBack.owe(3, 50, true);
    giveBack.owe(5, 7, false);
    giveBack.owe(1, 0, true);
    giveBack.pay();
    expect(sent).toEqual([windowUpdateFrame(0, 157), windowUpdateFrame(1, 100)]);
    giveBack.pay();
    expect(sent).toHaveLength(2);
  });
});
