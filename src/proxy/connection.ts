import net from 'node:net';
import { errorText, type Logger } from '../log/logger.js';
import type { CallInterceptor, ProxyObserver } from './api.js';
import { ClientToRuntime } from './client-to-runtime.js';
import { endClient } from './end-client.js';
import { ProtocolError } from './errors.js';
import { FrameSink } from './frame-sink.js';
import { ErrorCode, goawayFrame } from './frames.js';
import { RuntimeSendWindow } from './flow-control.js';
import { GrpcCode, statusFrame } from './grpc-status.js';
import { Interceptions } from './interception.js';
import { PauseGate } from './pause-gate.js';
import { RuntimeToClient } from './runtime-to-client.js';
import { StreamTable } from './stream-table.js';
import { UnavailableResponder } from './unavailable-responder.js';
import { WindowGiveBack } from './window-give-back.js';

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

/**
 * One client connection and its own connection to the runtime, from open to close: a byte pipe
 * that cuts each direction into whole frames and touches them only where it must. This class
 * owns the sockets and the connection's lifecycle and wires the parts that own the rest:
 * - ClientToRuntime (client-to-runtime.ts): what happens to a frame from kubelet;
 * - RuntimeToClient (runtime-to-client.ts): what happens to a frame from the runtime;
 * - StreamTable (stream-table.ts): the calls, reset streams, last stream ids and drain bound;
 * - RuntimeSendWindow (flow-control.ts) and WindowGiveBack (window-give-back.ts): flow control;
 * - Interceptions (interception.ts): an intercepted call's body and the interceptor's decision.
 */
export class ProxyConnection {
  private state: 'connecting' | 'proxying' | 'unavailable' | 'closed' = 'connecting';
  private readonly runtime: net.Socket;
  private readonly toClient: FrameSink;
  private readonly toRuntime: FrameSink;
  private readonly clientGate: PauseGate;
  private readonly runtimeGate: PauseGate;
  private readonly log: Logger;
  private readonly calls: StreamTable;
  private readonly window = new RuntimeSendWindow();
  private readonly interceptions: Interceptions;
  private readonly fromClient: ClientToRuntime;
  private readonly fromRuntime: RuntimeToClient;
  private runtimeError: Error | undefined;
  private drainResolve: (() => void) | undefined;
  /** Resolves when the client socket has closed. */
  readonly closed: Promise<void>;

  constructor(
    private readonly client: net.Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.log = options.logger;
    const debug = this.log.isLevelEnabled('debug');
    this.toClient = new FrameSink(client);
    this.clientGate = new PauseGate(client);
    this.runtime = net.connect(options.runtimePath);
    this.toRuntime = new FrameSink(this.runtime);
    this.runtimeGate = new PauseGate(this.runtime);

    this.calls = new StreamTable(
      {
        injectToRuntime: (frame) => this.toRuntime.inject(frame),
        interceptionEnded: (stream, interception, outcome) => this.interceptions.ended(stream, interception, outcome),
        lastCallFinished: () => {
          if (this.drainResolve) this.finishDrain();
        },
      },
      this.log,
      debug,
    );
    this.interceptions = new Interceptions(
      options.interceptor,
      {
        isOpen: (stream) => this.state === 'proxying' && this.calls.get(stream.id) === stream,
        injectToRuntime: (frame) => this.toRuntime.inject(frame),
        injectToClient: (frame) => this.toClient.inject(frame),
        reset: (streamId) => this.calls.reset(streamId),
        finish: (stream, outcome) => this.calls.finish(stream, outcome),
        flush: () => this.flush(),
        fail: (err) => this.fail(err),
      },
      this.window,
      this.log,
    );
    const giveBack = new WindowGiveBack({
      injectToClient: (frame) => this.toClient.inject(frame),
      isOpen: (streamId) => this.calls.has(streamId),
    });
    this.fromClient = new ClientToRuntime(
      this,
      this.calls,
      this.interceptions,
      this.window,
      giveBack,
      this.toRuntime,
      !debug,
      options.observer,
    );
    this.fromRuntime = new RuntimeToClient(this, this.calls, this.window, this.toClient, this.toRuntime, debug);

    this.closed = new Promise((resolve) => client.once('close', () => resolve()));
    client.on('data', this.fromClient.onData);
    client.on('error', (err) => this.log.debug({ err: errorText(err) }, 'client connection error'));
    client.on('close', () => this.onClientClose());
    this.connectRuntime(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  }

  /** Number of calls that have not finished yet. */
  get openCalls(): number {
    return this.calls.size;
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
    if (this.calls.startDrain()) {
      this.toClient.inject(goawayFrame(this.calls.lastClientStreamId, ErrorCode.NO_ERROR));
      this.flushToClient();
    }
    return new Promise((resolve) => {
      const previous = this.drainResolve;
      this.drainResolve = () => {
        previous?.();
        resolve();
      };
      if (this.calls.size === 0) this.finishDrain();
    });
  }

  /** Closes both sockets now. */
  destroy(): void {
    this.closeCalls();
    this.state = 'closed';
    this.client.destroy();
    this.runtime.destroy();
    this.resolveDrain();
  }

  // --- what the two directions need (ClientToRuntimeHost, RuntimeToClientHost) ----------------

  get proxying(): boolean {
    return this.state === 'proxying';
  }

  fail(err: unknown): void {
    if (this.state === 'closed') return;
    this.log.error({ err: errorText(err), runtimeEndpoint: this.options.runtimeEndpoint }, 'closing proxied connection');
    if (err instanceof ProtocolError) this.closeWithUnavailable(err.message);
    else this.destroy();
  }

  flush(): void {
    this.flushToRuntime();
    this.flushToClient();
  }

  flushToRuntime(): void {
    if (!this.toRuntime.flush()) this.waitForRuntimeDrain();
  }

  flushToClient(): void {
    if (!this.toClient.flush()) this.waitForClientDrain();
  }

  waitForRuntimeDrain(): void {
    this.clientGate.add('drain');
    this.runtime.once('drain', () => this.clientGate.delete('drain'));
  }

  waitForClientDrain(): void {
    this.runtimeGate.add('drain');
    this.client.once('drain', () => this.runtimeGate.delete('drain'));
  }

  stallClient(stalled: boolean): void {
    if (stalled) this.clientGate.add('flow');
    else this.clientGate.delete('flow');
  }

  runtimeWindowGrew(): void {
    this.interceptions.sendWithinWindows();
    this.flushToRuntime();
    this.fromClient.resumeIfStalled();
  }

  // --- lifecycle ------------------------------------------------------------------------------

  private connectRuntime(timeoutMs: number): void {
    const path = this.options.runtimePath;
    const timer = setTimeout(
      () => this.runtime.destroy(new Error(`connect to ${path} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    this.runtime.once('connect', () => {
      clearTimeout(timer);
      this.onRuntimeConnected();
    });
    this.runtime.on('error', (err) => {
      clearTimeout(timer);
      if (this.state === 'connecting') this.becomeUnavailable(err);
      else this.runtimeError = err;
    });
    this.runtime.on('close', () => {
      clearTimeout(timer);
      if (this.state === 'proxying') this.onRuntimeGone();
    });
  }

  /** The connection opens: from here on both directions flow. */
  private onRuntimeConnected(): void {
    if (this.state !== 'connecting') {
      this.runtime.destroy();
      return;
    }
    this.state = 'proxying';
    this.runtime.on('data', this.fromRuntime.onData);
    this.fromClient.pump();
  }

  private becomeUnavailable(err: Error): void {
    this.state = 'unavailable';
    const message = `connection to runtime ${this.options.runtimeEndpoint} failed: ${err.message}`;
    this.log.warn(
      { runtimeEndpoint: this.options.runtimeEndpoint, err: errorText(err) },
      'runtime not reachable; answering this connection\'s calls with UNAVAILABLE',
    );
    this.client.removeListener('data', this.fromClient.onData);
    new UnavailableResponder(this.client, this.fromClient.reader, message, this.options.observer);
  }

  private onRuntimeGone(): void {
    const reason = this.runtimeError ? `: ${this.runtimeError.message}` : '';
    const open = this.calls.size;
    this.log[open > 0 ? 'warn' : 'debug'](
      {
        runtimeEndpoint: this.options.runtimeEndpoint,
        openCalls: open,
        err: this.runtimeError ? errorText(this.runtimeError) : undefined,
      },
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
    for (const stream of this.calls.unanswered()) {
      this.options.observer?.runtimeUnavailable();
      this.toClient.inject(statusFrame(stream.id, GrpcCode.UNAVAILABLE, message, !stream.responseHeaders));
    }
    this.closeCalls();
    this.toClient.inject(goawayFrame(this.calls.lastClientStreamId, ErrorCode.NO_ERROR));
    this.toClient.flush();
    this.runtime.destroy();
    endClient(this.client);
    this.resolveDrain();
  }

  /** The connection closes from the client's side. */
  private onClientClose(): void {
    this.state = 'closed';
    this.closeCalls();
    this.runtime.destroy();
    this.resolveDrain();
  }

  private finishDrain(): void {
    // Deferred: the frame that finished the last call is written by the pump that is running now.
    setImmediate(() => {
      if (this.state === 'proxying') {
        this.state = 'closed';
        this.runtime.end();
        endClient(this.client);
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
  private closeCalls(): void {
    this.interceptions.abortAll(this.calls.values());
    this.calls.clear();
  }
}
