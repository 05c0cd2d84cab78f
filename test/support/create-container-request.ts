import { criType } from '../../src/cri/proto.js';

export interface CreateContainerRequestOptions {
  podAnnotations?: Record<string, string>;
  /** `linux.security_context`; null for a request without one; Unconfined by default. */
  securityContext?: Record<string, unknown> | null;
  /** `image.image`: the image id kubelet resolved. */
  image?: string;
  podSandboxId?: string;
}

/**
 * A CreateContainerRequest's bytes for the injector's unit tests, shaped as kubelet 1.28+ sends
 * it: the image id in `image`, the pod's own text in `user_specified_image`.
 */
export function createContainerRequest(options: CreateContainerRequestOptions = {}): Buffer {
  const type = criType('CreateContainerRequest');
  const linux = options.securityContext === null ? {} : { security_context: options.securityContext ?? { seccomp: { profile_type: 'Unconfined' } } };
  return Buffer.from(
    type
      .encode(
        type.fromObject({
          pod_sandbox_id: options.podSandboxId ?? 'sandbox-1',
          config: { metadata: { name: 'app' }, image: { image: options.image ?? 'sha256:image', user_specified_image: 'registry.example/app:v1' }, linux },
          sandbox_config: { metadata: { name: 'web', namespace: 'prod' }, annotations: options.podAnnotations ?? {} },
        }),
      )
      .finish(),
  );
}

/** One sample's value from the Prometheus text format, or undefined when the series is absent. */
export function metricSample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
