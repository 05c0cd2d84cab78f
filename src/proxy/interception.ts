import { errorText, newRequestId, type Logger } from '../log/logger.js';
import type { CallInterceptor, InterceptDecision, InterceptedCall } from './api.js';
import { ErrorCode, Flag, FrameType, encodeFrame, rstStreamFrame } from './frames.js';
import { framedMessage, parseSingleMessage } from './grpc-message.js';
import { GrpcCode, parseGrpcTimeout, statusFrame } from './grpc-status.js';
import { fieldValue, type HeaderField } from './hpack-decoder.js';
import type { Interception, StreamState } from './stream-state.js';
import type { CallOutcome } from './stream-table.js';

/** An intercepted request body larger than this is refused rather than held in memory. */
export const MAX_INTERCEPTED_BODY_BYTES = 64 * 1024 * 1024;

/** What the interception needs of its connection. */
export interface InterceptionHost {
  /** The call is still open and the connection still proxies. */
  isOpen(stream: StreamState): boolean;
  /** Queues a frame of the proxy's own for the runtime. */
  injectToRuntime(frame: Buffer): void;
  /** Queues a frame of the proxy's own for the client. */
  injectToClient(frame: Buffer): void;
  /** Resets a stream towards the runtime and drops whatever the runtime still sends on it. */
  reset(streamId: number): void;
  /** Forgets a call that ended; calls back `ended` for an intercepted one. */
  finish(stream: StreamState, outcome: CallOutcome): void;
  /** Writes the queued frames to both sockets. */
  flush(): void;
  /** Closes the connection after an error. */
  fail(err: unknown): void;
}

/** What the interception needs of the runtime's receive window (see RuntimeSendWindow). */
export interface InterceptionWindow {
  readonly connection: number;
  readonly maxFrameSize: number;
  streamWindow(streamId: number): number;
  trackStream(streamId: number): void;
  untrackStream(streamId: number): void;
  sentOwn(streamId: number, length: number): void;
}

/**
 * The interception point (CreateContainer): holds an intercepted call's request body, hands the
 * decoded message to the interceptor, then either sends the message it returns to the runtime as
 * the proxy's own DATA within the runtime's flow-control windows, or answers the client with a
 * trailers-only status and resets the stream towards the runtime.
 */
export class Interceptions {
  /** Calls whose own DATA is still going out, oldest first. */
  private readonly sending: StreamState[] = [];

  constructor(
    private readonly interceptor: CallInterceptor | undefined,
    private readonly host: InterceptionHost,
    private readonly window: InterceptionWindow,
    private readonly log: Logger,
  ) {}

  intercepts(method: string): boolean {
    const methods = this.interceptor?.methods;
    return methods !== undefined && methods.has(method);
  }

  /** Starts holding the body of a new call to an intercepted method. */
  begin(stream: StreamState, fields: readonly HeaderField[]): void {
    // The deadline matters only to the interceptor; other calls carry grpc-timeout on untouched.
    const timeout = fieldValue(fields, 'grpc-timeout');
    const timeoutMs = timeout === undefined ? undefined : parseGrpcTimeout(timeout);
    if (timeoutMs !== undefined) stream.deadline = new Date(Date.now() + timeoutMs);
    stream.requestId ??= newRequestId();
    stream.interception = { phase: 'holding', held: [], heldBytes: 0, abort: new AbortController(), sent: 0 };
    this.window.trackStream(stream.id);
  }

  /** Keeps back the content of one client DATA frame of a call in the holding phase. */
  hold(stream: StreamState, interception: Interception, content: Buffer, endStream: boolean): void {
    interception.held.push(content);
    interception.heldBytes += content.length;
    if (interception.heldBytes > MAX_INTERCEPTED_BODY_BYTES) {
      this.reject(
        stream,
        GrpcCode.RESOURCE_EXHAUSTED,
        `request to ${stream.method} exceeds the proxy's limit of ${MAX_INTERCEPTED_BODY_BYTES} bytes for intercepted calls`,
      );
      return;
    }
    if (endStream) {
      stream.clientEnded = true;
      this.decide(stream, interception);
    }
  }

  /** Sends our own DATA as far as the runtime's connection and stream windows allow. */
  sendWithinWindows(): void {
    for (let i = 0; i < this.sending.length; ) {
      const stream = this.sending[i]!;
      const interception = stream.interception!;
      const body = interception.body!;
      let finished = false;
      for (;;) {
        const remaining = body.length - interception.sent;
        const n = Math.min(
          remaining,
          this.window.maxFrameSize,
          this.window.connection,
          this.window.streamWindow(stream.id),
        );
        if (n <= 0 && remaining > 0) break;
        const last = interception.sent + n === body.length;
        const chunk = body.subarray(interception.sent, interception.sent + n);
        this.host.injectToRuntime(encodeFrame(FrameType.DATA, last ? Flag.END_STREAM : 0, stream.id, chunk));
        this.window.sentOwn(stream.id, n);
        interception.sent += n;
        if (last) {
          finished = true;
          break;
        }
      }
      if (finished) {
        interception.phase = 'done';
        interception.body = undefined;
        this.window.untrackStream(stream.id);
        this.sending.splice(i, 1);
      } else {
        i += 1;
      }
    }
  }

  /** An intercepted call ended (answered, reset, rejected): stops its interceptor and its DATA. */
  ended(stream: StreamState, interception: Interception, outcome: CallOutcome): void {
    if (interception.phase !== 'done') interception.abort.abort(new Error(`call ${stream.method} ended: ${outcome}`));
    const index = this.sending.indexOf(stream);
    if (index >= 0) this.sending.splice(index, 1);
    this.window.untrackStream(stream.id);
  }

  /** The connection closed: aborts every interception still running. */
  abortAll(streams: Iterable<StreamState>): void {
    for (const stream of streams) stream.interception?.abort.abort(new Error('connection closed'));
    this.sending.length = 0;
  }

  private decide(stream: StreamState, interception: Interception): void {
    interception.phase = 'deciding';
    const body = Buffer.concat(interception.held, interception.heldBytes);
    interception.held = [];
    const parsed = parseSingleMessage(body);
    const requestId = stream.requestId ?? newRequestId();
    if (parsed.kind !== 'message') {
      this.log.warn(
        {
          method: stream.method,
          requestId,
          reason: parsed.kind === 'compressed' ? 'compressed request message' : parsed.reason,
        },
        'intercepted call passed through unmodified',
      );
      this.sendOwn(stream, interception, body);
      return;
    }
    const interceptor = this.interceptor!;
    const call: InterceptedCall = {
      method: stream.method,
      message: parsed.message,
      requestId,
      signal: interception.abort.signal,
    };
    if (stream.deadline) call.deadline = stream.deadline;
    Promise.resolve()
      .then(() => interceptor.intercept(call))
      .then(
        (decision) => this.applyDecision(stream, decision),
        (err: unknown) => {
          const message = errorText(err);
          this.log.error({ method: stream.method, requestId, err: message }, 'interceptor failed; rejecting the call');
          this.applyDecision(stream, { action: 'reject', code: GrpcCode.INTERNAL, message });
        },
      );
  }

  private applyDecision(stream: StreamState, decision: InterceptDecision): void {
    const interception = stream.interception;
    // The call may have ended meanwhile (client reset, runtime answered, connection closed).
    if (!this.host.isOpen(stream) || interception?.phase !== 'deciding') return;
    try {
      if (decision.action === 'forward') this.sendOwn(stream, interception, framedMessage(decision.message));
      else this.reject(stream, decision.code, decision.message);
    } catch (err) {
      this.host.fail(err);
      return;
    }
    this.host.flush();
  }

  private sendOwn(stream: StreamState, interception: Interception, body: Buffer): void {
    interception.phase = 'sending';
    interception.body = body;
    interception.sent = 0;
    this.sending.push(stream);
    this.sendWithinWindows();
  }

  private reject(stream: StreamState, code: number, message: string): void {
    this.host.reset(stream.id);
    this.host.injectToClient(statusFrame(stream.id, code, message, !stream.responseHeaders));
    // A server that answers before the request is complete tells the client to stop sending.
    if (!stream.clientEnded) this.host.injectToClient(rstStreamFrame(stream.id, ErrorCode.NO_ERROR));
    this.host.finish(stream, code);
  }
}
