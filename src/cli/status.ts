import { criAnswers, type ProbeResult } from '../cri/probe.js';
import { storeStatus, type StoreStatus } from '../store/status.js';
import { formatBytes } from './format.js';
import { applyNodeFlags, NODE_OPTIONS } from './node-flags.js';
import { answeredHelpOrVersion, loadConfigFromFlags, parseCommandArgs } from './options.js';

const STATUS_OPTIONS = { ...NODE_OPTIONS, json: { type: 'boolean' } } as const;
const PROBE_TIMEOUT_MS = 3000;

interface StatusReport {
  shim: { socket: string; answers: boolean; error?: string };
  runtime: { endpoint: string; answers: boolean; version?: string; error?: string };
  store: StoreStatus;
  gc: { graceSeconds: number; maxBytes: number; intervalSeconds: number };
}

/**
 * `status [--json]`: whether the shim's socket and the runtime answer, and what the state
 * directory holds. Exit code 0 when both answer, 1 otherwise.
 */
export async function status(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, STATUS_OPTIONS);
  if (answeredHelpOrVersion(values)) return 0;
  const { settings } = loadConfigFromFlags(values);
  applyNodeFlags(settings, values);
  const [shim, runtime, store] = await Promise.all([
    criAnswers(settings.listen, PROBE_TIMEOUT_MS),
    criAnswers(settings.runtimeEndpoint, PROBE_TIMEOUT_MS),
    storeStatus(settings.stateDir, settings.runtimeEndpoint),
  ]);
  const report: StatusReport = {
    shim: { socket: settings.listen, ...answer(shim) },
    runtime: { endpoint: settings.runtimeEndpoint, ...answer(runtime, 'version') },
    store,
    gc: { graceSeconds: settings.gc.graceMs / 1000, maxBytes: settings.gc.maxBytes, intervalSeconds: settings.gc.intervalMs / 1000 },
  };
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : humanReadable(report));
  return shim.ok && runtime.ok ? 0 : 1;
}

function answer(result: ProbeResult, versionKey?: 'version'): { answers: boolean; version?: string; error?: string } {
  if (!result.ok) return { answers: false, error: result.error };
  return versionKey ? { answers: true, version: result.runtime } : { answers: true };
}

function humanReadable(report: StatusReport): string {
  const { store } = report;
  const lines = [
    `shim:     ${report.shim.socket}: ${report.shim.answers ? 'answers' : `does not answer (${report.shim.error})`}`,
    `runtime:  ${report.runtime.endpoint}: ${report.runtime.answers ? `answers (${report.runtime.version})` : `does not answer (${report.runtime.error})`}`,
    `store:    ${store.stateDir}: ${store.totals.profileFiles} profile files (${formatBytes(store.totals.profileBytes)}), ` +
      `${store.totals.blobs} blobs (${formatBytes(store.totals.blobBytes)}), ${formatBytes(store.totals.bytes)} of ${formatBytes(report.gc.maxBytes)} allowed`,
    `containers: ${store.containers ? `${store.containers.total}, ${store.containers.withProfile} with a profile from the shim` : `unknown (${store.runtimeError})`}`,
    '',
  ];
  if (store.profiles.length === 0) return `${lines.join('\n')}no profiles\n`;
  const rows = [
    ['REFERENCE', 'MANIFEST DIGEST', 'SIZE', 'LAST USE', 'CONTAINERS'],
    ...store.profiles.map((p) => [
      p.reference,
      p.manifestDigest,
      formatBytes(p.bytes),
      p.lastUse ?? '-',
      p.containers === null ? '?' : String(p.containers),
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  for (const row of rows) lines.push(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}
