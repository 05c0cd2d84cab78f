import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePlatform } from '../../src/artifact/index.js';
import { rawGet } from '../support/artifact/raw-registry.js';
import { makeTempDir, removeDirSync } from '../../testbed/processes.js';
import { startRegistry, type TestRegistry } from '../../testbed/registry.js';
import { spoProfileYaml } from '../support/spoc.js';
import { runCli } from '../support/cli.js';


let dir: string;
let registry: TestRegistry;


beforeAll(async () => {
  dir = await makeTempDir('spo-cli');
  registry = await startRegistry();
  const configDir = path.join(dir, 'config.d');
  mkdirSync(configDir);
  writeFileSync(
    path.join(configDir, '10-test.toml'),
    `[shim]\nstate_dir = "${path.join(dir, 'state')}"\n[shim.artifact]\nauth_file = "${path.join(dir, 'none.json')}"\n[shim.registries."${registry.host}"]\ninsecure = true\n`,
  );
  writeFileSync(path.join(dir, 'empty.toml'), '');
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  if (dir) removeDirSync(dir);
});

describe('push --spo and pull of a stacked profile', () => {
  it("push --spo publishes spoc's layout; pull resolves the chain, prints it and writes the merged profile", async () => {
    const baseFile = path.join(dir, 'base.yaml');
    writeFileSync(baseFile, spoProfileYaml('base', ['rmdir']));
    const baseRef = `${registry.host}/spo/base:v1`;
    const pushed = await runCli(dir, ['push', '--spo', baseFile, baseRef]);
    expect(pushed.stderr).toBe('');
    const baseDigest = /^Digest: (sha256:[0-9a-f]{64})$/m.exec(pushed.stdout)?.[1] ?? '';
    expect(baseDigest).toMatch(/^sha256:/);

    const manifest = JSON.parse((await rawGet(registry.host, `/v2/spo/base/manifests/v1`, 'application/vnd.oci.image.manifest.v1+json')).body.toString()) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.unknown.config.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2, data: 'e30=' },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          annotations: { 'org.opencontainers.image.title': `profile-linux-${nodePlatform().architecture}.yaml` },
          platform: { architecture: nodePlatform().architecture, os: 'linux' },
        },
      ],
    });

    const childFile = path.join(dir, 'child.yaml');
    writeFileSync(childFile, spoProfileYaml('child', ['mkdir'], `oci://${registry.host}/spo/base@${baseDigest}`));
    const childRef = `${registry.host}/spo/child:v1`;
    expect((await runCli(dir, ['push', '--spo', '--platform', 'none', childFile, childRef])).code).toBe(0);

    const out = path.join(dir, 'merged.json');
    const pulled = await runCli(dir, ['pull', childRef, '-o', out]);
    expect(pulled.code).toBe(0);
    expect(pulled.stderr).toContain('Format: Security Profiles Operator SeccompProfile "child"');
    expect(pulled.stderr).toContain(`Base profile 1: ${registry.host}/spo/base@${baseDigest}@${baseDigest} (SeccompProfile "base"), signature not required (rule default)`);
    expect(pulled.stderr).toMatch(new RegExp(`^Chain: ${childRef}@sha256:[0-9a-f]{64},${registry.host}/spo/base@${baseDigest}@${baseDigest}$`, 'm'));
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      ],
    });
  });

  it('push --spo refuses a file that is not a SeccompProfile, naming it', async () => {
    const file = path.join(dir, 'selinux.yaml');
    writeFileSync(file, 'apiVersion: security-profiles-operator.x-k8s.io/v1alpha2\nkind: SelinuxProfile\nspec: {}\n');
    const run = await runCli(dir, ['push', '--spo', file, `${registry.host}/spo/x:v1`]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`seccomp profile from ${file}: kind: is a SelinuxProfile, not a SeccompProfile`);
  });
});
