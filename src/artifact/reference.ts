import { ArtifactError } from './errors.js';
import { bounded } from '../log/bounded.js';
import { parseDigest } from './digest.js';

/**
 * An image or artifact reference after Docker's normalization (distribution/reference's
 * ParseNormalizedNamed): `ubuntu` is `docker.io/library/ubuntu:latest`.
 */
export interface Reference {
  /** The registry as named, normalized: `docker.io`, `localhost:5000`, `127.0.0.1:5000`. */
  registry: string;
  /** The repository path inside the registry: `library/ubuntu`. */
  repository: string;
  /** The tag; `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** The digest; when present it is what is fetched, the tag is informational. */
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const MAX_NAME_LENGTH = 255;

// The grammar of distribution/reference (reference.go), written out as regular expressions.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domain = `(?:${domainName}|${ipv6})(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const name = `(?:${domain}/)?${pathComponent}(?:/${pathComponent})*`;
const REFERENCE = new RegExp(`^(${name})(?::(${tag}))?(?:@(${digest}))?$`);
const DOMAIN = new RegExp(`^${domain}$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;

function invalid(input: string, why: string): ArtifactError {
  return new ArtifactError('InvalidReference', `invalid reference "${bounded(input)}": ${why}`);
}

/** Splits off the registry the way Docker does: a first component with `.` or `:`, `localhost`, or an uppercase letter names a registry. */
function splitRegistry(input: string): [registry: string, rest: string] {
  const slash = input.indexOf('/');
  const first = slash < 0 ? '' : input.slice(0, slash);
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    return [DOCKER_HUB, input];
  }
  return [first === 'index.docker.io' ? DOCKER_HUB : first, input.slice(slash + 1)];
}

/** Parses and normalizes a reference; throws `ArtifactError('InvalidReference')` quoting the input. */
export function parseReference(input: string): Reference {
  if (input === '') throw invalid(input, 'empty reference');
  if (IDENTIFIER.test(input)) throw invalid(input, 'a 64-character hex string is an image ID, not a reference');
  const [registry, rest] = splitRegistry(input);
  const nameEnd = rest.search(/[:@]/);
  let repository = nameEnd < 0 ? rest : rest.slice(0, nameEnd);
  if (repository !== repository.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  const remainder = nameEnd < 0 ? '' : rest.slice(nameEnd);
  if (!DOMAIN.test(registry)) throw invalid(input, `"${registry}" is not a valid registry host`);
  const match = REFERENCE.exec(`${registry}/${repository}${remainder}`);
  if (!match) throw invalid(input, 'does not match the reference grammar');
  if ((match[1] ?? '').length > MAX_NAME_LENGTH) throw invalid(input, `name longer than ${MAX_NAME_LENGTH} characters`);
  const reference: Reference = { registry, repository };
  if (match[2] !== undefined) reference.tag = match[2];
  if (match[3] !== undefined) {
    const parsed = parseDigest(match[3]);
    if (typeof parsed === 'string') throw invalid(input, parsed);
    reference.digest = match[3];
  }
  if (reference.tag === undefined && reference.digest === undefined) reference.tag = 'latest';
  return reference;
}

/** The canonical string: `registry/repository[:tag][@digest]`. */
export function formatReference(reference: Reference): string {
  const tagPart = reference.tag === undefined ? '' : `:${reference.tag}`;
  const digestPart = reference.digest === undefined ? '' : `@${reference.digest}`;
  return `${reference.registry}/${reference.repository}${tagPart}${digestPart}`;
}

/** The host that serves the registry API: Docker Hub's API lives on `registry-1.docker.io`. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/** Maps the alternative names of Docker Hub onto `docker.io`, so config keys and references meet. */
export function normalizeRegistryHost(host: string): string {
  const lower = host.toLowerCase();
  return lower === 'index.docker.io' || lower === DOCKER_HUB_API_HOST ? DOCKER_HUB : host;
}
