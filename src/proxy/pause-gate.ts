import type net from 'node:net';

/** Pauses a socket while any reason holds (write backpressure, flow-control stall). */
export class PauseGate {
  private readonly reasons = new Set<string>();
  constructor(private readonly socket: net.Socket) {}
  add(reason: string): void {
    if (this.reasons.size === 0) this.socket.pause();
    this.reasons.add(reason);
  }
  delete(reason: string): void {
    if (this.reasons.delete(reason) && this.reasons.size === 0) this.socket.resume();
  }
}
