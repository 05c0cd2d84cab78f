import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { errnoNumber, knownErrnoNames } from '../../src/seccomp/index.js';

describe('errnoNumber', () => {
  it('agrees with the numbers Node reports for this Linux machine', () => {
    const host = constants.errno as Record<string, number>;
    const shared = knownErrnoNames().filter((name) => name in host);
    expect(shared.length).toBeGreaterThan(70);
    for (const name of shared) expect([name, errnoNumber(name)]).toEqual([name, host[name]]);
  });

  it('reads decimal numbers and the names containers/common profiles use', () => {
    expect(errnoNumber('ENOSYS')).toBe(38);
    expect(errnoNumber('EPERM')).toBe(1);
    expect(errnoNumber('EINVAL')).toBe(22);
    expect(errnoNumber('38')).toBe(38);
    expect(errnoNumber('ENOPE')).toBeUndefined();
  });

  it('knows where architectures differ', () => {
    expect(errnoNumber('EDEADLOCK', 'amd64')).toBe(35);
    expect(errnoNumber('EDEADLOCK', 'ppc64le')).toBe(58);
    expect(errnoNumber('ENOSYS', 'mips64')).toBeUndefined();
    expect(errnoNumber('89', 'mips64')).toBe(89);
  });
});
