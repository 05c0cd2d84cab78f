import { errnoNumber, MAX_ERRNO, MIN_ERRNO } from './errno.js';
import { JsonNumber, JsonSyntaxError, readJson, type JsonObject, type JsonValue } from './json-reader.js';
import { ProfileError, ROOT_PATH } from './profile-error.js';
import {
  LIBSECCOMP_ARCH_NAMES,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHITECTURES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  type SeccompAction,
  type SeccompArchMapEntry,
  type SeccompArchitecture,
  type SeccompArg,
  type SeccompFilter,
  type SeccompFlag,
  type SeccompOperator,
  type SeccompProfile,
  type SeccompRule,
} from './types.js';

const MAX_ARG_INDEX = 5;
const UINT64_MAX = (1n << 64n) - 1n;
const CAPABILITY_NAME = /^CAP_[A-Z0-9_]+$/;
const KERNEL_VERSION = /^[0-9]+\.[0-9]+$/;

/**
 * Reads and validates a seccomp profile in the Docker/moby format (or the runtime-spec form, which
 * is a subset of it). Throws ProfileError naming `source` and the offending member.
 *
 * As in containers/common, members it does not know are ignored and `null` means absent; unlike it,
 * anything the node would fail on later, or silently ignore, is refused here.
 */
export function parseProfile(bytes: Buffer | string, source: string): SeccompProfile {
  const root = readDocument(bytes, source);
  return new ProfileValidator(source).profile(root);
}

/** Validates a profile already read into JSON values (SPO's YAML objects are read in spo-profile.ts). */
export function profileFromValue(root: JsonValue, source: string): SeccompProfile {
  return new ProfileValidator(source).profile(root);
}

function readDocument(bytes: Buffer | string, source: string): JsonValue {
  let text: string;
  if (typeof bytes === 'string') {
    text = bytes;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new ProfileError(source, ROOT_PATH, 'is not valid UTF-8');
    }
  }
  try {
    return readJson(text);
  } catch (error) {
    if (error instanceof JsonSyntaxError) {
      throw new ProfileError(source, ROOT_PATH, error.problem, { line: error.line, column: error.column });
    }
    throw error;
  }
}

function member(path: string, key: string): string {
  return path === ROOT_PATH ? key : `${path}.${key}`;
}

function describe(value: JsonValue): string {
  if (value === null) return 'null';
  if (value instanceof JsonNumber) return `the number ${value.raw}`;
  if (value instanceof Map) return 'an object';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `the boolean ${value}`;
}

class ProfileValidator {
  constructor(private readonly source: string) {}

  private fail(path: string, problem: string): never {
    throw new ProfileError(this.source, path, problem);
  }

  profile(root: JsonValue): SeccompProfile {
    const obj = this.object(root, ROOT_PATH);
    for (const key of ['listenerPath', 'listenerMetadata']) {
      const value = this.optional(obj, key);
      if (value !== undefined && value !== '') {
        this.fail(key, 'is not allowed: a profile from an artifact cannot bring a seccomp listener (KEP-6061)');
      }
    }
    const defaultAction = this.optional(obj, 'defaultAction');
    if (defaultAction === undefined) {
      this.fail('defaultAction', 'is missing (without it CRI-O would run the container unconfined)');
    }
    const profile: SeccompProfile = {
      defaultAction: this.action(defaultAction, 'defaultAction'),
      architectures: this.list(obj, ROOT_PATH, 'architectures', (v, p) => this.architecture(v, p)),
      archMap: this.list(obj, ROOT_PATH, 'archMap', (v, p) => this.archMapEntry(v, p)),
      syscalls: this.list(obj, ROOT_PATH, 'syscalls', (v, p) => this.rule(v, p)),
      flags: this.list(obj, ROOT_PATH, 'flags', (v, p) => this.oneOf(v, p, SECCOMP_FLAGS, 'flag') as SeccompFlag),
    };
    const defaultErrnoRet = this.optional(obj, 'defaultErrnoRet');
    if (defaultErrnoRet !== undefined) profile.defaultErrnoRet = this.errnoRet(defaultErrnoRet, 'defaultErrnoRet');
    const defaultErrno = this.optional(obj, 'defaultErrno');
    if (defaultErrno !== undefined && defaultErrno !== '') {
      profile.defaultErrno = this.errnoName(defaultErrno, 'defaultErrno');
    }
    if (profile.architectures.length > 0 && profile.archMap.length > 0) {
      this.fail('archMap', "is set together with 'architectures'; use one of them (CRI-O refuses both)");
    }
    return profile;
  }

  private archMapEntry(value: JsonValue, path: string): SeccompArchMapEntry {
    const obj = this.object(value, path);
    const architecture = this.optional(obj, 'architecture');
    if (architecture === undefined) this.fail(member(path, 'architecture'), 'is missing');
    return {
      architecture: this.architecture(architecture, member(path, 'architecture')),
      subArchitectures: this.list(obj, path, 'subArchitectures', (v, p) => this.architecture(v, p)),
    };
  }

  private rule(value: JsonValue, path: string): SeccompRule {
    const obj = this.object(value, path);
    const action = this.optional(obj, 'action');
    if (action === undefined) this.fail(member(path, 'action'), 'is missing');
    const rule: SeccompRule = {
      action: this.action(action, member(path, 'action')),
      args: this.list(obj, path, 'args', (v, p) => this.arg(v, p)),
      includes: this.filter(obj, path, 'includes'),
      excludes: this.filter(obj, path, 'excludes'),
    };
    const name = this.optional(obj, 'name');
    if (name !== undefined && this.string(name, member(path, 'name')) !== '') rule.name = name as string;
    const names = this.list(obj, path, 'names', (v, p) => this.nonEmptyString(v, p));
    if (names.length > 0) rule.names = names;
    if (rule.name !== undefined && rule.names !== undefined) {
      this.fail(path, "sets both 'name' and 'names'; use one of them (CRI-O refuses both)");
    }
    if (rule.name === undefined && rule.names === undefined) {
      this.fail(path, "names no syscall: it needs 'name' or a non-empty 'names'");
    }
    const errnoRet = this.optional(obj, 'errnoRet');
    if (errnoRet !== undefined) rule.errnoRet = this.errnoRet(errnoRet, member(path, 'errnoRet'));
    const errno = this.optional(obj, 'errno');
    if (errno !== undefined && errno !== '') rule.errno = this.errnoName(errno, member(path, 'errno'));
    const comment = this.optional(obj, 'comment');
    if (comment !== undefined) rule.comment = this.string(comment, member(path, 'comment'));
    return rule;
  }

  private filter(obj: JsonObject, path: string, key: 'includes' | 'excludes'): SeccompFilter {
    const value = this.optional(obj, key);
    const filter: SeccompFilter = { caps: [], arches: [] };
    if (value === undefined) return filter;
    const filterPath = member(path, key);
    const filterObj = this.object(value, filterPath);
    filter.caps = this.list(filterObj, filterPath, 'caps', (v, p) => {
      const cap = this.string(v, p);
      if (!CAPABILITY_NAME.test(cap)) {
        this.fail(p, `${JSON.stringify(cap)} is not a capability name like "CAP_SYS_ADMIN" (matching is exact)`);
      }
      return cap;
    });
    filter.arches = this.list(filterObj, filterPath, 'arches', (v, p) =>
      this.oneOf(v, p, LIBSECCOMP_ARCH_NAMES, 'architecture name'),
    );
    const minKernel = this.optional(filterObj, 'minKernel');
    if (minKernel !== undefined) {
      const version = this.string(minKernel, member(filterPath, 'minKernel'));
      if (!KERNEL_VERSION.test(version)) {
        this.fail(member(filterPath, 'minKernel'), `${JSON.stringify(version)} is not a kernel version like "5.8"`);
      }
      filter.minKernel = version;
    }
    return filter;
  }

  private arg(value: JsonValue, path: string): SeccompArg {
    const obj = this.object(value, path);
    const index = this.optional(obj, 'index');
    if (index === undefined) this.fail(member(path, 'index'), 'is missing');
    const op = this.optional(obj, 'op');
    if (op === undefined) this.fail(member(path, 'op'), 'is missing');
    const argValue = this.optional(obj, 'value');
    const valueTwo = this.optional(obj, 'valueTwo');
    return {
      index: this.integerIn(index, member(path, 'index'), 0, MAX_ARG_INDEX, 'a syscall has 6 arguments, 0 to 5'),
      value: argValue === undefined ? 0n : this.uint64(argValue, member(path, 'value')),
      valueTwo: valueTwo === undefined ? 0n : this.uint64(valueTwo, member(path, 'valueTwo')),
      op: this.oneOf(op, member(path, 'op'), SECCOMP_OPERATORS, 'operator') as SeccompOperator,
    };
  }

  private action(value: JsonValue, path: string): SeccompAction {
    if (value === 'SCMP_ACT_NOTIFY') {
      this.fail(path, 'SCMP_ACT_NOTIFY is not allowed: a profile from an artifact cannot bring a seccomp listener (KEP-6061)');
    }
    return this.oneOf(value, path, SECCOMP_ACTIONS, 'action') as SeccompAction;
  }

  private architecture(value: JsonValue, path: string): SeccompArchitecture {
    return this.oneOf(value, path, SECCOMP_ARCHITECTURES, 'architecture') as SeccompArchitecture;
  }

  private errnoRet(value: JsonValue, path: string): number {
    return this.integerIn(value, path, MIN_ERRNO, MAX_ERRNO, "the kernel's errno range");
  }

  private errnoName(value: JsonValue, path: string): string {
    const errno = this.string(value, path);
    const number = errnoNumber(errno);
    if (number === undefined) this.fail(path, `${JSON.stringify(errno)} is not a known errno name or number`);
    if (number < MIN_ERRNO || number > MAX_ERRNO) {
      this.fail(path, `${errno} is outside the kernel's errno range ${MIN_ERRNO}..${MAX_ERRNO}`);
    }
    return errno;
  }

  private oneOf<T extends string>(value: JsonValue, path: string, known: readonly T[], what: string): T {
    const text = this.string(value, path);
    if (!(known as readonly string[]).includes(text)) {
      this.fail(path, `unknown ${what} ${JSON.stringify(text)} (known: ${known.join(', ')})`);
    }
    return text as T;
  }

  private integerIn(value: JsonValue, path: string, min: number, max: number, why: string): number {
    const n = this.uint64(value, path);
    if (n < BigInt(min) || n > BigInt(max)) this.fail(path, `${n} is outside ${min}..${max} (${why})`);
    return Number(n);
  }

  private uint64(value: JsonValue, path: string): bigint {
    if (!(value instanceof JsonNumber)) this.fail(path, `must be a number, not ${describe(value)}`);
    if (!/^(0|[1-9][0-9]*)$/.test(value.raw)) {
      this.fail(path, `must be a non-negative integer without fraction or exponent, not ${value.raw}`);
    }
    const n = BigInt(value.raw);
    if (n > UINT64_MAX) this.fail(path, `${value.raw} does not fit in 64 bits`);
    return n;
  }

  private string(value: JsonValue, path: string): string {
    if (typeof value !== 'string') this.fail(path, `must be a string, not ${describe(value)}`);
    return value;
  }

  private nonEmptyString(value: JsonValue, path: string): string {
    const text = this.string(value, path);
    if (text === '') this.fail(path, 'must not be empty');
    return text;
  }

  private object(value: JsonValue, path: string): JsonObject {
    if (!(value instanceof Map)) this.fail(path, `must be a JSON object, not ${describe(value)}`);
    return value;
  }

  /** A member's value, with `null` read as absent the way Go's encoding/json does. */
  private optional(obj: JsonObject, key: string): JsonValue | undefined {
    const value = obj.get(key);
    return value === null ? undefined : value;
  }

  private list<T>(obj: JsonObject, path: string, key: string, item: (value: JsonValue, path: string) => T): T[] {
    const value = this.optional(obj, key);
    if (value === undefined) return [];
    const listPath = member(path, key);
    if (!Array.isArray(value)) this.fail(listPath, `must be an array, not ${describe(value)}`);
    return value.map((v, i) => item(v, `${listPath}[${i}]`));
  }
}
