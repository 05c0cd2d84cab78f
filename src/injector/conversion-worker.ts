import { parentPort, workerData } from 'node:worker_threads';
import { parseProfile, parseSpoProfile, ProfileError, type ConversionTarget } from '../seccomp/index.js';
import { renderForContainer, type ConversionJob, type ConversionReply, type WorkerJob } from './profile-conversions.js';

function convert(job: ConversionJob): ConversionReply {
  const target: ConversionTarget = { arch: job.arch, capabilities: job.capabilities, kernelVersion: job.kernelVersion };
  const baseline = job.baseline && { ...job.baseline, bytes: Buffer.from(job.baseline.bytes), profile: parseProfile(Buffer.from(job.baseline.bytes), job.baseline.file) };
  const { rendered, baseline: applied } = renderForContainer(parseProfile(Buffer.from(job.bytes), job.source), job.source, target, baseline);
  return { ok: true, rendered: new Uint8Array(rendered.buffer, rendered.byteOffset, rendered.byteLength), ...(applied ? { baseline: applied } : {}) };
}

// One job per worker: the thread ends when it answers, and its heap goes with it.
const job = workerData as WorkerJob;
let reply: ConversionReply;
try {
  reply = job.kind === 'convert' ? convert(job) : { ok: true, spo: parseSpoProfile(Buffer.from(job.bytes), job.source) };
} catch (error) {
  reply =
    error instanceof ProfileError
      ? { ok: false, profileError: { source: error.source, path: error.path, problem: error.problem, position: error.position } }
      : { ok: false, message: error instanceof Error ? error.message : String(error) };
}
parentPort?.postMessage(reply);
