import * as grpc from '@grpc/grpc-js';
import { IMAGE_SERVICE, RUNTIME_SERVICE, criServiceConstructors, unixTarget } from '../src/cri/proto.js';
import { BUSYBOX_IMAGE } from './images.js';

/**
 * A thin promise-based CRI v1 client for tests. Decoded messages use the proto's snake_case
 * names, enums as their names and int64 as numbers (see criServiceConstructors()); every call
 * carries a deadline so a hung runtime fails a test instead of stalling it.
 */

/** A gRPC status as a caller sees it. */
export interface GrpcStatus {
  code: grpc.status;
  details: string;
}

/** The outcome of a call made with raw bytes: the status, and the response bytes on success. */
export interface RawCallResult extends GrpcStatus {
  response?: Buffer;
}

/** A decoded CRI message; tests read the few fields they need. */
export type CriMessage = Record<string, unknown>;

export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}

export interface ContainerMetadata {
  name: string;
  attempt: number;
}

export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata | null;
  state: string;
  created_at: number;
  started_at: number;
  finished_at: number;
  exit_code: number;
  image: { image: string } | null;
  image_ref: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  log_path: string;
  [field: string]: unknown;
}

/** The runtime-spec seccomp fields tests read. */
export interface RuntimeSeccomp {
  defaultAction: string;
  architectures?: string[];
  syscalls?: { names: string[]; action: string; errnoRet?: number }[];
}

export interface ContainerStatusResponse {
  status: ContainerStatus | null;
  info: Record<string, string>;
}

export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: ContainerMetadata | null;
  image: { image: string } | null;
  image_ref: string;
  state: string;
  created_at: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  [field: string]: unknown;
}

export interface PodSandbox {
  id: string;
  metadata: { name: string; uid: string; namespace: string; attempt: number } | null;
  state: string;
  created_at: number;
  [field: string]: unknown;
}

export interface ExecSyncResponse {
  stdout: Buffer;
  stderr: Buffer;
  exit_code: number;
}

export interface ContainerEvent {
  container_id: string;
  container_event_type: string;
  created_at: number;
  [field: string]: unknown;
}

export interface CallOptions {
  /** Milliseconds until the call's deadline; 30 s by default. */
  timeoutMs?: number;
}

/** A server stream being read: messages so far, the final status, and a way to end it. */
export interface StreamSubscription<T> {
  readonly messages: T[];
  /** Resolves with the stream's final status (CANCELLED after cancel()). */
  readonly status: Promise<GrpcStatus>;
  /** Resolves with the first message (already received or arriving) that satisfies `predicate`. */
  waitFor(predicate: (message: T) => boolean, timeoutMs?: number): Promise<T>;
  cancel(): void;
}

/** Error of a decoded CRI call, naming the method and keeping gRPC's code and details. */
export class CriCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`CRI ${method} failed: ${grpc.status[code] ?? code} ${details}`);
    this.name = 'CriCallError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

function deadline(options: CallOptions | undefined): grpc.CallOptions {
  return { deadline: Date.now() + (options?.timeoutMs ?? DEFAULT_TIMEOUT_MS) };
}

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

type StreamMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions) => grpc.ClientReadableStream<unknown>;

function identity(bytes: Buffer): Buffer {
  return bytes;
}

function subscribe<T>(stream: grpc.ClientReadableStream<T>): StreamSubscription<T> {
  const messages: T[] = [];
  const waiters = new Set<{ predicate: (message: T) => boolean; resolve: (message: T) => void }>();
  const status = new Promise<GrpcStatus>((resolve) => {
    stream.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details }));
  });
  // The status event carries the outcome; without an error listener a failed stream would throw.
  stream.on('error', () => undefined);
  stream.on('data', (message: T) => {
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(message)) {
        waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  });
  return {
    messages,
    status,
    cancel: () => stream.cancel(),
    waitFor(predicate, timeoutMs = 20_000) {
      const seen = messages.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching stream message within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        const waiter = {
          predicate,
          resolve: (message: T) => {
            clearTimeout(timer);
            resolve(message);
          },
        };
        waiters.add(waiter);
        void status.then((s) => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`stream ended (${grpc.status[s.code]} ${s.details}) before a matching message`));
        });
      });
    },
  };
}

/** A CRI client on one unix socket endpoint. */
export class CriClient {
  readonly runtime: grpc.Client;
  readonly image: grpc.Client;
  /** A plain channel for byte-level calls to any method path. */
  readonly raw: grpc.Client;

  constructor(readonly endpoint: string) {
    const { RuntimeService, ImageService } = criServiceConstructors();
    const target = unixTarget(endpoint);
    const credentials = grpc.credentials.createInsecure();
    this.runtime = new RuntimeService(target, credentials);
    this.image = new ImageService(target, credentials);
    this.raw = new grpc.Client(target, credentials);
  }

  /** Calls a RuntimeService or ImageService method with a decoded request; rejects with CriCallError. */
  call<T>(service: 'runtime' | 'image', method: string, request: object, options?: CallOptions): Promise<T> {
    const client = service === 'runtime' ? this.runtime : this.image;
    const fn = (client as unknown as Record<string, UnaryMethod | undefined>)[method];
    if (typeof fn !== 'function') throw new Error(`CRI ${service} service has no method ${method}`);
    return new Promise<T>((resolve, reject) => {
      fn.call(client, request, new grpc.Metadata(), deadline(options), (error, response) => {
        if (error) reject(new CriCallError(method, error.code, error.details));
        else resolve(response as T);
      });
    });
  }

  /**
   * Sends `request` as-is to the gRPC method `path` (`/runtime.v1.RuntimeService/Version`) and
   * returns the response bytes as received: no protobuf decoding on either side, so two
   * endpoints' answers can be compared byte for byte. Never rejects on a gRPC error status.
   */
  callRaw(path: string, request: Buffer = Buffer.alloc(0), options?: CallOptions): Promise<RawCallResult> {
    return new Promise((resolve) => {
      let response: Buffer | undefined;
      const call = this.raw.makeUnaryRequest(
        path,
        identity,
        identity,
        request,
        new grpc.Metadata(),
        deadline(options),
        (_error, value) => {
          response = value;
        },
      );
      // 'status' comes after the callback and carries the details for success and failure alike.
      call.on('status', (s: grpc.StatusObject) => {
        resolve(response === undefined ? { code: s.code, details: s.details } : { code: s.code, details: s.details, response });
      });
    });
  }

  /** Opens a server-streaming call with raw request bytes; messages are the raw response bytes. */
  streamRaw(path: string, request: Buffer = Buffer.alloc(0)): StreamSubscription<Buffer> {
    return subscribe(this.raw.makeServerStreamRequest(path, identity, identity, request, new grpc.Metadata(), {}));
  }

  /** Subscribes to GetContainerEvents; subscribe before the actions whose events a test expects. */
  containerEvents(): StreamSubscription<ContainerEvent> {
    const fn = (this.runtime as unknown as Record<string, StreamMethod>).GetContainerEvents;
    if (typeof fn !== 'function') throw new Error('CRI runtime service has no method GetContainerEvents');
    return subscribe(fn.call(this.runtime, {}, new grpc.Metadata(), {}) as grpc.ClientReadableStream<ContainerEvent>);
  }

  version(options?: CallOptions): Promise<VersionResponse> {
    return this.call('runtime', 'Version', { version: 'v1' }, options);
  }

  status(verbose = false, options?: CallOptions): Promise<CriMessage> {
    return this.call('runtime', 'Status', { verbose }, options);
  }

  async runPodSandbox(config: CriMessage, runtimeHandler = '', options?: CallOptions): Promise<string> {
    const response = await this.call<{ pod_sandbox_id: string }>(
      'runtime',
      'RunPodSandbox',
      { config, runtime_handler: runtimeHandler },
      options,
    );
    return response.pod_sandbox_id;
  }

  podSandboxStatus(podSandboxId: string, verbose = false, options?: CallOptions): Promise<CriMessage> {
    return this.call('runtime', 'PodSandboxStatus', { pod_sandbox_id: podSandboxId, verbose }, options);
  }

  async listPodSandbox(filter: CriMessage = {}, options?: CallOptions): Promise<PodSandbox[]> {
    const response = await this.call<{ items: PodSandbox[] }>('runtime', 'ListPodSandbox', { filter }, options);
    return response.items;
  }

  stopPodSandbox(podSandboxId: string, options?: CallOptions): Promise<CriMessage> {
    return this.call('runtime', 'StopPodSandbox', { pod_sandbox_id: podSandboxId }, options);
  }

  removePodSandbox(podSandboxId: string, options?: CallOptions): Promise<CriMessage> {
    return this.call('runtime', 'RemovePodSandbox', { pod_sandbox_id: podSandboxId }, options);
  }

  async createContainer(
    podSandboxId: string,
    config: CriMessage,
    sandboxConfig: CriMessage,
    options?: CallOptions,
  ): Promise<string> {
    const response = await this.call<{ container_id: string }>(
      'runtime',
      'CreateContainer',
      { pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig },
      options,
    );
    return response.container_id;
  }

  startContainer(containerId: string, options?: CallOptions): Promise<CriMessage> {
    return this.call('runtime', 'StartContainer', { container_id: containerId }, options);
  }

  containerStatus(containerId: string, verbose = false, options?: CallOptions): Promise<ContainerStatusResponse> {
    return this.call('runtime', 'ContainerStatus', { container_id: containerId, verbose }, options);
  }

  async listContainers(filter: CriMessage = {}, options?: CallOptions): Promise<Container[]> {
    const response = await this.call<{ containers: Container[] }>('runtime', 'ListContainers', { filter }, options);
    return response.containers;
  }

  /** Runs `cmd` in the container; `timeoutSeconds` 0 means no exec timeout (the call's deadline still applies). */
  execSync(containerId: string, cmd: string[], timeoutSeconds = 0, options?: CallOptions): Promise<ExecSyncResponse> {
    return this.call('runtime', 'ExecSync', { container_id: containerId, cmd, timeout: timeoutSeconds }, options);
  }

  /** Stops a container; `timeoutSeconds` 0 kills it at once (busybox sleep as PID 1 ignores SIGTERM). */
  stopContainer(containerId: string, timeoutSeconds = 0, options?: CallOptions): Promise<CriMessage> {
    return this.call('runtime', 'StopContainer', { container_id: containerId, timeout: timeoutSeconds }, options);
  }

  removeContainer(containerId: string, options?: CallOptions): Promise<CriMessage> {
    return this.call('runtime', 'RemoveContainer', { container_id: containerId }, options);
  }

  async listImages(filter: CriMessage = {}, options?: CallOptions): Promise<CriMessage[]> {
    const response = await this.call<{ images: CriMessage[] }>('image', 'ListImages', { filter }, options);
    return response.images;
  }

  imageStatus(image: string = BUSYBOX_IMAGE, verbose = false, options?: CallOptions): Promise<CriMessage> {
    return this.call('image', 'ImageStatus', { image: { image }, verbose }, options);
  }

  /** `.info.runtimeSpec.linux.seccomp` as `crictl inspect` shows it (null when Unconfined), and the container's annotations. */
  async appliedSeccomp<S = RuntimeSeccomp>(containerId: string): Promise<{ seccomp: S | null; annotations: Record<string, string> }> {
    const status = await this.containerStatus(containerId, true);
    const info = JSON.parse(String(status.info.info)) as { runtimeSpec: { linux: { seccomp?: S | null } } };
    return { seccomp: info.runtimeSpec.linux.seccomp ?? null, annotations: status.status?.annotations ?? {} };
  }

  /** Runs a shell script in a running container: its exit code and its output, standard output first. */
  async sh(containerId: string, script: string, timeoutSeconds = 20): Promise<{ code: number; out: string }> {
    const result = await this.execSync(containerId, ['/bin/sh', '-c', script], timeoutSeconds);
    return { code: result.exit_code, out: `${result.stdout.toString()}${result.stderr.toString()}` };
  }

  /**
   * A ContainerConfig's ImageSpec as kubelet 1.28 and later sends it: `image` is the id ImageStatus
   * gives for the pod's image text (images sharing a config share it), `user_specified_image` is the
   * pod's text, `runtime_handler` the pod's handler.
   */
  async kubeletImageSpec(podImage: string, runtimeHandler = '', options?: CallOptions): Promise<CriMessage> {
    const status = await this.imageStatus(podImage, false, options);
    const id = (status.image as { id?: string } | null)?.id;
    if (!id) throw new Error(`ImageStatus does not know image "${podImage}": kubelet would pull it first`);
    return { image: id, user_specified_image: podImage, runtime_handler: runtimeHandler };
  }

  imageFsInfo(options?: CallOptions): Promise<CriMessage> {
    return this.call('image', 'ImageFsInfo', {}, options);
  }

  close(): void {
    this.runtime.close();
    this.image.close();
    this.raw.close();
  }
}

/** A CRI client for `unix:///path` or `/path`. Close it when done. */
export function connectCri(endpoint: string): CriClient {
  return new CriClient(endpoint);
}

/** The gRPC path of a CRI method, e.g. criMethodPath('runtime', 'Version'). */
export function criMethodPath(service: 'runtime' | 'image', method: string): string {
  return `/${service === 'runtime' ? RUNTIME_SERVICE : IMAGE_SERVICE}/${method}`;
}

export interface PodSandboxConfigOptions {
  name: string;
  /** Kubernetes pod UID; a fixed string derived from the name by default. */
  uid?: string;
  namespace?: string;
  attempt?: number;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

/**
 * A PodSandboxConfig for this machine: host network (no CNI here) and no hostname (runc refuses
 * a hostname without a private UTS namespace, which host-network pods do not get).
 */
export function podSandboxConfig(options: PodSandboxConfigOptions): CriMessage {
  return {
    metadata: {
      name: options.name,
      uid: options.uid ?? `uid-${options.name}`,
      namespace: options.namespace ?? 'e2e',
      attempt: options.attempt ?? 0,
    },
    labels: options.labels ?? {},
    annotations: options.annotations ?? {},
    linux: {
      security_context: {
        namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' },
      },
    },
  };
}

/** CRI's SecurityProfile: RuntimeDefault, Unconfined, or Localhost with an absolute file path. */
export interface SecurityProfile {
  profile_type: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  localhost_ref?: string;
}

export interface ContainerConfigOptions {
  name: string;
  /** The image by name alone, in `image.image`: the shape of kubelet before 1.26 and of tools like crictl. */
  image?: string;
  /** The whole ImageSpec, for kubelet's own shape: see CriClient.kubeletImageSpec. */
  imageSpec?: CriMessage;
  command?: string[];
  args?: string[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  attempt?: number;
  seccomp?: SecurityProfile;
  /** Extra LinuxContainerSecurityContext fields (e.g. `capabilities`, `privileged`, `run_as_user`). */
  securityContext?: CriMessage;
}

/** A ContainerConfig running `command` (the image's `sleep 3600` when none) with host networking like its pod. */
export function containerConfig(options: ContainerConfigOptions): CriMessage {
  const securityContext: CriMessage = {
    namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' },
    ...options.securityContext,
  };
  if (options.seccomp) securityContext.seccomp = { localhost_ref: '', ...options.seccomp };
  return {
    metadata: { name: options.name, attempt: options.attempt ?? 0 },
    image: options.imageSpec ?? { image: options.image ?? BUSYBOX_IMAGE },
    command: options.command ?? [],
    args: options.args ?? [],
    labels: options.labels ?? {},
    annotations: options.annotations ?? {},
    linux: { security_context: securityContext },
  };
}
