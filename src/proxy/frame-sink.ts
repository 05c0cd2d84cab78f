import type { Socket } from 'node:net';
import { Flag, FrameType, type FrameHeader } from './frames.js';

/**
 * The writing end of one direction. Forwarded frames and frames of the proxy's own are written
 * whole and in order; a frame of our own never lands inside a header block (HEADERS or
 * PUSH_PROMISE without END_HEADERS up to its last CONTINUATION), which HTTP/2 forbids, so it
 * waits for the block to end. Adjacent slices of one received chunk are written as one buffer.
 */
export class FrameSink {
  private batch: Buffer[] = [];
  private deferred: Buffer[] = [];
  private inHeaderBlock = false;

  constructor(private readonly socket: Socket) {}

  /** True between a HEADERS/PUSH_PROMISE without END_HEADERS and its last CONTINUATION. */
  get midHeaderBlock(): boolean {
    return this.inHeaderBlock;
  }

  /** Raw bytes that are not a frame (the connection preface). */
  forwardRaw(parts: Buffer[]): void {
    for (const part of parts) this.append(part);
  }

  forward(parts: Buffer[], header: FrameHeader): void {
    for (const part of parts) this.append(part);
    if (header.type === FrameType.HEADERS || header.type === FrameType.PUSH_PROMISE) {
      this.inHeaderBlock = (header.flags & Flag.END_HEADERS) === 0;
    } else if (header.type === FrameType.CONTINUATION && header.flags & Flag.END_HEADERS) {
      this.inHeaderBlock = false;
    }
    if (!this.inHeaderBlock && this.deferred.length > 0) {
      for (const frame of this.deferred) this.append(frame);
      this.deferred = [];
    }
  }

  /** A frame of the proxy's own: written now, or right after the header block in progress. */
  inject(frame: Buffer): void {
    if (this.inHeaderBlock) this.deferred.push(frame);
    else this.append(frame);
  }

  /** Writes what has been collected; false when the socket asks the writer to wait for 'drain'. */
  flush(): boolean {
    const batch = this.batch;
    if (batch.length === 0 || this.socket.destroyed) {
      this.batch = [];
      return true;
    }
    this.batch = [];
    if (batch.length === 1) return this.socket.write(batch[0]!);
    this.socket.cork();
    for (const buf of batch) this.socket.write(buf);
    this.socket.uncork();
    return !this.socket.writableNeedDrain;
  }

  private append(part: Buffer): void {
    const last = this.batch[this.batch.length - 1];
    if (last !== undefined && last.buffer === part.buffer && last.byteOffset + last.length === part.byteOffset) {
      this.batch[this.batch.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + part.length);
    } else {
      this.batch.push(part);
    }
  }
}
