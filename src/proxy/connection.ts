import net from 'node:net';
import { newRequestId, type Logger } from '../log/logger.js';
import type { CallInterceptor, ProxyObserver } from './api.js';
import { FrameReader, joined, type FrameBytes } from './frame-reader.js';
import { FrameSink } from './frame-sink.js';
import {
  CLIENT_PREFACE,
  DEFAULT_HEADER_TABLE_SIZE,
  ErrorCode,
  FRAME_HEADER_LENGTH,
  Flag,
  FrameType,
  dataContent,
  goawayFrame,
  headersFragment,
  parseSettings,
  rstStreamFrame,
  settingsWithHeaderTableSize,
  windowUpdateFrame,
  type FrameHeader,
} from './frames.js';
import { RuntimeSendWindow } from './flow-control.js';
import { GrpcCode, statusFrame } from './grpc-status.js';
import { HpackDecoder, fieldValue, type HeaderField } from './hpack-decoder.js';
import { Interceptions } from './interception.js';
import { PauseGate } from './pause-gate.js';
import { ProtocolError, type PendingBlock, type StreamState } from './stream-state.js';
import { UnavailableResponder } from './unavailable-responder.js';

export interface ConnectionOptions {
  /** Filesystem path of the runtime's socket. */
  runtimePath: string;
  /** The endpoint as configured, for messages and logs. */
  runtimeEndpoint: string;
  interceptor?: CallInterceptor;
  observer?: ProxyObserver;
  logger: Logger;
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
/** How long a client may keep its end open after we ended ours. */
const LINGER_MS = 1000;
const MAX_STREAM_ID = 2 ** 31 - 1;

/**
 * One client connection and its own connection to the runtime: a byte pipe that cuts the stream
 * into whole frames and reads frame headers, decodes the client's header blocks (never changes
 * them) to learn each call's method and deadline, and touches frames only where it must: the
 * DATA of intercepted calls, the flow-control frames that account for them, the client's SETTINGS
 * (see onClientSettings), and the answers it writes itself when a call is rejected or the runtime
 * is gone. What happens to an intercepted call's body is up to Interceptions (interception.ts).
 */
export class ProxyConnection {
  private state: 'connecting' | 'proxying' | 'unavailable' | 'closed' = 'connecting';
  private readonly fromClient = new FrameReader();
  private readonly fromRuntime = new FrameReader();
  private readonly upstream: net.Socket;
  private readonly toClient: FrameSink;
  private readonly toRuntime: FrameSink;
  private readonly clientGate: PauseGate;
  private readonly upstreamGate: PauseGate;
  private readonly log: Logger;
  private readonly debug: boolean;
  /**
   * The proxy observes; the runtime enforces the table size limit it advertised. The table starts
   * at the protocol's 4096 octets like the runtime's own decoder, and follows the client's size updates.
   */
  private readonly clientDecoder = observingDecoder();
  /** Decodes the runtime's header blocks for grpc-status in debug lines; only when debug is on. */
  private runtimeDecoder: HpackDecoder | undefined;
  private prefaceForwarded = false;
  private clientBlock: PendingBlock | undefined;
  private runtimeBlock: PendingBlock | undefined;
  /** Inside a runtime header block on a reset stream: its CONTINUATIONs are dropped too. */
  private droppingRuntimeBlock = false;
  private readonly streams = new Map<number, StreamState>();
  /**
   * Streams reset towards the runtime (the runtime's frames on them are dropped), each with the
   * highest client stream id forwarded before the reset: the runtime handles frames in order, so
   * once it answers a later stream it has seen the reset and sends nothing more on the old one,
   * which can then be forgotten.
   */
  private readonly discarded = new Map<number, number>();
  private readonly window = new RuntimeSendWindow();
  private readonly interceptions: Interceptions;
  private returnConnection = 0;
  private readonly returnStreams = new Map<number, number>();
  private lastClientStreamId = 0;
  private runtimeLastStreamId = MAX_STREAM_ID;
  private runtimeError: Error | undefined;
  private flowStalled = false;
  private drainLastStreamId: number | undefined;
  private drainResolve: (() => void) | undefined;
  /**
   * Field lists of the client's next header blocks, oldest first, decoded before their frames
   * were handled (see decodeAhead); afterClientChunk or onClientHeaderBlock takes them.
   */
  private readonly decodedAhead: HeaderField[][] = [];
  private readonly onClientData = (chunk: Buffer): void => {
    if (this.state !== 'proxying' || !this.prefaceForwarded) {
      this.fromClient.push(chunk);
      if (this.state === 'proxying') this.pumpClient();
      return;
    }
    try {
      if (this.decodeAhead(chunk)) {
        if (!this.toRuntime.writeAsItCame(chunk)) this.waitForRuntimeDrain();
        this.afterClientChunk(chunk);
        return;
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    this.fromClient.push(chunk);
    this.pumpClient();
  };
  /** Resolves when the client socket has closed. */
  readonly closed: Promise<void>;

  constructor(
    private readonly client: net.Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.log = options.logger;
    this.debug = this.log.isLevelEnabled('debug');
    if (this.debug) this.runtimeDecoder = observingDecoder();
    this.interceptions = new Interceptions(
      options.interceptor,
      {
        isOpen: (stream) => this.state === 'proxying' && this.streams.get(stream.id) === stream,
        injectToRuntime: (frame) => this.toRuntime.inject(frame),
        injectToClient: (frame) => this.toClient.inject(frame),
        discard: (streamId) => this.discard(streamId),
        finish: (stream, outcome) => this.finishStream(stream, outcome),
        flush: () => {
          this.flushToRuntime();
          this.flushToClient();
        },
        fail: (err) => this.fail(err),
      },
      this.window,
      this.log,
    );
    this.toClient = new FrameSink(client);
    this.clientGate = new PauseGate(client);
    this.closed = new Promise((resolve) => client.once('close', () => resolve()));
    client.on('data', this.onClientData);
    client.on('error', (err) => this.log.debug({ err: err.message }, 'client connection error'));
    client.on('close', () => this.onClientClose());

    this.upstream = net.connect(options.runtimePath);
    this.toRuntime = new FrameSink(this.upstream);
    this.upstreamGate = new PauseGate(this.upstream);
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(
      () => this.upstream.destroy(new Error(`connect to ${options.runtimePath} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    this.upstream.once('connect', () => {
      clearTimeout(timer);
      this.onRuntimeConnected();
    });
    this.upstream.on('error', (err) => {
      clearTimeout(timer);
      if (this.state === 'connecting') this.becomeUnavailable(err);
      else this.runtimeError = err;
    });
    this.upstream.on('close', () => {
      clearTimeout(timer);
      if (this.state === 'proxying') this.onRuntimeGone();
    });
  }

  /** Number of calls that have not finished yet. */
  get openCalls(): number {
    return this.streams.size;
  }

  /**
   * Graceful stop: GOAWAY to the client naming the last stream it opened, so it opens no more
   * here; resolves once the open calls are done and both sockets are closing.
   */
  drain(): Promise<void> {
    if (this.state !== 'proxying') {
      this.destroy();
      return Promise.resolve();
    }
    if (this.drainLastStreamId === undefined) {
      this.drainLastStreamId = this.lastClientStreamId;
      this.toClient.inject(goawayFrame(this.lastClientStreamId, ErrorCode.NO_ERROR));
      this.flushToClient();
    }
    return new Promise((resolve) => {
      const previous = this.drainResolve;
      this.drainResolve = () => {
        previous?.();
        resolve();
      };
      if (this.streams.size === 0) this.finishDrain();
    });
  }

  /** Closes both sockets now. */
  destroy(): void {
    this.closeStreams();
    this.state = 'closed';
    this.client.destroy();
    this.upstream.destroy();
    this.resolveDrain();
  }

  // --- connection lifecycle -------------------------------------------------------------------

  private onRuntimeConnected(): void {
    if (this.state !== 'connecting') {
      this.upstream.destroy();
      return;
    }
    this.state = 'proxying';
    this.upstream.on('data', (chunk: Buffer) => this.onRuntimeData(chunk));
    this.pumpClient();
  }

  private becomeUnavailable(err: Error): void {
    this.state = 'unavailable';
    const message = `connection to runtime ${this.options.runtimeEndpoint} failed: ${err.message}`;
    this.log.warn(
      { runtimeEndpoint: this.options.runtimeEndpoint, err: err.message },
      'runtime not reachable; answering this connection\'s calls with UNAVAILABLE',
    );
    this.client.removeListener('data', this.onClientData);
    new UnavailableResponder(this.client, this.fromClient, message, this.options.observer);
  }

  private onRuntimeGone(): void {
    const reason = this.runtimeError ? `: ${this.runtimeError.message}` : '';
    const open = this.streams.size;
    this.log[open > 0 ? 'warn' : 'debug'](
      { runtimeEndpoint: this.options.runtimeEndpoint, openCalls: open, err: this.runtimeError?.message },
      'runtime connection closed',
    );
    this.closeWithUnavailable(`connection to runtime ${this.options.runtimeEndpoint} closed${reason}`);
  }

  /**
   * Ends every call the client still waits for with UNAVAILABLE, then GOAWAY and close. Calls
   * above the runtime's GOAWAY are skipped: the client already knows they were not processed.
   */
  private closeWithUnavailable(message: string): void {
    this.state = 'closed';
    if (this.toClient.midHeaderBlock) {
      // Our frames cannot go inside the runtime's unfinished header block.
      this.destroy();
      return;
    }
    for (const stream of this.streams.values()) {
      if (stream.id > this.runtimeLastStreamId) continue;
      this.options.observer?.runtimeUnavailable();
      this.toClient.inject(statusFrame(stream.id, GrpcCode.UNAVAILABLE, message, !stream.responseHeaders));
    }
    this.closeStreams();
    this.toClient.inject(goawayFrame(this.lastClientStreamId, ErrorCode.NO_ERROR));
    this.toClient.flush();
    this.upstream.destroy();
    this.endClient();
    this.resolveDrain();
  }

  private onClientClose(): void {
    this.state = 'closed';
    this.closeStreams();
    this.upstream.destroy();
    this.resolveDrain();
  }

  private fail(err: unknown): void {
    if (this.state === 'closed') return;
    this.log.error(
      { err: err instanceof Error ? err.message : String(err), runtimeEndpoint: this.options.runtimeEndpoint },
      'closing proxied connection',
    );
    if (err instanceof ProtocolError) this.closeWithUnavailable(err.message);
    else this.destroy();
  }

  private endClient(): void {
    if (this.client.destroyed) return;
    this.client.end();
    setTimeout(() => this.client.destroy(), LINGER_MS).unref();
  }

  private finishDrain(): void {
    // Deferred: the frame that finished the last call is written by the pump that is running now.
    setImmediate(() => {
      if (this.state === 'proxying') {
        this.state = 'closed';
        this.upstream.end();
        this.endClient();
      }
      this.resolveDrain();
    });
  }

  private resolveDrain(): void {
    const resolve = this.drainResolve;
    this.drainResolve = undefined;
    resolve?.();
  }

  /** Aborts every interception still running and forgets all calls. */
  private closeStreams(): void {
    this.interceptions.abortAll(this.streams.values());
    this.streams.clear();
  }

  private flushToRuntime(): void {
    if (!this.toRuntime.flush()) this.waitForRuntimeDrain();
  }

  private waitForRuntimeDrain(): void {
    this.clientGate.add('drain');
    this.upstream.once('drain', () => this.clientGate.delete('drain'));
  }

  private flushToClient(): void {
    if (!this.toClient.flush()) this.waitForClientDrain();
  }

  private waitForClientDrain(): void {
    this.upstreamGate.add('drain');
    this.client.once('drain', () => this.upstreamGate.delete('drain'));
  }

  // --- client -> runtime ----------------------------------------------------------------------

  private pumpClient(): void {
    if (this.state !== 'proxying') return;
    if (!this.prefaceForwarded) {
      const preface = this.fromClient.skip(CLIENT_PREFACE.length);
      if (preface === undefined) return;
      this.toRuntime.forwardRaw(preface);
      this.prefaceForwarded = true;
    }
    let stalled = false;
    try {
      for (let header = this.fromClient.peek(); header !== undefined; header = this.fromClient.peek()) {
        if (
          header.type === FrameType.DATA &&
          header.length > this.window.connection &&
          this.reachesRuntime(header.streamId)
        ) {
          stalled = true;
          break;
        }
        this.onClientFrame(header, this.fromClient.take());
        if (this.state !== 'proxying') return;
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    if (stalled !== this.flowStalled) this.setFlowStall(stalled);
    if (this.returnConnection > 0) this.emitWindowReturns();
    this.flushToRuntime();
    this.flushToClient();
  }

  /**
   * Decodes the header blocks of a client chunk before its frames are handled (HPACK state has
   * to follow every block anyway, and the method decides how the call is handled) and tells
   * whether the chunk may go to the runtime at once, as it came, with afterClientChunk's
   * bookkeeping instead of the pump: it is whole frames of the kinds that bookkeeping knows, and
   * nothing can make the proxy hold, drop, change or add a frame (no intercepted call open or
   * opened by it, no reset streams, no drain, DATA within the runtime's window). Debug runs keep
   * the ordinary path. A block split into CONTINUATIONs ends the decoding; the pump decodes it.
   */
  private decodeAhead(chunk: Buffer): boolean {
    if (this.fromClient.bufferedBytes !== 0 || this.clientBlock !== undefined) return false;
    let ahead =
      !this.debug &&
      this.toRuntime.idle &&
      this.discarded.size === 0 &&
      this.window.trackedStreams === 0 &&
      this.drainLastStreamId === undefined;
    let dataBytes = 0;
    let offset = 0;
    while (offset + FRAME_HEADER_LENGTH <= chunk.length) {
      const end = offset + FRAME_HEADER_LENGTH + chunk.readUIntBE(offset, 3);
      if (end > chunk.length) break;
      const type = chunk[offset + 3];
      const flags = chunk[offset + 4]!;
      if (type === FrameType.HEADERS) {
        if (!(flags & Flag.END_HEADERS)) return false;
        const payload = chunk.subarray(offset + FRAME_HEADER_LENGTH, end);
        const fields = this.clientDecoder.decode(headersFragment(flags, payload));
        this.decodedAhead.push(fields);
        if (ahead && this.isIntercepted(fields)) ahead = false;
      } else if (type === FrameType.DATA) {
        dataBytes += end - offset - FRAME_HEADER_LENGTH;
      } else if (!passesAsItCame(type!, flags, end - offset - FRAME_HEADER_LENGTH)) {
        ahead = false;
      }
      offset = end;
    }
    return ahead && offset === chunk.length && dataBytes <= this.window.connection;
  }

  /** The pump's bookkeeping for a chunk decodeAhead passed, already written to the runtime. */
  private afterClientChunk(chunk: Buffer): void {
    for (let offset = 0; offset < chunk.length; ) {
      const length = chunk.readUIntBE(offset, 3);
      const type = chunk[offset + 3];
      const endStream = (chunk[offset + 4]! & Flag.END_STREAM) !== 0;
      const streamId = chunk.readUInt32BE(offset + 5) & MAX_STREAM_ID;
      if (type === FrameType.HEADERS) this.onClientHeaders(streamId, endStream, this.decodedAhead.shift()!);
      else if (type === FrameType.DATA) this.passedClientData(streamId, length, endStream);
      else if (type === FrameType.RST_STREAM) this.onClientReset(streamId);
      if (this.state !== 'proxying') return;
      offset += FRAME_HEADER_LENGTH + length;
    }
  }

  private isIntercepted(fields: HeaderField[]): boolean {
    return this.interceptions.intercepts(fieldValue(fields, ':path') ?? '');
  }

  /** Client DATA on this stream passes through (is neither held nor dropped). */
  private reachesRuntime(streamId: number): boolean {
    return !this.discarded.has(streamId) && this.streams.get(streamId)?.interception?.phase !== 'holding';
  }

  /** Client DATA waits while the runtime's real window is short (see RuntimeSendWindow). */
  private setFlowStall(stalled: boolean): void {
    this.flowStalled = stalled;
    if (stalled) this.clientGate.add('flow');
    else this.clientGate.delete('flow');
  }

  private onClientFrame(header: FrameHeader, frame: FrameBytes): void {
    switch (header.type) {
      case FrameType.HEADERS:
        this.clientBlock = {
          streamId: header.streamId,
          endStream: (header.flags & Flag.END_STREAM) !== 0,
          // A block decoded ahead is the head of that queue and needs no fragments kept.
          fragments: this.decodedAhead.length > 0 ? [] : [headersFragment(header.flags, frame.payload())],
        };
        this.toRuntime.forward(frame, header);
        if (header.flags & Flag.END_HEADERS) this.onClientHeaderBlock();
        return;
      case FrameType.CONTINUATION:
        this.clientBlock?.fragments.push(frame.payload());
        this.toRuntime.forward(frame, header);
        if (header.flags & Flag.END_HEADERS) this.onClientHeaderBlock();
        return;
      case FrameType.DATA:
        this.onClientDataFrame(header, frame);
        return;
      case FrameType.SETTINGS:
        this.onClientSettings(header, frame);
        return;
      case FrameType.RST_STREAM:
        // A stream we reset towards the runtime already: the runtime needs no second reset.
        if (this.discarded.has(header.streamId)) return;
        this.toRuntime.forward(frame, header);
        this.onClientReset(header.streamId);
        return;
      default:
        this.toRuntime.forward(frame, header);
    }
  }

  /**
   * The runtime is told the client's HPACK table holds nothing (SETTINGS_HEADER_TABLE_SIZE 0), so
   * its encoder never indexes a response field (RFC 7541 section 4.2) and no header block of the
   * runtime depends on an earlier one. That is what lets the proxy drop the runtime's answer on
   * a stream it reset without the client's decoder drifting. The client's other settings pass
   * unchanged; a malformed frame passes as it came, for the runtime to refuse.
   */
  private onClientSettings(header: FrameHeader, frame: FrameBytes): void {
    const wellFormed = header.streamId === 0 && header.length % 6 === 0 && !this.toRuntime.midHeaderBlock;
    if (header.flags & Flag.ACK || !wellFormed) this.toRuntime.forward(frame, header);
    else this.toRuntime.inject(settingsWithHeaderTableSize(frame.payload(), 0));
  }

  private onClientHeaderBlock(): void {
    const block = this.clientBlock;
    this.clientBlock = undefined;
    if (block === undefined) return;
    // Decoded even for streams we do not track: the decoder must see every block to stay in sync.
    const fields = this.decodedAhead.shift() ?? this.clientDecoder.decode(joined(block.fragments));
    this.onClientHeaders(block.streamId, block.endStream, fields);
  }

  /** A whole client header block: a new call, or (never from gRPC clients) trailers. */
  private onClientHeaders(streamId: number, endStream: boolean, fields: HeaderField[]): void {
    if (streamId > this.lastClientStreamId) {
      this.lastClientStreamId = streamId;
      this.openStream(streamId, fields, endStream);
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    const phase = stream.interception?.phase;
    if (phase !== undefined && phase !== 'done') {
      // Trailers from a gRPC client do not exist; forwarding them before the held body would
      // reorder the stream, holding them back would desynchronise the runtime's HPACK decoder.
      throw new ProtocolError(`client sent trailers on intercepted call ${stream.method} (stream ${stream.id})`);
    }
    if (endStream) stream.clientEnded = true;
  }

  private openStream(id: number, fields: HeaderField[], endStream: boolean): void {
    if (this.drainLastStreamId !== undefined && id > this.drainLastStreamId) {
      // Opened before the client saw our GOAWAY: it will retry elsewhere, so the runtime must not run it.
      this.discard(id);
      return;
    }
    const method = fieldValue(fields, ':path') ?? '';
    this.options.observer?.callStarted(method);
    const stream: StreamState = {
      id,
      method,
      startedAt: this.debug ? performance.now() : 0,
      requestId: this.debug ? newRequestId() : undefined,
      deadline: undefined,
      clientEnded: endStream,
      responseHeaders: false,
      interception: undefined,
    };
    if (!endStream && this.interceptions.intercepts(method)) this.interceptions.begin(stream, fields);
    this.streams.set(id, stream);
  }

  private onClientDataFrame(header: FrameHeader, frame: FrameBytes): void {
    const endStream = (header.flags & Flag.END_STREAM) !== 0;
    const stream = this.streams.get(header.streamId);
    if (this.discarded.has(header.streamId)) {
      this.giveBack(header.streamId, header.length, false);
      return;
    }
    const interception = stream?.interception;
    if (stream && interception?.phase === 'holding') {
      this.giveBack(header.streamId, header.length, !endStream);
      this.interceptions.hold(stream, interception, dataContent(header.flags, frame.payload()), endStream);
      return;
    }
    this.toRuntime.forward(frame, header);
    this.passedClientData(header.streamId, header.length, endStream);
  }

  /** Client DATA that went to the runtime as it came. */
  private passedClientData(streamId: number, length: number, endStream: boolean): void {
    this.window.forwarded(length);
    if (!endStream) return;
    const stream = this.streams.get(streamId);
    if (stream) stream.clientEnded = true;
  }

  private onClientReset(streamId: number): void {
    const stream = this.streams.get(streamId);
    if (stream) this.finishStream(stream, 'reset by client');
  }

  /** Client window spent on DATA the runtime will not see, owed back to the client. */
  private giveBack(streamId: number, length: number, streamLevel: boolean): void {
    if (length === 0) return;
    this.returnConnection += length;
    if (streamLevel) this.returnStreams.set(streamId, (this.returnStreams.get(streamId) ?? 0) + length);
  }

  /** Stream-level returns always come with a connection-level one (see giveBack). */
  private emitWindowReturns(): void {
    this.toClient.inject(windowUpdateFrame(0, this.returnConnection));
    this.returnConnection = 0;
    for (const [streamId, length] of this.returnStreams) {
      if (this.streams.has(streamId)) this.toClient.inject(windowUpdateFrame(streamId, length));
    }
    this.returnStreams.clear();
  }

  /** Resets a stream towards the runtime and drops whatever the runtime still sends on it. */
  private discard(streamId: number): void {
    this.discarded.set(streamId, Math.max(this.lastClientStreamId, this.clientBlock?.streamId ?? 0));
    this.toRuntime.inject(rstStreamFrame(streamId, ErrorCode.CANCEL));
  }

  /**
   * Forgets reset streams the runtime is done with. No PING serves as the barrier: a grpc-go
   * server counts PINGs while it has no open streams and closes a connection that sends too many.
   */
  private retireResetStreams(answeredStreamId: number): void {
    for (const [streamId, lastForwarded] of this.discarded) {
      if (answeredStreamId <= lastForwarded) continue;
      this.discarded.delete(streamId);
      if (this.debug) this.log.debug({ streamId }, 'reset stream retired');
    }
  }

  private finishStream(stream: StreamState, outcome: number | string | undefined): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    const interception = stream.interception;
    if (interception) this.interceptions.ended(stream, interception, outcome);
    if (this.debug) {
      this.log.debug(
        {
          method: stream.method,
          durationMs: Math.round((performance.now() - stream.startedAt) * 1000) / 1000,
          grpcCode: typeof outcome === 'number' ? outcome : undefined,
          reset: typeof outcome === 'string' ? outcome : undefined,
          requestId: stream.requestId,
        },
        'call',
      );
    }
    if (this.drainResolve && this.streams.size === 0) this.finishDrain();
  }

  // --- runtime -> client ----------------------------------------------------------------------

  private onRuntimeData(chunk: Buffer): void {
    if (!this.runtimeChunkPassesAsItCame(chunk)) {
      this.fromRuntime.push(chunk);
      this.pumpRuntime();
      return;
    }
    if (!this.toClient.writeAsItCame(chunk)) this.waitForClientDrain();
    try {
      this.afterRuntimeChunk(chunk);
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * The chunk may go to the client at once, as it came, with afterRuntimeChunk's bookkeeping
   * instead of the pump (each step costs time the call waits for): it is whole frames of the
   * kinds that bookkeeping knows, and nothing in the proxy's state can make it drop, change or
   * put a frame of its own between them (no reset streams, no window surplus to take back,
   * nothing of ours waiting to be written). Debug runs keep the pump, which reads grpc-status.
   */
  private runtimeChunkPassesAsItCame(chunk: Buffer): boolean {
    if (
      this.state !== 'proxying' ||
      this.runtimeDecoder !== undefined ||
      this.fromRuntime.bufferedBytes !== 0 ||
      this.runtimeBlock !== undefined ||
      this.discarded.size !== 0 ||
      this.window.outstandingSurplus !== 0 ||
      !this.toClient.idle
    ) {
      return false;
    }
    let offset = 0;
    while (offset + FRAME_HEADER_LENGTH <= chunk.length) {
      const length = chunk.readUIntBE(offset, 3);
      if (!passesAsItCame(chunk[offset + 3]!, chunk[offset + 4]!, length)) return false;
      offset += FRAME_HEADER_LENGTH + length;
    }
    return offset === chunk.length;
  }

  /** The pump's bookkeeping for a chunk that went to the client as it came. */
  private afterRuntimeChunk(chunk: Buffer): void {
    let windowGrew = false;
    for (let offset = 0; offset < chunk.length; ) {
      const length = chunk.readUIntBE(offset, 3);
      const type = chunk[offset + 3];
      const endStream = (chunk[offset + 4]! & Flag.END_STREAM) !== 0;
      const streamId = chunk.readUInt32BE(offset + 5) & MAX_STREAM_ID;
      if (type === FrameType.HEADERS) {
        this.onRuntimeHeaders(streamId, endStream, undefined);
      } else if (type === FrameType.DATA) {
        if (endStream) this.runtimeEnded(streamId, undefined);
      } else if (type === FrameType.RST_STREAM) {
        this.runtimeEnded(streamId, 'reset by runtime');
      } else if (type === FrameType.WINDOW_UPDATE) {
        // With no surplus outstanding the client gets every increment, as the pump would pass it.
        const increment = chunk.readUInt32BE(offset + FRAME_HEADER_LENGTH) & MAX_STREAM_ID;
        if (streamId === 0) this.window.onConnectionUpdate(increment);
        else this.window.onStreamUpdate(streamId, increment);
        windowGrew = true;
      }
      if (this.state !== 'proxying') return;
      offset += FRAME_HEADER_LENGTH + length;
    }
    if (windowGrew) this.afterRuntimeWindowGrew();
  }

  private pumpRuntime(): void {
    let windowChanged = false;
    try {
      for (let header = this.fromRuntime.peek(); header !== undefined; header = this.fromRuntime.peek()) {
        windowChanged = this.onRuntimeFrame(header, this.fromRuntime.take()) || windowChanged;
        if (this.state !== 'proxying') return;
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    this.flushToClient();
    if (windowChanged) this.afterRuntimeWindowGrew();
    else this.flushToRuntime();
  }

  /** Our own DATA and stalled client DATA may go on. */
  private afterRuntimeWindowGrew(): void {
    this.interceptions.sendWithinWindows();
    this.flushToRuntime();
    if (this.flowStalled) this.pumpClient();
  }

  /** Handles one runtime frame; true when the runtime's windows may have grown. */
  private onRuntimeFrame(header: FrameHeader, frame: FrameBytes): boolean {
    switch (header.type) {
      case FrameType.SETTINGS:
        if (!(header.flags & Flag.ACK)) this.window.applySettings(parseSettings(frame.payload()));
        this.toClient.forward(frame, header);
        return true;
      case FrameType.WINDOW_UPDATE:
        this.onRuntimeWindowUpdate(header, frame);
        return true;
      case FrameType.HEADERS:
        if (this.discarded.has(header.streamId)) {
          // The answer crossed our reset; the client already has its status (see onClientSettings).
          this.droppingRuntimeBlock = (header.flags & Flag.END_HEADERS) === 0;
          return false;
        }
        if (this.discarded.size > 0) this.retireResetStreams(header.streamId);
        this.runtimeBlock = {
          streamId: header.streamId,
          endStream: (header.flags & Flag.END_STREAM) !== 0,
          fragments: this.runtimeDecoder ? [headersFragment(header.flags, frame.payload())] : [],
        };
        this.toClient.forward(frame, header);
        if (header.flags & Flag.END_HEADERS) this.onRuntimeHeaderBlock();
        return false;
      case FrameType.CONTINUATION:
        if (this.droppingRuntimeBlock) {
          this.droppingRuntimeBlock = (header.flags & Flag.END_HEADERS) === 0;
          return false;
        }
        if (this.runtimeDecoder) this.runtimeBlock?.fragments.push(frame.payload());
        this.toClient.forward(frame, header);
        if (header.flags & Flag.END_HEADERS) this.onRuntimeHeaderBlock();
        return false;
      case FrameType.PUSH_PROMISE:
        // gRPC never pushes; rather than decode promise blocks, stop decoding for debug lines.
        this.runtimeDecoder = undefined;
        this.toClient.forward(frame, header);
        return false;
      case FrameType.DATA: {
        if (this.discarded.has(header.streamId)) {
          // The client never sees these bytes, so it will not give the runtime its window back.
          if (header.length > 0) this.toRuntime.inject(windowUpdateFrame(0, header.length));
          return false;
        }
        this.toClient.forward(frame, header);
        if (header.flags & Flag.END_STREAM) this.runtimeEnded(header.streamId, undefined);
        return false;
      }
      case FrameType.RST_STREAM: {
        if (this.discarded.has(header.streamId)) return false;
        this.toClient.forward(frame, header);
        this.runtimeEnded(header.streamId, 'reset by runtime');
        return false;
      }
      case FrameType.GOAWAY:
        this.runtimeLastStreamId = frame.payloadUInt31();
        this.toClient.forward(frame, header);
        this.forgetRefusedStreams();
        return false;
      default:
        this.toClient.forward(frame, header);
        return false;
    }
  }

  /**
   * Calls above the runtime's GOAWAY were never processed and the client, which saw the GOAWAY,
   * retries them elsewhere: they are forgotten, and an intercepted one stops its interceptor and
   * is reset so that its held body never reaches the runtime.
   */
  private forgetRefusedStreams(): void {
    for (const stream of [...this.streams.values()]) {
      if (stream.id <= this.runtimeLastStreamId) continue;
      if (stream.interception) this.discard(stream.id);
      this.finishStream(stream, 'refused by runtime GOAWAY');
    }
  }

  private onRuntimeWindowUpdate(header: FrameHeader, frame: FrameBytes): void {
    const increment = frame.payloadUInt31();
    if (header.streamId !== 0) {
      if (this.discarded.has(header.streamId)) return;
      this.window.onStreamUpdate(header.streamId, increment);
      this.toClient.forward(frame, header);
      return;
    }
    const share = this.window.onConnectionUpdate(increment);
    if (share === increment) this.toClient.forward(frame, header);
    else if (share > 0) this.toClient.inject(windowUpdateFrame(0, share));
  }

  private onRuntimeHeaderBlock(): void {
    const block = this.runtimeBlock;
    this.runtimeBlock = undefined;
    if (block === undefined) return;
    let grpcStatus: number | undefined;
    if (this.runtimeDecoder) {
      const status = this.runtimeDecoder.decode(joined(block.fragments)).find(([name]) => name === 'grpc-status');
      if (status) grpcStatus = Number(status[1]);
    }
    this.onRuntimeHeaders(block.streamId, block.endStream, grpcStatus);
  }

  /** A whole runtime header block: response headers, or the end of the call. */
  private onRuntimeHeaders(streamId: number, endStream: boolean, grpcStatus: number | undefined): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (endStream) this.finishStream(stream, grpcStatus);
    else stream.responseHeaders = true;
  }

  private runtimeEnded(streamId: number, outcome: number | string | undefined): void {
    const stream = this.streams.get(streamId);
    if (stream) this.finishStream(stream, outcome);
  }
}

/**
 * Frames a chunk may hold and still go on as it came, with the fast bookkeeping of
 * afterClientChunk and afterRuntimeChunk: HEADERS only with its whole block, SETTINGS only as an
 * acknowledgement (the proxy reads or rewrites the others), WINDOW_UPDATE only well formed.
 */
function passesAsItCame(type: number, flags: number, length: number): boolean {
  switch (type) {
    case FrameType.DATA:
    case FrameType.RST_STREAM:
    case FrameType.PING:
    case FrameType.PRIORITY:
      return true;
    case FrameType.HEADERS:
      return (flags & Flag.END_HEADERS) !== 0;
    case FrameType.SETTINGS:
      return (flags & Flag.ACK) !== 0;
    case FrameType.WINDOW_UPDATE:
      return length === 4;
    default:
      return false;
  }
}

/** A decoder for a peer whose size updates the other end checks (see clientDecoder). */
function observingDecoder(): HpackDecoder {
  return new HpackDecoder(Number.MAX_SAFE_INTEGER, DEFAULT_HEADER_TABLE_SIZE);
}
