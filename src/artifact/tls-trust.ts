import { existsSync, readFileSync } from 'node:fs';
import tls, { type SecureContext } from 'node:tls';
import { ArtifactError } from './errors.js';

/** Where distributions keep the system CA bundle (Debian/Ubuntu, Fedora/RHEL, openSUSE, Alpine). */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

type GetCaCertificates = (type: 'system') => string[];

/** The operating system's trusted CAs: Node's own reader where it has one (22.15+), else the bundle file. */
function systemCertificates(): string[] {
  const getter = (tls as unknown as { getCACertificates?: GetCaCertificates }).getCACertificates;
  if (typeof getter === 'function') return getter('system');
  const bundle = SYSTEM_BUNDLES.find((file) => existsSync(file));
  return bundle ? [readFileSync(bundle, 'utf8')] : [];
}

/**
 * TLS trust per registry host: Node's bundled roots plus the system CAs, plus a registry's own CA
 * file when one is configured. Contexts are built once per host, since building one per
 * connection from hundreds of certificates costs milliseconds.
 */
export class TlsTrust {
  private base: SecureContext | undefined;
  private readonly perFile = new Map<string, SecureContext>();

  context(caFile: string | undefined): SecureContext {
    if (caFile === undefined) {
      this.base ??= tls.createSecureContext({ ca: [...tls.rootCertificates, ...systemCertificates()] });
      return this.base;
    }
    let context = this.perFile.get(caFile);
    if (!context) {
      let pem: string;
      try {
        pem = readFileSync(caFile, 'utf8');
      } catch (error) {
        throw new ArtifactError('InvalidConfig', `CA file ${caFile}: ${(error as Error).message}`);
      }
      context = tls.createSecureContext({ ca: [...tls.rootCertificates, ...systemCertificates(), pem] });
      this.perFile.set(caFile, context);
    }
    return context;
  }
}
