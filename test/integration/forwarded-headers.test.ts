/**
 * Header rewriting between client and upstream, end to end (workers/proxy/forward-headers.ts,
 * workers/http/client-address.ts): hop-by-hop headers in both directions, X-Forwarded-*,
 * X-Real-IP, Via, the request id, the latency headers and preserve_host, with Kong's
 * semantics (kong/runloop/handler.lua, kong/templates/nginx_kong.lua):
 *
 * - X-Forwarded-For: the client's value with the TCP peer appended ("<xff>, <peer>"), or the
 *   client address (after trusted_ips / real_ip_header) when the client sent none;
 * - X-Forwarded-Proto/-Host/-Port/-Path/-Prefix: the client's values only when the TCP peer is
 *   in trusted_ips, else the gateway's own: scheme, Host without port, the port the gateway
 *   listens on, the request path as received (no query), the prefix strip_path removed (none
 *   for "/");
 * - X-Real-IP: the client address (real_ip_header believed only from a trusted peer).
 *
 * The gateway listens on [::] (dual-stack) so that IPv4 clients arrive as IPv4-mapped IPv6
 * addresses, the form uWS reports them in. 127.0.0.2 is the trusted proxy; 127.0.0.1 and ::1
 * are untrusted clients (Linux answers on all of 127/8).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startGateway, type Gateway } from '../helpers/gateway.js';
import { assertGatewayHealthy, exchange, getHead, header, headerAll, type Exchange } from '../helpers/http-probe.js';
import { echoHandler, startUpstream, type Upstream } from '../helpers/upstream.js';

const TRUSTED = '127.0.0.2';

/** Echo, except /resp-hop (hop-by-hop response headers) and /slow (answers after 150 ms). */
function handler(req: IncomingMessage, res: ServerResponse): void {
  if (req.url?.startsWith('/plain/resp-hop')) {
    res.setHeader('Connection', 'X-Resp-Hop, keep-alive');
    res.setHeader('X-Resp-Hop', 'secret');
    res.setHeader('Keep-Alive', 'timeout=5, max=10');
    res.setHeader('Proxy-Authenticate', 'Basic realm="upstream"');
    res.setHeader('Proxy-Connection', 'keep-alive');
    res.setHeader('Upgrade', 'h2c');
    res.setHeader('Trailer', 'X-Checksum');
    res.setHeader('TE', 'trailers');
    res.setHeader('Via', '1.1 upstream-cache');
    res.setHeader('X-Resp-Keep', 'yes');
    res.end('ok');
    return;
  }
  if (req.url?.startsWith('/plain/resp-obs')) {
    // Node writes header strings as UTF-8: bytes above 0x7F on the wire.
    res.setHeader('X-Obs', 'caf\xe9 \xe2\x82\xac');
    res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; Path=/']);
    res.setHeader('X-Plain', 'ascii');
    res.end('ok');
    return;
  }
  if (req.url?.startsWith('/plain/slow')) {
    setTimeout(() => echoHandler(req, res), 150);
    return;
  }
  echoHandler(req, res);
}

let up: Upstream;
let gw: Gateway;
/** The proxy port: the gateway is told to listen on [::] on this port. */
let port: number;

beforeAll(async () => {
  up = await startUpstream(handler);
  port = await freePort();
  gw = await startGateway(
    `_format_version: "3.0"
services:
  - name: echo
    url: ${up.url}
    routes:
      - name: plain
        paths: [/plain]
        strip_path: false
      - name: stripped
        paths: [/api]
        strip_path: true
      - name: root-stripped
        paths: [/]
        strip_path: true
      - name: local
        paths: [/local]
        plugins:
          - name: request-termination
            config: { status_code: 200, message: answered by the gateway }
      - name: preserve
        paths: [/preserve]
        strip_path: false
        preserve_host: true
`,
    // The last --proxy-listen wins: dual-stack instead of the helper's 127.0.0.1.
    { workers: 2, extraArgs: ['--proxy-listen', `[::]:${port}`, '--trusted-ips', `${TRUSTED}`] },
  );
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

interface Seen {
  ex: Exchange;
  /** Headers the upstream received. */
  h: IncomingMessage['headers'];
  url: string;
}

/** One request on a new connection; returns the response and what the upstream received. */
async function send(path: string, lines: string[] = [], opts: { host?: string; from?: string; hostHeader?: string } = {}): Promise<Seen> {
  const before = up.seen.length;
  const ex = await exchange(port, getHead(path, lines, opts.hostHeader ?? 'gw.example'), { host: opts.host, localAddress: opts.from });
  expect(ex.status, ex.raw.slice(0, 400)).toBe(200);
  expect(up.seen.length).toBe(before + 1);
  const seen = up.seen.at(-1)!;
  return { ex, h: seen.headers, url: seen.url };
}

describe('hop-by-hop headers', () => {
  it('are not sent upstream, nor is any header named in Connection', async () => {
    const { h } = await send('/plain/hop', [
      'Connection: keep-alive, X-Hop-A, x-hop-b',
      'X-Hop-A: 1',
      'X-Hop-B: 2',
      'Keep-Alive: timeout=5',
      'Proxy-Authorization: Basic Zm9vOmJhcg==',
      'Proxy-Connection: keep-alive',
      'Proxy: http://evil.example:8080',
      'TE: trailers, deflate',
      'Trailer: X-Checksum',
      'Upgrade: h2c',
      'X-Keep: kept',
    ]);
    for (const name of ['x-hop-a', 'x-hop-b', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'proxy', 'te', 'trailer', 'upgrade']) {
      expect(h[name], name).toBeUndefined();
    }
    expect(h['x-keep']).toBe('kept');
    // undici's own connection management, not the client's tokens.
    expect(h['connection']).toBe('keep-alive');
  });

  it('are not sent to the client, nor is any header the upstream named in Connection', async () => {
    const { ex } = await send('/plain/resp-hop');
    for (const name of ['x-resp-hop', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'upgrade', 'trailer', 'te']) {
      expect(header(ex, name), name).toBeUndefined();
    }
    expect(headerAll(ex, 'connection').join(',')).not.toMatch(/x-resp-hop/i);
    expect(header(ex, 'x-resp-keep')).toBe('yes');
    expect(ex.body).toBe('ok');
    // The gateway frames the response itself: one framing header, never both.
    expect(header(ex, 'content-length') !== undefined && header(ex, 'transfer-encoding') !== undefined).toBe(false);
  });
});

describe('response headers from the upstream', () => {
  it('pass through byte for byte, bytes above 0x7F and repeated headers included', async () => {
    const { ex } = await send('/plain/resp-obs');
    // ex.raw is latin1: one character per byte received. The upstream sent UTF-8.
    expect(Buffer.from(header(ex, 'x-obs') ?? '', 'latin1').toString('hex')).toBe(Buffer.from('caf\xe9 \xe2\x82\xac', 'utf8').toString('hex'));
    expect(headerAll(ex, 'set-cookie')).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(header(ex, 'x-plain')).toBe('ascii');
  });
});

describe('X-Forwarded-* and X-Real-IP from an untrusted client', () => {
  it('are computed by the gateway: XFF is the peer, IPv4-mapped addresses shown as IPv4', async () => {
    const { h } = await send('/plain/a%2Db/../c?x=1');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-real-ip']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('gw.example');
    expect(h['x-forwarded-port']).toBe(String(port));
    // The path as the client sent it, without the query (Kong: request_uri up to "?").
    expect(h['x-forwarded-path']).toBe('/plain/a%2Db/../c');
    expect(h['x-forwarded-prefix']).toBeUndefined();
  });

  it('appends the peer to the client X-Forwarded-For, and replaces every other X-Forwarded-* and X-Real-IP', async () => {
    const { h } = await send('/plain/spoof', [
      'X-Forwarded-For: 203.0.113.50, 10.0.0.1',
      'X-Forwarded-Proto: https',
      'X-Forwarded-Host: admin.internal',
      'X-Forwarded-Port: 443',
      'X-Forwarded-Path: /admin',
      'X-Forwarded-Prefix: /admin',
      'X-Real-IP: 203.0.113.50',
    ]);
    expect(h['x-forwarded-for']).toBe('203.0.113.50, 10.0.0.1, 127.0.0.1');
    expect(h['x-real-ip']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('gw.example');
    expect(h['x-forwarded-port']).toBe(String(port));
    expect(h['x-forwarded-path']).toBe('/plain/spoof');
    expect(h['x-forwarded-prefix']).toBeUndefined();
  });

  it('joins repeated X-Forwarded-For lines before appending the peer', async () => {
    const { h } = await send('/plain/xff2', ['X-Forwarded-For: 192.0.2.1', 'X-Forwarded-For: 192.0.2.2']);
    expect(h['x-forwarded-for']).toBe('192.0.2.1, 192.0.2.2, 127.0.0.1');
  });

  it('reports an IPv6 peer in its compressed form', async () => {
    const { h } = await send('/plain/v6', ['X-Forwarded-For: 2001:db8::1'], { host: '::1' });
    expect(h['x-real-ip']).toBe('::1');
    expect(h['x-forwarded-for']).toBe('2001:db8::1, ::1');
  });

  it('lowercases X-Forwarded-Host and drops the port from it', async () => {
    const { h } = await send('/plain/host', [], { hostHeader: 'GW.Example' });
    expect(h['x-forwarded-host']).toBe('gw.example');
  });

  // Kong: forwarded_port = ctx.host_port or server_port, the port the gateway listens on,
  // never the port the client wrote in Host.
  it('sends the port the gateway listens on as X-Forwarded-Port, not the one in Host', async () => {
    const { h } = await send('/plain/port', [], { hostHeader: 'gw.example:8443' });
    expect(h['x-forwarded-host']).toBe('gw.example');
    expect(h['x-forwarded-port']).toBe(String(port));
  });
});

describe('X-Forwarded-* and X-Real-IP from a trusted proxy (--trusted-ips)', () => {
  it('are passed through, the peer appended to X-Forwarded-For, X-Real-IP believed', async () => {
    const { h } = await send(
      '/plain/trusted',
      [
        'X-Forwarded-For: 198.51.100.7',
        'X-Forwarded-Proto: https',
        'X-Forwarded-Host: public.example',
        'X-Forwarded-Port: 443',
        'X-Forwarded-Path: /edge/plain/trusted',
        'X-Forwarded-Prefix: /edge',
        'X-Real-IP: 198.51.100.7',
      ],
      { from: TRUSTED },
    );
    expect(h['x-forwarded-for']).toBe(`198.51.100.7, ${TRUSTED}`);
    expect(h['x-real-ip']).toBe('198.51.100.7');
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe('public.example');
    expect(h['x-forwarded-port']).toBe('443');
    expect(h['x-forwarded-path']).toBe('/edge/plain/trusted');
    expect(h['x-forwarded-prefix']).toBe('/edge');
  });

  it('without X-Forwarded-For, sends the client address from real_ip_header as X-Forwarded-For (Kong: remote_addr)', async () => {
    const { h } = await send('/plain/trusted-real-ip', ['X-Real-IP: 198.51.100.8'], { from: TRUSTED });
    expect(h['x-real-ip']).toBe('198.51.100.8');
    expect(h['x-forwarded-for']).toBe('198.51.100.8');
  });

  it('falls back to computed values for the X-Forwarded-* it did not send, and ignores a bad X-Real-IP', async () => {
    const { h } = await send('/plain/trusted-partial', ['X-Forwarded-Proto: https', 'X-Real-IP: not-an-address'], { from: TRUSTED });
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe('gw.example');
    expect(h['x-forwarded-port']).toBe(String(port));
    expect(h['x-real-ip']).toBe(TRUSTED);
    expect(h['x-forwarded-for']).toBe(TRUSTED);
  });
});

describe('X-Forwarded-Prefix', () => {
  it('is the prefix strip_path removed', async () => {
    const { h, url } = await send('/api/users/7');
    expect(url).toBe('/users/7');
    expect(h['x-forwarded-prefix']).toBe('/api');
    expect(h['x-forwarded-path']).toBe('/api/users/7');
  });

  it('is not sent when the stripped prefix is "/" (Kong: match_t.prefix ~= "/")', async () => {
    const { h, url } = await send('/other/thing');
    expect(url).toBe('/other/thing');
    expect(h['x-forwarded-prefix']).toBeUndefined();
  });
});

describe('Via, request id, latency headers', () => {
  it('appends the gateway to Via in both directions', async () => {
    const bare = await send('/plain/via');
    expect(bare.h['via']).toBe('1.1 portcullis');
    expect(header(bare.ex, 'via')).toBe('1.1 portcullis');
    const chained = await send('/plain/via', ['Via: 1.0 fred, 1.1 edge']);
    expect(chained.h['via']).toBe('1.0 fred, 1.1 edge, 1.1 portcullis');
    const fromUpstream = await send('/plain/resp-hop');
    expect(header(fromUpstream.ex, 'via')).toBe('1.1 upstream-cache, 1.1 portcullis');
  });

  it('sends one request id upstream, the same one the client gets, and never the client’s own', async () => {
    const { h, ex } = await send('/plain/id', ['X-Kong-Request-Id: client-chosen']);
    const id = header(ex, 'x-kong-request-id');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(h['x-kong-request-id']).toBe(id);
    const other = await send('/plain/id');
    expect(header(other.ex, 'x-kong-request-id')).not.toBe(id);
  });

  it('reports X-Kong-Upstream-Latency and X-Kong-Proxy-Latency in whole ms on proxied responses', async () => {
    const { ex } = await send('/plain/slow');
    const upstream = header(ex, 'x-kong-upstream-latency');
    const proxy = header(ex, 'x-kong-proxy-latency');
    expect(upstream).toMatch(/^\d+$/);
    expect(proxy).toMatch(/^\d+$/);
    expect(Number(upstream)).toBeGreaterThanOrEqual(140);
    expect(Number(upstream)).toBeLessThan(5000);
    expect(Number(proxy)).toBeLessThan(1000);
    expect(header(ex, 'x-kong-response-latency')).toBeUndefined();
  });

  it('reports X-Kong-Response-Latency, not the upstream ones, on the gateway’s own answers', async () => {
    const before = up.seen.length;
    const ex = await exchange(port, getHead('/local', [], 'gw.example'));
    expect(ex.status).toBe(200);
    expect(JSON.parse(ex.body)).toEqual({ message: 'answered by the gateway' });
    expect(up.seen.length).toBe(before);
    expect(header(ex, 'x-kong-response-latency')).toMatch(/^\d+$/);
    expect(header(ex, 'x-kong-upstream-latency')).toBeUndefined();
    expect(header(ex, 'x-kong-proxy-latency')).toBeUndefined();
  });
});

describe('Host sent upstream', () => {
  it('is the service host and port without preserve_host', async () => {
    const { h } = await send('/plain/host-off', [], { hostHeader: 'client.example:8080' });
    expect(h['host']).toBe(`127.0.0.1:${up.port}`);
  });

  it('is the client Host header, port included, with preserve_host', async () => {
    const { h } = await send('/preserve/x', [], { hostHeader: 'Client.Example:8080' });
    expect(h['host']).toBe('Client.Example:8080');
    expect(h['x-forwarded-host']).toBe('client.example');
  });
});

describe('real_ip_header X-Forwarded-For (a second gateway, settings from PORTCULLIS_* variables)', () => {
  let gw2: Gateway;
  let gw3: Gateway;

  beforeAll(async () => {
    const config = `_format_version: "3.0"
services:
  - name: echo
    url: ${up.url}
    routes:
      - name: all
        paths: [/]
`;
    gw2 = await startGateway(config, {
      workers: 1,
      env: { PORTCULLIS_TRUSTED_IPS: '127.0.0.0/8', PORTCULLIS_REAL_IP_HEADER: 'X-Forwarded-For', PORTCULLIS_REAL_IP_RECURSIVE: 'on' },
    });
    gw3 = await startGateway(config, {
      workers: 1,
      env: { PORTCULLIS_TRUSTED_IPS: '127.0.0.0/8', PORTCULLIS_REAL_IP_HEADER: 'X-Forwarded-For' },
    });
  });

  afterAll(async () => {
    await gw2?.stop();
    await gw3?.stop();
  });

  async function via(g: Gateway, xff: string): Promise<IncomingMessage['headers']> {
    const ex = await exchange(g.proxyPort, getHead('/rip', [`X-Forwarded-For: ${xff}`]));
    expect(ex.status).toBe(200);
    return up.seen.at(-1)!.headers;
  }

  it('with real_ip_recursive, takes the rightmost untrusted address', async () => {
    const h = await via(gw2, '203.0.113.9, 127.0.0.5');
    expect(h['x-real-ip']).toBe('203.0.113.9');
    expect(h['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.5, 127.0.0.1');
  });

  it('without it, takes the last address', async () => {
    const h = await via(gw3, '203.0.113.9, 127.0.0.5');
    expect(h['x-real-ip']).toBe('127.0.0.5');
  });

  it('falls back to the peer when the header holds no address', async () => {
    const h = await via(gw2, 'garbage');
    expect(h['x-real-ip']).toBe('127.0.0.1');
  });
});

it('ends with no worker restarted', async () => {
  const ex = await exchange(port, getHead('/plain/end', ['Connection: close']));
  expect(ex.status).toBe(200);
  await assertGatewayHealthy({ ...gw, proxyPort: port }, '/plain/end');
});
