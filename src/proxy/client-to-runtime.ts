import type { ProxyObserver } from './api.js';
import { ProtocolError } from './errors.js';
import { FrameReader, joined, type FrameBytes } from './frame-reader.js';
import { FrameScanner, passesAsItCame } from './frame-scanner.js';
import {
  CLIENT_PREFACE,
  Flag,
  FrameType,
  dataContent,
  headersFragment,
  settingsWithHeaderTableSize,
  type FrameHeader,
} from './frames.js';
import { fieldValue, observingDecoder, type HeaderField } from './hpack-decoder.js';
import type { CallOutcome } from './stream-table.js';
import type { Interception, PendingBlock, StreamState } from './stream-state.js';

/** What this direction needs of its connection. */
export interface ClientToRuntimeHost {
  /** The runtime is connected and the connection is not closing. */
  readonly proxying: boolean;
  /** Closes the connection after an error. */
  fail(err: unknown): void;
  /** Writes what both directions have queued. */
  flush(): void;
  /** The runtime socket asked the writer to wait: the client is not read until it drains. */
  waitForRuntimeDrain(): void;
  /** Client DATA must wait for the runtime's window (true), or may go on again (false). */
  stallClient(stalled: boolean): void;
}

/** What this direction needs of the writer towards the runtime (see FrameSink). */
export interface RuntimeSink {
  readonly idle: boolean;
  readonly midHeaderBlock: boolean;
  writeAsItCame(chunk: Buffer): boolean;
  forwardRaw(bytes: FrameBytes): void;
  forward(frame: FrameBytes, header: FrameHeader): void;
  inject(frame: Buffer): void;
}

/** What this direction needs of the connection's calls (see StreamTable). */
export interface ClientCalls {
  readonly anyReset: boolean;
  readonly lastClientStreamId: number;
  readonly drainLastStreamId: number | undefined;
  get(streamId: number): StreamState | undefined;
  isReset(streamId: number): boolean;
  forwardedHeaders(streamId: number): void;
  open(streamId: number, method: string, clientEnded: boolean): StreamState | undefined;
  end(streamId: number, outcome: CallOutcome): void;
}

/** What this direction needs of the interception point (see Interceptions). */
export interface ClientInterceptions {
  intercepts(method: string): boolean;
  begin(stream: StreamState, fields: readonly HeaderField[]): void;
  hold(stream: StreamState, interception: Interception, content: Buffer, endStream: boolean): void;
}

/** What this direction needs of the runtime's receive window (see RuntimeSendWindow). */
export interface ClientWindow {
  readonly connection: number;
  readonly trackedStreams: number;
  forwarded(length: number): void;
}

/** What this direction needs of the flow-control give-back (see WindowGiveBack). */
export interface ClientGiveBack {
  owe(streamId: number, length: number, streamLevel: boolean): void;
  pay(): void;
}

/**
 * Everything that happens to the bytes kubelet sends: the preface and every frame go to the
 * runtime in order and unchanged, except the client's SETTINGS (see onSettings), DATA of an
 * intercepted call (held for the interceptor), DATA and RST_STREAM on a stream the proxy reset
 * (dropped, their window given back). Header blocks are decoded, never changed, to learn each
 * call's method and deadline; a new call is opened in the stream table here (see openCall).
 */
export class ClientToRuntime {
  /** Client bytes the pump has not handled yet; handed to the UNAVAILABLE responder if the runtime is gone. */
  readonly reader = new FrameReader();
  private readonly scanner = new FrameScanner();
  /**
   * The proxy observes; the runtime enforces the table size limit it advertised. The decoder
   * sees every block, tracked stream or not, to stay in step with the client's encoder.
   */
  private readonly decoder = observingDecoder();
  private prefaceForwarded = false;
  private block: PendingBlock | undefined;
  /**
   * Field lists of the client's next header blocks, oldest first, decoded before their frames
   * were handled (see decodeAhead); afterChunk or onHeaderBlock takes them.
   */
  private readonly decodedAhead: HeaderField[][] = [];
  private stalled = false;

  constructor(
    private readonly host: ClientToRuntimeHost,
    private readonly calls: ClientCalls,
    private readonly interceptions: ClientInterceptions,
    private readonly window: ClientWindow,
    private readonly giveBack: ClientGiveBack,
    private readonly toRuntime: RuntimeSink,
    /** Off in debug runs: every chunk takes the pump. */
    private readonly fastPath: boolean,
    private readonly observer?: ProxyObserver,
  ) {}

  /** The client socket's 'data' listener. */
  readonly onData = (chunk: Buffer): void => {
    if (!this.host.proxying || !this.prefaceForwarded) {
      this.reader.push(chunk);
      if (this.host.proxying) this.pump();
      return;
    }
    try {
      if (this.decodeAhead(chunk)) {
        if (!this.toRuntime.writeAsItCame(chunk)) this.host.waitForRuntimeDrain();
        this.afterChunk(chunk);
        return;
      }
    } catch (err) {
      this.host.fail(err);
      return;
    }
    this.reader.push(chunk);
    this.pump();
  };

  /** Handles every whole frame received so far, as far as the runtime's window lets DATA go. */
  pump(): void {
    if (!this.host.proxying) return;
    if (!this.prefaceForwarded) {
      const preface = this.reader.skip(CLIENT_PREFACE.length);
      if (preface === undefined) return;
      this.toRuntime.forwardRaw(preface);
      this.prefaceForwarded = true;
    }
    let stalled = false;
    try {
      for (let header = this.reader.peek(); header !== undefined; header = this.reader.peek()) {
        if (
          header.type === FrameType.DATA &&
          header.length > this.window.connection &&
          this.reachesRuntime(header.streamId)
        ) {
          stalled = true;
          break;
        }
        this.onFrame(header, this.reader.take());
        if (!this.host.proxying) return;
      }
    } catch (err) {
      this.host.fail(err);
      return;
    }
    if (stalled !== this.stalled) {
      this.stalled = stalled;
      this.host.stallClient(stalled);
    }
    this.giveBack.pay();
    this.host.flush();
  }

  /** The runtime's window grew: DATA that waited for it may go on. */
  resumeIfStalled(): void {
    if (this.stalled) this.pump();
  }

  /**
   * Decodes the header blocks of a chunk before its frames are handled (HPACK state has to
   * follow every block anyway, and the method decides how the call is handled) and tells whether
   * the chunk may go to the runtime at once, as it came, with afterChunk's bookkeeping instead
   * of the pump: it is whole frames of the kinds that bookkeeping knows, and nothing can make the
   * proxy hold, drop, change or add a frame (no intercepted call open or opened by it, no reset
   * streams, no drain, DATA within the runtime's window). A block split into CONTINUATIONs ends
   * the decoding; the pump decodes it.
   */
  private decodeAhead(chunk: Buffer): boolean {
    if (this.reader.bufferedBytes !== 0 || this.block !== undefined) return false;
    let ahead =
      this.fastPath &&
      this.toRuntime.idle &&
      !this.calls.anyReset &&
      this.window.trackedStreams === 0 &&
      this.calls.drainLastStreamId === undefined;
    let dataBytes = 0;
    const scanner = this.scanner;
    const header = scanner.header;
    for (scanner.start(chunk); scanner.next(); ) {
      if (header.type === FrameType.HEADERS) {
        if (!(header.flags & Flag.END_HEADERS)) return false;
        // Most blocks carry neither padding nor priority: decoded in place, without a view.
        const fields =
          header.flags & (Flag.PADDED | Flag.PRIORITY)
            ? this.decoder.decode(headersFragment(header.flags, scanner.payload()))
            : this.decoder.decode(chunk, scanner.payloadStart, scanner.payloadEnd);
        this.decodedAhead.push(fields);
        if (ahead && this.isIntercepted(fields)) ahead = false;
      } else if (header.type === FrameType.DATA) {
        dataBytes += header.length;
      } else if (!passesAsItCame(header)) {
        ahead = false;
      }
    }
    return ahead && scanner.complete && dataBytes <= this.window.connection;
  }

  /** The pump's bookkeeping for a chunk decodeAhead passed, already written to the runtime. */
  private afterChunk(chunk: Buffer): void {
    const scanner = this.scanner;
    const header = scanner.header;
    for (scanner.start(chunk); scanner.next(); ) {
      const endStream = (header.flags & Flag.END_STREAM) !== 0;
      if (header.type === FrameType.HEADERS) this.onHeaders(header.streamId, endStream, this.decodedAhead.shift()!);
      else if (header.type === FrameType.DATA) this.passedData(header.streamId, header.length, endStream);
      else if (header.type === FrameType.RST_STREAM) this.calls.end(header.streamId, 'reset by client');
      if (!this.host.proxying) return;
    }
  }

  private isIntercepted(fields: HeaderField[]): boolean {
    return this.interceptions.intercepts(fieldValue(fields, ':path') ?? '');
  }

  /** Client DATA on this stream passes through (is neither held nor dropped). */
  private reachesRuntime(streamId: number): boolean {
    return !this.calls.isReset(streamId) && this.calls.get(streamId)?.interception?.phase !== 'holding';
  }

  private onFrame(header: FrameHeader, frame: FrameBytes): void {
    switch (header.type) {
      case FrameType.HEADERS:
        this.block = {
          streamId: header.streamId,
          endStream: (header.flags & Flag.END_STREAM) !== 0,
          // A block decoded ahead is the head of that queue and needs no fragments kept.
          fragments: this.decodedAhead.length > 0 ? [] : [headersFragment(header.flags, frame.payload())],
        };
        this.calls.forwardedHeaders(header.streamId);
        this.toRuntime.forward(frame, header);
        if (header.flags & Flag.END_HEADERS) this.onHeaderBlock();
        return;
      case FrameType.CONTINUATION:
        this.block?.fragments.push(frame.payload());
        this.toRuntime.forward(frame, header);
        if (header.flags & Flag.END_HEADERS) this.onHeaderBlock();
        return;
      case FrameType.DATA:
        this.onDataFrame(header, frame);
        return;
      case FrameType.SETTINGS:
        this.onSettings(header, frame);
        return;
      case FrameType.RST_STREAM:
        // A stream we reset towards the runtime already: the runtime needs no second reset.
        if (this.calls.isReset(header.streamId)) return;
        this.toRuntime.forward(frame, header);
        this.calls.end(header.streamId, 'reset by client');
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
  private onSettings(header: FrameHeader, frame: FrameBytes): void {
    const wellFormed = header.streamId === 0 && header.length % 6 === 0 && !this.toRuntime.midHeaderBlock;
    if (header.flags & Flag.ACK || !wellFormed) this.toRuntime.forward(frame, header);
    else this.toRuntime.inject(settingsWithHeaderTableSize(frame.payload(), 0));
  }

  private onHeaderBlock(): void {
    const block = this.block;
    this.block = undefined;
    if (block === undefined) return;
    const fields = this.decodedAhead.shift() ?? this.decoder.decode(joined(block.fragments));
    this.onHeaders(block.streamId, block.endStream, fields);
  }

  /** A whole client header block: a new call, or (never from gRPC clients) trailers. */
  private onHeaders(streamId: number, endStream: boolean, fields: HeaderField[]): void {
    if (streamId > this.calls.lastClientStreamId) {
      this.openCall(streamId, fields, endStream);
      return;
    }
    const stream = this.calls.get(streamId);
    if (stream === undefined) return;
    const phase = stream.interception?.phase;
    if (phase !== undefined && phase !== 'done') {
      // Trailers from a gRPC client do not exist; forwarding them before the held body would
      // reorder the stream, holding them back would desynchronise the runtime's HPACK decoder.
      throw new ProtocolError(`client sent trailers on intercepted call ${stream.method} (stream ${stream.id})`);
    }
    if (endStream) stream.clientEnded = true;
  }

  /** A call starts; an intercepted method's body is held from here on. */
  private openCall(streamId: number, fields: HeaderField[], endStream: boolean): void {
    const method = fieldValue(fields, ':path') ?? '';
    const stream = this.calls.open(streamId, method, endStream);
    if (stream !== undefined) this.observer?.callStarted(method);
    if (stream !== undefined && !endStream && this.interceptions.intercepts(method)) {
      this.interceptions.begin(stream, fields);
    }
  }

  private onDataFrame(header: FrameHeader, frame: FrameBytes): void {
    const endStream = (header.flags & Flag.END_STREAM) !== 0;
    if (this.calls.isReset(header.streamId)) {
      this.giveBack.owe(header.streamId, header.length, false);
      return;
    }
    const stream = this.calls.get(header.streamId);
    const interception = stream?.interception;
    if (stream && interception?.phase === 'holding') {
      this.giveBack.owe(header.streamId, header.length, !endStream);
      this.interceptions.hold(stream, interception, dataContent(header.flags, frame.payload()), endStream);
      return;
    }
    this.toRuntime.forward(frame, header);
    this.passedData(header.streamId, header.length, endStream);
  }

  /** Client DATA that went to the runtime as it came. */
  private passedData(streamId: number, length: number, endStream: boolean): void {
    this.window.forwarded(length);
    if (!endStream) return;
    const stream = this.calls.get(streamId);
    if (stream) stream.clientEnded = true;
  }
}
