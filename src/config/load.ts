import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { locateKey } from './locate.js';
import { checkAgainstSchema, type SchemaValue } from './schema.js';
import { CONFIG_SCHEMA, defaultSettings, type ShimSettings } from './settings.js';
import { policyProblems, type SignatureRule, type SignatureRuleSettings } from '../signature/policy.js';

export const DEFAULT_CONFIG_FILE = '/etc/seccomp-oci-shim/config.toml';
export const DEFAULT_CONFIG_DIR = '/etc/seccomp-oci-shim/config.d';

/** A configuration file that cannot be used; the message names the file, line and key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface ConfigLocation {
  /** The main file; a missing file is an error only when `fileRequired` is set. */
  file?: string;
  fileRequired?: boolean;
  /** Drop-ins (`*.conf`, `*.toml`) read in lexical order after the main file, later ones win. */
  dir?: string;
}

export interface LoadedConfig {
  settings: ShimSettings;
  /** The files read, in the order they were applied. */
  files: string[];
  /** Keys nobody reads, as `file:line: key`: worth a warning, not a failed start. */
  warnings: string[];
}

export function loadConfig(location: ConfigLocation): LoadedConfig {
  const settings = defaultSettings();
  const files = configFiles(location);
  const warnings: string[] = [];
  for (const file of files) warnings.push(...applyFile(settings, file));
  const problems = [...policyProblems(settings.signature), ...baselineProblems(settings)];
  if (problems.length > 0) {
    throw new ConfigError(problems.map((problem) => `${files.join(', ')}: ${problem}`).join('\n'));
  }
  return { settings, files, warnings };
}

function configFiles(location: ConfigLocation): string[] {
  const files: string[] = [];
  if (location.file) {
    if (existsSync(location.file)) files.push(location.file);
    else if (location.fileRequired) throw new ConfigError(`config file ${location.file} does not exist`);
  }
  if (location.dir && existsSync(location.dir)) {
    const names = readdirSync(location.dir)
      .filter((name) => name.endsWith('.conf') || name.endsWith('.toml'))
      .sort();
    files.push(...names.map((name) => path.join(location.dir as string, name)));
  }
  return files;
}

function applyFile(settings: ShimSettings, file: string): string[] {
  const source = readFileSync(file, 'utf8');
  let document: Record<string, unknown>;
  try {
    document = parse(source);
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid TOML';
      throw new ConfigError(`${file}:${error.line}:${error.column}: invalid TOML: ${reason}`);
    }
    throw error;
  }
  const where = (keyPath: string[]) => {
    const line = locateKey(source, keyPath);
    return `${file}${line === undefined ? '' : `:${line}`}: ${keyPath.join('.')}`;
  };
  const checked = checkAgainstSchema(document, CONFIG_SCHEMA);
  if (checked.errors.length > 0) {
    throw new ConfigError(checked.errors.map((problem) => `${where(problem.path)}: ${problem.message}`).join('\n'));
  }
  applyValues(settings, checked.value as ConfigDocument);
  return checked.unknownKeys.map((keyPath) => `${where(keyPath)}: unknown key, ignored`);
}

/** The validated TOML document, typed from the schema; durations are already milliseconds. */
type ConfigDocument = SchemaValue<typeof CONFIG_SCHEMA>;
type SignatureDocument = NonNullable<NonNullable<ConfigDocument['shim']>['signature']>;
type SignatureRuleDocument = NonNullable<SignatureDocument['default']>;

function applyValues(settings: ShimSettings, doc: ConfigDocument): void {
  const shim = doc.shim ?? {};
  assignDefined(settings, {
    listen: shim.listen,
    runtimeEndpoint: shim.runtime_endpoint,
    stateDir: shim.state_dir,
    logLevel: shim.log_level,
    shutdownGraceMs: shim.shutdown_grace,
    defaultCapabilities: shim.default_capabilities,
  });
  const artifact = shim.artifact ?? {};
  assignDefined(settings.artifact, {
    mode: artifact.mode,
    maxBytes: artifact.max_bytes,
    authFile: artifact.auth_file,
    allowStaleTagOnError: artifact.allow_stale_tag_on_error,
    cacheEntries: artifact.cache_entries,
    cacheTtlMs: artifact.cache_ttl,
    requestTimeoutMs: artifact.request_timeout,
    pullTimeoutMs: artifact.pull_timeout,
    maxConversions: artifact.max_conversions,
  });
  for (const [host, registry] of Object.entries(shim.registries ?? {})) {
    const current = settings.registries[host] ?? { insecure: false, mirrors: [] };
    assignDefined(current, { insecure: registry.insecure, caFile: registry.ca_file, mirrors: registry.mirrors });
    settings.registries[host] = current;
  }
  applySignature(settings, shim.signature ?? {});
  for (const [handler, table] of Object.entries(shim.runtimes ?? {})) {
    const current = settings.runtimes[handler] ?? { allowedAnnotations: [] };
    assignDefined(current, { baselineProfile: table.baseline_profile, applyToRuntimeDefault: table.apply_to_runtime_default });
    settings.runtimes[handler] = current;
  }
  assignDefined(settings.gc, { graceMs: shim.gc?.grace, maxBytes: shim.gc?.max_bytes, intervalMs: shim.gc?.interval });
  assignDefined(settings.metrics, { listen: shim.metrics?.listen });
  const runtime = doc.crio?.runtime ?? {};
  assignDefined(settings, { defaultRuntime: runtime.default_runtime });
  for (const [handler, table] of Object.entries(runtime.runtimes ?? {})) {
    const current = settings.runtimes[handler] ?? { allowedAnnotations: [] };
    assignDefined(current, { allowedAnnotations: table.allowed_annotations });
    settings.runtimes[handler] = current;
  }
}

/** RuntimeDefault containers may only take an annotation when a baseline stands for that default. */
function baselineProblems(settings: ShimSettings): string[] {
  return Object.entries(settings.runtimes)
    .filter(([, runtime]) => runtime.applyToRuntimeDefault && runtime.baselineProfile === undefined)
    .map(([handler]) => `shim.runtimes.${handler}.apply_to_runtime_default needs shim.runtimes.${handler}.baseline_profile`);
}

/** A later file's default rule overrides field by field; a rule for a known prefix replaces it. */
function applySignature(settings: ShimSettings, doc: SignatureDocument): void {
  const policy = settings.signature;
  if (doc.default) assignDefined(policy.default, ruleSettings(doc.default));
  for (const rule of doc.rules ?? []) {
    const next = { prefix: rule.prefix ?? '', mode: 'required', ...stripUndefined(ruleSettings(rule)) } as SignatureRule;
    policy.rules = [...(policy.rules ?? []).filter((known) => known.prefix !== next.prefix), next];
  }
  if (doc.cache) {
    policy.cache = { ...policy.cache, ...stripUndefined({ maxEntries: doc.cache.entries, ttlMs: doc.cache.ttl }) };
  }
}

function ruleSettings(doc: SignatureRuleDocument): Partial<SignatureRuleSettings> {
  return {
    mode: doc.mode,
    keys: doc.keys,
    identities: doc.identities?.map((identity) =>
      stripUndefined({
        issuer: identity.issuer,
        issuerPattern: identity.issuer_pattern,
        subject: identity.subject,
        subjectPattern: identity.subject_pattern,
      }),
    ),
    trustedRoot: doc.trusted_root,
    requireTlog: doc.require_tlog,
    requireTimestamp: doc.require_timestamp,
    requireSct: doc.require_sct,
    dockerReference: doc.docker_reference,
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Copies the values a file set onto the settings; keys it left out keep what earlier files said. */
function assignDefined<T extends object>(target: T, values: Partial<T>): void {
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
}
