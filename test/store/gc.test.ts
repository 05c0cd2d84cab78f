import { createHash } from 'node:crypto';
import { existsSync, readdirSync, utimesSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifact/store.js';
import { createImageManifestFacts } from '../../src/injector/image-manifests.js';
import { silentLogger } from '../../src/log/logger.js';
import {
  collectGarbage,
  executeGc,
  GcSkipped,
  parseAppliedProfiles,
  planGc,
  profileFilesIn,
  ProfileUses,
  readInventory,
  startBackgroundGc,
  type InUse,
} from '../../src/store/index.js';
import { makeTempDir, removeDirSync } from '../../testbed/processes.js';

const HOUR = 3_600_000;
const NOW = new Date('2026-12-01T12:00:00Z');
const POLICY = { graceMs: 24 * HOUR, maxBytes: 64 * 1024 * 1024 };

const sha = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

let stateDir: string;
let store: ContentStore;
let uses: ProfileUses;

interface Published {
  reference: string;
  manifestDigest: string;
  layerDigest: string;
  configDigest: string;
  file: string;
}

/** A stored artifact (config, layer, manifest) and its converted file, as a pull and a prepare leave them. */
async function publish(name: string, lastUse: Date, options: { sharedLayer?: string } = {}): Promise<Published> {
  const layer = Buffer.from(options.sharedLayer ?? `{"defaultAction":"SCMP_ACT_ALLOW","comment":"${name}"}`);
  const config = Buffer.from(`{"name":"${name}"}\n`);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.cncf.seccomp-profile.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
    }),
  );
  await store.put(sha(layer), layer);
  await store.put(sha(config), config);
  await store.put(sha(manifest), manifest);
  const converted = Buffer.from(`{"defaultAction":"SCMP_ACT_ALLOW","converted":"${name}"}`);
  const file = path.join(stateDir, 'profiles', `${createHash('sha256').update(converted).digest('hex')}.json`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, converted);
  const reference = `registry.example/profiles/${name}:v1`;
  await uses.write({ reference, manifestDigest: sha(manifest), files: [file], lastUse });
  for (const f of [file, ...[layer, config, manifest].map((b) => blobPath(sha(b)))]) utimesSync(f, lastUse, lastUse);
  return { reference, manifestDigest: sha(manifest), layerDigest: sha(layer), configDigest: sha(config), file };
}

function blobPath(digest: string): string {
  return path.join(stateDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

function inUse(containers: { digests?: string[]; files?: string[] | undefined }[]): InUse {
  const result: InUse = { containers: [], manifestDigests: new Set(), files: new Set(), filesKnown: true };
  containers.forEach((c, i) => {
    result.containers.push({ id: `c${i}`, name: `c${i}`, state: 'CONTAINER_RUNNING', applied: [], digests: c.digests ?? [], files: c.files });
    for (const d of c.digests ?? []) result.manifestDigests.add(d);
    if (c.files === undefined) result.filesKnown = false;
    for (const f of c.files ?? []) result.files.add(f);
  });
  return result;
}

const ago = (ms: number) => new Date(NOW.getTime() - ms);
const exists = (p: Published) => ({
  record: existsSync(uses.fileOf(p.reference, p.manifestDigest)),
  file: existsSync(p.file),
  manifest: existsSync(blobPath(p.manifestDigest)),
  layer: existsSync(blobPath(p.layerDigest)),
});
const ALL = { record: true, file: true, manifest: true, layer: true };
const NONE = { record: false, file: false, manifest: false, layer: false };

async function gcOnce(current: InUse, policy = POLICY) {
  const plan = await planGc(await readInventory(stateDir), current, policy, NOW);
  await executeGc(stateDir, plan);
  return plan;
}

beforeEach(async () => {
  stateDir = await makeTempDir('gc');
  store = new ContentStore(stateDir);
  uses = new ProfileUses(stateDir);
});

afterEach(() => removeDirSync(stateDir));

describe('store gc: what no container uses goes after the grace period, nothing in use ever', () => {
  it('removes a profile unused for longer than the grace period, keeps a recent one and those containers reference', async () => {
    const old = await publish('old', ago(48 * HOUR));
    const recent = await publish('recent', ago(2 * HOUR));
    const byAnnotation = await publish('by-annotation', ago(90 * 24 * HOUR));
    const byFile = await publish('by-file', ago(90 * 24 * HOUR));
    const plan = await gcOnce(inUse([{ digests: [byAnnotation.manifestDigest], files: [] }, { files: [byFile.file] }]));
    expect(exists(old)).toEqual(NONE);
    expect(exists(recent)).toEqual(ALL);
    expect(exists(byAnnotation)).toEqual(ALL);
    expect(exists(byFile)).toEqual(ALL);
    expect(plan.uses.map((u) => [u.use.reference, u.reason])).toEqual([[old.reference, 'unused']]);
    // The old artifact's config blob went too, and nothing else.
    expect(existsSync(blobPath(old.configDigest))).toBe(false);
    expect(readdirSync(path.join(stateDir, 'blobs', 'sha256'))).toHaveLength(9);
  });

  it('keeps a blob another kept profile shares', async () => {
    const shared = '{"defaultAction":"SCMP_ACT_ERRNO"}';
    const old = await publish('old', ago(48 * HOUR), { sharedLayer: shared });
    const kept = await publish('kept', ago(HOUR), { sharedLayer: shared });
    await gcOnce(inUse([]));
    expect(exists(old)).toEqual({ record: false, file: false, manifest: false, layer: true });
    expect(exists(kept)).toEqual(ALL);
  });

  it('keeps the base profiles a kept profile is stacked on, and removes them with it', async () => {
    const base = await publish('base', ago(90 * 24 * HOUR));
    await uses.remove(base);
    const top = await publish('top', ago(HOUR));
    await uses.write({ reference: top.reference, manifestDigest: top.manifestDigest, files: [top.file], bases: [base.manifestDigest], lastUse: ago(HOUR) });
    await gcOnce(inUse([]));
    expect(exists(base)).toEqual({ record: false, file: false, manifest: true, layer: true });
    await uses.write({ reference: top.reference, manifestDigest: top.manifestDigest, files: [top.file], bases: [base.manifestDigest], lastUse: ago(48 * HOUR) });
    await gcOnce(inUse([]));
    expect(exists(base)).toEqual({ record: false, file: false, manifest: false, layer: false });
    expect(exists(top)).toEqual(NONE);
  });

  it('keeps every profile file when the runtime does not say which file a container loads', async () => {
    const old = await publish('old', ago(48 * HOUR));
    await gcOnce(inUse([{ files: undefined }]));
    expect(exists(old)).toEqual(ALL);
  });

  it('size bound: evicts the least recently used unused profiles first, never one in use or used in the last minutes', async () => {
    const oldest = await publish('oldest', ago(20 * HOUR));
    const older = await publish('older', ago(10 * HOUR));
    const inUseOld = await publish('in-use', ago(30 * HOUR));
    const justUsed = await publish('just-used', ago(60_000));
    const inventory = await readInventory(stateDir);
    const total = [...inventory.profiles.values(), ...inventory.blobs.values()].reduce((sum, item) => sum + item.bytes, 0);
    // Room for all but about one profile: only the least recently used unused one goes.
    const plan = await gcOnce(inUse([{ digests: [inUseOld.manifestDigest], files: [] }]), { graceMs: 1000 * HOUR, maxBytes: total - 10 });
    expect(plan.uses.map((u) => [u.use.reference, u.reason])).toEqual([[oldest.reference, 'size']]);
    expect(exists(oldest)).toEqual(NONE);
    expect(exists(older)).toEqual(ALL);
    // Even a bound of nothing removes neither what is in use nor what was handed out moments ago.
    await gcOnce(inUse([{ digests: [inUseOld.manifestDigest], files: [] }]), { graceMs: 1000 * HOUR, maxBytes: 0 });
    expect(exists(older)).toEqual(NONE);
    expect(exists(inUseOld)).toEqual(ALL);
    expect(exists(justUsed)).toEqual(ALL);
  });

  it('removes files no record names once they are older than the grace period, and tag records pointing at removed manifests', async () => {
    const old = await publish('old', ago(48 * HOUR));
    await uses.remove(old);
    await store.putTag(old.reference, old.manifestDigest);
    const strayTemp = path.join(stateDir, 'profiles', '.tmp-x.json-abc');
    await writeFile(strayTemp, 'partial');
    const plan = await gcOnce(inUse([]));
    expect(exists(old)).toEqual(NONE);
    expect(await store.getTag(old.reference)).toBeUndefined();
    expect(plan.tags).toHaveLength(1);
    // Unfinished atomic writes are not gc's: start-up cleans them.
    expect(existsSync(strayTemp)).toBe(true);
  });

  it('a kill at any point of a pass leaves a state the next pass finishes without touching what is in use', async () => {
    const old = await publish('old', ago(48 * HOUR));
    const used = await publish('used', ago(48 * HOUR));
    const current = inUse([{ digests: [used.manifestDigest], files: [used.file] }]);
    const plan = await planGc(await readInventory(stateDir), current, POLICY, NOW);
    // Killed right after the records went: the files left are nameless and old.
    await executeGc(stateDir, { ...plan, tags: [], items: [] });
    expect(exists(old)).toEqual({ record: false, file: true, manifest: true, layer: true });
    // Killed after the manifest went but before its layer: the puller would fetch the manifest again.
    const manifestFirst = plan.items.findIndex((i) => i.item.id === old.manifestDigest);
    const layerAt = plan.items.findIndex((i) => i.item.id === old.layerDigest);
    expect(manifestFirst).toBeLessThan(layerAt);
    await gcOnce(current);
    expect(exists(old)).toEqual(NONE);
    expect(exists(used)).toEqual(ALL);
  });

  it('a profile handed out again between the plan and the removal keeps its record and its file', async () => {
    const old = await publish('old', ago(48 * HOUR));
    const plan = await planGc(await readInventory(stateDir), inUse([]), POLICY, NOW);
    expect(plan.uses).toHaveLength(1);
    await uses.write({ reference: old.reference, manifestDigest: old.manifestDigest, files: [old.file], lastUse: NOW });
    await executeGc(stateDir, plan);
    expect(exists(old)).toEqual({ record: true, file: true, manifest: false, layer: false });
  });

  it('removes nothing when the runtime does not list its containers', async () => {
    const old = await publish('old', ago(48 * HOUR));
    const runs: string[] = [];
    await expect(
      collectGarbage({
        stateDir,
        runtimeEndpoint: 'unix:///nonexistent/runtime.sock',
        policy: POLICY,
        dryRun: false,
        logger: silentLogger(),
        now: () => NOW,
        observer: { gcRun: (result) => runs.push(result) },
        inUse: () => Promise.reject(new Error('connect ENOENT')),
      }),
    ).rejects.toBeInstanceOf(GcSkipped);
    expect(exists(old)).toEqual(ALL);
    expect(runs).toEqual(['skipped']);
  });

  it('--dry-run plans and removes nothing', async () => {
    const old = await publish('old', ago(48 * HOUR));
    const plan = await collectGarbage({
      stateDir,
      runtimeEndpoint: 'unix:///unused.sock',
      policy: POLICY,
      dryRun: true,
      logger: silentLogger(),
      now: () => NOW,
      inUse: async () => inUse([]),
    });
    expect(plan.uses).toHaveLength(1);
    expect(plan.items.length).toBe(4);
    expect(exists(old)).toEqual(ALL);
  });
});

describe('store gc: image annotation records', () => {
  /** Records written the way CreateContainer writes them: one per manifest digest read. */
  async function recordImages(digests: string[], written: Date): Promise<void> {
    const facts = createImageManifestFacts(
      {
        imageAnnotations: async (digest) => ({
          digest,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          annotations: { from: 'node' },
        }),
      },
      { imageAnnotations: async () => Promise.reject(new Error('not asked')) },
      { stateDir, cacheEntries: 10, logger: silentLogger() },
    );
    const dir = path.join(stateDir, 'image-annotations');
    await mkdir(dir, { recursive: true });
    for (const digest of digests) {
      await facts.of(`registry.example/app@${digest}`, new AbortController().signal);
      const file = path.join(dir, `${digest.replace(':', '-')}.json`);
      expect(existsSync(file)).toBe(true);
      utimesSync(file, written, written);
    }
  }
  const onNode = (current: InUse, digests: string[]) => ({ ...current, imageDigests: new Set(digests) });

  it('removes the records of images the runtime no longer lists, keeps those it lists', async () => {
    const kept = sha('kept image');
    const gone = sha('gone image');
    await recordImages([kept, gone], ago(48 * HOUR));
    const plan = await gcOnce(onNode(inUse([]), [kept]));
    expect(plan.imageRecords.map((r) => r.digest)).toEqual([gone]);
    expect(readdirSync(path.join(stateDir, 'image-annotations'))).toEqual([`${kept.replace(':', '-')}.json`]);
  });

  it('keeps a record written in the last minutes, and every record when the runtime did not list its images', async () => {
    await recordImages([sha('just pulled')], ago(60_000));
    expect((await gcOnce(onNode(inUse([]), []))).imageRecords).toEqual([]);
    await recordImages([sha('old')], ago(48 * HOUR));
    expect((await gcOnce(inUse([]))).imageRecords).toEqual([]);
    expect(readdirSync(path.join(stateDir, 'image-annotations'))).toHaveLength(2);
  });
});

describe('background gc', () => {
  it('runs a pass per interval, one at a time, and stop waits for the running one', async () => {
    const old = await publish('old', ago(48 * HOUR));
    const runs: string[] = [];
    let active = 0;
    let overlapped = false;
    const gc = startBackgroundGc(
      {
        stateDir,
        runtimeEndpoint: 'unix:///unused.sock',
        policy: POLICY,
        logger: silentLogger(),
        now: () => NOW,
        observer: { gcRun: (result) => runs.push(result) },
        inUse: async () => {
          active += 1;
          overlapped ||= active > 1;
          await new Promise((resolve) => setTimeout(resolve, 30));
          active -= 1;
          return inUse([]);
        },
      },
      10,
      0,
    );
    const deadline = Date.now() + 10_000;
    while (runs.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await gc.stop();
    const stoppedAt = runs.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(runs.length).toBe(stoppedAt);
    expect(runs.slice(0, 3)).toEqual(['removed', 'removed', 'removed']);
    expect(overlapped).toBe(false);
    expect(exists(old)).toEqual(NONE);
  });
});

describe('what the runtime says a container references', () => {
  const A = `sha256:${'a'.repeat(64)}`;
  const B = `sha256:${'b'.repeat(64)}`;

  it('reads one REF@DIGEST, several (stacked profiles) in any separator, and a reference that is itself pinned', () => {
    expect(parseAppliedProfiles(`reg/p:v1@${A}`).applied).toEqual([{ reference: 'reg/p:v1', digest: A }]);
    expect(parseAppliedProfiles(`reg/p:v1@${A},reg/q@${B}`).applied).toEqual([
      { reference: 'reg/p:v1', digest: A },
      { reference: 'reg/q', digest: B },
    ]);
    expect(parseAppliedProfiles(JSON.stringify([`reg/p:v1@${A}`, `reg/q@${B}`])).digests).toEqual([A, B]);
    expect(parseAppliedProfiles(`reg/p@${A}@${A}`).applied).toEqual([{ reference: `reg/p@${A}`, digest: A }]);
    expect(parseAppliedProfiles('').applied).toEqual([]);
  });

  it('finds the profile files of the state directory in verbose status text, whatever its shape', () => {
    const dir = '/var/lib/seccomp-oci-shim/profiles';
    const file = `${dir}/${'c'.repeat(64)}.json`;
    const info = JSON.stringify({ config: { linux: { security_context: { seccomp: { localhost_ref: file }, seccomp_profile_path: `localhost/${file}` } } } });
    expect(profileFilesIn(info, dir)).toEqual([file]);
    expect(profileFilesIn(`{"x":"/other/profiles/${'c'.repeat(64)}.json"}`, dir)).toEqual([]);
  });
});
