import type * as grpc from '@grpc/grpc-js';
import { criServiceConstructors, grpcJs, unixTarget } from './proto.js';

type VersionMethod = (
  request: object,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: { runtime_name?: string; runtime_version?: string }) => void,
) => void;

export type ProbeResult = { ok: true; runtime: string } | { ok: false; error: string };

export interface CriProbe {
  /** Calls Version; answers whether a CRI server answered within the time. */
  check(timeoutMs: number): Promise<ProbeResult>;
  close(): void;
}

/** A CRI endpoint asked whether it answers: `Version`, the call kubelet makes first. */
export function createCriProbe(endpoint: string): CriProbe {
  const { RuntimeService } = criServiceConstructors();
  const client = new RuntimeService(unixTarget(endpoint), grpcJs().credentials.createInsecure());
  return {
    check(timeoutMs) {
      return new Promise((resolve) => {
        (client as unknown as { Version: VersionMethod }).Version.call(client, {}, { deadline: Date.now() + timeoutMs }, (error, response) => {
          if (error) resolve({ ok: false, error: `${endpoint}: ${error.details || error.message}` });
          else resolve({ ok: true, runtime: `${response?.runtime_name ?? ''} ${response?.runtime_version ?? ''}`.trim() });
        });
      });
    },
    close: () => client.close(),
  };
}

/** One probe, closed after its answer. */
export async function criAnswers(endpoint: string, timeoutMs: number): Promise<ProbeResult> {
  const probe = createCriProbe(endpoint);
  try {
    return await probe.check(timeoutMs);
  } finally {
    probe.close();
  }
}
