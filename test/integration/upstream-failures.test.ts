/**
 * What clients see when the upstream misbehaves, and what the upstream sees when the
 * client does: Kong's status codes and error bodies before the response head, a broken
 * (never a clean short) response after it, timeouts from the service's connect/write/read
 * settings, retries across targets, and aborted exchanges propagating both ways.
 *
 * After every scenario the gateway must still proxy a normal request and report no worker
 * restart (a uWS use-after-abort would take the whole process down).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBlackhole, type Blackhole } from '../helpers/blackhole.js';
import { freePort, startGateway, type Gateway } from '../helpers/gateway.js';
import { adminStatus, expectGatewayHealthy, simpleRequest, type SimpleResponse } from '../helpers/health.js';
import { MB, patternStream } from '../helpers/payload.js';
import { rawUpload } from '../helpers/raw-upload.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const KONG_502 = 'An invalid response was received from the upstream server';
const KONG_504 = 'The upstream server is timing out';

/** What the upstream saw of one tagged request (?tag=...). */
interface Seen {
  at: number;
  /** The request body ended normally. */
  reqEnded: boolean;
  bodyBytes: number;
  /** When the request stream or socket closed without a complete body (client gone). */
  reqAbortedAt: number | null;
  /** When the response stream closed before it finished (the gateway hung up on us). */
  resClosedEarlyAt: number | null;
  resFinished: boolean;
  /** Response body bytes the upstream managed to hand to its socket. */
  produced: () => number;
  /** Starts reading a request the handler left paused. */
  resumeRequest: () => void;
}

const seen = new Map<string, Seen>();

function track(req: IncomingMessage, res: ServerResponse): Seen {
  const tag = new URL(req.url ?? '/', 'http://u').searchParams.get('tag') ?? `untagged-${seen.size}`;
  const s: Seen = { at: Date.now(), reqEnded: false, bodyBytes: 0, reqAbortedAt: null, resClosedEarlyAt: null, resFinished: false, produced: () => 0, resumeRequest: () => req.resume() };
  seen.set(tag, s);
  req.on('end', () => (s.reqEnded = true));
  req.on('close', () => {
    if (!req.complete) s.reqAbortedAt ??= Date.now();
  });
  res.on('finish', () => (s.resFinished = true));
  res.on('close', () => {
    if (!res.writableFinished) s.resClosedEarlyAt ??= Date.now();
  });
  return s;
}

function handler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://u');
  const s = track(req, res);
  switch (url.pathname) {
    case '/ok':
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
        res.end('ok');
      });
      return;
    case '/bad-header-name':
      // A response whose header name carries a bare LF: forwarded, it would split into a
      // header of the upstream's choosing on the client's connection.
      req.resume();
      req.on('end', () => req.socket.end('HTTP/1.1 200 OK\r\nX-A\nX-Injected: yes\r\nContent-Length: 2\r\n\r\nok'));
      return;
    case '/reset-head':
      // Read the request, then reset the connection without a byte of response.
      req.resume();
      req.on('end', () => req.socket.resetAndDestroy());
      return;
    case '/reset-body': {
      // Half a response, then a reset.
      const chunked = url.searchParams.get('chunked') === '1';
      req.resume();
      res.writeHead(200, chunked ? { 'content-type': 'application/octet-stream' } : { 'content-type': 'application/octet-stream', 'content-length': 4 * MB });
      res.write(Buffer.alloc(256 * 1024, 7), () => setTimeout(() => req.socket.resetAndDestroy(), 50));
      return;
    }
    case '/slow': {
      // Answers after 3 s: beyond the service's read_timeout.
      req.resume();
      const t = setTimeout(() => {
        if (!res.destroyed) {
          res.writeHead(200, { 'content-length': 4 });
          res.end('late');
        }
      }, 3000);
      res.on('close', () => clearTimeout(t));
      return;
    }
    case '/stall-body':
      // A head and part of the body, then silence: read_timeout between body reads.
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': MB });
      res.write(Buffer.alloc(64 * 1024, 1));
      return;
    case '/nowrite':
      // Takes the request head, then never reads the body nor answers.
      req.pause();
      return;
    case '/sink':
      // Consumes the whole body, then answers with its size.
      req.on('data', (c: Buffer) => (s.bodyBytes += c.length));
      req.on('end', () => {
        const body = JSON.stringify({ bytes: s.bodyBytes });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    case '/source': {
      // 1 GB generated on demand (production follows the socket's pace).
      req.resume();
      const body = patternStream(1024 * MB);
      s.produced = () => body.produced;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1024 * MB });
      res.on('close', () => body.destroy());
      body.pipe(res);
      return;
    }
    default:
      res.writeHead(404, { 'content-length': 0 });
      res.end();
  }
}

let upstream: Upstream;
let blackhole: Blackhole;
let deadPort: number;
let gw: Gateway;

beforeAll(async () => {
  upstream = await startUpstream(handler);
  blackhole = await startBlackhole();
  deadPort = await freePort(); // bound and released: nothing listens there
  const up = upstream.url;
  gw = await startGateway(
    `_format_version: "3.0"
upstreams:
  - name: pair.internal
    targets:
      - target: 127.0.0.1:${deadPort}
      - target: 127.0.0.1:${upstream.port}
services:
  - name: ok
    url: ${up}/ok
    routes: [{ name: ok, paths: [/ok] }]
  - name: refused
    url: http://127.0.0.1:${deadPort}/ok
    retries: 2
    routes: [{ name: refused, paths: [/refused] }]
  - name: up
    url: ${up}/
    routes: [{ name: up, paths: [/up] }]
  - name: slow
    url: ${up}/
    read_timeout: 300
    routes: [{ name: slow, paths: [/timeout] }]
  - name: blackhole
    url: http://127.0.0.1:${blackhole.port}/ok
    connect_timeout: 300
    retries: 0
    routes: [{ name: blackhole, paths: [/blackhole] }]
  - name: blackhole-retried
    url: http://127.0.0.1:${blackhole.port}/ok
    connect_timeout: 300
    retries: 2
    routes: [{ name: blackhole-retried, paths: [/blackhole-retried] }]
  - name: nowrite
    url: ${up}/nowrite
    write_timeout: 500
    read_timeout: 60000
    routes: [{ name: nowrite, paths: [/nowrite] }]
  - name: pair
    url: http://pair.internal/ok
    retries: 2
    routes: [{ name: pair, paths: [/pair] }]
  - name: pair-no-retries
    url: http://pair.internal/ok
    retries: 0
    routes: [{ name: pair-no-retries, paths: [/pair-no-retries] }]
`,
    { workers: 2 },
  );
});

afterEach(async () => {
  // Every scenario leaves a gateway that still serves and never lost a worker.
  await expectGatewayHealthy(gw, '/ok');
});

afterAll(async () => {
  await gw?.stop();
  await blackhole?.close();
  await upstream?.close();
});

/** Kong's error document: JSON with the message and the request id echoed in X-Kong-Request-Id. */
function expectKongError(res: SimpleResponse, status: number, message: string): void {
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  const doc = JSON.parse(res.body) as { message: string; request_id: string };
  expect(doc).toEqual({ message, request_id: res.headers['x-kong-request-id'] });
  expect(doc.request_id).toMatch(/^[0-9a-f]{32}$/);
}

interface GetOutcome {
  status: number | null;
  headers: IncomingMessage['headers'];
  bytes: number;
  /** The response ended cleanly (all of it, by the framing). */
  complete: boolean;
  /** The connection broke: aborted response or socket error. */
  broken: boolean;
  /** Neither a clean end nor a break before the deadline. */
  hung: boolean;
}

/** A GET that reports how the response ended: cleanly, broken, or not at all within the deadline. */
function getOutcome(path: string, opts: { deadlineMs?: number; abortAfter?: number } = {}): Promise<GetOutcome> {
  return new Promise((resolve) => {
    let status: number | null = null;
    let headers: IncomingMessage['headers'] = {};
    let bytes = 0;
    let settled = false;
    const done = (o: Partial<GetOutcome>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, headers, bytes, complete: false, broken: false, hung: false, ...o });
      req.destroy();
    };
    const req = request({ host: '127.0.0.1', port: gw.proxyPort, path, agent: false }, (res) => {
      status = res.statusCode ?? null;
      headers = res.headers;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (opts.abortAfter !== undefined && bytes >= opts.abortAfter) done({});
      });
      res.on('end', () => done({ complete: res.complete }));
      res.on('aborted', () => done({ broken: true }));
      res.on('error', () => done({ broken: true }));
      res.on('close', () => done({ complete: res.complete, broken: !res.complete }));
    });
    req.on('error', () => done({ broken: true }));
    const timer = setTimeout(() => done({ hung: true }), opts.deadlineMs ?? 5000);
    req.end();
  });
}

async function waitFor(what: string, cond: () => boolean, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('upstream failures before the response head', () => {
  it('connection refused: 502 with Kong\'s message', { timeout: 20_000 }, async () => {
    const res = await simpleRequest(gw.proxyPort, '/refused');
    expectKongError(res, 502, KONG_502);
  });

  it('the upstream resets the connection before answering: 502', { timeout: 20_000 }, async () => {
    const res = await simpleRequest(gw.proxyPort, '/up/reset-head?tag=reset-head');
    expect(seen.get('reset-head')).toBeDefined(); // the request did reach the upstream
    expectKongError(res, 502, KONG_502);
  });

  it('a response header name that is not a token (here with a bare LF): 502, nothing of it reaches the client', { timeout: 20_000 }, async () => {
    const res = await simpleRequest(gw.proxyPort, '/up/bad-header-name?tag=bad-name');
    expect(seen.get('bad-name')).toBeDefined();
    expectKongError(res, 502, KONG_502);
    expect(res.headers['x-injected']).toBeUndefined();
  });

  it('read_timeout: an upstream slower than the service\'s read_timeout gives 504, and its request is dropped', { timeout: 20_000 }, async () => {
    const res = await simpleRequest(gw.proxyPort, '/timeout/slow?tag=slow', { timeoutMs: 5000 });
    expectKongError(res, 504, KONG_504);
    // The gateway gave up on the upstream request rather than leaving it open.
    await waitFor('upstream sees its slow request closed', () => seen.get('slow')?.resClosedEarlyAt != null, 5000);
  });

  it('connect_timeout: an upstream that never completes the TCP handshake gives 504', { timeout: 20_000 }, async () => {
    const res = await simpleRequest(gw.proxyPort, '/blackhole', { timeoutMs: 5000 });
    expectKongError(res, 504, KONG_504);
  });

  it('connect_timeout with retries: every attempt times out, still 504 (not a hang)', { timeout: 20_000 }, async () => {
    const res = await simpleRequest(gw.proxyPort, '/blackhole-retried', { timeoutMs: 8000 });
    expectKongError(res, 504, KONG_504);
  });

  it('write_timeout: an upstream that stops reading a large request body gives 504', { timeout: 30_000 }, async () => {
    // 64 MB cannot fit in the socket buffers between the gateway and an upstream that reads
    // nothing: the gateway's writes stall, and write_timeout (500 ms) must end the request;
    // the service's read_timeout is 60 s, so only write_timeout can answer within 10 s.
    const r = await rawUpload(gw.proxyPort, { path: '/nowrite?tag=nowrite', total: 64 * MB, deadlineMs: 10_000, resolveOnResponse: true });
    expect(r.timedOut, `no answer within 10 s (sent ${(r.sent / MB).toFixed(1)} MB)`).toBe(false);
    expect(r.status).toBe(504);
    const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(body).message).toBe(KONG_504);
    // The gateway dropped its upstream connection: once the upstream reads again it finds
    // the body cut short and the connection closed (it would wait forever on a live one).
    seen.get('nowrite')!.resumeRequest();
    await waitFor('upstream sees its request closed', () => seen.get('nowrite')?.reqAbortedAt != null, 5000);
    expect(seen.get('nowrite')!.reqEnded).toBe(false);
  });
});

describe('upstream failures after the response head', () => {
  for (const chunked of [false, true]) {
    it(`the upstream resets mid-body (${chunked ? 'chunked' : 'Content-Length'}): the client sees a broken response, never a clean one or a hang`, { timeout: 20_000 }, async () => {
      const o = await getOutcome(`/up/reset-body?chunked=${chunked ? 1 : 0}`);
      expect(o.hung).toBe(false);
      expect(o.status).toBe(200);
      expect(o.complete).toBe(false);
      expect(o.broken).toBe(true);
      expect(o.bytes).toBeLessThan(4 * MB);
    });
  }

  it('read_timeout between body chunks: the client connection is closed, not ended cleanly', { timeout: 20_000 }, async () => {
    const o = await getOutcome('/timeout/stall-body', { deadlineMs: 5000 });
    expect(o.hung).toBe(false);
    expect(o.status).toBe(200);
    expect(o.complete).toBe(false);
    expect(o.broken).toBe(true);
    expect(o.bytes).toBeLessThan(MB);
  });
});

describe('retries', () => {
  it('a service with retries over two targets, one refusing connections, answers 200 to every bodiless request', { timeout: 30_000 }, async () => {
    for (let i = 0; i < 20; i++) {
      const method = i % 2 === 0 ? 'GET' : 'HEAD';
      const res = await simpleRequest(gw.proxyPort, `/pair?i=${i}`, { method });
      expect(res.status, `request ${i} (${method}): ${res.body}`).toBe(200);
    }
  });

  it('the same upstream without retries does send requests to the dead target (502), so the retries above were real', { timeout: 30_000 }, async () => {
    // Round-robin per worker: of 10 requests one worker gets at least 5, and every second
    // request it sends goes to the refusing target.
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await simpleRequest(gw.proxyPort, `/pair-no-retries?i=${i}`)).status);
    expect(statuses.filter((s) => s === 502).length).toBeGreaterThanOrEqual(2);
    expect(statuses.every((s) => s === 200 || s === 502)).toBe(true);
  });
});

describe('client aborts', () => {
  for (const chunked of [false, true]) {
    it(`a client that vanishes mid-upload (${chunked ? 'chunked' : 'Content-Length'}) aborts the upstream request`, { timeout: 30_000 }, async () => {
      const tag = `abort-upload-${chunked ? 'chunked' : 'cl'}`;
      const r = await rawUpload(gw.proxyPort, {
        path: `/up/sink?tag=${tag}`,
        total: 100 * MB,
        chunked,
        abortAfter: 4 * MB,
        // Abort only once the upstream is receiving the body, so the abort has something to reach.
        beforeAbort: () => waitFor(`upstream starts receiving the ${tag} body`, () => (seen.get(tag)?.bodyBytes ?? 0) > 0, 5000),
        deadlineMs: 10_000,
      });
      expect(r.status).toBeNull(); // we left before any answer
      const abortedAt = Date.now();
      await waitFor(`upstream sees the ${tag} request aborted (sent ${r.sent}, upstream saw ${JSON.stringify(seen.get(tag) ?? null)})`, () => seen.get(tag)?.reqAbortedAt != null, 5000);
      const s = seen.get(tag)!;
      expect(s.reqEnded).toBe(false);
      expect(s.bodyBytes).toBeLessThanOrEqual(r.sent);
      expect(s.bodyBytes).toBeGreaterThan(0);
      expect(s.reqAbortedAt! - abortedAt).toBeLessThan(5000);
    });
  }

  it('a client that vanishes mid-download closes the upstream response before it finishes', { timeout: 30_000 }, async () => {
    const o = await getOutcome('/up/source?tag=abort-download', { abortAfter: 2 * MB });
    expect(o.status).toBe(200);
    expect(o.bytes).toBeGreaterThanOrEqual(2 * MB);
    await waitFor('upstream sees its response closed', () => seen.get('abort-download')?.resClosedEarlyAt != null, 5000);
    const s = seen.get('abort-download')!;
    expect(s.resFinished).toBe(false);
    // It stopped producing: nowhere near the 1 GB it was asked for.
    expect(s.produced()).toBeLessThan(256 * MB);
  });
});

describe('after all of the above', () => {
  it('the gateway process is the one we started and no worker was ever replaced', { timeout: 20_000 }, async () => {
    const status = await adminStatus(gw);
    expect(status.pid).toBe(gw.proc.pid);
    expect(status.worker_restarts).toBe(0);
    expect(status.workers.length).toBe(2);
    for (const w of status.workers) expect(w).toMatchObject({ state: 'ready', restarts: 0 });
  });
});
