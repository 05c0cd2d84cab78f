import { FRAME_HEADER_LENGTH, Flag, FrameType, frameLengthAt, readFrameHeader, uint31At, type FrameHeader } from './frames.js';

/**
 * Walks the whole frames of one received chunk in place: no copies, no allocation per frame.
 * The fast paths of both directions read a chunk with it before and after writing it on; a frame
 * cut off at the chunk's end stops the walk (`complete` then says false).
 *
 *   for (scanner.start(chunk); scanner.next(); ) use(scanner.header, scanner.payloadStart)
 */
export class FrameScanner {
  /** The current frame's header; one object reused for every frame. */
  readonly header: FrameHeader = { length: 0, type: 0, flags: 0, streamId: 0 };
  private chunk: Buffer = Buffer.alloc(0);
  /** Where the current frame's payload starts. */
  payloadStart = 0;
  /** Where the next frame starts. */
  private next_ = 0;

  start(chunk: Buffer): void {
    this.chunk = chunk;
    this.next_ = 0;
    this.payloadStart = 0;
  }

  /** Moves to the next whole frame; false when none is left in the chunk. */
  next(): boolean {
    const offset = this.next_;
    const chunk = this.chunk;
    if (offset + FRAME_HEADER_LENGTH > chunk.length) return false;
    const end = offset + FRAME_HEADER_LENGTH + frameLengthAt(chunk, offset);
    if (end > chunk.length) return false;
    readFrameHeader(chunk, offset, this.header);
    this.payloadStart = offset + FRAME_HEADER_LENGTH;
    this.next_ = end;
    return true;
  }

  /** Where the current frame's payload ends. */
  get payloadEnd(): number {
    return this.next_;
  }

  /** The current frame's payload, as a view of the chunk. */
  payload(): Buffer {
    return this.chunk.subarray(this.payloadStart, this.next_);
  }

  /** The 31-bit value at the start of the current payload: a WINDOW_UPDATE's increment, 4 octets by passesAsItCame. */
  payloadUInt31(): number {
    return uint31At(this.chunk, this.payloadStart);
  }

  /** After next() returned false: the walk ended exactly at the chunk's end. */
  get complete(): boolean {
    return this.next_ === this.chunk.length;
  }
}

/**
 * Frames a chunk may hold and still go on as it came, with the fast bookkeeping of either
 * direction: HEADERS only with its whole block, SETTINGS only as an acknowledgement (the proxy
 * reads or rewrites the others), WINDOW_UPDATE only well formed.
 */
export function passesAsItCame(header: FrameHeader): boolean {
  switch (header.type) {
    case FrameType.DATA:
    case FrameType.RST_STREAM:
    case FrameType.PING:
    case FrameType.PRIORITY:
      return true;
    case FrameType.HEADERS:
      return (header.flags & Flag.END_HEADERS) !== 0;
    case FrameType.SETTINGS:
      return (header.flags & Flag.ACK) !== 0;
    case FrameType.WINDOW_UPDATE:
      return header.length === 4;
    default:
      return false;
  }
}
