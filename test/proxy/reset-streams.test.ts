import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { startProxy, type RunningProxy } from '../../src/proxy/index.js';
import { FakeRuntime } from '../support/proxy/fake-runtime.js';
import { startFrameTestbed, type FrameTestbed } from '../support/proxy/frame-runtime.js';
import { rawClient, unary } from '../support/proxy/raw-client.js';

const VERSION = '/runtime.v1.RuntimeService/Version';
const CREATE_CONTAINER = '/runtime.v1.RuntimeService/CreateContainer';

/**
 * A rejected call leaves a stream the proxy reset towards the runtime. The proxy forgets it once
 * the runtime answers a stream opened after the reset, so reset streams do not pile up over a
 * long-lived kubelet connection (and the fast paths, off while any is pending, come back).
 */
describe('streams the proxy reset are retired once the runtime answers a later stream', () => {
  let dir: string;
  let fake: FakeRuntime;
  let proxy: RunningProxy;
  let client: grpc.Client;
  const lines: { msg: string; streamId?: number }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'proxy-reset-'));
    fake = new FakeRuntime(path.join(dir, 'runtime.sock'))
      .onUnary(VERSION, () => ({ response: Buffer.from('version') }))
      .onUnary(CREATE_CONTAINER, () => ({ response: Buffer.from('created') }));
    await fake.start();
    proxy = await startProxy({
      listenPath: path.join(dir, 'shim.sock'),
      runtimeEndpoint: fake.socketPath,
      interceptor: {
        methods: new Set([CREATE_CONTAINER]),
        intercept: async () => ({ action: 'reject', code: grpc.status.PERMISSION_DENIED, message: 'no' }),
      },
      logger: createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } }),
    });
    client = rawClient(proxy.listenPath);
  });

  afterAll(async () => {
    client?.close();
    await proxy?.stop();
    fake?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('retires each rejected stream, and the connection keeps serving', async () => {
    for (let i = 0; i < 3; i++) {
      const outcome = await unary(client, CREATE_CONTAINER, Buffer.from(`request ${i}`));
      expect(outcome.status.code).toBe(grpc.status.PERMISSION_DENIED);
    }
    // Nothing the runtime has sent yet answers a stream opened after the resets.
    expect(lines.filter((line) => line.msg === 'reset stream retired')).toEqual([]);
    const version = await unary(client, VERSION, Buffer.alloc(0));
    expect(version.response).toEqual(Buffer.from('version'));
    const retired = lines.filter((line) => line.msg === 'reset stream retired').map((line) => line.streamId);
    const rejected = lines.filter((line) => line.msg === 'call' && /CreateContainer/.test(JSON.stringify(line)));
    expect(retired).toHaveLength(3);
    expect(new Set(retired).size).toBe(3);
    expect(rejected.length).toBe(3);
  });
});

/**
 * The runtime may answer a stream after the proxy reset it (its own deadline fired as the
 * interceptor rejected the call). The proxy drops that answer, which is only safe because it told
 * the runtime the client's HPACK table is empty: the runtime's header blocks then never depend on
 * one another. The frame-level runtime indexes whenever the advertised size allows it.
 */
describe('an answer that crosses the proxy\'s reset', () => {
  let bed: FrameTestbed;
  let client: grpc.Client;
  const errors: string[] = [];

  beforeAll(async () => {
    bed = await startFrameTestbed({
      interceptor: {
        methods: new Set([CREATE_CONTAINER]),
        intercept: async () => ({ action: 'reject', code: grpc.status.PERMISSION_DENIED, message: 'no' }),
      },
      logger: createLogger({
        level: 'warn',
        destination: { write: (line: string) => void errors.push(JSON.parse(line).msg) },
      }),
    });
    client = rawClient(bed.proxy.listenPath);
  });

  afterAll(async () => {
    client?.close();
    await bed?.stop();
  });

  it('is dropped, and the same connection keeps serving with HPACK state intact', async () => {
    const first = await unary(client, VERSION, Buffer.alloc(0));
    expect(first.response?.toString()).toBe(`answer to ${VERSION}`);
    expect(bed.runtime.clientHeaderTableSize).toBe(0);

    for (let i = 0; i < 2; i++) {
      const rejected = await unary(client, CREATE_CONTAINER, Buffer.from('request'));
      expect(rejected.status.code).toBe(grpc.status.PERMISSION_DENIED);
    }
    await vi.waitFor(() => expect(bed.runtime.lateAnswers).toHaveLength(2));

    const after = await unary(client, VERSION, Buffer.alloc(0));
    expect(after.status.code).toBe(grpc.status.OK);
    expect(after.response?.toString()).toBe(`answer to ${VERSION}`);
    expect(bed.runtime.connections).toBe(1);
    expect(errors).toEqual([]);
  });
});
