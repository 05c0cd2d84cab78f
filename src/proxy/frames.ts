/**
 * HTTP/2 framing facts (RFC 9113 section 4 and 6) and the few frames the proxy writes itself.
 * The proxy reads frame headers only; payloads pass through untouched unless named here.
 */

export const FRAME_HEADER_LENGTH = 9;

/** The client connection preface (RFC 9113 section 3.4), forwarded verbatim. */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
} as const;

/** Protocol defaults that hold until the peer's SETTINGS say otherwise. */
export const DEFAULT_INITIAL_WINDOW_SIZE = 65_535;
export const DEFAULT_HEADER_TABLE_SIZE = 4096;
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** 2^31-1: the largest stream id and window size; stream ids and increments are 31-bit fields. */
export const MAX_UINT31 = 0x7fff_ffff;

export interface FrameHeader {
  /** Payload length, not counting the 9-byte header. */
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

/**
 * The 24-bit payload length of the frame header at `offset`. Plain byte arithmetic: Buffer's
 * readUIntBE and readUInt32BE validate their arguments through calls that stay out of line and
 * took a fifth of the proxy's time per call; callers bound `offset` themselves.
 */
export function frameLengthAt(buf: Buffer, offset: number): number {
  return (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
}

/** The 31-bit big-endian value at `offset` (stream ids, window increments), reserved bit cleared. */
export function uint31At(buf: Buffer, offset: number): number {
  return ((buf[offset]! & 0x7f) << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!;
}

/** Reads the frame header at `offset`, into `into` when given (a reader reuses one object). */
export function readFrameHeader(buf: Buffer, offset = 0, into?: FrameHeader): FrameHeader {
  const header = into ?? { length: 0, type: 0, flags: 0, streamId: 0 };
  header.length = frameLengthAt(buf, offset);
  header.type = buf[offset + 3]!;
  header.flags = buf[offset + 4]!;
  header.streamId = uint31At(buf, offset + 5);
  return header;
}

export function encodeFrame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + length);
  frame.writeUIntBE(length, 0, 3);
  frame[3] = type;
  frame[4] = flags;
  frame.writeUInt32BE(streamId & MAX_UINT31, 5);
  payload?.copy(frame, FRAME_HEADER_LENGTH);
  return frame;
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  if (increment <= 0 || increment > MAX_UINT31) {
    throw new RangeError(`WINDOW_UPDATE increment ${increment} on stream ${streamId} is out of range`);
  }
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return encodeFrame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

export function rstStreamFrame(streamId: number, errorCode: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(errorCode, 0);
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, payload);
}

export function goawayFrame(lastStreamId: number, errorCode: number, debugData = ''): Buffer {
  const debug = Buffer.from(debugData, 'utf8');
  const payload = Buffer.allocUnsafe(8 + debug.length);
  payload.writeUInt32BE(lastStreamId & MAX_UINT31, 0);
  payload.writeUInt32BE(errorCode, 4);
  debug.copy(payload, 8);
  return encodeFrame(FrameType.GOAWAY, 0, 0, payload);
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]> = []): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, payload);
}

export function settingsAckFrame(): Buffer {
  return encodeFrame(FrameType.SETTINGS, Flag.ACK, 0);
}

export function pingAckFrame(opaque: Buffer): Buffer {
  return encodeFrame(FrameType.PING, Flag.ACK, 0, opaque);
}

/** The (id, value) pairs of a SETTINGS payload, in order. */
export function parseSettings(payload: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 6 <= payload.length; i += 6) out.push([payload.readUInt16BE(i), payload.readUInt32BE(i + 2)]);
  return out;
}

/**
 * A SETTINGS frame with the parameters of `payload` (a well-formed SETTINGS payload), every
 * HEADER_TABLE_SIZE set to `size`, and one added at the end when there was none.
 */
export function settingsWithHeaderTableSize(payload: Buffer, size: number): Buffer {
  const params = parseSettings(payload);
  if (!params.some(([id]) => id === Setting.HEADER_TABLE_SIZE)) params.push([Setting.HEADER_TABLE_SIZE, size]);
  const out = Buffer.allocUnsafe(params.length * 6);
  params.forEach(([id, value], i) => {
    out.writeUInt16BE(id, i * 6);
    out.writeUInt32BE(id === Setting.HEADER_TABLE_SIZE ? size : value, i * 6 + 2);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, out);
}

/** Strips the pad length byte and padding of a PADDED frame's payload. */
function withoutPadding(flags: number, payload: Buffer, what: string): Buffer {
  if (!(flags & Flag.PADDED)) return payload;
  const padLength = payload[0];
  if (padLength === undefined || padLength >= payload.length) {
    throw new Error(`HTTP/2 ${what} frame: pad length ${padLength} does not fit its ${payload.length}-byte payload`);
  }
  return payload.subarray(1, payload.length - padLength);
}

/** The header block fragment of a HEADERS frame: padding and priority fields removed. */
export function headersFragment(flags: number, payload: Buffer): Buffer {
  const unpadded = withoutPadding(flags, payload, 'HEADERS');
  if (!(flags & Flag.PRIORITY)) return unpadded;
  if (unpadded.length < 5) throw new Error('HTTP/2 HEADERS frame: PRIORITY flag set but no room for its 5 bytes');
  return unpadded.subarray(5);
}

/** The application bytes of a DATA frame: padding removed. */
export function dataContent(flags: number, payload: Buffer): Buffer {
  return withoutPadding(flags, payload, 'DATA');
}
