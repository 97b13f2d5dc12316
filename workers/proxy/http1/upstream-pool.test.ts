/**
 * The upstream pool against real loopback servers: raw TCP ones where the test needs to
 * control the bytes and the connection's life, node:http where it plays a normal upstream.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamPool, type UpstreamHandler, type UpstreamRequest } from './upstream-pool.js';

interface Result {
  status: number;
  headers: Record<string, string>;
  body: string;
  error: (Error & { code?: string }) | null;
}

const servers: Array<Server | HttpServer> = [];
const pools: UpstreamPool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  for (const s of servers.splice(0)) {
    (s as { closeAllConnections?: () => void }).closeAllConnections?.();
    s.close();
  }
});

async function listen<T extends Server | HttpServer>(s: T): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

function pool(port: number, opts: Partial<{ connections: number; connectTimeoutMs: number; keepAliveTimeoutMs: number }> = {}): UpstreamPool {
  const p = new UpstreamPool(`http://127.0.0.1:${port}`, {
    connections: opts.connections ?? 8,
    keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 60_000,
    connectTimeoutMs: opts.connectTimeoutMs ?? 2000,
  });
  pools.push(p);
  return p;
}

function request(p: UpstreamPool, over: Partial<UpstreamRequest> = {}): Promise<Result> {
  const req: UpstreamRequest = {
    path: '/',
    method: 'GET',
    headers: ['host', 'upstream'],
    body: null,
    headersTimeout: 5000,
    bodyTimeout: 5000,
    ...over,
  };
  return new Promise((resolve) => {
    const out: Result = { status: 0, headers: {}, body: '', error: null };
    const h: UpstreamHandler = {
      onConnect: () => undefined,
      onHeaders(status, raw) {
        out.status = status;
        for (let i = 0; i < raw.length; i += 2) out.headers[raw[i]!.toString().toLowerCase()] = raw[i + 1]!.toString();
        return true;
      },
      onData(c) {
        out.body += c.toString();
        return true;
      },
      onComplete: () => resolve(out),
      onError(err) {
        out.error = err;
        resolve(out);
      },
    };
    p.dispatch(req, h);
  });
}

/** An echo upstream reporting method, the framing it saw, body, and the connection's serial. */
async function echoServer(): Promise<{ port: number; connections: () => number; heads: string[] }> {
  let n = 0;
  const heads: string[] = [];
  const s = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      heads.push(req.rawHeaders.join('|'));
      res.setHeader('x-conn', String((req.socket as Socket & { serial?: number }).serial));
      res.end(JSON.stringify({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString(), cl: req.headers['content-length'] ?? null, te: req.headers['transfer-encoding'] ?? null }));
    });
  });
  s.keepAliveTimeout = 60_000;
  s.on('connection', (sock: Socket & { serial?: number }) => {
    sock.serial = ++n;
  });
  return { port: await listen(s), connections: () => n, heads };
}

describe('UpstreamPool', () => {
  it('reuses one keep-alive connection for sequential requests', async () => {
    const up = await echoServer();
    const p = pool(up.port);
    for (let i = 0; i < 5; i++) {
      const r = await request(p, { path: `/r${i}` });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).url).toBe(`/r${i}`);
    }
    expect(up.connections()).toBe(1);
  });

  it('frames bodies: buffered with Content-Length, streamed chunked or with the given length, none for GET', async () => {
    const up = await echoServer();
    const p = pool(up.port);
    const buffered = JSON.parse((await request(p, { method: 'POST', body: Buffer.from('abc') })).body);
    expect(buffered).toMatchObject({ body: 'abc', cl: '3', te: null });
    const chunked = JSON.parse((await request(p, { method: 'PUT', body: Readable.from([Buffer.from('de'), Buffer.from('fg')]) })).body);
    expect(chunked).toMatchObject({ body: 'defg', cl: null, te: 'chunked' });
    const sized = JSON.parse(
      (await request(p, { method: 'PUT', headers: ['host', 'u', 'content-length', '4'], body: Readable.from([Buffer.from('hi'), Buffer.from('jk')]) })).body,
    );
    expect(sized).toMatchObject({ body: 'hijk', cl: '4', te: null });
    // Framing headers in the list, in any case, are replaced by the pool's own framing.
    const mixed = JSON.parse(
      (await request(p, { method: 'POST', headers: ['host', 'u', 'Content-Length', '99', 'TRANSFER-ENCODING', 'chunked'], body: Buffer.from('xyz') })).body,
    );
    expect(mixed).toMatchObject({ body: 'xyz', cl: '3', te: null });
    expect(up.heads.at(-1)).not.toMatch(/99|chunked/i);
    const empty = JSON.parse((await request(p, { method: 'POST' })).body);
    expect(empty).toMatchObject({ body: '', cl: '0' });
    const get = JSON.parse((await request(p)).body);
    expect(get).toMatchObject({ cl: null, te: null });
    expect(up.heads.at(-1)).toContain('connection|keep-alive');
  });

  it('a streamed body shorter or longer than its Content-Length fails the request', async () => {
    const up = await echoServer();
    const p = pool(up.port);
    const short = await request(p, { method: 'PUT', headers: ['host', 'u', 'content-length', '10'], body: Readable.from([Buffer.from('abc')]) });
    expect(short.error?.code).toBe('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
    const long = await request(p, { method: 'PUT', headers: ['host', 'u', 'content-length', '2'], body: Readable.from([Buffer.from('abc')]) });
    expect(long.error?.code).toBe('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
  });

  it('refuses header names and values that could split the request', () => {
    const p = pool(1);
    const h = { onConnect() {}, onHeaders: () => true, onData: () => true, onComplete() {}, onError() {} };
    const base = { path: '/', method: 'GET', body: null, headersTimeout: 0, bodyTimeout: 0 };
    expect(() => p.dispatch({ ...base, headers: ['x-a', 'v\r\nInjected: 1'] }, h)).toThrow(/invalid header/);
    expect(() => p.dispatch({ ...base, headers: ['bad name', 'v'] }, h)).toThrow(/invalid header/);
    expect(() => p.dispatch({ ...base, path: '/a b', headers: [] }, h)).toThrow(/invalid request path/);
  });

  it('replays an idempotent request once when a reused connection dies before answering, never a POST', async () => {
    // Each connection answers its first request, then drops the connection when the next
    // one arrives (an upstream closing an idle keep-alive connection just as we reuse it).
    let conns = 0;
    const s = createServer((sock) => {
      conns++;
      let seen = 0;
      sock.on('data', () => {
        if (++seen === 1) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else sock.destroy();
      });
    });
    const port = await listen(s);
    const p = pool(port);
    expect((await request(p)).status).toBe(200);
    const again = await request(p);
    expect(again).toMatchObject({ status: 200, error: null });
    expect(conns).toBe(2);
    // The same race on a POST: it may have reached the application, so it fails instead.
    const post = await request(p, { method: 'POST', body: Buffer.from('x') });
    expect(post.error?.code).toBe('UND_ERR_SOCKET');
    expect(conns).toBe(2);
  });

  it('drops an idle connection at the upstream’s Keep-Alive timeout (less a margin) instead of racing it', async () => {
    let conns = 0;
    const s = createServer((sock) => {
      conns++;
      sock.on('data', () => sock.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n'));
    });
    const port = await listen(s);
    const p = pool(port);
    await request(p);
    expect(p.size).toBe(0); // timeout=1 s leaves no safe idle time at all
    await request(p);
    expect(conns).toBe(2);
  });

  it('gives undici’s error codes: refused, read timeouts, closed mid-body', async () => {
    const closed = createServer();
    const deadPort = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    expect((await request(pool(deadPort))).error?.code).toBe('ECONNREFUSED');

    // connect_timeout needs a listener that never completes handshakes (a stopped process
    // with a full backlog): test/integration/upstream-failures.test.ts covers it end to end.

    const silent = createServer(() => undefined);
    const silentPort = await listen(silent);
    expect((await request(pool(silentPort), { headersTimeout: 200 })).error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');

    const stalls = createServer((sock) => sock.on('data', () => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')));
    const stallsPort = await listen(stalls);
    expect((await request(pool(stallsPort), { bodyTimeout: 200 })).error?.code).toBe('UND_ERR_BODY_TIMEOUT');

    const cuts = createServer((sock) => sock.on('data', () => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')));
    const cutsPort = await listen(cuts);
    expect((await request(pool(cutsPort))).error?.code).toBe('UND_ERR_SOCKET');
  });

  it('a body that runs until close completes when the upstream closes, and the connection is not kept', async () => {
    const s = createServer((sock) => sock.on('data', () => sock.end('HTTP/1.1 200 OK\r\n\r\nuntil close')));
    const port = await listen(s);
    const p = pool(port);
    const r = await request(p);
    expect(r).toMatchObject({ status: 200, body: 'until close', error: null });
    expect(p.size).toBe(0);
  });

  it('queues requests beyond its connection limit and runs them all', async () => {
    const up = await echoServer();
    const p = pool(up.port, { connections: 2 });
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => request(p, { path: `/q${i}` })));
    expect(rs.map((r) => JSON.parse(r.body).url)).toEqual(Array.from({ length: 10 }, (_, i) => `/q${i}`));
    expect(up.connections()).toBeLessThanOrEqual(2);
  });

  it('an abort closes the connection and reports the abort error once', async () => {
    const s = createServer(() => undefined);
    const port = await listen(s);
    const p = pool(port);
    const errors: Error[] = [];
    await new Promise<void>((resolve) => {
      p.dispatch(
        { path: '/', method: 'GET', headers: [], body: null, headersTimeout: 0, bodyTimeout: 0 },
        {
          onConnect: (abort) => setTimeout(() => abort(new Error('client aborted')), 50),
          onHeaders: () => true,
          onData: () => true,
          onComplete: () => undefined,
          onError: (e) => {
            errors.push(e);
            setTimeout(resolve, 50);
          },
        },
      );
    });
    expect(errors.map((e) => e.message)).toEqual(['client aborted']);
    expect(p.size).toBe(0);
  });

  it('header and body slices a handler keeps stay intact until its exchange ends, across reads and requests', async () => {
    // Each response arrives in several reads (head, then body pieces 20 ms apart), on one
    // keep-alive connection, with different bytes each time: a handler that keeps every
    // slice it was given without copying (as the proxy does with a held-back head) must
    // find them unchanged at onComplete.
    let serial = 0;
    const s = createServer((sock) => {
      sock.on('data', () => {
        const tag = String.fromCharCode(97 + (serial++ % 26));
        const pieces = [Buffer.alloc(30_000, tag), Buffer.alloc(50_000, tag.toUpperCase()), Buffer.alloc(10, tag)];
        const length = pieces.reduce((n, b) => n + b.length, 0);
        sock.write(`HTTP/1.1 200 OK\r\nX-Tag: ${tag}\r\nContent-Length: ${length}\r\n\r\n`);
        let i = 0;
        const next = (): void => {
          if (i < pieces.length) sock.write(pieces[i++]!, () => setTimeout(next, 20));
        };
        setTimeout(next, 20);
      });
    });
    const port = await listen(s);
    const p = pool(port, { connections: 1 });
    const one = (): Promise<{ tag: string; kept: Buffer[]; headerAtEnd: string; bodyAtEnd: string; error: Error | null }> =>
      new Promise((resolve) => {
        const kept: Buffer[] = [];
        let header: Buffer | null = null;
        let tag = '';
        p.dispatch(
          { path: '/', method: 'GET', headers: ['host', 'upstream'], body: null, headersTimeout: 5000, bodyTimeout: 5000 },
          {
            onConnect: () => undefined,
            onHeaders(_status, raw) {
              header = raw[1]!;
              tag = header.toString();
              return true;
            },
            onData(c) {
              kept.push(c);
              return true;
            },
            onComplete: () => resolve({ tag, kept, headerAtEnd: header!.toString(), bodyAtEnd: Buffer.concat(kept).toString(), error: null }),
            onError: (error) => resolve({ tag, kept, headerAtEnd: '', bodyAtEnd: '', error }),
          },
        );
      });
    for (let i = 0; i < 3; i++) {
      const r = await one();
      expect(r.error).toBeNull();
      expect(r.headerAtEnd).toBe(r.tag);
      expect(r.kept.length).toBeGreaterThan(2);
      expect(r.bodyAtEnd).toBe(r.tag.repeat(30_000) + r.tag.toUpperCase().repeat(50_000) + r.tag.repeat(10));
    }
    expect(p.size).toBe(1);
  });
});
