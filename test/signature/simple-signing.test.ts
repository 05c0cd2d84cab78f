import { describe, expect, it } from 'vitest';
import { CandidateRejected } from '../../src/signature/errors.js';
import { buildSimpleSigningPayload, checkSimpleSigningPayload, repositoryPath } from '../../src/signature/simple-signing.js';

const digest = `sha256:${'a'.repeat(64)}`;
const other = `sha256:${'b'.repeat(64)}`;

function reasonOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof CandidateRejected ? error.reason : `unexpected ${String(error)}`;
  }
}

describe('simple-signing payload', () => {
  it('round-trips the digest cosign writes', () => {
    const payload = buildSimpleSigningPayload('127.0.0.1:5000/profiles/web', digest);
    const parsed = JSON.parse(payload.toString()) as { critical: { image: Record<string, string>; type: string } };
    expect(parsed.critical.image['docker-manifest-digest']).toBe(digest);
    expect(parsed.critical.type).toBe('cosign container image signature');
    expect(reasonOf(() => checkSimpleSigningPayload(payload, { digest, repository: 'profiles/web', dockerReference: 'repository' }))).toBeUndefined();
  });

  it('rejects a payload naming another digest', () => {
    const payload = buildSimpleSigningPayload('127.0.0.1:5000/profiles/web', other);
    expect(reasonOf(() => checkSimpleSigningPayload(payload, { digest, repository: 'profiles/web', dockerReference: 'ignore' }))).toBe(
      'payload-digest-mismatch',
    );
  });

  it('reads the spec example spelling Docker-manifest-digest', () => {
    const payload = Buffer.from(
      JSON.stringify({ critical: { identity: { 'docker-reference': 'x/y' }, image: { 'Docker-manifest-digest': digest }, type: 'cosign container image signature' } }),
    );
    expect(reasonOf(() => checkSimpleSigningPayload(payload, { digest, repository: 'x/y', dockerReference: 'repository' }))).toBeUndefined();
  });

  it('checks docker-reference by repository path, allowing another host (mirrors), unless ignored', () => {
    const payload = buildSimpleSigningPayload('mirror.example:443/profiles/web:v1', digest);
    expect(reasonOf(() => checkSimpleSigningPayload(payload, { digest, repository: 'profiles/web', dockerReference: 'repository' }))).toBeUndefined();
    expect(reasonOf(() => checkSimpleSigningPayload(payload, { digest, repository: 'profiles/db', dockerReference: 'repository' }))).toBe(
      'docker-reference-mismatch',
    );
    expect(reasonOf(() => checkSimpleSigningPayload(payload, { digest, repository: 'profiles/db', dockerReference: 'ignore' }))).toBeUndefined();
  });

  it('rejects payloads that are not cosign signatures', () => {
    expect(reasonOf(() => checkSimpleSigningPayload(Buffer.from('nope'), { digest, repository: 'a', dockerReference: 'ignore' }))).toBe(
      'invalid-signature-format',
    );
    const wrongType = Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': digest }, type: 'atomic container signature' } }));
    expect(reasonOf(() => checkSimpleSigningPayload(wrongType, { digest, repository: 'a', dockerReference: 'ignore' }))).toBe('invalid-signature-format');
  });

  it('reads the repository of docker references as the reference grammar does', () => {
    const hex = 'a'.repeat(64);
    expect(repositoryPath('127.0.0.1:5000/a/b:tag')).toBe('a/b');
    expect(repositoryPath(`localhost/a@sha256:${hex}`)).toBe('a');
    expect(repositoryPath('library/busybox:1')).toBe('library/busybox');
    expect(repositoryPath('docker.io/nginx:1.25')).toBe('library/nginx');
    expect(repositoryPath('busybox')).toBe('library/busybox');
    expect(repositoryPath(`registry.example/profiles/x@sha256:${hex}`)).toBe('profiles/x');
    expect(repositoryPath('Not A Reference')).toBeUndefined();
  });
});
