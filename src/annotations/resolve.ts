import { canAllowImageAnnotations, isAnnotationAllowed } from './allowed.js';
import { annotationKey, POD_SUFFIX, SECCOMP_PROFILE_ANNOTATIONS } from './keys.js';

/** Where the annotation was found and whom it addresses. */
export interface AnnotationMatch {
  /** The key as found, e.g. `seccomp-profile.kubernetes.cri-o.io/POD`. */
  key: string;
  /** Its value: the OCI reference of the profile artifact. */
  reference: string;
  source: 'pod' | 'image';
  /** `container`: `/<name>`; `pod`: `/POD`; `image`: the bare name on an image. */
  scope: 'container' | 'pod' | 'image';
}

export interface AnnotationInput {
  /** The container's name from its metadata (the Kubernetes container name). */
  containerName: string;
  /** The pod sandbox's annotations. */
  podAnnotations: Readonly<Record<string, string>>;
  /** The image manifest's annotations; absent when not fetched. */
  imageAnnotations?: Readonly<Record<string, string>> | null;
  /** The runtime handler's allowed_annotations (with the workload's, if any). */
  allowed: readonly string[];
}

interface Step {
  source: AnnotationMatch['source'];
  scope: AnnotationMatch['scope'];
  suffix: string;
}

/** CRI-O's order (seccompociartifact.TryPull); the first key present decides. */
function steps(containerName: string): Step[] {
  return [
    { source: 'pod', scope: 'container', suffix: containerName },
    { source: 'pod', scope: 'pod', suffix: POD_SUFFIX },
    { source: 'image', scope: 'image', suffix: '' },
    { source: 'image', scope: 'container', suffix: containerName },
    { source: 'image', scope: 'pod', suffix: POD_SUFFIX },
  ];
}

type Found = { match: AnnotationMatch } | { decidedEmpty: true } | undefined;

function find(input: AnnotationInput, stepsToTry: Step[]): Found {
  for (const step of stepsToTry) {
    const annotations = step.source === 'pod' ? input.podAnnotations : input.imageAnnotations;
    if (!annotations) continue;
    // Within a step the current name is looked up before the 1.30 one. Disallowed keys are
    // invisible: CRI-O deletes them before it resolves.
    for (const name of SECCOMP_PROFILE_ANNOTATIONS) {
      const key = annotationKey(name, step.suffix);
      if (!Object.hasOwn(annotations, key) || !isAnnotationAllowed(key, input.allowed)) continue;
      const reference = annotations[key] as string;
      // CRI-O stops at the first key present; an empty value then means no profile at all.
      if (reference === '') return { decidedEmpty: true };
      return { match: { key, reference, source: step.source, scope: step.scope } };
    }
  }
  return undefined;
}

/**
 * The seccomp profile annotation CRI-O would follow for this container, or undefined: pod
 * annotation for the container, pod annotation `/POD`, image annotation without suffix, image
 * annotation for the container, image annotation `/POD`. An annotation naming another container
 * does nothing. Whether the container may take a profile at all is seccompGate's question.
 */
export function resolveProfileAnnotation(input: AnnotationInput): AnnotationMatch | undefined {
  const found = find(input, steps(input.containerName));
  return found && 'match' in found ? found.match : undefined;
}

/**
 * Whether the image's annotations could still decide: no allowed pod annotation settles the
 * question (one with an empty value settles it too, on "no profile") and some seccomp
 * annotation name is allowed. When false, the caller need not fetch image annotations.
 */
export function needsImageAnnotations(input: Omit<AnnotationInput, 'imageAnnotations'>): boolean {
  const podSteps = steps(input.containerName).filter((step) => step.source === 'pod');
  return canAllowImageAnnotations(input.allowed) && find(input, podSteps) === undefined;
}
