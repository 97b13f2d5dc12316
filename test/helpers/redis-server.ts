/**
 * A real redis-server on a free loopback port for tests (Debian's /usr/bin/redis-server;
 * .ci/run installs it). No persistence, no config file: it lives and dies with the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from './gateway.js';

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p)) ?? 'redis-server';

export interface RedisServer {
  port: number;
  proc: ChildProcess;
  /** SIGKILL: the server vanishes, as in a crash. */
  kill(): Promise<void>;
  /** Starts a fresh (empty) server on the same port. */
  restart(): Promise<void>;
  /** Sends one inline command and returns the raw reply (e.g. `FLUSHALL`). */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

function raw(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.setTimeout(2000, () => s.destroy(new Error('redis did not answer')));
    s.on('error', reject);
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (out.endsWith('\r\n')) {
        s.end();
        resolve(out);
      }
    });
    s.write(`${line}\r\n`);
  });
}

async function launch(port: number): Promise<ChildProcess> {
  const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}:\n${out}`);
    try {
      if ((await raw(port, 'PING')).startsWith('+PONG')) return proc;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', () => r()));
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const server: RedisServer = {
    port,
    proc: await launch(port),
    async kill() {
      const p = server.proc;
      p.kill('SIGKILL');
      await exited(p);
    },
    async restart() {
      server.proc = await launch(port);
    },
    command: (line) => raw(port, line),
    async stop() {
      const p = server.proc;
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
      await exited(p);
    },
  };
  return server;
}
