import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, defaultSettings, loadConfig, parseDuration } from '../../src/config/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shim-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('gives the documented defaults when no file exists', () => {
    const { settings, files } = loadConfig({ file: path.join(dir, 'missing.toml'), dir: path.join(dir, 'nope') });
    expect(files).toEqual([]);
    expect(settings.listen).toBe('/run/seccomp-oci-shim/seccomp-oci-shim.sock');
    expect(settings.runtimeEndpoint).toBe('unix:///run/containerd/containerd.sock');
    expect(settings.artifact).toMatchObject({ mode: 'compatible', maxBytes: 1048576, cacheEntries: 1000, cacheTtlMs: 86_400_000 });
  });

  it('fails when a required main file is missing', () => {
    expect(() => loadConfig({ file: path.join(dir, 'missing.toml'), fileRequired: true })).toThrow(/missing\.toml does not exist/);
  });

  it('reads CRI-O drop-ins as written, in lexical order, later files winning', () => {
    write(
      '10-crun.conf',
      '[crio.runtime]\ndefault_runtime = "crun"\n\n[crio.runtime.runtimes.crun]\nallowed_annotations = [\n "seccomp-profile.kubernetes.cri-o.io",\n]\n',
    );
    write('20-shim.toml', '[shim]\nlisten = "/tmp/a.sock"\nshutdown_grace = "1m30s"\n[shim.artifact]\ncache_ttl = "1h"\n');
    write('30-shim.toml', '[shim]\nlisten = "/tmp/b.sock"\n[shim.registries."127.0.0.1:5000"]\ninsecure = true\nmirrors = ["m.example"]\n');
    write('ignored.txt', 'this is not toml = = =');
    const { settings, files, warnings } = loadConfig({ dir });
    expect(files.map((f) => path.basename(f))).toEqual(['10-crun.conf', '20-shim.toml', '30-shim.toml']);
    expect(settings.defaultRuntime).toBe('crun');
    expect(settings.runtimes.crun?.allowedAnnotations).toEqual(['seccomp-profile.kubernetes.cri-o.io']);
    expect(settings.listen).toBe('/tmp/b.sock');
    expect(settings.shutdownGraceMs).toBe(90_000);
    expect(settings.artifact.cacheTtlMs).toBe(3_600_000);
    expect(settings.registries['127.0.0.1:5000']).toEqual({ insecure: true, mirrors: ['m.example'] });
    expect(warnings).toEqual([]);
  });

  it('stops on invalid TOML with file, line and column', () => {
    const file = write('10-bad.conf', '[shim]\nlisten = "/x"\nmirrors = [1,,]\n');
    expect(() => loadConfig({ dir })).toThrow(new RegExp(`^${file}:3:\\d+: invalid TOML`));
  });

  it('stops on a wrong type with file, line and key', () => {
    const file = write('10-types.conf', '[shim]\nlisten = "/x.sock"\n\n[shim.artifact]\nmax_bytes = "big"\n');
    let error: unknown;
    try {
      loadConfig({ dir });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`${file}:5: shim.artifact.max_bytes: expected an integer, got the string "big"`);
  });

  it('names the line of a wrong type inside a CRI-O runtime table', () => {
    const file = write('10-crio.conf', '[crio.runtime.runtimes.runc]\nallowed_annotations = "seccomp-profile.kubernetes.cri-o.io"\n');
    expect(() => loadConfig({ dir })).toThrow(
      `${file}:2: crio.runtime.runtimes.runc.allowed_annotations: expected a list of strings, got the string "seccomp-profile.kubernetes.cri-o.io"`,
    );
  });

  it('warns about unknown keys with their place instead of failing', () => {
    const file = write('10-extra.conf', '[crio.runtime]\nconmon = "/usr/bin/conmon"\n[shim]\nlisen = "/x"\n');
    const { warnings } = loadConfig({ dir });
    expect(warnings).toEqual([`${file}:2: crio.runtime.conmon: unknown key, ignored`, `${file}:4: shim.lisen: unknown key, ignored`]);
  });

  it('rejects relative paths', () => {
    write('10-a.conf', '[shim]\nstate_dir = "var/lib"\n');
    expect(() => loadConfig({ dir })).toThrow(/shim\.state_dir: expected an absolute path, got "var\/lib"/);
  });

  it('rejects out-of-range numbers, naming the range', () => {
    const file = write('10-a.conf', '[shim.artifact]\nmax_bytes = 10\n');
    expect(() => loadConfig({ dir })).toThrow(`${file}:2: shim.artifact.max_bytes: expected an integer from 1024 to 67108864, got 10`);
  });

  it('names the line of a wrong type inside the second of several [[arrays of tables]] and inside inline tables', () => {
    const file = write(
      '10-rules.toml',
      [
        '[[shim.signature.rules]]',
        'prefix = "a.example"',
        'keys = ["/k.pub"]',
        '',
        '[[shim.signature.rules]]',
        'prefix = "b.example"',
        'keys = "/k.pub"',
        'identities = [{ issuer = 3, subject = "s" }]',
      ].join('\n'),
    );
    expect(() => loadConfig({ dir })).toThrow(
      [
        `${file}:7: shim.signature.rules.1.keys: expected a list of strings, got the string "/k.pub"`,
        `${file}:8: shim.signature.rules.1.identities.0.issuer: expected a string, got number 3`,
      ].join('\n'),
    );
  });
});

describe('signature policy', () => {
  it('maps [shim.signature] onto the policy: default rule, prefix rules (required unless said), cache', () => {
    write(
      '10-sig.toml',
      [
        '[shim.signature.default]',
        'mode = "required"',
        'keys = ["/etc/keys/a.pem"]',
        '[[shim.signature.rules]]',
        'prefix = "127.0.0.1:5000/profiles"',
        'identities = [{ issuer = "https://issuer.example", subject_pattern = ".*@example.com" }]',
        'trusted_root = "/etc/trusted_root.json"',
        '[[shim.signature.rules]]',
        'prefix = "127.0.0.1:5000/open"',
        'mode = "none"',
        '[shim.signature.cache]',
        'entries = 50',
        'ttl = "5m"',
      ].join('\n'),
    );
    const { settings } = loadConfig({ dir });
    expect(settings.signature).toEqual({
      default: { mode: 'required', keys: ['/etc/keys/a.pem'] },
      rules: [
        {
          prefix: '127.0.0.1:5000/profiles',
          mode: 'required',
          identities: [{ issuer: 'https://issuer.example', subjectPattern: '.*@example.com' }],
          trustedRoot: '/etc/trusted_root.json',
        },
        { prefix: '127.0.0.1:5000/open', mode: 'none' },
      ],
      cache: { maxEntries: 50, ttlMs: 300_000 },
    });
  });

  it('rejects a required rule that names no signer', () => {
    write('10-sig.toml', '[shim.signature.default]\nmode = "required"\n');
    expect(() => loadConfig({ dir })).toThrow(/10-sig\.toml: shim\.signature\.default: mode "required" needs at least one entry in keys or identities/);
  });

  it('defaults to no verification, as CRI-O', () => {
    expect(loadConfig({ dir }).settings.signature).toEqual({ default: { mode: 'none' }, rules: [] });
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1h30m', 5_400_000],
    ['24h', 86_400_000],
    ['1.5s', 1500],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '10', '1d', 's', '1h 30m'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('the example configuration under config/', () => {
  it('loads without errors or warnings and keeps the defaults it documents', () => {
    const root = new URL('../../config/', import.meta.url).pathname;
    const { settings, files, warnings } = loadConfig({ file: path.join(root, 'config.toml'), dir: path.join(root, 'config.d') });
    expect(files.map((f) => path.basename(f))).toEqual(['config.toml', '10-runc.conf']);
    expect(warnings).toEqual([]);
    expect(settings.runtimes.runc?.allowedAnnotations).toContain('seccomp-profile.kubernetes.cri-o.io');
    expect({ ...settings, runtimes: {} }).toEqual({ ...defaultSettings(), runtimes: {} });
  });
});
