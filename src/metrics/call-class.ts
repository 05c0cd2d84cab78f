import { IMAGE_SERVICE, RUNTIME_SERVICE } from '../cri/proto.js';

export type CallClass = 'runtime' | 'image' | 'other';

const RUNTIME_PREFIX = `/${RUNTIME_SERVICE}/`;
const IMAGE_PREFIX = `/${IMAGE_SERVICE}/`;

/** The class a call's `:path` counts under: its CRI service, or `other` (a newer or foreign API). */
export function callClass(method: string): CallClass {
  if (method.startsWith(RUNTIME_PREFIX)) return 'runtime';
  if (method.startsWith(IMAGE_PREFIX)) return 'image';
  return 'other';
}
