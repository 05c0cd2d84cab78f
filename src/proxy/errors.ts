/**
 * The peer broke the protocol in a way that ends the connection, with UNAVAILABLE for the calls
 * it still carries. Other errors inside the proxy (HPACK, padding) close the connection at once.
 */
export class ProtocolError extends Error {}
