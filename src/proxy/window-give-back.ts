import { windowUpdateFrame } from './frames.js';

/** What the give-back needs of its connection. */
export interface GiveBackHost {
  /** Queues a frame of the proxy's own for the client. */
  injectToClient(frame: Buffer): void;
  /** The call on this stream is still open (a closed stream's window is not the client's to grow). */
  isOpen(streamId: number): boolean;
}

/**
 * Client window spent on DATA the runtime never sees (held for the interceptor, or dropped on a
 * reset stream) is owed back to the client, and paid with WINDOW_UPDATEs once the frames of the
 * chunk that spent it have been handled.
 */
export class WindowGiveBack {
  private connection = 0;
  private readonly streams = new Map<number, number>();

  constructor(private readonly host: GiveBackHost) {}

  /** `length` bytes of `streamId`'s DATA did not reach the runtime; `streamLevel` when the stream goes on. */
  owe(streamId: number, length: number, streamLevel: boolean): void {
    if (length === 0) return;
    this.connection += length;
    if (streamLevel) this.streams.set(streamId, (this.streams.get(streamId) ?? 0) + length);
  }

  /** Queues the WINDOW_UPDATEs owed; stream-level returns always come with a connection-level one. */
  pay(): void {
    if (this.connection === 0) return;
    this.host.injectToClient(windowUpdateFrame(0, this.connection));
    this.connection = 0;
    for (const [streamId, length] of this.streams) {
      if (this.host.isOpen(streamId)) this.host.injectToClient(windowUpdateFrame(streamId, length));
    }
    this.streams.clear();
  }
}
