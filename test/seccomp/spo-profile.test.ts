import { describe, expect, it } from 'vitest';
import { isSpoDocument, parseSpoProfile, ProfileError, renderSpoProfile } from '../../src/seccomp/index.js';

const REF = 'registry.example/profiles/app:v1';

function spo(spec: string, head = 'apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile'): Buffer {
  return Buffer.from(`${head}\nmetadata:\n  name: app\nspec:\n${spec}`);
}

const SPEC = `  defaultAction: SCMP_ACT_ERRNO
  baseProfileName: oci://ghcr.io/security-profiles/runc:v1.1.5
  architectures: [SCMP_ARCH_X86_64]
  syscalls:
    - action: SCMP_ACT_ALLOW
      names: [uname, read]
    - action: SCMP_ACT_ERRNO
      errnoRet: 0
      names: [mkdir]
    - action: SCMP_ACT_ALLOW
      names: [personality]
      args:
        - value: 4294967295
          op: SCMP_CMP_EQ
        - index: 1
          value: -1
          op: SCMP_CMP_NE
`;

function failure(bytes: Buffer): string {
  try {
    parseSpoProfile(bytes, REF);
  } catch (error) {
    expect(error).toBeInstanceOf(ProfileError);
    return (error as Error).message;
  }
  throw new Error('expected a ProfileError');
}

describe('SPO SeccompProfile objects', () => {
  it('spec becomes the validated profile; errnoRet 0 means none, a missing index is 0, negative int64 values wrap as SPO converts them', () => {
    const read = parseSpoProfile(spo(SPEC), REF);
    expect(read.name).toBe('app');
    expect(read.baseProfileName).toBe('oci://ghcr.io/security-profiles/runc:v1.1.5');
    expect(read.profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(read.profile.architectures).toEqual(['SCMP_ARCH_X86_64']);
    expect(read.profile.syscalls.map((r) => [r.names, r.action, r.errnoRet])).toEqual([
      [['uname', 'read'], 'SCMP_ACT_ALLOW', undefined],
      [['mkdir'], 'SCMP_ACT_ERRNO', undefined],
      [['personality'], 'SCMP_ACT_ALLOW', undefined],
    ]);
    expect(read.profile.syscalls[2]?.args).toEqual([
      { index: 0, value: 4294967295n, valueTwo: 0n, op: 'SCMP_CMP_EQ' },
      { index: 1, value: 18446744073709551615n, valueTwo: 0n, op: 'SCMP_CMP_NE' },
    ]);
  });

  it.each(['v1', 'v1beta1', 'v1alpha1'])('apiVersion %s is read', (version) => {
    const bytes = spo('  defaultAction: SCMP_ACT_LOG', `apiVersion: security-profiles-operator.x-k8s.io/${version}\nkind: SeccompProfile`);
    expect(parseSpoProfile(bytes, REF).profile.defaultAction).toBe('SCMP_ACT_LOG');
  });

  it('other kinds and versions are refused by name', () => {
    expect(failure(spo('  policy: x', 'apiVersion: security-profiles-operator.x-k8s.io/v1alpha2\nkind: SelinuxProfile'))).toBe(
      `seccomp profile from ${REF}: kind: is a SelinuxProfile, not a SeccompProfile: only seccomp profiles can be applied`,
    );
    expect(failure(spo('  policy: x', 'apiVersion: security-profiles-operator.x-k8s.io/v1alpha1\nkind: AppArmorProfile'))).toMatch(/kind: is a AppArmorProfile, not a SeccompProfile/);
    expect(failure(spo('  defaultAction: SCMP_ACT_LOG', 'apiVersion: v1\nkind: SeccompProfile'))).toMatch(/apiVersion: "v1" is not one of security-profiles-operator.x-k8s.io\/v1, /);
    expect(failure(Buffer.from('apiVersion: security-profiles-operator.x-k8s.io/v1\nspec: {}\n'))).toMatch(/kind: is missing/);
    expect(failure(Buffer.from('apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\n'))).toMatch(/spec: is missing/);
  });

  it('the JSON rules apply to spec: NOTIFY, listeners and unknown actions are refused with their place', () => {
    expect(failure(spo('  defaultAction: SCMP_ACT_NOTIFY'))).toMatch(/SeccompProfile "app", spec\): defaultAction: SCMP_ACT_NOTIFY is not allowed/);
    expect(failure(spo('  defaultAction: SCMP_ACT_ALLOW\n  listenerPath: /run/agent.sock'))).toMatch(/listenerPath: is not allowed/);
    expect(failure(spo('  defaultAction: SCMP_ACT_ALLOW\n  syscalls:\n    - action: SCMP_ACT_MAYBE\n      names: [read]'))).toMatch(/syscalls\[0\]\.action: unknown action "SCMP_ACT_MAYBE"/);
    expect(failure(spo('  defaultAction: SCMP_ACT_ALLOW\n  syscalls:\n    - action: SCMP_ACT_NOTIFY\n      names: [read]'))).toMatch(/syscalls\[0\]\.action: SCMP_ACT_NOTIFY is not allowed/);
  });

  it('YAML that does not parse, duplicate keys and a non-string base are refused', () => {
    expect(failure(Buffer.from('kind: SeccompProfile\nspec: [unclosed\n'))).toMatch(/^seccomp profile from registry.example\/profiles\/app:v1: \(root\): not valid YAML: /);
    expect(failure(spo('  defaultAction: SCMP_ACT_ALLOW\n  defaultAction: SCMP_ACT_ERRNO'))).toMatch(/not valid YAML: .*[Mm]ap keys must be unique/);
    expect(failure(spo('  defaultAction: SCMP_ACT_ALLOW\n  baseProfileName: [a]'))).toMatch(/spec.baseProfileName: must be a string/);
  });

  it('tells SPO objects from CRI-O JSON by title or by content', () => {
    expect(isSpoDocument(Buffer.from('{"defaultAction":"SCMP_ACT_ALLOW"}'))).toBe(false);
    expect(isSpoDocument(Buffer.from('not json at all'))).toBe(false);
    expect(isSpoDocument(Buffer.from('{}'), 'profile-linux-amd64.yaml')).toBe(true);
    expect(isSpoDocument(spo('  defaultAction: SCMP_ACT_LOG'))).toBe(true);
    expect(isSpoDocument(Buffer.from('---\nkind: SeccompProfile\n'))).toBe(true);
    expect(isSpoDocument(Buffer.from('{"apiVersion":"security-profiles-operator.x-k8s.io/v1","kind":"SeccompProfile","spec":{}}'))).toBe(true);
    // JSON is YAML: an SPO object written as JSON reads the same.
    const json = Buffer.from(JSON.stringify({ apiVersion: 'security-profiles-operator.x-k8s.io/v1', kind: 'SeccompProfile', spec: { defaultAction: 'SCMP_ACT_LOG' } }));
    expect(parseSpoProfile(json, REF).profile.defaultAction).toBe('SCMP_ACT_LOG');
  });

  it('renders a profile read from SPO as runtime-spec JSON', () => {
    const rendered = JSON.parse(renderSpoProfile(parseSpoProfile(spo(SPEC), REF).profile).toString()) as Record<string, unknown>;
    expect(rendered).toEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { names: ['uname', 'read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 4294967295, op: 'SCMP_CMP_EQ' }, { index: 1, value: 18446744073709552000, op: 'SCMP_CMP_NE' }] },
      ],
    });
  });
});
