import { ArtifactError } from './errors.js';
import { parseDigest } from './digest.js';

/** An OCI content descriptor (image-spec descriptor.md), checked. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
}

function invalid(where: string, why: string): ArtifactError {
  return new ArtifactError('InvalidArtifact', `${where}: ${why}`);
}

function stringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(where, 'annotations must be an object');
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(where, `annotation "${key}" must be a string`);
  }
  return value as Record<string, string>;
}

/** Checks one descriptor from a manifest; `where` names it in errors ("layers[0]"). */
export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(where, 'not an object');
  const raw = value as Record<string, unknown>;
  if (typeof raw.mediaType !== 'string' || raw.mediaType === '') throw invalid(where, 'mediaType missing');
  if (typeof raw.digest !== 'string') throw invalid(where, 'digest missing');
  const digest = parseDigest(raw.digest);
  if (typeof digest === 'string') throw invalid(where, `digest "${raw.digest}": ${digest}`);
  if (typeof raw.size !== 'number' || !Number.isSafeInteger(raw.size) || raw.size < 0) throw invalid(where, 'size must be a non-negative integer');
  const descriptor: Descriptor = { mediaType: raw.mediaType, digest: raw.digest, size: raw.size };
  const annotations = stringMap(raw.annotations, where);
  if (annotations) descriptor.annotations = annotations;
  if (typeof raw.artifactType === 'string') descriptor.artifactType = raw.artifactType;
  if (typeof raw.platform === 'object' && raw.platform !== null) {
    const p = raw.platform as Record<string, unknown>;
    descriptor.platform = {};
    if (typeof p.os === 'string') descriptor.platform.os = p.os;
    if (typeof p.architecture === 'string') descriptor.platform.architecture = p.architecture;
    if (typeof p.variant === 'string') descriptor.platform.variant = p.variant;
  }
  return descriptor;
}

/** A manifest or index's JSON object, checked for what every kind shares. */
export interface ParsedManifest {
  mediaType: string;
  schemaVersion: number;
  artifactType?: string;
  config?: Descriptor;
  layers: Descriptor[];
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations: Record<string, string>;
}

/** Checks the fields this client reads, leaving the rest of the document alone. */
export function parseManifestJson(json: unknown, mediaType: string): ParsedManifest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('manifest', 'not a JSON object');
  const raw = json as Record<string, unknown>;
  if (raw.schemaVersion !== 2) throw invalid('manifest', `schemaVersion ${JSON.stringify(raw.schemaVersion)} is not 2`);
  const list = (field: 'layers' | 'manifests'): Descriptor[] => {
    const value = raw[field];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw invalid('manifest', `${field} must be an array`);
    return value.map((item, i) => parseDescriptor(item, `${field}[${i}]`));
  };
  const parsed: ParsedManifest = {
    mediaType,
    schemaVersion: 2,
    layers: list('layers'),
    manifests: list('manifests'),
    annotations: stringMap(raw.annotations, 'manifest') ?? {},
  };
  if (raw.config !== undefined) parsed.config = parseDescriptor(raw.config, 'config');
  if (raw.subject !== undefined) parsed.subject = parseDescriptor(raw.subject, 'subject');
  if (typeof raw.artifactType === 'string') parsed.artifactType = raw.artifactType;
  return parsed;
}
