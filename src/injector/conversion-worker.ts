import { parentPort, workerData } from 'node:worker_threads';
import { parseProfile, ProfileError, type ConversionTarget } from '../seccomp/index.js';
import { renderForContainer, type ConversionJob, type ConversionReply } from './profile-conversions.js';

// One conversion per worker: the thread ends when it answers, and its heap goes with it.
const job = workerData as ConversionJob;
const target: ConversionTarget = { arch: job.arch, capabilities: job.capabilities, kernelVersion: job.kernelVersion };
let reply: ConversionReply;
try {
  const baseline = job.baseline && { ...job.baseline, bytes: Buffer.from(job.baseline.bytes), profile: parseProfile(Buffer.from(job.baseline.bytes), job.baseline.file) };
  const { rendered, baseline: applied } = renderForContainer(parseProfile(Buffer.from(job.bytes), job.source), job.source, target, baseline);
  reply = { ok: true, rendered: new Uint8Array(rendered.buffer, rendered.byteOffset, rendered.byteLength), ...(applied ? { baseline: applied } : {}) };
} catch (error) {
  reply =
    error instanceof ProfileError
      ? { ok: false, profileError: { source: error.source, path: error.path, problem: error.problem, position: error.position } }
      : { ok: false, message: error instanceof Error ? error.message : String(error) };
}
parentPort?.postMessage(reply);
