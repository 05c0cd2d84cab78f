import { parseManifestJson, type ParsedManifest } from './descriptor.js';
import { ArtifactError } from './errors.js';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from './media-types.js';

const KNOWN_MANIFEST_TYPES = new Set([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST]);

/** Parses manifest bytes; the media type is the document's own, else the Content-Type it came with. */
export function decodeManifest(bytes: Buffer, contentType: string): { json: unknown; mediaType: string; manifest: ParsedManifest } {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ArtifactError('InvalidArtifact', `manifest is not JSON (Content-Type "${contentType || 'none'}")`);
  }
  const declared = (json as { mediaType?: unknown } | null)?.mediaType;
  let mediaType = typeof declared === 'string' && declared !== '' ? declared : contentType;
  // The OCI spec lets `mediaType` be omitted; then the shape tells, as containers/image guesses it.
  if (!KNOWN_MANIFEST_TYPES.has(mediaType) && typeof json === 'object' && json !== null && declared === undefined) {
    if (Array.isArray((json as { manifests?: unknown }).manifests)) mediaType = OCI_INDEX;
    else if ((json as { config?: unknown }).config !== undefined) mediaType = OCI_MANIFEST;
  }
  if (!KNOWN_MANIFEST_TYPES.has(mediaType)) throw new ArtifactError('InvalidArtifact', `unsupported manifest media type "${mediaType}"`);
  return { json, mediaType, manifest: parseManifestJson(json, mediaType) };
}

/** Media type without parameters: `application/json; charset=utf-8` → `application/json`. */
export function bareMediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}
