import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shim-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('[shim.gc] and [shim.metrics]', () => {
  it('default to a day of grace, 256 MiB, hourly, and no metrics listener', () => {
    const { settings } = loadConfig({ file: path.join(dir, 'missing.toml'), dir: path.join(dir, 'nope') });
    expect(settings.gc).toEqual({ graceMs: 86_400_000, maxBytes: 256 * 1024 * 1024, intervalMs: 3_600_000 });
    expect(settings.metrics).toEqual({ listen: '' });
  });

  it('read as written, and the shipped config.toml holds the defaults', () => {
    const file = path.join(dir, 'config.toml');
    writeFileSync(file, '[shim.gc]\ngrace = "2h"\nmax_bytes = 10485760\ninterval = "0s"\n[shim.metrics]\nlisten = "127.0.0.1:9464"\n');
    const { settings } = loadConfig({ file, fileRequired: true, dir: path.join(dir, 'nope') });
    expect(settings.gc).toEqual({ graceMs: 7_200_000, maxBytes: 10_485_760, intervalMs: 0 });
    expect(settings.metrics.listen).toBe('127.0.0.1:9464');
    const shipped = loadConfig({ file: new URL('../../config/config.toml', import.meta.url).pathname, fileRequired: true, dir: path.join(dir, 'nope') });
    expect(shipped.settings.gc).toEqual(loadConfig({ file: path.join(dir, 'missing.toml'), dir: path.join(dir, 'nope') }).settings.gc);
    expect(shipped.warnings).toEqual([]);
  });

  it('names the file, line and key of a wrong value', () => {
    const file = path.join(dir, 'config.toml');
    writeFileSync(file, '[shim.gc]\nmax_bytes = 10\n');
    expect(() => loadConfig({ file, fileRequired: true, dir: path.join(dir, 'nope') })).toThrow(/config\.toml:2: shim\.gc\.max_bytes: expected an integer from 1048576 up, got 10/);
  });
});
