import { ArtifactError, criErrorWord } from '../artifact/index.js';
import { SignatureError } from '../signature/errors.js';
import { ProfileError } from '../seccomp/index.js';
import type { AnnotationMatch } from '../annotations/index.js';
import type { InterceptDecision } from '../proxy/index.js';
import { bounded, MAX_CAUSE_CHARS } from '../log/bounded.js';
import type { CreateContainerFacts } from './request.js';

/** The gRPC status codes a rejection uses (grpc-js itself is not loaded for five numbers). */
const status = { UNKNOWN: 2, INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, UNAVAILABLE: 14 } as const;
type StatusCode = (typeof status)[keyof typeof status];

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

/** An error as a log field, its message bounded like a rejection's cause. */
export function boundedError(error: unknown): { type: string; message: string } {
  if (!(error instanceof Error)) return { type: typeof error, message: bounded(String(error), MAX_CAUSE_CHARS) };
  return { type: error.name, message: bounded(error.message, MAX_CAUSE_CHARS) };
}

/**
 * The word for each cause: the artifact's own (see criErrorWord); a published profile that is
 * not usable is an artifact that cannot be used, `ErrImagePull` as for a malformed artifact;
 * anything else (the node's disk, the runtime) is kubelet's `CreateContainerError`.
 */
function classify(error: unknown): { word: string; code: StatusCode } {
  if (error instanceof SignatureError) return { word: 'SignatureValidationFailed', code: status.PERMISSION_DENIED };
  if (error instanceof ArtifactError) {
    const word = criErrorWord(error.reason);
    switch (error.reason) {
      case 'RegistryUnavailable':
        return { word, code: status.UNAVAILABLE };
      case 'NotFound':
        return { word, code: status.NOT_FOUND };
      case 'Unauthorized':
        return { word, code: status.PERMISSION_DENIED };
      default:
        return { word, code: status.INVALID_ARGUMENT };
    }
  }
  if (error instanceof ProfileError) return { word: 'ErrImagePull', code: status.INVALID_ARGUMENT };
  return { word: 'CreateContainerError', code: status.UNKNOWN };
}
