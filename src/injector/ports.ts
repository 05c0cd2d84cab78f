import type { AppliedBaseline, Baseline } from './baselines.js';

/**
 * What the CreateContainer story needs from the rest of the shim, as small interfaces so the
 * story can be read (and tested) on its own. src/injector/wiring.ts binds them to the real pieces.
 */

/** A seccomp profile ready for this container: a runtime-spec file on the node. */
export interface PreparedProfile {
  /** Absolute path of the runtime-spec JSON the runtime will load. */
  path: string;
  /** The artifact manifest digest the profile came from. */
  manifestDigest: string;
  /** Length of the profile as published (the layer), as CRI-O logs it. */
  publishedLength: number;
  /** `REF@DIGEST` of every profile applied, the annotated one first, then its SPO base profiles, comma-separated. */
  applied: string;
  /** Set when the profile is the artifact's intersected with the handler's baseline. */
  baseline?: AppliedBaseline;
}

export interface ContainerTarget {
  /** Effective capabilities of the container, `CAP_*` names. */
  capabilities: string[];
  /** The runtime handler's baseline: the profile written is the intersection with it. */
  baseline?: Baseline;
}

export interface ProfilePreparer {
  /** Pulls, verifies, validates and converts the profile a reference names, for one container. */
  prepare(reference: string, target: ContainerTarget, signal: AbortSignal): Promise<PreparedProfile>;
}

/** The container's image as CreateContainer names it. */
export interface ContainerImage {
  /** `config.image.image`: the image id kubelet resolved, or a reference. */
  image: string;
  /** `config.image.user_specified_image`: the pod's text; '' when kubelet did not send it. */
  userSpecifiedImage: string;
}

export interface ImageAnnotationSource {
  /**
   * Annotations of exactly the manifest (and its index) the pod named, never those of another
   * image that shares its id. Throws when that manifest cannot be told apart from siblings.
   */
  annotationsOf(image: ContainerImage, signal: AbortSignal): Promise<Record<string, string>>;
}
