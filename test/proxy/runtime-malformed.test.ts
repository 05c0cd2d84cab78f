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
/** A well-formed frame after the malformed one: the bytes a read past the malformed frame's end would take. */
const NEXT_FRAME = encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8));

/**
 * The proxy reads the runtime's WINDOW_UPDATE increments for its own flow control and the last
 * stream id of its GOAWAY for the calls it refused. A frame too short for what it must carry
 * (RFC 9113: WINDOW_UPDATE exactly 4 octets, section 6.9; GOAWAY at least 8, section 6.8) is not
 * read past its end into the next frame: the connection ends, and the call in flight learns why.
 */
describe.each([
  {
    frame: 'a WINDOW_UPDATE of 3 octets',
    bytes: encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x00, 0x00, 0x10])),
    detail: 'runtime sent a WINDOW_UPDATE of 3 octets',
  },
  {
    frame: 'a GOAWAY of 6 octets',
    bytes: encodeFrame(FrameType.GOAWAY, 0, 0, Buffer.from([0x00, 0x00, 0x00, 0x01, 0x00, 0x00])),
    detail: 'runtime sent a GOAWAY of 6 octets',
  },
])('$frame from the runtime', ({ bytes, detail }) => {
  let bed: FrameTestbed;
  let interceptorAborted: boolean | undefined;
  const sendWhileHeld: CallInterceptor = {
    methods: new Set([CREATE_CONTAINER]),
    intercept: async (call) => {
      bed.runtime.send(Buffer.concat([bytes, NEXT_FRAME]));
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
    expect(outcome.status.details).toContain(detail);
    await expect.poll(() => interceptorAborted).toBe(true);
  });
});
