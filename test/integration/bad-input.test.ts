/**
 * Malformed and hostile request heads against a real gateway (2 uWS workers, a real upstream):
 * what the client gets, whether the connection is closed, that nothing reaches the upstream,
 * and that the gateway keeps serving (a new connection gets 200, no worker was replaced).
 * A client's mistake is never a 5xx.
 *
 * Three kinds of outcome, depending on who sees the problem first:
 * - request-guard.ts (limits, duplicate/malformed framing headers, Host, bytes in the
 *   target): a Kong-style error document with 400/414/431/501 and the connection closed;
 * - uWS v20.30's parser closes the connection at once without a response (malformed
 *   Content-Length, CL+TE, methods it does not know);
 * - uWS v20.30's parser neither answers nor closes: the request is treated as incomplete until
 *   uWS's idle timeout (~10-14 s) closes it (missing Host, control bytes in a header, space or
 *   NUL in the target, HTTP/1.0, absolute-form, more than 48 header lines).
 * The last two never reach our code (stack-facts.md); the tests pin down that they never
 * reach the upstream either.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/shared/settings.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { assertGatewayHealthy, exchange, getHead, header, type Exchange } from '../helpers/http-probe.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** Below uWS's own limit (48 header lines) so that the gateway's 431 can be reached at all. */
const MAX_HEADER_COUNT = 30;
/** uWS v20.30 accepts at most this many header lines; more and it never calls the handler. */
const UWS_MAX_HEADER_LINES = 48;

let up: Upstream;
let gw: Gateway;

beforeAll(async () => {
  up = await startUpstream();
  // node's default (16 KiB) is below what the gateway accepts and forwards: the limits tests
  // would measure the upstream's 431, not ours. Read by node at each new connection.
  (up.server as unknown as { maxHeaderSize: number }).maxHeaderSize = 256 * 1024;
  gw = await startGateway(
    `_format_version: "3.0"
services:
  - name: echo
    url: ${up.url}
    routes:
      - name: everything
        paths: [/]
        strip_path: false
`,
    { workers: 2, extraArgs: ['--max-header-count', String(MAX_HEADER_COUNT)] },
  );
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

const latin1 = (s: string) => Buffer.from(s, 'latin1');

/** Sends `payload`, expects nothing of it to reach the upstream; returns what the client saw. */
async function withoutUpstream(payload: string | Buffer, opts: { timeoutMs?: number } = {}): Promise<Exchange> {
  const before = up.seen.length;
  const ex = await exchange(gw.proxyPort, payload, { timeoutMs: opts.timeoutMs ?? 3000 });
  // Give a request that slipped through time to arrive before checking.
  await new Promise((r) => setTimeout(r, 50));
  expect(up.seen.slice(before).map((s) => `${s.method} ${s.url}`)).toEqual([]);
  return ex;
}

/** The guard's answer: `status`, Kong's error document, connection closed, upstream untouched. */
async function expectRejected(payload: string | Buffer, status: number, message: string): Promise<void> {
  const ex = await withoutUpstream(payload);
  expect(ex.status, ex.raw.slice(0, 300)).toBe(status);
  expect(ex.closed, 'connection closed after the error').toBe(true);
  const doc = JSON.parse(ex.body) as { message: string; request_id: string };
  expect(doc.message).toBe(message);
  expect(doc.request_id).toBe(header(ex, 'x-kong-request-id'));
  await assertGatewayHealthy(gw, '/health');
}

/** uWS drops the connection without calling the gateway: no response, closed, upstream untouched. */
async function expectDroppedByParser(payload: string | Buffer): Promise<void> {
  const ex = await withoutUpstream(payload);
  // A 400 would be better still; anything else (2xx, 5xx, a hang) is a failure.
  if (ex.responded) expect(ex.status).toBe(400);
  expect(ex.closed, 'connection closed').toBe(true);
  await assertGatewayHealthy(gw, '/health');
}

describe('limits', () => {
  it(`answers 431 above ${MAX_HEADER_COUNT} header lines (--max-header-count), and proxies exactly ${MAX_HEADER_COUNT}`, async () => {
    const ok = await exchange(gw.proxyPort, getHead('/count-ok', Array.from({ length: MAX_HEADER_COUNT - 1 }, (_, i) => `X-H${i}: v`)));
    expect(ok.status).toBe(200);
    await expectRejected(getHead('/count', Array.from({ length: MAX_HEADER_COUNT }, (_, i) => `X-H${i}: v`)), 431, 'Request header fields too large');
  });

  it(`answers 431 above ${DEFAULT_LIMITS.maxHeaderBytes} bytes of header names and values, and proxies exactly that many`, async () => {
    // Host: localhost counts 4 + 9; "X-Big" 5 + the value.
    const fill = DEFAULT_LIMITS.maxHeaderBytes - 13 - 5;
    const ok = await exchange(gw.proxyPort, getHead('/bytes-ok', [`X-Big: ${'a'.repeat(fill)}`]));
    expect(ok.status).toBe(200);
    await expectRejectedUnlessSplit(getHead('/bytes', [`X-Big: ${'a'.repeat(fill + 1)}`]));
    await expectRejectedUnlessSplit(getHead('/bytes-many', Array.from({ length: 20 }, (_, i) => `X-Part-${i}: ${'b'.repeat(2000)}`)));
  });

  /**
   * A head over 4 KB reaches the gateway (and gets its 431) only when it arrives in one read;
   * split across reads, uWS drops it itself (docs/request-limits.md). Either way: nothing
   * forwarded, the connection closed, the gateway healthy.
   */
  async function expectRejectedUnlessSplit(payload: string): Promise<void> {
    const ex = await withoutUpstream(payload);
    expect(ex.closed, 'connection closed').toBe(true);
    if (ex.responded) {
      expect(ex.status).toBe(431);
      expect((JSON.parse(ex.body) as { message: string }).message).toBe('Request header fields too large');
    }
    await assertGatewayHealthy(gw, '/health');
  }

  /** Sends a head in two writes 50 ms apart (two reads on the gateway's side); resolves with what came back. */
  function sendSplit(head: string): Promise<{ response: string; closed: boolean }> {
    return new Promise((resolve) => {
      const sock = connect(gw.proxyPort, '127.0.0.1');
      sock.setNoDelay(true);
      let response = '';
      let closed = false;
      sock.on('data', (d: Buffer) => {
        response += d.toString('latin1');
      });
      sock.on('error', () => undefined);
      sock.on('close', () => {
        closed = true;
      });
      sock.write(head.slice(0, 100));
      setTimeout(() => sock.write(head.slice(100)), 50);
      setTimeout(() => {
        sock.destroy();
        resolve({ response, closed });
      }, 1000);
    });
  }

  it('a head over 4 KB split across reads is dropped by uWS: never forwarded, and the gateway stays healthy', async () => {
    const before = up.seen.length;
    const big = await sendSplit(getHead('/split-big', [`X-Big: ${'a'.repeat(5000)}`]));
    expect(big.response).toBe('');
    expect(big.closed).toBe(true);
    // At 4 KB or under, the same split head is served.
    const small = await sendSplit(getHead('/split-small', [`X-Big: ${'a'.repeat(3000)}`]));
    expect(small.response.startsWith('HTTP/1.1 200')).toBe(true);
    expect(up.seen.slice(before).map((s) => s.url)).toEqual(['/split-small']);
    await assertGatewayHealthy(gw, '/health');
  });

  it(`answers 414 above ${DEFAULT_LIMITS.maxUriLength} bytes of path + "?" + query, and proxies exactly that many`, async () => {
    const max = DEFAULT_LIMITS.maxUriLength;
    const path = '/' + 'p'.repeat(max - 1);
    const ok = await exchange(gw.proxyPort, getHead(path));
    expect(ok.status).toBe(200);
    expect(up.seen.at(-1)?.url).toBe(path);
    const withQuery = `/q?${'a'.repeat(max - 3)}`;
    expect((await exchange(gw.proxyPort, getHead(withQuery))).status).toBe(200);
    await expectRejected(getHead(path + 'p'), 414, 'URI too long');
    await expectRejected(getHead(withQuery + 'a'), 414, 'URI too long');
  });
});

describe('message framing (RFC 9112 section 6)', () => {
  it.each([
    ['gzip', 'gzip'],
    ['chunked, gzip', 'chunked, gzip'],
    ['gzip, chunked', 'gzip, chunked'],
    ['empty', ''],
  ])('answers 501 to Transfer-Encoding: %s and closes', async (_name, te) => {
    await expectRejected(`POST /te HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: ${te}\r\n\r\n0\r\n\r\n`, 501, 'Transfer-Encoding not supported');
  });

  it('answers 400 to Transfer-Encoding: chunked given twice', async () => {
    await expectRejected('POST /te HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'Bad request');
  });

  it.each([
    ['the same value', '5', '5'],
    ['different values', '5', '10'],
  ])('answers 400 to a repeated Content-Length with %s and closes', async (_name, a, b) => {
    await expectRejected(`POST /cl HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${a}\r\nContent-Length: ${b}\r\n\r\nhello`, 400, 'Bad request');
  });

  it('answers 400 to an empty Content-Length', async () => {
    await expectRejected('POST /cl HTTP/1.1\r\nHost: localhost\r\nContent-Length: \r\n\r\n', 400, 'Bad request');
  });

  // uWS refuses these itself, before the gateway sees the request.
  it.each([
    ['Content-Length + Transfer-Encoding', 'Content-Length: 5\r\nTransfer-Encoding: chunked'],
    ['Content-Length: -1', 'Content-Length: -1'],
    ['Content-Length: 1e3', 'Content-Length: 1e3'],
    ['Content-Length: 12 34', 'Content-Length: 12 34'],
    ['Content-Length: 0x10', 'Content-Length: 0x10'],
    ['Content-Length: +5', 'Content-Length: +5'],
    ['Content-Length: 5, 5', 'Content-Length: 5, 5'],
    ['Content-Length: 99999999999999999999', 'Content-Length: 99999999999999999999'],
    ['Transfer-Encoding: identity with Content-Length', 'Transfer-Encoding: identity\r\nContent-Length: 5'],
  ])('closes the connection without forwarding anything on %s', async (_name, lines) => {
    await expectDroppedByParser(`POST /framing HTTP/1.1\r\nHost: localhost\r\n${lines}\r\n\r\nhello`);
  });

  // After a framing error the rest of the stream cannot be trusted (RFC 9112 6.3, 11.2): a
  // request hidden behind the rejected one must never be processed, or a front proxy that
  // frames the stream differently can smuggle a request past its own checks.
  it.each([
    ['Content-Length: 0 and 44', 400, 'POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n'],
    ['Content-Length: 5 twice', 400, 'POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'],
    ['Transfer-Encoding: gzip', 501, 'POST /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n'],
    ['two Host headers', 400, 'GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ])('never processes a request pipelined behind a rejected one (%s)', async (_name, status, first) => {
    const ex = await withoutUpstream(`${first}GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    // The rejection, or (since a pipelined request follows) nothing at all; never a second response.
    if (ex.responded) expect(ex.status).toBe(status);
    expect(ex.raw.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(ex.closed).toBe(true);
    await assertGatewayHealthy(gw, '/health');
  });
});

describe('Host', () => {
  it.each([
    ['repeated', 'Host: a\r\nHost: b'],
    ['repeated with the same value', 'Host: a\r\nhost: a'],
    ['empty', 'Host: '],
    ['with a space', 'Host: a b'],
    ['with a tab', 'Host: a\tb'],
    ['with userinfo', 'Host: user@a'],
    ['with a path', 'Host: a/b'],
    ['with port 99999', 'Host: a:99999'],
    ['with port 0', 'Host: a:0'],
    ['with a non-numeric port', 'Host: a:abc'],
    ['with an empty port', 'Host: a:'],
    ['with two ports', 'Host: a:1:2'],
    ['with a bad IPv6 literal', 'Host: [zz]'],
  ])('answers 400 to a Host header %s', async (_name, line) => {
    await expectRejected(`GET /host HTTP/1.1\r\n${line}\r\n\r\n`, 400, 'Bad request');
  });

  it('accepts an IPv6 literal with a port', async () => {
    const ex = await exchange(gw.proxyPort, 'GET /v6 HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n');
    expect(ex.status).toBe(200);
  });
});

describe('request line', () => {
  it.each([
    ['DEL', latin1('GET /x\x7f HTTP/1.1\r\nHost: a\r\n\r\n')],
    ['a byte above 0x7F', latin1('GET /x\xff HTTP/1.1\r\nHost: a\r\n\r\n')],
    ['a byte above 0x7F in the query', latin1('GET /x?a=\xe9 HTTP/1.1\r\nHost: a\r\n\r\n')],
    ['a fragment', 'GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n'],
  ])('answers 400 to a target with %s', async (_name, payload) => {
    await expectRejected(payload, 400, 'Bad request');
  });

  it.each([
    ['lower-case', 'get'],
    ['with a parenthesis', 'G(T'],
    ['with a dash', 'G-T'],
    ['with a brace', 'GET{'],
    ['unknown to uWS', 'FOO'],
    ['40 characters long', 'A'.repeat(40)],
  ])('never forwards a method %s', async (_name, method) => {
    await expectDroppedByParser(`${method} /method HTTP/1.1\r\nHost: a\r\n\r\n`);
  });

  it('forwards the standard methods', async () => {
    for (const method of ['PATCH', 'OPTIONS', 'TRACE', 'DELETE', 'PUT']) {
      const ex = await exchange(gw.proxyPort, `${method} /m HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n`);
      expect(ex.status, method).toBe(200);
      expect(up.seen.at(-1)?.method).toBe(method);
    }
  });
});

describe('requests uWS never hands over (no response until its idle timeout)', () => {
  it('never forwards them, closes each connection eventually, and keeps serving meanwhile', async () => {
    const cases: Array<[string, string | Buffer]> = [
      ['missing Host', 'GET /stall HTTP/1.1\r\n\r\n'],
      ['NUL in a header value', latin1('GET /stall HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n')],
      ['CR in a header value', latin1('GET /stall HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n')],
      ['0x01 in a header value', latin1('GET /stall HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n')],
      ['a separator in a header name', 'GET /stall HTTP/1.1\r\nHost: a\r\nX(A: a\r\n\r\n'],
      ['a control byte in the method', 'GE\x01T /stall HTTP/1.1\r\nHost: a\r\n\r\n'],
      ['a space in the target', 'GET /stall x HTTP/1.1\r\nHost: a\r\n\r\n'],
      ['a tab in the target', 'GET /stall\tx HTTP/1.1\r\nHost: a\r\n\r\n'],
      ['NUL in the target', latin1('GET /stall\x00 HTTP/1.1\r\nHost: a\r\n\r\n')],
      ['HTTP/1.0', 'GET /stall HTTP/1.0\r\nHost: a\r\n\r\n'],
      ['absolute-form', 'GET http://a/stall HTTP/1.1\r\nHost: a\r\n\r\n'],
      [`${UWS_MAX_HEADER_LINES + 1} header lines`, getHead('/stall', Array.from({ length: UWS_MAX_HEADER_LINES }, (_, i) => `X-H${i}: v`))],
    ];
    const before = up.seen.length;
    const pending = cases.map(async ([name, payload]) => [name, await exchange(gw.proxyPort, payload, { timeoutMs: 20_000 })] as const);
    // While those connections hang, the gateway serves others.
    await assertGatewayHealthy(gw, '/health');
    const results = await Promise.all(pending);
    for (const [name, ex] of results) {
      if (ex.responded) expect(ex.status, name).toBe(400);
      expect(ex.closed, `${name}: closed within 20 s`).toBe(true);
    }
    expect(up.seen.slice(before).filter((s) => s.url.startsWith('/stall'))).toEqual([]);
    await assertGatewayHealthy(gw, '/health');
  });
});

describe('header values and hop-by-hop headers from the client are never a 5xx', () => {
  it('forwards obs-text (bytes 0x80-0xFF) byte for byte', async () => {
    const value = latin1('x\xc3\xa9x \xe2\x82\xac y');
    const ex = await exchange(gw.proxyPort, Buffer.concat([latin1('GET /obs HTTP/1.1\r\nHost: a\r\nX-Obs: '), value, latin1('\r\n\r\n')]));
    expect(ex.status).toBe(200);
    // node's parser hands header values over as latin1: compare bytes.
    expect(Buffer.from(String(up.seen.at(-1)?.headers['x-obs']), 'latin1').toString('hex')).toBe(value.toString('hex'));
  });

  it('forwards bytes that are not UTF-8 without a 5xx (as U+FFFD: uWS decodes values as UTF-8)', async () => {
    for (const raw of ['caf\xe9s', 'a\x80b', '\xff\xfe-x']) {
      const ex = await exchange(gw.proxyPort, latin1(`GET /obs-bad HTTP/1.1\r\nHost: a\r\nX-Obs: ${raw}\r\n\r\n`));
      expect(ex.status, JSON.stringify(raw)).toBe(200);
      const got = Buffer.from(String(up.seen.at(-1)?.headers['x-obs']), 'latin1').toString('utf8');
      expect(got.replace(/\ufffd/g, '?'), JSON.stringify(raw)).toMatch(/^(caf\?s|a\?b|\?{0,2}-x)$/);
    }
    await assertGatewayHealthy(gw, '/health');
  });

  it('answers 400 to DEL in a header value', async () => {
    await expectRejected(latin1('GET /del HTTP/1.1\r\nHost: a\r\nX-A: a\x7fb\r\n\r\n'), 400, 'Bad request');
  });

  it.each([
    ['Transfer-Encoding: chunked on a GET with a body', 'GET /hop HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['Transfer-Encoding: Chunked (case)', 'POST /hop HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['Keep-Alive', getHead('/hop', ['Keep-Alive: timeout=5, max=100'])],
    ['Upgrade: websocket', getHead('/hop', ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='])],
    ['Upgrade: h2c without Connection', getHead('/hop', ['Upgrade: h2c'])],
    ['Expect: 100-continue', 'POST /hop HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc'],
    ['Expect: something-else', 'POST /hop HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\nContent-Length: 3\r\n\r\nabc'],
    ['Connection: close, X-Foo', getHead('/hop', ['Connection: close, X-Foo', 'X-Foo: bar'])],
    ['Connection: keep-alive, Host', getHead('/hop', ['Connection: keep-alive, Host'])],
    ['Connection with empty tokens', getHead('/hop', ['Connection: , ,'])],
    ['Connection naming Content-Length', 'POST /hop HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: 3\r\n\r\nabc'],
    ['TE: trailers', getHead('/hop', ['TE: trailers'])],
    ['Trailer', getHead('/hop', ['Trailer: X-Checksum'])],
    ['Proxy-Connection', getHead('/hop', ['Proxy-Connection: keep-alive'])],
    ['Content-Length: 0 on a GET', 'GET /hop HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n'],
    ['a repeated X-Forwarded-For', getHead('/hop', ['X-Forwarded-For: 1.1.1.1', 'X-Forwarded-For: 2.2.2.2'])],
    ['an X-Forwarded-For that is not an address', getHead('/hop', ['X-Forwarded-For: not-an-ip, <script>'])],
  ])('%s: 200, and none of the hop-by-hop headers reach the upstream', async (_name, payload) => {
    const before = up.seen.length;
    const ex = await exchange(gw.proxyPort, payload);
    expect(ex.status, ex.raw.slice(0, 300)).toBe(200);
    expect(up.seen.length).toBe(before + 1);
    const h = up.seen.at(-1)!.headers;
    for (const name of ['keep-alive', 'upgrade', 'expect', 'te', 'trailer', 'proxy-connection', 'x-foo']) {
      expect(h[name], name).toBeUndefined();
    }
    // undici's own Connection header, never the client's tokens.
    expect(h['connection']).toBe('keep-alive');
    await assertGatewayHealthy(gw, '/health');
  });

  it('sends the request body upstream intact whatever framing the client used', async () => {
    const chunked = await exchange(gw.proxyPort, 'POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n');
    expect(JSON.parse(chunked.body).body).toBe('abcdefg');
    const fixed = await exchange(gw.proxyPort, 'POST /body HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\nabcdefg');
    expect(JSON.parse(fixed.body).body).toBe('abcdefg');
  });
});

describe('Connection: close (RFC 9112 9.6)', () => {
  it('closes the connection after the response when the client sends Connection: close', async () => {
    const ex = await exchange(gw.proxyPort, getHead('/close', ['Connection: close']));
    expect(ex.status).toBe(200);
    expect(ex.closed).toBe(true);
  });

  it.each([['close, X-Foo'], ['X-Foo, close'], ['keep-alive, close'], ['Close, TE']])(
    'closes the connection after the response when "close" is one of several tokens (%s)',
    async (value) => {
      const ex = await exchange(gw.proxyPort, getHead('/close', [`Connection: ${value}`, 'X-Foo: bar', 'TE: trailers']), { graceMs: 500 });
      expect(ex.status).toBe(200);
      expect(ex.closed, 'connection closed after the response').toBe(true);
    },
  );
});

it('ends with no worker restarted', async () => {
  await assertGatewayHealthy(gw, '/health');
});
