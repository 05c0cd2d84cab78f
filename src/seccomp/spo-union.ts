import type { SeccompAction, SeccompArg, SeccompRule } from './types.js';

/**
 * The Security Profiles Operator's union of two syscall lists (its UnionSyscalls, from
 * github.com/saschagrunert/security-profiles-merger): one rule per syscall name; where both lists
 * (or one list twice) name a syscall, the less restrictive action wins, ties go to the left; the
 * errno comes with the winning action; argument filters are combined, and a side without filters
 * makes the rule unconditional. Sorted by name. Profile-level fields are not its concern.
 */
export function unionSyscalls(left: SeccompRule[], right: SeccompRule[]): SeccompRule[] {
  const leftByName = byName(left);
  const rightByName = byName(right);
  const merged: SeccompRule[] = [];
  for (const [name, entry] of leftByName) {
    const other = rightByName.get(name);
    merged.push(other ? pick(entry, other) : entry);
  }
  for (const [name, entry] of rightByName) if (!leftByName.has(name)) merged.push(entry);
  return merged.sort((a, b) => compare(a.names?.[0] ?? '', b.names?.[0] ?? ''));
}

/** Restrictiveness as the merger ranks it: kill first, allow last. */
const LEVEL: Record<SeccompAction, number> = {
  SCMP_ACT_KILL_PROCESS: 0,
  SCMP_ACT_KILL: 1,
  SCMP_ACT_KILL_THREAD: 1,
  SCMP_ACT_TRAP: 2,
  SCMP_ACT_ERRNO: 3,
  SCMP_ACT_TRACE: 5,
  SCMP_ACT_LOG: 6,
  SCMP_ACT_ALLOW: 7,
};

function byName(rules: SeccompRule[]): Map<string, SeccompRule> {
  const map = new Map<string, SeccompRule>();
  for (const rule of rules) {
    for (const name of rule.names ?? (rule.name !== undefined ? [rule.name] : [])) {
      const single = singleRule(name, rule);
      const existing = map.get(name);
      map.set(name, existing ? pick(existing, single) : single);
    }
  }
  return map;
}

function singleRule(name: string, rule: SeccompRule): SeccompRule {
  const single: SeccompRule = { names: [name], action: rule.action, args: rule.args, includes: rule.includes, excludes: rule.excludes };
  if (rule.errnoRet !== undefined) single.errnoRet = rule.errnoRet;
  return single;
}

function pick(left: SeccompRule, right: SeccompRule): SeccompRule {
  const leftWins = LEVEL[left.action] >= LEVEL[right.action];
  const winner = leftWins ? left : right;
  const rule: SeccompRule = { names: left.names ?? [], action: winner.action, args: unionArgs(left.args, right.args), includes: left.includes, excludes: left.excludes };
  if (winner.errnoRet !== undefined) rule.errnoRet = winner.errnoRet;
  return rule;
}

function unionArgs(left: SeccompArg[], right: SeccompArg[]): SeccompArg[] {
  if (left.length === 0 || right.length === 0) return [];
  return [...left, ...right.filter((arg) => !left.some((l) => sameArg(l, arg)))];
}

function sameArg(a: SeccompArg, b: SeccompArg): boolean {
  return a.index === b.index && a.value === b.value && a.valueTwo === b.valueTwo && a.op === b.op;
}

/** Go's string order (bytes); syscall names are ASCII, where UTF-16 order is the same. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
