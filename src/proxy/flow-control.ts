import { DEFAULT_INITIAL_WINDOW_SIZE, DEFAULT_MAX_FRAME_SIZE, Setting } from './frames.js';

/**
 * What the runtime will still accept from this connection (RFC 9113 section 6.9), as far as the
 * proxy needs to know it, and how to keep the client's idea of the same window honest.
 *
 * Bookkeeping rule of the proxy: every client DATA byte the runtime does not receive (held for
 * the interceptor, or dropped with a rejected stream) is given back to the client at once with a
 * WINDOW_UPDATE; every byte the proxy sends the runtime itself is a *surplus* the client never
 * spent, taken back out of the runtime's next connection-level WINDOW_UPDATEs before they pass on
 * to the client. Until the surplus is repaid the client may believe in more window than the runtime
 * has, so client DATA is forwarded only while it fits the runtime's real window.
 */
export class RuntimeSendWindow {
  /** The runtime's connection-level receive window as the bytes we sent it have left it. */
  connection = DEFAULT_INITIAL_WINDOW_SIZE;
  /** The runtime's SETTINGS_MAX_FRAME_SIZE: the largest DATA payload we may send it. */
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private initialStreamWindow = DEFAULT_INITIAL_WINDOW_SIZE;
  /** Per-stream windows, kept only for streams the proxy sends its own DATA on. */
  private readonly streams = new Map<number, number>();
  private surplus = 0;

  /** Applies the runtime's SETTINGS (in order, as RFC 9113 section 6.5.3 asks). */
  applySettings(settings: ReadonlyArray<readonly [number, number]>): void {
    for (const [id, value] of settings) {
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        // The change applies to every open stream's window by the difference (section 6.9.2).
        const delta = value - this.initialStreamWindow;
        this.initialStreamWindow = value;
        for (const [stream, window] of this.streams) this.streams.set(stream, window + delta);
      } else if (id === Setting.MAX_FRAME_SIZE) {
        this.maxFrameSize = value;
      }
    }
  }

  trackStream(streamId: number): void {
    this.streams.set(streamId, this.initialStreamWindow);
  }

  untrackStream(streamId: number): void {
    this.streams.delete(streamId);
  }

  /** Streams the proxy still sends (or will send) its own DATA on. */
  get trackedStreams(): number {
    return this.streams.size;
  }

  /** The runtime's window for one tracked stream (0 for streams not tracked). */
  streamWindow(streamId: number): number {
    return this.streams.get(streamId) ?? 0;
  }

  /**
   * A connection-level WINDOW_UPDATE from the runtime; returns the part of it the client may
   * have (the rest repays the surplus).
   */
  onConnectionUpdate(increment: number): number {
    this.connection += increment;
    const repaid = Math.min(this.surplus, increment);
    this.surplus -= repaid;
    return increment - repaid;
  }

  onStreamUpdate(streamId: number, increment: number): void {
    const window = this.streams.get(streamId);
    if (window !== undefined) this.streams.set(streamId, window + increment);
  }

  /** Client DATA passed through: both sides counted the same bytes. */
  forwarded(length: number): void {
    this.connection -= length;
  }

  /** DATA the proxy sent the runtime itself on a tracked stream. */
  sentOwn(streamId: number, length: number): void {
    this.connection -= length;
    this.surplus += length;
    this.onStreamUpdate(streamId, -length);
  }

  /** Bytes the client is owed back from future connection-level updates (for tests and logs). */
  get outstandingSurplus(): number {
    return this.surplus;
  }
}
