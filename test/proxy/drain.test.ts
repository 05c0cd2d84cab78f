import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { FrameReader } from '../../src/proxy/frame-reader.js';
import { CLIENT_PREFACE, Flag, FrameType, encodeFrame } from '../../src/proxy/frames.js';
import { framedMessage } from '../../src/proxy/grpc-message.js';
import { encodeLiteralHeaders } from '../../src/proxy/hpack-encoder.js';
import { startFrameTestbed, type FrameTestbed } from '../support/proxy/frame-runtime.js';

const VERSION = '/runtime.v1.RuntimeService/Version';

interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A client written at the frame level: it keeps opening streams after a GOAWAY, as a racing client may. */
async function frameClient(socketPath: string): Promise<{ socket: net.Socket; frames: ReceivedFrame[] }> {
  const socket = net.connect(socketPath);
  await new Promise((resolve) => socket.once('connect', resolve));
  const frames: ReceivedFrame[] = [];
  const reader = new FrameReader();
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    for (let header = reader.peek(); header !== undefined; header = reader.peek()) {
      const { type, flags, streamId } = header;
      frames.push({ type, flags, streamId, payload: reader.take().payload() });
    }
  });
  socket.write(Buffer.concat([CLIENT_PREFACE, encodeFrame(FrameType.SETTINGS, 0, 0)]));
  return { socket, frames };
}

function requestHeaders(streamId: number): Buffer {
  const block = encodeLiteralHeaders([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', VERSION],
    [':authority', 'localhost'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ]);
  return encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, streamId, block);
}

function requestBody(streamId: number): Buffer {
  return encodeFrame(FrameType.DATA, Flag.END_STREAM, streamId, framedMessage(Buffer.alloc(0)));
}

/**
 * A graceful stop sends GOAWAY naming the last stream the client opened. A stream the client
 * opens after that (its frames crossed the GOAWAY) must not run on the runtime: the client will
 * retry it elsewhere. The call in flight still finishes, and only then does the proxy close.
 */
describe('graceful stop and a stream opened after the GOAWAY', () => {
  let bed: FrameTestbed;
  let client: Awaited<ReturnType<typeof frameClient>>;

  beforeAll(async () => {
    bed = await startFrameTestbed({ logger: silentLogger() });
    client = await frameClient(bed.proxy.listenPath);
  });

  afterAll(async () => {
    client?.socket.destroy();
    await bed?.stop();
  });

  it('keeps the late stream from the runtime and lets the open call finish', async () => {
    // Stream 1 is open (its body not sent yet) when the stop begins.
    client.socket.write(requestHeaders(1));
    await vi.waitFor(() => expect(bed.runtime.connections).toBe(1));
    const stopped = bed.proxy.stop();
    await vi.waitFor(() => expect(client.frames.some((f) => f.type === FrameType.GOAWAY)).toBe(true));
    const goaway = client.frames.find((f) => f.type === FrameType.GOAWAY)!;
    expect(goaway.payload.readUInt32BE(0) & 0x7fff_ffff).toBe(1);

    client.socket.write(Buffer.concat([requestHeaders(3), requestBody(3), requestBody(1)]));
    await stopped;

    const stream1 = client.frames.filter((f) => f.streamId === 1);
    expect(stream1.map((f) => f.type)).toEqual([FrameType.HEADERS, FrameType.DATA, FrameType.HEADERS]);
    expect(stream1[1]!.payload.subarray(5).toString()).toBe(`answer to ${VERSION}`);
    // The runtime got stream 3's headers and then a reset; its answer to the reset was dropped.
    expect(bed.runtime.lateAnswers).toEqual([3]);
    expect(client.frames.filter((f) => f.streamId === 3)).toEqual([]);
    expect([...bed.runtime.dataBytes[0]!.keys()]).toEqual([1]);
  });
});
