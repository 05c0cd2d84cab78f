import type {
  RuntimeSpecArg,
  RuntimeSpecSeccomp,
  RuntimeSpecSyscall,
  SeccompAction,
  SeccompArchitecture,
  SeccompFlag,
} from './types.js';

/**
 * KEP-6061's strictness order: KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > (NOTIFY) > TRACE > LOG >
 * ALLOW. SCMP_ACT_KILL is libseccomp's old name for KILL_THREAD. NOTIFY never reaches a merge here:
 * profiles carrying it are rejected when parsed.
 */
const RANK: Readonly<Record<SeccompAction, number>> = {
  SCMP_ACT_ALLOW: 0,
  SCMP_ACT_LOG: 1,
  SCMP_ACT_TRACE: 2,
  SCMP_ACT_ERRNO: 4,
  SCMP_ACT_TRAP: 5,
  SCMP_ACT_KILL: 6,
  SCMP_ACT_KILL_THREAD: 6,
  SCMP_ACT_KILL_PROCESS: 7,
};

export function actionRank(action: SeccompAction): number {
  return RANK[action];
}

/** What one syscall invocation gets: an action and, for ERRNO and TRACE, the errno. */
interface Outcome {
  action: SeccompAction;
  errnoRet?: number;
}

/** One runtime-spec entry with conditions: all must hold (distinct argument indices). */
interface Entry {
  outcome: Outcome;
  conds: RuntimeSpecArg[];
}

/**
 * What a profile does with one syscall: the strictest outcome of the entries whose conditions
 * hold, or `fallthrough` when none does. No entries: the syscall is unconditional.
 */
interface SyscallForm {
  entries: Entry[];
  fallthrough: Outcome;
}

export interface IntersectOptions {
  /** The node's architecture as the runtime spec names it: runc always filters it. */
  nativeArch: SeccompArchitecture;
}

/** What the merge did to the artifact's profile, for the one log line per container. */
export interface IntersectionReport {
  /** Set when the baseline's default action is stricter than the artifact's. */
  defaultAction?: { artifact: SeccompAction; result: SeccompAction };
  /** Syscalls the result restricts more than the artifact alone did, sorted. */
  tightened: string[];
  /** Syscalls where argument conditions could not be merged exactly and were denied instead. */
  forcedDeny: string[];
  /** Architectures the artifact listed that the baseline does not: the kernel kills their calls. */
  droppedArchitectures: SeccompArchitecture[];
}

export interface Intersection {
  profile: RuntimeSpecSeccomp;
  report: IntersectionReport;
}

/**
 * KEP-6061's intersection of two runtime-spec profiles, both already converted for the same
 * container: an invocation the result allows is allowed by both. Per syscall the stricter action
 * wins; on equal strictness the baseline's errno wins (it comes first in KEP-6061's merge order).
 * Conditions on different arguments are conjoined and identical ones kept; where a condition pair
 * cannot be written in the runtime-spec format the stricter side is taken, and the syscall is
 * reported in `forcedDeny`. Architectures intersect after each side gets the native one (which runc
 * always filters), so the result is exact. Flags: SPEC_ALLOW only if both set it, LOG and TSYNC
 * if either does, WAIT_KILLABLE_RECV (a listener's) from the baseline only.
 */
export function intersectSeccomp(
  baseline: RuntimeSpecSeccomp,
  artifact: RuntimeSpecSeccomp,
  options: IntersectOptions,
): Intersection {
  const baseDefault = defaultOutcome(baseline);
  const artifactDefault = defaultOutcome(artifact);
  const resultDefault = stricter(baseDefault, artifactDefault);
  const baseForms = formsOf(baseline, baseDefault);
  const artifactForms = formsOf(artifact, artifactDefault);

  const tightened: string[] = [];
  const forcedDeny: string[] = [];
  const syscalls: RuntimeSpecSyscall[] = [];
  const names = [...new Set([...baseForms.keys(), ...artifactForms.keys()])].sort();
  for (const name of names) {
    const fromArtifact = artifactForms.get(name) ?? { entries: [], fallthrough: artifactDefault };
    const merged = mergeSyscall(baseForms.get(name) ?? { entries: [], fallthrough: baseDefault }, fromArtifact, resultDefault);
    if (merged.forced) forcedDeny.push(name);
    if (signature(merged.form) !== signature(fromArtifact)) tightened.push(name);
    syscalls.push(...render(name, merged.form, resultDefault));
  }

  const profile: RuntimeSpecSeccomp = { defaultAction: resultDefault.action };
  if (resultDefault.errnoRet !== undefined) profile.defaultErrnoRet = resultDefault.errnoRet;
  const artifactArches = withNative(artifact.architectures, options.nativeArch);
  const architectures = withNative(baseline.architectures, options.nativeArch).filter((a) => artifactArches.includes(a));
  profile.architectures = architectures;
  const flags = mergeFlags(baseline.flags ?? [], artifact.flags ?? []);
  if (flags.length > 0) profile.flags = flags;
  if (syscalls.length > 0) profile.syscalls = groupUnconditional(syscalls);

  const report: IntersectionReport = {
    tightened,
    forcedDeny,
    droppedArchitectures: (artifact.architectures ?? []).filter((a) => !architectures.includes(a)),
  };
  if (RANK[resultDefault.action] > RANK[artifactDefault.action]) {
    report.defaultAction = { artifact: artifactDefault.action, result: resultDefault.action };
  }
  return { profile, report };
}

/** The stricter outcome; on equal strictness the first (the baseline's, in merge order). */
function stricter(first: Outcome, second: Outcome): Outcome {
  return RANK[second.action] > RANK[first.action] ? second : first;
}

function outcome(action: SeccompAction, errnoRet: number | undefined): Outcome {
  return errnoRet === undefined ? { action } : { action, errnoRet };
}

function defaultOutcome(spec: RuntimeSpecSeccomp): Outcome {
  return outcome(spec.defaultAction, spec.defaultErrnoRet);
}

/**
 * Each syscall's form. An entry whose conditions repeat an argument index is runc's OR of single
 * conditions, so it becomes one entry per condition. An unconditional entry always matches, so
 * conditional entries no stricter than it add nothing.
 */
function formsOf(spec: RuntimeSpecSeccomp, fallback: Outcome): Map<string, SyscallForm> {
  const unconditional = new Map<string, Outcome>();
  const conditional = new Map<string, Entry[]>();
  for (const syscall of spec.syscalls ?? []) {
    const out = outcome(syscall.action, syscall.errnoRet);
    const args = syscall.args ?? [];
    const indices = new Set(args.map((arg) => arg.index));
    const groups = args.length === 0 ? [] : indices.size === args.length ? [args] : args.map((arg) => [arg]);
    for (const name of syscall.names) {
      if (groups.length === 0) {
        const known = unconditional.get(name);
        unconditional.set(name, known ? stricter(known, out) : out);
      } else {
        conditional.set(name, [...(conditional.get(name) ?? []), ...groups.map((conds) => ({ outcome: out, conds }))]);
      }
    }
  }
  const forms = new Map<string, SyscallForm>();
  for (const name of new Set([...unconditional.keys(), ...conditional.keys()])) {
    const always = unconditional.get(name);
    const entries = conditional.get(name) ?? [];
    forms.set(
      name,
      always
        ? { entries: entries.filter((e) => RANK[e.outcome.action] > RANK[always.action]), fallthrough: always }
        : { entries, fallthrough: fallback },
    );
  }
  return forms;
}

function mergeSyscall(base: SyscallForm, art: SyscallForm, resultDefault: Outcome): { form: SyscallForm; forced: boolean } {
  const fallthrough = stricter(base.fallthrough, art.fallthrough);
  if (base.entries.length === 0 || art.entries.length === 0) {
    // One side is unconditional: it raises every outcome of the other to at least its own. Exact.
    const entries =
      base.entries.length === 0
        ? art.entries.map((e) => ({ conds: e.conds, outcome: stricter(base.fallthrough, e.outcome) }))
        : base.entries.map((e) => ({ conds: e.conds, outcome: stricter(e.outcome, art.fallthrough) }));
    return fit({ entries, fallthrough }, resultDefault, false);
  }
  const level = RANK[fallthrough.action];
  if (!onlyLoosens(base, level) || !onlyLoosens(art, level)) return deny({ entries: [...base.entries, ...art.entries], fallthrough });

  // Both sides only loosen one shared fallthrough: the result loosens where an entry of each holds.
  const entries: Entry[] = [];
  const dropped: number[] = [];
  for (const b of base.entries) {
    for (const a of art.entries) {
      const out = stricter(b.outcome, a.outcome);
      const conds = conjoin(b.conds, a.conds);
      if (conds === 'never') continue;
      if (conds !== undefined) entries.push({ outcome: out, conds });
      // At the fallthrough's strictness the stricter side's own conditions are exact: where they
      // hold that side alone already gives this outcome.
      else if (RANK[out.action] === level) entries.push({ outcome: out, conds: RANK[a.outcome.action] > RANK[b.outcome.action] ? a.conds : b.conds });
      else dropped.push(RANK[out.action]);
    }
  }
  if (dropped.length === 0) return fit({ entries, fallthrough }, resultDefault, false);
  // Leaving a pair out hands its invocations to the fallthrough (stricter), unless a looser kept
  // entry also matches them: then only denying the whole syscall is safe.
  const kept = Math.min(...entries.map((e) => RANK[e.outcome.action]));
  if (kept < Math.max(...dropped)) return deny({ entries: [...base.entries, ...art.entries], fallthrough });
  return fit({ entries, fallthrough }, resultDefault, true);
}

/** Whether a form falls through at `level` and its entries only ever loosen that. */
function onlyLoosens(form: SyscallForm, level: number): boolean {
  return RANK[form.fallthrough.action] === level && form.entries.every((e) => RANK[e.outcome.action] <= level);
}

/** A form the runtime spec can say: unconditional, or entries falling through to the default. */
function fit(form: SyscallForm, resultDefault: Outcome, forced: boolean): { form: SyscallForm; forced: boolean } {
  const level = RANK[form.fallthrough.action];
  if (form.entries.every((e) => RANK[e.outcome.action] === level)) return { form: { entries: [], fallthrough: form.fallthrough }, forced };
  if (level === RANK[resultDefault.action]) return { form, forced };
  return deny(form);
}

/** The syscall unconditionally at the strictest outcome any invocation of it could have. */
function deny(form: SyscallForm): { form: SyscallForm; forced: boolean } {
  const strictest = form.entries.reduce((acc, e) => stricter(acc, e.outcome), form.fallthrough);
  return { form: { entries: [], fallthrough: strictest }, forced: true };
}

const sameCondition = (x: RuntimeSpecArg, y: RuntimeSpecArg) =>
  x.op === y.op && x.value === y.value && (x.op !== 'SCMP_CMP_MASKED_EQ' || (x.valueTwo ?? 0n) === (y.valueTwo ?? 0n));

/** Whether a condition holds for an argument value, as libseccomp compares 64-bit arguments. */
export function conditionHolds(cond: RuntimeSpecArg, value: bigint): boolean {
  switch (cond.op) {
    case 'SCMP_CMP_NE':
      return value !== cond.value;
    case 'SCMP_CMP_LT':
      return value < cond.value;
    case 'SCMP_CMP_LE':
      return value <= cond.value;
    case 'SCMP_CMP_EQ':
      return value === cond.value;
    case 'SCMP_CMP_GE':
      return value >= cond.value;
    case 'SCMP_CMP_GT':
      return value > cond.value;
    case 'SCMP_CMP_MASKED_EQ':
      return (value & cond.value) === (cond.valueTwo ?? 0n);
  }
}

/**
 * Both condition lists at once, one condition per argument index; 'never' when no value can
 * satisfy both, undefined when the conjunction has no runtime-spec form (two different ranges).
 */
function conjoin(x: RuntimeSpecArg[], y: RuntimeSpecArg[]): RuntimeSpecArg[] | 'never' | undefined {
  const byIndex = new Map<number, RuntimeSpecArg>(x.map((c) => [c.index, c]));
  let expressible = true;
  for (const c of y) {
    const known = byIndex.get(c.index);
    if (!known || sameCondition(known, c)) byIndex.set(c.index, known ?? c);
    else if (known.op === 'SCMP_CMP_EQ' || c.op === 'SCMP_CMP_EQ') {
      const [eq, other] = known.op === 'SCMP_CMP_EQ' ? [known, c] : [c, known];
      if (!conditionHolds(other, eq.value)) return 'never';
      byIndex.set(c.index, eq);
    } else expressible = false;
  }
  return expressible ? [...byIndex.values()].sort((a, b) => a.index - b.index) : undefined;
}

function withNative(architectures: SeccompArchitecture[] | undefined, native: SeccompArchitecture): SeccompArchitecture[] {
  const list = architectures ?? [];
  return list.includes(native) ? [...list] : [native, ...list];
}

function mergeFlags(baseline: SeccompFlag[], artifact: SeccompFlag[]): SeccompFlag[] {
  const either = (flag: SeccompFlag) => baseline.includes(flag) || artifact.includes(flag);
  const flags: SeccompFlag[] = [];
  if (either('SECCOMP_FILTER_FLAG_TSYNC')) flags.push('SECCOMP_FILTER_FLAG_TSYNC');
  if (either('SECCOMP_FILTER_FLAG_LOG')) flags.push('SECCOMP_FILTER_FLAG_LOG');
  if (baseline.includes('SECCOMP_FILTER_FLAG_SPEC_ALLOW') && artifact.includes('SECCOMP_FILTER_FLAG_SPEC_ALLOW')) {
    flags.push('SECCOMP_FILTER_FLAG_SPEC_ALLOW');
  }
  if (baseline.includes('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV')) flags.push('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV');
  return flags;
}

/** What a form does, by strictness only: equal signatures mean the merge changed nothing. */
function signature(form: SyscallForm): string {
  const entries = form.entries.map((e) => `${RANK[e.outcome.action]}:${e.conds.map(conditionKey).sort().join('&')}`).sort();
  return `${RANK[form.fallthrough.action]}|${entries.join('|')}`;
}

function conditionKey(c: RuntimeSpecArg): string {
  return `${c.index}${c.op}${c.value}/${c.op === 'SCMP_CMP_MASKED_EQ' ? (c.valueTwo ?? 0n) : 0n}`;
}

function render(name: string, form: SyscallForm, resultDefault: Outcome): RuntimeSpecSyscall[] {
  if (form.entries.length > 0) return form.entries.map((e) => specEntry(name, e.outcome, e.conds));
  const out = form.fallthrough;
  return out.action === resultDefault.action && out.errnoRet === resultDefault.errnoRet ? [] : [specEntry(name, out)];
}

function specEntry(name: string, out: Outcome, args?: RuntimeSpecArg[]): RuntimeSpecSyscall {
  const entry: RuntimeSpecSyscall = { names: [name], action: out.action };
  if (out.errnoRet !== undefined) entry.errnoRet = out.errnoRet;
  if (args) entry.args = args;
  return entry;
}

/** Unconditional entries with the same outcome share one entry, names sorted, as profiles write them. */
function groupUnconditional(syscalls: RuntimeSpecSyscall[]): RuntimeSpecSyscall[] {
  const grouped = new Map<string, RuntimeSpecSyscall>();
  const out: RuntimeSpecSyscall[] = [];
  for (const syscall of syscalls) {
    if (syscall.args) {
      out.push(syscall);
      continue;
    }
    const key = `${syscall.action} ${syscall.errnoRet ?? ''}`;
    const known = grouped.get(key);
    if (known) known.names.push(...syscall.names);
    else {
      const copy = { ...syscall, names: [...syscall.names] };
      grouped.set(key, copy);
      out.push(copy);
    }
  }
  return out;
}
