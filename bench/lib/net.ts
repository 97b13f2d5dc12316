/** Loopback helpers: free ports, one-off HTTP probes, polling. Everything here is 127.0.0.1 only. */
import { createServer } from 'node:net';
import { request } from 'node:http';

export const HOST = '127.0.0.1';

/** A port that was free a moment ago: listen on port 0, read the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not read the address of a port-0 listener'));
        return;
      }
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}

export interface ProbeRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export type ProbeResult =
  | { ok: true; status: number; bodyBytes: number; headers: Record<string, string | string[] | undefined> }
  | { ok: false; error: string; code: string | undefined };

/** One request on a fresh connection (`Connection: close`), with a timeout. Never rejects. */
export function probe(port: number, req: ProbeRequest, timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ...(req.headers ?? {}), connection: 'close' };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const r = request(
      { host: HOST, port, method: req.method ?? 'GET', path: req.path, headers, agent: false, timeout: timeoutMs },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.on('end', () => resolve({ ok: true, status: res.statusCode ?? 0, bodyBytes: bytes, headers: res.headers }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.message, code: err.code }));
      },
    );
    r.on('timeout', () => r.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    r.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.message, code: err.code }));
    r.end(req.body);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A short human description of a probe result. */
export function describeProbe(r: ProbeResult): string {
  return r.ok ? `HTTP ${r.status}, ${r.bodyBytes} body bytes` : `${r.code ?? 'error'}: ${r.error}`;
}
