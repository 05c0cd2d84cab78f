import { encodeLiteralHeaders } from './hpack-encoder.js';
import { Flag, FrameType, encodeFrame } from './frames.js';

/**
 * The gRPC status codes (grpc/doc/statuscodes.md): the project's one table, for the codes the
 * proxy and the injector answer with and the codes they read from the runtime.
 */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/** Keeps our own error texts well below any peer's header list limit. */
const MAX_MESSAGE_CHARS = 2048;

/**
 * grpc-message encoding from the gRPC HTTP/2 protocol spec: UTF-8 octets, each octet outside
 * 0x20-0x7E, and '%' itself, written as %XX.
 */
export function percentEncodeGrpcMessage(message: string): string {
  const text = message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}...` : message;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A complete HEADERS frame (END_STREAM, END_HEADERS) ending a gRPC call with `code` and
 * `message`: trailers-only (with :status and content-type) when the client has seen no response
 * headers on that stream yet, plain trailers otherwise.
 */
export function statusFrame(streamId: number, code: number, message: string, trailersOnly: boolean): Buffer {
  const fields: Array<[string, string]> = trailersOnly
    ? [
        [':status', '200'],
        ['content-type', 'application/grpc'],
      ]
    : [];
  fields.push(['grpc-status', String(code)]);
  if (message !== '') fields.push(['grpc-message', percentEncodeGrpcMessage(message)]);
  return encodeFrame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, streamId, encodeLiteralHeaders(fields));
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** The milliseconds a `grpc-timeout` header value stands for, or undefined if it is malformed. */
export function parseGrpcTimeout(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
}
