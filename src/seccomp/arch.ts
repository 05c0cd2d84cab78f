import { LIBSECCOMP_ARCH_NAMES, SECCOMP_ARCHITECTURES, type LibseccompArchName, type SeccompArchitecture } from './types.js';

/**
 * OCI/Go architecture names (`process.arch` in Node uses `x64`/`ia32`, accepted too) to the name
 * libseccomp gives the native architecture: containers/common compares rule `arches` with the latter.
 */
const GO_TO_LIBSECCOMP: ReadonlyMap<string, LibseccompArchName> = new Map([
  ['amd64', 'amd64'],
  ['x64', 'amd64'],
  ['386', 'x86'],
  ['ia32', 'x86'],
  ['arm', 'arm'],
  ['arm64', 'arm64'],
  ['mips', 'mips'],
  ['mipsle', 'mipsel'],
  ['mips64', 'mips64'],
  ['mips64le', 'mipsel64'],
  ['mips64p32', 'mips64n32'],
  ['mips64p32le', 'mipsel64n32'],
  ['ppc', 'ppc'],
  ['ppc64', 'ppc64'],
  ['ppc64le', 'ppc64le'],
  ['s390', 's390'],
  ['s390x', 's390x'],
  ['riscv64', 'riscv64'],
  ['loong64', 'loong64'],
]);

/**
 * containers/common's `nativeToSeccomp`: only these native architectures take an `archMap` entry.
 * On any other (arm, 386, ppc64le, riscv64, ...) CRI-O leaves `architectures` empty and the runtime
 * filters the native architecture alone.
 */
const ARCH_MAP_KEYS: ReadonlyMap<LibseccompArchName, SeccompArchitecture> = new Map([
  ['amd64', 'SCMP_ARCH_X86_64'],
  ['arm64', 'SCMP_ARCH_AARCH64'],
  ['mips64', 'SCMP_ARCH_MIPS64'],
  ['mips64n32', 'SCMP_ARCH_MIPS64N32'],
  ['mipsel64', 'SCMP_ARCH_MIPSEL64'],
  ['mipsel64n32', 'SCMP_ARCH_MIPSEL64N32'],
  ['s390x', 'SCMP_ARCH_S390X'],
]);

/** libseccomp's name for an OCI/Go architecture name; throws for one it does not know. */
export function libseccompArchName(goArch: string): LibseccompArchName {
  const name = GO_TO_LIBSECCOMP.get(goArch);
  if (name === undefined) {
    throw new Error(
      `unknown node architecture "${goArch}" (known: ${[...GO_TO_LIBSECCOMP.keys()].join(', ')})`,
    );
  }
  return name;
}

/** The `archMap` architecture CRI-O picks for a native architecture, if it picks any. */
export function archMapKey(nativeArch: LibseccompArchName): SeccompArchitecture | undefined {
  return ARCH_MAP_KEYS.get(nativeArch);
}

/**
 * The runtime spec's name for a native architecture (`SCMP_ARCH_X86_64` for amd64): the one runc
 * always filters, listed or not. LIBSECCOMP_ARCH_NAMES and SECCOMP_ARCHITECTURES name the same
 * architectures in the same order.
 */
export function specArchitecture(nativeArch: LibseccompArchName): SeccompArchitecture {
  return SECCOMP_ARCHITECTURES[LIBSECCOMP_ARCH_NAMES.indexOf(nativeArch)] as SeccompArchitecture;
}
