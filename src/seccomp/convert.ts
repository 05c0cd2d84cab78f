import { parseProfile } from './parse-profile.js';
import { renderRuntimeSpecProfile } from './render.js';
import { toRuntimeSpec, type ConversionTarget } from './to-runtime-spec.js';

/**
 * The whole way from a published profile to the file the runtime loads: read and validate,
 * convert for the container, render. Pure and synchronous, so it can run on any thread.
 */
export function convertProfile(bytes: Uint8Array | string, source: string, target: ConversionTarget): Buffer {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return renderRuntimeSpecProfile(toRuntimeSpec(parseProfile(text, source), target, { source }));
}
