import { newRequestId, type Logger } from '../log/logger.js';
import { ErrorCode, MAX_UINT31, rstStreamFrame } from './frames.js';
import type { Interception, StreamState } from './stream-state.js';

/** How a call ended: the runtime's grpc-status when known, else what ended it ('reset by client'). */
export type CallOutcome = number | string | undefined;

/** What the stream table needs of its connection. */
export interface StreamTableHost {
  /** Queues a frame of the proxy's own for the runtime. */
  injectToRuntime(frame: Buffer): void;
  /** An intercepted call ended: its interceptor and its own DATA stop. */
  interceptionEnded(stream: StreamState, interception: Interception, outcome: CallOutcome): void;
  /** The last open call finished (a drain waits for this). */
  lastCallFinished(): void;
}

/**
 * The calls of one connection and the stream ids that bound them: the calls in flight, the
 * streams reset towards the runtime (and when they can be forgotten), the last stream id the
 * client opened, the runtime's GOAWAY bound and the proxy's own drain bound.
 */
export class StreamTable {
  private readonly calls = new Map<number, StreamState>();
  /**
   * Streams reset towards the runtime (the runtime's frames on them are dropped), each with the
   * highest client stream id forwarded before the reset: the runtime handles frames in order, so
   * once it answers a later stream it has seen the reset and sends nothing more on the old one,
   * which can then be forgotten.
   */
  private readonly resetStreams = new Map<number, number>();
  /** The highest stream id the client opened with a whole header block. */
  lastClientStreamId = 0;
  /** The highest stream id whose HEADERS went to the runtime, block finished or not. */
  private lastForwardedStreamId = 0;
  /** Streams above this one were refused by the runtime's GOAWAY. */
  runtimeLastStreamId = MAX_UINT31;
  /** Set once the proxy sent its own GOAWAY: streams above it never reach the runtime. */
  drainLastStreamId: number | undefined;

  constructor(
    private readonly host: StreamTableHost,
    private readonly log: Logger,
    private readonly debug: boolean,
  ) {}

  /** Number of calls that have not finished yet. */
  get size(): number {
    return this.calls.size;
  }

  get(streamId: number): StreamState | undefined {
    return this.calls.get(streamId);
  }

  has(streamId: number): boolean {
    return this.calls.has(streamId);
  }

  values(): IterableIterator<StreamState> {
    return this.calls.values();
  }

  isReset(streamId: number): boolean {
    return this.resetStreams.has(streamId);
  }

  /** Some stream is reset and not yet retired: the runtime may still send frames to drop. */
  get anyReset(): boolean {
    return this.resetStreams.size !== 0;
  }

  /** A HEADERS frame went to the runtime: a reset from now on must outlive that stream's answer. */
  forwardedHeaders(streamId: number): void {
    if (streamId > this.lastForwardedStreamId) this.lastForwardedStreamId = streamId;
  }

  /**
   * A call starts: a new client stream's whole header block. Undefined when the stream was opened
   * after the proxy's GOAWAY: the client retries it elsewhere, so the runtime must not run it.
   */
  open(id: number, method: string, clientEnded: boolean): StreamState | undefined {
    this.lastClientStreamId = id;
    if (this.drainLastStreamId !== undefined && id > this.drainLastStreamId) {
      this.reset(id);
      return undefined;
    }
    const stream: StreamState = {
      id,
      method,
      startedAt: this.debug ? performance.now() : 0,
      requestId: this.debug ? newRequestId() : undefined,
      deadline: undefined,
      clientEnded,
      responseHeaders: false,
      interception: undefined,
    };
    this.calls.set(id, stream);
    return stream;
  }

  /** A call ends (answered, reset, rejected, refused): it is forgotten and, in debug, logged. */
  finish(stream: StreamState, outcome: CallOutcome): void {
    if (this.calls.get(stream.id) !== stream) return;
    this.calls.delete(stream.id);
    const interception = stream.interception;
    if (interception) this.host.interceptionEnded(stream, interception, outcome);
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
    if (this.calls.size === 0) this.host.lastCallFinished();
  }

  /** Ends the call on `streamId`, if there is one. */
  end(streamId: number, outcome: CallOutcome): void {
    const stream = this.calls.get(streamId);
    if (stream) this.finish(stream, outcome);
  }

  /** Resets a stream towards the runtime; whatever the runtime still sends on it is dropped. */
  reset(streamId: number): void {
    this.resetStreams.set(streamId, Math.max(this.lastClientStreamId, this.lastForwardedStreamId));
    this.host.injectToRuntime(rstStreamFrame(streamId, ErrorCode.CANCEL));
  }

  /**
   * The runtime answered `answeredStreamId`: reset streams it is done with are forgotten. No PING
   * serves as the barrier: a grpc-go server counts PINGs while it has no open streams and closes
   * a connection that sends too many.
   */
  retireResetStreams(answeredStreamId: number): void {
    for (const [streamId, lastForwarded] of this.resetStreams) {
      if (answeredStreamId <= lastForwarded) continue;
      this.resetStreams.delete(streamId);
      if (this.debug) this.log.debug({ streamId }, 'reset stream retired');
    }
  }

  /**
   * The runtime's GOAWAY: calls above its last stream id were never processed and the client,
   * which sees the GOAWAY, retries them elsewhere. They are forgotten, and an intercepted one
   * is reset so that its held body never reaches the runtime.
   */
  refuseAbove(lastStreamId: number): void {
    this.runtimeLastStreamId = lastStreamId;
    for (const stream of [...this.calls.values()]) {
      if (stream.id <= lastStreamId) continue;
      if (stream.interception) this.reset(stream.id);
      this.finish(stream, 'refused by runtime GOAWAY');
    }
  }

  /** The proxy's GOAWAY names the last stream the client opened; true the first time only. */
  startDrain(): boolean {
    if (this.drainLastStreamId !== undefined) return false;
    this.drainLastStreamId = this.lastClientStreamId;
    return true;
  }

  /** Calls the runtime accepted (not above its GOAWAY) that the client still waits for. */
  *unanswered(): IterableIterator<StreamState> {
    for (const stream of this.calls.values()) if (stream.id <= this.runtimeLastStreamId) yield stream;
  }

  /** Forgets every call at once (the connection is closing). */
  clear(): void {
    this.calls.clear();
  }
}
