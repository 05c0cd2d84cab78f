import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { boundLogLine } from './bounded.js';

export type Logger = pino.Logger;

export interface LoggerOptions {
  level?: string;
  /** Where lines go; standard error by default so `pull` and `push` keep standard output for results. */
  destination?: pino.DestinationStream;
}

/**
 * The shim's structured logger: one JSON line per event, none over MAX_LOG_LINE_CHARS. A CRI
 * call's lines carry its method as `name` and its request id as `id`, as CRI-O's do; the
 * logger itself sets no `name`, so no line carries the key twice.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: boundLogLine },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything: for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A fresh request id, as CRI-O prints with every line of one CRI call. */
export function newRequestId(): string {
  return randomUUID();
}

/**
 * What a log line carries for an error, as its `err` field: the message alone, one string. The
 * messages name the problem and its place; stacks stay out of the node's logs.
 */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
