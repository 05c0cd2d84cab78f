import path from 'node:path';
import type { Logger } from '../log/logger.js';
import { containersInUse, type InUse } from './containers-in-use.js';
import { executeGc, planGc, type GcPlan, type GcPolicy } from './gc.js';
import { readInventory } from './inventory.js';

export interface GcObserver {
  gcRun(result: 'removed' | 'skipped' | 'failed', plan?: GcPlan): void;
}

export interface GcOptions {
  stateDir: string;
  runtimeEndpoint: string;
  policy: GcPolicy;
  dryRun: boolean;
  logger: Logger;
  observer?: GcObserver;
  now?: () => Date;
  /** What the runtime's containers reference; asks the runtime unless given (tests). */
  inUse?: () => Promise<InUse>;
}

/** Raised when gc removes nothing because it cannot prove anything unused. */
export class GcSkipped extends Error {
  override readonly name = 'GcSkipped';
}

/** One gc pass: inventory, the runtime's containers, the plan, and (unless a dry run) the removals. */
export async function collectGarbage(options: GcOptions): Promise<GcPlan> {
  const log = options.logger;
  let inUse: InUse;
  try {
    inUse = await (options.inUse ?? (() => containersInUse(options.runtimeEndpoint, path.join(options.stateDir, 'profiles'))))();
  } catch (error) {
    options.observer?.gcRun('skipped');
    const message = `the runtime at ${options.runtimeEndpoint} did not list its containers (${(error as Error).message}): nothing removed`;
    log.warn({ runtimeEndpoint: options.runtimeEndpoint, err: (error as Error).message }, 'Store gc skipped: the runtime did not list its containers');
    throw new GcSkipped(message, { cause: error });
  }
  try {
    const plan = await planGc(await readInventory(options.stateDir), inUse, options.policy, (options.now ?? (() => new Date()))());
    if (!plan.filesKnown) log.warn('Store gc keeps every profile file: the runtime did not say which profile each container loads');
    for (const { use, reason } of plan.uses) {
      log.info({ ref: use.reference, digest: use.manifestDigest, lastUse: use.lastUse.toISOString(), reason, dryRun: options.dryRun }, 'Removing unused seccomp profile from the store');
    }
    for (const { item, reason } of plan.items) {
      log.debug({ kind: item.kind, file: item.file, bytes: item.bytes, reason, dryRun: options.dryRun }, 'Removing stored file');
    }
    if (!options.dryRun) await executeGc(options.stateDir, plan);
    log.info(
      { removedFiles: plan.items.length, removedRecords: plan.uses.length, removedImageRecords: plan.imageRecords.length, bytesBefore: plan.bytesBefore, bytesAfter: plan.bytesAfter, containers: inUse.containers.length, dryRun: options.dryRun },
      'Store gc done',
    );
    options.observer?.gcRun(options.dryRun ? 'skipped' : 'removed', plan);
    return plan;
  } catch (error) {
    options.observer?.gcRun('failed');
    throw error;
  }
}

export interface BackgroundGc {
  stop(): Promise<void>;
}

/** gc every `intervalMs` in the background of `serve`, one pass at a time; the first a minute after start. */
export function startBackgroundGc(options: Omit<GcOptions, 'dryRun'>, intervalMs: number, firstDelayMs = 60_000): BackgroundGc {
  let running: Promise<void> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = collectGarbage({ ...options, dryRun: false })
        .then(() => undefined, (error: unknown) => {
          if (!(error instanceof GcSkipped)) options.logger.error({ err: error }, 'Store gc failed');
        })
        .finally(() => {
          running = undefined;
          schedule(intervalMs);
        });
    }, delay);
    timer.unref();
  };
  schedule(Math.min(firstDelayMs, intervalMs));
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
