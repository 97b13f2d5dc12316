/**
 * Child processes and temp dirs of one bench run, and their clean-up.
 *
 * Every child is spawned `detached` (its own process group) so that one `kill(-pgid)` reaches
 * nginx's workers as well as its master, and so that a Ctrl-C in the terminal reaches the
 * harness only: the harness then stops its children in order. Whatever is still alive when the
 * harness exits (normally, on an exception or on a signal) is SIGKILLed by process group, and the
 * temp dirs are removed.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, closeSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** File receiving the child's stdout and stderr, when `logFile` was given. */
  readonly logFile: string | null;
}

const live = new Set<Managed>();
const tempDirs = new Set<string>();
let keepTemp = false;
let installed = false;

/** Keep temp dirs (configs, logs) after the run, for debugging. */
export function setKeepTemp(keep: boolean): void {
  keepTemp = keep;
}

/** A fresh temp dir, world-traversable (nginx workers run as `nobody` when the master is root). */
export function makeTempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-bench-${label}-`));
  chmodSync(dir, 0o755);
  tempDirs.add(dir);
  return dir;
}

export interface SpawnManagedOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append stdout+stderr to this file (otherwise they are ignored, or piped when `pipe`). */
  logFile?: string;
  /** Pipe stdout/stderr back to the caller (for load tools whose output we parse). */
  pipe?: boolean;
}

export function spawnManaged(name: string, command: string, args: string[], opts: SpawnManagedOptions = {}): Managed {
  installCleanup();
  let fd: number | null = null;
  let stdio: SpawnOptions['stdio'];
  if (opts.pipe) {
    stdio = ['ignore', 'pipe', 'pipe'];
  } else if (opts.logFile !== undefined) {
    fd = openSync(opts.logFile, 'a');
    stdio = ['ignore', fd, fd];
  } else {
    stdio = 'ignore';
  }
  const child = spawn(command, args, { detached: true, stdio, env: opts.env ?? process.env, cwd: opts.cwd });
  if (fd !== null) closeSync(fd);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => {
      done = true;
      live.delete(managed);
      process.stderr.write(`bench: could not start ${name} (${command}): ${err.message}\n`);
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => {
      done = true;
      live.delete(managed);
      resolve({ code, signal });
    });
  });
  const managed: Managed = {
    name,
    child,
    pid: child.pid ?? -1,
    exited,
    hasExited: () => done,
    logFile: opts.logFile ?? null,
  };
  if (child.pid !== undefined) live.add(managed);
  return managed;
}

function killGroup(m: Managed, signal: NodeJS.Signals): void {
  if (m.pid <= 0) return;
  try {
    process.kill(-m.pid, signal);
  } catch {
    try {
      process.kill(m.pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Stop a child: `signal` to its process, then SIGKILL to its whole group after `graceMs`.
 * Stray members of the group (e.g. nginx workers) are SIGKILLed once the leader is gone.
 */
export async function stopManaged(m: Managed, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (!m.hasExited()) {
    try {
      process.kill(m.pid, signal);
    } catch {
      /* gone */
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      m.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (timedOut) {
      process.stderr.write(`bench: ${m.name} (pid ${m.pid}) did not exit ${graceMs} ms after ${signal}; killing it\n`);
      killGroup(m, 'SIGKILL');
      await m.exited;
    }
  }
  killGroup(m, 'SIGKILL'); // leftovers of the group, if any
}

/** Last `maxBytes` of a log file, for error messages. */
export function tailFile(path: string | null, maxBytes = 4000): string {
  if (path === null || !existsSync(path)) return '(no output)';
  const text = readFileSync(path, 'utf8');
  const tail = text.length > maxBytes ? `…${text.slice(-maxBytes)}` : text;
  return tail.trim() === '' ? '(no output)' : tail.trimEnd();
}

function cleanupSync(): void {
  for (const m of live) killGroup(m, 'SIGKILL');
  live.clear();
  if (!keepTemp) {
    for (const dir of tempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        /* ignore */
      }
    }
  } else if (tempDirs.size > 0) {
    process.stderr.write(`bench: kept temp dirs:\n${[...tempDirs].map((d) => `  ${d}`).join('\n')}\n`);
  }
  tempDirs.clear();
}

let interrupted = false;

/** Kill every child on exit, on SIGINT/SIGTERM/SIGHUP and on an uncaught error. Idempotent. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (interrupted) {
        cleanupSync();
        process.exit(130);
      }
      interrupted = true;
      process.stderr.write(`\nbench: ${sig}: stopping every child process\n`);
      void Promise.allSettled([...live].map((m) => stopManaged(m, 'SIGTERM', 3000))).then(() => process.exit(130));
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? String(err)}\n`);
    cleanupSync();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupSync();
    process.exit(1);
  });
}

/** True once SIGINT/SIGTERM was received: long loops should stop starting new work. */
export function wasInterrupted(): boolean {
  return interrupted;
}
