export {
  annotationKey,
  annotationNameOf,
  POD_SUFFIX,
  SECCOMP_PROFILE_ANNOTATION,
  SECCOMP_PROFILE_ANNOTATION_V1,
  SECCOMP_PROFILE_ANNOTATIONS,
} from './keys.js';
export { canAllowImageAnnotations, isAnnotationAllowed } from './allowed.js';
export {
  needsImageAnnotations,
  resolveProfileAnnotation,
  type AnnotationInput,
  type AnnotationMatch,
} from './resolve.js';
export { foundAnnotationMessage } from './log-message.js';
export { asksForRuntimeDefault, seccompGate, type CriSeccompSecurityContext, type CriSecurityProfile, type SeccompGate } from './gate.js';
