import { createPublicKey, createHash, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';

/** A public key a rule accepts, with the file it came from for messages. */
export interface TrustedKey {
  /** The file path, used as the signer's name in results and errors. */
  name: string;
  key: KeyObject;
  /** Base64 sha256 of the SPKI DER: a stable hint for bundles' publicKey field. */
  hint: string;
}

const SUPPORTED_KEY_TYPES = new Set(['ec', 'ed25519', 'rsa', 'rsa-pss']);

/** The hint cosign-style tools put in a bundle's publicKey: a digest of the key, not a secret. */
export function keyHint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('base64');
}

/** Reads a PEM public key (or a certificate, whose key is taken), refusing other key types. */
export function loadPublicKey(path: string, where: string): TrustedKey {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${where}: cannot read public key file ${path}: ${(error as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new Error(`${where}: ${path} is not a PEM public key: ${(error as Error).message}`);
  }
  if (!SUPPORTED_KEY_TYPES.has(key.asymmetricKeyType ?? '')) {
    throw new Error(`${where}: ${path} holds a ${key.asymmetricKeyType} key; supported are ECDSA, Ed25519 and RSA`);
  }
  return { name: path, key, hint: keyHint(key) };
}

/** Reads a Sigstore trusted_root.json (protobuf-specs TrustedRoot in its JSON form). */
export function loadTrustedRoot(path: string, where: string): TrustedRoot {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${where}: cannot read trusted root ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: trusted root ${path} is not JSON: ${(error as Error).message}`);
  }
  const mediaType = (parsed as { mediaType?: unknown }).mediaType;
  if (typeof mediaType !== 'string' || !mediaType.startsWith('application/vnd.dev.sigstore.trustedroot')) {
    throw new Error(`${where}: trusted root ${path} has mediaType ${JSON.stringify(mediaType)}, expected application/vnd.dev.sigstore.trustedroot.v0.1+json or later`);
  }
  try {
    const root = TrustedRoot.fromJSON(parsed);
    // Building the trust material parses every key and certificate: a bad one fails here, at load.
    toTrustMaterial(root, {});
    return root;
  } catch (error) {
    throw new Error(`${where}: trusted root ${path} is invalid: ${(error as Error).message}`);
  }
}

const EMPTY_ROOT: TrustedRoot = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.1+json',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

/**
 * Trust material for @sigstore/verify: the trusted root's authorities plus the rule's keys,
 * looked up by their hint. Keys from files carry no validity period.
 */
export function buildTrustMaterial(root: TrustedRoot | undefined, keys: TrustedKey[]): TrustMaterial {
  const byHint = new Map(keys.map((k) => [k.hint, k.key]));
  return toTrustMaterial(root ?? EMPTY_ROOT, (hint: string) => {
    const key = byHint.get(hint);
    if (!key) throw new Error(`no configured key has hint ${hint}`);
    return { publicKey: key, validFor: () => true };
  });
}
