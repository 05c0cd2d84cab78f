import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shim-baseline-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('[shim.runtimes.<handler>]', () => {
  it('joins the handler\'s CRI-O table: allowed annotations, baseline and apply_to_runtime_default', () => {
    write('10-crio.conf', '[crio.runtime.runtimes.runc]\nallowed_annotations = ["seccomp-profile.kubernetes.cri-o.io"]\n');
    write('20-shim.toml', '[shim.runtimes.runc]\nbaseline_profile = "/etc/b.json"\napply_to_runtime_default = true\n\n[shim.runtimes.kata]\nbaseline_profile = "/etc/k.json"\n');
    const { settings, warnings } = loadConfig({ dir });
    expect(settings.runtimes).toEqual({
      runc: { allowedAnnotations: ['seccomp-profile.kubernetes.cri-o.io'], baselineProfile: '/etc/b.json', applyToRuntimeDefault: true },
      kata: { allowedAnnotations: [], baselineProfile: '/etc/k.json' },
    });
    expect(warnings).toEqual([]);
  });

  it('changes nothing without the keys', () => {
    write('10-crio.conf', '[crio.runtime.runtimes.runc]\nallowed_annotations = ["seccomp-profile.kubernetes.cri-o.io"]\n');
    expect(loadConfig({ dir }).settings.runtimes).toEqual({ runc: { allowedAnnotations: ['seccomp-profile.kubernetes.cri-o.io'] } });
  });

  it('stops on a relative baseline path with file, line and key', () => {
    const file = write('10-shim.toml', '[shim.runtimes.runc]\nbaseline_profile = "baseline.json"\n');
    expect(() => loadConfig({ dir })).toThrow(`${file}:2: shim.runtimes.runc.baseline_profile: expected an absolute path, got "baseline.json"`);
  });

  it('stops when apply_to_runtime_default has no baseline to stand for the runtime default', () => {
    write('10-shim.toml', '[shim.runtimes.runc]\napply_to_runtime_default = true\n');
    expect(() => loadConfig({ dir })).toThrow(ConfigError);
    expect(() => loadConfig({ dir })).toThrow('shim.runtimes.runc.apply_to_runtime_default needs shim.runtimes.runc.baseline_profile');
  });
});

describe('seccomp-oci-shim serve with a baseline it cannot use', () => {
  it('stops at start-up naming the key, the file and the reason, before opening its socket', () => {
    const baseline = write('baseline.json', '{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": ["x"], "action": "SCMP_ACT_NOTIFY" }] }');
    const configDir = path.join(dir, 'config.d');
    const socket = path.join(dir, 'shim.sock');
    rmSync(configDir, { recursive: true, force: true });
    write('config.toml', `[shim.runtimes.runc]\nbaseline_profile = "${baseline}"\n`);
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', MAIN, 'serve', '--config', path.join(dir, 'config.toml'), '--config-dir', configDir, '--listen', socket, '--state-dir', path.join(dir, 'state')],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.status).toBe(2);
    // The log lines before it (starting, allowed annotations) go to stderr too: the last line counts.
    expect(run.stderr.trimEnd().split('\n').at(-1)).toMatch(
      new RegExp(`^seccomp-oci-shim: configuration: shim\\.runtimes\\.runc\\.baseline_profile: seccomp profile from ${baseline}: syscalls\\[0\\]\\.action: .*SCMP_ACT_NOTIFY`),
    );
    expect(existsSync(socket)).toBe(false);
  });
});
