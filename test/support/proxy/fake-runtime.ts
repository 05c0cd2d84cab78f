import * as grpc from '@grpc/grpc-js';

/**
 * A CRI runtime stand-in: a real grpc-js server on a unix socket whose methods are registered
 * generically with raw Buffer (de)serializers, so tests see and answer exact message bytes.
 */

export interface ReceivedCall {
  method: string;
  request: Buffer;
  metadata: grpc.Metadata;
  deadline: grpc.Deadline;
}

export type UnaryBehaviour = (call: ReceivedCall) => Promise<UnaryAnswer> | UnaryAnswer;
export type UnaryAnswer =
  | { response: Buffer; trailers?: grpc.Metadata }
  | { error: { code: grpc.status; details: string; metadata?: grpc.Metadata } };

export type StreamBehaviour = (
  call: ReceivedCall,
  stream: grpc.ServerWritableStream<Buffer, Buffer>,
) => void;

const identity = (b: Buffer): Buffer => b;

const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
};

export class FakeRuntime {
  readonly calls: ReceivedCall[] = [];
  /** Metadata of every call the server saw start, handler or not (server interceptor). */
  readonly started: Array<{ method: string; metadata: grpc.Metadata }> = [];
  /** Methods of calls the server saw cancelled. */
  readonly cancelled: string[] = [];
  private server: grpc.Server | undefined;
  private readonly unary = new Map<string, UnaryBehaviour>();
  private readonly streaming = new Map<string, StreamBehaviour>();

  constructor(readonly socketPath: string) {}

  onUnary(method: string, behaviour: UnaryBehaviour): this {
    this.unary.set(method, behaviour);
    return this;
  }

  onServerStream(method: string, behaviour: StreamBehaviour): this {
    this.streaming.set(method, behaviour);
    return this;
  }

  async start(): Promise<void> {
    const observer: grpc.ServerInterceptor = (descriptor, call) =>
      new grpc.ServerInterceptingCall(call, {
        start: (next) =>
          next(
            new grpc.ServerListenerBuilder()
              .withOnReceiveMetadata((metadata, nextMetadata) => {
                this.started.push({ method: descriptor.path, metadata });
                nextMetadata(metadata);
              })
              .withOnCancel(() => this.cancelled.push(descriptor.path))
              .build(),
          ),
      });
    const server = new grpc.Server({ ...SERVER_OPTIONS, interceptors: [observer] });
    for (const [method, behaviour] of this.unary) {
      server.register<Buffer, Buffer>(
        method,
        (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const received = this.record(method, call.request, call.metadata, call.getDeadline());
          void Promise.resolve(behaviour(received)).then((answer) => {
            if ('error' in answer) {
              callback({ code: answer.error.code, details: answer.error.details, metadata: answer.error.metadata ?? new grpc.Metadata() });
            } else {
              callback(null, answer.response, answer.trailers);
            }
          });
        },
        identity,
        identity,
        'unary',
      );
    }
    for (const [method, behaviour] of this.streaming) {
      server.register<Buffer, Buffer>(
        method,
        (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
          behaviour(this.record(method, call.request, call.metadata, call.getDeadline()), call);
        },
        identity,
        identity,
        'serverStream',
      );
    }
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.server = server;
  }

  /** Stops at once, cutting open calls and connections (a runtime crash, as the proxy sees it). */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  private record(method: string, request: Buffer, metadata: grpc.Metadata, deadline: grpc.Deadline): ReceivedCall {
    const call = { method, request, metadata, deadline };
    this.calls.push(call);
    return call;
  }
}
