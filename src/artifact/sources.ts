import type { SecureContext } from 'node:tls';
import type { Logger } from '../log/logger.js';
import { errorText } from '../log/logger.js';
import { ArtifactError } from './errors.js';
import { formatReference, normalizeRegistryHost, registryApiHost, type Reference } from './reference.js';
import type { Source } from './registry-call.js';
import { TlsTrust } from './tls-trust.js';
import { TransportError } from './transport.js';

export interface RegistryHostConfig {
  /** Plain HTTP. Only ever for hosts listed so: there is no fallback from HTTPS. */
  insecure?: boolean;
  /** A PEM file of CAs trusted for this host, in addition to the system's. */
  caFile?: string;
  /** `host[:port][/path-prefix]` mirrors tried in order before this registry, for reads. */
  mirrors?: string[];
}

/**
 * Where a repository is read from and written to: per registry host its TLS trust, plain HTTP
 * when configured so, and its mirrors, tried in order before the registry for reads.
 */
export class Sources {
  private readonly tls = new TlsTrust();
  private readonly registries: Record<string, RegistryHostConfig>;

  constructor(
    registries: Record<string, RegistryHostConfig> | undefined,
    private readonly logger: Logger | undefined,
  ) {
    this.registries = Object.fromEntries(Object.entries(registries ?? {}).map(([host, config]) => [normalizeRegistryHost(host), config]));
  }

  hostConfig(host: string): RegistryHostConfig {
    return this.registries[normalizeRegistryHost(host)] ?? {};
  }

  secureContextFor(host: string): SecureContext {
    return this.tls.context(this.hostConfig(host).caFile);
  }

  /**
   * Runs `operation` against each source (mirrors in configured order when `withMirrors`, then
   * the registry) until one succeeds; the registry's own error is the one reported.
   */
  async first<T>(
    action: string,
    reference: Reference,
    withMirrors: boolean,
    signal: AbortSignal | undefined,
    operation: (source: Source) => Promise<T>,
  ): Promise<T> {
    const sources = this.list(reference, withMirrors);
    for (const [i, source] of sources.entries()) {
      try {
        return await operation(source);
      } catch (error) {
        const wrapped = contextualize(action, reference, error);
        if (i === sources.length - 1 || signal?.aborted) throw wrapped;
        this.logger?.warn({ mirror: source.registry, err: errorText(wrapped) }, `Mirror ${source.registry} failed, trying the next source`);
      }
    }
    throw new Error('unreachable: no sources');
  }

  private list(reference: Reference, withMirrors: boolean): Source[] {
    const list: Source[] = [];
    if (withMirrors) {
      for (const mirror of this.hostConfig(reference.registry).mirrors ?? []) {
        const slash = mirror.indexOf('/');
        const host = slash < 0 ? mirror : mirror.slice(0, slash);
        const prefix = slash < 0 ? '' : `${mirror.slice(slash + 1).replace(/\/+$/, '')}/`;
        list.push(this.source(host, `${prefix}${reference.repository}`, true));
      }
    }
    list.push(this.source(reference.registry, reference.repository, false));
    return list;
  }

  private source(registry: string, repository: string, isMirror: boolean): Source {
    const config = this.hostConfig(registry);
    const insecure = config.insecure === true;
    const source: Source = {
      registry,
      origin: `${insecure ? 'http' : 'https'}://${registryApiHost(registry)}`,
      repository,
      insecure,
      isMirror,
    };
    if (!insecure) source.secureContext = this.tls.context(config.caFile);
    return source;
  }
}

/** Gives an error the action and the reference: `pulling "host/repo:tag": manifest unknown (404)`. */
export function contextualize(action: string, reference: Reference, error: unknown): ArtifactError {
  const where = `${action} "${formatReference(reference)}"`;
  if (error instanceof ArtifactError) return new ArtifactError(error.reason, `${where}: ${error.message}`, { cause: error });
  if (error instanceof TransportError) return new ArtifactError('RegistryUnavailable', `${where}: ${error.message}`, { cause: error });
  return new ArtifactError('RegistryUnavailable', `${where}: ${errorText(error)}`, { cause: error });
}
