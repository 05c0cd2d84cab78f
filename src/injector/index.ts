export { createInjector, artifactClientFor, signatureVerifierFor, type Injector } from './wiring.js';
export { pullVerified } from './prepare-profile.js';
export { APPLIED_PROFILE_ANNOTATION, CREATE_CONTAINER, createContainerInjector } from './create-container.js';
