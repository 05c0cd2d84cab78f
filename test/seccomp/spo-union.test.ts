import { describe, expect, it } from 'vitest';
import { unionSyscalls, type SeccompAction, type SeccompArg, type SeccompRule } from '../../src/seccomp/index.js';

function rule(names: string[], action: SeccompAction, extra: { errnoRet?: number; args?: SeccompArg[] } = {}): SeccompRule {
  return { names, action, args: extra.args ?? [], includes: { caps: [], arches: [] }, excludes: { caps: [], arches: [] }, ...(extra.errnoRet !== undefined ? { errnoRet: extra.errnoRet } : {}) };
}

const arg = (index: number, value: bigint): SeccompArg => ({ index, value, valueTwo: 0n, op: 'SCMP_CMP_EQ' });

/** Name, action, errno and args of each rule: what the union decides. */
function summary(rules: SeccompRule[]): unknown[] {
  return rules.map((r) => ({ names: r.names, action: r.action, ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}), ...(r.args.length ? { args: r.args } : {}) }));
}

describe("unionSyscalls: SPO's UnionSyscalls (base on the left, the profile on the right)", () => {
  // The cases of SPO's internal/pkg/util/union_syscalls_test.go.
  it('both empty, one empty: one rule per name, sorted', () => {
    expect(unionSyscalls([], [])).toEqual([]);
    const abc = [rule(['a', 'b', 'c'], 'SCMP_ACT_ALLOW')];
    const split = [{ names: ['a'], action: 'SCMP_ACT_ALLOW' }, { names: ['b'], action: 'SCMP_ACT_ALLOW' }, { names: ['c'], action: 'SCMP_ACT_ALLOW' }];
    expect(summary(unionSyscalls([], abc))).toEqual(split);
    expect(summary(unionSyscalls(abc, []))).toEqual(split);
  });

  it('argument filters of both sides are combined', () => {
    const merged = unionSyscalls([rule(['a', 'b'], 'SCMP_ACT_ALLOW', { args: [arg(1, 2n)] })], [rule(['a', 'b'], 'SCMP_ACT_ALLOW', { args: [arg(2, 3n)] })]);
    expect(summary(merged)).toEqual([
      { names: ['a'], action: 'SCMP_ACT_ALLOW', args: [arg(1, 2n), arg(2, 3n)] },
      { names: ['b'], action: 'SCMP_ACT_ALLOW', args: [arg(1, 2n), arg(2, 3n)] },
    ]);
  });

  it('the less restrictive action wins; overlapping names are deduplicated', () => {
    expect(summary(unionSyscalls([rule(['a'], 'SCMP_ACT_ALLOW')], [rule(['a'], 'SCMP_ACT_LOG')]))).toEqual([{ names: ['a'], action: 'SCMP_ACT_ALLOW' }]);
    const merged = unionSyscalls(
      [rule(['a', 'b', 'c'], 'SCMP_ACT_ALLOW'), rule(['x', 'y'], 'SCMP_ACT_LOG')],
      [rule(['b', 'c', 'd'], 'SCMP_ACT_ALLOW'), rule(['x', 'y'], 'SCMP_ACT_LOG')],
    );
    expect(merged.map((r) => `${r.names?.join()}:${r.action}`)).toEqual(['a:SCMP_ACT_ALLOW', 'b:SCMP_ACT_ALLOW', 'c:SCMP_ACT_ALLOW', 'd:SCMP_ACT_ALLOW', 'x:SCMP_ACT_LOG', 'y:SCMP_ACT_LOG']);
  });

  it('a child may deny what its base allows only by not being merged: allow beats errno, whichever side has it', () => {
    expect(summary(unionSyscalls([rule(['mkdir'], 'SCMP_ACT_ALLOW')], [rule(['mkdir'], 'SCMP_ACT_ERRNO', { errnoRet: 1 })]))).toEqual([{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW' }]);
    expect(summary(unionSyscalls([rule(['mkdir'], 'SCMP_ACT_ERRNO', { errnoRet: 1 })], [rule(['mkdir'], 'SCMP_ACT_ALLOW')]))).toEqual([{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW' }]);
  });

  it('the errno travels with the winning action; a tie goes to the left (the base)', () => {
    expect(summary(unionSyscalls([rule(['a'], 'SCMP_ACT_KILL')], [rule(['a'], 'SCMP_ACT_ERRNO', { errnoRet: 38 })]))).toEqual([{ names: ['a'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    expect(summary(unionSyscalls([rule(['a'], 'SCMP_ACT_ERRNO', { errnoRet: 1 })], [rule(['a'], 'SCMP_ACT_ERRNO', { errnoRet: 38 })]))).toEqual([{ names: ['a'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
    expect(summary(unionSyscalls([rule(['a'], 'SCMP_ACT_KILL_THREAD')], [rule(['a'], 'SCMP_ACT_KILL')]))).toEqual([{ names: ['a'], action: 'SCMP_ACT_KILL_THREAD' }]);
  });

  it('a side without argument filters makes the rule unconditional', () => {
    expect(summary(unionSyscalls([rule(['a'], 'SCMP_ACT_ALLOW', { args: [arg(0, 1n)] })], [rule(['a'], 'SCMP_ACT_ALLOW')]))).toEqual([{ names: ['a'], action: 'SCMP_ACT_ALLOW' }]);
    expect(summary(unionSyscalls([rule(['a'], 'SCMP_ACT_ALLOW', { args: [arg(0, 1n)] })], [rule(['a'], 'SCMP_ACT_ALLOW', { args: [arg(0, 1n)] })]))).toEqual([
      { names: ['a'], action: 'SCMP_ACT_ALLOW', args: [arg(0, 1n)] },
    ]);
  });

  it('one list naming a syscall twice is folded the same way', () => {
    expect(summary(unionSyscalls([], [rule(['a'], 'SCMP_ACT_ERRNO'), rule(['a', 'b'], 'SCMP_ACT_TRACE')]))).toEqual([
      { names: ['a'], action: 'SCMP_ACT_TRACE' },
      { names: ['b'], action: 'SCMP_ACT_TRACE' },
    ]);
  });
});
