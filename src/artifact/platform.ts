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

/** The index entry for this platform, as containerd's platform matcher would choose; undefined if there is none. */
export function selectPlatformManifest(manifests: Descriptor[], platform: Platform): Descriptor | undefined {
  const variants = acceptedVariants(platform);
  let best: Descriptor | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const entry of manifests) {
    const p = entry.platform;
    if (!p || p.os !== platform.os || p.architecture !== platform.architecture) continue;
    const rank = variants.indexOf(p.variant ?? '');
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
