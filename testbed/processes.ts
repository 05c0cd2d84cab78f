import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A child process whose standard output and error go to one log file. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly child: ChildProcess;
  /** Resolves once the process has exited, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True until the process has exited. */
  running(): boolean;
  /** The last `lines` lines of the log, for error messages. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL if it is still alive after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartProcessOptions {
  name: string;
  command: string;
  args: string[];
  /** Directory the log file `<name>.log` is written to. */
  logDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A fresh private directory under the system temp dir; short, because unix socket paths are limited to 107 bytes. */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
}

/**
 * Starts `command` with its output in `<logDir>/<name>.log`. The process is also killed
 * (SIGKILL) if this Node process exits before `stop()` was called, so a crashed test run
 * does not leave it behind.
 */
export function startProcess(options: StartProcessOptions): ManagedProcess {
  const logPath = path.join(options.logDir, `${options.name}.log`);
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
    child.once('error', () => {
      alive = false;
      resolve({ code: null, signal: null });
    });
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not start ${options.command} (${options.name}): see ${logPath}`);
  }
  const unregister = onProcessExit(() => {
    if (alive) killQuietly(pid, 'SIGKILL');
  });
  void exited.then(unregister);

  return {
    name: options.name,
    pid,
    logPath,
    child,
    exited,
    running: () => alive,
    logTail: (lines = 30) => tailOfFile(logPath, lines),
    async stop(graceMs = 10_000) {
      if (!alive) return;
      killQuietly(pid, 'SIGTERM');
      const timer = setTimeout(() => killQuietly(pid, 'SIGKILL'), graceMs);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Sends a signal, ignoring "no such process". */
export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** The last lines of a file, or a note that it cannot be read. */
export function tailOfFile(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (error) {
    return `(cannot read ${file}: ${(error as Error).message})`;
  }
}

export interface WaitOptions {
  /** What is awaited, for the timeout message. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** The process expected to make the condition true: its death ends the wait, its log tail is shown. */
  process?: ManagedProcess;
}

/**
 * Polls `check` until it returns true, the process dies, or the timeout passes. A check that
 * throws counts as "not yet"; its last error is included in the failure message.
 */
export async function waitUntil(check: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      if (await check()) return;
      lastError = '';
    } catch (error) {
      lastError = (error as Error).message;
    }
    const proc = options.process;
    if (proc && !proc.running()) {
      const { code, signal } = await proc.exited;
      throw new Error(
        `${proc.name} exited (code ${code}, signal ${signal}) before ${options.what}; log ${proc.logPath}:\n${proc.logTail()}`,
      );
    }
    if (Date.now() >= deadline) {
      const tail = proc ? `\nlog ${proc.logPath}:\n${proc.logTail()}` : '';
      const last = lastError ? ` (last error: ${lastError})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}${last}${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** True if something accepts a connection on the unix socket or TCP address. */
export function canConnect(target: { path: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(target as net.NetConnectOpts);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until a unix socket accepts connections. */
export function waitForUnixSocket(socketPath: string, options: Omit<WaitOptions, 'what'> = {}): Promise<void> {
  return waitUntil(() => canConnect({ path: socketPath }), { ...options, what: `unix socket ${socketPath}` });
}

/** Waits until a TCP port on `host` accepts connections. */
export function waitForTcpPort(host: string, port: number, options: Omit<WaitOptions, 'what'> = {}): Promise<void> {
  return waitUntil(() => canConnect({ host, port }), { ...options, what: `${host}:${port}` });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it: listen on port 0). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('listening on port 0 gave no TCP address'));
      });
    });
  });
}

type ExitHook = () => void;
const exitHooks = new Set<ExitHook>();
let hooksInstalled = false;

function runExitHooks(): void {
  for (const hook of [...exitHooks]) {
    exitHooks.delete(hook);
    try {
      hook();
    } catch {
      // Best effort while the process is going down: one failing hook must not skip the rest.
    }
  }
}

/**
 * Registers a synchronous cleanup run if this process exits (normally, by `process.exit`, or
 * by SIGINT/SIGTERM/SIGHUP) before the returned unregister function is called. Signal handlers
 * re-raise the signal after cleaning up, so the process still dies the way it was told to.
 */
export function onProcessExit(hook: ExitHook): () => void {
  if (!hooksInstalled) {
    hooksInstalled = true;
    process.on('exit', runExitHooks);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        runExitHooks();
        process.kill(process.pid, signal);
      });
    }
  }
  exitHooks.add(hook);
  return () => {
    exitHooks.delete(hook);
  };
}

/** Removes a directory tree synchronously, ignoring a missing one. */
export function removeDirSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Runs a command synchronously and returns its exit status and output (for cleanup paths that must not be async). */
export function runSync(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** Runs a command to completion; rejects with its output if it fails or outlives `timeoutMs`. */
export function runCommand(command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} failed (code ${code}, signal ${signal}):\n${output}`));
    });
  });
}
