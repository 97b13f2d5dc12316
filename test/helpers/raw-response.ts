/**
 * Sends one GET over a raw socket and reads the answer until the server closes the
 * connection (or a deadline), then tells how the response was framed and whether it ended
 * cleanly: for tests that must prove a client never received a clean, short response
 * (a chunked body without its last chunk, a Content-Length body cut short).
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number | null;
  /** Response head, lowercased header names (last value wins). */
  headers: Record<string, string>;
  /** Body bytes received (chunk payloads for a chunked body). */
  body: Buffer;
  /** The body ended as its framing says: the last chunk arrived, or all Content-Length bytes. */
  complete: boolean;
  /** The server closed the connection. */
  closed: boolean;
  /** The deadline passed first. */
  timedOut: boolean;
}

export function rawGet(port: number, path: string, opts: { method?: string; headers?: string[]; deadlineMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    let timedOut = false;
    const finish = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(parse(Buffer.concat(chunks), closed, timedOut, (opts.method ?? 'GET') === 'HEAD'));
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
    }, opts.deadlineMs ?? 5000);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish();
    });
    const extra = (opts.headers ?? []).map((h) => `${h}\r\n`).join('');
    // Connection: close so that a clean response also ends with a close (and the parse sees all of it).
    sock.write(`${opts.method ?? 'GET'} ${path} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n${extra}\r\n`);
  });
}

function parse(raw: Buffer, closed: boolean, timedOut: boolean, head: boolean): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: null, headers: {}, body: Buffer.alloc(0), complete: false, closed, timedOut };
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]!);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const rest = raw.subarray(end + 4);
  if (head) return { status: m ? Number(m[1]) : null, headers, body: rest, complete: rest.length === 0, closed, timedOut };
  if ((headers['transfer-encoding'] ?? '').toLowerCase() === 'chunked') {
    const body: Buffer[] = [];
    let pos = 0;
    let complete = false;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', pos);
      if (lineEnd < 0) break;
      const size = Number.parseInt(rest.subarray(pos, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) {
        complete = rest.indexOf('\r\n', lineEnd + 2) >= 0;
        break;
      }
      const start = lineEnd + 2;
      body.push(rest.subarray(start, Math.min(start + size, rest.length)));
      if (start + size + 2 > rest.length) break;
      pos = start + size + 2;
    }
    return { status: m ? Number(m[1]) : null, headers, body: Buffer.concat(body), complete, closed, timedOut };
  }
  const length = headers['content-length'] === undefined ? -1 : Number(headers['content-length']);
  return { status: m ? Number(m[1]) : null, headers, body: rest, complete: length >= 0 && rest.length === length, closed, timedOut };
}
