import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import type { CallInterceptor } from '../../src/proxy/index.js';
import { FrameType, encodeFrame } from '../../src/proxy/frames.js';
import { startFrameTestbed, type FrameTestbed } from '../support/proxy/frame-runtime.js';
import { unary } from '../support/proxy/raw-client.js';

const CREATE_CONTAINER = '/runtime.v1.RuntimeService/CreateContainer';
/** Longer than the proxy needs to close the connection; an interceptor still waiting then was never stopped. */
const ABORT_WAIT_MS = 2000;

/** A WINDOW_UPDATE of 3 octets, then a well-formed frame whose bytes a read past it would take. */
const SHORT_WINDOW_UPDATE = Buffer.concat([
  encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x00, 0x00, 0x10])),
  encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8)),
]);

/**
 * A WINDOW_UPDATE must carry exactly 4 octets (RFC 9113 section 6.9). The proxy reads the
 * runtime's increments for its own flow control, so a short one is not read past its end into
 * the next frame: the connection ends, and the call in flight learns why.
 */
describe('a malformed WINDOW_UPDATE from the runtime', () => {
  let bed: FrameTestbed;
  let interceptorAborted: boolean | undefined;
  const sendWhileHeld: CallInterceptor = {
    methods: new Set([CREATE_CONTAINER]),
    intercept: async (call) => {
      bed.runtime.send(SHORT_WINDOW_UPDATE);
      interceptorAborted = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), ABORT_WAIT_MS);
        call.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      return { action: 'forward', message: call.message };
    },
  };

  beforeAll(async () => {
    bed = await startFrameTestbed({ interceptor: sendWhileHeld, logger: silentLogger() });
  });

  afterAll(() => bed?.stop());

  it('ends the connection: the call in flight gets UNAVAILABLE naming the frame, and its interceptor is stopped', async () => {
    const outcome = await unary(bed.connect(), CREATE_CONTAINER, Buffer.from('create'), { deadlineMs: 5000 });
    expect(outcome.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(outcome.status.details).toContain('runtime sent a WINDOW_UPDATE of 3 octets');
    await expect.poll(() => interceptorAborted).toBe(true);
  });
});
