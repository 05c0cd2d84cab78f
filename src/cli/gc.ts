import { createLogger } from '../log/logger.js';
import { collectGarbage, GcSkipped } from '../store/index.js';
import { formatBytes } from './format.js';
import { applyNodeFlags, NODE_OPTIONS } from './node-flags.js';
import { answeredHelpOrVersion, loadConfigFromFlags, parseCommandArgs } from './options.js';

const GC_OPTIONS = { ...NODE_OPTIONS, 'dry-run': { type: 'boolean' } } as const;

/** `gc [--dry-run]`: one store gc pass, as `serve` runs in the background. */
export async function gc(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, GC_OPTIONS);
  if (answeredHelpOrVersion(values)) return 0;
  const { settings } = loadConfigFromFlags(values);
  applyNodeFlags(settings, values);
  const logger = createLogger({ level: values['log-level'] ?? 'warn' });
  const dryRun = values['dry-run'] ?? false;
  try {
    const plan = await collectGarbage({
      stateDir: settings.stateDir,
      runtimeEndpoint: settings.runtimeEndpoint,
      policy: { graceMs: settings.gc.graceMs, maxBytes: settings.gc.maxBytes },
      dryRun,
      logger,
    });
    const verb = dryRun ? 'would remove' : 'removed';
    for (const { use, reason } of plan.uses) {
      process.stdout.write(`${verb} ${use.reference}@${use.manifestDigest} (last used ${use.lastUse.toISOString()}, ${reason === 'size' ? 'store over its size bound' : 'unused'})\n`);
    }
    const profiles = plan.items.filter((i) => i.item.kind === 'profile').length;
    const blobs = plan.items.length - profiles;
    process.stdout.write(
      `${verb} ${plan.uses.length} profile records, ${profiles} profile files, ${blobs} blobs, ${plan.tags.length} tag records, ` +
        `${plan.imageRecords.length} image annotation records; ` +
        `store ${formatBytes(plan.bytesBefore)} -> ${formatBytes(plan.bytesAfter)}\n`,
    );
    if (!plan.filesKnown) process.stdout.write('kept every profile file: the runtime did not say which profile each container loads\n');
    return 0;
  } catch (error) {
    if (!(error instanceof GcSkipped)) throw error;
    process.stderr.write(`seccomp-oci-shim: gc: ${error.message}\n`);
    return 1;
  }
}
