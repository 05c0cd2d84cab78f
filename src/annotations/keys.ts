/**
 * CRI-O's seccomp profile annotations. A key is the name alone (images only), the name with
 * `/POD` (every container of the pod) or the name with `/<container name>`.
 */

/** CRI-O's current name (pkg/annotations/v2 `SeccompProfile`), preferred when both are present. */
export const SECCOMP_PROFILE_ANNOTATION = 'seccomp-profile.crio.io';

/** The name CRI-O 1.30 introduced, still read after the current one (v2 `V1SeccompProfile`). */
export const SECCOMP_PROFILE_ANNOTATION_V1 = 'seccomp-profile.kubernetes.cri-o.io';

/** Both names, in the order CRI-O looks them up. */
export const SECCOMP_PROFILE_ANNOTATIONS: readonly string[] = Object.freeze([
  SECCOMP_PROFILE_ANNOTATION,
  SECCOMP_PROFILE_ANNOTATION_V1,
]);

/** The reserved suffix meaning "every container of the pod". */
export const POD_SUFFIX = 'POD';

/** `name` for an empty suffix, `name/suffix` otherwise. */
export function annotationKey(name: string, suffix: string): string {
  return suffix === '' ? name : `${name}/${suffix}`;
}

/** The annotation name a key belongs to, if it is one of the seccomp profile annotations. */
export function annotationNameOf(key: string): string | undefined {
  return SECCOMP_PROFILE_ANNOTATIONS.find((name) => key === name || key.startsWith(`${name}/`));
}
