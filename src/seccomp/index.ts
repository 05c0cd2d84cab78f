export { parseProfile } from './parse-profile.js';
export { ProfileError, ROOT_PATH, type TextPosition } from './profile-error.js';
export { toRuntimeSpec, type ConversionOptions, type ConversionTarget } from './to-runtime-spec.js';
export { renderRuntimeSpecProfile } from './render.js';
export { convertProfile } from './convert.js';
export {
  ALL_CAPABILITIES,
  CONTAINERD_DEFAULT_CAPABILITIES,
  CRIO_DEFAULT_CAPABILITIES,
  effectiveCapabilities,
  normalizeCapability,
  type CapabilityOptions,
  type CriCapability,
  type CriCapabilitySecurityContext,
} from './capabilities.js';
export { archMapKey, libseccompArchName } from './arch.js';
export { errnoNumber, knownErrnoNames, MAX_ERRNO, MIN_ERRNO } from './errno.js';
export { kernelAtLeast, parseKernelVersion, type KernelVersion } from './kernel-version.js';
export { JsonNumber, JsonSyntaxError, readJson, type JsonObject, type JsonValue } from './json-reader.js';
export * from './types.js';
