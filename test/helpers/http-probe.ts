/**
 * Raw HTTP/1.1 exchanges for integration tests that need to see exactly what the gateway
 * does with one request on one connection: the parsed response (status, headers in order,
 * body framed by Content-Length or chunked) and whether the server closed the connection
 * afterwards, as opposed to keeping it alive. raw-http.ts waits for the close or a timeout
 * and only reports the status; this one parses the response and waits only a short grace
 * period after it for a close.
 */
import { connect } from 'node:net';
import type { Gateway } from './gateway.js';

export interface Exchange {
  /** Whether any response head arrived at all. */
  responded: boolean;
  status: number | null;
  /** Header names lowercased, in order, repeated names kept. */
  headers: Array<[string, string]>;
  body: string;
  /** True when the server closed (FIN or RST) before the grace period after the response ended. */
  closed: boolean;
  /** Everything received, as latin1. */
  raw: string;
}

export function header(ex: Exchange, name: string): string | undefined {
  const n = name.toLowerCase();
  return ex.headers.find(([k]) => k === n)?.[1];
}

export function headerAll(ex: Exchange, name: string): string[] {
  const n = name.toLowerCase();
  return ex.headers.filter(([k]) => k === n).map(([, v]) => v);
}

interface Parsed {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  complete: boolean;
}

/** Parses one response from `buf` (latin1 text); null while the head is incomplete. */
function parseResponse(buf: string, noBody: boolean): Parsed | null {
  // Interim 1xx responses (100 Continue) are skipped: the final response is the one reported.
  while (/^HTTP\/1\.[01] 1\d\d /.test(buf)) {
    const e = buf.indexOf('\r\n\r\n');
    if (e < 0) return null;
    buf = buf.slice(e + 4);
  }
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  const status = m ? Number(m[1]) : 0;
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c > 0) headers.push([line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim()]);
  }
  const rest = buf.slice(end + 4);
  const get = (n: string) => headers.find(([k]) => k === n)?.[1];
  if (noBody || status === 204 || status === 304) {
    return { status, headers, body: '', complete: true };
  }
  const cl = get('content-length');
  if (cl !== undefined) {
    const len = Number(cl);
    return { status, headers, body: rest.slice(0, len), complete: rest.length >= len };
  }
  if ((get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) {
    let body = '';
    let pos = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', pos);
      if (eol < 0) return { status, headers, body, complete: false };
      const size = parseInt(rest.slice(pos, eol), 16);
      if (Number.isNaN(size)) return { status, headers, body, complete: false };
      if (size === 0) return { status, headers, body, complete: rest.startsWith('\r\n', eol + 2) || rest.indexOf('\r\n\r\n', eol) >= 0 };
      if (rest.length < eol + 2 + size + 2) return { status, headers, body, complete: false };
      body += rest.slice(eol + 2, eol + 2 + size);
      pos = eol + 2 + size + 2;
    }
  }
  // Neither: the body runs to the close.
  return { status, headers, body: rest, complete: false };
}

/**
 * Sends `payload` on a new connection and reads one response. Resolves once the server
 * closed, or `graceMs` after a complete response (connection kept alive: closed=false),
 * or at `timeoutMs`.
 */
export function exchange(
  port: number,
  payload: string | Buffer | Array<string | Buffer>,
  opts: {
    timeoutMs?: number;
    graceMs?: number;
    /** The request was HEAD: the response has no body whatever its headers say. */
    head?: boolean;
    /** Address to connect to (default 127.0.0.1). */
    host?: string;
    /** Local address to connect from (a second loopback address stands for another client). */
    localAddress?: string;
  } = {},
): Promise<Exchange> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const graceMs = opts.graceMs ?? 250;
  return new Promise((resolve) => {
    const sock = connect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress });
    sock.setNoDelay(true);
    let buf = '';
    let closed = false;
    let done = false;
    let graceTimer: NodeJS.Timeout | null = null;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (graceTimer !== null) clearTimeout(graceTimer);
      sock.destroy();
      const p = parseResponse(buf, opts.head === true);
      resolve({
        responded: p !== null,
        status: p?.status ?? null,
        headers: p?.headers ?? [],
        body: p?.body ?? '',
        closed,
        raw: buf,
      });
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const p = parseResponse(buf, opts.head === true);
      if (p !== null && p.complete && graceTimer === null) graceTimer = setTimeout(finish, graceMs);
    });
    sock.on('error', () => undefined);
    sock.on('end', () => {
      closed = true;
      finish();
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    const parts = Array.isArray(payload) ? payload : [payload];
    for (const p of parts) sock.write(p);
  });
}

/** A well-formed GET head with the given extra header lines (each without CRLF). */
export function getHead(path: string, lines: string[] = [], host = 'localhost'): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
}

export interface AdminStatusLite {
  pid: number;
  worker_restarts: number;
  workers: Array<{ id: number; state: string; restarts: number }>;
}

export async function adminStatusOf(gw: Gateway): Promise<AdminStatusLite> {
  const res = await fetch(`http://127.0.0.1:${gw.adminPort}/status`);
  if (!res.ok) throw new Error(`admin /status answered ${res.status}`);
  return (await res.json()) as AdminStatusLite;
}

/**
 * The gateway still answers a normal request on a new connection with 200, the process is
 * the one started and no worker was replaced. Throws with the gateway's output otherwise.
 */
export async function assertGatewayHealthy(gw: Gateway, path: string): Promise<void> {
  if (gw.proc.exitCode !== null || gw.proc.signalCode !== null) {
    throw new Error(`gateway exited (code ${gw.proc.exitCode}, signal ${gw.proc.signalCode}):\n${gw.output()}`);
  }
  const ex = await exchange(gw.proxyPort, getHead(path, ['Connection: close']));
  if (ex.status !== 200) throw new Error(`follow-up GET ${path} answered ${ex.status}: ${ex.raw.slice(0, 500)}\n${gw.output()}`);
  const status = await adminStatusOf(gw);
  if (status.pid !== gw.proc.pid) throw new Error(`admin reports pid ${status.pid}, started ${gw.proc.pid}`);
  if (status.worker_restarts !== 0 || status.workers.some((w) => w.restarts !== 0 || w.state !== 'ready')) {
    throw new Error(`a worker restarted: ${JSON.stringify(status)}\n${gw.output()}`);
  }
}
