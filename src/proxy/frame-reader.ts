import { FRAME_HEADER_LENGTH, readFrameHeader, type FrameHeader } from './frames.js';

/**
 * Cuts a byte stream into whole HTTP/2 frames without copying: a frame is handed out as slices
 * of the chunks it arrived in (one slice in the common case), so forwarding it costs no copy.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private head: FrameHeader | undefined;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Removes `n` raw bytes (the connection preface) once they have arrived; false if not yet. */
  skip(n: number): Buffer[] | undefined {
    if (this.buffered < n) return undefined;
    return this.takeBytes(n);
  }

  /** The header of the next frame once all of its bytes have arrived. */
  peek(): FrameHeader | undefined {
    if (this.head === undefined) {
      if (this.buffered < FRAME_HEADER_LENGTH) return undefined;
      const first = this.chunks[0]!;
      this.head =
        first.length >= FRAME_HEADER_LENGTH
          ? readFrameHeader(first)
          : readFrameHeader(Buffer.concat(this.chunks, FRAME_HEADER_LENGTH));
    }
    return this.buffered >= FRAME_HEADER_LENGTH + this.head.length ? this.head : undefined;
  }

  /** Removes the frame `peek` returned; its bytes (header included) as slices of the input. */
  take(): Buffer[] {
    const head = this.head;
    if (head === undefined) throw new Error('FrameReader.take() called without a complete frame');
    this.head = undefined;
    return this.takeBytes(FRAME_HEADER_LENGTH + head.length);
  }

  private takeBytes(n: number): Buffer[] {
    const out: Buffer[] = [];
    let needed = n;
    while (needed > 0) {
      const first = this.chunks[0]!;
      if (first.length <= needed) {
        out.push(first);
        this.chunks.shift();
        needed -= first.length;
      } else {
        out.push(first.subarray(0, needed));
        this.chunks[0] = first.subarray(needed);
        needed = 0;
      }
    }
    this.buffered -= n;
    return out;
  }
}

/** One contiguous buffer for slices that may span chunks. */
export function joined(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
