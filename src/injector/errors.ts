import { ArtifactError, criErrorWord } from '../artifact/index.js';
import { SignatureError } from '../signature/index.js';
import { ProfileError } from '../seccomp/index.js';
import type { AnnotationMatch } from '../annotations/index.js';
import { GrpcCode, type InterceptDecision } from '../proxy/index.js';
import { ImageInspectError } from './image-annotations.js';
import type { CreateContainerFacts } from './request.js';

/**
 * The CRI error a failed injection becomes. kubelet shows the status message in the pod's
 * events, so it starts with CRI's well-known error word where one fits (kubelet classifies by
 * it) and names the container, the annotation and the cause.
 */
export function rejectionFor(error: unknown, facts: CreateContainerFacts, match?: AnnotationMatch): InterceptDecision {
  const { word, code } = classify(error);
  const where = `container "${facts.containerName}" in pod "${facts.podNamespace}/${facts.podName}"`;
  const annotation = match ? `: seccomp profile annotation ${match.key}=${match.reference}` : ': reading seccomp profile annotations';
  const text = error instanceof Error ? error.message : String(error);
  // A cause that already opens with the word (signature errors do) is not told twice.
  const cause = word && text.startsWith(`${word}: `) ? text.slice(word.length + 2) : text;
  return { action: 'reject', code, message: `${word ? `${word}: ` : ''}${where}${annotation}: ${cause}` };
}

function classify(error: unknown): { word?: string; code: GrpcCode } {
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
  if (error instanceof ProfileError) return { code: GrpcCode.INVALID_ARGUMENT };
  return { code: GrpcCode.UNKNOWN };
}
