/**
 * The two seccomp profile formats.
 *
 * `SeccompProfile` is the Docker/moby format that published profiles use (containers/common's
 * `Seccomp` struct); a runtime-spec `linux.seccomp` object is a subset of it, so one type reads both.
 * `RuntimeSpecSeccomp` is what an OCI runtime such as runc loads.
 */

/** SCMP_ACT_NOTIFY is left out on purpose: an artifact cannot bring a listener (KEP-6061). */
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_LOG',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

/** The architectures the OCI runtime spec names for `linux.seccomp.architectures`. */
export const SECCOMP_ARCHITECTURES = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
] as const;
export type SeccompArchitecture = (typeof SECCOMP_ARCHITECTURES)[number];

export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

/** Filter flags of the OCI runtime spec. */
export const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;
export type SeccompFlag = (typeof SECCOMP_FLAGS)[number];

/**
 * Architecture names used by rule filters (`includes.arches`, `excludes.arches`): libseccomp's
 * names for the native architecture, which is what containers/common compares them against.
 */
export const LIBSECCOMP_ARCH_NAMES = [
  'x86',
  'amd64',
  'x32',
  'arm',
  'arm64',
  'mips',
  'mips64',
  'mips64n32',
  'mipsel',
  'mipsel64',
  'mipsel64n32',
  'ppc',
  'ppc64',
  'ppc64le',
  's390',
  's390x',
  'parisc',
  'parisc64',
  'riscv64',
  'loong64',
  'm68k',
  'sh',
  'sheb',
] as const;
export type LibseccompArchName = (typeof LIBSECCOMP_ARCH_NAMES)[number];

/** A syscall argument comparison; values are 64-bit unsigned, so they are bigints. */
export interface SeccompArg {
  index: number;
  value: bigint;
  valueTwo: bigint;
  op: SeccompOperator;
}

/** Conditions under which a rule applies to a container. */
export interface SeccompFilter {
  caps: string[];
  arches: string[];
  /** moby's "kernel.major" condition; containers/common (CRI-O) ignores it. */
  minKernel?: string;
}

export interface SeccompRule {
  name?: string;
  names?: string[];
  action: SeccompAction;
  errnoRet?: number;
  /** An errno by name or decimal number; containers/common prefers it to `errnoRet`. */
  errno?: string;
  args: SeccompArg[];
  comment?: string;
  includes: SeccompFilter;
  excludes: SeccompFilter;
}

export interface SeccompArchMapEntry {
  architecture: SeccompArchitecture;
  subArchitectures: SeccompArchitecture[];
}

export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  /** The default errno by name or decimal number; wins over `defaultErrnoRet` as in containers/common. */
  defaultErrno?: string;
  architectures: SeccompArchitecture[];
  archMap: SeccompArchMapEntry[];
  syscalls: SeccompRule[];
  flags: SeccompFlag[];
}

/** `linux.seccomp` of the OCI runtime spec, with optional members absent rather than empty. */
export interface RuntimeSpecSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: SeccompArchitecture[];
  flags?: SeccompFlag[];
  syscalls?: RuntimeSpecSyscall[];
}

export interface RuntimeSpecSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: RuntimeSpecArg[];
}

export interface RuntimeSpecArg {
  index: number;
  value: bigint;
  /** Absent when zero, as the runtime spec's Go struct writes it. */
  valueTwo?: bigint;
  op: SeccompOperator;
}
