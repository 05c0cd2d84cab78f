/**
 * A private Sigstore for tests: a CA standing in for Fulcio, a CT log, a Rekor log key and an
 * RFC 3161 timestamp authority, all made on the spot, plus the trusted_root.json naming them.
 * Certificates come from the `openssl` CLI; the SCT extension (which must be signed over the
 * certificate without it) and Rekor's signed entry timestamps are computed here.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ASN1Obj, json, X509Certificate } from '@sigstore/core';

export const FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
export const FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

function ecKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** DER type-length-value. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export interface IssuedCertificate {
  pem: string;
  der: Buffer;
  privateKey: KeyObject;
}

export interface LeafOptions {
  /** `email:alice@example.com` or `URI:https://github.com/...`, as openssl's subjectAltName. */
  san: string;
  issuer: string;
  /** Which Fulcio issuer extension to write; both by default. */
  issuerExtension?: 'v1' | 'v2' | 'both';
  /** Embed an SCT from the test CT log (default true). */
  sct?: boolean;
  /** `openssl x509 -days`; certificates start now. */
  days?: number;
}

export class TestSigstore {
  readonly dir: string;
  readonly caKeyPath: string;
  readonly caCertPath: string;
  readonly caCert: X509Certificate;
  readonly rekor = ecKey();
  readonly ctlog = ecKey();
  readonly rekorLogId: Buffer;
  readonly ctLogId: Buffer;
  private serial = 100;

  constructor(dir: string) {
    this.dir = dir;
    this.caKeyPath = path.join(dir, 'ca.key');
    this.caCertPath = path.join(dir, 'ca.pem');
    writeFileSync(this.caKeyPath, ecKey().privateKey.export({ type: 'pkcs8', format: 'pem' }));
    openssl(
      ['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/O=sigstore.test/CN=test-fulcio', '-days', '30', '-sha256',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem'],
      dir,
    );
    this.caCert = X509Certificate.parse(readFileSync(this.caCertPath, 'utf8'));
    this.rekorLogId = createHash('sha256').update(spki(this.rekor.publicKey)).digest();
    this.ctLogId = createHash('sha256').update(spki(this.ctlog.publicKey)).digest();
    this.makeTsa();
  }

  private makeTsa(): void {
    writeFileSync(path.join(this.dir, 'tsa-root.key'), ecKey().privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(path.join(this.dir, 'tsa.key'), ecKey().privateKey.export({ type: 'pkcs8', format: 'pem' }));
    openssl(
      ['req', '-x509', '-new', '-key', 'tsa-root.key', '-subj', '/O=sigstore.test/CN=test-tsa-root', '-days', '30', '-sha256',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-out', 'tsa-root.pem'],
      this.dir,
    );
    openssl(['req', '-new', '-key', 'tsa.key', '-subj', '/O=sigstore.test/CN=test-tsa', '-out', 'tsa.csr'], this.dir);
    writeFileSync(path.join(this.dir, 'tsa.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n');
    openssl(['x509', '-req', '-in', 'tsa.csr', '-CA', 'tsa-root.pem', '-CAkey', 'tsa-root.key', '-set_serial', '7', '-days', '30', '-sha256', '-extfile', 'tsa.ext', '-out', 'tsa.pem'], this.dir);
    writeFileSync(path.join(this.dir, 'tsaserial'), '01\n');
    writeFileSync(
      path.join(this.dir, 'ts.cnf'),
      [
        '[ tsa ]', 'default_tsa = test_tsa', '[ test_tsa ]', `dir = ${this.dir}`, 'serial = $dir/tsaserial', 'crypto_device = builtin',
        'signer_cert = $dir/tsa.pem', 'signer_key = $dir/tsa.key', 'signer_digest = sha256', 'default_policy = 1.2.3.4.1',
        'digests = sha256', 'accuracy = secs:1', 'ordering = yes', 'tsa_name = no', 'ess_cert_id_chain = no', 'ess_cert_id_alg = sha256', '',
      ].join('\n'),
    );
  }

  /** A short-lived signing certificate as Fulcio would issue it for an OIDC identity. */
  issueLeaf(options: LeafOptions): IssuedCertificate {
    const { privateKey } = ecKey();
    const id = this.serial++;
    const keyFile = `leaf${id}.key`;
    writeFileSync(path.join(this.dir, keyFile), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    openssl(['req', '-new', '-key', keyFile, '-subj', '/O=sigstore.test', '-out', `leaf${id}.csr`], this.dir);
    const which = options.issuerExtension ?? 'both';
    const ext = [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=codeSigning',
      `subjectAltName=critical,${options.san}`,
      'authorityKeyIdentifier=keyid',
      'subjectKeyIdentifier=hash',
    ];
    // v1 holds the issuer's raw bytes; v2 a DER UTF8String (Fulcio's OID registry).
    if (which !== 'v2') ext.push(`${FULCIO_ISSUER_V1}=DER:${Buffer.from(options.issuer).toString('hex')}`);
    if (which !== 'v1') ext.push(`${FULCIO_ISSUER_V2}=ASN1:UTF8String:${options.issuer}`);
    writeFileSync(path.join(this.dir, `leaf${id}.ext`), `${ext.join('\n')}\n`);
    openssl(
      ['x509', '-req', '-in', `leaf${id}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(id), '-days', String(options.days ?? 1),
        '-sha256', '-extfile', `leaf${id}.ext`, '-out', `leaf${id}.pem`],
      this.dir,
    );
    const pem = readFileSync(path.join(this.dir, `leaf${id}.pem`), 'utf8');
    const withoutSct = X509Certificate.parse(pem);
    if (options.sct === false) return { pem, der: withoutSct.root.toDER(), privateKey };
    const der = this.embedSct(withoutSct);
    return { pem: toPem(der), der, privateKey };
  }

  /**
   * RFC 6962 §3.2: the CT log signs the precertificate (the TBS without the SCT extension) with
   * the issuer's key hash; the SCT list is then added and the certificate signed again.
   */
  private embedSct(cert: X509Certificate): Buffer {
    const tbs = cert.tbsCertificate.toDER();
    const timestamp = Buffer.alloc(8);
    timestamp.writeBigUInt64BE(BigInt(Date.now() - 1000));
    const issuerKeyHash = createHash('sha256').update(this.caCert.publicKey).digest();
    const tbsLength = Buffer.from([(tbs.length >> 16) & 0xff, (tbs.length >> 8) & 0xff, tbs.length & 0xff]);
    const signed = Buffer.concat([Buffer.from([0, 0]), timestamp, u16(1), issuerKeyHash, tbsLength, tbs, u16(0)]);
    const signature = sign('sha256', signed, this.ctlog.privateKey);
    const sct = Buffer.concat([Buffer.from([0]), this.ctLogId, timestamp, u16(0), Buffer.from([4, 3]), u16(signature.length), signature]);
    const list = Buffer.concat([u16(sct.length + 2), u16(sct.length), sct]);
    const sctOid = Buffer.from('060a2b06010401d679020402', 'hex');
    const extension = tlv(0x30, Buffer.concat([sctOid, tlv(0x04, tlv(0x04, list))]));
    const clone = cert.clone();
    clone.extensions.push(ASN1Obj.parseBuffer(Buffer.from(extension)));
    const newTbs = clone.tbsCertificate.toDER();
    const caKey = readFileSync(this.caKeyPath, 'utf8');
    const certSignature = sign('sha256', newTbs, caKey);
    const algorithm = cert.root.subs[1];
    if (!algorithm) throw new Error('certificate without signature algorithm');
    return tlv(0x30, Buffer.concat([newTbs, algorithm.toDER(), tlv(0x03, Buffer.concat([Buffer.from([0]), certSignature]))]));
  }

  /** Cosign's Rekor bundle annotation for a hashedrekord entry of (payload, signature, cert). */
  rekorBundle(payload: Buffer, signature: Buffer, certPem: string, integratedTime = Math.floor(Date.now() / 1000)): string {
    const body = Buffer.from(
      json.canonicalize({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } },
          signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(certPem).toString('base64') } },
        },
      }),
    );
    const entry = { body: body.toString('base64'), integratedTime, logIndex: 42, logID: this.rekorLogId.toString('hex') };
    const set = sign('sha256', Buffer.from(json.canonicalize(entry)), this.rekor.privateKey);
    return JSON.stringify({ SignedEntryTimestamp: set.toString('base64'), Payload: entry });
  }

  /** An RFC 3161 TimeStampResp over `data` from the test TSA, via `openssl ts`. */
  timestamp(data: Buffer): Buffer {
    const id = this.serial++;
    writeFileSync(path.join(this.dir, `ts${id}.data`), data);
    openssl(['ts', '-query', '-data', `ts${id}.data`, '-sha256', '-cert', '-no_nonce', '-out', `ts${id}.tsq`], this.dir);
    openssl(['ts', '-reply', '-config', 'ts.cnf', '-queryfile', `ts${id}.tsq`, '-out', `ts${id}.tsr`], this.dir);
    return readFileSync(path.join(this.dir, `ts${id}.tsr`));
  }

  /** Cosign's rfc3161timestamp annotation. */
  timestampAnnotation(signature: Buffer): string {
    return JSON.stringify({ SignedRFC3161Timestamp: this.timestamp(signature).toString('base64') });
  }

  /** Writes trusted_root.json naming this CA, log, CT log and TSA (`tlogKey` swaps the log's key); returns its path. */
  writeTrustedRoot(options: { tlog?: boolean; tsa?: boolean; ctlog?: boolean; file?: string; tlogKey?: KeyObject } = {}): string {
    const start = '2020-01-01T00:00:00Z';
    const logInstance = (baseUrl: string, key: KeyObject, logId: Buffer): unknown => ({
      baseUrl,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: spki(key).toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: logId.toString('base64') },
    });
    const der = (file: string): string => X509Certificate.parse(readFileSync(path.join(this.dir, file), 'utf8')).root.toDER().toString('base64');
    const root = {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: options.tlog === false ? [] : [logInstance('https://rekor.sigstore.test', options.tlogKey ?? this.rekor.publicKey, this.rekorLogId)],
      certificateAuthorities: [
        {
          subject: { organization: 'sigstore.test', commonName: 'test-fulcio' },
          uri: 'https://fulcio.sigstore.test',
          certChain: { certificates: [{ rawBytes: der('ca.pem') }] },
          validFor: { start },
        },
      ],
      ctlogs: options.ctlog === false ? [] : [logInstance('https://ctfe.sigstore.test', this.ctlog.publicKey, this.ctLogId)],
      timestampAuthorities:
        options.tsa === false
          ? []
          : [
              {
                subject: { organization: 'sigstore.test', commonName: 'test-tsa' },
                uri: 'https://tsa.sigstore.test',
                certChain: { certificates: [{ rawBytes: der('tsa.pem') }, { rawBytes: der('tsa-root.pem') }] },
                validFor: { start },
              },
            ],
    };
    const file = path.join(this.dir, options.file ?? 'trusted_root.json');
    writeFileSync(file, JSON.stringify(root, null, 2));
    return file;
  }
}

export function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}
