import type { Descriptor } from './descriptor.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's `process.arch` in the OCI (GOARCH) vocabulary. */
const OCI_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips64el: 'mips64le',
  mipsel: 'mipsle',
};

/** The platform this process runs on, as an OCI index entry would name it. */
export function nodePlatform(arch: string = process.arch): Platform {
  const architecture = OCI_ARCH[arch] ?? arch;
  if (architecture === 'arm') {
    const armVersion = (process.config.variables as { arm_version?: string }).arm_version;
    return { os: 'linux', architecture, variant: `v${armVersion ?? '7'}` };
  }
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  return { os: 'linux', architecture };
}

/** Variants this platform runs, best first; '' stands for an entry without a variant. */
function acceptedVariants(platform: Platform): string[] {
  if (platform.architecture === 'arm') {
    const level = Number((platform.variant ?? 'v7').slice(1));
    const lower = [];
    for (let v = level; v >= 5; v -= 1) lower.push(`v${v}`);
    return [...lower, ''];
  }
  if (platform.architecture === 'arm64') return ['v8', ''];
  return ['', 'v1'];
}

/** Architecture aliases containerd's platforms.Normalize folds into the GOARCH names. */
const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386' };

/** A variant as containerd normalizes it: `8` is `v8`; arm64/v8 and amd64/v1 are the plain architecture. */
function normalizedVariant(architecture: string, variant: string | undefined): string {
  const v = variant && /^[0-9]+$/.test(variant) ? `v${variant}` : (variant ?? '');
  if ((architecture === 'arm64' && v === 'v8') || (architecture === 'amd64' && v === 'v1')) return '';
  return v;
}

/**
 * The descriptor for this platform (an index entry, or a platform-bound layer), as containerd's
 * platform matcher would choose; undefined if there is none.
 */
export function selectPlatformManifest(manifests: Descriptor[], platform: Platform): Descriptor | undefined {
  const variants = acceptedVariants(platform).map((v) => normalizedVariant(platform.architecture, v));
  let best: Descriptor | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const entry of manifests) {
    const p = entry.platform;
    if (!p?.architecture) continue;
    const architecture = ARCH_ALIASES[p.architecture] ?? p.architecture;
    if (p.os !== platform.os || architecture !== platform.architecture) continue;
    const rank = variants.indexOf(normalizedVariant(architecture, p.variant));
    if (rank >= 0 && rank < bestRank) {
      best = entry;
      bestRank = rank;
    }
  }
  return best;
}

export function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`;
}
