import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ArtifactError, parseReference } from '../../src/artifact/index.js';
import { MAX_CAUSE_CHARS, MAX_LOG_LINE_CHARS, MAX_VALUE_CHARS } from '../../src/log/bounded.js';
import { criType } from '../../src/cri/proto.js';
import { APPLIED_PROFILE_ANNOTATION, CREATE_CONTAINER, createContainerInjector } from '../../src/injector/index.js';
import type { ContainerImage, ContainerTarget, PreparedProfile } from '../../src/injector/ports.js';
import { createLogger, silentLogger, type Logger } from '../../src/log/logger.js';
import { SignatureError } from '../../src/signature/index.js';
import { NodeFileError } from '../../src/files/atomic-write.js';
import { parseProfile, ProfileError } from '../../src/seccomp/index.js';
import { createContainerRequest, type CreateContainerRequestOptions } from '../support/create-container-request.js';

const KEY = 'seccomp-profile.kubernetes.cri-o.io';
const REF = 'registry.example/profiles/app:v1';
const DIGEST = `sha256:${'a'.repeat(64)}`;



function decode(bytes: Buffer): Record<string, unknown> {
  const type = criType('CreateContainerRequest');
  return type.toObject(type.decode(bytes), { enums: String }) as Record<string, unknown>;
}

interface Fakes {
  logger?: Logger;
  handler?: string;
  imageAnnotations?: Record<string, string>;
  prepare?: (reference: string, target: ContainerTarget) => Promise<PreparedProfile>;
}

function injector(fakes: Fakes = {}) {
  const calls = { prepared: [] as { reference: string; target: ContainerTarget }[], imageReads: 0, images: [] as ContainerImage[] };
  const interceptor = createContainerInjector({
    settings: {
      defaultRuntime: 'runc',
      runtimes: { runc: { allowedAnnotations: [KEY] }, locked: { allowedAnnotations: [] } },
      defaultCapabilities: ['CAP_CHOWN', 'CAP_KILL'],
    },
    runtime: { sandboxHandler: async () => fakes.handler ?? '' },
    images: {
      annotationsOf: async (image) => {
        calls.imageReads += 1;
        calls.images.push(image);
        return fakes.imageAnnotations ?? {};
      },
    },
    profiles: {
      prepare: async (reference, target) => {
        calls.prepared.push({ reference, target });
        return fakes.prepare
          ? fakes.prepare(reference, target)
          : { path: '/var/lib/seccomp-oci-shim/profiles/x.json', manifestDigest: DIGEST, publishedLength: 42, applied: `${reference}@${DIGEST}` };
      },
    },
    logger: fakes.logger ?? silentLogger(),
  });
  const run = (message: Buffer) =>
    interceptor.intercept({ method: CREATE_CONTAINER, message, requestId: 'r-1', signal: new AbortController().signal });
  return { interceptor, run, calls };
}

describe('createContainerInjector', () => {
  it('intercepts CreateContainer only', () => {
    expect([...injector().interceptor.methods]).toEqual(['/runtime.v1.RuntimeService/CreateContainer']);
  });

  it('appends an override: Localhost with the prepared file, and an annotation naming reference and digest', async () => {
    const original = createContainerRequest({ podAnnotations: { [`${KEY}/app`]: REF } });
    const decision = await injector().run(original);
    expect(decision.action).toBe('forward');
    if (decision.action !== 'forward') return;
    expect(decision.message.subarray(0, original.length).equals(original)).toBe(true);
    const merged = decode(decision.message) as {
      config: { annotations: Record<string, string>; linux: { security_context: Record<string, unknown> } };
      sandbox_config: { annotations: Record<string, string> };
    };
    expect(merged.config.linux.security_context).toEqual({
      seccomp: { profile_type: 'Localhost', localhost_ref: '/var/lib/seccomp-oci-shim/profiles/x.json' },
      seccomp_profile_path: 'localhost//var/lib/seccomp-oci-shim/profiles/x.json',
    });
    expect(merged.config.annotations).toEqual({ [APPLIED_PROFILE_ANNOTATION]: `${REF}@${DIGEST}` });
    expect(merged.sandbox_config.annotations).toEqual({ [`${KEY}/app`]: REF });
  });

  it('passes the container its effective capabilities: runtime defaults plus adds, minus drops', async () => {
    const { run, calls } = injector();
    await run(
      createContainerRequest({
        podAnnotations: { [`${KEY}/POD`]: REF },
        securityContext: {
          seccomp: { profile_type: 'Unconfined' },
          capabilities: { add_capabilities: ['SYS_ADMIN'], drop_capabilities: ['KILL'] },
        },
      }),
    );
    expect(calls.prepared).toEqual([{ reference: REF, target: { capabilities: ['CAP_CHOWN', 'CAP_SYS_ADMIN'] } }]);
  });

  it.each([
    ['no annotation', {}],
    ['RuntimeDefault', { podAnnotations: { [`${KEY}/POD`]: REF }, securityContext: { seccomp: { profile_type: 'RuntimeDefault' } } }],
    ['Localhost', { podAnnotations: { [`${KEY}/POD`]: REF }, securityContext: { seccomp: { profile_type: 'Localhost', localhost_ref: '/p.json' } } }],
    ['privileged', { podAnnotations: { [`${KEY}/POD`]: REF }, securityContext: { privileged: true } }],
    ['an annotation for another container', { podAnnotations: { [`${KEY}/sidecar`]: REF } }],
  ] as [string, CreateContainerRequestOptions][])('%s: forwards the original bytes untouched', async (_label, options) => {
    const original = createContainerRequest(options);
    const { run, calls } = injector();
    expect(await run(original)).toEqual({ action: 'forward', message: original });
    expect(calls.prepared).toEqual([]);
  });

  it('a handler whose allowed_annotations are empty ignores the annotation and never reads the image', async () => {
    const original = createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: REF } });
    const { run, calls } = injector({ handler: 'locked', imageAnnotations: { [KEY]: REF } });
    expect(await run(original)).toEqual({ action: 'forward', message: original });
    expect(calls.imageReads).toBe(0);
  });

  it('reads image annotations only when no pod annotation decides', async () => {
    const fromImage = injector({ imageAnnotations: { [KEY]: 'registry.example/from-image:v1' } });
    await fromImage.run(createContainerRequest());
    expect(fromImage.calls.prepared.map((p) => p.reference)).toEqual(['registry.example/from-image:v1']);
    expect(fromImage.calls.imageReads).toBe(1);
    expect(fromImage.calls.images).toEqual([{ image: 'sha256:image', userSpecifiedImage: 'registry.example/app:v1' }]);

    const fromPod = injector({ imageAnnotations: { [KEY]: 'registry.example/from-image:v1' } });
    await fromPod.run(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: REF } }));
    expect(fromPod.calls.prepared.map((p) => p.reference)).toEqual([REF]);
    expect(fromPod.calls.imageReads).toBe(0);
  });

  it.each([
    [
      'registry down',
      new ArtifactError('RegistryUnavailable', `pulling "${REF}": connect ECONNREFUSED`),
      status.UNAVAILABLE,
      `RegistryUnavailable: container "app" in pod "prod/web": seccomp profile annotation ${KEY}/POD=${REF}: pulling "${REF}": connect ECONNREFUSED`,
    ],
    [
      'artifact missing',
      new ArtifactError('NotFound', `pulling "${REF}": manifest unknown (404)`),
      status.NOT_FOUND,
      `ErrImagePull: container "app" in pod "prod/web": seccomp profile annotation ${KEY}/POD=${REF}: pulling "${REF}": manifest unknown (404)`,
    ],
    [
      'signature rejected',
      new SignatureError({ reference: REF, digest: DIGEST, rule: 'default', rejections: [{ reason: 'no-signature', where: 'cosign signature tag', detail: 'no signature found' }] }),
      status.PERMISSION_DENIED,
      /^SignatureValidationFailed: container "app" in pod "prod\/web": seccomp profile annotation seccomp-profile\.kubernetes\.cri-o\.io\/POD=registry\.example\/profiles\/app:v1: /,
    ],
    [
      'profile invalid',
      new ProfileError(REF, 'syscalls[0].action', 'unknown action "SCMP_ACT_NOPE"'),
      status.INVALID_ARGUMENT,
      /^ErrImagePull: container "app" in pod "prod\/web": seccomp profile annotation .*\/POD=registry\.example\/profiles\/app:v1: .*syscalls\[0\]\.action.*SCMP_ACT_NOPE/,
    ],
    [
      'profile nested too deep',
      (() => {
        try {
          parseProfile(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, REF);
        } catch (error) {
          return error as Error;
        }
        throw new Error('a 100k-deep document was accepted');
      })(),
      status.INVALID_ARGUMENT,
      /^ErrImagePull: container "app" in pod "prod\/web": seccomp profile annotation .*: not valid JSON: nesting deeper than 64 levels at line 1, column 66$/,
    ],
    [
      'node disk full',
      new NodeFileError('writing the converted seccomp profile under /var/lib/seccomp-oci-shim/profiles', Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC' })),
      status.UNKNOWN,
      `CreateContainerError: container "app" in pod "prod/web": seccomp profile annotation ${KEY}/POD=${REF}: writing the converted seccomp profile under /var/lib/seccomp-oci-shim/profiles: no space left on the device (ENOSPC)`,
    ],
  ] as [string, Error, number, string | RegExp][])('%s fails the call closed with a message naming container, annotation and cause', async (_label, error, code, message) => {
    const { run } = injector({ prepare: async () => Promise.reject(error) });
    const decision = await run(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: REF } }));
    expect(decision.action).toBe('reject');
    if (decision.action !== 'reject') return;
    expect(decision.code).toBe(code);
    if (typeof message === 'string') expect(decision.message).toBe(message);
    else expect(decision.message).toMatch(message);
  });

  it('says in the log that a privileged container ignores its annotation, and stays quiet for other privileged ones', async () => {
    const lines: { msg: string; id?: string; name?: string }[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    const { run } = injector({ logger });
    await run(createContainerRequest({ securityContext: { privileged: true } }));
    expect(lines).toEqual([]);
    await run(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: REF }, securityContext: { privileged: true } }));
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'Privileged container runs without seccomp: its seccomp profile annotation is ignored',
        id: 'r-1',
        name: CREATE_CONTAINER,
      }),
    ]);
  });

  it('bounds a 200 KB annotation value in every log line and in the error: no line over 16 KiB, one name key per line', async () => {
    const raw: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void raw.push(line) } });
    const hostile = `registry.example/${'a'.repeat(200_000)}:v1`;
    const { run } = injector({ logger, prepare: async (reference) => Promise.reject(catchError(() => parseReference(reference))) });
    const decision = await run(createContainerRequest({ podAnnotations: { [`${KEY}/POD`]: hostile } }));
    expect(decision.action).toBe('reject');
    if (decision.action !== 'reject') return;
    expect(decision.message).toMatch(/^InvalidImageName: container "app" in pod "prod\/web": seccomp profile annotation /);
    expect(decision.message).toContain(`...[${hostile.length - MAX_VALUE_CHARS} more characters]`);
    expect(decision.message.length).toBeLessThan(MAX_VALUE_CHARS * 3 + MAX_CAUSE_CHARS + 400);
    expect(raw.length).toBeGreaterThanOrEqual(3);
    for (const line of raw) {
      expect(line.length).toBeLessThanOrEqual(MAX_LOG_LINE_CHARS);
      expect(line.match(/"name":/g)).toHaveLength(1);
      expect(JSON.parse(line)).toMatchObject({ name: CREATE_CONTAINER, id: 'r-1' });
    }
    expect(raw.join('').length).toBeLessThan(12 * 1024);
  });
});

function catchError(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}
