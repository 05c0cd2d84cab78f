import { ProtocolError } from './errors.js';
import { FRAME_HEADER_LENGTH, readFrameHeader, uint31At, type FrameHeader } from './frames.js';

/**
 * The bytes of one frame (header included) exactly as received, without copying: a range of the
 * chunk that holds the whole frame, or, for a frame that arrived split across chunks, its pieces
 * in order. The range form needs no Buffer object of its own, which is what keeps the per-frame
 * cost low: most frames are forwarded without their bytes ever being looked at.
 */
export class FrameBytes {
  constructor(
    readonly chunk: Buffer,
    readonly start: number,
    readonly end: number,
    /** Set only for a frame that spans chunks; `chunk`, `start` and `end` are then unused. */
    readonly pieces: readonly Buffer[] | undefined,
  ) {}

  /** The frame as one contiguous buffer (a slice, or a copy for a split frame). */
  whole(): Buffer {
    if (this.pieces === undefined) return this.chunk.subarray(this.start, this.end);
    return this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
  }

  /** The frame's payload, after the 9-byte header. */
  payload(): Buffer {
    if (this.pieces === undefined) return this.chunk.subarray(this.start + FRAME_HEADER_LENGTH, this.end);
    return this.whole().subarray(FRAME_HEADER_LENGTH);
  }

  /** The 31-bit value at the start of the payload (WINDOW_UPDATE increment, GOAWAY last stream). */
  payloadUInt31(): number {
    const payload = this.pieces === undefined ? undefined : this.payload();
    const length = payload?.length ?? this.end - this.start - FRAME_HEADER_LENGTH;
    if (length < 4) throw new ProtocolError(`a frame of ${length} octets is too short for the 31-bit value it carries`);
    return payload ? uint31At(payload, 0) : uint31At(this.chunk, this.start + FRAME_HEADER_LENGTH);
  }
}

/** Cuts a byte stream into whole HTTP/2 frames without copying (see FrameBytes). */
export class FrameReader {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already handed out: chunks are never re-sliced to drop a consumed head. */
  private offset = 0;
  private buffered = 0;
  /** The next frame's header, once read; one object for all frames (see peek). */
  private readonly head: FrameHeader = { length: 0, type: 0, flags: 0, streamId: 0 };
  private headRead = false;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Removes `n` raw bytes (the connection preface) once they have arrived; undefined if not yet. */
  skip(n: number): FrameBytes | undefined {
    if (this.buffered < n) return undefined;
    return this.takeBytes(n);
  }

  /**
   * The header of the next frame once all of its bytes have arrived. The object is reused for
   * the frame after (no allocation per frame): read it before the next peek, never keep it.
   */
  peek(): FrameHeader | undefined {
    if (!this.headRead) {
      if (this.buffered < FRAME_HEADER_LENGTH) return undefined;
      const first = this.chunks[0]!;
      if (first.length - this.offset >= FRAME_HEADER_LENGTH) readFrameHeader(first, this.offset, this.head);
      else readFrameHeader(this.copyHead(FRAME_HEADER_LENGTH), 0, this.head);
      this.headRead = true;
    }
    return this.buffered >= FRAME_HEADER_LENGTH + this.head.length ? this.head : undefined;
  }

  /** Removes the frame `peek` returned. */
  take(): FrameBytes {
    if (!this.headRead || this.buffered < FRAME_HEADER_LENGTH + this.head.length) {
      throw new Error('FrameReader.take() called without a complete frame');
    }
    this.headRead = false;
    return this.takeBytes(FRAME_HEADER_LENGTH + this.head.length);
  }

  private takeBytes(n: number): FrameBytes {
    this.buffered -= n;
    const first = this.chunks[0]!;
    const start = this.offset;
    if (first.length - start >= n) {
      this.advance(first, start + n);
      return new FrameBytes(first, start, start + n, undefined);
    }
    const pieces: Buffer[] = [];
    let needed = n;
    while (needed > 0) {
      const chunk = this.chunks[0]!;
      const from = this.offset;
      const to = Math.min(chunk.length, from + needed);
      pieces.push(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
      needed -= to - from;
      this.advance(chunk, to);
    }
    return new FrameBytes(first, 0, 0, pieces);
  }

  /** The first `n` buffered bytes, copied, without consuming them (a frame header split across chunks). */
  private copyHead(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let offset = this.offset;
    for (const chunk of this.chunks) {
      copied += chunk.copy(out, copied, offset, Math.min(chunk.length, offset + n - copied));
      offset = 0;
      if (copied === n) break;
    }
    return out;
  }

  /** Marks `chunk` (the first) consumed up to `to`, dropping it once it is used up. */
  private advance(chunk: Buffer, to: number): void {
    if (to === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    } else {
      this.offset = to;
    }
  }
}

/** One contiguous buffer for pieces (header block fragments) that may be separate. */
export function joined(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
