import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { ProtocolError } from '../../src/proxy/errors.js';
import { FrameReader, type FrameBytes } from '../../src/proxy/frame-reader.js';
import { FrameSink } from '../../src/proxy/frame-sink.js';
import { RuntimeSendWindow } from '../../src/proxy/flow-control.js';
import {
  Flag,
  FrameType,
  Setting,
  dataContent,
  encodeFrame,
  headersFragment,
  parseSettings,
  readFrameHeader,
  settingsWithHeaderTableSize,
  windowUpdateFrame,
} from '../../src/proxy/frames.js';
import { parseSingleMessage, framedMessage } from '../../src/proxy/grpc-message.js';
import { parseGrpcTimeout, percentEncodeGrpcMessage, statusFrame } from '../../src/proxy/grpc-status.js';
import { HpackDecoder } from '../../src/proxy/hpack-decoder.js';

describe('frame headers', () => {
  it('parses length, type, flags and stream id, ignoring the reserved bit', () => {
    const frame = Buffer.from('00400a0105' + 'ffffffff', 'hex');
    expect(readFrameHeader(frame)).toEqual({ length: 0x400a, type: 1, flags: 5, streamId: 0x7fffffff });
    const widest = Buffer.from('ffffff' + '09' + '04' + '80000001', 'hex');
    expect(readFrameHeader(widest)).toEqual({ length: 0xffffff, type: 9, flags: 4, streamId: 1 });
  });

  it('refuses to read a 31-bit value from a payload shorter than 4 octets, rather than read the next frame', () => {
    const reader = new FrameReader();
    reader.push(Buffer.concat([encodeFrame(FrameType.GOAWAY, 0, 0, Buffer.from([0, 0, 1])), encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8))]));
    reader.peek();
    expect(() => reader.take().payloadUInt31()).toThrow(new ProtocolError('a frame of 3 octets is too short for the 31-bit value it carries'));
    reader.peek();
    expect(reader.take().payloadUInt31()).toBe(0);
  });

  it('round-trips an encoded frame', () => {
    const frame = encodeFrame(FrameType.DATA, Flag.END_STREAM, 7, Buffer.from('hello'));
    expect(readFrameHeader(frame)).toEqual({ length: 5, type: 0, flags: 1, streamId: 7 });
    expect(frame.subarray(9).toString()).toBe('hello');
  });

  it('sets SETTINGS_HEADER_TABLE_SIZE in a SETTINGS frame, adding it when absent, other settings kept', () => {
    const settings = (params: Array<[number, number]>) => {
      const payload = Buffer.alloc(params.length * 6);
      params.forEach(([id, value], i) => {
        payload.writeUInt16BE(id, i * 6);
        payload.writeUInt32BE(value, i * 6 + 2);
      });
      return payload;
    };
    const rewritten = settingsWithHeaderTableSize(settings([[Setting.INITIAL_WINDOW_SIZE, 1 << 20], [Setting.HEADER_TABLE_SIZE, 65536]]), 0);
    expect(readFrameHeader(rewritten)).toEqual({ length: 12, type: FrameType.SETTINGS, flags: 0, streamId: 0 });
    expect(parseSettings(rewritten.subarray(9))).toEqual([[Setting.INITIAL_WINDOW_SIZE, 1 << 20], [Setting.HEADER_TABLE_SIZE, 0]]);
    const added = settingsWithHeaderTableSize(settings([[Setting.ENABLE_PUSH, 0]]), 0);
    expect(parseSettings(added.subarray(9))).toEqual([[Setting.ENABLE_PUSH, 0], [Setting.HEADER_TABLE_SIZE, 0]]);
    expect(parseSettings(settingsWithHeaderTableSize(Buffer.alloc(0), 0).subarray(9))).toEqual([[Setting.HEADER_TABLE_SIZE, 0]]);
  });

  it('refuses a WINDOW_UPDATE of 0, which HTTP/2 makes a protocol error', () => {
    expect(() => windowUpdateFrame(0, 0)).toThrow('out of range');
  });

  it('finds the header block fragment under PADDED and PRIORITY', () => {
    const fragment = Buffer.from('82868441', 'hex');
    const padded = Buffer.concat([Buffer.of(3), fragment, Buffer.alloc(3)]);
    expect(headersFragment(Flag.PADDED, padded)).toEqual(fragment);
    const priority = Buffer.concat([Buffer.from('8000000310', 'hex'), fragment]);
    expect(headersFragment(Flag.PRIORITY, priority)).toEqual(fragment);
    const both = Buffer.concat([Buffer.of(2), Buffer.from('0000000010', 'hex'), fragment, Buffer.alloc(2)]);
    expect(headersFragment(Flag.PADDED | Flag.PRIORITY, both)).toEqual(fragment);
    expect(() => headersFragment(Flag.PADDED, Buffer.of(9, 1))).toThrow('pad length 9');
  });

  it('strips DATA padding', () => {
    expect(dataContent(Flag.PADDED, Buffer.from('02616263ffff', 'hex')).toString()).toBe('abc');
  });
});

describe('FrameReader', () => {
  const frames = [
    encodeFrame(FrameType.SETTINGS, 0, 0, Buffer.alloc(12)),
    encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from('abc')),
    encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.alloc(40_000, 1)),
  ];
  const stream = Buffer.concat(frames);

  it('hands whole frames out of a single chunk as ranges of it, without copying', () => {
    const reader = new FrameReader();
    reader.push(stream);
    const out: FrameBytes[] = [];
    while (reader.peek()) out.push(reader.take());
    expect(out.map((frame) => frame.whole())).toEqual(frames);
    let start = 0;
    for (const [i, frame] of out.entries()) {
      expect(frame.pieces).toBeUndefined();
      expect(frame.chunk).toBe(stream);
      expect([frame.start, frame.end]).toEqual([start, start + frames[i]!.length]);
      start = frame.end;
    }
    expect(out[1]!.payload().toString()).toBe('abc');
  });

  it('hands a frame split across chunks out as its pieces, without copying', () => {
    const reader = new FrameReader();
    const cuts = [5, 30, 40_000];
    let from = 0;
    const chunks = [...cuts, stream.length].map((to) => stream.subarray(from, (from = to)));
    for (const chunk of chunks) reader.push(chunk);
    const out: FrameBytes[] = [];
    while (reader.peek()) out.push(reader.take());
    expect(out.map((frame) => frame.whole())).toEqual(frames);
    expect(out[2]!.pieces!.map((piece) => piece.buffer)).toEqual([stream.buffer, stream.buffer]);
    expect(out[2]!.payloadUInt31()).toBe(0x0101_0101 & 0x7fff_ffff);
  });

  it('reassembles frames split at every possible boundary', () => {
    for (const cut of [1, 5, 9, 10, 21, 30, 1000]) {
      const reader = new FrameReader();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += cut) {
        reader.push(stream.subarray(i, i + cut));
        while (reader.peek()) out.push(reader.take().whole());
      }
      expect(out).toEqual(frames);
      expect(reader.bufferedBytes).toBe(0);
    }
  });

  it('skips the connection preface', () => {
    const reader = new FrameReader();
    reader.push(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n'));
    expect(reader.skip(24)).toBeUndefined();
    reader.push(Buffer.concat([Buffer.from('\r\n'), frames[0]!]));
    expect(reader.skip(24)!.whole().toString()).toBe('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(reader.peek()?.type).toBe(FrameType.SETTINGS);
  });
});

describe('FrameSink', () => {
  /** A socket that records what is written, in order. */
  function recordingSocket(): { socket: Socket; writes: Buffer[] } {
    const writes: Buffer[] = [];
    const socket = {
      destroyed: false,
      writableNeedDrain: false,
      write: (buf: Buffer) => writes.push(buf) > 0,
      cork: () => undefined,
      uncork: () => undefined,
    };
    return { socket: socket as unknown as Socket, writes };
  }
  const headers = encodeFrame(FrameType.HEADERS, 0, 1, Buffer.from('ab'));
  const continuation = encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, Buffer.from('cd'));
  const data = encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('xyz'));
  const ping = encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8));

  function framesOf(chunk: Buffer): Array<[FrameBytes, ReturnType<FrameReader['peek']> & object]> {
    const reader = new FrameReader();
    reader.push(chunk);
    const out: Array<[FrameBytes, ReturnType<FrameReader['peek']> & object]> = [];
    for (let h = reader.peek(); h !== undefined; h = reader.peek()) out.push([reader.take(), { ...h }]);
    return out;
  }

  it('writes a chunk whose frames are all forwarded as the chunk itself, in one write', () => {
    const chunk = Buffer.concat([headers, continuation, data]);
    const { socket, writes } = recordingSocket();
    const sink = new FrameSink(socket);
    for (const [frame, header] of framesOf(chunk)) sink.forward(frame, header);
    expect(sink.flush()).toBe(true);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toBe(chunk);
  });

  it('puts a frame of its own after the header block in progress', () => {
    const { socket, writes } = recordingSocket();
    const sink = new FrameSink(socket);
    const [h, c, d] = framesOf(Buffer.concat([headers, continuation, data]));
    sink.forward(...h!);
    sink.inject(ping);
    sink.forward(...c!);
    sink.forward(...d!);
    sink.flush();
    expect(Buffer.concat(writes)).toEqual(Buffer.concat([headers, continuation, ping, data]));
  });

  it('writes a chunk as it came, the same buffer, and stays idle for what follows', () => {
    const chunk = Buffer.concat([data, headers]);
    const { socket, writes } = recordingSocket();
    const sink = new FrameSink(socket);
    expect(sink.writeAsItCame(chunk)).toBe(true);
    expect(sink.idle).toBe(true);
    sink.inject(ping);
    sink.flush();
    expect(writes).toHaveLength(2);
    expect(writes[0]).toBe(chunk);
    expect(writes[1]).toEqual(ping);
  });

});

describe('runtime send window', () => {
  it('charges own DATA to the stream and connection and repays the surplus from connection updates', () => {
    const w = new RuntimeSendWindow();
    w.trackStream(3);
    w.sentOwn(3, 60_000);
    expect(w.connection).toBe(5535);
    expect(w.streamWindow(3)).toBe(5535);
    expect(w.onConnectionUpdate(40_000)).toBe(0);
    expect(w.onConnectionUpdate(40_000)).toBe(20_000);
    expect(w.outstandingSurplus).toBe(0);
    expect(w.connection).toBe(85_535);
  });

  it('applies SETTINGS_INITIAL_WINDOW_SIZE changes to tracked streams by the difference', () => {
    const w = new RuntimeSendWindow();
    w.trackStream(1);
    w.sentOwn(1, 1000);
    w.applySettings([
      [Setting.INITIAL_WINDOW_SIZE, 1_048_576],
      [Setting.MAX_FRAME_SIZE, 65_536],
    ]);
    expect(w.streamWindow(1)).toBe(1_048_576 - 1000);
    expect(w.maxFrameSize).toBe(65_536);
    w.trackStream(5);
    expect(w.streamWindow(5)).toBe(1_048_576);
  });
});

describe('gRPC helpers', () => {
  it('percent-encodes grpc-message as the gRPC spec asks', () => {
    expect(percentEncodeGrpcMessage('plain text: ok')).toBe('plain text: ok');
    expect(percentEncodeGrpcMessage('100% ✗\n')).toBe('100%25 %E2%9C%97%0A');
  });

  it('builds trailers-only and trailers frames', () => {
    const decode = (frame: Buffer) => {
      expect(readFrameHeader(frame)).toMatchObject({ type: FrameType.HEADERS, flags: Flag.END_STREAM | Flag.END_HEADERS, streamId: 9 });
      return new HpackDecoder().decode(frame.subarray(9));
    };
    expect(decode(statusFrame(9, 14, 'runtime down', true))).toEqual([
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-status', '14'],
      ['grpc-message', 'runtime down'],
    ]);
    expect(decode(statusFrame(9, 13, 'x', false))).toEqual([
      ['grpc-status', '13'],
      ['grpc-message', 'x'],
    ]);
  });

  it('parses grpc-timeout values', () => {
    expect(parseGrpcTimeout('1S')).toBe(1000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('2H')).toBe(7_200_000);
    expect(parseGrpcTimeout('123456789S')).toBeUndefined();
    expect(parseGrpcTimeout('5x')).toBeUndefined();
  });

  it('finds exactly one uncompressed message in a unary body', () => {
    expect(parseSingleMessage(framedMessage(Buffer.from('m')))).toEqual({ kind: 'message', message: Buffer.from('m') });
    const compressed = framedMessage(Buffer.from('z'));
    compressed[0] = 1;
    expect(parseSingleMessage(compressed)).toEqual({ kind: 'compressed' });
    expect(parseSingleMessage(Buffer.concat([framedMessage(Buffer.from('a')), framedMessage(Buffer.from('b'))])).kind).toBe(
      'malformed',
    );
    expect(parseSingleMessage(Buffer.alloc(3)).kind).toBe('malformed');
  });
});
