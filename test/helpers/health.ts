/**
 * Liveness checks after a failure scenario: the gateway process is still there, answers a
 * normal proxied request, and no worker thread was replaced.
 */
import { request } from 'node:http';
import type { Gateway } from './gateway.js';

export interface AdminStatus {
  pid: number;
  worker_restarts: number;
  workers: Array<{ id: number; state: string; restarts: number }>;
}

export async function adminStatus(gw: Gateway): Promise<AdminStatus> {
  const res = await fetch(`http://127.0.0.1:${gw.adminPort}/status`);
  if (!res.ok) throw new Error(`admin /status answered ${res.status}`);
  return (await res.json()) as AdminStatus;
}

export interface SimpleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One request on a fresh connection (no agent: a broken kept-alive socket from an earlier
 * scenario must not be what answers), with a deadline so a hang fails instead of stalling.
 */
export function simpleRequest(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no complete answer to ${opts.method ?? 'GET'} ${path} within ${opts.timeoutMs ?? 5000} ms`));
    }, opts.timeoutMs ?? 5000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(opts.body);
  });
}

/**
 * The gateway still proxies a normal request on `path` (200 within 5 s) and reports no
 * worker restart; the process it reports is the one we started.
 */
export async function expectGatewayHealthy(gw: Gateway, path: string): Promise<void> {
  if (gw.proc.exitCode !== null || gw.proc.signalCode !== null) {
    throw new Error(`gateway process exited (code ${gw.proc.exitCode}, signal ${gw.proc.signalCode}):\n${gw.output()}`);
  }
  const res = await simpleRequest(gw.proxyPort, path);
  if (res.status !== 200) throw new Error(`normal request to ${path} answered ${res.status}: ${res.body}`);
  const status = await adminStatus(gw);
  if (status.pid !== gw.proc.pid) throw new Error(`admin reports pid ${status.pid}, started ${gw.proc.pid}`);
  if (status.worker_restarts !== 0 || status.workers.some((w) => w.restarts !== 0 || w.state !== 'ready')) {
    throw new Error(`worker restarted or not ready: ${JSON.stringify(status)}\n${gw.output()}`);
  }
}
