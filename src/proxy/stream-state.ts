/** What the proxy keeps per call, per intercepted call and per unfinished header block. */

export interface Interception {
  /** holding: DATA kept back; deciding: interceptor running; sending: our DATA going out. */
  phase: 'holding' | 'deciding' | 'sending' | 'done';
  held: Buffer[];
  heldBytes: number;
  abort: AbortController;
  body?: Buffer;
  sent: number;
}

export interface StreamState {
  id: number;
  method: string;
  /** performance.now() at the request headers; only measured when debug lines are on. */
  startedAt: number;
  requestId: string | undefined;
  deadline: Date | undefined;
  clientEnded: boolean;
  /** The runtime's (non-final) response HEADERS reached the client. */
  responseHeaders: boolean;
  interception: Interception | undefined;
}

export interface PendingBlock {
  streamId: number;
  endStream: boolean;
  fragments: Buffer[];
}
