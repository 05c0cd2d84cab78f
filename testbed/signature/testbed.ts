import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RegistryClient, type RetryOptions } from '../../src/artifact/index.js';
import { pushProfile } from '../../src/artifact/push.js';
import { registrySignatureSource, type SignaturePublisher } from '../../src/signature/index.js';
import { startCountingProxy, startRegistry, type CountingProxy, type TestRegistry } from '../registry.js';
import { TestSigstore } from './pki.js';

/**
 * What the signature tests and the verification benchmark sign and verify against: a real
 * registry (Debian's docker-registry on loopback) with a client and signature source for it,
 * a private Sigstore (test CA, logs, timestamp authority) with its trusted root, and a
 * publisher key pair whose public key is on disk for key policies.
 */
export interface SignatureTestbed {
  registry: TestRegistry;
  client: RegistryClient;
  source: SignaturePublisher;
  /** A temp directory of the testbed's own, removed by `stop`. */
  dir: string;
  pki: TestSigstore;
  /** trusted_root.json naming `pki`'s authorities. */
  trustedRoot: string;
  publisher: { privateKey: KeyObject; publicKey: KeyObject };
  /** The publisher's public key as a PEM file, as policies name keys. */
  publisherPub: string;
  /** Pushes a profile to `host/repository:tag` (the registry by default) and returns its manifest digest. */
  push(repository: string, tag: string, profile: Buffer, host?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface SignatureTestbedOptions {
  /** Prefix of the temp directory's name. */
  tempPrefix: string;
  /** The client's retries; the client's defaults when absent. */
  retry?: Partial<RetryOptions>;
  /** Also start a request-counting proxy in front of the registry (an insecure host for the client too). */
  countingProxy?: boolean;
}

export type ProxiedSignatureTestbed = SignatureTestbed & { proxy: CountingProxy };

/** PKCS#8 PEM of a private key, as signing takes it. */
export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A small profile allowing only `syscall`: a distinct artifact per name. */
export function profileAllowing(syscall: string): Buffer {
  return Buffer.from(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: [syscall], action: 'SCMP_ACT_ALLOW' }] }));
}

export async function startSignatureTestbed(options: SignatureTestbedOptions & { countingProxy: true }): Promise<ProxiedSignatureTestbed>;
export async function startSignatureTestbed(options: SignatureTestbedOptions): Promise<SignatureTestbed>;
export async function startSignatureTestbed(options: SignatureTestbedOptions): Promise<SignatureTestbed | ProxiedSignatureTestbed> {
  const registry = await startRegistry();
  let proxy: CountingProxy | undefined;
  let client: RegistryClient | undefined;
  let dir: string | undefined;
  const stop = async (): Promise<void> => {
    client?.close();
    await proxy?.stop();
    await registry.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (options.countingProxy) proxy = await startCountingProxy(registry.host);
    const hosts = proxy ? [registry.host, proxy.host] : [registry.host];
    client = new RegistryClient({ registries: Object.fromEntries(hosts.map((host) => [host, { insecure: true }])), ...(options.retry ? { retry: options.retry } : {}) });
    dir = mkdtempSync(path.join(os.tmpdir(), options.tempPrefix));
    const pki = new TestSigstore(dir);
    const trustedRoot = pki.writeTrustedRoot();
    const publisher = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publisherPub = path.join(dir, 'publisher.pub');
    writeFileSync(publisherPub, publisher.publicKey.export({ type: 'spki', format: 'pem' }));
    const pushing = client;
    const testbed: SignatureTestbed = {
      registry,
      client,
      source: registrySignatureSource(client),
      dir,
      pki,
      trustedRoot,
      publisher,
      publisherPub,
      push: async (repository, tag, profile, host = registry.host) =>
        (await pushProfile(pushing, { reference: `${host}/${repository}:${tag}`, profile, created: null })).digest,
      stop,
    };
    return proxy ? { ...testbed, proxy } : testbed;
  } catch (error) {
    await stop();
    throw error;
  }
}
