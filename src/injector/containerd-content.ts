import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { DEFAULT_MAX_MANIFEST_BYTES, decodeManifest, digestOf, nodePlatform, parseDigest, readImageAnnotations, type ImageAnnotations, type ReadManifest } from '../artifact/index.js';
import { grpcJs, protobufJs, unixTarget } from '../cri/proto.js';
import { GrpcCode } from '../proxy/index.js';

const CONTENT_PROTO = fileURLToPath(new URL('../../proto/containerd/services/content/v1/content.proto', import.meta.url));
const READ_METHOD = '/containerd.services.content.v1.Content/Read';
/** containerd's CRI plugin keeps its images in this namespace. */
export const CRI_NAMESPACE = 'k8s.io';
const READ_TIMEOUT_MS = 10_000;

/** The content store cannot give this manifest (absent, unreadable, not a manifest): the registry is asked instead. */
class NotInContentStore extends Error {
  constructor(digest: string) {
    super(`manifest ${digest} not readable from the runtime's content store`);
  }
}

export interface LocalManifestReader {
  /** Annotations of the image manifest (and index) stored on the node; undefined when not there. */
  imageAnnotations(digest: string, signal: AbortSignal): Promise<ImageAnnotations | undefined>;
  close(): void;
}

/**
 * Image manifests read from containerd's own content store, over the socket that serves CRI:
 * the node already holds every image it runs, so its annotations need no registry. Answers
 * undefined whenever the store cannot say (another runtime, a blob gone, an error), and the
 * caller falls back to the registry.
 */
export function createContainerdManifestReader(runtimeEndpoint: string): LocalManifestReader {
  // The schema, grpc-js and the connection come with the first read, not at start-up.
  let reader: { client: grpc.Client; requestType: protobuf.Type; responseType: protobuf.Type } | undefined;
  const connected = () => {
    if (reader) return reader;
    const grpc = grpcJs();
    const root = new (protobufJs().Root)().loadSync(CONTENT_PROTO, { keepCase: true });
    reader = {
      client: new grpc.Client(unixTarget(runtimeEndpoint), grpc.credentials.createInsecure()),
      requestType: root.lookupType('containerd.services.content.v1.ReadContentRequest'),
      responseType: root.lookupType('containerd.services.content.v1.ReadContentResponse'),
    };
    return reader;
  };
  let unsupported = false;

  const readBlob = (digest: string, signal: AbortSignal): Promise<Buffer | undefined> =>
    new Promise((resolve) => {
      const grpc = grpcJs();
      const { client, requestType, responseType } = connected();
      const metadata = new grpc.Metadata();
      metadata.set('containerd-namespace', CRI_NAMESPACE);
      const call = client.makeServerStreamRequest(
        READ_METHOD,
        (request: object) => Buffer.from(requestType.encode(requestType.fromObject(request)).finish()),
        (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { longs: Number }) as { data?: Uint8Array },
        { digest },
        metadata,
        { deadline: Date.now() + READ_TIMEOUT_MS },
      );
      const parts: Buffer[] = [];
      let size = 0;
      const abort = () => call.cancel();
      signal.addEventListener('abort', abort, { once: true });
      call.on('data', (message: { data?: Uint8Array }) => {
        const data = Buffer.from(message.data ?? []);
        size += data.length;
        if (size > DEFAULT_MAX_MANIFEST_BYTES) call.cancel();
        else parts.push(data);
      });
      call.on('error', (error: grpc.ServiceError) => {
        signal.removeEventListener('abort', abort);
        if (error.code === GrpcCode.UNIMPLEMENTED) unsupported = true;
        resolve(undefined);
      });
      call.on('end', () => {
        signal.removeEventListener('abort', abort);
        const blob = Buffer.concat(parts);
        const parsed = parseDigest(digest);
        // Content that does not hash to its name is not trusted, wherever it comes from.
        resolve(typeof parsed !== 'string' && digestOf(blob, parsed.algorithm) === digest ? blob : undefined);
      });
    });

  const manifestOf = async (digest: string, signal: AbortSignal): Promise<ReadManifest> => {
    const bytes = await readBlob(digest, signal);
    if (bytes === undefined) throw new NotInContentStore(digest);
    try {
      return { digest, ...decodeManifest(bytes, '') };
    } catch {
      throw new NotInContentStore(digest);
    }
  };

  return {
    async imageAnnotations(digest, signal) {
      if (unsupported) return undefined;
      const byDigest = (d: string) => manifestOf(d, signal);
      try {
        return await readImageAnnotations(await byDigest(digest), byDigest, nodePlatform());
      } catch (error) {
        if (error instanceof NotInContentStore) return undefined;
        throw error;
      }
    },
    close() {
      reader?.client.close();
    },
  };
}
