import { ProtocolError } from './errors.js';
import { FrameReader, joined, type FrameBytes } from './frame-reader.js';
import { FrameScanner, passesAsItCame } from './frame-scanner.js';
import { Flag, FrameType, headersFragment, parseSettings, windowUpdateFrame, type FrameHeader } from './frames.js';
import { observingDecoder, type HpackDecoder } from './hpack-decoder.js';
import type { CallOutcome } from './stream-table.js';
import type { PendingBlock, StreamState } from './stream-state.js';

/** What this direction needs of its connection. */
export interface RuntimeToClientHost {
  /** The runtime is connected and the connection is not closing. */
  readonly proxying: boolean;
  /** Closes the connection after an error. */
  fail(err: unknown): void;
  /** The client socket asked the writer to wait: the runtime is not read until it drains. */
  waitForClientDrain(): void;
  flushToClient(): void;
  flushToRuntime(): void;
  /** The runtime's windows may have grown: the proxy's own DATA and stalled client DATA may go on. */
  runtimeWindowGrew(): void;
}

/** What this direction needs of the writer towards the client (see FrameSink). */
export interface ClientSink {
  readonly idle: boolean;
  writeAsItCame(chunk: Buffer): boolean;
  forward(frame: FrameBytes, header: FrameHeader): void;
  inject(frame: Buffer): void;
}

/** What this direction needs of the writer towards the runtime: a place for its own frames. */
export interface RuntimeSinkForUpdates {
  inject(frame: Buffer): void;
}

/** What this direction needs of the connection's calls (see StreamTable). */
export interface RuntimeCalls {
  readonly anyReset: boolean;
  get(streamId: number): StreamState | undefined;
  isReset(streamId: number): boolean;
  retireResetStreams(answeredStreamId: number): void;
  finish(stream: StreamState, outcome: CallOutcome): void;
  end(streamId: number, outcome: CallOutcome): void;
  refuseAbove(lastStreamId: number): void;
}

/** What this direction needs of the runtime's receive window (see RuntimeSendWindow). */
export interface RuntimeWindow {
  readonly outstandingSurplus: number;
  applySettings(settings: ReadonlyArray<readonly [number, number]>): void;
  onConnectionUpdate(increment: number): number;
  onStreamUpdate(streamId: number, increment: number): void;
}

/**
 * Everything that happens to the bytes the runtime sends: every frame goes to the client in order
 * and unchanged, except frames on a stream the proxy reset (dropped; the window their DATA spent
 * is given back to the runtime) and connection-level WINDOW_UPDATEs while the proxy's own DATA is
 * not yet repaid (see RuntimeSendWindow). The runtime's SETTINGS and WINDOW_UPDATEs are read for
 * the windows, its GOAWAY for the calls it refused, and the end of each call is booked.
 */
export class RuntimeToClient {
  private readonly reader = new FrameReader();
  private readonly scanner = new FrameScanner();
  /** Decodes the runtime's header blocks for grpc-status in debug lines; only when debug is on. */
  private decoder: HpackDecoder | undefined;
  private block: PendingBlock | undefined;
  /** Inside a runtime header block on a reset stream: its CONTINUATIONs are dropped too. */
  private droppingBlock = false;

  constructor(
    private readonly host: RuntimeToClientHost,
    private readonly calls: RuntimeCalls,
    private readonly window: RuntimeWindow,
    private readonly toClient: ClientSink,
    private readonly toRuntime: RuntimeSinkForUpdates,
    debug: boolean,
  ) {
    if (debug) this.decoder = observingDecoder();
  }

  /** The runtime socket's 'data' listener. */
  readonly onData = (chunk: Buffer): void => {
    if (!this.passesAsItCame(chunk)) {
      this.reader.push(chunk);
      this.pump();
      return;
    }
    if (!this.toClient.writeAsItCame(chunk)) this.host.waitForClientDrain();
    try {
      this.afterChunk(chunk);
    } catch (err) {
      this.host.fail(err);
    }
  };

  /**
   * The chunk may go to the client at once, as it came, with afterChunk's bookkeeping instead of
   * the pump (each step costs time the call waits for): it is whole frames of the kinds that
   * bookkeeping knows, and nothing in the proxy's state can make it drop, change or put a frame
   * of its own between them (no reset streams, no window surplus to take back, nothing of ours
   * waiting to be written). Debug runs keep the pump, which reads grpc-status.
   */
  private passesAsItCame(chunk: Buffer): boolean {
    if (
      !this.host.proxying ||
      this.decoder !== undefined ||
      this.reader.bufferedBytes !== 0 ||
      this.block !== undefined ||
      this.calls.anyReset ||
      this.window.outstandingSurplus !== 0 ||
      !this.toClient.idle
    ) {
      return false;
    }
    const scanner = this.scanner;
    for (scanner.start(chunk); scanner.next(); ) if (!passesAsItCame(scanner.header)) return false;
    return scanner.complete;
  }

  /** The pump's bookkeeping for a chunk that went to the client as it came. */
  private afterChunk(chunk: Buffer): void {
    let windowGrew = false;
    const scanner = this.scanner;
    const header = scanner.header;
    for (scanner.start(chunk); scanner.next(); ) {
      const endStream = (header.flags & Flag.END_STREAM) !== 0;
      if (header.type === FrameType.HEADERS) {
        this.onHeaders(header.streamId, endStream, undefined);
      } else if (header.type === FrameType.DATA) {
        if (endStream) this.calls.end(header.streamId, undefined);
      } else if (header.type === FrameType.RST_STREAM) {
        this.calls.end(header.streamId, 'reset by runtime');
      } else if (header.type === FrameType.WINDOW_UPDATE) {
        // With no surplus outstanding the client gets every increment, as the pump would pass it.
        const increment = scanner.payloadUInt31();
        if (header.streamId === 0) this.window.onConnectionUpdate(increment);
        else this.window.onStreamUpdate(header.streamId, increment);
        windowGrew = true;
      }
      if (!this.host.proxying) return;
    }
    if (windowGrew) this.host.runtimeWindowGrew();
  }

  private pump(): void {
    let windowChanged = false;
    try {
      for (let header = this.reader.peek(); header !== undefined; header = this.reader.peek()) {
        windowChanged = this.onFrame(header, this.reader.take()) || windowChanged;
        if (!this.host.proxying) return;
      }
    } catch (err) {
      this.host.fail(err);
      return;
    }
    this.host.flushToClient();
    if (windowChanged) this.host.runtimeWindowGrew();
    else this.host.flushToRuntime();
  }

  /** Handles one runtime frame; true when the runtime's windows may have grown. */
  private onFrame(header: FrameHeader, frame: FrameBytes): boolean {
    switch (header.type) {
      case FrameType.SETTINGS:
        if (!(header.flags & Flag.ACK)) this.window.applySettings(parseSettings(frame.payload()));
        this.toClient.forward(frame, header);
        return true;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(header, frame);
        return true;
      case FrameType.HEADERS:
        if (this.calls.isReset(header.streamId)) {
          // The answer crossed our reset; the client already has its status (see ClientToRuntime.onSettings).
          this.droppingBlock = (header.flags & Flag.END_HEADERS) === 0;
          return false;
        }
        if (this.calls.anyReset) this.calls.retireResetStreams(header.streamId);
        this.block = {
          streamId: header.streamId,
          endStream: (header.flags & Flag.END_STREAM) !== 0,
          fragments: this.decoder ? [headersFragment(header.flags, frame.payload())] : [],
        };
        this.toClient.forward(frame, header);
        if (header.flags & Flag.END_HEADERS) this.onHeaderBlock();
        return false;
      case FrameType.CONTINUATION:
        if (this.droppingBlock) {
          this.droppingBlock = (header.flags & Flag.END_HEADERS) === 0;
          return false;
        }
        if (this.decoder) this.block?.fragments.push(frame.payload());
        this.toClient.forward(frame, header);
        if (header.flags & Flag.END_HEADERS) this.onHeaderBlock();
        return false;
      case FrameType.PUSH_PROMISE:
        // gRPC never pushes; rather than decode promise blocks, stop decoding for debug lines.
        this.decoder = undefined;
        this.toClient.forward(frame, header);
        return false;
      case FrameType.DATA:
        if (this.calls.isReset(header.streamId)) {
          // The client never sees these bytes, so it will not give the runtime its window back.
          if (header.length > 0) this.toRuntime.inject(windowUpdateFrame(0, header.length));
          return false;
        }
        this.toClient.forward(frame, header);
        if (header.flags & Flag.END_STREAM) this.calls.end(header.streamId, undefined);
        return false;
      case FrameType.RST_STREAM:
        if (this.calls.isReset(header.streamId)) return false;
        this.toClient.forward(frame, header);
        this.calls.end(header.streamId, 'reset by runtime');
        return false;
      case FrameType.GOAWAY:
        if (header.length < 8) {
          throw new ProtocolError(`runtime sent a GOAWAY of ${header.length} octets; RFC 9113 section 6.8 requires at least 8`);
        }
        this.toClient.forward(frame, header);
        this.calls.refuseAbove(frame.payloadUInt31());
        return false;
      default:
        this.toClient.forward(frame, header);
        return false;
    }
  }

  private onWindowUpdate(header: FrameHeader, frame: FrameBytes): void {
    if (header.length !== 4) {
      throw new ProtocolError(`runtime sent a WINDOW_UPDATE of ${header.length} octets; RFC 9113 section 6.9 allows 4`);
    }
    const increment = frame.payloadUInt31();
    if (header.streamId !== 0) {
      if (this.calls.isReset(header.streamId)) return;
      this.window.onStreamUpdate(header.streamId, increment);
      this.toClient.forward(frame, header);
      return;
    }
    const share = this.window.onConnectionUpdate(increment);
    if (share === increment) this.toClient.forward(frame, header);
    else if (share > 0) this.toClient.inject(windowUpdateFrame(0, share));
  }

  private onHeaderBlock(): void {
    const block = this.block;
    this.block = undefined;
    if (block === undefined) return;
    let grpcStatus: number | undefined;
    if (this.decoder) {
      const status = this.decoder.decode(joined(block.fragments)).find(([name]) => name === 'grpc-status');
      if (status) grpcStatus = Number(status[1]);
    }
    this.onHeaders(block.streamId, block.endStream, grpcStatus);
  }

  /** A whole runtime header block: response headers, or the end of the call. */
  private onHeaders(streamId: number, endStream: boolean, grpcStatus: number | undefined): void {
    const stream = this.calls.get(streamId);
    if (stream === undefined) return;
    if (endStream) this.calls.finish(stream, grpcStatus);
    else stream.responseHeaders = true;
  }
}
