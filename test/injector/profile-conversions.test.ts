import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { Baseline } from '../../src/injector/baselines.js';
import { createProfileConverter, DEFAULT_CONVERTER_OPTIONS, Limiter, renderForContainer } from '../../src/injector/profile-conversions.js';
import { createProfilePreparer } from '../../src/injector/prepare-profile.js';
import type { ProfileFiles } from '../../src/injector/profile-files.js';
import { parseProfile, parseSpoProfile, ProfileError } from '../../src/seccomp/index.js';

const TARGET = { arch: 'amd64', capabilities: ['CAP_CHOWN'], kernelVersion: '6.1.0' };

/** The conversion on this thread, as the reference a thread's answer must equal. */
function convertProfile(bytes: Buffer, source: string, target: typeof TARGET, baseline?: Baseline) {
  return renderForContainer(parseProfile(bytes, source), source, target, baseline);
}

/** A valid profile of about `bytes` bytes: many rules, 64-bit argument values, capability conditions. */
function bigProfile(bytes: number): Buffer {
  const syscalls: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i += 1) {
    const rule = `{"names":["s${i}"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":1,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}],"includes":{"caps":["CAP_${i % 2 ? 'CHOWN' : 'SYS_ADMIN'}"]}}`;
    syscalls.push(rule);
    length += rule.length + 1;
  }
  return Buffer.from(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[\n${syscalls.join(',\n')}\n]}`);
}

/** An SPO SeccompProfile of about `bytes` bytes of YAML, with a base and 64-bit argument values. */
function bigSpoProfile(bytes: number): Buffer {
  let yaml = 'apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n  name: big\nspec:\n  defaultAction: SCMP_ACT_ALLOW\n  baseProfileName: oci://r.example/base:v1\n  syscalls:\n';
  for (let i = 0; yaml.length < bytes; i += 1) {
    yaml += `  - action: SCMP_ACT_ERRNO\n    names:\n    - s${i}\n    args:\n    - index: 0\n      value: 18446744073709551615\n      op: SCMP_CMP_EQ\n`;
  }
  return Buffer.from(yaml);
}

describe('Limiter', () => {
  it('runs at most its bound at once and the rest in arrival order', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        limiter.run(async () => {
          running += 1;
          most = Math.max(most, running);
          order.push(i);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running -= 1;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('createProfileConverter', () => {
  it('converts a big profile on a thread to the very bytes the inline conversion gives', async () => {
    const bytes = bigProfile(200 * 1024);
    const converter = createProfileConverter({ ...DEFAULT_CONVERTER_OPTIONS, workerFromBytes: 64 * 1024 });
    const onThread = await converter.convert({ bytes }, 'r.example/p:big', TARGET);
    expect(onThread.rendered.equals(convertProfile(bytes, 'r.example/p:big', TARGET).rendered)).toBe(true);
    expect(onThread.rendered.toString()).toContain('"value":18446744073709551615');
    expect(onThread.baseline).toBeUndefined();
  });

  it('intersects with a baseline on the thread exactly as on this one, and brings its report back', async () => {
    const bytes = bigProfile(100 * 1024);
    const baselineBytes = Buffer.from(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['symlink', 's1'], action: 'SCMP_ACT_ERRNO' }] }));
    const baseline: Baseline = {
      file: '/etc/seccomp-oci-shim/baseline.json',
      digest: `sha256:${createHash('sha256').update(baselineBytes).digest('hex')}`,
      bytes: baselineBytes,
      profile: parseProfile(baselineBytes, 'baseline.json'),
    };
    const converter = createProfileConverter({ ...DEFAULT_CONVERTER_OPTIONS, workerFromBytes: 64 * 1024 });
    const onThread = await converter.convert({ bytes }, 'r.example/p:big', TARGET, baseline);
    const inline = convertProfile(bytes, 'r.example/p:big', TARGET, baseline);
    expect(onThread.rendered.equals(inline.rendered)).toBe(true);
    expect(onThread.rendered.toString()).toContain('"symlink"');
    expect(onThread.baseline).toEqual(inline.baseline);
    expect(onThread.baseline?.report.tightened).toContain('symlink');
  });

  it("brings a thread's ProfileError back whole: source, line and column", async () => {
    const bytes = Buffer.concat([bigProfile(100 * 1024).subarray(0, 90 * 1024), Buffer.from('}')]);
    const converter = createProfileConverter({ ...DEFAULT_CONVERTER_OPTIONS, workerFromBytes: 1024 });
    const error = await converter.convert({ bytes }, 'r.example/p:broken', TARGET).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProfileError);
    const inline = (() => {
      try {
        convertProfile(bytes, 'r.example/p:broken', TARGET);
      } catch (e) {
        return e as ProfileError;
      }
      throw new Error('the broken profile was accepted');
    })();
    expect((error as ProfileError).message).toBe(inline.message);
    expect((error as ProfileError).position).toEqual(inline.position);
  });

  it('reads a big SPO object on a thread to what the inline read gives, and leaves this thread free meanwhile', async () => {
    const bytes = bigSpoProfile(300 * 1024);
    const converter = createProfileConverter({ ...DEFAULT_CONVERTER_OPTIONS, workerFromBytes: 64 * 1024 });
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 1);
    const onThread = await converter.readSpo(bytes, 'r.example/p:spo').finally(() => clearInterval(ticker));
    const inline = parseSpoProfile(bytes, 'r.example/p:spo');
    expect(onThread).toEqual(inline);
    expect(onThread.baseProfileName).toBe('oci://r.example/base:v1');
    expect(onThread.profile.syscalls.length).toBeGreaterThan(1000);
    // The timer fired while the thread parsed: an inline parse of this size holds the loop for its whole length.
    expect(ticks).toBeGreaterThan(0);
  });

  it("brings a thread's SPO ProfileError back whole", async () => {
    const bytes = Buffer.concat([bigSpoProfile(100 * 1024), Buffer.from('  - action: [unclosed\n')]);
    const converter = createProfileConverter({ ...DEFAULT_CONVERTER_OPTIONS, workerFromBytes: 1024 });
    const error = await converter.readSpo(bytes, 'r.example/p:broken-spo').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProfileError);
    expect(() => parseSpoProfile(bytes, 'r.example/p:broken-spo')).toThrow((error as Error).message);
  });

  it('fails a profile that needs more memory than a thread may take, and the shim goes on', async () => {
    const converter = createProfileConverter({ maxConcurrent: 1, workerFromBytes: 1024, workerHeapMb: 24 });
    const small = bigProfile(8 * 1024);
    expect((await converter.convert({ bytes: small }, 'r.example/p:small', TARGET)).rendered.equals(convertProfile(small, 'r.example/p:small', TARGET).rendered)).toBe(true);
    const error = await converter.convert({ bytes: bigProfile(4 * 1024 * 1024) }, 'r.example/p:huge', TARGET).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProfileError);
    expect((error as Error).message).toMatch(/^seccomp profile from r\.example\/p:huge: \(root\): cannot be converted: needs more than 24 MB$/);
  });
});

describe('createProfilePreparer under a burst', () => {
  const digest = `sha256:${'c'.repeat(64)}`;
  function preparer() {
    const converted: string[][] = [];
    const written: Buffer[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const prepare = createProfilePreparer({
      artifacts: { pullProfile: async () => ({ registry: 'r.example', repository: 'p', manifestDigest: digest, bytes: Buffer.from('{"defaultAction":"SCMP_ACT_ALLOW"}') }) },
      signatures: { verifyArtifact: async () => ({}) },
      files: { write: async (bytes: Buffer) => (written.push(bytes), `/state/profiles/${written.length}.json`), exists: async () => true } as unknown as ProfileFiles,
      node: { arch: 'amd64', kernelVersion: '6.1.0' },
      cacheEntries: 10,
      converter: {
        async convert(from, _source, target) {
          converted.push([...target.capabilities]);
          await gate;
          return { rendered: 'bytes' in from ? from.bytes : Buffer.from('{}') };
        },
        readSpo: async (bytes, source) => parseSpoProfile(bytes, source),
      },
    });
    return { prepare, converted, written, release };
  }

  it('converts once per digest and capability set however many containers start at once', async () => {
    const { prepare, converted, written, release } = preparer();
    const signal = new AbortController().signal;
    const burst = [
      ...Array.from({ length: 30 }, () => prepare.prepare('r.example/p:v1', { capabilities: ['CAP_KILL', 'CAP_CHOWN'] }, signal)),
      ...Array.from({ length: 5 }, () => prepare.prepare('r.example/p:v1', { capabilities: ['CAP_SYS_ADMIN'] }, signal)),
    ];
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    const prepared = await Promise.all(burst);
    expect(converted).toEqual([['CAP_CHOWN', 'CAP_KILL'], ['CAP_SYS_ADMIN']]);
    expect(written).toHaveLength(2);
    expect(new Set(prepared.slice(0, 30).map((p) => p.path)).size).toBe(1);
    expect(await prepare.prepare('r.example/p:v1', { capabilities: ['CAP_CHOWN', 'CAP_KILL'] }, signal)).toEqual(prepared[0]);
    expect(converted).toHaveLength(2);
  });

  it('lets a caller that gives up stop waiting while the shared conversion goes on for the others', async () => {
    const { prepare, converted, release } = preparer();
    const quitter = new AbortController();
    const gaveUp = prepare.prepare('r.example/p:v1', { capabilities: [] }, quitter.signal);
    const stays = prepare.prepare('r.example/p:v1', { capabilities: [] }, new AbortController().signal);
    await new Promise((resolve) => setTimeout(resolve, 10));
    quitter.abort();
    await expect(gaveUp).rejects.toThrow('converting the seccomp profile from r.example/p:v1: aborted by the caller');
    release();
    expect((await stays).path).toBe('/state/profiles/1.json');
    expect(converted).toHaveLength(1);
  });
});
