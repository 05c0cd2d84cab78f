import { ArtifactError, criErrorWord } from '../artifact/index.js';
import { SignatureError } from '../signature/errors.js';
import { ProfileError } from '../seccomp/index.js';
import type { AnnotationMatch } from '../annotations/index.js';
import { GrpcCode, type InterceptDecision } from '../proxy/index.js';
import { bounded, MAX_CAUSE_CHARS } from '../log/bounded.js';
import { ImageInspectError } from './image-annotations.js';
import type { CreateContainerFacts } from './request.js';

/**
 * The CRI error a failed injection becomes. kubelet shows the status message in the pod's
 * events, so it starts with a CRI/kubelet error word (kubelet classifies by it) and names the
 * container, the annotation and the cause, each bounded (see src/log/bounded.ts).
 */
export function rejectionFor(error: unknown, facts: CreateContainerFacts, match?: AnnotationMatch): InterceptDecision {
  const { word, code } = classify(error);
  const where = `container "${bounded(facts.containerName)}" in pod "${bounded(`${facts.podNamespace}/${facts.podName}`)}"`;
  const annotation = match ? `: seccomp profile annotation ${bounded(match.key)}=${bounded(match.reference)}` : ': reading seccomp profile annotations';
  const text = error instanceof Error ? error.message : String(error);
  // A cause that already opens with the word (signature errors do) is not told twice.
  const cause = bounded(text.startsWith(`${word}: `) ? text.slice(word.length + 2) : text, MAX_CAUSE_CHARS);
  return { action: 'reject', code, message: `${word}: ${where}${annotation}: ${cause}` };
}

/**
 * The word for each cause: the artifact's own (see criErrorWord); a published profile that is
 * not usable is an artifact that cannot be used, `ErrImagePull` as for a malformed artifact;
 * anything else (the node's disk, the runtime) is kubelet's `CreateContainerError`.
 */
function classify(error: unknown): { word: string; code: GrpcCode } {
  if (error instanceof SignatureError) return { word: 'SignatureValidationFailed', code: GrpcCode.PERMISSION_DENIED };
  if (error instanceof ArtifactError) {
    const word = criErrorWord(error.reason);
    switch (error.reason) {
      case 'RegistryUnavailable':
        return { word, code: GrpcCode.UNAVAILABLE };
      case 'NotFound':
        return { word, code: GrpcCode.NOT_FOUND };
      case 'Unauthorized':
        return { word, code: GrpcCode.PERMISSION_DENIED };
      default:
        return { word, code: GrpcCode.INVALID_ARGUMENT };
    }
  }
  if (error instanceof ImageInspectError) return { word: 'ImageInspectError', code: GrpcCode.FAILED_PRECONDITION };
  if (error instanceof ProfileError) return { word: 'ErrImagePull', code: GrpcCode.INVALID_ARGUMENT };
  return { word: 'CreateContainerError', code: GrpcCode.UNKNOWN };
}
