import { CONTAINERD_DEFAULT_CAPABILITIES } from '../seccomp/index.js';
import type { SignaturePolicy } from '../signature/policy.js';
import type { Schema } from './schema.js';

export type ArtifactMode = 'compatible' | 'strict';

export interface RegistrySettings {
  /** Plain HTTP; only ever used for registries listed so, never as a fallback. */
  insecure: boolean;
  caFile?: string;
  /** Hosts tried in order before the registry itself. */
  mirrors: string[];
}

export interface RuntimeHandlerSettings {
  allowedAnnotations: string[];
  /** `[shim.runtimes.<handler>] baseline_profile`: every artifact's profile is intersected with it. */
  baselineProfile?: string;
  /** RuntimeDefault containers take the annotation too, intersected with the baseline. */
  applyToRuntimeDefault?: boolean;
}

/** Every setting of the shim, typed and validated, after all config files and flags are merged. */
export interface ShimSettings {
  listen: string;
  runtimeEndpoint: string;
  stateDir: string;
  logLevel: string;
  shutdownGraceMs: number;
  /** The handler an empty `runtime_handler` stands for, as CRI-O's `default_runtime`. */
  defaultRuntime: string;
  runtimes: Record<string, RuntimeHandlerSettings>;
  /** The runtime's default capability set, the base of a container's effective capabilities. */
  defaultCapabilities: string[];
  artifact: {
    mode: ArtifactMode;
    maxBytes: number;
    authFile: string;
    allowStaleTagOnError: boolean;
    cacheEntries: number;
    cacheTtlMs: number;
    requestTimeoutMs: number;
    /** One whole pull (redirects, retries, every blob): below kubelet's 2-minute runtime timeout. */
    pullTimeoutMs: number;
    /** Profile conversions running at once; concurrent creates of one profile share one. */
    maxConversions: number;
  };
  registries: Record<string, RegistrySettings>;
  /** Which profiles need signatures, and whose count. */
  signature: SignaturePolicy;
  /** Store hygiene: profiles and blobs no container uses (src/store/). */
  gc: { graceMs: number; maxBytes: number; intervalMs: number };
  /** The Prometheus listener: `host:port` or a unix socket path; empty for none. */
  metrics: { listen: string };
}

export function defaultSettings(): ShimSettings {
  return {
    listen: '/run/seccomp-oci-shim/seccomp-oci-shim.sock',
    runtimeEndpoint: 'unix:///run/containerd/containerd.sock',
    stateDir: '/var/lib/seccomp-oci-shim',
    logLevel: 'info',
    shutdownGraceMs: 10_000,
    defaultRuntime: 'runc',
    runtimes: {},
    defaultCapabilities: [...CONTAINERD_DEFAULT_CAPABILITIES],
    artifact: {
      mode: 'compatible',
      maxBytes: 1024 * 1024,
      authFile: '/var/lib/kubelet/config.json',
      allowStaleTagOnError: false,
      cacheEntries: 1000,
      cacheTtlMs: 24 * 3_600_000,
      requestTimeoutMs: 30_000,
      pullTimeoutMs: 90_000,
      maxConversions: 2,
    },
    registries: {},
    // CRI-O applies unsigned profiles; operators opt in to signatures per registry or by default.
    signature: { default: { mode: 'none' }, rules: [] },
    gc: { graceMs: 24 * 3_600_000, maxBytes: 256 * 1024 * 1024, intervalMs: 3_600_000 },
    metrics: { listen: '' },
  };
}

const SIGNATURE_RULE_FIELDS = {
  mode: { kind: 'enum', values: ['none', 'required'] },
  keys: { kind: 'string-list' },
  identities: {
    kind: 'table-list',
    item: {
      kind: 'table',
      fields: {
        issuer: { kind: 'string' },
        issuer_pattern: { kind: 'string' },
        subject: { kind: 'string' },
        subject_pattern: { kind: 'string' },
      },
    },
  },
  trusted_root: { kind: 'absolute-path' },
  require_tlog: { kind: 'boolean' },
  require_timestamp: { kind: 'boolean' },
  require_sct: { kind: 'boolean' },
  docker_reference: { kind: 'enum', values: ['repository', 'ignore'] },
} as const satisfies Record<string, Schema>;

const SIGNATURE_RULE_SCHEMA = { kind: 'table', fields: SIGNATURE_RULE_FIELDS } as const satisfies Schema;

/**
 * The TOML layout: the shim's own table `[shim]`, and CRI-O's `[crio.runtime]` layout read as
 * CRI-O reads it so that an existing `/etc/crio/crio.conf.d/*.conf` drop-in works unchanged.
 */
export const CONFIG_SCHEMA = {
  kind: 'table',
  fields: {
    shim: {
      kind: 'table',
      fields: {
        listen: { kind: 'absolute-path' },
        runtime_endpoint: { kind: 'string' },
        state_dir: { kind: 'absolute-path' },
        log_level: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] },
        shutdown_grace: { kind: 'duration' },
        default_capabilities: { kind: 'string-list' },
        artifact: {
          kind: 'table',
          fields: {
            mode: { kind: 'enum', values: ['compatible', 'strict'] },
            max_bytes: { kind: 'integer', min: 1024, max: 64 * 1024 * 1024 },
            auth_file: { kind: 'absolute-path' },
            allow_stale_tag_on_error: { kind: 'boolean' },
            cache_entries: { kind: 'integer', min: 1 },
            cache_ttl: { kind: 'duration' },
            request_timeout: { kind: 'duration' },
            pull_timeout: { kind: 'duration' },
            max_conversions: { kind: 'integer', min: 1, max: 64 },
          },
        },
        registries: {
          kind: 'table',
          entries: {
            kind: 'table',
            fields: {
              insecure: { kind: 'boolean' },
              ca_file: { kind: 'absolute-path' },
              mirrors: { kind: 'string-list' },
            },
          },
        },
        runtimes: {
          kind: 'table',
          entries: {
            kind: 'table',
            fields: { baseline_profile: { kind: 'absolute-path' }, apply_to_runtime_default: { kind: 'boolean' } },
          },
        },
        signature: {
          kind: 'table',
          fields: {
            default: SIGNATURE_RULE_SCHEMA,
            rules: {
              kind: 'table-list',
              item: { kind: 'table', fields: { prefix: { kind: 'string' }, ...SIGNATURE_RULE_FIELDS } },
            },
            cache: { kind: 'table', fields: { entries: { kind: 'integer', min: 1 }, ttl: { kind: 'duration' } } },
          },
        },
        gc: {
          kind: 'table',
          fields: { grace: { kind: 'duration' }, max_bytes: { kind: 'integer', min: 1024 * 1024 }, interval: { kind: 'duration' } },
        },
        metrics: { kind: 'table', fields: { listen: { kind: 'string' } } },
      },
    },
    crio: {
      kind: 'table',
      fields: {
        runtime: {
          kind: 'table',
          fields: {
            default_runtime: { kind: 'string' },
            runtimes: {
              kind: 'table',
              entries: { kind: 'table', fields: { allowed_annotations: { kind: 'string-list' } } },
            },
          },
        },
      },
    },
  },
} as const satisfies Schema;
