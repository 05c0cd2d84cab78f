import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { grpcJs, protobufJs, unixTarget } from '../cri/proto.js';
import { GrpcCode } from '../proxy/index.js';
import { CRI_NAMESPACE } from './containerd-content.js';

const IMAGES_PROTO = fileURLToPath(new URL('../../proto/containerd/services/images/v1/images.proto', import.meta.url));
const GET_METHOD = '/containerd.services.images.v1.Images/Get';
const GET_TIMEOUT_MS = 10_000;

/** Where an image name points on this node: the manifest or index it was pulled as. */
export interface ImageTarget {
  digest: string;
  mediaType: string;
}

export interface LocalImageNames {
  /**
   * The target a fully qualified image name (`registry/repo:tag`) has in the runtime's image
   * store; undefined when the store has no such name or the runtime has no such store (CRI-O).
   */
  targetOf(name: string, signal: AbortSignal): Promise<ImageTarget | undefined>;
  close(): void;
}

/**
 * Image names read from containerd's images service, over the socket that serves CRI. The record
 * is what the node pulled: a tag re-pointed in the registry since changes nothing here until the
 * node pulls it again, and then the container runs the new image too.
 */
export function createContainerdImageNames(runtimeEndpoint: string): LocalImageNames {
  // The schema, grpc-js and the connection come with the first lookup, not at start-up.
  let reader: { client: grpc.Client; requestType: protobuf.Type; responseType: protobuf.Type } | undefined;
  const connected = () => {
    if (reader) return reader;
    const grpc = grpcJs();
    const root = new (protobufJs().Root)().loadSync(IMAGES_PROTO, { keepCase: true });
    reader = {
      client: new grpc.Client(unixTarget(runtimeEndpoint), grpc.credentials.createInsecure()),
      requestType: root.lookupType('containerd.services.images.v1.GetImageRequest'),
      responseType: root.lookupType('containerd.services.images.v1.GetImageResponse'),
    };
    return reader;
  };
  let unsupported = false;

  type Answer = { image?: { target?: { digest?: string; media_type?: string } } };
  const get = (name: string, signal: AbortSignal): Promise<ImageTarget | undefined> =>
    new Promise((resolve, reject) => {
      const grpc = grpcJs();
      const { client, requestType, responseType } = connected();
      const metadata = new grpc.Metadata();
      metadata.set('containerd-namespace', CRI_NAMESPACE);
      const call = client.makeUnaryRequest(
        GET_METHOD,
        (request: object) => Buffer.from(requestType.encode(requestType.fromObject(request)).finish()),
        (bytes: Buffer) => responseType.toObject(responseType.decode(bytes)) as Answer,
        { name },
        metadata,
        { deadline: Date.now() + GET_TIMEOUT_MS },
        (error, answer) => {
          signal.removeEventListener('abort', abort);
          if (error) {
            if (error.code === GrpcCode.UNIMPLEMENTED) unsupported = true;
            if (error.code === GrpcCode.NOT_FOUND || error.code === GrpcCode.UNIMPLEMENTED) resolve(undefined);
            else reject(new Error(`reading image ${name} from the runtime's image store: ${error.details || error.message}`));
            return;
          }
          const target = answer?.image?.target;
          resolve(target?.digest ? { digest: target.digest, mediaType: target.media_type ?? '' } : undefined);
        },
      );
      const abort = () => call.cancel();
      signal.addEventListener('abort', abort, { once: true });
    });

  return {
    async targetOf(name, signal) {
      if (unsupported) return undefined;
      return get(name, signal);
    },
    close() {
      reader?.client.close();
    },
  };
}
