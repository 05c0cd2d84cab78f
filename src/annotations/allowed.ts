import { SECCOMP_PROFILE_ANNOTATIONS } from './keys.js';

/**
 * Whether a runtime handler's `allowed_annotations` lets an annotation through, by CRI-O's rule:
 * every annotation name CRI-O knows and the list does not name is disallowed, and a key is dropped
 * when a disallowed name is a prefix of it. So listing `seccomp-profile.kubernetes.cri-o.io`
 * allows its `/POD` and `/<container>` forms, and each of the two names has to be listed for its
 * own keys: allowing one does not allow the other.
 *
 * Only the seccomp profile names are judged here; any other key is left alone (true), as CRI-O
 * leaves keys that no known name prefixes.
 */
export function isAnnotationAllowed(key: string, allowed: readonly string[]): boolean {
  return SECCOMP_PROFILE_ANNOTATIONS.every((name) => !key.startsWith(name) || allowed.includes(name));
}

/**
 * Whether any seccomp profile annotation could pass `allowed`: when not, neither pod nor image
 * annotations can choose a profile and image annotations need not be fetched.
 */
export function canAllowImageAnnotations(allowed: readonly string[]): boolean {
  return SECCOMP_PROFILE_ANNOTATIONS.some((name) => allowed.includes(name));
}
