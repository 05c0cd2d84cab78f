import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ArtifactError, type PullObserver, type PullSource } from '../artifact/index.js';
import type { CreateContainerOutcome, InjectionObserver, Rejection } from '../injector/outcome.js';
import type { ProxyObserver } from '../proxy/index.js';
import { ProfileError } from '../seccomp/index.js';
import { SignatureError, type SignatureObserver } from '../signature/index.js';
import type { GcObserver } from '../store/collect.js';
import type { GcPlan } from '../store/gc.js';
import { storeTotals, type StoreTotals } from '../store/inventory.js';
import { callClass, type CallClass } from './call-class.js';

const PREFIX = 'seccomp_oci_shim_';

/** KEP-6061's bounded reasons for `security_profile_artifact_pull_errors_total`. */
export type PullErrorReason = 'registry_unavailable' | 'signature_validation_failed' | 'security_profile_invalid' | 'unauthenticated' | 'other';

export function pullErrorReason(cause: unknown): PullErrorReason {
  if (cause instanceof SignatureError) return 'signature_validation_failed';
  if (cause instanceof ProfileError) return 'security_profile_invalid';
  if (cause instanceof ArtifactError) {
    switch (cause.reason) {
      case 'RegistryUnavailable':
        return 'registry_unavailable';
      case 'Unauthorized':
        return 'unauthenticated';
      case 'InvalidArtifact':
      case 'TooLarge':
        return 'security_profile_invalid';
      default:
        return 'other';
    }
  }
  return 'other';
}

export interface MetricsSources {
  /** Profiles in the memory cache. */
  cacheEntries(): number;
  /** The state directory whose store the gauges describe. */
  stateDir: string;
}

/** How long one scan of the store serves the store gauges: one scrape reads them together. */
const STORE_SCAN_MS = 1000;

/**
 * Every metric the shim exports, on a registry of its own, and the observer each piece is given.
 * Nothing here is global: a shim without a metrics listener creates none of it.
 */
export class ShimMetrics implements ProxyObserver, InjectionObserver, PullObserver, SignatureObserver, GcObserver {
  readonly registry = new Registry();
  private readonly createContainers: Counter<'outcome' | 'reason'>;
  private readonly pulls: Counter<'result' | 'source'>;
  private readonly pullDuration: Histogram<'cached'>;
  private readonly pullErrors: Counter<'reason'>;
  private readonly signatures: Counter<'result'>;
  private readonly connectionsOpen: Gauge;
  private readonly connections: Counter;
  private readonly unavailable: Counter;
  private readonly gcRuns: Counter<'result'>;
  private readonly gcRemoved: Counter<'kind'>;
  private readonly gcRemovedBytes: Counter;
  /**
   * Calls per class as plain numbers, handed to the counter when it is scraped: the hot path
   * costs two prefix checks and an integer increment (prom-client hashes labels on every inc).
   */
  private readonly callCounts: Record<CallClass, number> = { runtime: 0, image: 0, other: 0 };
  private storeScan: { at: number; totals: Promise<StoreTotals> } | undefined;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.createContainers = new Counter({
      name: `${PREFIX}create_container_total`,
      help: 'CreateContainer calls by outcome: applied, no_annotation, not_allowed, not_considered, rejected (with the CRI error word as reason).',
      labelNames: ['outcome', 'reason'],
      registers,
    });
    this.pulls = new Counter({
      name: `${PREFIX}profile_pulls_total`,
      help: 'Profile artifact pulls by result and by where the profile came from (memory, store, registry).',
      labelNames: ['result', 'source'],
      registers,
    });
    this.pullDuration = new Histogram({
      name: `${PREFIX}profile_pull_duration_seconds`,
      help: 'Time to pull a profile artifact; cached="true" when no registry request was needed (KEP-6061 shape).',
      labelNames: ['cached'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.pullErrors = new Counter({
      name: `${PREFIX}profile_pull_errors_total`,
      help: 'Profiles that could not be pulled, verified or parsed for a container, by KEP-6061 reason.',
      labelNames: ['reason'],
      registers,
    });
    this.signatures = new Counter({
      name: `${PREFIX}signature_verifications_total`,
      help: 'Signature checks under rules that require a signature: verified, cached (verified earlier), failed.',
      labelNames: ['result'],
      registers,
    });
    new Gauge({
      name: `${PREFIX}cache_entries`,
      help: 'Profiles held in the memory cache.',
      registers,
      collect() {
        this.set(sources.cacheEntries());
      },
    });
    const scan = () => this.scanStore(sources.stateDir);
    new Gauge({
      name: `${PREFIX}store_profiles`,
      help: 'Converted profile files in the state directory.',
      registers,
      async collect() {
        this.set((await scan()).profiles);
      },
    });
    new Gauge({
      name: `${PREFIX}store_blobs`,
      help: 'Manifests and layers in the content store.',
      registers,
      async collect() {
        this.set((await scan()).blobs);
      },
    });
    new Gauge({
      name: `${PREFIX}store_bytes`,
      help: 'Bytes of profile files and blobs in the state directory.',
      registers,
      async collect() {
        const totals = await scan();
        this.set(totals.profileBytes + totals.blobBytes);
      },
    });
    this.connectionsOpen = new Gauge({ name: `${PREFIX}proxy_connections`, help: 'Client connections open now.', registers });
    this.connections = new Counter({ name: `${PREFIX}proxy_connections_total`, help: 'Client connections accepted.', registers });
    const callCounts = this.callCounts;
    const reported: Record<CallClass, number> = { runtime: 0, image: 0, other: 0 };
    new Counter({
      name: `${PREFIX}proxy_calls_total`,
      help: 'Calls proxied, by method class: runtime (RuntimeService), image (ImageService), other.',
      labelNames: ['class'],
      registers,
      collect() {
        for (const key of ['runtime', 'image', 'other'] as const) {
          this.inc({ class: key }, callCounts[key] - reported[key]);
          reported[key] = callCounts[key];
        }
      },
    });
    this.unavailable = new Counter({
      name: `${PREFIX}runtime_unavailable_total`,
      help: 'Calls answered UNAVAILABLE because the runtime could not be reached or went away.',
      registers,
    });
    this.gcRuns = new Counter({ name: `${PREFIX}gc_runs_total`, help: 'Store gc passes: removed, skipped (runtime did not answer), failed.', labelNames: ['result'], registers });
    this.gcRemoved = new Counter({ name: `${PREFIX}gc_removed_files_total`, help: 'Files store gc removed, by kind: profile, blob, record, image_record.', labelNames: ['kind'], registers });
    this.gcRemovedBytes = new Counter({ name: `${PREFIX}gc_removed_bytes_total`, help: 'Bytes of profile files and blobs store gc removed.', registers });
  }

  connectionOpened(): void {
    this.connections.inc();
    this.connectionsOpen.inc();
  }

  connectionClosed(): void {
    this.connectionsOpen.dec();
  }

  callStarted(method: string): void {
    this.callCounts[callClass(method)] += 1;
  }

  runtimeUnavailable(): void {
    this.unavailable.inc();
  }

  createContainer(outcome: CreateContainerOutcome, rejection?: Rejection): void {
    if (rejection === undefined) {
      this.createContainers.inc({ outcome });
      return;
    }
    this.createContainers.inc({ outcome, reason: rejection.reason });
    if (rejection.profileApplies) this.pullErrors.inc({ reason: pullErrorReason(rejection.cause) });
  }

  profilePulled(result: 'success' | 'error', source: PullSource, seconds: number): void {
    this.pulls.inc({ result, source });
    if (result === 'success') this.pullDuration.observe({ cached: source === 'registry' ? 'false' : 'true' }, seconds);
  }

  signatureVerification(result: 'verified' | 'cached' | 'failed'): void {
    this.signatures.inc({ result });
  }

  gcRun(result: 'removed' | 'skipped' | 'failed', plan?: GcPlan): void {
    this.gcRuns.inc({ result });
    if (result !== 'removed' || plan === undefined) return;
    for (const { item } of plan.items) {
      this.gcRemoved.inc({ kind: item.kind });
      this.gcRemovedBytes.inc(item.bytes);
    }
    if (plan.uses.length > 0) this.gcRemoved.inc({ kind: 'record' }, plan.uses.length);
    if (plan.imageRecords.length > 0) this.gcRemoved.inc({ kind: 'image_record' }, plan.imageRecords.length);
  }

  private scanStore(stateDir: string): Promise<StoreTotals> {
    const now = Date.now();
    if (this.storeScan === undefined || now - this.storeScan.at > STORE_SCAN_MS) this.storeScan = { at: now, totals: storeTotals(stateDir) };
    return this.storeScan.totals;
  }
}
