import { criType } from '../cri/proto.js';

/** The parts of a CreateContainerRequest the injector judges, decoded once. */
export interface CreateContainerFacts {
  podSandboxId: string;
  containerName: string;
  podName: string;
  podNamespace: string;
  /** The image as kubelet names it to the runtime: the image id since kubelet 1.26, else a reference. */
  image: string;
  /** The pod's own image text (`nginx:1.25`), sent by kubelet 1.28 and later; '' when absent. */
  userSpecifiedImage: string;
  podAnnotations: Record<string, string>;
  /** `config.linux.security_context`, snake_case, enums as names; undefined when absent. */
  securityContext: LinuxContainerSecurityContext | undefined;
}

/** The decoded CRI LinuxContainerSecurityContext fields the injector reads. */
export interface LinuxContainerSecurityContext {
  privileged?: boolean;
  seccomp?: { profile_type?: string; localhost_ref?: string } | null;
  seccomp_profile_path?: string;
  capabilities?: {
    add_capabilities?: string[];
    drop_capabilities?: string[];
    add_ambient_capabilities?: string[];
  } | null;
}

interface DecodedRequest {
  pod_sandbox_id?: string;
  config?: {
    metadata?: { name?: string };
    image?: { image?: string; user_specified_image?: string };
    linux?: { security_context?: LinuxContainerSecurityContext };
  };
  sandbox_config?: {
    metadata?: { name?: string; namespace?: string };
    annotations?: Record<string, string>;
  };
}

/** Looked up once: every CreateContainer decodes with it. */
// Loaded with the first CreateContainer: parsing the CRI schema is not start-up work.
let createContainerRequest: ReturnType<typeof criType> | undefined;
const CREATE_CONTAINER_REQUEST = () => (createContainerRequest ??= criType('CreateContainerRequest'));

export function decodeCreateContainer(message: Buffer): CreateContainerFacts {
  const type = CREATE_CONTAINER_REQUEST();
  const decoded = type.toObject(type.decode(message), { enums: String, longs: Number }) as DecodedRequest;
  return {
    podSandboxId: decoded.pod_sandbox_id ?? '',
    containerName: decoded.config?.metadata?.name ?? '',
    podName: decoded.sandbox_config?.metadata?.name ?? '',
    podNamespace: decoded.sandbox_config?.metadata?.namespace ?? '',
    image: decoded.config?.image?.image ?? '',
    userSpecifiedImage: decoded.config?.image?.user_specified_image ?? '',
    podAnnotations: decoded.sandbox_config?.annotations ?? {},
    securityContext: decoded.config?.linux?.security_context,
  };
}

/**
 * The bytes to append to the original request so that the container loads `profilePath`.
 * Protobuf merges a repeated embedded message field and lets the last scalar win, so appending
 * changes exactly these fields and keeps every byte the caller sent, including fields our proto
 * does not know. Both the `seccomp` message and the deprecated path are set, so a runtime that
 * reads either sees the same profile.
 */
export function seccompOverride(profilePath: string, annotations: Record<string, string>): Buffer {
  const type = CREATE_CONTAINER_REQUEST();
  const override = type.fromObject({
    config: {
      annotations,
      linux: {
        security_context: {
          seccomp: { profile_type: 'Localhost', localhost_ref: profilePath },
          seccomp_profile_path: `localhost/${profilePath}`,
        },
      },
    },
  });
  return Buffer.from(type.encode(override).finish());
}
