import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseProfile, ProfileError } from '../../src/seccomp/index.js';

const SOURCE = 'registry.example/profiles/app:v1';
const FIXTURE = new URL('../../testbed/fixtures/containers-common-default.json', import.meta.url);

function rejection(input: string | Buffer | object): ProfileError {
  const bytes = typeof input === 'string' || Buffer.isBuffer(input) ? input : JSON.stringify(input);
  try {
    parseProfile(bytes, SOURCE);
  } catch (error) {
    if (error instanceof ProfileError) return error;
    throw error;
  }
  throw new Error('expected the profile to be rejected');
}

/** A minimal valid profile with one rule that a case can break. */
function withRule(rule: Record<string, unknown>): object {
  return { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }, rule] };
}

describe('parseProfile accepts', () => {
  it('the containers/common default profile, typed', () => {
    const profile = parseProfile(readFileSync(FIXTURE), SOURCE);
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(38);
    expect(profile.defaultErrno).toBe('ENOSYS');
    expect(profile.archMap).toHaveLength(7);
    expect(profile.archMap[0]).toEqual({
      architecture: 'SCMP_ARCH_X86_64',
      subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    });
    expect(profile.syscalls).toHaveLength(40);
    expect(profile.syscalls[15]?.includes.caps).toEqual(['CAP_SYS_ADMIN']);
    expect(profile.syscalls[9]?.includes.arches).toEqual(['amd64', 'x32']);
    expect(profile.syscalls[2]?.args).toEqual([{ index: 0, value: 0n, valueTwo: 0n, op: 'SCMP_CMP_EQ' }]);
    expect(profile.syscalls[0]?.errno).toBe('EPERM');
  });

  it('a profile in runtime-spec form', () => {
    const profile = parseProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      }),
      SOURCE,
    );
    expect(profile.architectures).toEqual(['SCMP_ARCH_X86_64']);
    expect(profile.flags).toEqual(['SECCOMP_FILTER_FLAG_LOG']);
    expect(profile.syscalls[0]).toMatchObject({ names: ['mkdir', 'mkdirat'], errnoRet: 1 });
  });

  it('64-bit argument values exactly, null as absent, unknown members ignored', () => {
    const profile = parseProfile(
      '{"defaultAction":"SCMP_ACT_ALLOW","archMap":null,"future":1,"syscalls":[{"name":"ioctl","action":"SCMP_ACT_ERRNO",' +
        '"errnoRet":null,"comment":null,"includes":null,"args":[{"index":1,"value":18446744073709551615,' +
        '"valueTwo":18446744073709551615,"op":"SCMP_CMP_MASKED_EQ"}]}]}',
      SOURCE,
    );
    expect(profile.archMap).toEqual([]);
    expect(profile.syscalls[0]).toEqual({
      name: 'ioctl',
      action: 'SCMP_ACT_ERRNO',
      args: [{ index: 1, value: 18446744073709551615n, valueTwo: 18446744073709551615n, op: 'SCMP_CMP_MASKED_EQ' }],
      includes: { caps: [], arches: [] },
      excludes: { caps: [], arches: [] },
    });
  });

  it('a Buffer holding UTF-8, and minKernel conditions', () => {
    const profile = parseProfile(
      Buffer.from(JSON.stringify(withRule({ names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } }))),
      SOURCE,
    );
    expect(profile.syscalls[1]?.includes.minKernel).toBe('4.8');
  });
});

describe('parseProfile rejects, naming the source and the member', () => {
  it.each<[string, string | object, string, string]>([
    ['a non-object document', '[]', '(root)', 'must be a JSON object, not an array'],
    ['a missing defaultAction', { syscalls: [] }, 'defaultAction', 'is missing (without it CRI-O would run the container unconfined)'],
    ['an unknown defaultAction', { defaultAction: 'SCMP_ACT_DENY' }, 'defaultAction', 'unknown action "SCMP_ACT_DENY"'],
    [
      'SCMP_ACT_NOTIFY as default',
      { defaultAction: 'SCMP_ACT_NOTIFY' },
      'defaultAction',
      'SCMP_ACT_NOTIFY is not allowed: a profile from an artifact cannot bring a seccomp listener (KEP-6061)',
    ],
    [
      'SCMP_ACT_NOTIFY in a rule',
      withRule({ names: ['openat'], action: 'SCMP_ACT_NOTIFY' }),
      'syscalls[1].action',
      'SCMP_ACT_NOTIFY is not allowed',
    ],
    [
      'a listenerPath',
      { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' },
      'listenerPath',
      'is not allowed: a profile from an artifact cannot bring a seccomp listener (KEP-6061)',
    ],
    [
      'listenerMetadata',
      { defaultAction: 'SCMP_ACT_ALLOW', listenerMetadata: 'x' },
      'listenerMetadata',
      'is not allowed',
    ],
    ['an unknown rule action', withRule({ names: ['x'], action: 'ALLOW' }), 'syscalls[1].action', 'unknown action "ALLOW"'],
    ['a rule without action', withRule({ names: ['x'] }), 'syscalls[1].action', 'is missing'],
    ['a rule naming no syscall', withRule({ action: 'SCMP_ACT_ALLOW' }), 'syscalls[1]', "names no syscall: it needs 'name' or a non-empty 'names'"],
    ['a rule with empty names', withRule({ names: [], action: 'SCMP_ACT_ALLOW' }), 'syscalls[1]', 'names no syscall'],
    [
      'a rule with name and names',
      withRule({ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }),
      'syscalls[1]',
      "sets both 'name' and 'names'; use one of them (CRI-O refuses both)",
    ],
    ['an empty syscall name', withRule({ names: ['read', ''], action: 'SCMP_ACT_ALLOW' }), 'syscalls[1].names[1]', 'must not be empty'],
    ['a non-string syscall name', withRule({ names: [7], action: 'SCMP_ACT_ALLOW' }), 'syscalls[1].names[0]', 'must be a string, not the number 7'],
    ['errnoRet 0', withRule({ names: ['x'], action: 'SCMP_ACT_ERRNO', errnoRet: 0 }), 'syscalls[1].errnoRet', "0 is outside 1..4095 (the kernel's errno range)"],
    ['errnoRet 4096', withRule({ names: ['x'], action: 'SCMP_ACT_ERRNO', errnoRet: 4096 }), 'syscalls[1].errnoRet', '4096 is outside 1..4095'],
    ['a negative errnoRet', withRule({ names: ['x'], action: 'SCMP_ACT_ERRNO', errnoRet: -1 }), 'syscalls[1].errnoRet', 'must be a non-negative integer without fraction or exponent, not -1'],
    ['a fractional errnoRet', withRule({ names: ['x'], action: 'SCMP_ACT_ERRNO', errnoRet: 1.5 }), 'syscalls[1].errnoRet', 'not 1.5'],
    ['a string errnoRet', withRule({ names: ['x'], action: 'SCMP_ACT_ERRNO', errnoRet: '1' }), 'syscalls[1].errnoRet', 'must be a number, not the string "1"'],
    ['defaultErrnoRet 5000', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 5000 }, 'defaultErrnoRet', '5000 is outside 1..4095'],
    ['an unknown defaultErrno', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrno: 'ENOPE' }, 'defaultErrno', '"ENOPE" is not a known errno name or number'],
    ['a numeric defaultErrno out of range', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrno: '0' }, 'defaultErrno', '0 is outside the kernel\'s errno range 1..4095'],
    ['an unknown rule errno', withRule({ names: ['x'], action: 'SCMP_ACT_ERRNO', errno: 'EWHAT' }), 'syscalls[1].errno', '"EWHAT" is not a known errno name'],
    ['an unknown architecture', { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86', 'x86_64'] }, 'architectures[1]', 'unknown architecture "x86_64"'],
    ['SCMP_ARCH_NATIVE', { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_NATIVE'] }, 'architectures[0]', 'unknown architecture "SCMP_ARCH_NATIVE"'],
    [
      'an unknown sub-architecture',
      { defaultAction: 'SCMP_ACT_ALLOW', archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_I386'] }] },
      'archMap[0].subArchitectures[0]',
      'unknown architecture "SCMP_ARCH_I386"',
    ],
    ['an archMap entry without architecture', { defaultAction: 'SCMP_ACT_ALLOW', archMap: [{ subArchitectures: [] }] }, 'archMap[0].architecture', 'is missing'],
    [
      'architectures together with archMap',
      { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] },
      'archMap',
      "is set together with 'architectures'; use one of them (CRI-O refuses both)",
    ],
    ['an unknown flag', { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] }, 'flags[0]', 'unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"'],
    ['syscalls that is not an array', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: {} }, 'syscalls', 'must be an array, not an object'],
    ['a rule that is not an object', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: ['read'] }, 'syscalls[0]', 'must be a JSON object, not the string "read"'],
    ['an argument index above 5', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }), 'syscalls[1].args[0].index', '6 is outside 0..5 (a syscall has 6 arguments, 0 to 5)'],
    ['an argument without op', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1 }] }), 'syscalls[1].args[0].op', 'is missing'],
    ['an argument without index', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ value: 1, op: 'SCMP_CMP_EQ' }] }), 'syscalls[1].args[0].index', 'is missing'],
    ['an unknown operator', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_IN' }] }), 'syscalls[1].args[0].op', 'unknown operator "SCMP_CMP_IN"'],
    ['a value beyond 64 bits', '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551616,"op":"SCMP_CMP_EQ"}]}]}', 'syscalls[0].args[0].value', '18446744073709551616 does not fit in 64 bits'],
    ['a negative valueTwo', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, valueTwo: -1, op: 'SCMP_CMP_EQ' }] }), 'syscalls[1].args[0].valueTwo', 'must be a non-negative integer'],
    ['a lowercase capability', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['sys_admin'] } }), 'syscalls[1].includes.caps[0]', '"sys_admin" is not a capability name like "CAP_SYS_ADMIN" (matching is exact)'],
    ['an unknown filter architecture', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['x86_64'] } }), 'syscalls[1].excludes.arches[0]', 'unknown architecture name "x86_64"'],
    ['a malformed minKernel', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5' } }), 'syscalls[1].includes.minKernel', '"5" is not a kernel version like "5.8"'],
    ['includes that is not an object', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', includes: [] }), 'syscalls[1].includes', 'must be a JSON object, not an array'],
    ['a non-string comment', withRule({ names: ['x'], action: 'SCMP_ACT_ALLOW', comment: 3 }), 'syscalls[1].comment', 'must be a string, not the number 3'],
  ])('%s', (_case, input, path, problem) => {
    const error = rejection(input);
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
    expect(error.source).toBe(SOURCE);
    expect(error.message).toBe(`seccomp profile from ${SOURCE}: ${path}: ${error.problem}`);
    expect(error.position).toBeUndefined();
  });

  it('text that is not JSON, with line and column', () => {
    const error = rejection('{\n  "defaultAction": "SCMP_ACT_ERRNO",\n  "syscalls": [\n    {"names": ["read"] "action": "SCMP_ACT_ALLOW"}\n  ]\n}');
    expect(error.position).toEqual({ line: 4, column: 24 });
    expect(error.problem).toBe('unexpected character "\\"", expected "," or "}"');
    expect(error.message).toBe(
      `seccomp profile from ${SOURCE}: not valid JSON: unexpected character "\\"", expected "," or "}" at line 4, column 24`,
    );
  });

  it('a duplicated member, which would let the file mean two things', () => {
    const error = rejection('{"defaultAction": "SCMP_ACT_ERRNO", "defaultAction": "SCMP_ACT_ALLOW"}');
    expect(error.problem).toBe('duplicate key "defaultAction"');
    expect(error.position).toEqual({ line: 1, column: 37 });
  });

  it('bytes that are not UTF-8', () => {
    const error = rejection(Buffer.from([0x7b, 0xff, 0x7d]));
    expect(error.path).toBe('(root)');
    expect(error.problem).toBe('is not valid UTF-8');
  });
});
