/**
 * Gateway processes with full control over flags and environment (test/helpers/gateway.ts
 * always passes --proxy-listen/--admin-listen/--workers): short CLI runs that are awaited
 * to completion, and long-running `start` processes whose output, exit code and exit time
 * the test inspects.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { BIN, freePort, writeConfig } from './gateway.js';

export { BIN, freePort, writeConfig };

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment a test child gets: the parent's, minus every PORTCULLIS_* variable. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_')) env[k] = v;
  return { ...env, ...extra };
}

/** Runs `node bin/portcullis.js ARGS` to completion (a command that is expected to exit). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(opts.env), cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`portcullis ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 20_000} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      // 'exit' can fire before the pipes are drained; 'close' comes after both.
      proc.once('close', () => resolve({ code, signal, stdout, stderr }));
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process exited. */
  at: number;
}

export interface Proc {
  proc: ChildProcess;
  output(): string;
  /** pino JSON lines the process printed (non-JSON lines skipped). */
  logs(): Array<Record<string, unknown>>;
  exited: Promise<Exit>;
  /** Waits until `pred` holds for some log line; throws after `timeoutMs`. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
}

export function launch(args: string[], env: NodeJS.ProcessEnv = {}, opts: { command?: string; commandArgs?: string[] } = {}): Proc {
  const command = opts.command ?? process.execPath;
  const commandArgs = opts.commandArgs ?? [BIN];
  const proc = spawn(command, [...commandArgs, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const logs = (): Array<Record<string, unknown>> => {
    const lines: Array<Record<string, unknown>> = [];
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line still being written
      }
    }
    return lines;
  };
  return {
    proc,
    output: () => out,
    logs,
    exited,
    async waitForLog(pred, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs().find(pred);
        if (hit !== undefined) return hit;
        if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}

export interface WorkerStatus {
  id: number;
  thread_id: number;
  state: string;
  restarts: number;
  config_version: number;
  uptime_seconds: number;
  [k: string]: unknown;
}

export interface Status {
  version: string;
  pid: number;
  uptime_seconds: number;
  configuration_hash: string;
  configuration_version: number;
  proxy_port: number;
  worker_restarts: number;
  workers: WorkerStatus[];
  [k: string]: unknown;
}

export async function adminGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

export async function adminPost(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

/**
 * Waits until the admin API on `adminPort` reports every worker ready (the gateway is
 * serving), or the process exits, or `timeoutMs` passes.
 */
export async function waitReady(p: Proc, adminPort: number, timeoutMs = 20_000, headers: Record<string, string> = {}): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) throw new Error(`gateway exited (${p.proc.exitCode ?? p.proc.signalCode}):\n${p.output()}`);
    try {
      const r = await adminGet(adminPort, '/status', headers);
      if (r.status === 200) {
        const s = r.body as Status;
        if (s.workers.length > 0 && s.workers.every((w) => w.state === 'ready')) return s;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      p.kill('SIGKILL');
      throw new Error(`gateway did not become ready within ${timeoutMs} ms:\n${p.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends SIGTERM if still running and waits (bounded) for the exit. */
export async function stopProc(p: Proc, timeoutMs = 40_000): Promise<Exit> {
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const e = await p.exited;
  clearTimeout(timer);
  return e;
}

/** Tries a TCP connection: 'connected', or the error code (ECONNREFUSED, ...). */
export function tcpConnect(host: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const sock = netConnect(port, host);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve('timeout');
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? err.message);
    });
  });
}
