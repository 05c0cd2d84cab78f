import type * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FrameReader } from '../../../src/proxy/frame-reader.js';
import {
  CLIENT_PREFACE,
  DEFAULT_HEADER_TABLE_SIZE,
  Flag,
  FrameType,
  Setting,
  ErrorCode,
  encodeFrame,
  goawayFrame,
  headersFragment,
  parseSettings,
} from '../../../src/proxy/frames.js';
import { framedMessage } from '../../../src/proxy/grpc-message.js';
import { HpackDecoder, fieldValue } from '../../../src/proxy/hpack-decoder.js';
import { encodeInteger, encodeLiteralHeaders } from '../../../src/proxy/hpack-encoder.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../../src/proxy/index.js';
import { rawClient } from './raw-client.js';

/** A header field the runtime adds to its table when the client's table may hold it. */
const LATE_FIELD: readonly [string, string] = ['x-late-answer', 'yes'];
/** RFC 7541: the first dynamic table entry has index 62. */
const NEWEST_DYNAMIC_INDEX = 62;

/**
 * A runtime written at the frame level, for what a gRPC server library will not do on request:
 * it answers a stream the client (here: the proxy) has already reset, as a real runtime does when
 * its answer crosses the reset. Its HPACK encoder uses the client's dynamic table exactly as far
 * as the client's SETTINGS_HEADER_TABLE_SIZE allows: the late answer inserts a field, and every
 * later response refers to it by index. A client that never decoded the late answer would then
 * fail to decode the next response.
 */
export class FrameRuntime {
  /** Connections accepted so far. */
  get connections(): number {
    return this.dataBytes.length;
  }
  /** SETTINGS_HEADER_TABLE_SIZE of the client's latest SETTINGS (the protocol default until one says otherwise). */
  clientHeaderTableSize = DEFAULT_HEADER_TABLE_SIZE;
  /** Streams answered after the client reset them. */
  readonly lateAnswers: number[] = [];
  /** Per connection, in order: request DATA octets received per stream id. */
  readonly dataBytes: Array<Map<number, number>> = [];
  private readonly server = net.createServer((socket) => this.serve(socket));
  private latest: net.Socket | undefined;

  constructor(readonly socketPath: string) {}

  start(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  stop(): Promise<void> {
    this.latest?.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** GOAWAY on the latest connection: streams above `lastStreamId` will not be processed. */
  goaway(lastStreamId: number): void {
    this.send(goawayFrame(lastStreamId, ErrorCode.NO_ERROR));
  }

  /** Any bytes, well formed or not, on the latest connection. */
  send(bytes: Buffer): void {
    this.latest?.write(bytes);
  }

  private serve(socket: net.Socket): void {
    this.latest = socket;
    const received = new Map<number, number>();
    this.dataBytes.push(received);
    const reader = new FrameReader();
    const decoder = new HpackDecoder();
    const paths = new Map<number, string>();
    let prefaceSeen = false;
    let lateFieldIndexed = false;
    socket.write(encodeFrame(FrameType.SETTINGS, 0, 0));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      if (!prefaceSeen) {
        if (reader.skip(CLIENT_PREFACE.length) === undefined) return;
        prefaceSeen = true;
      }
      for (let header = reader.peek(); header !== undefined; header = reader.peek()) {
        const { type, flags, streamId } = header;
        const payload = reader.take().payload();
        if (type === FrameType.SETTINGS && !(flags & Flag.ACK)) {
          for (const [id, value] of parseSettings(payload)) {
            if (id === Setting.HEADER_TABLE_SIZE) this.clientHeaderTableSize = value;
          }
          socket.write(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
        } else if (type === FrameType.HEADERS) {
          paths.set(streamId, fieldValue(decoder.decode(headersFragment(flags, payload)), ':path') ?? '');
        } else if (type === FrameType.DATA) {
          received.set(streamId, (received.get(streamId) ?? 0) + payload.length);
        }
        if (type === FrameType.DATA && flags & Flag.END_STREAM) {
          const fields: Array<[string, string]> = [
            [':status', '200'],
            ['content-type', 'application/grpc'],
          ];
          const head = lateFieldIndexed
            ? Buffer.concat([encodeLiteralHeaders(fields), encodeInteger(NEWEST_DYNAMIC_INDEX, 7, 0x80)])
            : encodeLiteralHeaders(fields);
          socket.write(
            Buffer.concat([
              encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, streamId, head),
              encodeFrame(FrameType.DATA, 0, streamId, framedMessage(Buffer.from(`answer to ${paths.get(streamId)}`))),
              encodeFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, streamId, encodeLiteralHeaders([['grpc-status', '0']])),
            ]),
          );
        } else if (type === FrameType.RST_STREAM) {
          const indexes = this.clientHeaderTableSize >= LATE_FIELD[0].length + LATE_FIELD[1].length + 32;
          const fields = encodeLiteralHeaders([
            [':status', '200'],
            ['content-type', 'application/grpc'],
            ['grpc-status', '13'],
          ]);
          const block = indexes ? Buffer.concat([fields, literalWithIndexing(LATE_FIELD)]) : fields;
          socket.write(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, streamId, block));
          lateFieldIndexed ||= indexes;
          this.lateAnswers.push(streamId);
        }
      }
    });
  }
}

/** RFC 7541 section 6.2.1, new name: the receiver adds the field to its dynamic table. */
function literalWithIndexing([name, value]: readonly [string, string]): Buffer {
  const string = (s: string) => Buffer.concat([encodeInteger(s.length, 7, 0x00), Buffer.from(s, 'latin1')]);
  return Buffer.concat([Buffer.of(0x40), string(name), string(value)]);
}

export interface FrameTestbed {
  runtime: FrameRuntime;
  proxy: RunningProxy;
  /** A raw grpc-js client of the proxy, closed by stop(). */
  connect(): grpc.Client;
  /** Closes the clients, stops the proxy and the runtime and removes their directory. */
  stop(): Promise<void>;
}

/** A FrameRuntime and a proxy in front of it, in a directory of their own. */
export async function startFrameTestbed(options: Pick<ProxyOptions, 'interceptor' | 'logger'>): Promise<FrameTestbed> {
  const dir = await mkdtemp(path.join(tmpdir(), 'proxy-frames-'));
  const runtime = new FrameRuntime(path.join(dir, 'runtime.sock'));
  await runtime.start();
  const proxy = await startProxy({ listenPath: path.join(dir, 'shim.sock'), runtimeEndpoint: runtime.socketPath, ...options });
  const clients: grpc.Client[] = [];
  return {
    runtime,
    proxy,
    connect() {
      const client = rawClient(proxy.listenPath);
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.close();
      await proxy.stop();
      await runtime.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
