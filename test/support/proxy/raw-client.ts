import * as grpc from '@grpc/grpc-js';

/** A grpc-js client that sends and receives raw message bytes for any method path. */

export interface UnaryOutcome {
  response?: Buffer;
  status: grpc.StatusObject;
}

const identity = (b: Buffer): Buffer => b;

export const CLIENT_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  // Reconnect quickly in tests that restart the runtime or the proxy.
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 200,
};

export function rawClient(socketPath: string): grpc.Client {
  return new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
}

export function unary(
  client: grpc.Client,
  method: string,
  request: Buffer,
  options: { metadata?: grpc.Metadata; deadlineMs?: number; onCall?: (call: grpc.ClientUnaryCall) => void } = {},
): Promise<UnaryOutcome> {
  return new Promise((resolve) => {
    let response: Buffer | undefined;
    let status: grpc.StatusObject | undefined;
    let answered = false;
    const settle = () => {
      if (answered && status) resolve(response === undefined ? { status } : { response, status });
    };
    const call = client.makeUnaryRequest<Buffer, Buffer>(
      method,
      identity,
      identity,
      request,
      options.metadata ?? new grpc.Metadata(),
      { deadline: Date.now() + (options.deadlineMs ?? 10_000) },
      (err, value) => {
        if (!err) response = value;
        answered = true;
        settle();
      },
    );
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      settle();
    });
    options.onCall?.(call);
  });
}

export function serverStream(
  client: grpc.Client,
  method: string,
  request: Buffer,
  options: { deadlineMs?: number } = {},
): grpc.ClientReadableStream<Buffer> {
  return client.makeServerStreamRequest<Buffer, Buffer>(
    method,
    identity,
    identity,
    request,
    new grpc.Metadata(),
    { deadline: Date.now() + (options.deadlineMs ?? 10_000) },
  );
}
