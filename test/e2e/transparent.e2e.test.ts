import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { criType } from '../../src/cri/proto.js';
import { silentLogger } from '../../src/log/logger.js';
import { startProxy } from '../../src/proxy/index.js';
import { startContainerd, type ContainerdNode } from '../../testbed/containerd.js';
import {
  connectCri,
  containerConfig,
  criMethodPath,
  podSandboxConfig,
  type ContainerEvent,
  type CriClient,
  type RawCallResult,
  type StreamSubscription,
} from '../../testbed/cri.js';
import { BUSYBOX_IMAGE } from '../../testbed/images.js';
import { REAL_NODE, skipUnlessLinux } from '../support/requirements.js';

/**
 * The shim is transparent: on a real containerd 1.6 + runc node, every CRI call made through
 * it gets the answer containerd gives the same call made directly.
 *
 * What "the same answer" means depends on the call:
 * - Reads of the same state (Version, Status, ListImages, ImageStatus, PodSandboxStatus,
 *   ContainerStatus, ListContainers, errors...) are sent as identical request bytes on both
 *   paths and must come back as identical status, details and response bytes. containerd was
 *   measured to answer these byte-identically when asked twice, so any difference is the shim's.
 *   Two exceptions, both containerd's own Go map order, measured direct-vs-direct: List answers
 *   with several items (compared item by item, byte-exact, in any order) and verbose Status
 *   (its info map; compared decoded).
 * - Calls with side effects (RunPodSandbox, CreateContainer, ...) cannot be made twice on the
 *   same object. Each is made once directly on a "direct" twin and once through the shim on a
 *   "shim" twin built from the same config (only the pod name differs). Empty responses must be
 *   byte-identical; responses and the twins' resulting states are compared decoded, with what is
 *   unique per object (ids, names, pids, timestamps) replaced by placeholders. Everything else
 *   (the runtime spec containerd generated, mounts, capabilities, the echoed config) must match,
 *   which shows the request reached containerd unchanged.
 */

const RUNTIME = 'runtime' as const;
const IMAGE = 'image' as const;

function encode(typeName: string, value: object): Buffer {
  const type = criType(typeName);
  return Buffer.from(type.encode(type.fromObject(value)).finish());
}

function decode(typeName: string, bytes: Buffer | undefined): Record<string, unknown> {
  const type = criType(typeName);
  return type.toObject(type.decode(bytes ?? Buffer.alloc(0)), { longs: Number, enums: String, defaults: true });
}

/** A raw result as comparable plain data (Buffer equality reads better as hex in a failure). */
function comparable(result: RawCallResult): { code: string; details: string; response: string | undefined } {
  return { code: grpc.status[result.code] ?? String(result.code), details: result.details, response: result.response?.toString('hex') };
}

/**
 * The top-level fields of a message as raw byte strings, sorted. containerd keeps pods and
 * containers in Go maps, so a List answer with several items comes in a different order on
 * every call (measured); comparing the multiset of raw entries is still byte-exact per item.
 */
function rawEntries(bytes: Buffer | undefined): string[] {
  const reader = protobuf.Reader.create(bytes ?? Buffer.alloc(0));
  const entries: string[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    reader.skipType(reader.uint32() & 7);
    entries.push(Buffer.from(reader.buf.subarray(start, reader.pos)).toString('hex'));
  }
  return entries.sort();
}

/** `promise`, or a rejection naming `what` after `ms`: a stream that never ends fails the test, not the run. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const VOLATILE_KEYS = new Set(['created_at', 'started_at', 'finished_at', 'pid', 'createdAt', 'startedAt', 'finishedAt']);

/**
 * Replaces per-object values by placeholders: every occurrence of the given strings inside
 * strings, volatile keys by 0, `/proc/<pid>/` by `/proc/PID/`; JSON carried in strings (the
 * verbose `info` maps) is parsed first so it is compared structurally too.
 */
function normalise(value: unknown, replacements: Array<[string, string]>): unknown {
  if (typeof value === 'string') {
    let out = value;
    for (const [from, to] of replacements) if (from !== '') out = out.split(from).join(to);
    out = out.replace(/\/proc\/\d+\//g, '/proc/PID/');
    if (out.startsWith('{')) {
      try {
        return normalise(JSON.parse(out), replacements);
      } catch {
        return out;
      }
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((item) => normalise(item, replacements));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, VOLATILE_KEYS.has(key) ? 0 : normalise(item, replacements)]),
    );
  }
  return value;
}

interface Twin {
  client: CriClient;
  podName: string;
  podConfig: Record<string, unknown>;
  podId: string;
  containerId: string;
  events: StreamSubscription<ContainerEvent>;
}

describe.skipIf(skipUnlessLinux('CRI through the shim on real containerd (test/e2e/transparent.test.ts)', REAL_NODE))('the shim in front of real containerd + runc', () => {
  let node: ContainerdNode | undefined;
  let shim: { listenPath: string; stop(): Promise<void> } | undefined;
  let direct: CriClient;
  let viaShim: CriClient;
  const twins: Partial<Record<'direct' | 'shim', Twin>> = {};

  /** The same raw request on both paths: [direct answer, answer through the shim]. */
  async function both(service: 'runtime' | 'image', method: string, requestType: string, request: object) {
    const bytes = encode(requestType, request);
    const methodPath = criMethodPath(service, method);
    const fromContainerd = await direct.callRaw(methodPath, bytes);
    const fromShim = await viaShim.callRaw(methodPath, bytes);
    return [fromContainerd, fromShim] as const;
  }

  async function expectByteIdentical(service: 'runtime' | 'image', method: string, requestType: string, request: object) {
    const [fromContainerd, fromShim] = await both(service, method, requestType, request);
    expect(comparable(fromShim)).toEqual(comparable(fromContainerd));
    return fromContainerd;
  }

  /** For List calls: same status, and the same items byte for byte in any order. */
  async function expectSameItems(method: string, requestType: string, request: object) {
    const [fromContainerd, fromShim] = await both(RUNTIME, method, requestType, request);
    expect({ ...comparable(fromShim), response: rawEntries(fromShim.response) }).toEqual({
      ...comparable(fromContainerd),
      response: rawEntries(fromContainerd.response),
    });
    return fromContainerd;
  }

  function twin(which: 'direct' | 'shim'): Twin {
    const found = twins[which];
    if (!found) throw new Error(`the ${which} twin was not created: an earlier step failed`);
    return found;
  }

  /** Placeholders for what is unique to each twin. */
  function twinReplacements(t: Twin): Array<[string, string]> {
    return [
      [t.containerId, 'CONTAINER_ID'],
      [t.podId, 'POD_ID'],
      [t.podName, 'POD_NAME'],
    ];
  }

  beforeAll(async () => {
    node = await startContainerd();
    const started = await startProxy({
      listenPath: path.join(node.dir, 'shim.sock'),
      runtimeEndpoint: node.endpoint,
      logger: silentLogger(),
    });
    shim = started;
    direct = connectCri(node.endpoint);
    viaShim = connectCri(started.listenPath);
  });

  afterAll(async () => {
    for (const t of Object.values(twins)) t?.events.cancel();
    direct?.close();
    viaShim?.close();
    try {
      await shim?.stop();
    } finally {
      await node?.stop();
    }
  });

  it('answers Version, Status, ListImages and ImageStatus with containerd bytes', async () => {
    const version = await expectByteIdentical(RUNTIME, 'Version', 'VersionRequest', { version: 'v1' });
    expect(decode('VersionResponse', version.response)).toMatchObject({ runtime_name: 'containerd', runtime_api_version: 'v1' });

    const status = await expectByteIdentical(RUNTIME, 'Status', 'StatusRequest', {});
    expect(decode('StatusResponse', status.response).status).toMatchObject({
      conditions: expect.arrayContaining([expect.objectContaining({ type: 'RuntimeReady', status: true })]),
    });

    const images = await expectByteIdentical(IMAGE, 'ListImages', 'ListImagesRequest', {});
    expect(decode('ListImagesResponse', images.response).images).toEqual([
      expect.objectContaining({ repo_tags: [BUSYBOX_IMAGE] }),
    ]);

    await expectByteIdentical(IMAGE, 'ImageStatus', 'ImageStatusRequest', { image: { image: BUSYBOX_IMAGE } });
    const verbose = await expectByteIdentical(IMAGE, 'ImageStatus', 'ImageStatusRequest', {
      image: { image: BUSYBOX_IMAGE },
      verbose: true,
    });
    const info = decode('ImageStatusResponse', verbose.response).info as Record<string, string>;
    expect(JSON.parse(info.info ?? '{}').imageSpec.config.Entrypoint).toEqual(['/bin/sleep', '3600']);

    // An image containerd does not have: OK with no image, identical either way.
    await expectByteIdentical(IMAGE, 'ImageStatus', 'ImageStatusRequest', { image: { image: 'localhost/absent:1' } });
  });

  it('answers verbose Status with the same content (containerd itself orders its info map differently per call)', async () => {
    // Measured: two direct verbose Status calls differ in bytes because containerd 1.6 encodes
    // this map in Go's random map order; decoded maps compare without order.
    const [fromContainerd, fromShim] = await both(RUNTIME, 'Status', 'StatusRequest', { verbose: true });
    expect(fromShim.code).toBe(grpc.status.OK);
    expect(decode('StatusResponse', fromShim.response)).toEqual(decode('StatusResponse', fromContainerd.response));
  });

  it('answers ImageFsInfo with the same filesystems, at a time between two direct calls', async () => {
    // The only volatile field is each filesystem's timestamp (when containerd last sampled it).
    const before = await direct.imageFsInfo();
    const through = await viaShim.imageFsInfo();
    const after = await direct.imageFsInfo();
    type FsInfo = { image_filesystems: Array<{ timestamp: number }> };
    const stamp = (r: unknown) => (r as FsInfo).image_filesystems[0]?.timestamp ?? -1;
    expect(stamp(through)).toBeGreaterThanOrEqual(stamp(before));
    expect(stamp(through)).toBeLessThanOrEqual(stamp(after));
    const withoutTime = (r: unknown): unknown => JSON.parse(JSON.stringify(r), (key, v: unknown) => (key === 'timestamp' ? 0 : v));
    expect(withoutTime(through)).toEqual(withoutTime(after));
    expect((through as FsInfo).image_filesystems[0]).toMatchObject({
      fs_id: { mountpoint: path.join(node?.dir ?? '', 'root/io.containerd.snapshotter.v1.native') },
    });
  });

  it('forwards a method it does not know, so containerd answers UNIMPLEMENTED in its own words', async () => {
    const methodPath = criMethodPath(IMAGE, 'PullSecurityProfileArtifact');
    const request = Buffer.from([0x0a, 0x01, 0x78]); // field 1, "x": any bytes, the method has no schema
    const fromContainerd = await direct.callRaw(methodPath, request);
    const fromShim = await viaShim.callRaw(methodPath, request);
    expect(fromContainerd).toEqual({
      code: grpc.status.UNIMPLEMENTED,
      details: 'unknown method PullSecurityProfileArtifact for service runtime.v1.ImageService',
    });
    // grpc-js's own server would say "The server does not implement the method ...": this text
    // can only come from containerd.
    expect(fromShim).toEqual(fromContainerd);
  });

  it('runs a pod: RunPodSandbox through the shim matches a direct twin', async () => {
    for (const which of ['direct', 'shim'] as const) {
      const client = which === 'direct' ? direct : viaShim;
      // Subscribed before anything is created, so a runtime that streams events delivers all of them.
      const events = client.containerEvents();
      const podName = `twin-${which}`;
      const podConfig = podSandboxConfig({ name: podName, annotations: { 'e2e.example/twin': 'yes' } });
      const result = await client.callRaw(criMethodPath(RUNTIME, 'RunPodSandbox'), encode('RunPodSandboxRequest', { config: podConfig }));
      expect(result.code, `${which} RunPodSandbox: ${result.details}`).toBe(grpc.status.OK);
      const podId = String(decode('RunPodSandboxResponse', result.response).pod_sandbox_id);
      expect(podId).toMatch(/^[0-9a-f]{64}$/);
      twins[which] = { client, podName, podConfig, podId, containerId: '', events };
    }
    const d = twin('direct');
    const s = twin('shim');

    // containerd itself holds the pod made through the shim.
    expect((await direct.listPodSandbox()).map((p) => p.id).sort()).toEqual([d.podId, s.podId].sort());

    // The same pod read both ways: identical bytes.
    await expectByteIdentical(RUNTIME, 'PodSandboxStatus', 'PodSandboxStatusRequest', { pod_sandbox_id: s.podId, verbose: true });
    await expectSameItems('ListPodSandbox', 'ListPodSandboxRequest', {});
    await expectByteIdentical(RUNTIME, 'ListPodSandbox', 'ListPodSandboxRequest', { filter: { id: s.podId } });

    // The twins, both read directly: equal but for ids, names, pids and times.
    const statusOf = async (t: Twin) => normalise(await direct.podSandboxStatus(t.podId, true), twinReplacements(t));
    expect(await statusOf(s)).toEqual(await statusOf(d));
  });

  it('creates and starts a container: the twins match, reads through the shim are byte-identical', async () => {
    const d = twin('direct');
    const s = twin('shim');
    for (const t of [d, s]) {
      const imageSpec = await direct.kubeletImageSpec(BUSYBOX_IMAGE);
      const config = containerConfig({ name: 'workload', imageSpec, annotations: { 'e2e.example/role': 'workload' } });
      const created = await t.client.callRaw(
        criMethodPath(RUNTIME, 'CreateContainer'),
        encode('CreateContainerRequest', { pod_sandbox_id: t.podId, config, sandbox_config: t.podConfig }),
      );
      expect(created.code, `CreateContainer in ${t.podName}: ${created.details}`).toBe(grpc.status.OK);
      t.containerId = String(decode('CreateContainerResponse', created.response).container_id);
      expect(t.containerId).toMatch(/^[0-9a-f]{64}$/);
    }
    // StartContainerResponse is empty: the bytes must be the same (none) both ways.
    const [startDirect, startShim] = await Promise.all(
      [d, s].map((t) => t.client.callRaw(criMethodPath(RUNTIME, 'StartContainer'), encode('StartContainerRequest', { container_id: t.containerId }))),
    );
    expect(comparable(startShim!)).toEqual(comparable(startDirect!));
    expect(startShim!.code).toBe(grpc.status.OK);

    const verbose = await expectByteIdentical(RUNTIME, 'ContainerStatus', 'ContainerStatusRequest', {
      container_id: s.containerId,
      verbose: true,
    });
    expect(decode('ContainerStatusResponse', verbose.response).status).toMatchObject({ state: 'CONTAINER_RUNNING' });
    const listed = await expectSameItems('ListContainers', 'ListContainersRequest', {});
    expect(rawEntries(listed.response)).toHaveLength(2);
    await expectByteIdentical(RUNTIME, 'ListContainers', 'ListContainersRequest', { filter: { pod_sandbox_id: s.podId } });

    const statusOf = async (t: Twin) => normalise(await direct.containerStatus(t.containerId, true), twinReplacements(t));
    expect(await statusOf(s)).toEqual(await statusOf(d));
  });

  it('execs in the container started through the shim, and the kernel runs it', async () => {
    const s = twin('shim');
    // A command with deterministic output: the whole answer is byte-identical both ways.
    const exec = await expectByteIdentical(RUNTIME, 'ExecSync', 'ExecSyncRequest', {
      container_id: s.containerId,
      cmd: ['sh', '-c', 'echo hello from busybox; id; ls /bin/busybox'],
      timeout: 10,
    });
    const answer = decode('ExecSyncResponse', exec.response) as { stdout: Uint8Array; exit_code: number };
    expect(answer.exit_code).toBe(0);
    expect(Buffer.from(answer.stdout).toString()).toBe('hello from busybox\nuid=0(root) gid=0(root) groups=0(root)\n/bin/busybox\n');

    // /proc/self/status through the shim: the exec'd process is a real task of the kernel.
    const status = await viaShim.execSync(s.containerId, ['cat', '/proc/self/status'], 10);
    expect(status.exit_code).toBe(0);
    const text = Buffer.from(status.stdout).toString();
    expect(text).toMatch(/^Name:\s+cat$/m);
    expect(text).toMatch(/^Seccomp:\s+\d$/m);
    expect(text).toMatch(/^NoNewPrivs:\s+\d$/m);
    const directText = Buffer.from((await direct.execSync(s.containerId, ['cat', '/proc/self/status'], 10)).stdout).toString();
    const line = (t: string, key: string) => t.split('\n').find((l) => l.startsWith(`${key}:`));
    for (const key of ['Seccomp', 'NoNewPrivs', 'CapEff', 'CapBnd']) expect(line(text, key)).toBe(line(directText, key));

    // The container's init, seen from the host: the pid containerd reports runs busybox's sleep.
    const info = JSON.parse((await viaShim.containerStatus(s.containerId, true)).info.info ?? '{}') as { pid: number };
    expect(readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0')).toEqual(['/bin/sleep', '3600', '']);
  });

  it('stops and removes the container and pod: empty answers identical, end states match', async () => {
    const d = twin('direct');
    const s = twin('shim');
    const step = async (method: string, requestType: string, request: (t: Twin) => object) => {
      const [fromContainerd, fromShim] = await Promise.all(
        [d, s].map((t) => t.client.callRaw(criMethodPath(RUNTIME, method), encode(requestType, request(t)))),
      );
      expect(fromContainerd!.code, `${method} direct: ${fromContainerd!.details}`).toBe(grpc.status.OK);
      expect(comparable(fromShim!)).toEqual(comparable(fromContainerd!));
    };

    await step('StopContainer', 'StopContainerRequest', (t) => ({ container_id: t.containerId, timeout: 0 }));
    const exited = await expectByteIdentical(RUNTIME, 'ContainerStatus', 'ContainerStatusRequest', { container_id: s.containerId });
    expect(decode('ContainerStatusResponse', exited.response).status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 137 });
    const statusOf = async (t: Twin) => normalise(await direct.containerStatus(t.containerId, true), twinReplacements(t));
    expect(await statusOf(s)).toEqual(await statusOf(d));

    await step('RemoveContainer', 'RemoveContainerRequest', (t) => ({ container_id: t.containerId }));
    // An error is forwarded as it is: containerd's NOT_FOUND with containerd's message.
    const gone = await expectByteIdentical(RUNTIME, 'ContainerStatus', 'ContainerStatusRequest', { container_id: s.containerId });
    expect(gone.code).toBe(grpc.status.NOT_FOUND);

    await step('StopPodSandbox', 'StopPodSandboxRequest', (t) => ({ pod_sandbox_id: t.podId }));
    await expectByteIdentical(RUNTIME, 'PodSandboxStatus', 'PodSandboxStatusRequest', { pod_sandbox_id: s.podId });
    await step('RemovePodSandbox', 'RemovePodSandboxRequest', (t) => ({ pod_sandbox_id: t.podId }));

    const empty = await expectByteIdentical(RUNTIME, 'ListContainers', 'ListContainersRequest', {});
    expect(decode('ListContainersResponse', empty.response).containers).toEqual([]);
    const noPods = await expectByteIdentical(RUNTIME, 'ListPodSandbox', 'ListPodSandboxRequest', {});
    expect(decode('ListPodSandboxResponse', noPods.response).items).toEqual([]);
  });

  it('streams GetContainerEvents as containerd does', async () => {
    const d = twin('direct');
    const s = twin('shim');
    // By now every container event has happened; a runtime that streams keeps the stream open.
    const directStatus = await within(d.events.status, 2_000, 'direct GetContainerEvents status').catch(() => undefined);
    if (directStatus?.code === grpc.status.UNIMPLEMENTED) {
      // containerd 1.6 does not implement the method: the shim must fail the stream identically.
      expect(await within(s.events.status, 10_000, 'GetContainerEvents status through the shim')).toEqual(directStatus);
      expect(s.events.messages).toEqual([]);
      return;
    }
    // A runtime that streams: the shim's subscriber saw its container's whole life, like the direct one saw its own.
    const kinds = (t: Twin) => t.events.messages.filter((e) => e.container_id === t.containerId).map((e) => e.container_event_type);
    await s.events.waitFor((e) => e.container_id === s.containerId && e.container_event_type === 'CONTAINER_DELETED_EVENT');
    await d.events.waitFor((e) => e.container_id === d.containerId && e.container_event_type === 'CONTAINER_DELETED_EVENT');
    expect(kinds(s)).toEqual(kinds(d));
    expect(kinds(s)).toEqual(
      expect.arrayContaining(['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']),
    );
  });
});
