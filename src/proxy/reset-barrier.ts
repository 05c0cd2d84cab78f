/**
 * Payloads of the PINGs the proxy sends after resetting a stream towards the runtime: a peer
 * answers PINGs in order, so the ACK proves the runtime has sent everything it will on that stream.
 */

/** Marks the proxy's own PING payloads: 'shim' and a counter, 8 bytes as HTTP/2 requires. */
const RESET_BARRIER_MAGIC = 0x7368_696d;

export function resetBarrierPayload(barrier: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(RESET_BARRIER_MAGIC, 0);
  payload.writeUInt32BE(barrier, 4);
  return payload;
}

/** The barrier counter of one of our PING payloads; undefined for any other payload. */
export function resetBarrierOf(payload: Buffer): number | undefined {
  return payload.length === 8 && payload.readUInt32BE(0) === RESET_BARRIER_MAGIC ? payload.readUInt32BE(4) : undefined;
}
