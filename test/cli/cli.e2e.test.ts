import { generateKeyPairSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerd, type ContainerdNode } from '../../testbed/containerd.js';
import { connectCri } from '../../testbed/cri.js';
import { makeTempDir, removeDirSync, runCommand, waitForUnixSocket } from '../../testbed/processes.js';
import { startRegistry, type TestRegistry } from '../../testbed/registry.js';
import { runCli } from '../support/cli.js';
import { REAL_NODE, skipUnlessLinux } from '../support/requirements.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const PROFILE = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] };

let dir: string;
let registry: TestRegistry;
let configDir: string;
let profileFile: string;

beforeAll(async () => {
  dir = await makeTempDir('cli');
  registry = await startRegistry();
  configDir = path.join(dir, 'config.d');
  mkdirSync(configDir);
  writeFileSync(
    path.join(configDir, '10-test.toml'),
    `[shim]\nstate_dir = "${path.join(dir, 'state')}"\n[shim.artifact]\nauth_file = "${path.join(dir, 'none.json')}"\n[shim.registries."${registry.host}"]\ninsecure = true\n`,
  );
  writeFileSync(path.join(dir, 'empty.toml'), '');
  profileFile = path.join(dir, 'profile.json');
  writeFileSync(profileFile, JSON.stringify(PROFILE));
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  if (dir) removeDirSync(dir);
});

describe('seccomp-oci-shim push and pull', () => {
  it('push publishes the profile with the seccomp config media type; skopeo reads what it wrote', async () => {
    const ref = `${registry.host}/profiles/cli:v1`;
    const pushed = await runCli(dir, ['push', '--config-dir', configDir, profileFile, ref]);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const digest = pushed.stdout.match(/^Digest: (sha256:[0-9a-f]{64})$/m)?.[1];
    expect(digest).toBeDefined();
    const manifest = JSON.parse(await runCommand('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`])) as {
      config: { mediaType: string };
      layers: { annotations: Record<string, string> }[];
    };
    expect(manifest.config.mediaType).toBe('application/vnd.cncf.seccomp-profile.config.v1+json');
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0]?.annotations['org.opencontainers.image.title']).toBe('profile.json');

    const out = path.join(dir, 'pulled.json');
    const pulled = await runCli(dir, ['pull', '--config-dir', configDir, ref, '-o', out]);
    expect(pulled.code).toBe(0);
    expect(pulled.stderr).toContain(`Digest: ${digest}`);
    expect(pulled.stderr).toContain('Config media type: application/vnd.cncf.seccomp-profile.config.v1+json');
    expect(readFileSync(out).equals(readFileSync(profileFile))).toBe(true);
  });

  it('push --artifact-type publishes the OCI 1.1 form', async () => {
    const ref = `${registry.host}/profiles/cli:artifact-type`;
    expect((await runCli(dir, ['push', '--config-dir', configDir, '--artifact-type', profileFile, ref])).code).toBe(0);
    const manifest = JSON.parse(await runCommand('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`])) as {
      artifactType: string;
      config: { mediaType: string };
    };
    expect(manifest.artifactType).toBe('application/vnd.cncf.seccomp-profile.config.v1+json');
    expect(manifest.config.mediaType).toBe('application/vnd.oci.empty.v1+json');
  });

  it('push refuses a file that is not a valid profile, naming file and place, and publishes nothing', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ defaultAction: 'SCMP_ACT_NOTIFY' }));
    const ref = `${registry.host}/profiles/cli:bad`;
    const run = await runCli(dir, ['push', '--config-dir', configDir, bad, ref]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(bad);
    expect(run.stderr).toContain('defaultAction');
    const inspect = await runCommand('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]).catch((e: Error) => e);
    expect(inspect).toBeInstanceOf(Error);
  });

  it('pull of a missing tag fails with the reference and the registry answer', async () => {
    const ref = `${registry.host}/profiles/cli:missing`;
    const run = await runCli(dir, ['pull', '--config-dir', configDir, ref, '-o', path.join(dir, 'never.json')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`pulling "${ref}".*manifest unknown`));
    expect(existsSync(path.join(dir, 'never.json'))).toBe(false);
  });

  it('push --sign signs in cosign format; pull under a policy requiring that key accepts it and rejects an unsigned one', async () => {
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = path.join(dir, 'signer.key');
    const pubFile = path.join(dir, 'signer.pub');
    writeFileSync(keyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(pubFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
    const signedRef = `${registry.host}/signed/cli:v1`;
    const signed = await runCli(dir, ['push', '--config-dir', configDir, '--sign', '--key', keyFile, profileFile, signedRef]);
    expect(signed.code).toBe(0);
    expect(signed.stdout).toMatch(new RegExp(`^Signature: ${registry.host}/signed/cli:sha256-[0-9a-f]{64}\\.sig$`, 'm'));
    // Other content, so the unsigned tag cannot name the signed digest.
    const unsignedFile = path.join(dir, 'unsigned-profile.json');
    writeFileSync(unsignedFile, JSON.stringify({ ...PROFILE, defaultAction: 'SCMP_ACT_KILL_PROCESS' }));
    const unsignedRef = `${registry.host}/signed/cli:unsigned`;
    expect((await runCli(dir, ['push', '--config-dir', configDir, unsignedFile, unsignedRef])).code).toBe(0);

    const policyDir = path.join(dir, 'policy.d');
    mkdirSync(policyDir);
    writeFileSync(path.join(policyDir, '10-test.toml'), readFileSync(path.join(configDir, '10-test.toml')));
    writeFileSync(path.join(policyDir, '20-policy.toml'), `[[shim.signature.rules]]\nprefix = "${registry.host}/signed"\nkeys = ["${pubFile}"]\n`);
    const ok = await runCli(dir, ['pull', '--config-dir', policyDir, signedRef, '-o', path.join(dir, 'signed.json')]);
    expect(ok.stderr).toContain(`Signature: verified under rule ${registry.host}/signed`);
    expect(ok.code).toBe(0);
    const rejected = await runCli(dir, ['pull', '--config-dir', policyDir, unsignedRef, '-o', path.join(dir, 'unsigned.json')]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/SignatureValidationFailed: .*signed\/cli:unsigned/);
    expect(existsSync(path.join(dir, 'unsigned.json'))).toBe(false);
  });
});

describe.skipIf(skipUnlessLinux('seccomp-oci-shim serve on real containerd (test/cli/cli.test.ts)', REAL_NODE))('seccomp-oci-shim serve', () => {
  let node: ContainerdNode;
  beforeAll(async () => {
    node = await startContainerd();
  }, 60_000);
  afterAll(async () => {
    await node?.stop();
  });

  it('serves CRI on a 0660 socket in front of the runtime, and on SIGTERM removes the socket and exits 0', async () => {
    const socket = path.join(dir, 'run', 'shim.sock');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'serve', '--config', path.join(dir, 'empty.toml'), '--config-dir', configDir, '--listen', socket, '--runtime-endpoint', node.endpoint],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await waitForUnixSocket(socket, { timeoutMs: 20_000 });
      expect(statSync(socket).mode & 0o777).toBe(0o660);
      const cri = connectCri(`unix://${socket}`);
      try {
        expect((await cri.version()).runtime_name).toBe('containerd');
      } finally {
        cri.close();
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(socket)).toBe(false);
      const events = stderr.trim().split('\n').map((line) => JSON.parse(line) as { msg: string });
      expect(events.map((e) => e.msg)).toEqual(expect.arrayContaining(['Starting seccomp-oci-shim', 'Stopping seccomp-oci-shim', 'Stopped']));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('answers -v and -h after the command word without starting to serve', async () => {
    const version = await runCli(dir, ['serve', '-v', '--listen', path.join(dir, 'never.sock')]);
    expect(version).toEqual({ code: 0, stdout: expect.stringMatching(/^seccomp-oci-shim \d+\.\d+\.\d+\n$/), stderr: '' });
    const help = await runCli(dir, ['pull', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: seccomp-oci-shim <command>/);
    expect(existsSync(path.join(dir, 'never.sock'))).toBe(false);
  });

  it('stops at start-up on a wrong config value, naming file, line and key', async () => {
    const badDir = path.join(dir, 'bad.d');
    mkdirSync(badDir);
    writeFileSync(path.join(badDir, '10-bad.conf'), '[shim]\nlisten = "/tmp/x.sock"\nshutdown_grace = 10\n');
    const run = await runCli(dir, ['serve', '--config-dir', badDir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `seccomp-oci-shim: configuration: ${path.join(badDir, '10-bad.conf')}:3: shim.shutdown_grace: expected a duration such as "30s" or "24h", got number 10\n`,
    );
  });
});
