/** gRPC length-prefixed messages (gRPC over HTTP/2: compressed flag, 4-byte length, bytes). */

export const GRPC_PREFIX_LENGTH = 5;

export type SingleMessage =
  | { kind: 'message'; message: Buffer }
  | { kind: 'compressed' }
  | { kind: 'malformed'; reason: string };

/** The one message of a unary request body, or why the body is not exactly one plain message. */
export function parseSingleMessage(body: Buffer): SingleMessage {
  if (body.length < GRPC_PREFIX_LENGTH) {
    return { kind: 'malformed', reason: `body of ${body.length} bytes is shorter than a gRPC message prefix` };
  }
  const length = body.readUInt32BE(1);
  if (GRPC_PREFIX_LENGTH + length !== body.length) {
    return {
      kind: 'malformed',
      reason: `body of ${body.length} bytes does not hold exactly one message (prefix says ${length} bytes)`,
    };
  }
  if (body[0] !== 0) return { kind: 'compressed' };
  return { kind: 'message', message: body.subarray(GRPC_PREFIX_LENGTH) };
}

/** A message with its uncompressed gRPC prefix. */
export function framedMessage(message: Buffer): Buffer {
  const body = Buffer.allocUnsafe(GRPC_PREFIX_LENGTH + message.length);
  body[0] = 0;
  body.writeUInt32BE(message.length, 1);
  message.copy(body, GRPC_PREFIX_LENGTH);
  return body;
}
