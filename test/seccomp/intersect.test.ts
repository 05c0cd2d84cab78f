import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONTAINERD_DEFAULT_CAPABILITIES,
  intersectSeccomp,
  parseProfile,
  toRuntimeSpec,
  type RuntimeSpecArg,
  type RuntimeSpecSeccomp,
  type SeccompAction,
  type SeccompArchitecture,
  type SeccompOperator,
} from '../../src/seccomp/index.js';

/**
 * The test's own evaluator of a runtime-spec profile, written from the rules runc and libseccomp
 * apply, independently of the merge: the native architecture and the listed ones are filtered,
 * any other architecture is killed; an entry matches when all its conditions hold, or (runc) any
 * of them when an argument index repeats; of the matching entries the strictest action counts;
 * nothing matching, the default action.
 */
const STRICTNESS: SeccompAction[] = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
];
const strictness = (action: SeccompAction) => STRICTNESS.indexOf(action === 'SCMP_ACT_KILL' ? 'SCMP_ACT_KILL_THREAD' : action);
const NATIVE: SeccompArchitecture = 'SCMP_ARCH_X86_64';
const BAD_ARCH = 'bad architecture';

interface Invocation {
  name: string;
  arch: SeccompArchitecture;
  args: bigint[];
}

function holds(cond: RuntimeSpecArg, args: bigint[]): boolean {
  const v = args[cond.index] ?? 0n;
  const ops: Record<SeccompOperator, () => boolean> = {
    SCMP_CMP_NE: () => v !== cond.value,
    SCMP_CMP_LT: () => v < cond.value,
    SCMP_CMP_LE: () => v <= cond.value,
    SCMP_CMP_EQ: () => v === cond.value,
    SCMP_CMP_GE: () => v >= cond.value,
    SCMP_CMP_GT: () => v > cond.value,
    SCMP_CMP_MASKED_EQ: () => (v & cond.value) === (cond.valueTwo ?? 0n),
  };
  return ops[cond.op]();
}

function evaluate(spec: RuntimeSpecSeccomp, call: Invocation): SeccompAction | typeof BAD_ARCH {
  if (call.arch !== NATIVE && !(spec.architectures ?? []).includes(call.arch)) return BAD_ARCH;
  let result: SeccompAction | undefined;
  for (const entry of spec.syscalls ?? []) {
    if (!entry.names.includes(call.name)) continue;
    const args = entry.args ?? [];
    const repeated = new Set(args.map((a) => a.index)).size !== args.length;
    const matches = args.length === 0 || (repeated ? args.some((a) => holds(a, call.args)) : args.every((a) => holds(a, call.args)));
    if (matches && (result === undefined || strictness(entry.action) > strictness(result))) result = entry.action;
  }
  return result ?? spec.defaultAction;
}

const show = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
const allows = (action: SeccompAction | typeof BAD_ARCH) => action === 'SCMP_ACT_ALLOW' || action === 'SCMP_ACT_LOG';

const NAMES = ['read', 'write', 'mkdir', 'socket', 'personality'];
const VALUES = [0n, 1n, 2n, 8n, 40n, 100n, 2n ** 64n - 1n];
const ARCHES: SeccompArchitecture[] = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'];
const OPS: SeccompOperator[] = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
// EQ and ALLOW/LOG/ERRNO weigh more: they are what real profiles mostly say.
const actionArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<SeccompAction>('SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG') },
  { weight: 1, arbitrary: fc.constantFrom<SeccompAction>(...STRICTNESS, 'SCMP_ACT_KILL') },
);
const argArb: fc.Arbitrary<RuntimeSpecArg> = fc.record({
  index: fc.integer({ min: 0, max: 2 }),
  value: fc.constantFrom(...VALUES),
  valueTwo: fc.constantFrom(0n, 2n, 8n),
  op: fc.oneof({ weight: 3, arbitrary: fc.constant<SeccompOperator>('SCMP_CMP_EQ') }, { weight: 2, arbitrary: fc.constantFrom(...OPS) }),
});
const syscallArb = fc.record(
  {
    names: fc.subarray(NAMES, { minLength: 1, maxLength: 2 }),
    action: actionArb,
    errnoRet: fc.constantFrom(1, 22, 38),
    args: fc.array(argArb, { maxLength: 3 }),
  },
  { requiredKeys: ['names', 'action'] },
);
const profileArb: fc.Arbitrary<RuntimeSpecSeccomp> = fc.record(
  {
    defaultAction: actionArb,
    defaultErrnoRet: fc.constantFrom(1, 38),
    architectures: fc.subarray(ARCHES),
    flags: fc.subarray(['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'] as const),
    syscalls: fc.array(syscallArb, { maxLength: 6 }),
  },
  { requiredKeys: ['defaultAction'] },
);
const invocationArb: fc.Arbitrary<Invocation> = fc.record({
  name: fc.constantFrom(...NAMES, 'openat'),
  arch: fc.constantFrom(...ARCHES, NATIVE, NATIVE),
  args: fc.array(fc.oneof(fc.constantFrom(...VALUES), fc.bigInt({ min: 0n, max: 200n })), { minLength: 3, maxLength: 3 }),
});

describe('intersectSeccomp on generated profiles and invocations', () => {
  it('never allows what either input denies, and denies what both allow only where it reports a forced deny', () => {
    const counts = { invocations: 0, bothAllow: 0, forcedDenials: 0 };
    fc.assert(
      fc.property(profileArb, profileArb, fc.array(invocationArb, { minLength: 20, maxLength: 20 }), (base, art, calls) => {
        const { profile, report } = intersectSeccomp(base, art, { nativeArch: NATIVE });
        for (const call of calls) {
          counts.invocations++;
          const [b, a, r] = [evaluate(base, call), evaluate(art, call), evaluate(profile, call)];
          if (allows(r)) expect(allows(b) && allows(a), show({ call, b, a, r })).toBe(true);
          if (r === BAD_ARCH) {
            expect(b === BAD_ARCH || a === BAD_ARCH).toBe(true);
            continue;
          }
          expect(b).not.toBe(BAD_ARCH);
          expect(a).not.toBe(BAD_ARCH);
          const strictest = Math.max(strictness(b as SeccompAction), strictness(a as SeccompAction));
          if (allows(a) && allows(b)) counts.bothAllow++;
          if (report.forcedDeny.includes(call.name)) {
            expect(strictness(r)).toBeGreaterThanOrEqual(strictest);
            if (allows(a) && allows(b) && !allows(r)) counts.forcedDenials++;
          } else {
            // Not reported as forced: exactly the stricter of the two, no more.
            expect(strictness(r), show({ call, b, a, r })).toBe(strictest);
          }
        }
      }),
      { numRuns: 3000, seed: 6061 },
    );
    // The generated cases reach every branch that matters: both allowing, and a forced deny.
    expect(counts.bothAllow).toBeGreaterThan(1000);
    expect(counts.forcedDenials).toBeGreaterThan(0);
  });

  it('merges architectures, flags and default action as KEP-6061 says, whatever the order of inputs', () => {
    fc.assert(
      fc.property(profileArb, profileArb, (base, art) => {
        const { profile } = intersectSeccomp(base, art, { nativeArch: NATIVE });
        const swapped = intersectSeccomp(art, base, { nativeArch: NATIVE }).profile;
        expect(new Set(profile.architectures)).toEqual(new Set(swapped.architectures));
        expect(profile.architectures).toContain(NATIVE);
        for (const arch of profile.architectures ?? []) {
          expect(arch === NATIVE || ((base.architectures ?? []).includes(arch) && (art.architectures ?? []).includes(arch))).toBe(true);
        }
        const flags = profile.flags ?? [];
        const both = (f: string) => (base.flags ?? []).includes(f as never) && (art.flags ?? []).includes(f as never);
        const either = (f: string) => (base.flags ?? []).includes(f as never) || (art.flags ?? []).includes(f as never);
        expect(flags.includes('SECCOMP_FILTER_FLAG_SPEC_ALLOW')).toBe(both('SECCOMP_FILTER_FLAG_SPEC_ALLOW'));
        expect(flags.includes('SECCOMP_FILTER_FLAG_LOG')).toBe(either('SECCOMP_FILTER_FLAG_LOG'));
        expect(strictness(profile.defaultAction)).toBe(Math.max(strictness(base.defaultAction), strictness(art.defaultAction)));
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});

const common = parseProfile(
  readFileSync(new URL('../../testbed/fixtures/containers-common-default.json', import.meta.url)),
  'containers-common-default.json',
);
const commonSpec = toRuntimeSpec(common, { arch: 'amd64', capabilities: CONTAINERD_DEFAULT_CAPABILITIES });

describe('intersectSeccomp, the cases KEP-6061 spells out', () => {
  const allowWrite = (args: RuntimeSpecArg[]): RuntimeSpecSeccomp => ({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['write'], action: 'SCMP_ACT_ALLOW', args }],
  });

  it('denies write when one side allows arg0 > 2 and the other arg0 < 100: a range has no runtime-spec form', () => {
    const { profile, report } = intersectSeccomp(
      allowWrite([{ index: 0, value: 2n, op: 'SCMP_CMP_GT' }]),
      allowWrite([{ index: 0, value: 100n, op: 'SCMP_CMP_LT' }]),
      { nativeArch: NATIVE },
    );
    expect(report.forcedDeny).toEqual(['write']);
    expect(evaluate(profile, { name: 'write', arch: NATIVE, args: [50n] })).toBe('SCMP_ACT_ERRNO');
  });

  it('denies the whole syscall when leaving out an unmergeable pair would let a looser entry decide', () => {
    const base: RuntimeSpecSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['write'], action: 'SCMP_ACT_LOG', args: [{ index: 0, value: 2n, op: 'SCMP_CMP_GT' }] },
        { names: ['write'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 5n, op: 'SCMP_CMP_EQ' }] },
      ],
    };
    const { profile, report } = intersectSeccomp(base, allowWrite([{ index: 0, value: 100n, op: 'SCMP_CMP_LT' }]), {
      nativeArch: NATIVE,
    });
    // Both inputs let write(50, 5) through, the baseline only with LOG: never plain ALLOW.
    const call = { name: 'write', arch: NATIVE, args: [50n, 5n] };
    expect(evaluate(base, call)).toBe('SCMP_ACT_LOG');
    expect(evaluate(profile, call)).toBe('SCMP_ACT_ERRNO');
    expect(report.forcedDeny).toEqual(['write']);
  });

  it('conjoins conditions on different arguments and keeps identical ones', () => {
    const { profile, report } = intersectSeccomp(
      allowWrite([{ index: 0, value: 2n, op: 'SCMP_CMP_GT' }]),
      allowWrite([
        { index: 0, value: 2n, op: 'SCMP_CMP_GT' },
        { index: 1, value: 7n, op: 'SCMP_CMP_EQ' },
      ]),
      { nativeArch: NATIVE },
    );
    expect(report.forcedDeny).toEqual([]);
    expect(profile.syscalls).toEqual([
      {
        names: ['write'],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 0, value: 2n, op: 'SCMP_CMP_GT' },
          { index: 1, value: 7n, op: 'SCMP_CMP_EQ' },
        ],
      },
    ]);
  });

  it('reports nothing tightened for an artifact merged with itself, whatever the order of its conditions', () => {
    const artifact = allowWrite([
      { index: 2, value: 9n, op: 'SCMP_CMP_NE' },
      { index: 0, value: 16n, op: 'SCMP_CMP_EQ' },
    ]);
    expect(intersectSeccomp(artifact, artifact, { nativeArch: NATIVE }).report).toEqual({ tightened: [], forcedDeny: [], droppedArchitectures: [] });
  });

  it('takes errnoRet from the baseline when both sides say ERRNO, and from the stricter side otherwise', () => {
    const { profile } = intersectSeccomp(
      { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] },
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 38,
        syscalls: [
          { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 30 },
          { names: ['symlink'], action: 'SCMP_ACT_ERRNO', errnoRet: 30 },
        ],
      },
      { nativeArch: NATIVE },
    );
    expect(profile.defaultErrnoRet).toBe(1);
    expect(profile.syscalls).toEqual([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }]);
  });

  it('gives the containers/common default merged with itself the same decisions, nothing tightened', () => {
    const { profile, report } = intersectSeccomp(commonSpec, commonSpec, { nativeArch: NATIVE });
    expect(report).toEqual({ tightened: [], forcedDeny: [], droppedArchitectures: [] });
    expect(profile.architectures).toEqual(commonSpec.architectures);
    fc.assert(
      fc.property(invocationArb, fc.constantFrom(...(commonSpec.syscalls ?? []).flatMap((s) => s.names)), (call, name) => {
        const named = { ...call, name };
        expect(evaluate(profile, named)).toBe(evaluate(commonSpec, named));
      }),
      { numRuns: 2000, seed: 3 },
    );
  });

  it('lets an allow-everything artifact change nothing of the baseline on the native architecture', () => {
    const { profile, report } = intersectSeccomp(commonSpec, { defaultAction: 'SCMP_ACT_ALLOW' }, { nativeArch: NATIVE });
    expect(report.defaultAction).toEqual({ artifact: 'SCMP_ACT_ALLOW', result: 'SCMP_ACT_ERRNO' });
    expect(report.tightened).toContain('bpf');
    expect(report.tightened).not.toContain('read');
    expect(report.forcedDeny).toEqual([]);
    fc.assert(
      fc.property(invocationArb, fc.constantFrom('bpf', 'socket', 'personality', 'read', 'reboot'), (call, name) => {
        // The artifact lists no architecture, so like runc the merge keeps only the native one.
        const named = { ...call, name, arch: NATIVE };
        expect(evaluate(profile, named)).toBe(evaluate(commonSpec, named));
      }),
      { numRuns: 1000, seed: 4 },
    );
  });

  it('drops an architecture only one side lists, keeping the native one', () => {
    const { profile, report } = intersectSeccomp(
      { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'] },
      { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32'] },
      { nativeArch: NATIVE },
    );
    expect(profile.architectures).toEqual(['SCMP_ARCH_X86_64']);
    expect(report.droppedArchitectures).toEqual(['SCMP_ARCH_X32']);
  });
});
