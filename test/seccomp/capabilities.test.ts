import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { criType } from '../../src/cri/proto.js';
import {
  ALL_CAPABILITIES,
  CONTAINERD_DEFAULT_CAPABILITIES,
  CRIO_DEFAULT_CAPABILITIES,
  effectiveCapabilities,
  normalizeCapability,
  type CriCapabilitySecurityContext,
} from '../../src/seccomp/index.js';

const DEFAULTS = CONTAINERD_DEFAULT_CAPABILITIES;
const withCaps = (add: string[], drop: string[] = []): CriCapabilitySecurityContext => ({
  capabilities: { add_capabilities: add, drop_capabilities: drop },
});

/** A security context as the proxy sees it: encoded by a client, decoded by protobufjs. */
function decoded(fields: object): CriCapabilitySecurityContext {
  const type = criType('LinuxContainerSecurityContext');
  return type.decode(type.encode(type.fromObject(fields)).finish()) as unknown as CriCapabilitySecurityContext;
}

describe('default capability lists', () => {
  it('containerd 1.6 CRI defaults: 14 capabilities including NET_RAW, SYS_CHROOT, AUDIT_WRITE', () => {
    expect(DEFAULTS).toHaveLength(14);
    expect(DEFAULTS).toEqual(expect.arrayContaining(['CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_AUDIT_WRITE', 'CAP_MKNOD']));
  });

  it('CRI-O defaults: 9 capabilities, a subset of containerd`s', () => {
    expect(CRIO_DEFAULT_CAPABILITIES).toHaveLength(9);
    for (const cap of CRIO_DEFAULT_CAPABILITIES) expect(DEFAULTS).toContain(cap);
    expect(CRIO_DEFAULT_CAPABILITIES).not.toContain('CAP_NET_RAW');
  });

  it('ALL_CAPABILITIES covers every capability this kernel has', () => {
    const lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    expect(ALL_CAPABILITIES.length).toBeGreaterThanOrEqual(lastCap + 1);
    expect(new Set(ALL_CAPABILITIES).size).toBe(ALL_CAPABILITIES.length);
  });
});

describe('effectiveCapabilities', () => {
  it('is the defaults when the security context or its capabilities are absent', () => {
    expect(effectiveCapabilities(DEFAULTS, undefined)).toEqual([...DEFAULTS]);
    expect(effectiveCapabilities(DEFAULTS, null)).toEqual([...DEFAULTS]);
    expect(effectiveCapabilities(DEFAULTS, { capabilities: null })).toEqual([...DEFAULTS]);
  });

  it('adds and drops named capabilities, case-insensitive, with or without CAP_', () => {
    const caps = effectiveCapabilities(DEFAULTS, withCaps(['sys_admin', 'CAP_NET_ADMIN', 'Bpf'], ['net_raw', 'CAP_MKNOD']));
    expect(caps).toEqual(expect.arrayContaining(['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_BPF', 'CAP_CHOWN']));
    expect(caps).not.toContain('CAP_NET_RAW');
    expect(caps).not.toContain('CAP_MKNOD');
    expect(caps).toHaveLength(DEFAULTS.length + 3 - 2);
  });

  it('drop ALL then add: only what is added', () => {
    expect(effectiveCapabilities(DEFAULTS, withCaps(['NET_BIND_SERVICE'], ['ALL']))).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(effectiveCapabilities(DEFAULTS, withCaps([], ['all']))).toEqual([]);
  });

  it('add ALL then drop: everything but what is dropped', () => {
    const caps = effectiveCapabilities(DEFAULTS, withCaps(['ALL'], ['CHOWN']));
    expect(caps).toHaveLength(ALL_CAPABILITIES.length - 1);
    expect(caps).not.toContain('CAP_CHOWN');
    expect(caps).toContain('CAP_SYS_ADMIN');
  });

  it('add ALL uses the node`s own list when given', () => {
    expect(effectiveCapabilities(DEFAULTS, withCaps(['ALL']), { all: ['CAP_CHOWN', 'CAP_KILL'] })).toEqual([
      'CAP_CHOWN',
      'CAP_KILL',
    ]);
  });

  it('add ALL and drop ALL together: drop wins, named additions still count', () => {
    expect(effectiveCapabilities(DEFAULTS, withCaps(['ALL', 'KILL'], ['ALL']))).toEqual(['CAP_KILL']);
  });

  it('a drop beats an add of the same capability', () => {
    expect(effectiveCapabilities([], withCaps(['SYS_ADMIN'], ['SYS_ADMIN']))).toEqual([]);
  });

  it('ignores ambient capabilities', () => {
    const sc = { capabilities: { add_ambient_capabilities: ['SYS_ADMIN'] } };
    expect(effectiveCapabilities(DEFAULTS, sc)).not.toContain('CAP_SYS_ADMIN');
  });

  it('reads a protobufjs-decoded security context', () => {
    expect(effectiveCapabilities(DEFAULTS, decoded({}))).toEqual([...DEFAULTS]);
    const caps = effectiveCapabilities(
      DEFAULTS,
      decoded({ capabilities: { add_capabilities: ['SYS_PTRACE'], drop_capabilities: ['ALL'] } }),
    );
    expect(caps).toEqual(['CAP_SYS_PTRACE']);
  });

  it('normalizes names', () => {
    expect(normalizeCapability('sys_admin')).toBe('CAP_SYS_ADMIN');
    expect(normalizeCapability('cap_kill')).toBe('CAP_KILL');
  });
});
