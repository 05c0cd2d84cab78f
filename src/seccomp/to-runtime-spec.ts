import { archMapKey, libseccompArchName } from './arch.js';
import { errnoNumber } from './errno.js';
import { kernelAtLeast, parseKernelVersion, type KernelVersion } from './kernel-version.js';
import { ProfileError } from './profile-error.js';
import type {
  LibseccompArchName,
  RuntimeSpecSeccomp,
  RuntimeSpecSyscall,
  SeccompArchitecture,
  SeccompFilter,
  SeccompProfile,
  SeccompRule,
} from './types.js';

/** The container a profile is converted for. */
export interface ConversionTarget {
  /** The node's OCI/Go architecture name: amd64, arm64, s390x, ... */
  arch: string;
  /** The container's capabilities as `CAP_*` names (see effectiveCapabilities). */
  capabilities: readonly string[];
  /** The running kernel's release, e.g. os.release(); needed only when minKernel is enforced. */
  kernelVersion?: string;
}

export interface ConversionOptions {
  /**
   * What a rule's `minKernel` condition does. CRI-O's converter (containers/common) does not know
   * the field and keeps such rules whatever the kernel: 'ignore', the default. 'enforce' applies
   * moby's meaning (includes: kernel >= minKernel; excludes: kernel < minKernel).
   */
  minKernel?: 'ignore' | 'enforce';
  /** Names the profile in errors, like parseProfile's `source`. */
  source?: string;
}

/**
 * Converts a validated profile into the runtime-spec `linux.seccomp` object CRI-O would hand its
 * runtime for this container, following containers/common's setupSeccomp: the `archMap` entry of
 * the native architecture, rules filtered by `includes`/`excludes` on architecture and capabilities,
 * `name` turned into `names`, errno names turned into numbers.
 */
export function toRuntimeSpec(
  profile: SeccompProfile,
  target: ConversionTarget,
  options: ConversionOptions = {},
): RuntimeSpecSeccomp {
  const source = options.source ?? 'seccomp profile';
  const native = libseccompArchName(target.arch);
  const kernel = options.minKernel === 'enforce' ? runningKernel(target) : undefined;
  const spec: RuntimeSpecSeccomp = { defaultAction: profile.defaultAction };

  const defaultErrnoRet = errnoFor(profile.defaultErrno, profile.defaultErrnoRet, native, source, 'defaultErrno');
  if (defaultErrnoRet !== undefined) spec.defaultErrnoRet = defaultErrnoRet;

  const architectures = architecturesFor(profile, native);
  if (architectures.length > 0) spec.architectures = architectures;
  if (profile.flags.length > 0) spec.flags = [...profile.flags];

  const syscalls: RuntimeSpecSyscall[] = [];
  profile.syscalls.forEach((rule, index) => {
    if (!ruleApplies(rule, native, target.capabilities, kernel)) return;
    syscalls.push(specSyscall(rule, native, source, `syscalls[${index}]`));
  });
  if (syscalls.length > 0) spec.syscalls = syscalls;
  return spec;
}

function runningKernel(target: ConversionTarget): KernelVersion {
  if (target.kernelVersion === undefined) {
    throw new Error('enforcing minKernel needs target.kernelVersion (the running kernel release)');
  }
  return parseKernelVersion(target.kernelVersion);
}

/** `architectures` as given, or the native architecture's `archMap` entry with its sub-architectures. */
function architecturesFor(profile: SeccompProfile, native: LibseccompArchName): SeccompArchitecture[] {
  if (profile.architectures.length > 0) return [...profile.architectures];
  const key = archMapKey(native);
  const entry = key === undefined ? undefined : profile.archMap.find((e) => e.architecture === key);
  return entry ? [entry.architecture, ...entry.subArchitectures] : [];
}

/**
 * containers/common's filter: an `excludes` condition that matches drops the rule, any capability
 * listed is enough; an `includes` condition must match entirely, every capability listed present.
 */
function ruleApplies(
  rule: SeccompRule,
  native: LibseccompArchName,
  capabilities: readonly string[],
  kernel: KernelVersion | undefined,
): boolean {
  const { excludes, includes } = rule;
  if (excludes.arches.includes(native)) return false;
  if (excludes.caps.some((cap) => capabilities.includes(cap))) return false;
  if (kernel && excludes.minKernel !== undefined && kernelAtLeast(kernel, minimum(excludes))) return false;
  if (includes.arches.length > 0 && !includes.arches.includes(native)) return false;
  if (!includes.caps.every((cap) => capabilities.includes(cap))) return false;
  if (kernel && includes.minKernel !== undefined && !kernelAtLeast(kernel, minimum(includes))) return false;
  return true;
}

function minimum(filter: SeccompFilter): KernelVersion {
  return parseKernelVersion(filter.minKernel as string);
}

function specSyscall(rule: SeccompRule, native: LibseccompArchName, source: string, path: string): RuntimeSpecSyscall {
  const syscall: RuntimeSpecSyscall = {
    names: rule.name !== undefined ? [rule.name] : [...(rule.names ?? [])],
    action: rule.action,
  };
  const errnoRet = errnoFor(rule.errno, rule.errnoRet, native, source, `${path}.errno`);
  if (errnoRet !== undefined) syscall.errnoRet = errnoRet;
  if (rule.args.length > 0) {
    syscall.args = rule.args.map((arg) => ({
      index: arg.index,
      value: arg.value,
      ...(arg.valueTwo !== 0n ? { valueTwo: arg.valueTwo } : {}),
      op: arg.op,
    }));
  }
  return syscall;
}

/** containers/common's getErrno: the errno given by name or number wins over the numeric field. */
function errnoFor(
  errno: string | undefined,
  fallback: number | undefined,
  native: LibseccompArchName,
  source: string,
  path: string,
): number | undefined {
  if (errno === undefined) return fallback;
  const number = errnoNumber(errno, native);
  if (number === undefined) {
    throw new ProfileError(source, path, `errno name ${errno} has no known number on architecture ${native}`);
  }
  return number;
}
