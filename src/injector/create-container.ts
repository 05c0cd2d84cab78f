import type { CallInterceptor, InterceptDecision, InterceptedCall } from '../proxy/index.js';
import type { Logger } from '../log/logger.js';
import { bounded } from '../log/bounded.js';
import type { ShimSettings } from '../config/index.js';
import {
  annotationNameOf,
  foundAnnotationMessage,
  needsImageAnnotations,
  resolveProfileAnnotation,
  seccompGate,
  type AnnotationMatch,
} from '../annotations/index.js';
import { effectiveCapabilities } from '../seccomp/index.js';
import { decodeCreateContainer, seccompOverride, type CreateContainerFacts } from './request.js';
import { boundedError, rejectionFor } from './errors.js';
import type { ImageAnnotationSource, ProfilePreparer } from './ports.js';
import type { RuntimeQueries } from './runtime-queries.js';

export const CREATE_CONTAINER = '/runtime.v1.RuntimeService/CreateContainer';

/** The annotation the shim sets on a container it gave a profile: `REF@DIGEST` applied. */
export const APPLIED_PROFILE_ANNOTATION = 'seccomp-oci-shim.io/profile';

export interface CreateContainerInjectorDeps {
  settings: Pick<ShimSettings, 'defaultRuntime' | 'runtimes' | 'defaultCapabilities'>;
  runtime: Pick<RuntimeQueries, 'sandboxHandler'>;
  images: ImageAnnotationSource;
  profiles: ProfilePreparer;
  logger: Logger;
}

/**
 * CreateContainer, told once: decode the request, judge its annotations the way CRI-O does,
 * fetch and convert the profile, and forward the original bytes with a seccomp override appended.
 * Anything that goes wrong after an annotation applies fails the call: never a silent Unconfined.
 */
export function createContainerInjector(deps: CreateContainerInjectorDeps): CallInterceptor {
  return {
    methods: new Set([CREATE_CONTAINER]),
    intercept: (call) => injectSeccompProfile(deps, call),
  };
}

async function injectSeccompProfile(deps: CreateContainerInjectorDeps, call: InterceptedCall): Promise<InterceptDecision> {
  const unchanged: InterceptDecision = { action: 'forward', message: call.message };
  const facts = decodeCreateContainer(call.message);
  const log = deps.logger.child({
    id: call.requestId,
    name: call.method,
    container: bounded(facts.containerName),
    pod: bounded(`${facts.podNamespace}/${facts.podName}`),
  });

  const gate = seccompGate(facts.securityContext);
  if (!gate.apply) {
    log.debug({ reason: gate.reason }, 'Seccomp profile annotations not considered');
    // Said only where the pod asked for a profile: every privileged system pod would repeat it.
    if (gate.privileged && Object.keys(facts.podAnnotations).some((key) => annotationNameOf(key) !== undefined)) {
      log.info('Privileged container runs without seccomp: its seccomp profile annotation is ignored');
    }
    return unchanged;
  }

  let match: AnnotationMatch | undefined;
  try {
    match = await findAnnotation(deps, facts, call.signal);
  } catch (error) {
    log.error({ err: boundedError(error) }, 'Reading seccomp profile annotations failed');
    return rejectionFor(error, facts);
  }
  if (!match) return unchanged;

  const shown = { ...match, key: bounded(match.key), reference: bounded(match.reference) };
  log.info(foundAnnotationMessage(shown));
  log.info(`Pulling OCI artifact from ref: ${shown.reference}`);
  try {
    const capabilities = effectiveCapabilities(deps.settings.defaultCapabilities, facts.securityContext);
    const profile = await deps.profiles.prepare(match.reference, { capabilities }, call.signal);
    log.info(`Retrieved OCI artifact seccomp profile of len: ${profile.publishedLength}`);
    log.info({ profile: profile.path, digest: profile.manifestDigest }, 'Applying seccomp profile from OCI artifact');
    const applied = { [APPLIED_PROFILE_ANNOTATION]: `${match.reference}@${profile.manifestDigest}` };
    return { action: 'forward', message: Buffer.concat([call.message, seccompOverride(profile.path, applied)]) };
  } catch (error) {
    log.error({ err: boundedError(error), annotation: shown.key, ref: shown.reference }, 'Seccomp profile from OCI artifact could not be applied');
    return rejectionFor(error, facts, match);
  }
}

/** The annotation that applies, reading image annotations only when a pod annotation does not. */
async function findAnnotation(
  deps: CreateContainerInjectorDeps,
  facts: CreateContainerFacts,
  signal: AbortSignal,
): Promise<AnnotationMatch | undefined> {
  const handler = (await deps.runtime.sandboxHandler(facts.podSandboxId)) || deps.settings.defaultRuntime;
  const allowed = deps.settings.runtimes[handler]?.allowedAnnotations ?? [];
  if (allowed.length === 0) return undefined;
  const input = { containerName: facts.containerName, podAnnotations: facts.podAnnotations, allowed };
  if (!needsImageAnnotations(input)) return resolveProfileAnnotation(input);
  const imageAnnotations = await deps.images.annotationsOf(facts.image, signal);
  return resolveProfileAnnotation({ ...input, imageAnnotations });
}
