import { describe, expect, it } from 'vitest';
import { criType } from '../../src/cri/proto.js';
import { seccompGate, type CriSeccompSecurityContext } from '../../src/annotations/index.js';

const type = criType('LinuxContainerSecurityContext');
const bytesOf = (fields: object) => type.encode(type.fromObject(fields)).finish();

/** As the proxy decodes a request: a protobufjs message, defaults on the prototype. */
function asMessage(fields: object): CriSeccompSecurityContext {
  return type.decode(bytesOf(fields)) as unknown as CriSeccompSecurityContext;
}

/** As toObject gives it with enums as names and no defaults: unset members absent. */
function asObject(fields: object): CriSeccompSecurityContext {
  return type.toObject(type.decode(bytesOf(fields)), { enums: String }) as CriSeccompSecurityContext;
}

describe.each([
  ['a decoded message', asMessage],
  ['a toObject result', asObject],
])('seccompGate on %s', (_form, decode) => {
  it('applies when the seccomp profile is absent and no deprecated path is set', () => {
    const sc = decode({ run_as_user: { value: 1000 } });
    expect(sc.seccomp ?? null).toBeNull();
    expect(seccompGate(sc)).toEqual({ apply: true });
  });

  it('applies for an explicit Unconfined', () => {
    expect(seccompGate(decode({ seccomp: { profile_type: 'Unconfined' } }))).toEqual({ apply: true });
  });

  it('does not apply for a present seccomp message with default type: that is RuntimeDefault', () => {
    const sc = decode({ seccomp: {} });
    expect(sc.seccomp).not.toBeNull();
    expect(sc.seccomp).toBeDefined();
    expect(seccompGate(sc)).toEqual({
      apply: false,
      reason: 'security context sets seccomp RuntimeDefault',
      privileged: false,
    });
  });

  it('does not apply for RuntimeDefault or Localhost', () => {
    expect(seccompGate(decode({ seccomp: { profile_type: 'RuntimeDefault' } })).apply).toBe(false);
    expect(seccompGate(decode({ seccomp: { profile_type: 'Localhost', localhost_ref: '/p.json' } }))).toEqual({
      apply: false,
      reason: 'security context sets seccomp Localhost "/p.json"',
      privileged: false,
    });
  });

  it('reads the deprecated path only when the seccomp message is absent', () => {
    expect(seccompGate(decode({ seccomp_profile_path: 'unconfined' }))).toEqual({ apply: true });
    for (const path of ['runtime/default', 'docker/default', 'localhost/p.json']) {
      expect(seccompGate(decode({ seccomp_profile_path: path }))).toEqual({
        apply: false,
        reason: `security context sets seccomp_profile_path "${path}"`,
        privileged: false,
      });
    }
    expect(seccompGate(decode({ seccomp: { profile_type: 'Unconfined' }, seccomp_profile_path: 'runtime/default' }))).toEqual({
      apply: true,
    });
    expect(seccompGate(decode({ seccomp: { profile_type: 'RuntimeDefault' }, seccomp_profile_path: 'unconfined' })).apply).toBe(
      false,
    );
  });

  it('does not apply to privileged containers, and says so', () => {
    expect(seccompGate(decode({ privileged: true, seccomp: { profile_type: 'Unconfined' } }))).toEqual({
      apply: false,
      reason: 'privileged container: it runs without seccomp',
      privileged: true,
    });
  });
});

describe('seccompGate edge cases', () => {
  it('no security context: CRI-O uses RuntimeDefault, so no annotation applies', () => {
    for (const sc of [undefined, null]) {
      expect(seccompGate(sc)).toEqual({
        apply: false,
        reason: 'no security context: CRI-O runs such a container with RuntimeDefault',
        privileged: false,
      });
    }
  });

  it('takes numeric enum values as well as names', () => {
    expect(seccompGate({ seccomp: { profile_type: 1 } })).toEqual({ apply: true });
    expect(seccompGate({ seccomp: { profile_type: 0 } }).apply).toBe(false);
    expect(seccompGate({ seccomp: { profile_type: 2 } }).apply).toBe(false);
    expect(seccompGate({ seccomp: { profile_type: 7 } })).toMatchObject({ apply: false, reason: 'security context sets seccomp unknown profile type 7' });
  });
});
