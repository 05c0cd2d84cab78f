import { describe, expect, it } from 'vitest';
import { policyProblems, prefixMatches, selectRule, type SignaturePolicy } from '../../src/signature/policy.js';

const policy: SignaturePolicy = {
  default: { mode: 'none' },
  rules: [
    { prefix: 'registry.example', mode: 'required', keys: ['/k/registry.pub'] },
    { prefix: 'registry.example/profiles', mode: 'required', keys: ['/k/profiles.pub'] },
    { prefix: 'registry.example/profiles/open/', mode: 'none' },
    { prefix: '127.0.0.1:5000/signed', mode: 'required', keys: ['/k/local.pub'] },
  ],
};

describe('selectRule', () => {
  it('picks the longest prefix that matches on path-component boundaries', () => {
    expect(selectRule(policy, 'registry.example', 'profiles/nginx').name).toBe('registry.example/profiles');
    expect(selectRule(policy, 'registry.example', 'profiles/open/x').name).toBe('registry.example/profiles/open');
    expect(selectRule(policy, 'registry.example', 'other/thing').name).toBe('registry.example');
    expect(selectRule(policy, '127.0.0.1:5000', 'signed').name).toBe('127.0.0.1:5000/signed');
  });

  it('does not match a prefix in the middle of a component', () => {
    expect(selectRule(policy, 'registry.example', 'profiles2/x').name).toBe('registry.example');
    expect(selectRule(policy, 'registry.example.evil', 'profiles/x').name).toBe('default');
    expect(selectRule(policy, '127.0.0.1:5000', 'signedx').name).toBe('default');
    expect(prefixMatches('a/b', 'a/bc')).toBe(false);
    expect(prefixMatches('a/b/', 'a/b/c')).toBe(true);
  });

  it('falls back to the default rule', () => {
    const rule = selectRule(policy, 'docker.io', 'library/busybox');
    expect(rule.name).toBe('default');
    expect(rule.settings.mode).toBe('none');
  });
});

describe('policyProblems', () => {
  it('accepts a valid policy', () => {
    expect(policyProblems(policy)).toEqual([]);
  });

  it('names each problem with its configuration key', () => {
    const problems = policyProblems({
      default: { mode: 'required' },
      rules: [
        { prefix: 'a', mode: 'required', identities: [{ issuer: 'https://issuer' }] },
        { prefix: 'a/', mode: 'none' },
        { prefix: 'b', mode: 'required', keys: ['/k'], requireTlog: true },
        { prefix: 'c', mode: 'required', trustedRoot: '/r', identities: [{ issuer: 'i', subjectPattern: '(' }] },
        { prefix: '', mode: 'none' },
        { prefix: 'd', mode: 'sometimes' as 'none' },
      ],
    });
    expect(problems).toEqual([
      'shim.signature.default: mode "required" needs at least one entry in keys or identities',
      'shim.signature.rules[0].trusted_root: keyless identities need a trusted root file',
      'shim.signature.rules[0].identities[0]: needs subject or subject_pattern',
      'shim.signature.rules[1].prefix: "a" is already used by shim.signature.rules[0]',
      'shim.signature.rules[2].trusted_root: require_tlog and require_timestamp need a trusted root file',
      expect.stringMatching(/^shim\.signature\.rules\[3\]\.identities\[0\]\.subject_pattern: not a valid regular expression/),
      'shim.signature.rules[4].prefix: must name a registry or repository',
      'shim.signature.rules[5].mode: expected "none" or "required", got "sometimes"',
    ]);
  });
});
