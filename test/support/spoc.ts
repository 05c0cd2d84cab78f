import { rawPutBlob, rawPutManifestBytes } from './artifact/raw-registry.js';

/**
 * Artifacts in the exact byte layout `spoc push` produces (oras-go PackManifest, OCI 1.1), written
 * over bare HTTP so the shim is tested against content it did not make. Go's json.Marshal writes
 * struct members in declaration order and map keys sorted, without spaces.
 */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** sha256 of `{}`, oras' empty config, carried inline as `data`. */
const EMPTY_CONFIG_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export interface SpocLayer {
  yaml: Buffer;
  /** Bound to a platform (`profile-<os>-<arch>[-<variant>].yaml`), or unbound (`profile.yaml`). */
  platform?: { os: string; architecture: string; variant?: string };
}

export async function publishSpocArtifact(host: string, repository: string, tag: string, layers: SpocLayer[]): Promise<{ digest: string; manifest: Buffer }> {
  const config = Buffer.from('{}');
  if ((await rawPutBlob(host, repository, config)) !== EMPTY_CONFIG_DIGEST) throw new Error('empty config digest');
  const descriptors: string[] = [];
  for (const layer of layers) {
    const digest = await rawPutBlob(host, repository, layer.yaml);
    const p = layer.platform;
    const title = p ? `profile-${[p.os, p.architecture, p.variant].filter(Boolean).join('-')}.yaml` : 'profile.yaml';
    const platform = p ? `,"platform":{"architecture":"${p.architecture}","os":"${p.os}"${p.variant ? `,"variant":"${p.variant}"` : ''}}` : '';
    descriptors.push(
      `{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"${digest}","size":${layer.yaml.length},"annotations":{"org.opencontainers.image.title":"${title}"}${platform}}`,
    );
  }
  const manifest = Buffer.from(
    `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","artifactType":"application/vnd.unknown.config.v1+json",` +
      `"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"${EMPTY_CONFIG_DIGEST}","size":2,"data":"e30="},` +
      `"layers":[${descriptors.join(',')}],"annotations":{"org.opencontainers.image.created":"2026-12-02T10:00:00Z"}}`,
  );
  const digest = await rawPutManifestBytes(host, repository, tag, manifest, OCI_MANIFEST);
  return { digest, manifest };
}

/** A SeccompProfile as SPO users write them: allow by default, deny the given syscalls with EPERM. */
export function spoProfileYaml(name: string, denied: string[], baseProfileName?: string): Buffer {
  return Buffer.from(
    [
      'apiVersion: security-profiles-operator.x-k8s.io/v1beta1',
      'kind: SeccompProfile',
      'metadata:',
      `  name: ${name}`,
      'spec:',
      '  defaultAction: SCMP_ACT_ALLOW',
      ...(baseProfileName ? [`  baseProfileName: ${baseProfileName}`] : []),
      '  architectures:',
      '    - SCMP_ARCH_X86_64',
      '    - SCMP_ARCH_AARCH64',
      '  syscalls:',
      '    - action: SCMP_ACT_ERRNO',
      '      errnoRet: 1',
      '      names:',
      ...denied.map((syscall) => `        - ${syscall}`),
      '',
    ].join('\n'),
  );
}
