import type { Logger } from '../log/logger.js';

/** One intercepted unary call: its single request message, as the client sent it. */
export interface InterceptedCall {
  /** gRPC method path, e.g. `/runtime.v1.RuntimeService/CreateContainer`. */
  method: string;
  /** The serialized request message, without the 5-byte gRPC prefix. */
  message: Buffer;
  requestId: string;
  /** From the caller's `grpc-timeout`, when it sent one. */
  deadline?: Date;
  /** Aborted when the caller cancels the call or its connection goes away. */
  signal: AbortSignal;
}

export type InterceptDecision =
  | { action: 'forward'; message: Buffer }
  | { action: 'reject'; code: number; message: string };

export interface CallInterceptor {
  /** Method paths to intercept; every other call passes through untouched. */
  readonly methods: ReadonlySet<string>;
  intercept(call: InterceptedCall): Promise<InterceptDecision>;
}

/** Told of connections and calls as they happen (metrics); runs once per call, so it must be cheap. */
export interface ProxyObserver {
  connectionOpened(): void;
  connectionClosed(): void;
  /** A call's header block arrived: once per call, whatever becomes of it. */
  callStarted(method: string): void;
  /** A call was answered UNAVAILABLE because the runtime could not be reached or went away. */
  runtimeUnavailable(): void;
}

export interface ProxyOptions {
  /** The socket the proxy serves (kubelet's --container-runtime-endpoint). */
  listenPath: string;
  /** The runtime's socket: a path or a `unix://` URL. */
  runtimeEndpoint: string;
  interceptor?: CallInterceptor;
  logger: Logger;
  observer?: ProxyObserver;
  /** How long `stop()` lets in-flight calls finish; 5000 ms by default. */
  shutdownGraceMs?: number;
}

export interface RunningProxy {
  readonly listenPath: string;
  /** Stops accepting, lets in-flight calls finish within the grace period, removes the socket. */
  stop(): Promise<void>;
}
