import type { Socket } from 'node:net';

/** How long a client may keep its end open after the proxy ended its own. */
const LINGER_MS = 1000;

/** Ends the proxy's side of a client connection, after `last` when given; a client that lingers is cut. */
export function endClient(client: Socket, last?: Buffer): void {
  if (client.destroyed) return;
  if (last === undefined) client.end();
  else client.end(last);
  setTimeout(() => client.destroy(), LINGER_MS).unref();
}
