import { describe, expect, it } from 'vitest';
import { ArtifactError, formatReference, parseReference, registryApiHost } from '../../src/artifact/index.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference (distribution/reference normalization)', () => {
  it.each([
    ['ubuntu', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest' }],
    ['ubuntu:22.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' }],
    ['crio/seccomp:v2', { registry: 'docker.io', repository: 'crio/seccomp', tag: 'v2' }],
    ['docker.io/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest' }],
    ['index.docker.io/library/ubuntu:1', { registry: 'docker.io', repository: 'library/ubuntu', tag: '1' }],
    ['quay.io/crio/seccomp:v2', { registry: 'quay.io', repository: 'crio/seccomp', tag: 'v2' }],
    ['localhost/p', { registry: 'localhost', repository: 'p', tag: 'latest' }],
    ['localhost:5000/a/b/c:t', { registry: 'localhost:5000', repository: 'a/b/c', tag: 't' }],
    ['127.0.0.1:5000/p:v1', { registry: '127.0.0.1:5000', repository: 'p', tag: 'v1' }],
    ['[::1]:5000/p:v1', { registry: '[::1]:5000', repository: 'p', tag: 'v1' }],
    ['Registry.Example/p', { registry: 'Registry.Example', repository: 'p', tag: 'latest' }],
    ['example.com/a_b/c__d/e-f---g.h:T_1.x-y', { registry: 'example.com', repository: 'a_b/c__d/e-f---g.h', tag: 'T_1.x-y' }],
    [`example.com/p@${D}`, { registry: 'example.com', repository: 'p', digest: D }],
    [`example.com/p:v1@${D}`, { registry: 'example.com', repository: 'p', tag: 'v1', digest: D }],
    [`example.com/p@sha512:${'b'.repeat(128)}`, { registry: 'example.com', repository: 'p', digest: `sha512:${'b'.repeat(128)}` }],
  ])('%s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it.each([
    ['', 'empty reference'],
    ['Ubuntu', 'repository name must be lowercase'],
    ['example.com/Team/p', 'repository name must be lowercase'],
    ['a'.repeat(64), 'a 64-character hex string is an image ID, not a reference'],
    ['example.com/p:', 'does not match the reference grammar'],
    ['example.com/p:-tag', 'does not match the reference grammar'],
    [`example.com/p:${'t'.repeat(129)}`, 'does not match the reference grammar'],
    ['example.com//p', 'does not match the reference grammar'],
    ['example.com/p_', 'does not match the reference grammar'],
    ['exa_mple.com/p', '"exa_mple.com" is not a valid registry host'],
    [`example.com/p@sha256:${'A'.repeat(64)}`, 'sha256 digest must be 64 lowercase hex characters'],
    [`example.com/p@sha256:${'a'.repeat(63)}`, 'sha256 digest must be 64 lowercase hex characters'],
    [`example.com/p@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm "md5"'],
    [`example.com/${'a'.repeat(250)}`, 'name longer than 255 characters'],
  ])('rejects %j: %s', (input, why) => {
    let error: unknown;
    try {
      parseReference(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).reason).toBe('InvalidReference');
    expect((error as ArtifactError).message).toBe(`invalid reference "${input}": ${why}`);
  });

  it('formats the canonical form and knows Docker Hub API host', () => {
    expect(formatReference(parseReference('ubuntu'))).toBe('docker.io/library/ubuntu:latest');
    expect(formatReference(parseReference(`h:1/p:v@${D}`))).toBe(`h:1/p:v@${D}`);
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('quay.io')).toBe('quay.io');
  });
});
