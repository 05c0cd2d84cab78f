import { annotationNameOf } from './keys.js';
import type { AnnotationMatch } from './resolve.js';

/**
 * The line CRI-O logs when it finds the annotation, word for word, so logs of the two read alike:
 * container and image keys are printed whole, `/POD` and image `/<container>` keys by their name.
 */
export function foundAnnotationMessage(match: AnnotationMatch): string {
  const name = annotationNameOf(match.key) ?? match.key;
  const assignment = (key: string) => `${key}=${match.reference}`;
  if (match.source === 'pod') {
    return match.scope === 'container'
      ? `Found container specific seccomp profile annotation: ${assignment(match.key)}`
      : `Found pod specific seccomp profile annotation: ${assignment(name)}`;
  }
  switch (match.scope) {
    case 'image':
      return `Found image specific seccomp profile annotation: ${assignment(match.key)}`;
    case 'container':
      return `Found image specific seccomp profile annotation for container ${match.key.slice(name.length + 1)}: ${assignment(name)}`;
    case 'pod':
      return `Found image specific seccomp profile annotation for pod: ${assignment(name)}`;
  }
}
