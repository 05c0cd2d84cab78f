import { readFile, stat } from 'node:fs/promises';
import { ArtifactError } from './errors.js';
import { normalizeRegistryHost } from './reference.js';

/** The kubelet's node-wide pull credentials, in Docker's config.json format. */
export const KUBELET_AUTH_FILE = '/var/lib/kubelet/config.json';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token, exchanged at the token endpoint (Docker's `identitytoken`). */
  identityToken?: string;
  /** A bearer token sent as is (Docker's `registrytoken`). */
  registryToken?: string;
}

interface Entry {
  host: string;
  /** Repository path prefix the entry is limited to; '' for the whole registry. */
  path: string;
  credentials: Credentials;
}

/** `https://index.docker.io/v1/` → `docker.io`; `host:5000/team/` → `host:5000/team`. */
function normalizeKey(key: string): { host: string; path: string } {
  const bare = key.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '').replace(/\/v[12]$/, '');
  const slash = bare.indexOf('/');
  const host = slash < 0 ? bare : bare.slice(0, slash);
  return { host: normalizeRegistryHost(host), path: slash < 0 ? '' : bare.slice(slash + 1) };
}

/** Host match with kubelet's wildcards: `*` stands for one DNS label; ports must be equal. */
function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.includes('*')) return pattern === host;
  const [patternName = '', patternPort] = pattern.split(/:(?=\d+$)/);
  const [hostName = '', hostPort] = host.split(/:(?=\d+$)/);
  if (patternPort !== hostPort) return false;
  const patternLabels = patternName.split('.');
  const hostLabels = hostName.split('.');
  return patternLabels.length === hostLabels.length && patternLabels.every((label, i) => label === '*' || label === hostLabels[i]);
}

function parseEntry(file: string, key: string, value: unknown): Entry {
  if (typeof value !== 'object' || value === null) {
    throw new ArtifactError('InvalidConfig', `auth file ${file}: auths["${key}"] is not an object`);
  }
  const raw = value as Record<string, unknown>;
  const credentials: Credentials = {};
  if (typeof raw.auth === 'string' && raw.auth !== '') {
    const decoded = Buffer.from(raw.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new ArtifactError('InvalidConfig', `auth file ${file}: auths["${key}"].auth is not base64 of "user:password"`);
    credentials.username = decoded.slice(0, colon);
    credentials.password = decoded.slice(colon + 1);
  }
  if (typeof raw.username === 'string' && raw.username !== '') credentials.username = raw.username;
  if (typeof raw.password === 'string' && raw.password !== '') credentials.password = raw.password;
  if (typeof raw.identitytoken === 'string' && raw.identitytoken !== '') credentials.identityToken = raw.identitytoken;
  if (typeof raw.registrytoken === 'string' && raw.registrytoken !== '') credentials.registryToken = raw.registrytoken;
  return { ...normalizeKey(key), credentials };
}

/**
 * Credentials from a Docker config.json (`{"auths": {...}}`), re-read when the file changes.
 * A missing file means anonymous access; a malformed one is an error naming the file.
 */
export class CredentialStore {
  private entries: Entry[] = [];
  private loadedMtimeMs: number | undefined;

  constructor(readonly file: string | undefined) {}

  async lookup(registry: string, repository: string): Promise<Credentials | undefined> {
    await this.refresh();
    const host = normalizeRegistryHost(registry);
    let best: Entry | undefined;
    for (const entry of this.entries) {
      if (!hostMatches(entry.host, host)) continue;
      if (entry.path !== '' && entry.path !== repository && !repository.startsWith(`${entry.path}/`)) continue;
      // The most specific entry wins: a longer path, then an exact host over a wildcard.
      if (
        !best ||
        entry.path.length > best.path.length ||
        (entry.path.length === best.path.length && best.host.includes('*') && !entry.host.includes('*'))
      ) {
        best = entry;
      }
    }
    return best?.credentials;
  }

  private async refresh(): Promise<void> {
    if (this.file === undefined) return;
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.file)).mtimeMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new ArtifactError('InvalidConfig', `auth file ${this.file}: ${(error as Error).message}`);
      }
      this.entries = [];
      this.loadedMtimeMs = undefined;
      return;
    }
    if (mtimeMs === this.loadedMtimeMs) return;
    const text = await readFile(this.file, 'utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ArtifactError('InvalidConfig', `auth file ${this.file}: not JSON (${(error as Error).message})`);
    }
    const auths = (parsed as { auths?: unknown } | null)?.auths ?? {};
    if (typeof auths !== 'object' || auths === null) {
      throw new ArtifactError('InvalidConfig', `auth file ${this.file}: "auths" is not an object`);
    }
    this.entries = Object.entries(auths).map(([key, value]) => parseEntry(this.file as string, key, value));
    this.loadedMtimeMs = mtimeMs;
  }
}
