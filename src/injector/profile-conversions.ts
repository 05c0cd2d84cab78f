import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { convertProfile, ProfileError, ROOT_PATH, type ConversionTarget, type TextPosition } from '../seccomp/index.js';

/** Converts a published profile for one container into the runtime-spec file's bytes. */
export interface ProfileConverter {
  convert(bytes: Buffer, source: string, target: ConversionTarget): Promise<Buffer>;
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
  bytes: Uint8Array;
  source: string;
  arch: string;
  capabilities: string[];
  kernelVersion?: string;
}

export type ConversionReply =
  | { ok: true; rendered: Uint8Array }
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

/** Runs conversions under the bound; each is logged once (once per profile and capability set, not per container). */
export function createProfileConverter(options: ProfileConverterOptions = DEFAULT_CONVERTER_OPTIONS, logger?: Logger): ProfileConverter {
  const limiter = new Limiter(options.maxConcurrent);
  return {
    convert(bytes, source, target) {
      return limiter.run(async () => {
        const started = performance.now();
        const onThread = bytes.length >= options.workerFromBytes;
        const rendered = onThread
          ? await convertOnThread({ bytes, source, ...target, capabilities: [...target.capabilities] }, options.workerHeapMb)
          : convertProfile(bytes, source, target);
        const ms = Math.round(performance.now() - started);
        logger?.info({ ref: source, bytes: bytes.length, onThread, ms }, 'Converted seccomp profile for this node');
        return rendered;
      });
    },
  };
}

function convertOnThread(job: ConversionJob, heapMb: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const worker = startWorker(job, heapMb);
    let settled = false;
    worker.once('message', (reply: ConversionReply) => {
      settled = true;
      if (reply.ok) resolve(Buffer.from(reply.rendered.buffer, reply.rendered.byteOffset, reply.rendered.byteLength));
      else if ('profileError' in reply) {
        const { source, path, problem, position } = reply.profileError;
        reject(new ProfileError(source, path, problem, position));
      } else reject(new Error(`converting the seccomp profile from ${job.source}: ${reply.message}`));
    });
    worker.once('error', (error) => {
      settled = true;
      if ((error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        reject(new ProfileError(job.source, ROOT_PATH, `cannot be converted: needs more than ${heapMb} MB`));
      } else reject(new Error(`converting the seccomp profile from ${job.source}: ${error.message}`, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`converting the seccomp profile from ${job.source}: the conversion thread exited with code ${code}`));
    });
  });
}

/**
 * The built shim runs conversion-worker.js; from TypeScript sources (tests, `tsx`) the thread
 * registers tsx first, since a thread does not inherit the parent's module loader hooks.
 */
function startWorker(job: ConversionJob, heapMb: number): Worker {
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
