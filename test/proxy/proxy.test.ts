import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { criType } from '../../src/cri/proto.js';
import { silentLogger } from '../../src/log/logger.js';
import { startProxy, type CallInterceptor, type InterceptDecision, type InterceptedCall, type RunningProxy } from '../../src/proxy/index.js';
import { FakeRuntime } from '../support/proxy/fake-runtime.js';
import { rawClient, serverStream, unary } from '../support/proxy/raw-client.js';
import { WindowChecker } from '../support/proxy/window-checker.js';

const VERSION = '/runtime.v1.RuntimeService/Version';
const LIST_CONTAINERS = '/runtime.v1.RuntimeService/ListContainers';
const CREATE_CONTAINER = '/runtime.v1.RuntimeService/CreateContainer';
const GET_EVENTS = '/runtime.v1.RuntimeService/GetContainerEvents';
const ECHO_SIZE = '/runtime.v1.ImageService/ImageFsInfo';
const UNKNOWN_REGISTERED = '/runtime.v1.ImageService/PullSecurityProfileArtifact';

/** Bytes no protobuf schema of ours would produce: proves bytes pass through untouched. */
const ODD_RESPONSE = Buffer.from('0a0a636f6e7461696e657264a2f40304deadbeef', 'hex');

/** An interceptor whose decision each test sets. */
class TestInterceptor implements CallInterceptor {
  readonly methods = new Set([CREATE_CONTAINER]);
  readonly calls: InterceptedCall[] = [];
  decide: (call: InterceptedCall) => Promise<InterceptDecision> = async (call) => ({
    action: 'forward',
    message: call.message,
  });
  intercept(call: InterceptedCall): Promise<InterceptDecision> {
    this.calls.push(call);
    return this.decide(call);
  }
}

describe('CRI proxy hop against a grpc-js runtime', () => {
  let dir: string;
  let fake: FakeRuntime;
  let checker: WindowChecker;
  let proxy: RunningProxy;
  let client: grpc.Client;
  const interceptor = new TestInterceptor();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'proxy-test-'));
    fake = new FakeRuntime(path.join(dir, 'runtime.sock'))
      .onUnary(VERSION, () => ({ response: ODD_RESPONSE }))
      .onUnary(LIST_CONTAINERS, (call) => {
        const trailers = new grpc.Metadata();
        trailers.set('x-runtime-trailer', 'listed');
        return { response: Buffer.concat([call.request, Buffer.from('!')]), trailers };
      })
      .onUnary(CREATE_CONTAINER, () => ({ response: Buffer.from('created') }))
      .onUnary(ECHO_SIZE, (call) => ({ response: Buffer.alloc(call.request.readUInt32BE(0), 0x5a) }))
      .onUnary(UNKNOWN_REGISTERED, () => ({ response: Buffer.from('fake catch-all answered') }))
      .onUnary('/runtime.v1.RuntimeService/Status', () => ({
        error: {
          code: grpc.status.FAILED_PRECONDITION,
          details: 'runtime not ready: 100% broken ✗',
          metadata: errorTrailers(),
        },
      }))
      .onServerStream(GET_EVENTS, (call, stream) => {
        const count = call.request.readUInt32BE(0);
        let i = 0;
        const writeSome = (): void => {
          while (i < count && !stream.cancelled) {
            const more = stream.write(Buffer.from(`event-${i}`));
            i += 1;
            if (!more) {
              stream.once('drain', writeSome);
              return;
            }
          }
          if (count !== 0xffffffff && !stream.cancelled) stream.end();
        };
        if (count === 0xffffffff) {
          // Endless: one event every few ms until cancelled.
          const timer = setInterval(() => {
            if (stream.cancelled) clearInterval(timer);
            else stream.write(Buffer.from(`tick-${i++}`));
          }, 2);
          return;
        }
        writeSome();
      });
    await fake.start();
    checker = new WindowChecker(path.join(dir, 'checker.sock'), fake.socketPath);
    await checker.start();
    proxy = await startProxy({
      listenPath: path.join(dir, 'proxy', 'shim.sock'),
      runtimeEndpoint: `unix://${checker.listenPath}`,
      interceptor,
      logger: silentLogger(),
    });
    client = rawClient(proxy.listenPath);
  });

  afterAll(async () => {
    client?.close();
    await proxy?.stop();
    await checker?.stop();
    fake?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    // The runtime in front of which the checker sits must never get more than it allowed.
    expect(checker.violations).toEqual([]);
    interceptor.decide = async (call) => ({ action: 'forward', message: call.message });
  });

  it('returns the runtime answer byte for byte and delivers the request byte for byte', async () => {
    const request = Buffer.from('0a03763161ffff', 'hex');
    const outcome = await unary(client, VERSION, request);
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(outcome.response).toEqual(ODD_RESPONSE);
    expect(fake.calls.at(-1)?.request).toEqual(request);
  });

  it('passes status code, message and trailing metadata back', async () => {
    const failed = await unary(client, '/runtime.v1.RuntimeService/Status', Buffer.alloc(0));
    expect(failed.status.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(failed.status.details).toBe('runtime not ready: 100% broken ✗');
    expect(failed.status.metadata.get('x-reason')).toEqual(['cni-not-ready']);

    const listed = await unary(client, LIST_CONTAINERS, Buffer.from('abc'));
    expect(listed.response?.toString()).toBe('abc!');
    expect(listed.status.metadata.get('x-runtime-trailer')).toEqual(['listed']);
  });

  it('delivers the caller metadata and deadline to the runtime', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-caller', 'kubelet');
    metadata.set('x-blob-bin', Buffer.from([0, 1, 2, 255]));
    const before = Date.now();
    await unary(client, VERSION, Buffer.alloc(0), { metadata, deadlineMs: 30_000 });
    const seen = fake.calls.at(-1)!;
    expect(seen.metadata.get('x-caller')).toEqual(['kubelet']);
    expect(seen.metadata.get('x-blob-bin')).toEqual([Buffer.from([0, 1, 2, 255])]);
    const deadline = seen.deadline instanceof Date ? seen.deadline.getTime() : seen.deadline;
    // grpc-timeout carries a relative time; the runtime's deadline is the caller's, give or take transit.
    expect(deadline).toBeGreaterThan(before + 25_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('forwards a method our proto does not know to the runtime', async () => {
    const known = await unary(client, UNKNOWN_REGISTERED, Buffer.from('x'));
    expect(known.response?.toString()).toBe('fake catch-all answered');

    // Not registered at the runtime: grpc-js's own UNIMPLEMENTED text proves the runtime answered.
    const unregistered = await unary(client, '/runtime.v1.ImageService/NoSuchMethodAnywhere', Buffer.alloc(0));
    expect(unregistered.status.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(unregistered.status.details).toContain('/runtime.v1.ImageService/NoSuchMethodAnywhere');
  });

  it('streams many server messages in order', async () => {
    const count = 5000;
    const request = Buffer.alloc(4);
    request.writeUInt32BE(count);
    const received: string[] = [];
    const stream = serverStream(client, GET_EVENTS, request);
    stream.on('data', (m: Buffer) => received.push(m.toString()));
    const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(received).toHaveLength(count);
    expect(received[0]).toBe('event-0');
    expect(received[count - 1]).toBe(`event-${count - 1}`);
  });

  it('passes a client cancellation of a stream to the runtime', async () => {
    const request = Buffer.alloc(4);
    request.writeUInt32BE(0xffffffff);
    const cancelledBefore = fake.cancelled.filter((m) => m === GET_EVENTS).length;
    const stream = serverStream(client, GET_EVENTS, request);
    let seen = 0;
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      stream.on('status', resolve);
      stream.on('error', () => undefined);
      stream.on('data', () => {
        seen += 1;
        if (seen === 5) stream.cancel();
      });
    });
    expect(status.code).toBe(grpc.status.CANCELLED);
    await waitFor(() => fake.cancelled.filter((m) => m === GET_EVENTS).length > cancelledBefore);
  });

  it('carries 16 MiB messages both ways', async () => {
    const size = 16 * 1024 * 1024;
    const request = Buffer.alloc(size, 0x41);
    request.writeUInt32BE(size, 0);
    const outcome = await unary(client, ECHO_SIZE, request, { deadlineMs: 60_000 });
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(outcome.response?.length).toBe(size);
    expect(outcome.response?.every((b) => b === 0x5a)).toBe(true);
    expect(fake.calls.at(-1)?.request.equals(request)).toBe(true);
  });

  it('forwards a CreateContainerRequest with an unknown field byte-identical when the interceptor keeps it', async () => {
    const known = criType('CreateContainerRequest')
      .encode({ pod_sandbox_id: 'pod-1', config: { metadata: { name: 'c' } } })
      .finish();
    // Field 999, varint 42: a field a newer kubelet might send and our schema does not know.
    const unknownField = Buffer.from([0xb8, 0x3e, 0x2a]);
    const request = Buffer.concat([known, unknownField]);
    const outcome = await unary(client, CREATE_CONTAINER, request);
    expect(outcome.response?.toString()).toBe('created');
    expect(fake.calls.at(-1)?.request.equals(request)).toBe(true);
    const intercepted = interceptor.calls.at(-1)!;
    expect(intercepted.method).toBe(CREATE_CONTAINER);
    expect(intercepted.message.equals(request)).toBe(true);
    expect(intercepted.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(intercepted.deadline).toBeInstanceOf(Date);
  });

  it('forwards what the interceptor returns when the message grows', async () => {
    const appended = Buffer.from('override-bytes');
    interceptor.decide = async (call) => ({ action: 'forward', message: Buffer.concat([call.message, appended]) });
    const request = Buffer.from('original');
    const outcome = await unary(client, CREATE_CONTAINER, request);
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(fake.calls.at(-1)?.request.toString()).toBe('originaloverride-bytes');
  });

  it('forwards what the interceptor returns when the message shrinks, and the connection stays usable', async () => {
    interceptor.decide = async () => ({ action: 'forward', message: Buffer.from('s') });
    const request = Buffer.alloc(200_000, 1);
    const outcome = await unary(client, CREATE_CONTAINER, request);
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(fake.calls.at(-1)?.request.toString()).toBe('s');
    const after = await unary(client, LIST_CONTAINERS, Buffer.alloc(300_000, 2));
    expect(after.response?.length).toBe(300_001);
  });

  it('sends an interceptor message larger than the runtime window, and the connection stays usable', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    interceptor.decide = async () => ({ action: 'forward', message: big });
    const outcome = await unary(client, CREATE_CONTAINER, Buffer.from('tiny'));
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(fake.calls.at(-1)?.request.equals(big)).toBe(true);
    // The proxy sent the runtime far more than the client spent; later client traffic must
    // still fit the runtime's windows (a miscount shows up as a flow-control error here).
    for (let i = 0; i < 3; i++) {
      const echoed = await unary(client, LIST_CONTAINERS, Buffer.alloc(2 * 1024 * 1024, i));
      expect(echoed.status.code).toBe(grpc.status.OK);
      expect(echoed.response?.length).toBe(2 * 1024 * 1024 + 1);
    }
  });

  it('holds a large intercepted request without stalling the client', async () => {
    const request = Buffer.alloc(5 * 1024 * 1024, 3);
    const outcome = await unary(client, CREATE_CONTAINER, request, { deadlineMs: 30_000 });
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(fake.calls.at(-1)?.request.equals(request)).toBe(true);
  });

  it('passes a compressed intercepted request through unmodified without calling the interceptor', async () => {
    const gzipClient = new grpc.Client(`unix://${proxy.listenPath}`, grpc.credentials.createInsecure(), {
      'grpc.default_compression_algorithm': 2,
    });
    try {
      const callsBefore = interceptor.calls.length;
      const request = Buffer.alloc(10_000, 'k');
      const outcome = await unary(gzipClient, CREATE_CONTAINER, request);
      expect(outcome.status.code).toBe(grpc.status.OK);
      expect(fake.calls.at(-1)?.request.equals(request)).toBe(true);
      expect(interceptor.calls.length).toBe(callsBefore);
    } finally {
      gzipClient.close();
    }
  });

  it('answers a rejected call with the interceptor code and message; the runtime sees it cancelled', async () => {
    interceptor.decide = async () => ({ action: 'reject', code: grpc.status.FAILED_PRECONDITION, message: 'profile "x" not allowed: 50% off' });
    const handledBefore = fake.calls.filter((c) => c.method === CREATE_CONTAINER).length;
    const startedBefore = fake.started.filter((c) => c.method === CREATE_CONTAINER).length;
    const cancelledBefore = fake.cancelled.filter((m) => m === CREATE_CONTAINER).length;
    const outcome = await unary(client, CREATE_CONTAINER, Buffer.from('request'));
    expect(outcome.status.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(outcome.status.details).toBe('profile "x" not allowed: 50% off');
    await waitFor(() => fake.cancelled.filter((m) => m === CREATE_CONTAINER).length > cancelledBefore);
    expect(fake.started.filter((c) => c.method === CREATE_CONTAINER).length).toBe(startedBefore + 1);
    expect(fake.calls.filter((c) => c.method === CREATE_CONTAINER).length).toBe(handledBefore);
    // The connection and its HPACK state survive our own header block.
    const after = await unary(client, VERSION, Buffer.alloc(0));
    expect(after.response).toEqual(ODD_RESPONSE);
  });

  it('answers INTERNAL with the error text when the interceptor throws', async () => {
    interceptor.decide = async () => {
      throw new Error('artifact quay.io/x:y not found');
    };
    const outcome = await unary(client, CREATE_CONTAINER, Buffer.from('request'));
    expect(outcome.status.code).toBe(grpc.status.INTERNAL);
    expect(outcome.status.details).toBe('artifact quay.io/x:y not found');
  });

  it('aborts the interceptor signal when the client cancels', async () => {
    let seenSignal: AbortSignal | undefined;
    interceptor.decide = (call) =>
      new Promise((resolve) => {
        seenSignal = call.signal;
        call.signal.addEventListener('abort', () => resolve({ action: 'forward', message: call.message }));
      });
    const handledBefore = fake.calls.filter((c) => c.method === CREATE_CONTAINER).length;
    const outcome = await unary(client, CREATE_CONTAINER, Buffer.from('request'), {
      onCall: (call) => setTimeout(() => call.cancel(), 100),
    });
    expect(outcome.status.code).toBe(grpc.status.CANCELLED);
    await waitFor(() => seenSignal?.aborted === true);
    expect(fake.calls.filter((c) => c.method === CREATE_CONTAINER).length).toBe(handledBefore);
  });
});

function errorTrailers(): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('x-reason', 'cni-not-ready');
  return metadata;
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
