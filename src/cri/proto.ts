import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type protobuf from 'protobufjs';
import type * as ProtoLoader from '@grpc/proto-loader';
import type * as grpc from '@grpc/grpc-js';

// These three (CommonJS) are loaded on first use, not at start-up: the proxy speaks HTTP/2
// itself, and grpc-js alone takes longer to load than the rest of the shim.
const require = createRequire(import.meta.url);

/** @grpc/grpc-js, loaded on first use. */
export function grpcJs(): typeof grpc {
  return require('@grpc/grpc-js') as typeof grpc;
}

/** protobufjs, loaded on first use. */
export function protobufJs(): typeof protobuf {
  return require('protobufjs') as typeof protobuf;
}

/** Absolute path of the CRI v1 proto this project speaks (`proto/runtime/v1/api.proto`). */
const CRI_PROTO_PATH = fileURLToPath(new URL('../../proto/runtime/v1/api.proto', import.meta.url));

/** The two CRI services as they appear in a gRPC `:path`. */
export const RUNTIME_SERVICE = 'runtime.v1.RuntimeService';
export const IMAGE_SERVICE = 'runtime.v1.ImageService';

let root: protobuf.Root | undefined;

/** The CRI schema as protobufjs types with the proto's own snake_case names, loaded once. */
export function criRoot(): protobuf.Root {
  root ??= new (protobufJs().Root)().loadSync(CRI_PROTO_PATH, { keepCase: true });
  return root;
}

/** A CRI message type by its short name, such as `CreateContainerRequest`. */
export function criType(name: string): protobuf.Type {
  return criRoot().lookupType(`runtime.v1.${name}`);
}

let definition: grpc.GrpcObject | undefined;

function grpcDefinition(): grpc.GrpcObject {
  const protoLoader = require('@grpc/proto-loader') as typeof ProtoLoader;
  definition ??= grpcJs().loadPackageDefinition(
    protoLoader.loadSync(CRI_PROTO_PATH, { keepCase: true, longs: Number, enums: String, defaults: true }),
  );
  return definition;
}

/** gRPC service constructors for CRI v1, with snake_case fields, enums as names, longs as numbers. */
export function criServiceConstructors(): {
  RuntimeService: grpc.ServiceClientConstructor;
  ImageService: grpc.ServiceClientConstructor;
} {
  const v1 = (grpcDefinition().runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
  return {
    RuntimeService: v1.RuntimeService as grpc.ServiceClientConstructor,
    ImageService: v1.ImageService as grpc.ServiceClientConstructor,
  };
}

/** Turns `unix:///x`, `unix:/x` or a bare `/x` into the grpc-js target `unix:///x`. */
export function unixTarget(endpoint: string): string {
  return `unix://${unixSocketPath(endpoint)}`;
}

/** The filesystem path behind `unix:///x`, `unix:/x` or `/x`. */
export function unixSocketPath(endpoint: string): string {
  const withoutScheme = endpoint.startsWith('unix://')
    ? endpoint.slice('unix://'.length)
    : endpoint.startsWith('unix:')
      ? endpoint.slice('unix:'.length)
      : endpoint;
  if (!withoutScheme.startsWith('/')) {
    throw new Error(`endpoint "${endpoint}" is not an absolute unix socket path or unix:// URL`);
  }
  return path.normalize(withoutScheme);
}
