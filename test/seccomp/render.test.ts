import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CONTAINERD_DEFAULT_CAPABILITIES,
  parseProfile,
  readJson,
  renderRuntimeSpecProfile,
  toRuntimeSpec,
  type RuntimeSpecSeccomp,
} from '../../src/seccomp/index.js';

describe('renderRuntimeSpecProfile', () => {
  it('writes members in the runtime spec`s order whatever order the object has', () => {
    const a: RuntimeSpecSeccomp = {
      syscalls: [{ args: [{ op: 'SCMP_CMP_EQ', value: 1n, index: 0 }], action: 'SCMP_ACT_ERRNO', names: ['x'], errnoRet: 1 }],
      architectures: ['SCMP_ARCH_X86_64'],
      defaultErrnoRet: 38,
      defaultAction: 'SCMP_ACT_ERRNO',
    };
    const b: RuntimeSpecSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 1n, op: 'SCMP_CMP_EQ' }] }],
    };
    expect(renderRuntimeSpecProfile(a).equals(renderRuntimeSpecProfile(b))).toBe(true);
    expect(renderRuntimeSpecProfile(a).toString()).toBe(
      '{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64"],' +
        '"syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}',
    );
  });

  it('writes 64-bit values exactly and leaves a zero valueTwo and empty lists out', () => {
    const text = renderRuntimeSpecProfile({
      defaultAction: 'SCMP_ACT_ALLOW',
      flags: [],
      syscalls: [
        {
          names: ['ioctl'],
          action: 'SCMP_ACT_ERRNO',
          args: [{ index: 1, value: 18446744073709551615n, valueTwo: 0n, op: 'SCMP_CMP_MASKED_EQ' }],
        },
      ],
    }).toString();
    expect(text).toBe(
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO",' +
        '"args":[{"index":1,"value":18446744073709551615,"op":"SCMP_CMP_MASKED_EQ"}]}]}',
    );
  });

  it('gives the same bytes, hence the same digest, for the same profile and container', () => {
    const bytes = readFileSync(new URL('../../testbed/fixtures/containers-common-default.json', import.meta.url));
    const digest = () => {
      const spec = toRuntimeSpec(parseProfile(bytes, 'fixture'), { arch: 'amd64', capabilities: CONTAINERD_DEFAULT_CAPABILITIES });
      return createHash('sha256').update(renderRuntimeSpecProfile(spec)).digest('hex');
    };
    expect(digest()).toBe(digest());
  });

  it('is JSON a runtime reads back as the same profile', () => {
    const spec: RuntimeSpecSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['a', 'b'], action: 'SCMP_ACT_ALLOW' }],
    };
    const reread = parseProfile(renderRuntimeSpecProfile(spec), 'rendered');
    expect(toRuntimeSpec(reread, { arch: 'amd64', capabilities: [] })).toEqual(spec);
    expect(readJson(renderRuntimeSpecProfile(spec).toString())).toBeInstanceOf(Map);
  });
});
