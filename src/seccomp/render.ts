import type { RuntimeSpecArg, RuntimeSpecSeccomp, RuntimeSpecSyscall } from './types.js';

/**
 * The profile file for the node: compact JSON, members in the runtime spec's own order (the order
 * its Go structs marshal in), so equal profiles give equal bytes and the file can be named by digest.
 * 64-bit argument values are written exactly.
 */
export function renderRuntimeSpecProfile(spec: RuntimeSpecSeccomp): Buffer {
  const parts = [`"defaultAction":${JSON.stringify(spec.defaultAction)}`];
  if (spec.defaultErrnoRet !== undefined) parts.push(`"defaultErrnoRet":${integer(spec.defaultErrnoRet)}`);
  if (spec.architectures?.length) parts.push(`"architectures":${JSON.stringify(spec.architectures)}`);
  if (spec.flags?.length) parts.push(`"flags":${JSON.stringify(spec.flags)}`);
  if (spec.syscalls?.length) parts.push(`"syscalls":[${spec.syscalls.map(renderSyscall).join(',')}]`);
  return Buffer.from(`{${parts.join(',')}}`, 'utf8');
}

function renderSyscall(syscall: RuntimeSpecSyscall): string {
  const parts = [`"names":${JSON.stringify(syscall.names)}`, `"action":${JSON.stringify(syscall.action)}`];
  if (syscall.errnoRet !== undefined) parts.push(`"errnoRet":${integer(syscall.errnoRet)}`);
  if (syscall.args?.length) parts.push(`"args":[${syscall.args.map(renderArg).join(',')}]`);
  return `{${parts.join(',')}}`;
}

function renderArg(arg: RuntimeSpecArg): string {
  const parts = [`"index":${integer(arg.index)}`, `"value":${arg.value.toString()}`];
  if (arg.valueTwo !== undefined && arg.valueTwo !== 0n) parts.push(`"valueTwo":${arg.valueTwo.toString()}`);
  parts.push(`"op":${JSON.stringify(arg.op)}`);
  return `{${parts.join(',')}}`;
}

function integer(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${n} is not a non-negative integer`);
  return String(n);
}
