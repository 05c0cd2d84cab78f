import type * as grpc from '@grpc/grpc-js';
import { LRUCache } from 'lru-cache';
import { criServiceConstructors, grpcJs, unixTarget } from '../cri/proto.js';

/** What the injector asks the runtime itself, on a connection of its own beside the proxied one. */
export interface RuntimeQueries {
  /** The runtime handler a sandbox was created with ('' for the default runtime). */
  sandboxHandler(podSandboxId: string): Promise<string>;
  /** The runtime's record of an image: its id and every `repo@sha256:...` manifest it holds under that id. */
  imageStatus(image: string): Promise<ImageRecord>;
  close(): void;
}

export interface ImageRecord {
  /** The image id (the config digest); '' when the runtime does not know the image. */
  id: string;
  /**
   * Every manifest digest the runtime keeps for the id. Images that share a config share one id,
   * so this can list several manifests with different annotations.
   */
  repoDigests: string[];
}

type UnaryMethod = (request: object, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;

const QUERY_TIMEOUT_MS = 10_000;

export function createRuntimeQueries(runtimeEndpoint: string): RuntimeQueries {
  const target = unixTarget(runtimeEndpoint);
  // Clients (and grpc-js) come with the first question, not at start-up.
  let clients: { runtime: grpc.Client; image: grpc.Client } | undefined;
  const connected = () => {
    if (clients) return clients;
    const { RuntimeService, ImageService } = criServiceConstructors();
    const { credentials } = grpcJs();
    clients = { runtime: new RuntimeService(target, credentials.createInsecure()), image: new ImageService(target, credentials.createInsecure()) };
    return clients;
  };
  // A sandbox's handler never changes, so one answer per sandbox serves for its whole life.
  const handlers = new LRUCache<string, string>({ max: 10_000 });

  const call = <T>(client: grpc.Client, method: string, request: object): Promise<T> =>
    new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, UnaryMethod>)[method];
      if (!fn) throw new Error(`CRI client has no method ${method}`);
      fn.call(client, request, { deadline: Date.now() + QUERY_TIMEOUT_MS }, (error, response) =>
        error ? reject(error) : resolve(response as T),
      );
    });

  return {
    async sandboxHandler(podSandboxId) {
      const known = handlers.get(podSandboxId);
      if (known !== undefined) return known;
      const response = await call<{ status?: { runtime_handler?: string } }>(connected().runtime, 'PodSandboxStatus', {
        pod_sandbox_id: podSandboxId,
      });
      const handler = response.status?.runtime_handler ?? '';
      handlers.set(podSandboxId, handler);
      return handler;
    },
    async imageStatus(imageRef) {
      const response = await call<{ image?: { id?: string; repo_digests?: string[] } | null }>(connected().image, 'ImageStatus', {
        image: { image: imageRef },
      });
      return { id: response.image?.id ?? '', repoDigests: response.image?.repo_digests ?? [] };
    },
    close() {
      clients?.runtime.close();
      clients?.image.close();
    },
  };
}
