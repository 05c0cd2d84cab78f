import { parentPort, workerData } from 'node:worker_threads';
import { convertProfile, ProfileError, type ConversionTarget } from '../seccomp/index.js';
import type { ConversionJob, ConversionReply } from './profile-conversions.js';

// One conversion per worker: the thread ends when it answers, and its heap goes with it.
const job = workerData as ConversionJob;
const target: ConversionTarget = { arch: job.arch, capabilities: job.capabilities, kernelVersion: job.kernelVersion };
let reply: ConversionReply;
try {
  const rendered = convertProfile(job.bytes, job.source, target);
  reply = { ok: true, rendered: new Uint8Array(rendered.buffer, rendered.byteOffset, rendered.byteLength) };
} catch (error) {
  reply =
    error instanceof ProfileError
      ? { ok: false, profileError: { source: error.source, path: error.path, problem: error.problem, position: error.position } }
      : { ok: false, message: error instanceof Error ? error.message : String(error) };
}
parentPort?.postMessage(reply);
