import { resolveProfileAnnotation, SECCOMP_PROFILE_ANNOTATIONS } from '../annotations/index.js';
import type { InterceptDecision } from '../proxy/index.js';
import type { CreateContainerFacts } from './request.js';

/** What became of one CreateContainer call, as metrics count it. */
export type CreateContainerOutcome = 'applied' | 'no_annotation' | 'not_allowed' | 'not_considered' | 'rejected';

export interface Rejection {
  /** The CRI error word the message opens with (`ErrImagePull`, ...), or `other` when none fits. */
  reason: string;
  cause: unknown;
  /** True once an annotation applied: the profile could not be pulled, verified or converted. */
  profileApplies: boolean;
}

export interface InjectionObserver {
  createContainer(outcome: CreateContainerOutcome, rejection?: Rejection): void;
}

/**
 * No annotation applies: `not_allowed` when a pod annotation for this container exists but the
 * runtime handler does not allow it, `no_annotation` otherwise (image annotations are read only
 * for allowed handlers, so an image's alone counts as none).
 */
export function noProfile(observer: InjectionObserver | undefined, facts: CreateContainerFacts, decision: InterceptDecision): InterceptDecision {
  if (observer) {
    const wouldApply = resolveProfileAnnotation({
      containerName: facts.containerName,
      podAnnotations: facts.podAnnotations,
      allowed: SECCOMP_PROFILE_ANNOTATIONS,
    });
    observer.createContainer(wouldApply ? 'not_allowed' : 'no_annotation');
  }
  return decision;
}

export function rejected(
  observer: InjectionObserver | undefined,
  decision: InterceptDecision,
  cause: unknown,
  profileApplies: boolean,
): InterceptDecision {
  if (observer && decision.action === 'reject') {
    const word = /^([A-Z][A-Za-z]+): /.exec(decision.message)?.[1];
    observer.createContainer('rejected', { reason: word ?? 'other', cause, profileApplies });
  }
  return decision;
}
