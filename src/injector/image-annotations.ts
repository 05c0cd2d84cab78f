import { parseReference, type Reference } from '../artifact/index.js';
import { annotationNameOf } from '../annotations/index.js';
import type { Logger } from '../log/logger.js';
import type { LocalImageNames } from './containerd-images.js';
import type { ImageManifestFacts, ManifestFacts } from './image-manifests.js';
import type { ContainerImage, ImageAnnotationSource } from './ports.js';
import type { RuntimeQueries } from './runtime-queries.js';

/**
 * The image's manifest cannot be told apart from others kept under the same image id: CRI's
 * `ImageInspectError`, and the container fails rather than run with a sibling's profile (or none).
 */
export class ImageInspectError extends Error {
  override readonly name = 'ImageInspectError';
}

/** The seccomp profile annotations among an image's annotations; the rest never decides anything. */
function seccompAnnotations(annotations: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations).filter(([key]) => annotationNameOf(key) !== undefined));
}

function sameAnnotations(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/** `sha256:<hex>` and CRI-O's bare `<hex>` name one image id. */
function idHex(id: string): string {
  return id.slice(id.indexOf(':') + 1);
}

function repositoryOf(reference: Reference): string {
  return `${reference.registry}/${reference.repository}`;
}

function parsedOrUndefined(text: string): Reference | undefined {
  try {
    return parseReference(text);
  } catch {
    return undefined;
  }
}

/**
 * Image annotations of exactly the manifest the pod named. containerd keeps images that share a
 * config under one image id, and CreateContainer names the image by that id, so the id alone
 * cannot say which of the manifests kept under it the pod asked for:
 * - with `user_specified_image` (kubelet 1.28+) the pod's own text is resolved: a digest is that
 *   manifest; a tag is what the tag points to on this node (containerd's image store), or the one
 *   manifest of that repository the runtime keeps for the id (CRI-O);
 * - otherwise, or when that name leads to no manifest of the image that runs, the manifests kept
 *   for the id must agree on their seccomp annotations, or the container fails. Never a guess.
 */
export function createImageAnnotationSource(
  runtime: Pick<RuntimeQueries, 'imageStatus'>,
  names: Pick<LocalImageNames, 'targetOf'>,
  manifests: ImageManifestFacts,
  logger: Logger,
): ImageAnnotationSource {
  /** The `repo@digest` the pod's image text names on this node, if it can be told. */
  async function namedManifest(text: string, repoDigests: string[], signal: AbortSignal): Promise<string | undefined> {
    const reference = parsedOrUndefined(text);
    if (reference === undefined) return undefined;
    const repository = repositoryOf(reference);
    if (reference.digest !== undefined) return `${repository}@${reference.digest}`;
    let target;
    try {
      target = await names.targetOf(`${repository}:${reference.tag ?? 'latest'}`, signal);
    } catch (error) {
      throw new ImageInspectError(`reading which manifest image "${text}" is on this node: ${(error as Error).message}`, { cause: error });
    }
    if (target !== undefined) return `${repository}@${target.digest}`;
    const sameRepository = repoDigests.filter((repoDigest) => {
      const parsed = parsedOrUndefined(repoDigest);
      return parsed !== undefined && repositoryOf(parsed) === repository;
    });
    return sameRepository.length === 1 ? sameRepository[0] : undefined;
  }

  /** The seccomp annotations every manifest kept for the image id agrees on; throws when they differ. */
  async function agreed(image: ContainerImage, repoDigests: string[], signal: AbortSignal): Promise<Record<string, string>> {
    const read = await Promise.all(repoDigests.map(async (repoDigest) => ({ repoDigest, facts: await manifests.of(repoDigest, signal) })));
    const first = read[0];
    if (first === undefined) return {};
    const wanted = seccompAnnotations(first.facts.annotations);
    const disagreeing = read.filter(({ facts }) => !sameAnnotations(wanted, seccompAnnotations(facts.annotations)));
    if (disagreeing.length === 0) return wanted;
    const told = read.map(({ repoDigest, facts }) => `${repoDigest} ${JSON.stringify(seccompAnnotations(facts.annotations))}`).join('; ');
    const named = image.userSpecifiedImage
      ? `the pod's image "${image.userSpecifiedImage}" names none of them on this node`
      : 'CreateContainer names only the image id (kubelet before 1.28 sends no user_specified_image)';
    throw new ImageInspectError(
      `image ${image.image} is kept for several manifests whose seccomp profile annotations differ (${told}), and ${named}; ` +
        'set the profile with a pod annotation, or run kubelet 1.28 or later',
    );
  }

  return {
    async annotationsOf(image, signal) {
      const record = await runtime.imageStatus(image.image);
      if (image.userSpecifiedImage !== '') {
        const named = await namedManifest(image.userSpecifiedImage, record.repoDigests, signal);
        if (named !== undefined) {
          const facts: ManifestFacts = await manifests.of(named, signal);
          // The name may have moved on since kubelet resolved it to the id (a pull in between):
          // what it names now is then not what this container runs.
          if (record.id === '' || (facts.configDigest !== undefined && idHex(facts.configDigest) === idHex(record.id))) {
            return facts.annotations;
          }
          logger.warn({ image: image.image, userSpecifiedImage: image.userSpecifiedImage, manifest: named }, 'The pod\'s image name points to another image than the one the container runs');
        }
      }
      return agreed(image, record.repoDigests, signal);
    },
  };
}
