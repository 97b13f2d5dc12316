/**
 * The origin both peers proxy to: 200 with a small fixed body on every path.
 *
 * Why nginx `return 200` is the default origin (measured on the 2-core bench machine with this
 * harness, wrk -t1 -c64, 128-byte body, `--direct` rows and an nginx proxy in front):
 *
 *   origin                       direct req/s   origin CPU µs/req   nginx-proxy req/s through it
 *   nginx return 200, 1 worker   132k-161k      6-8                 65k-74k (3-round median 69k)
 *   nginx return 200, 2 workers  ~150k          6-8                 54k-62k
 *   node http, 1 process         76k-83k        11.5-13             37k-51k (3-round median 51k)
 *   node http, cluster of 2      ~84k           13-16               ~47k
 *
 * On 2 cores the load tool, the peer and the origin share the CPU, so every µs the origin spends
 * per request is taken from the peer under test. nginx costs about half of what Node's http server
 * costs per request, and a single Node process saturates its core near the rate a good proxy
 * reaches (so it would cap the peer). One nginx worker is enough (it idles at half a core at the
 * proxies' rates) and leaves the scheduler one process fewer to juggle; `--origin-workers` changes it.
 * Without nginx installed the Node origin is the fallback (`--origin node` forces it), with a
 * warning: req/s is then bounded by the origin, CPU µs/request of the peers stays meaningful.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { originBody } from './lib/body.js';
import { HOST, describeProbe, freePort, probe, sleep, type ProbeResult } from './lib/net.js';
import { startNginx, type NginxInfo } from './lib/nginx.js';
import { makeTempDir, spawnManaged, stopManaged, tailFile } from './lib/procs.js';

export type OriginKind = 'nginx' | 'node';

export interface Upstream {
  kind: OriginKind;
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  port: number;
  workers: number;
  payloadSize: number;
  /** Root of the origin's process tree, for CPU accounting. */
  pid: number;
  /** e.g. "nginx 1.22.1 return 200, 2 workers". */
  description: string;
  stop(): Promise<void>;
}

export interface UpstreamOptions {
  kind: OriginKind;
  workers: number;
  payloadSize: number;
  nginx: NginxInfo | null;
}

export function defaultOriginKind(nginx: NginxInfo | null): OriginKind {
  return nginx !== null ? 'nginx' : 'node';
}

/** nginx conf tokens are limited to ~4 KB: larger bodies are served from a file instead of `return`. */
const NGINX_RETURN_MAX = 4000;

function nginxOriginLocation(size: number, www: string): string {
  if (size <= NGINX_RETURN_MAX) {
    return `location / {\n  default_type text/plain;\n  return 200 "${originBody(size)}";\n}`;
  }
  writeFileSync(join(www, 'body.txt'), originBody(size));
  return `location / {
  default_type text/plain;
  root ${www};
  open_file_cache max=16;
  sendfile on;
  try_files /body.txt =500;
}`;
}

export async function startUpstream(opts: UpstreamOptions): Promise<Upstream> {
  const port = await freePort();
  if (opts.kind === 'nginx') {
    if (opts.nginx === null) throw new Error('the nginx origin needs nginx installed');
    const running = await startNginx('origin', opts.nginx, {
      workers: opts.workers,
      port,
      server: nginxOriginLocation(opts.payloadSize, makeTempDir('origin-www')),
    });
    return {
      kind: 'nginx',
      url: `http://${HOST}:${port}`,
      port,
      workers: opts.workers,
      payloadSize: opts.payloadSize,
      pid: running.proc.pid,
      description: `nginx ${opts.nginx.version} ${opts.payloadSize <= NGINX_RETURN_MAX ? '`return 200`' : 'static file'}, ${opts.workers} worker(s)`,
      stop: running.stop,
    };
  }
  const dir = makeTempDir('origin-node');
  const log = join(dir, 'origin.log');
  const script = fileURLToPath(new URL('./origin-node.js', import.meta.url));
  const proc = spawnManaged('node origin', process.execPath, [
    script,
    '--port',
    String(port),
    '--size',
    String(opts.payloadSize),
    '--workers',
    String(opts.workers),
  ], { logFile: log });
  const deadline = Date.now() + 10_000;
  let last: ProbeResult | null = null;
  while (Date.now() < deadline) {
    if (proc.hasExited()) throw new Error(`the node origin exited during start-up:\n${tailFile(log)}`);
    last = await probe(port, { path: '/' }, 1000);
    if (last.ok && last.status === 200) {
      return {
        kind: 'node',
        url: `http://${HOST}:${port}`,
        port,
        workers: opts.workers,
        payloadSize: opts.payloadSize,
        pid: proc.pid,
        description: `node ${process.version} http, ${opts.workers === 1 ? '1 process' : `cluster of ${opts.workers}`}`,
        stop: () => stopManaged(proc, 'SIGTERM', 3000),
      };
    }
    await sleep(50);
  }
  await stopManaged(proc, 'SIGKILL', 1000);
  throw new Error(`the node origin did not answer within 10 s (last: ${last ? describeProbe(last) : 'none'}):\n${tailFile(log)}`);
}
