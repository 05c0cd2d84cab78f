import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type ShimSettings } from '../config/index.js';
import {
  intersectSeccomp,
  libseccompArchName,
  parseProfile,
  specArchitecture,
  toRuntimeSpec,
  type ConversionTarget,
  type IntersectionReport,
  type RuntimeSpecSeccomp,
  type SeccompProfile,
} from '../seccomp/index.js';

/** A runtime handler's baseline profile, read and validated once at start-up. */
export interface Baseline {
  file: string;
  /** sha256 of the file's bytes, as `sha256:<hex>`: names the baseline in the audit annotation. */
  digest: string;
  /** The file as read: a conversion thread reads it again from these. */
  bytes: Buffer;
  profile: SeccompProfile;
}

/** A baseline as applied to one container, with what it tightened. */
export interface AppliedBaseline {
  file: string;
  digest: string;
  report: IntersectionReport;
}

/**
 * Every handler's `baseline_profile`, read, parsed and converted once for the node so that a
 * baseline that cannot be used stops start-up with the file and the reason; never a silent
 * "no baseline". Handlers naming the same file share one Baseline.
 */
export function loadBaselines(
  settings: Pick<ShimSettings, 'runtimes' | 'defaultCapabilities'>,
  arch: string,
): Map<string, Baseline> {
  const byFile = new Map<string, Baseline>();
  const baselines = new Map<string, Baseline>();
  for (const [handler, runtime] of Object.entries(settings.runtimes)) {
    const file = runtime.baselineProfile;
    if (file === undefined) continue;
    let baseline = byFile.get(file);
    if (!baseline) {
      baseline = readBaseline(file, `shim.runtimes.${handler}.baseline_profile`, arch, settings.defaultCapabilities);
      byFile.set(file, baseline);
    }
    baselines.set(handler, baseline);
  }
  return baselines;
}

function readBaseline(file: string, key: string, arch: string, capabilities: readonly string[]): Baseline {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const profile = parseProfile(bytes, file);
    toRuntimeSpec(profile, { arch, capabilities }, { source: file });
    return { file, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes, profile };
  } catch (error) {
    throw new ConfigError(`${key}: ${(error as Error).message}`);
  }
}

/**
 * KEP-6061's merge for one container: the baseline converted for the same container as the
 * artifact's profile, then intersected with it, the baseline first in merge order.
 */
export function intersectWithBaseline(
  baseline: Baseline,
  artifact: RuntimeSpecSeccomp,
  target: ConversionTarget,
): { profile: RuntimeSpecSeccomp; applied: AppliedBaseline } {
  const base = toRuntimeSpec(baseline.profile, target, { source: baseline.file });
  const { profile, report } = intersectSeccomp(base, artifact, { nativeArch: specArchitecture(libseccompArchName(target.arch)) });
  return { profile, applied: { file: baseline.file, digest: baseline.digest, report } };
}

const LISTED = 12;

/**
 * The one log line per container saying what the baseline tightened, with the lists as fields:
 * a warning when it tightened anything, as KEP-6061 asks, so unexpected EPERMs can be traced.
 */
export function baselineMessage(applied: { file: string; report: IntersectionReport }): {
  level: 'warn' | 'info';
  fields: object;
  message: string;
} {
  const { tightened, forcedDeny, defaultAction, droppedArchitectures } = applied.report;
  const list = (names: string[]) =>
    names.length > LISTED ? `${names.slice(0, LISTED).join(', ')} and ${names.length - LISTED} more` : names.join(', ');
  const parts: string[] = [];
  if (defaultAction) parts.push(`default action ${defaultAction.artifact} -> ${defaultAction.result}`);
  if (tightened.length > 0) parts.push(`${tightened.length} syscalls restricted beyond the artifact's rules: ${list(tightened)}`);
  if (forcedDeny.length > 0) {
    parts.push(`${forcedDeny.length} denied because their argument conditions could not be merged exactly: ${list(forcedDeny)}`);
  }
  if (droppedArchitectures.length > 0) parts.push(`architectures dropped: ${droppedArchitectures.join(', ')}`);
  return {
    level: parts.length > 0 ? 'warn' : 'info',
    fields: { baseline: applied.file, tightened, forcedDeny, defaultAction, droppedArchitectures },
    message:
      parts.length > 0
        ? `Seccomp baseline ${applied.file} tightened the artifact's profile: ${parts.join('; ')}`
        : `Seccomp baseline ${applied.file} applied: the artifact's profile was already within it`,
  };
}
