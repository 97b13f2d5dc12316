/**
 * Starts a real gateway process (bin/portcullis.js, built dist/) on loopback with a given
 * config, for integration tests. Ports are chosen by the OS; the proxy port is read back
 * from the admin /status endpoint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'portcullis.js');

export interface Gateway {
  proxyPort: number;
  adminPort: number;
  proc: ChildProcess;
  /** Everything the process wrote to stdout/stderr so far. */
  output(): string;
  url(path: string): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

function tryListen(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const got = (srv.address() as { port: number }).port;
      srv.close(() => resolve(got));
    });
  });
}

/**
 * A port that is free now, chosen below Linux's ephemeral range (32768-60999): a port the OS
 * hands out for port 0 can be taken again by any outgoing connection before the gateway
 * binds it (seen in CI: "cannot listen"), a port outside that range cannot.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await tryListen(20_000 + Math.floor(Math.random() * 12_000));
    if (port !== null) return port;
  }
  const any = await tryListen(0);
  if (any === null) throw new Error('no free port');
  return any;
}

export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  const file = join(dir, 'kong.yml');
  writeFileSync(file, yaml);
  return file;
}

export async function startGateway(
  configYaml: string | null,
  opts: { workers?: number; extraArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<Gateway> {
  const proxyPort = await freePort();
  const adminPort = await freePort();
  const args = [BIN, 'start', '--proxy-listen', `127.0.0.1:${proxyPort}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--workers', String(opts.workers ?? 2)];
  if (configYaml !== null) args.push('--config', writeConfig(configYaml));
  args.push(...(opts.extraArgs ?? []));
  const proc = spawn(process.execPath, args, { env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited with ${proc.exitCode}:\n${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/status`);
      if (res.ok) {
        const status = (await res.json()) as { workers: Array<{ state: string }> };
        if (status.workers.every((w) => w.state === 'ready')) break;
      }
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`gateway did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proxyPort,
    adminPort,
    proc,
    output: () => out,
    url: (path: string) => `http://127.0.0.1:${proxyPort}${path}`,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}
