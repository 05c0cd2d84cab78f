import type { CallInterceptor, InterceptDecision, InterceptedCall } from '../proxy/index.js';
import { errorText, type Logger } from '../log/logger.js';
import { bounded, MAX_CAUSE_CHARS } from '../log/bounded.js';
import type { ShimSettings } from '../config/index.js';
import {
  annotationNameOf,
  asksForRuntimeDefault,
  foundAnnotationMessage,
  needsImageAnnotations,
  resolveProfileAnnotation,
  seccompGate,
  type AnnotationMatch,
} from '../annotations/index.js';
import { effectiveCapabilities } from '../seccomp/index.js';
import { decodeCreateContainer, seccompOverride, type CreateContainerFacts } from './request.js';
import { rejectionFor } from './errors.js';
import { noProfile, rejected, type InjectionObserver } from './outcome.js';
import type { ImageAnnotationSource, ProfilePreparer } from './ports.js';
import type { RuntimeQueries } from './runtime-queries.js';
import { baselineMessage, type Baseline } from './baselines.js';

export const CREATE_CONTAINER = '/runtime.v1.RuntimeService/CreateContainer';

/** The annotation the shim sets on a container it gave a profile: `REF@DIGEST` applied, then `,BASE@DIGEST` for each SPO base profile stacked under it. */
export const APPLIED_PROFILE_ANNOTATION = 'seccomp-oci-shim.io/profile';

/** Set beside it when the profile is the intersection with a baseline: `FILE@sha256:...`. */
export const APPLIED_BASELINE_ANNOTATION = 'seccomp-oci-shim.io/baseline';

export interface CreateContainerInjectorDeps {
  settings: Pick<ShimSettings, 'defaultRuntime' | 'runtimes' | 'defaultCapabilities'>;
  runtime: Pick<RuntimeQueries, 'sandboxHandler'>;
  images: ImageAnnotationSource;
  profiles: ProfilePreparer;
  logger: Logger;
  /** Each runtime handler's `baseline_profile`, read at start-up (see loadBaselines). */
  baselines?: ReadonlyMap<string, Baseline>;
  observer?: InjectionObserver;
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
  const runtimeDefault = !gate.apply && runtimeDefaultMayApply(deps) && asksForRuntimeDefault(facts.securityContext);
  if (!gate.apply && !runtimeDefault) {
    log.debug({ reason: gate.reason }, 'Seccomp profile annotations not considered');
    // Said only where the pod asked for a profile: every privileged system pod would repeat it.
    if (gate.privileged && Object.keys(facts.podAnnotations).some((key) => annotationNameOf(key) !== undefined)) {
      log.info('Privileged container runs without seccomp: its seccomp profile annotation is ignored');
    }
    deps.observer?.createContainer('not_considered');
    return unchanged;
  }

  let match: AnnotationMatch | undefined;
  let handler: string;
  try {
    ({ match, handler } = await findAnnotation(deps, facts, call.signal, runtimeDefault));
  } catch (error) {
    log.error({ err: bounded(errorText(error), MAX_CAUSE_CHARS) }, 'Reading seccomp profile annotations failed');
    return rejected(deps.observer, rejectionFor(error, facts), error, false);
  }
  if (!match) return noProfile(deps.observer, facts, unchanged);

  const shown = { ...match, key: bounded(match.key), reference: bounded(match.reference) };
  log.info(foundAnnotationMessage(shown));
  log.info(`Pulling OCI artifact from ref: ${shown.reference}`);
  try {
    const capabilities = effectiveCapabilities(deps.settings.defaultCapabilities, facts.securityContext);
    const baseline = deps.baselines?.get(handler);
    const profile = await deps.profiles.prepare(match.reference, { capabilities, ...(baseline ? { baseline } : {}) }, call.signal);
    log.info(`Retrieved OCI artifact seccomp profile of len: ${profile.publishedLength}`);
    if (profile.baseline) {
      const said = baselineMessage(profile.baseline);
      log[said.level](said.fields, said.message);
    }
    log.info({ profile: profile.path, digest: profile.manifestDigest, chain: profile.applied }, 'Applying seccomp profile from OCI artifact');
    const applied = {
      [APPLIED_PROFILE_ANNOTATION]: profile.applied,
      ...(profile.baseline ? { [APPLIED_BASELINE_ANNOTATION]: `${profile.baseline.file}@${profile.baseline.digest}` } : {}),
    };
    deps.observer?.createContainer('applied');
    return { action: 'forward', message: Buffer.concat([call.message, seccompOverride(profile.path, applied)]) };
  } catch (error) {
    log.error({ err: bounded(errorText(error), MAX_CAUSE_CHARS), annotation: shown.key, ref: shown.reference }, 'Seccomp profile from OCI artifact could not be applied');
    return rejected(deps.observer, rejectionFor(error, facts, match), error, true);
  }
}

/** Whether some handler lets RuntimeDefault containers take an annotation: else none is asked. */
function runtimeDefaultMayApply(deps: CreateContainerInjectorDeps): boolean {
  return Object.values(deps.settings.runtimes).some((runtime) => runtime.applyToRuntimeDefault);
}

/**
 * The annotation that applies, reading image annotations only when a pod annotation does not.
 * A RuntimeDefault container (`runtimeDefault`) looks only where its handler allows that.
 */
async function findAnnotation(
  deps: CreateContainerInjectorDeps,
  facts: CreateContainerFacts,
  signal: AbortSignal,
  runtimeDefault: boolean,
): Promise<{ match: AnnotationMatch | undefined; handler: string }> {
  const handler = (await deps.runtime.sandboxHandler(facts.podSandboxId)) || deps.settings.defaultRuntime;
  const runtime = deps.settings.runtimes[handler];
  const allowed = runtime?.allowedAnnotations ?? [];
  if (allowed.length === 0 || (runtimeDefault && !runtime?.applyToRuntimeDefault)) return { match: undefined, handler };
  const input = { containerName: facts.containerName, podAnnotations: facts.podAnnotations, allowed };
  if (!needsImageAnnotations(input)) return { match: resolveProfileAnnotation(input), handler };
  const imageAnnotations = await deps.images.annotationsOf({ image: facts.image, userSpecifiedImage: facts.userSpecifiedImage }, signal);
  return { match: resolveProfileAnnotation({ ...input, imageAnnotations }), handler };
}
