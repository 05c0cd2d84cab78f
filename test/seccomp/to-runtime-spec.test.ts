import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CONTAINERD_DEFAULT_CAPABILITIES,
  CRIO_DEFAULT_CAPABILITIES,
  parseProfile,
  ProfileError,
  renderRuntimeSpecProfile,
  toRuntimeSpec,
  type RuntimeSpecSeccomp,
} from '../../src/seccomp/index.js';

const fixture = (name: string) => readFileSync(new URL(`../../testbed/fixtures/${name}`, import.meta.url));
const defaultProfile = parseProfile(fixture('containers-common-default.json'), 'containers-common-default.json');

const namesOf = (spec: RuntimeSpecSeccomp) => (spec.syscalls ?? []).flatMap((s) => s.names);
const ruleFor = (spec: RuntimeSpecSeccomp, name: string) => spec.syscalls?.filter((s) => s.names.includes(name));

function convert(profile: object, target: { arch?: string; capabilities?: string[] } = {}) {
  return toRuntimeSpec(parseProfile(JSON.stringify(profile), 'test'), {
    arch: target.arch ?? 'amd64',
    capabilities: target.capabilities ?? [...CONTAINERD_DEFAULT_CAPABILITIES],
  });
}

describe('toRuntimeSpec on the containers/common default profile', () => {
  it('matches the expected file derived by hand for amd64 with containerd default capabilities', () => {
    const spec = toRuntimeSpec(defaultProfile, { arch: 'amd64', capabilities: CONTAINERD_DEFAULT_CAPABILITIES });
    const expected = JSON.parse(fixture('containers-common-default.amd64-containerd-defaults.expected.json').toString());
    expect(renderRuntimeSpecProfile(spec).toString()).toBe(JSON.stringify(expected));
  });

  it('gives a container with CAP_SYS_ADMIN a different rule set than one without', () => {
    const without = toRuntimeSpec(defaultProfile, { arch: 'amd64', capabilities: CONTAINERD_DEFAULT_CAPABILITIES });
    const withAdmin = toRuntimeSpec(defaultProfile, {
      arch: 'amd64',
      capabilities: [...CONTAINERD_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'],
    });
    // includes.caps CAP_SYS_ADMIN allows sethostname & co; excludes.caps CAP_SYS_ADMIN denies them otherwise.
    expect(ruleFor(withAdmin, 'sethostname')).toEqual([expect.objectContaining({ action: 'SCMP_ACT_ALLOW' })]);
    expect(ruleFor(without, 'sethostname')).toEqual([
      expect.objectContaining({ action: 'SCMP_ACT_ERRNO', errnoRet: 1 }),
    ]);
    // bpf is denied unless CAP_SYS_ADMIN or CAP_BPF is held (any listed capability excludes).
    expect(ruleFor(without, 'bpf')).toEqual([expect.objectContaining({ action: 'SCMP_ACT_ERRNO' })]);
    expect(ruleFor(withAdmin, 'bpf')).toEqual([expect.objectContaining({ action: 'SCMP_ACT_ALLOW' })]);
    expect(withAdmin.syscalls?.length).not.toBe(without.syscalls?.length);
  });

  it('follows the capability set it is given: CRI-O defaults lack CAP_SYS_CHROOT and CAP_AUDIT_WRITE', () => {
    const crio = toRuntimeSpec(defaultProfile, { arch: 'amd64', capabilities: CRIO_DEFAULT_CAPABILITIES });
    expect(ruleFor(crio, 'chroot')).toEqual([expect.objectContaining({ action: 'SCMP_ACT_ERRNO', errnoRet: 1 })]);
    // Without CAP_AUDIT_WRITE, netlink audit sockets get EINVAL (the rule's errno name EINVAL = 22).
    expect(ruleFor(crio, 'socket')?.map((s) => [s.action, s.errnoRet])).toContainEqual(['SCMP_ACT_ERRNO', 22]);
  });

  it('takes the archMap entry of the native architecture with its sub-architectures', () => {
    const arm64 = toRuntimeSpec(defaultProfile, { arch: 'arm64', capabilities: [] });
    expect(arm64.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    const s390x = toRuntimeSpec(defaultProfile, { arch: 's390x', capabilities: [] });
    expect(s390x.architectures).toEqual(['SCMP_ARCH_S390X', 'SCMP_ARCH_S390']);
  });

  it('leaves architectures out where containers/common has no archMap key (ppc64le, riscv64, 386)', () => {
    for (const arch of ['ppc64le', 'riscv64', '386']) {
      expect(toRuntimeSpec(defaultProfile, { arch, capabilities: [] }).architectures).toBeUndefined();
    }
  });

  it('filters rules by includes.arches against the native architecture', () => {
    const amd64 = namesOf(toRuntimeSpec(defaultProfile, { arch: 'amd64', capabilities: [] }));
    const arm64 = namesOf(toRuntimeSpec(defaultProfile, { arch: 'arm64', capabilities: [] }));
    const ppc = namesOf(toRuntimeSpec(defaultProfile, { arch: 'ppc64le', capabilities: [] }));
    expect(amd64).toContain('arch_prctl');
    expect(amd64).not.toContain('arm_fadvise64_64');
    expect(arm64).toContain('arm_fadvise64_64');
    expect(arm64).not.toContain('arch_prctl');
    expect(ppc).toContain('sync_file_range2');
    expect(amd64).not.toContain('sync_file_range2');
  });

  it('turns defaultErrno ENOSYS into defaultErrnoRet 38', () => {
    expect(toRuntimeSpec(defaultProfile, { arch: 'amd64', capabilities: [] }).defaultErrnoRet).toBe(38);
  });
});

describe('toRuntimeSpec rules', () => {
  const base = { defaultAction: 'SCMP_ACT_ALLOW' };

  it('drops a rule whose excludes.arches names the native architecture, keeps it elsewhere', () => {
    const profile = { ...base, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', excludes: { arches: ['arm64'] } }] };
    expect(convert(profile, { arch: 'arm64' }).syscalls).toBeUndefined();
    expect(namesOf(convert(profile, { arch: 'amd64' }))).toEqual(['mkdir']);
  });

  it('needs every capability of includes.caps but only one of excludes.caps', () => {
    const profile = {
      ...base,
      syscalls: [
        { names: ['both'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] } },
        { names: ['either'], action: 'SCMP_ACT_ERRNO', excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] } },
      ],
    };
    expect(namesOf(convert(profile, { capabilities: ['CAP_SYS_ADMIN'] }))).toEqual([]);
    expect(namesOf(convert(profile, { capabilities: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] }))).toEqual(['both']);
    expect(namesOf(convert(profile, { capabilities: [] }))).toEqual(['either']);
  });

  it('combines includes and excludes: both must let the rule through', () => {
    const profile = {
      ...base,
      syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', includes: { arches: ['amd64'] }, excludes: { caps: ['CAP_KILL'] } }],
    };
    expect(namesOf(convert(profile, { capabilities: [] }))).toEqual(['x']);
    expect(namesOf(convert(profile, { capabilities: ['CAP_KILL'] }))).toEqual([]);
    expect(namesOf(convert(profile, { arch: 'arm64', capabilities: [] }))).toEqual([]);
  });

  it('copies architectures, flags, errnoRet and args of a runtime-spec-form profile', () => {
    const spec = convert({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_AARCH64'],
      flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      syscalls: [
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }, { index: 1, value: 255, valueTwo: 3, op: 'SCMP_CMP_MASKED_EQ' }],
        },
      ],
    });
    // `architectures` is taken as given, even when it does not include the native one.
    expect(spec).toEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_AARCH64'],
      flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      syscalls: [
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          args: [
            { index: 0, value: 8n, op: 'SCMP_CMP_EQ' },
            { index: 1, value: 255n, valueTwo: 3n, op: 'SCMP_CMP_MASKED_EQ' },
          ],
        },
      ],
    });
  });

  it('prefers an errno name to errnoRet, as containers/common does', () => {
    const spec = convert({ ...base, syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', errno: 'EACCES', errnoRet: 1 }] });
    expect(spec.syscalls?.[0]?.errnoRet).toBe(13);
    const numeric = convert({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, defaultErrno: '95' });
    expect(numeric.defaultErrnoRet).toBe(95);
  });

  it('refuses an errno name on an architecture whose errno numbers it does not know', () => {
    const profile = parseProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrno: 'ENOSYS' }), 'ref');
    expect(() => toRuntimeSpec(profile, { arch: 'mips64le', capabilities: [] }, { source: 'ref' })).toThrow(ProfileError);
    expect(() => toRuntimeSpec(profile, { arch: 'mips64le', capabilities: [] }, { source: 'ref' })).toThrow(
      'seccomp profile from ref: defaultErrno: errno name ENOSYS has no known number on architecture mipsel64',
    );
  });

  it('rejects an unknown node architecture', () => {
    expect(() => toRuntimeSpec(defaultProfile, { arch: 'vax', capabilities: [] })).toThrow('unknown node architecture "vax"');
  });

  it('leaves syscalls out when no rule applies', () => {
    expect(convert({ defaultAction: 'SCMP_ACT_LOG' })).toEqual({ defaultAction: 'SCMP_ACT_LOG' });
  });
});

describe('minKernel', () => {
  const profile = parseProfile(
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['new'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.8' } },
        { names: ['old'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.8' } },
      ],
    }),
    'test',
  );
  const target = (kernelVersion?: string) => ({ arch: 'amd64', capabilities: [], kernelVersion });

  it('is ignored by default, as CRI-O (containers/common) does not know the field', () => {
    expect(namesOf(toRuntimeSpec(profile, target('4.19.0-1-amd64')))).toEqual(['new', 'old']);
    expect(namesOf(toRuntimeSpec(profile, target()))).toEqual(['new', 'old']);
  });

  it('compares with the running kernel when enforced, the way moby does', () => {
    const enforce = { minKernel: 'enforce' as const };
    expect(namesOf(toRuntimeSpec(profile, target('4.19.0-1-amd64'), enforce))).toEqual(['old']);
    expect(namesOf(toRuntimeSpec(profile, target('5.8'), enforce))).toEqual(['new']);
    expect(namesOf(toRuntimeSpec(profile, target('6.18.44-fc-v657'), enforce))).toEqual(['new']);
    expect(namesOf(toRuntimeSpec(profile, target('5.7.19'), enforce))).toEqual(['old']);
    expect(() => toRuntimeSpec(profile, target(), enforce)).toThrow('enforcing minKernel needs target.kernelVersion');
  });
});

describe('the three ways containerd mis-reads a Docker-format profile (notes/testbed.md)', () => {
  const profile = parseProfile(
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, includes: { caps: ['CAP_SYS_ADMIN'] } },
        { name: 'rmdir', action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      ],
    }),
    'test',
  );

  it('keeps archMap as the native architecture and its sub-architectures', () => {
    expect(toRuntimeSpec(profile, { arch: 'amd64', capabilities: [] }).architectures).toEqual([
      'SCMP_ARCH_X86_64',
      'SCMP_ARCH_X86',
      'SCMP_ARCH_X32',
    ]);
  });

  it('applies includes.caps only to containers holding the capability', () => {
    expect(namesOf(toRuntimeSpec(profile, { arch: 'amd64', capabilities: [...CONTAINERD_DEFAULT_CAPABILITIES] }))).toEqual([
      'rmdir',
    ]);
    expect(
      namesOf(toRuntimeSpec(profile, { arch: 'amd64', capabilities: [...CONTAINERD_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] })),
    ).toEqual(['mkdir', 'mkdirat', 'rmdir']);
  });

  it('turns a singular name into names', () => {
    const spec = toRuntimeSpec(profile, { arch: 'amd64', capabilities: [] });
    expect(spec.syscalls).toEqual([{ names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
  });
});
