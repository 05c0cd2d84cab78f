import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import {
  parseProfile,
  parseSpoProfile,
  ProfileError,
  renderRuntimeSpecProfile,
  ROOT_PATH,
  toRuntimeSpec,
  type ConversionTarget,
  type SeccompProfile,
  type SpoSeccompProfile,
  type TextPosition,
} from '../seccomp/index.js';
import { intersectWithBaseline, type AppliedBaseline, type Baseline } from './baselines.js';

/**
 * What a conversion starts from: the published bytes of a profile nobody has read yet (a CRI-O
 * JSON artifact, read and validated by the conversion itself, off the proxy's thread when big),
 * or a profile already read (an SPO chain, read link by link to find each base).
 */
export type ProfileSource = { bytes: Buffer } | { profile: SeccompProfile };

export interface Converted {
  /** The runtime-spec file's bytes. */
  rendered: Buffer;
  /** Set when the profile was intersected with the handler's baseline. */
  baseline?: AppliedBaseline;
}

/**
 * The work on a profile's text that can take a thread for long: converting a profile for one
 * container (and intersecting it with a baseline) into the runtime-spec file's bytes, and reading
 * an SPO object (YAML; a 1 MiB one takes about a second to parse).
 */
export interface ProfileConverter {
  convert(from: ProfileSource, source: string, target: ConversionTarget, baseline?: Baseline): Promise<Converted>;
  readSpo(bytes: Buffer, source: string): Promise<SpoSeccompProfile>;
}

/** The way from a read profile to the file: convert for the container, intersect with the baseline, render. */
export function renderForContainer(profile: SeccompProfile, source: string, target: ConversionTarget, baseline?: Baseline): Converted {
  const spec = toRuntimeSpec(profile, target, { source });
  if (baseline === undefined) return { rendered: renderRuntimeSpecProfile(spec) };
  const merged = intersectWithBaseline(baseline, spec, target);
  return { rendered: renderRuntimeSpecProfile(merged.profile), baseline: merged.applied };
}

export interface ProfileConverterOptions {
  /** Conversions running at once; the rest wait their turn. */
  maxConcurrent: number;
  /**
   * Profiles at least this long are converted on a worker thread: a 1 MiB profile keeps a
   * thread busy for hundreds of milliseconds, which on the proxy's thread would stall every
   * CRI call. Smaller ones (nearly all: a few KiB) cost less than starting a thread.
   */
  workerFromBytes: number;
  /** Heap limit of a conversion thread: a hostile profile fails its container, not the node. */
  workerHeapMb: number;
}

export const DEFAULT_CONVERTER_OPTIONS: ProfileConverterOptions = { maxConcurrent: 2, workerFromBytes: 64 * 1024, workerHeapMb: 256 };

/** What a conversion thread is given (workerData) and answers. */
export interface ConversionJob {
  kind: 'convert';
  bytes: Uint8Array;
  source: string;
  arch: string;
  capabilities: string[];
  kernelVersion?: string;
  /** The baseline's file bytes: the thread reads them again rather than receive a parsed profile. */
  baseline?: { file: string; digest: string; bytes: Uint8Array };
}

/** An SPO object to read on a thread. */
export interface SpoReadJob {
  kind: 'read-spo';
  bytes: Uint8Array;
  source: string;
}

export type WorkerJob = ConversionJob | SpoReadJob;

export type ConversionReply =
  | { ok: true; rendered: Uint8Array; baseline?: AppliedBaseline }
  | { ok: true; spo: SpoSeccompProfile }
  | { ok: false; profileError: { source: string; path: string; problem: string; position?: TextPosition } }
  | { ok: false; message: string };

/** At most `max` holders at once; the others queue in arrival order. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }

  get queued(): number {
    return this.waiting.length;
  }
}

/**
 * Runs conversions and SPO reads under one bound, each on a thread of its own when the profile is
 * big; each is logged once (once per profile and capability set, not per container).
 */
export function createProfileConverter(options: ProfileConverterOptions = DEFAULT_CONVERTER_OPTIONS, logger?: Logger): ProfileConverter {
  const limiter = new Limiter(options.maxConcurrent);
  return {
    convert(from, source, target, baseline) {
      return limiter.run(async () => {
        const started = performance.now();
        const bytes = 'bytes' in from ? from.bytes : undefined;
        const onThread = bytes !== undefined && bytes.length >= options.workerFromBytes;
        let converted: Converted;
        if (bytes === undefined) converted = renderForContainer((from as { profile: SeccompProfile }).profile, source, target, baseline);
        else if (!onThread) converted = renderForContainer(parseProfile(bytes, source), source, target, baseline);
        else {
          const job: ConversionJob = { kind: 'convert', bytes, source, ...target, capabilities: [...target.capabilities] };
          if (baseline) job.baseline = { file: baseline.file, digest: baseline.digest, bytes: baseline.bytes };
          const reply = await runOnThread(job, options.workerHeapMb);
          if (!('rendered' in reply)) throw new Error(`converting the seccomp profile from ${source}: the thread answered another job`);
          const rendered = Buffer.from(reply.rendered.buffer, reply.rendered.byteOffset, reply.rendered.byteLength);
          converted = reply.baseline ? { rendered, baseline: reply.baseline } : { rendered };
        }
        const ms = Math.round(performance.now() - started);
        logger?.info({ ref: source, bytes: bytes?.length, onThread, ms }, 'Converted seccomp profile for this node');
        return converted;
      });
    },
    readSpo(bytes, source) {
      if (bytes.length < options.workerFromBytes) return Promise.resolve().then(() => parseSpoProfile(bytes, source));
      return limiter.run(async () => {
        const started = performance.now();
        const reply = await runOnThread({ kind: 'read-spo', bytes, source }, options.workerHeapMb);
        if (!('spo' in reply)) throw new Error(`reading the seccomp profile from ${source}: the thread answered another job`);
        logger?.info({ ref: source, bytes: bytes.length, onThread: true, ms: Math.round(performance.now() - started) }, 'Read SPO seccomp profile');
        return reply.spo;
      });
    },
  };
}

/** Runs one job on a thread of its own; a ProfileError on the thread comes back as one. */
function runOnThread(job: WorkerJob, heapMb: number): Promise<Extract<ConversionReply, { ok: true }>> {
  const doing = job.kind === 'convert' ? 'converting' : 'reading';
  return new Promise((resolve, reject) => {
    const worker = startWorker(job, heapMb);
    let settled = false;
    worker.once('message', (reply: ConversionReply) => {
      settled = true;
      if (reply.ok) resolve(reply);
      else if ('profileError' in reply) {
        const { source, path, problem, position } = reply.profileError;
        reject(new ProfileError(source, path, problem, position));
      } else reject(new Error(`${doing} the seccomp profile from ${job.source}: ${reply.message}`));
    });
    worker.once('error', (error) => {
      settled = true;
      if ((error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        reject(new ProfileError(job.source, ROOT_PATH, `cannot be ${job.kind === 'convert' ? 'converted' : 'read'}: needs more than ${heapMb} MB`));
      } else reject(new Error(`${doing} the seccomp profile from ${job.source}: ${error.message}`, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`${doing} the seccomp profile from ${job.source}: the thread exited with code ${code}`));
    });
  });
}

/**
 * The built shim runs conversion-worker.js; from TypeScript sources (tests, `tsx`) the thread
 * registers tsx first, since a thread does not inherit the parent's module loader hooks.
 */
function startWorker(job: WorkerJob, heapMb: number): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: heapMb };
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./conversion-worker.js', import.meta.url), { workerData: job, resourceLimits });
  }
  const api = tsxEsmApi();
  const entry = new URL('./conversion-worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: job, resourceLimits });
}

/** tsx's ESM API module, as its package exports name it (the thread runs ESM). */
function tsxEsmApi(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = exports['./esm/api']?.import.default;
  if (api === undefined) throw new Error(`${manifest} exports no ./esm/api`);
  return pathToFileURL(path.join(path.dirname(manifest), api)).href;
}
