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
  /** The run being collected: `runEnd` bytes of `runBase` from its start, not yet in `batch`. */
  private runBase: Buffer | undefined;
  private runEnd = 0;
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
    if (this.runBase === undefined && this.batch.length === 0) return true;
    this.closeRun();
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0 || this.socket.destroyed) return true;
    if (batch.length === 1) return this.socket.write(batch[0]!);
    this.socket.cork();
    for (const buf of batch) this.socket.write(buf);
    this.socket.uncork();
    return !this.socket.writableNeedDrain;
  }

  /** Extends the current run when `part` continues it in memory, else starts a new one. */
  private append(part: Buffer): void {
    const base = this.runBase;
    if (base !== undefined && part.buffer === base.buffer && base.byteOffset + this.runEnd === part.byteOffset) {
      this.runEnd += part.length;
      return;
    }
    this.closeRun();
    this.runBase = part;
    this.runEnd = part.length;
  }

  private closeRun(): void {
    const base = this.runBase;
    if (base === undefined) return;
    this.batch.push(this.runEnd === base.length ? base : Buffer.from(base.buffer, base.byteOffset, this.runEnd));
    this.runBase = undefined;
  }
}
