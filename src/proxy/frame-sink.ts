import type { Socket } from 'node:net';
import type { FrameBytes } from './frame-reader.js';
import { Flag, FrameType, type FrameHeader } from './frames.js';

/**
 * The writing end of one direction. Forwarded frames and frames of the proxy's own are written
 * whole and in order; a frame of our own never lands inside a header block (HEADERS or
 * PUSH_PROMISE without END_HEADERS up to its last CONTINUATION), which HTTP/2 forbids, so it
 * waits for the block to end. Adjacent frames of one received chunk are written as one buffer:
 * the chunk itself when they cover all of it, else one slice.
 */
export class FrameSink {
  /** Buffers for the next write; one array reused across flushes. */
  private readonly batch: Buffer[] = [];
  /** The run being collected: bytes `runStart` to `runEnd` of `runChunk`, not yet in `batch`. */
  private runChunk: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;
  private deferred: Buffer[] = [];
  private inHeaderBlock = false;

  constructor(private readonly socket: Socket) {}

  /** True between a HEADERS/PUSH_PROMISE without END_HEADERS and its last CONTINUATION. */
  get midHeaderBlock(): boolean {
    return this.inHeaderBlock;
  }

  /** Raw bytes that are not a frame (the connection preface). */
  forwardRaw(bytes: FrameBytes): void {
    this.appendBytes(bytes);
  }

  /** True when nothing is collected or deferred: bytes written now keep their place in the stream. */
  get idle(): boolean {
    return this.runChunk === undefined && this.batch.length === 0 && this.deferred.length === 0;
  }

  /**
   * Writes a received chunk as it came, for a caller that handles its frames itself instead of
   * passing them to forward: only when `idle`, and only for whole frames outside any header
   * block, all to go unchanged. False when the socket asks for 'drain'.
   */
  writeAsItCame(chunk: Buffer): boolean {
    return this.socket.destroyed || this.socket.write(chunk);
  }

  forward(frame: FrameBytes, header: FrameHeader): void {
    this.appendBytes(frame);
    if (header.type === FrameType.HEADERS || header.type === FrameType.PUSH_PROMISE) {
      this.inHeaderBlock = (header.flags & Flag.END_HEADERS) === 0;
    } else if (header.type === FrameType.CONTINUATION && header.flags & Flag.END_HEADERS) {
      this.inHeaderBlock = false;
    }
    if (!this.inHeaderBlock && this.deferred.length > 0) {
      for (const frame of this.deferred) this.append(frame, 0, frame.length);
      this.deferred = [];
    }
  }

  /** A frame of the proxy's own: written now, or right after the header block in progress. */
  inject(frame: Buffer): void {
    if (this.inHeaderBlock) this.deferred.push(frame);
    else this.append(frame, 0, frame.length);
  }

  /** Writes what has been collected; false when the socket asks the writer to wait for 'drain'. */
  flush(): boolean {
    if (this.runChunk === undefined && this.batch.length === 0) return true;
    this.closeRun();
    const writable = this.socket.destroyed || this.write(this.batch);
    this.batch.length = 0;
    return writable;
  }

  private write(batch: Buffer[]): boolean {
    if (batch.length === 1) return this.socket.write(batch[0]!);
    this.socket.cork();
    for (const buf of batch) this.socket.write(buf);
    this.socket.uncork();
    return !this.socket.writableNeedDrain;
  }

  private appendBytes(bytes: FrameBytes): void {
    if (bytes.pieces === undefined) this.append(bytes.chunk, bytes.start, bytes.end);
    else for (const piece of bytes.pieces) this.append(piece, 0, piece.length);
  }

  /** Extends the current run when bytes `start` to `end` of `chunk` continue it, else starts a new one. */
  private append(chunk: Buffer, start: number, end: number): void {
    if (chunk === this.runChunk && start === this.runEnd) {
      this.runEnd = end;
      return;
    }
    this.closeRun();
    this.runChunk = chunk;
    this.runStart = start;
    this.runEnd = end;
  }

  private closeRun(): void {
    const chunk = this.runChunk;
    if (chunk === undefined) return;
    const whole = this.runStart === 0 && this.runEnd === chunk.length;
    this.batch.push(whole ? chunk : chunk.subarray(this.runStart, this.runEnd));
    this.runChunk = undefined;
  }
}
