import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { JsonNumber, type JsonObject, type JsonValue } from './json-reader.js';
import { profileFromValue } from './parse-profile.js';
import { ProfileError, ROOT_PATH } from './profile-error.js';
import { renderRuntimeSpecProfile } from './render.js';
import type { SeccompProfile } from './types.js';

const require = createRequire(import.meta.url);

/** The YAML parser, loaded with the first SPO profile: most nodes never read one, and it costs start-up time. */
function yaml(): typeof Yaml {
  return require('yaml') as typeof Yaml;
}

/**
 * The Security Profiles Operator's `SeccompProfile` object (api/seccompprofile), as `spoc push`
 * publishes it: a Kubernetes object in YAML whose `spec` is a seccomp profile that may name a
 * base profile to be stacked under it.
 */

export const SPO_API_GROUP = 'security-profiles-operator.x-k8s.io';
/** The versions SPO still reads. */
export const SPO_API_VERSIONS = ['v1', 'v1beta1', 'v1alpha1'];
/** A `baseProfileName` with this prefix names an OCI artifact; without it, a cluster object. */
export const OCI_PROFILE_PREFIX = 'oci://';
/** SPO's other profile kinds: named in the error so the user knows what was published. */
const OTHER_SPO_KINDS = ['SelinuxProfile', 'RawSelinuxProfile', 'AppArmorProfile'];

export interface SpoSeccompProfile {
  /** `metadata.name`, when the object has one. */
  name?: string;
  /** `spec` as a validated profile, under the same rules as a JSON profile. */
  profile: SeccompProfile;
  /** `spec.baseProfileName`, when set. */
  baseProfileName?: string;
}

const UINT64 = 1n << 64n;
const KUBERNETES_OBJECT = /^\s*(?:---|apiVersion\s*:|kind\s*:)/m;

/**
 * Whether a layer holds an SPO object rather than CRI-O's JSON profile: a YAML title (SPO's
 * `profile*.yaml`), YAML that opens like a Kubernetes object, or JSON naming `kind` and `apiVersion`.
 */
export function isSpoDocument(bytes: Buffer, title?: string): boolean {
  if (title !== undefined && /\.ya?ml$/i.test(title)) return true;
  const text = bytes.toString('utf8');
  if (/^\s*\{/.test(text)) return /"kind"\s*:/.test(text) && /"apiVersion"\s*:/.test(text);
  return KUBERNETES_OBJECT.test(text);
}

/** Reads an SPO `SeccompProfile` object; throws ProfileError naming `source` and the member. */
export function parseSpoProfile(bytes: Buffer, source: string): SpoSeccompProfile {
  const document = yaml().parseDocument(bytes.toString('utf8'), { schema: 'core', intAsBigInt: true, uniqueKeys: true, prettyErrors: true });
  const [problem] = document.errors;
  if (problem) throw new ProfileError(source, ROOT_PATH, `not valid YAML: ${problem.message.split('\n')[0] ?? ''}`);
  const root = jsonValueOf(document.toJS({ maxAliasCount: 100 }));
  if (!(root instanceof Map)) throw new ProfileError(source, ROOT_PATH, 'is not a Kubernetes object');
  const kind = root.get('kind');
  if (kind !== 'SeccompProfile') {
    if (typeof kind !== 'string') throw new ProfileError(source, 'kind', 'is missing: not a Kubernetes object');
    const what = OTHER_SPO_KINDS.includes(kind) ? `is a ${kind}, not a SeccompProfile` : `${JSON.stringify(kind)} is not SeccompProfile`;
    throw new ProfileError(source, 'kind', `${what}: only seccomp profiles can be applied`);
  }
  const apiVersion = root.get('apiVersion');
  if (!SPO_API_VERSIONS.some((v) => apiVersion === `${SPO_API_GROUP}/${v}`)) {
    throw new ProfileError(source, 'apiVersion', `${describe(apiVersion)} is not one of ${SPO_API_VERSIONS.map((v) => `${SPO_API_GROUP}/${v}`).join(', ')}`);
  }
  const metadata = root.get('metadata');
  const name = metadata instanceof Map && typeof metadata.get('name') === 'string' ? (metadata.get('name') as string) : undefined;
  const spec = root.get('spec');
  if (!(spec instanceof Map)) throw new ProfileError(source, 'spec', spec === undefined || spec === null ? 'is missing' : 'must be an object');
  const result: SpoSeccompProfile = {
    profile: profileFromValue(specAsProfile(spec), `${source} (SeccompProfile${name ? ` "${name}"` : ''}, spec)`),
  };
  if (name !== undefined) result.name = name;
  const base = spec.get('baseProfileName');
  if (typeof base === 'string' && base !== '') result.baseProfileName = base;
  else if (base !== undefined && base !== null && base !== '') throw new ProfileError(source, 'spec.baseProfileName', `must be a string, not ${describe(base)}`);
  return result;
}

/** SPO's spec members only, in the JSON profile's terms: its errnoRet 0 means none, its int64 argument values wrap to uint64 as SPO converts them. */
function specAsProfile(spec: JsonObject): JsonObject {
  const profile: JsonObject = new Map();
  for (const key of ['defaultAction', 'architectures', 'flags', 'listenerPath', 'listenerMetadata']) {
    const value = spec.get(key);
    if (value !== undefined) profile.set(key, value);
  }
  const syscalls = spec.get('syscalls');
  if (syscalls !== undefined) profile.set('syscalls', Array.isArray(syscalls) ? syscalls.map(syscallOf) : syscalls);
  return profile;
}

function syscallOf(value: JsonValue): JsonValue {
  if (!(value instanceof Map)) return value;
  const rule: JsonObject = new Map();
  for (const key of ['names', 'action']) if (value.has(key)) rule.set(key, value.get(key) ?? null);
  const errnoRet = value.get('errnoRet');
  if (errnoRet !== undefined && !(errnoRet instanceof JsonNumber && errnoRet.raw === '0')) rule.set('errnoRet', errnoRet);
  const args = value.get('args');
  if (args !== undefined) rule.set('args', Array.isArray(args) ? args.map(argOf) : args);
  return rule;
}

function argOf(value: JsonValue): JsonValue {
  if (!(value instanceof Map)) return value;
  const arg: JsonObject = new Map(value);
  if (!arg.has('index') || arg.get('index') === null) arg.set('index', new JsonNumber('0'));
  for (const key of ['value', 'valueTwo']) {
    const n = arg.get(key);
    if (n instanceof JsonNumber && /^-[0-9]+$/.test(n.raw) && BigInt(n.raw) >= -(UINT64 >> 1n)) arg.set(key, new JsonNumber((BigInt(n.raw) + UINT64).toString()));
  }
  return arg;
}

/** The YAML library's plain values in the JSON reader's model, so one validator reads both formats. */
function jsonValueOf(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint' || typeof value === 'number') return new JsonNumber(String(value));
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map(jsonValueOf);
  if (typeof value === 'object') return new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, jsonValueOf(v)]));
  return String(value);
}

function describe(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return 'missing';
  if (typeof value === 'string') return JSON.stringify(value);
  return 'not a string';
}

/**
 * A profile read from SPO objects (merged or not) as runtime-spec JSON: SPO's spec has only
 * runtime-spec members, so nothing is lost and nothing needs a container to be converted for.
 */
export function renderSpoProfile(profile: SeccompProfile): Buffer {
  return renderRuntimeSpecProfile({
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures: profile.architectures,
    flags: profile.flags,
    syscalls: profile.syscalls.map((rule) => ({
      names: rule.names ?? (rule.name !== undefined ? [rule.name] : []),
      action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args.length > 0 ? { args: rule.args.map((arg) => ({ index: arg.index, value: arg.value, valueTwo: arg.valueTwo, op: arg.op })) } : {}),
    })),
  });
}
