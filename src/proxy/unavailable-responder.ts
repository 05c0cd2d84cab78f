import type { Socket } from 'node:net';
import { endClient } from './end-client.js';
import type { FrameReader } from './frame-reader.js';
import {
  CLIENT_PREFACE,
  ErrorCode,
  Flag,
  FrameType,
  goawayFrame,
  pingAckFrame,
  settingsAckFrame,
  settingsFrame,
} from './frames.js';
import type { ProxyObserver } from './api.js';
import { GrpcCode, statusFrame } from './grpc-status.js';

/** A client that opens no stream at all is let go after this long. */
const IDLE_CLOSE_MS = 5000;

/**
 * The proxy's stand-in when the runtime cannot be reached: a minimal HTTP/2 server that answers
 * every call on this connection with UNAVAILABLE naming the runtime endpoint, then sends GOAWAY
 * and closes, so the client reconnects and its next connection tries the runtime again.
 * Header blocks are not decoded: the answers do not depend on them, and the connection ends.
 */
export class UnavailableResponder {
  private prefaceSeen = false;
  private lastAnswered = 0;
  private closing = false;
  private readonly idleTimer: NodeJS.Timeout;

  constructor(
    private readonly client: Socket,
    private readonly reader: FrameReader,
    private readonly message: string,
    private readonly observer?: ProxyObserver,
  ) {
    client.write(settingsFrame());
    this.idleTimer = setTimeout(() => this.close(), IDLE_CLOSE_MS);
    this.idleTimer.unref();
    client.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.pump();
    });
    client.on('close', () => clearTimeout(this.idleTimer));
    this.pump();
  }

  private pump(): void {
    if (this.closing) return;
    if (!this.prefaceSeen) {
      if (this.reader.skip(CLIENT_PREFACE.length) === undefined) return;
      this.prefaceSeen = true;
    }
    const out: Buffer[] = [];
    for (let header = this.reader.peek(); header !== undefined; header = this.reader.peek()) {
      const frame = this.reader.take().whole();
      const isAck = (header.flags & Flag.ACK) !== 0;
      if (header.type === FrameType.SETTINGS && !isAck) out.push(settingsAckFrame());
      else if (header.type === FrameType.PING && !isAck) out.push(pingAckFrame(frame.subarray(9)));
      else if (header.type === FrameType.HEADERS && header.streamId > this.lastAnswered) {
        out.push(statusFrame(header.streamId, GrpcCode.UNAVAILABLE, this.message, true));
        this.observer?.runtimeUnavailable();
        this.lastAnswered = header.streamId;
      }
    }
    if (out.length > 0) this.client.write(Buffer.concat(out));
    if (this.lastAnswered > 0) this.close();
  }

  private close(): void {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.idleTimer);
    endClient(this.client, goawayFrame(this.lastAnswered, ErrorCode.NO_ERROR));
  }
}
