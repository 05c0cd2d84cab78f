import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { FrameReader } from '../../src/proxy/frame-reader.js';
import { CLIENT_PREFACE, Flag, FrameType, encodeFrame } from '../../src/proxy/frames.js';
import { HpackDecoder } from '../../src/proxy/hpack-decoder.js';
import { encodeInteger } from '../../src/proxy/hpack-encoder.js';
import { startProxy, type CallInterceptor, type InterceptedCall, type RunningProxy } from '../../src/proxy/index.js';
import { FakeRuntime } from '../support/proxy/fake-runtime.js';

/**
 * Several calls written to the proxy as one chunk, the way a busy kubelet's connection delivers
 * them: the proxy decodes every header block of such a chunk before handling its frames and may
 * write the chunk on before its bookkeeping. These tests pin down that an intercepted call in such
 * a chunk is still held, and that header blocks referring to table entries added earlier in the
 * same chunk are read right (the proxy's HPACK table follows the client's exactly).
 */

const VERSION = '/runtime.v1.RuntimeService/Version';
const LIST_CONTAINERS = '/runtime.v1.RuntimeService/ListContainers';
const CREATE_CONTAINER = '/runtime.v1.RuntimeService/CreateContainer';
/** The first dynamic table index (RFC 7541 section 2.3.3). */
const DYNAMIC = 62;

class GrowingInterceptor implements CallInterceptor {
  readonly methods = new Set([CREATE_CONTAINER]);
  readonly calls: InterceptedCall[] = [];
  async intercept(call: InterceptedCall) {
    this.calls.push(call);
    return { action: 'forward' as const, message: Buffer.concat([call.message, Buffer.from('+intercepted')]) };
  }
}

/** HPACK literal with incremental indexing, new name (section 6.2.1); raw octets. */
function indexedLiteral(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.of(0x40), hpackString(name), hpackString(value)]);
}

function hpackString(value: string): Buffer {
  return Buffer.concat([encodeInteger(value.length, 7, 0), Buffer.from(value, 'latin1')]);
}

/**
 * A gRPC request block: :method POST and :scheme http from the static table, then :authority,
 * the given :path representation, content-type and te; the last three are added to the table.
 */
function requestBlock(path: Buffer): Buffer {
  return Buffer.concat([
    Buffer.of(0x83, 0x86),
    Buffer.of(0x41), // literal with incremental indexing, name :authority (static index 1)
    hpackString('localhost'),
    path,
    indexedLiteral('content-type', 'application/grpc'),
    indexedLiteral('te', 'trailers'),
  ]);
}

/** A block made of :method POST, :scheme http and the given dynamic table entries, in order. */
function indexedBlock(...entries: number[]): Buffer {
  return Buffer.concat([Buffer.of(0x83, 0x86), indexed(...entries)]);
}

/** Indexed fields (section 6.1) naming dynamic table entries, 0 the newest. */
function indexed(...entries: number[]): Buffer {
  return Buffer.concat(entries.map((i) => encodeInteger(DYNAMIC + i, 7, 0x80)));
}

function grpcBody(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

function call(streamId: number, block: Buffer, message: string): Buffer {
  return Buffer.concat([
    encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, streamId, block),
    encodeFrame(FrameType.DATA, Flag.END_STREAM, streamId, grpcBody(Buffer.from(message))),
  ]);
}

/** A client speaking raw HTTP/2 over one connection; collects each stream's answer. */
class RawConnection {
  readonly status = new Map<number, string>();
  readonly bodies = new Map<number, Buffer[]>();
  private runtimeSettings = false;
  private readonly socket: net.Socket;
  private readonly reader = new FrameReader();
  private readonly decoder = new HpackDecoder();
  private blockStream = 0;
  private fragments: Buffer[] = [];

  constructor(socketPath: string) {
    this.socket = net.connect(socketPath);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => undefined);
    this.socket.write(Buffer.concat([CLIENT_PREFACE, encodeFrame(FrameType.SETTINGS, 0, 0)]));
  }

  /** Writes bytes in one write call: the proxy receives them as one chunk. */
  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The runtime's SETTINGS arrived: the proxy is connected to it and past the preface. */
  ready(): Promise<void> {
    return waitFor(() => this.runtimeSettings, 'runtime SETTINGS');
  }

  answered(streamIds: number[]): Promise<void> {
    return waitFor(() => streamIds.every((id) => this.status.has(id)), `answers on streams ${streamIds}`);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    for (let header = this.reader.peek(); header !== undefined; header = this.reader.peek()) {
      const { type, flags, streamId } = header;
      const payload = this.reader.take().payload();
      if (type === FrameType.SETTINGS && !(flags & Flag.ACK)) {
        this.runtimeSettings = true;
        this.send(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
      }
      if (type === FrameType.DATA) this.bodies.set(streamId, [...(this.bodies.get(streamId) ?? []), payload]);
      if (type === FrameType.HEADERS || type === FrameType.CONTINUATION) {
        if (type === FrameType.HEADERS) this.blockStream = streamId;
        this.fragments.push(payload);
        if (flags & Flag.END_HEADERS) this.onBlock();
      }
    }
  }

  private onBlock(): void {
    const fields = this.decoder.decode(Buffer.concat(this.fragments));
    this.fragments = [];
    const status = fields.find(([name]) => name === 'grpc-status');
    if (status) this.status.set(this.blockStream, status[1]);
  }
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`${what} did not come in time`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('several calls in one client chunk', () => {
  let dir: string;
  let fake: FakeRuntime;
  let proxy: RunningProxy;
  const interceptor = new GrowingInterceptor();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'proxy-chunks-'));
    fake = new FakeRuntime(path.join(dir, 'runtime.sock'));
    for (const method of [VERSION, LIST_CONTAINERS, CREATE_CONTAINER]) {
      fake.onUnary(method, (received) => ({ response: Buffer.from(`${method} got ${received.request}`) }));
    }
    await fake.start();
    proxy = await startProxy({
      listenPath: path.join(dir, 'shim.sock'),
      runtimeEndpoint: `unix://${fake.socketPath}`,
      interceptor,
      logger: silentLogger(),
    });
  });

  afterAll(async () => {
    await proxy?.stop();
    fake?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs `body` on a raw connection past the preface; then closes it and forgets the calls recorded. */
  async function onConnection(body: (connection: RawConnection) => Promise<void>): Promise<void> {
    const connection = new RawConnection(proxy.listenPath);
    try {
      await connection.ready();
      await body(connection);
    } finally {
      connection.close();
      fake.calls.length = 0;
      interceptor.calls.length = 0;
    }
  }

  /** Streams 1, 3 and 5 answered OK: a Version call 'a', then CreateContainer 'b' and 'c', both held. */
  async function expectVersionThenTwoHeldCreates(connection: RawConnection): Promise<void> {
    await connection.answered([1, 3, 5]);
    expect([...connection.status.values()]).toEqual(['0', '0', '0']);
    expect(interceptor.calls.map((c) => c.message.toString())).toEqual(['b', 'c']);
    const received = fake.calls.map((c) => `${c.method} ${c.request}`);
    expect(received).toEqual([`${VERSION} a`, `${CREATE_CONTAINER} b+intercepted`, `${CREATE_CONTAINER} c+intercepted`]);
  }

  it('holds an intercepted call whose method is a table entry added earlier in the same chunk', async () => {
    await onConnection(async (connection) => {
      // Literal :path without indexing (static name 4): the table gets authority, content-type, te.
      const first = requestBlock(Buffer.concat([encodeInteger(4, 4, 0x00), hpackString(VERSION)]));
      // Table after it, newest first: te, content-type, CreateContainer path, authority, ...
      const second = requestBlock(indexedLiteral(':path', CREATE_CONTAINER));
      // The same call again, by index only: authority, path, content-type, te.
      const third = indexedBlock(3, 2, 1, 0);
      connection.send(Buffer.concat([call(1, first, 'a'), call(3, second, 'b'), call(5, third, 'c')]));
      await expectVersionThenTwoHeldCreates(connection);
    });
  });

  it('reads header blocks framed with padding or a priority, and never the padding or the priority as fields', async () => {
    await onConnection(async (connection) => {
      const version = requestBlock(Buffer.concat([encodeInteger(4, 4, 0x00), hpackString(VERSION)]));
      // Pad length 4 read as a field would be a literal :path of garbage: the call would pass unheld.
      const padded = (block: Buffer): Buffer => Buffer.concat([Buffer.of(4), block, Buffer.alloc(4)]);
      // Priority octets (exclusive, on stream 0) read as a field would start with index 0, an HPACK error.
      const priority = Buffer.of(0x80, 0, 0, 0, 0xff);
      const create = requestBlock(indexedLiteral(':path', CREATE_CONTAINER));
      const frames = (streamId: number, flags: number, payload: Buffer, message: string): Buffer =>
        Buffer.concat([
          encodeFrame(FrameType.HEADERS, Flag.END_HEADERS | flags, streamId, payload),
          encodeFrame(FrameType.DATA, Flag.END_STREAM, streamId, grpcBody(Buffer.from(message))),
        ]);
      connection.send(
        Buffer.concat([
          frames(1, Flag.PADDED, padded(version), 'a'),
          frames(3, Flag.PADDED | Flag.PRIORITY, padded(Buffer.concat([priority, create])), 'b'),
          frames(5, Flag.PRIORITY, Buffer.concat([priority, indexedBlock(3, 2, 1, 0)]), 'c'),
        ]),
      );
      await expectVersionThenTwoHeldCreates(connection);
    });
  });

  it('passes chunks of plain calls through, reading later chunks with the table the earlier ones built', async () => {
    await onConnection(async (connection) => {
      const list = requestBlock(indexedLiteral(':path', LIST_CONTAINERS));
      const version = requestBlock(indexedLiteral(':path', VERSION));
      connection.send(Buffer.concat([call(1, list, 'x'), call(3, version, 'y')]));
      await connection.answered([1, 3]);
      // Table now, newest first: te, content-type, Version path, authority, te, content-type, ListContainers path, ...
      connection.send(Buffer.concat([call(5, indexedBlock(3, 6, 1, 0), 'z'), call(7, indexedBlock(3, 2, 1, 0), 'w')]));
      // The new path entry moves content-type and te one place down.
      const create = Buffer.concat([indexedBlock(3), indexedLiteral(':path', CREATE_CONTAINER), indexed(2, 1)]);
      connection.send(call(9, create, 'v'));
      await connection.answered([5, 7, 9]);
      expect([...connection.status.values()]).toEqual(['0', '0', '0', '0', '0']);
      const received = fake.calls.map((c) => `${c.method} ${c.request}`);
      expect(received).toEqual([
        `${LIST_CONTAINERS} x`,
        `${VERSION} y`,
        `${LIST_CONTAINERS} z`,
        `${VERSION} w`,
        `${CREATE_CONTAINER} v+intercepted`,
      ]);
      expect(new TextDecoder().decode(Buffer.concat(connection.bodies.get(5)!).subarray(5))).toBe(`${LIST_CONTAINERS} got z`);
    });
  });
});
