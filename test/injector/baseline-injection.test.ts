import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/index.js';
import { criType } from '../../src/cri/proto.js';
import { baselineMessage, loadBaselines } from '../../src/injector/baselines.js';
import { APPLIED_BASELINE_ANNOTATION, APPLIED_PROFILE_ANNOTATION, CREATE_CONTAINER, createContainerInjector } from '../../src/injector/create-container.js';
import { createProfilePreparer } from '../../src/injector/prepare-profile.js';
import { ProfileFiles } from '../../src/injector/profile-files.js';
import { createLogger } from '../../src/log/logger.js';
import type { RuntimeHandlerSettings } from '../../src/config/settings.js';
import { createContainerRequest } from '../support/create-container-request.js';

const KEY = 'seccomp-profile.kubernetes.cri-o.io';
const REF = 'registry.example/profiles/app:v1';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const CAPS = ['CAP_CHOWN', 'CAP_KILL'];

const BASELINE = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['symlink', 'symlinkat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};
const ARTIFACT = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shim-baseline-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const target = path.join(dir, name);
  writeFileSync(target, content);
  return target;
}


function decode(bytes: Buffer) {
  const type = criType('CreateContainerRequest');
  return type.toObject(type.decode(bytes), { enums: String }) as {
    config: { annotations?: Record<string, string>; linux: { security_context: { seccomp?: { localhost_ref?: string } } } };
  };
}

/** The real preparer and injector, a fake registry, and the runc handler configured as given. */
function shim(runc: Omit<RuntimeHandlerSettings, 'allowedAnnotations'>) {
  const settings = {
    defaultRuntime: 'runc',
    runtimes: { runc: { allowedAnnotations: [KEY], ...runc }, other: { allowedAnnotations: [KEY] } },
    defaultCapabilities: CAPS,
  };
  const baselines = loadBaselines(settings, 'amd64');
  const lines: { msg: string; level: number; tightened?: string[] }[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  const profiles = createProfilePreparer({
    artifacts: {
      pullProfile: async () => ({ registry: 'registry.example', repository: 'profiles/app', manifestDigest: DIGEST, bytes: Buffer.from(JSON.stringify(ARTIFACT)) }),
    },
    signatures: { verifyArtifact: async () => ({}) },
    files: new ProfileFiles(dir),
    node: { arch: 'amd64', kernelVersion: '6.1.0' },
    cacheEntries: 10,
  });
  const interceptor = createContainerInjector({
    settings,
    runtime: { sandboxHandler: async () => 'runc' },
    images: { annotationsOf: async () => ({}) },
    profiles,
    logger,
    baselines,
  });
  const run = async (securityContext: Record<string, unknown>) => {
    const decision = await interceptor.intercept({ method: CREATE_CONTAINER, message: createContainerRequest({ securityContext, podAnnotations: { [`${KEY}/POD`]: REF } }), requestId: 'r-1', signal: new AbortController().signal });
    if (decision.action !== 'forward') throw new Error(`rejected: ${JSON.stringify(decision)}`);
    const sent = decode(decision.message);
    const ref = sent.config.linux.security_context.seccomp?.localhost_ref;
    return { sent, profile: ref?.startsWith(dir) ? JSON.parse(readFileSync(ref, 'utf8')) : undefined };
  };
  return { run, lines };
}

describe('an annotated profile with a baseline', () => {
  it('gives an Unconfined container the intersection, says so in one log line and in the audit annotation', async () => {
    const baseline = file('baseline.json', JSON.stringify(BASELINE));
    const { run, lines } = shim({ baselineProfile: baseline });
    const { sent, profile } = await run({ seccomp: { profile_type: 'Unconfined' } });
    expect(profile.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(profile.syscalls).toEqual([{ names: ['mkdir', 'mkdirat', 'symlink', 'symlinkat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
    expect(sent.config.annotations?.[APPLIED_PROFILE_ANNOTATION]).toBe(`${REF}@${DIGEST}`);
    expect(sent.config.annotations?.[APPLIED_BASELINE_ANNOTATION]).toMatch(new RegExp(`^${baseline}@sha256:[0-9a-f]{64}$`));
    const said = lines.filter((line) => line.msg.startsWith('Seccomp baseline'));
    expect(said).toEqual([
      expect.objectContaining({
        level: 40,
        msg: `Seccomp baseline ${baseline} tightened the artifact's profile: 2 syscalls restricted beyond the artifact's rules: symlink, symlinkat`,
        tightened: ['symlink', 'symlinkat'],
      }),
    ]);
  });

  it('cannot be loosened by an artifact that allows everything', async () => {
    ARTIFACT.syscalls = [];
    try {
      const { run } = shim({ baselineProfile: file('baseline.json', JSON.stringify(BASELINE)) });
      const { profile } = await run({ seccomp: { profile_type: 'Unconfined' } });
      expect(profile.syscalls).toEqual([{ names: ['symlink', 'symlinkat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
    } finally {
      ARTIFACT.syscalls = [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }];
    }
  });

  it('applies to RuntimeDefault containers only with apply_to_runtime_default', async () => {
    const baselineProfile = file('baseline.json', JSON.stringify(BASELINE));
    const without = await shim({ baselineProfile }).run({ seccomp: { profile_type: 'RuntimeDefault' } });
    expect(without.sent.config.annotations?.[APPLIED_PROFILE_ANNOTATION]).toBeUndefined();
    expect(without.sent.config.linux.security_context.seccomp).toEqual({ profile_type: 'RuntimeDefault' });

    const opted = shim({ baselineProfile, applyToRuntimeDefault: true });
    const withIt = await opted.run({ seccomp: { profile_type: 'RuntimeDefault' } });
    expect(withIt.profile.syscalls.flatMap((s: { names: string[] }) => s.names)).toEqual(['mkdir', 'mkdirat', 'symlink', 'symlinkat']);
    const deprecated = await opted.run({ seccomp_profile_path: 'runtime/default' });
    expect(deprecated.sent.config.annotations?.[APPLIED_BASELINE_ANNOTATION]).toBeDefined();
  });

  it('leaves Localhost and privileged containers alone even with apply_to_runtime_default', async () => {
    const { run } = shim({ baselineProfile: file('baseline.json', JSON.stringify(BASELINE)), applyToRuntimeDefault: true });
    const localhost = await run({ seccomp: { profile_type: 'Localhost', localhost_ref: '/p.json' } });
    expect(localhost.sent.config.linux.security_context.seccomp).toEqual({ profile_type: 'Localhost', localhost_ref: '/p.json' });
    expect(localhost.sent.config.annotations?.[APPLIED_PROFILE_ANNOTATION]).toBeUndefined();
    const privileged = await run({ privileged: true });
    expect(privileged.sent.config.annotations?.[APPLIED_PROFILE_ANNOTATION]).toBeUndefined();
  });

  it('converts the baseline for the container: a capability-dependent rule follows its capabilities', async () => {
    const baseline = file(
      'baseline.json',
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['unshare'], action: 'SCMP_ACT_ERRNO', excludes: { caps: ['CAP_SYS_ADMIN'] } }],
      }),
    );
    const { run } = shim({ baselineProfile: baseline });
    const plain = await run({ seccomp: { profile_type: 'Unconfined' } });
    const admin = await run({ seccomp: { profile_type: 'Unconfined' }, capabilities: { add_capabilities: ['SYS_ADMIN'] } });
    expect(plain.profile.syscalls.flatMap((s: { names: string[] }) => s.names)).toContain('unshare');
    expect(admin.profile.syscalls.flatMap((s: { names: string[] }) => s.names)).not.toContain('unshare');
  });
});

describe('createProfilePreparer with a baseline', () => {
  it('keeps the merged file apart from the plain one and remembers what the merge tightened', async () => {
    const baseline = loadBaselines({ runtimes: { runc: { allowedAnnotations: [], baselineProfile: file('b.json', JSON.stringify(BASELINE)) } }, defaultCapabilities: CAPS }, 'amd64').get('runc');
    const profiles = createProfilePreparer({
      artifacts: { pullProfile: async () => ({ registry: 'r', repository: 'p', manifestDigest: DIGEST, bytes: Buffer.from(JSON.stringify(ARTIFACT)) }) },
      signatures: { verifyArtifact: async () => ({}) },
      files: new ProfileFiles(dir),
      node: { arch: 'amd64', kernelVersion: '6.1.0' },
      cacheEntries: 10,
    });
    const signal = new AbortController().signal;
    const plain = await profiles.prepare(REF, { capabilities: CAPS }, signal);
    const merged = await profiles.prepare(REF, { capabilities: CAPS, baseline }, signal);
    const again = await profiles.prepare(REF, { capabilities: CAPS, baseline }, signal);
    expect(plain.baseline).toBeUndefined();
    expect(merged.path).not.toBe(plain.path);
    expect(again).toEqual(merged);
    expect(again.baseline?.report.tightened).toEqual(['symlink', 'symlinkat']);
  });
});

describe('loadBaselines', () => {
  const settings = (baselineProfile: string) => ({ runtimes: { runc: { allowedAnnotations: [], baselineProfile } }, defaultCapabilities: CAPS });

  it('stops with the key, file and reason when the file cannot be read', () => {
    const missing = path.join(dir, 'missing.json');
    expect(() => loadBaselines(settings(missing), 'amd64')).toThrow(ConfigError);
    expect(() => loadBaselines(settings(missing), 'amd64')).toThrow(
      `shim.runtimes.runc.baseline_profile: cannot read ${missing}: ENOENT: no such file or directory, open '${missing}'`,
    );
  });

  it('stops with the file and the place when the profile is not valid', () => {
    const broken = file('broken.json', '{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [{ "names": ["x"], "action": "SCMP_ACT_NOPE" }]\n}\n');
    expect(() => loadBaselines(settings(broken), 'amd64')).toThrow(
      new RegExp(`^shim\\.runtimes\\.runc\\.baseline_profile: seccomp profile from ${broken}: syscalls\\[0\\]\\.action: `),
    );
    const notJson = file('not.json', '{ "defaultAction": ');
    expect(() => loadBaselines(settings(notJson), 'amd64')).toThrow(/not valid JSON: .* at line 1, column/);
  });

  it('reads each file once and names no baseline for handlers without one', () => {
    const baseline = file('baseline.json', JSON.stringify(BASELINE));
    const loaded = loadBaselines(
      { runtimes: { runc: { allowedAnnotations: [], baselineProfile: baseline }, crun: { allowedAnnotations: [], baselineProfile: baseline }, kata: { allowedAnnotations: [] } }, defaultCapabilities: CAPS },
      'amd64',
    );
    expect([...loaded.keys()]).toEqual(['runc', 'crun']);
    expect(loaded.get('runc')).toBe(loaded.get('crun'));
  });

  it('accepts the baselines shipped in config/baselines/', () => {
    for (const name of ['containers-common-default.json', 'containerd-1.6.20-runtime-default.amd64.json']) {
      const shipped = new URL(`../../config/baselines/${name}`, import.meta.url).pathname;
      expect(loadBaselines(settings(shipped), 'amd64').get('runc')?.profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    }
  });
});

describe('baselineMessage', () => {
  it('says everything the merge did in one line, long lists cut after twelve names', () => {
    const names = Array.from({ length: 15 }, (_, i) => `call${String(i).padStart(2, '0')}`);
    const said = baselineMessage({
      file: '/etc/b.json',
      report: {
        tightened: names,
        forcedDeny: ['write'],
        defaultAction: { artifact: 'SCMP_ACT_ALLOW', result: 'SCMP_ACT_ERRNO' },
        droppedArchitectures: ['SCMP_ARCH_X32'],
      },
    });
    expect(said.level).toBe('warn');
    expect(said.message).toBe(
      'Seccomp baseline /etc/b.json tightened the artifact\'s profile: default action SCMP_ACT_ALLOW -> SCMP_ACT_ERRNO; ' +
        `15 syscalls restricted beyond the artifact's rules: ${names.slice(0, 12).join(', ')} and 3 more; ` +
        '1 denied because their argument conditions could not be merged exactly: write; architectures dropped: SCMP_ARCH_X32',
    );
    expect(said.fields).toMatchObject({ tightened: names, forcedDeny: ['write'] });
  });

  it('says at info level when the artifact was already within the baseline', () => {
    const said = baselineMessage({ file: '/etc/b.json', report: { tightened: [], forcedDeny: [], droppedArchitectures: [] } });
    expect(said).toMatchObject({ level: 'info', message: "Seccomp baseline /etc/b.json applied: the artifact's profile was already within it" });
  });
});
