/**
 * cors and request-size-limiting through a real gateway process in front of a real upstream,
 * checked against Kong's semantics (kong/plugins/{cors,request-size-limiting}/handler.lua; the
 * documented differences are in workers/plugins/<name>/README.md):
 * - cors: preflights answered by the gateway with Kong's headers, preflight_continue proxied,
 *   headers on upstream answers and on the gateway's own errors (401, 404), and the
 *   credentials safety (no reflected Origin);
 * - request-size-limiting: Content-Length over the limit answered before the upstream sees
 *   anything, and a chunked upload cut with 413 while the client is still sending, with
 *   the upstream request aborted; bodies at the limit pass byte for byte.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq, type Reply } from '../helpers/http-client.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const MB = 1024 * 1024;

/** What the upstream saw of one request body. */
interface UploadRecord {
  path: string;
  bytes: number;
  sha256: string | null;
  /** The body ended cleanly. */
  complete: boolean;
  /** The connection went away before the body ended (the gateway aborted the request). */
  aborted: boolean;
}

const uploads: UploadRecord[] = [];

/**
 * /size/*: reads the body, answers its length and digest (and records whether it was cut);
 * /cors/continue: answers a preflight itself, with its own CORS headers;
 * anything else: echoes method, url and headers, with its own Vary and ACAO.
 */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path.startsWith('/size/')) {
    const rec: UploadRecord = { path, bytes: 0, sha256: null, complete: false, aborted: false };
    uploads.push(rec);
    const hash = createHash('sha256');
    req.on('data', (c: Buffer) => {
      rec.bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      rec.complete = true;
      rec.sha256 = hash.digest('hex');
      const body = JSON.stringify({ bytes: rec.bytes, sha256: rec.sha256 });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    req.on('close', () => {
      if (!rec.complete) rec.aborted = true;
    });
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (path === '/cors/continue') {
      res.writeHead(204, { 'access-control-allow-origin': 'https://upstream-decides.example', 'access-control-allow-methods': 'PATCH' });
      res.end();
      return;
    }
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      vary: 'Accept-Encoding',
      'access-control-allow-origin': '*',
      'x-upstream-id': 'u-1',
    });
    res.end(body);
  });
}

function config(upstreamUrl: string): string {
  return `_format_version: "3.0"
plugins:
  - name: cors
    config:
      origins: ["https://global.example", "https://other.example"]
services:
  - name: backend
    url: ${upstreamUrl}
    routes:
      - name: cors-list
        paths: [/cors/list]
        strip_path: false
        plugins:
          - name: cors
            config:
              origins: ["https://app.example.com", "(.*\\\\.)?trusted\\\\.example"]
              headers: [Authorization, Content-Type]
              exposed_headers: [X-Upstream-Id, X-Kong-Request-Id]
              methods: [GET, POST]
              max_age: 600
              credentials: true
              private_network: true
      - name: cors-default
        paths: [/cors/default]
        strip_path: false
        plugins:
          - name: cors
      - name: cors-auth
        paths: [/cors/auth]
        strip_path: false
        plugins:
          - name: cors
            config: { origins: ["https://app.example.com", "https://b.example"], credentials: true }
          - name: key-auth
      - name: cors-continue
        paths: [/cors/continue]
        strip_path: false
        plugins:
          - name: cors
            config: { preflight_continue: true, origins: ["https://app.example.com", "https://b.example"] }
      - name: cors-star-credentials
        paths: [/cors/star]
        strip_path: false
        plugins:
          - name: cors
            config: { origins: ["*"], credentials: true }
      - name: cors-single
        paths: [/cors/single]
        strip_path: false
        plugins:
          - name: cors
            config: { origins: ["https://app.example.com"], credentials: true }
      - name: size-1mb
        paths: [/size/1mb]
        strip_path: false
        plugins:
          - name: request-size-limiting
            config: { allowed_payload_size: 1, size_unit: megabytes }
      - name: size-required
        paths: [/size/required]
        strip_path: false
        plugins:
          - name: request-size-limiting
            config: { allowed_payload_size: 10, size_unit: kilobytes, require_content_length: true }
      - name: size-auth
        paths: [/size/auth]
        strip_path: false
        plugins:
          - name: key-auth
          - name: request-size-limiting
            config: { allowed_payload_size: 4096, size_unit: bytes }
      - name: size-echo
        paths: [/size/echo]
        strip_path: false
        plugins:
          - name: request-size-limiting
            config: { allowed_payload_size: 100, size_unit: bytes }
          - name: request-termination
            config: { status_code: 200, echo: true }
      - name: size-preauth
        paths: [/size/preauth]
        strip_path: false
        plugins:
          - name: key-auth
            config: { key_in_body: true }
          - name: request-size-limiting
            config: { allowed_payload_size: 1000, size_unit: bytes }
            ordering:
              before:
                access: [key-auth]
consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-key
`;
}

let upstream: Upstream;
let gw: Gateway;

beforeAll(async () => {
  upstream = await startUpstream(handler);
  gw = await startGateway(config(upstream.url));
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

/** The CORS-related response headers, in wire order, names lowercased (repeats kept). */
function corsLines(r: Reply): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const name = r.rawHeaders[i]!.toLowerCase();
    if (name.startsWith('access-control-') || name === 'vary') out.push([name, r.rawHeaders[i + 1]!]);
  }
  return out.sort((a, b) => (a[0] === b[0] ? a[1].localeCompare(b[1]) : a[0].localeCompare(b[0])));
}

const PREFLIGHT: Array<[string, string]> = [
  ['Origin', 'https://app.example.com'],
  ['Access-Control-Request-Method', 'POST'],
];

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------------------------------

describe('cors preflight', () => {
  it("answers 200 itself with exactly Kong's headers, empty body, nothing proxied", async () => {
    const before = upstream.seen.length;
    const r = await httpReq(gw.proxyPort, '/cors/list', {
      method: 'OPTIONS',
      headers: [...PREFLIGHT, ['Access-Control-Request-Headers', 'X-Ignored'], ['Access-Control-Request-Private-Network', 'true']],
    });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
    expect(r.headers['content-length']).toBe('0');
    expect(r.headers['content-type']).toBeUndefined();
    expect(corsLines(r)).toEqual([
      ['access-control-allow-credentials', 'true'],
      ['access-control-allow-headers', 'Authorization,Content-Type'],
      ['access-control-allow-methods', 'GET,POST'],
      ['access-control-allow-origin', 'https://app.example.com'],
      ['access-control-allow-private-network', 'true'],
      ['access-control-max-age', '600'],
      ['vary', 'Origin'],
    ]);
    expect(r.headers['x-kong-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(upstream.seen.length).toBe(before);
  });

  it('matches a regex origin by host, and gives an unlisted origin no ACAO', async () => {
    const trusted = await httpReq(gw.proxyPort, '/cors/list', { method: 'OPTIONS', headers: [['Origin', 'https://api.trusted.example'], PREFLIGHT[1]!] });
    expect(trusted.headers['access-control-allow-origin']).toBe('https://api.trusted.example');
    const evil = await httpReq(gw.proxyPort, '/cors/list', { method: 'OPTIONS', headers: [['Origin', 'https://trusted.example.evil.org'], PREFLIGHT[1]!] });
    expect(evil.status).toBe(200);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(evil.headers['vary']).toBe('Origin');
  });

  it('with the default config: ACAO *, all nine methods, echoed request headers, no Vary', async () => {
    const r = await httpReq(gw.proxyPort, '/cors/default', {
      method: 'OPTIONS',
      headers: [...PREFLIGHT, ['Access-Control-Request-Headers', 'X-Custom,Content-Type']],
    });
    expect(r.status).toBe(200);
    expect(corsLines(r)).toEqual([
      ['access-control-allow-headers', 'X-Custom,Content-Type'],
      ['access-control-allow-methods', 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT'],
      ['access-control-allow-origin', '*'],
    ]);
  });

  it('is answered before authentication (cors 2000 runs before key-auth 1250)', async () => {
    const r = await httpReq(gw.proxyPort, '/cors/auth', { method: 'OPTIONS', headers: PREFLIGHT });
    expect(r.status).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(r.headers['www-authenticate']).toBeUndefined();
  });

  it('with preflight_continue goes to the upstream, whose answer gets no CORS headers added', async () => {
    const before = upstream.seen.length;
    const r = await httpReq(gw.proxyPort, '/cors/continue', { method: 'OPTIONS', headers: PREFLIGHT });
    expect(r.status).toBe(204);
    expect(corsLines(r)).toEqual([
      ['access-control-allow-methods', 'PATCH'],
      ['access-control-allow-origin', 'https://upstream-decides.example'],
    ]);
    expect(upstream.seen.length).toBe(before + 1);
    const seen = upstream.seen[upstream.seen.length - 1]!;
    expect(seen.method).toBe('OPTIONS');
    expect(seen.headers['origin']).toBe('https://app.example.com');
    expect(seen.headers['access-control-request-method']).toBe('POST');
  });
});

describe('cors on actual requests', () => {
  it("on an upstream answer: replaces its ACAO, adds a Vary line, credentials and exposed headers", async () => {
    const r = await httpReq(gw.proxyPort, '/cors/list', { headers: [['Origin', 'https://app.example.com']] });
    expect(r.status).toBe(200);
    expect(r.json().url).toBe('/cors/list');
    expect(corsLines(r)).toEqual([
      ['access-control-allow-credentials', 'true'],
      ['access-control-allow-origin', 'https://app.example.com'],
      ['access-control-expose-headers', 'X-Upstream-Id,X-Kong-Request-Id'],
      ['vary', 'Accept-Encoding'],
      ['vary', 'Origin'],
    ]);
  });

  it("removes the upstream's ACAO for an unlisted origin, and a non-preflight OPTIONS is proxied", async () => {
    const r = await httpReq(gw.proxyPort, '/cors/list', { headers: [['Origin', 'https://evil.example']] });
    expect(r.status).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    expect(r.headers['access-control-allow-credentials']).toBe('true');
    const opt = await httpReq(gw.proxyPort, '/cors/list', { method: 'OPTIONS', headers: [['Origin', 'https://app.example.com']] });
    expect(opt.status).toBe(200);
    expect(opt.json().method).toBe('OPTIONS');
    expect(opt.headers['access-control-allow-origin']).toBe('https://app.example.com');
  });

  it('on a gateway error of a later plugin: 401 from key-auth carries the CORS headers', async () => {
    const r = await httpReq(gw.proxyPort, '/cors/auth', { headers: [['Origin', 'https://b.example']] });
    expect(r.status).toBe(401);
    expect(r.json().message).toBe('No API key found in request');
    expect(r.headers['www-authenticate']).toBe('Key');
    expect(corsLines(r)).toEqual([
      ['access-control-allow-credentials', 'true'],
      ['access-control-allow-origin', 'https://b.example'],
      ['vary', 'Origin'],
    ]);
    const ok = await httpReq(gw.proxyPort, '/cors/auth', { headers: [['Origin', 'https://b.example'], ['apikey', 'alice-key']] });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe('https://b.example');
  });

  it("on the router's 404: the global instance's headers", async () => {
    const r = await httpReq(gw.proxyPort, '/nowhere', { headers: [['Origin', 'https://global.example']] });
    expect(r.status).toBe(404);
    expect(r.json().message).toBe('no Route matched with those values');
    expect(corsLines(r)).toEqual([
      ['access-control-allow-origin', 'https://global.example'],
      ['vary', 'Origin'],
    ]);
    const other = await httpReq(gw.proxyPort, '/nowhere', { headers: [['Origin', 'https://evil.example']] });
    expect(corsLines(other)).toEqual([['vary', 'Origin']]);
  });
});

describe('cors credentials safety (beyond Kong)', () => {
  it("origins '*' + credentials: '*' without credentials, never the request Origin", async () => {
    for (const method of ['GET', 'OPTIONS']) {
      const headers: Array<[string, string]> = [['Origin', 'https://evil.example']];
      if (method === 'OPTIONS') headers.push(['Access-Control-Request-Method', 'GET']);
      const r = await httpReq(gw.proxyPort, '/cors/star', { method, headers });
      expect(r.status).toBe(200);
      expect(r.headers['access-control-allow-origin']).toBe('*');
      expect(r.headers['access-control-allow-credentials']).toBeUndefined();
      expect(JSON.stringify(r.rawHeaders)).not.toContain('evil.example');
    }
  });

  it('a single exact origin is sent only to that origin', async () => {
    const evil = await httpReq(gw.proxyPort, '/cors/single', { headers: [['Origin', 'https://evil.example']] });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const app = await httpReq(gw.proxyPort, '/cors/single', { headers: [['Origin', 'https://app.example.com']] });
    expect(app.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(app.headers['access-control-allow-credentials']).toBe('true');
  });
});

// ---------------------------------------------------------------------------------------

interface SlowUpload {
  status: number | null;
  text: string;
  /** Body bytes written to the socket when the first response byte arrived (null: never). */
  sentAtAnswer: number | null;
  sent: number;
  /** The client wrote its whole body. */
  finishedSending: boolean;
  closed: boolean;
}

/**
 * A chunked upload of `total` bytes in `chunk`-sized pieces, one every `intervalMs`, that
 * keeps reading: resolves when the server closed the connection (or after `deadlineMs`).
 */
function slowChunkedUpload(path: string, opts: { total: number; chunk: number; intervalMs: number; headers?: string; deadlineMs?: number }): Promise<SlowUpload> {
  return new Promise((resolve) => {
    const sock = connect(gw.proxyPort, '127.0.0.1');
    const piece = Buffer.alloc(opts.chunk, 0x61);
    let text = '';
    let sent = 0;
    let sentAtAnswer: number | null = null;
    let closed = false;
    let timer: NodeJS.Timeout | null = null;
    const finish = () => {
      if (timer !== null) clearInterval(timer);
      clearTimeout(deadline);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text, sentAtAnswer, sent, finishedSending: sent >= opts.total, closed });
    };
    const deadline = setTimeout(finish, opts.deadlineMs ?? 30_000);
    sock.on('data', (d: Buffer) => {
      sentAtAnswer ??= sent;
      text += d.toString('latin1');
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('connect', () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n${opts.headers ?? ''}\r\n`);
      timer = setInterval(() => {
        if (sock.destroyed || closed) return;
        if (sent >= opts.total) {
          clearInterval(timer!);
          timer = null;
          sock.write('0\r\n\r\n');
          return;
        }
        const n = Math.min(opts.chunk, opts.total - sent);
        sent += n;
        sock.write(Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from('\r\n')]));
      }, opts.intervalMs);
    });
  });
}

function bodyOf(raw: string): string {
  return raw.slice(raw.indexOf('\r\n\r\n') + 4);
}

describe('request-size-limiting with Content-Length', () => {
  it('answers 413 to a Content-Length over the limit at once; the upstream never sees the request', async () => {
    const before = upstream.seen.length;
    const r = await rawRequest(gw.proxyPort, `POST /size/1mb HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: ${MB + 1}\r\n\r\n`);
    expect(r.status).toBe(413);
    expect(JSON.parse(bodyOf(r.text)).message).toBe('Request size limit exceeded');
    // The body was never read: the connection cannot be reused.
    expect(r.text).toMatch(/\r\nConnection: close\r\n/i);
    expect(r.closed).toBe(true);
    expect(upstream.seen.length).toBe(before);
  });

  it('with Expect: 100-continue: uWS has already sent 100 Continue, then the gateway answers 417', async () => {
    const before = upstream.seen.length;
    const r = await rawRequest(gw.proxyPort, `POST /size/1mb HTTP/1.1\r\nHost: gateway.test\r\nExpect: 100-continue\r\nContent-Length: ${10 * MB}\r\n\r\n`);
    // What a client observes: the interim 100 (written by uWS before our handler runs), then 417.
    expect(r.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 417 /);
    expect(JSON.parse(bodyOf(r.text.slice(r.text.indexOf('HTTP/1.1 417')))).message).toBe('Request size limit exceeded');
    expect(r.closed).toBe(true);
    expect(upstream.seen.length).toBe(before);
  });

  it('passes a body exactly at the limit byte for byte', async () => {
    const body = Buffer.alloc(MB);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff;
    const r = await httpReq(gw.proxyPort, '/size/1mb', { method: 'POST', body });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ bytes: MB, sha256: createHash('sha256').update(body).digest('hex') });
  });
});

describe('request-size-limiting on streamed (chunked) bodies', () => {
  it('cuts a slow 10 MB upload with 413 while the client is still sending, and aborts the upstream request', async () => {
    const before = uploads.length;
    const r = await slowChunkedUpload('/size/1mb', { total: 10 * MB, chunk: 64 * 1024, intervalMs: 10 });
    expect(r.status).toBe(413);
    expect(JSON.parse(bodyOf(r.text)).message).toBe('Request size limit exceeded');
    expect(r.closed).toBe(true);
    expect(r.finishedSending).toBe(false);
    // Answered soon after the limit was crossed, not after the whole body.
    expect(r.sentAtAnswer).not.toBeNull();
    expect(r.sentAtAnswer!).toBeGreaterThan(MB);
    expect(r.sentAtAnswer!).toBeLessThan(5 * MB);
    // The upstream got the start of the body as it streamed, then saw the request aborted.
    await until(() => uploads.length > before && uploads[before]!.aborted);
    const rec = uploads[before]!;
    expect(rec.complete).toBe(false);
    expect(rec.bytes).toBeLessThanOrEqual(MB);
  });

  it('with Expect: 100-continue the cut is a 413 too (Kong reads the body first and answers 417)', async () => {
    const before = uploads.length;
    const r = await slowChunkedUpload('/size/1mb', { total: 4 * MB, chunk: 64 * 1024, intervalMs: 5, headers: 'Expect: 100-continue\r\n' });
    expect(r.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 413 /);
    expect(r.finishedSending).toBe(false);
    await until(() => uploads.length > before && uploads[before]!.aborted);
  });

  it('passes a chunked body exactly at the limit byte for byte', async () => {
    const body = Buffer.alloc(MB);
    for (let i = 0; i < body.length; i++) body[i] = (i * 13 + 5) & 0xff;
    const r = await httpReq(gw.proxyPort, '/size/1mb', { method: 'POST', body, chunked: true });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ bytes: MB, sha256: createHash('sha256').update(body).digest('hex') });
  });

  it('cuts a chunked body one byte over the limit', async () => {
    const before = uploads.length;
    const r = await httpReq(gw.proxyPort, '/size/1mb', { method: 'POST', body: Buffer.alloc(MB + 1), chunked: true }).catch((e: Error) => e);
    // The answer can race the client's last write: either the 413 or a reset connection, never a 200.
    if (!(r instanceof Error)) {
      expect(r.status).toBe(413);
      expect(r.json().message).toBe('Request size limit exceeded');
    }
    await until(() => uploads.length > before && uploads[before]!.aborted);
    expect(uploads[before]!.complete).toBe(false);
  });
});

describe('request-size-limiting: require_content_length', () => {
  it('answers 411 to a request with neither Content-Length nor a chunked body', async () => {
    const r = await rawRequest(gw.proxyPort, 'POST /size/required HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n');
    expect(r.status).toBe(411);
    expect(JSON.parse(bodyOf(r.text)).message).toBe('A valid Content-Length header is required');
    const get = await httpReq(gw.proxyPort, '/size/required');
    expect(get.status).toBe(411);
  });

  it('lets Content-Length: 0 and a small chunked body through', async () => {
    const zero = await httpReq(gw.proxyPort, '/size/required', { method: 'POST', body: '' });
    expect(zero.status).toBe(200);
    expect(zero.json()).toMatchObject({ bytes: 0 });
    const chunked = await httpReq(gw.proxyPort, '/size/required', { method: 'POST', body: 'x'.repeat(10240), chunked: true });
    expect(chunked.status).toBe(200);
    expect(chunked.json()).toMatchObject({ bytes: 10240 });
  });
});

describe('key-auth + request-size-limiting on one route', () => {
  it('authenticates first (401 for a big unauthenticated body), then limits (413)', async () => {
    const before = upstream.seen.length;
    const noKey = await rawRequest(gw.proxyPort, `POST /size/auth HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 100000\r\n\r\n`);
    expect(noKey.status).toBe(401);
    const big = await rawRequest(gw.proxyPort, `POST /size/auth HTTP/1.1\r\nHost: gateway.test\r\napikey: alice-key\r\nContent-Length: 4097\r\n\r\n`);
    expect(big.status).toBe(413);
    expect(upstream.seen.length).toBe(before);
    const ok = await httpReq(gw.proxyPort, '/size/auth', { method: 'POST', headers: [['apikey', 'alice-key']], body: 'y'.repeat(4096) });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ bytes: 4096 });
  });

  it('cuts an authenticated chunked upload that grows past the limit', async () => {
    const before = uploads.length;
    const r = await slowChunkedUpload('/size/auth', { total: MB, chunk: 1024, intervalMs: 2, headers: 'apikey: alice-key\r\n' });
    expect(r.status).toBe(413);
    expect(r.finishedSending).toBe(false);
    expect(r.sentAtAnswer!).toBeLessThan(64 * 1024);
    await until(() => uploads.length > before && uploads[before]!.aborted);
    expect(uploads[before]!.bytes).toBeLessThanOrEqual(4096);
  });
});

describe('request-size-limiting with a later plugin that reads the body', () => {
  it('request-termination echo (PRIORITY 2) reads a body capped by request-size-limiting: 413, not 500', async () => {
    const small = await httpReq(gw.proxyPort, '/size/echo', { method: 'POST', body: 'z'.repeat(100), chunked: true });
    expect(small.status).toBe(200);
    expect(small.json().request.raw_body).toBe('z'.repeat(100));
    const big = await httpReq(gw.proxyPort, '/size/echo', { method: 'POST', body: 'z'.repeat(1000), chunked: true });
    expect(big.status).toBe(413);
    expect(big.json().message).toBe('Request size limit exceeded');
  });
});

describe('request-size-limiting in the pre-auth stage (ordering: before key-auth)', () => {
  it('answers 413 to a Content-Length over the limit before authentication', async () => {
    const before = upstream.seen.length;
    const r = await rawRequest(gw.proxyPort, `POST /size/preauth HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 5000\r\n\r\n`);
    expect(r.status).toBe(413);
    expect(upstream.seen.length).toBe(before);
  });

  it('cuts a chunked body proxied after a header key', async () => {
    const r = await httpReq(gw.proxyPort, '/size/preauth', { method: 'POST', headers: [['apikey', 'alice-key']], body: 'q'.repeat(2000), chunked: true }).catch((e: Error) => e);
    if (!(r instanceof Error)) expect(r.status).toBe(413);
    const ok = await httpReq(gw.proxyPort, '/size/preauth', { method: 'POST', headers: [['apikey', 'alice-key']], body: 'q'.repeat(1000), chunked: true });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ bytes: 1000 });
  });

  it('answers 413, not 500, when key-auth reads a capped chunked body for its key (key_in_body)', async () => {
    const form = `apikey=alice-key&data=${'d'.repeat(2000)}`;
    const r = await httpReq(gw.proxyPort, '/size/preauth', {
      method: 'POST',
      headers: [['Content-Type', 'application/x-www-form-urlencoded']],
      body: form,
      chunked: true,
    });
    expect(r.status).toBe(413);
    expect(r.json().message).toBe('Request size limit exceeded');
  });
});
