/**
 * A small node:http client for integration tests that need what fetch refuses: a custom
 * Host header, repeated request headers, HEAD bodies checked on the wire, a chosen
 * keep-alive connection (pass an Agent with maxSockets: 1 to pin one connection).
 */
import { request, type Agent, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header lines as received: [name, value, name, value, ...]. */
  rawHeaders: string[];
  body: Buffer;
  text: string;
  json<T = any>(): T;
}

export interface ReqOptions {
  method?: string;
  /** Header pairs, in order; repeated names are sent as separate lines. */
  headers?: Array<[string, string]>;
  body?: string | Buffer;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  agent?: Agent | false;
}

export function httpReq(port: number, path: string, opts: ReqOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const flat: string[] = [];
    for (const [k, v] of opts.headers ?? []) flat.push(k, v);
    const hasHost = (opts.headers ?? []).some(([k]) => k.toLowerCase() === 'host');
    if (!hasHost) flat.push('Host', `127.0.0.1:${port}`);
    if (opts.body !== undefined && !opts.chunked) flat.push('Content-Length', String(Buffer.byteLength(opts.body)));
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      method: opts.method ?? 'GET',
      headers: flat as unknown as Record<string, string>,
      setHost: false,
      agent: opts.agent ?? false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          text,
          json: () => JSON.parse(text),
        });
      });
    });
    if (opts.body !== undefined) {
      if (opts.chunked) {
        const b = Buffer.from(opts.body);
        const half = Math.floor(b.length / 2);
        req.write(b.subarray(0, half));
        setTimeout(() => req.end(b.subarray(half)), 20);
        return;
      }
      req.end(opts.body);
      return;
    }
    req.end();
  });
}

/**
 * Sends raw requests one after another on one TCP connection, each after the previous
 * answer's head (and `bodyBytes[i]` body bytes) arrived. Resolves with what came back for
 * each; an answer that never comes is '' after `timeoutMs`.
 */
export function rawSequence(port: number, requests: string[], bodyBytes: number[], timeoutMs = 2000): Promise<string[]> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const answers: string[] = [];
    let buf = Buffer.alloc(0);
    let i = 0;
    let timer: NodeJS.Timeout;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      while (answers.length < requests.length) answers.push(answers.length === i ? buf.toString('latin1') : '');
      resolve(answers);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, timeoutMs);
    };
    const next = () => {
      if (i >= requests.length) return finish();
      arm();
      sock.write(requests[i]!);
    };
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const want = end + 4 + (bodyBytes[i] ?? 0);
      if (buf.length < want) return;
      answers.push(buf.subarray(0, want).toString('latin1'));
      buf = buf.subarray(want);
      i++;
      next();
    });
    sock.on('error', () => undefined);
    sock.on('close', finish);
    sock.on('connect', next);
  });
}
