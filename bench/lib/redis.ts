/**
 * The Redis of scenarios that need one (`needs: ['redis']`): PORTCULLIS_BENCH_REDIS=HOST:PORT
 * when set (a Redis you run yourself), else a private redis-server on a free loopback port with no
 * persistence, started for the scenario and stopped after it. Its CPU is reported beside the
 * gateway's, because every rate-limiting decision costs Redis a Lua script.
 */
import { connect } from 'node:net';
import { HOST, freePort, sleep } from './net.js';
import { makeTempDir, spawnManaged, stopManaged, tailFile } from './procs.js';
import { which } from './which.js';

export const REDIS_INSTALL_HINT = 'install it with: apt-get install -y redis-server   (Debian/Ubuntu; as root), or set PORTCULLIS_BENCH_REDIS=HOST:PORT';

export interface BenchRedis {
  host: string;
  port: number;
  /** Root of its process tree when the bench started it (for CPU accounting); null for an external one. */
  pid: number | null;
  description: string;
  stop(): Promise<void>;
}

export function parseRedisAddress(raw: string): { host: string; port: number } {
  const at = raw.lastIndexOf(':');
  const port = Number(raw.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORTCULLIS_BENCH_REDIS: expected HOST:PORT, got '${raw}'`);
  return { host: raw.slice(0, at), port };
}

function ping(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    let out = '';
    s.setTimeout(1000, () => s.destroy());
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(out.startsWith('+PONG')));
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (out.endsWith('\r\n')) s.end();
    });
    s.write('PING\r\n');
  });
}

/** Why the bench cannot provide a Redis here, or null. */
export function redisUnavailable(): string | null {
  if (process.env['PORTCULLIS_BENCH_REDIS'] !== undefined) return null;
  return which('redis-server', ['/usr/bin', '/usr/local/bin']) === null ? `redis-server is not installed; ${REDIS_INSTALL_HINT}` : null;
}

export async function startBenchRedis(): Promise<BenchRedis> {
  const external = process.env['PORTCULLIS_BENCH_REDIS'];
  if (external !== undefined) {
    const { host, port } = parseRedisAddress(external);
    if (!(await ping(host, port))) throw new Error(`PORTCULLIS_BENCH_REDIS=${external}: no Redis answers PING there`);
    return { host, port, pid: null, description: `Redis at ${external} (PORTCULLIS_BENCH_REDIS)`, stop: async () => {} };
  }
  const bin = which('redis-server', ['/usr/bin', '/usr/local/bin']);
  if (bin === null) throw new Error(`redis-server is not installed; ${REDIS_INSTALL_HINT}`);
  const port = await freePort();
  const log = `${makeTempDir('redis')}/redis.log`;
  const proc = spawnManaged('redis-server', bin, ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
    logFile: log,
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.hasExited()) throw new Error(`redis-server exited during start-up:\n${tailFile(log)}`);
    if (await ping(HOST, port)) {
      return { host: HOST, port, pid: proc.pid, description: `private redis-server on ${HOST}:${port}, no persistence`, stop: () => stopManaged(proc, 'SIGTERM', 3000) };
    }
    await sleep(50);
  }
  await stopManaged(proc, 'SIGKILL', 1000);
  throw new Error(`redis-server did not answer within 10 s:\n${tailFile(log)}`);
}
