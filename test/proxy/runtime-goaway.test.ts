import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { startFrameTestbed, type FrameTestbed } from '../support/proxy/frame-runtime.js';
import { unary } from '../support/proxy/raw-client.js';

const VERSION = '/runtime.v1.RuntimeService/Version';
const CREATE_CONTAINER = '/runtime.v1.RuntimeService/CreateContainer';
/** Longer than the proxy needs to see the GOAWAY; an interceptor still waiting then was never stopped. */
const ABORT_WAIT_MS = 2000;

/**
 * The runtime says GOAWAY while the interceptor works on a call above its last stream id. The
 * runtime will never process that call (the client retries it elsewhere), so the interceptor is
 * stopped and the held request body must not reach the runtime. The proxy has to act on the
 * GOAWAY itself: grpc-go (kubelet) drops refused streams without resetting them. grpc-js does
 * reset them, hence the check of the abort reason.
 */
describe('a runtime GOAWAY during an interception', () => {
  let bed: FrameTestbed;
  let client: grpc.Client;
  const interceptions: Array<{ aborted: boolean; reason?: string }> = [];

  beforeAll(async () => {
    bed = await startFrameTestbed({
      interceptor: {
        methods: new Set([CREATE_CONTAINER]),
        intercept: async (call) => {
          if (interceptions.length === 0) {
            // The first call: the runtime refuses everything above the Version call before it.
            bed.runtime.goaway(1);
            const aborted = await new Promise<boolean>((resolve) => {
              const timer = setTimeout(() => resolve(false), ABORT_WAIT_MS);
              call.signal.addEventListener('abort', () => {
                clearTimeout(timer);
                resolve(true);
              });
            });
            interceptions.push({ aborted, reason: aborted ? String(call.signal.reason) : undefined });
          } else {
            interceptions.push({ aborted: false });
          }
          return { action: 'forward', message: call.message };
        },
      },
      logger: silentLogger(),
    });
    client = bed.connect();
  });

  afterAll(() => bed?.stop());

  it('stops the interceptor and keeps the held body from the runtime', async () => {
    const version = await unary(client, VERSION, Buffer.alloc(0));
    expect(version.status.code).toBe(grpc.status.OK);

    await unary(client, CREATE_CONTAINER, Buffer.from('create'), { deadlineMs: 5000 });

    expect(interceptions[0]).toEqual({ aborted: true, reason: expect.stringContaining('refused by runtime GOAWAY') });
    // On the first connection, stream 1 was Version and stream 3 the refused CreateContainer.
    expect([...bed.runtime.dataBytes[0]!.keys()]).toEqual([1]);
  });
});
