/**
 * Config -> router -> upstream URI, end to end through a real gateway (the router's own
 * matching rules have their unit tests in workers/router/). One upstream serves every
 * service; services differ by their path, so the path the upstream receives tells which
 * route matched and how the upstream URI was built (Kong's get_upstream_uri v0 table,
 * reference section 2.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { assertGatewayHealthy, exchange, getHead, header, type Exchange } from '../helpers/http-probe.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const TRUSTED = '127.0.0.2';

let up: Upstream;
let gw: Gateway;

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway(
    `_format_version: "3.0"
services:
  - name: v1
    url: ${up.url}/v1
    routes:
      - { name: strip, paths: [/orders], strip_path: true }
      - { name: no-strip, paths: [/items], strip_path: false }
      - { name: regex-strip, paths: ["~/api/v(?<version>\\\\d+)"], strip_path: true }
      - { name: prio-host, hosts: [prio.example], paths: [/prio], strip_path: false }
      - { name: longer, paths: [/len/longer], strip_path: false }
  - name: v1-slash
    url: ${up.url}/v1/
    routes:
      - { name: slash-strip, paths: [/s-orders], strip_path: true }
      - { name: slash-no-strip, paths: [/s-items], strip_path: false }
  - name: root
    url: ${up.url}
    routes:
      - { name: root-strip, paths: [/root], strip_path: true }
      - { name: root-no-strip, paths: [/plainroot], strip_path: false }
      - { name: regex, paths: ["~/users/(?<uid>\\\\d+)/posts$"], strip_path: false }
      - { name: wildcard-suffix, hosts: ["*.example.com"], paths: [/wh], strip_path: false }
      - { name: wildcard-prefix, hosts: ["api.*"], paths: [/ph], strip_path: false }
      - { name: method-header, methods: [POST], headers: { x-version: ["2"] }, paths: [/mh], strip_path: false }
      - { name: header-ci, headers: { x-tenant: [Acme] }, paths: [/tenant], strip_path: false }
      - { name: prio-path, paths: [/prio], strip_path: false }
      - { name: short, paths: [/len], strip_path: false }
      - { name: https-only, protocols: [https], paths: [/secure], strip_path: false }
      - { name: https-redirect, protocols: [https], https_redirect_status_code: 308, paths: [/secure-redirect], strip_path: false }
`,
    { workers: 2, extraArgs: ['--trusted-ips', TRUSTED] },
  );
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

interface Result {
  ex: Exchange;
  /** Path and query the upstream received, or null. */
  upstream: string | null;
}

async function request(
  path: string,
  opts: { method?: string; host?: string; lines?: string[]; from?: string } = {},
): Promise<Result> {
  const before = up.seen.length;
  const head = `${opts.method ?? 'GET'} ${path} HTTP/1.1\r\nHost: ${opts.host ?? 'gw.example'}\r\n${(opts.lines ?? []).map((l) => `${l}\r\n`).join('')}Content-Length: 0\r\nConnection: close\r\n\r\n`;
  const ex = await exchange(gw.proxyPort, head, { localAddress: opts.from });
  const seen = up.seen.slice(before);
  expect(seen.length).toBeLessThanOrEqual(1);
  return { ex, upstream: seen[0]?.url ?? null };
}

async function expectUpstream(path: string, expected: string, opts: Parameters<typeof request>[1] = {}): Promise<void> {
  const r = await request(path, opts);
  expect(r.ex.status, r.ex.raw.slice(0, 300)).toBe(200);
  expect(r.upstream).toBe(expected);
}

async function expectNoRoute(path: string, opts: Parameters<typeof request>[1] = {}): Promise<void> {
  const r = await request(path, opts);
  expect(r.ex.status).toBe(404);
  expect(r.upstream).toBeNull();
  expect(header(r.ex, 'content-type')).toBe('application/json; charset=utf-8');
  const doc = JSON.parse(r.ex.body) as Record<string, unknown>;
  expect(doc.message).toBe('no Route matched with those values');
  expect(Object.keys(doc).filter((k) => k !== 'request_id')).toEqual(['message']);
}

describe('strip_path and the service path (Kong get_upstream_uri, path_handling v0)', () => {
  it.each([
    // service path /v1 (no trailing slash)
    ['/orders/7', '/v1/7', 'strip, base without "/": postfix "/x"'],
    ['/orders', '/v1', 'strip, base without "/": empty postfix'],
    ['/orders/', '/v1/', 'strip, base without "/": request ends with "/"'],
    ['/ordersX', '/v1/X', 'strip, base without "/": postfix without "/" (prefix is not segment-aware)'],
    ['/items/7', '/v1/items/7', 'no strip, base without "/"'],
    ['/items', '/v1/items', 'no strip, base without "/"'],
    // service path /v1/ (trailing slash)
    ['/s-orders/7', '/v1/7', 'strip, base with "/": postfix "/x"'],
    ['/s-orders', '/v1', 'strip, base with "/": empty postfix, request without "/"'],
    ['/s-orders/', '/v1/', 'strip, base with "/": request ends with "/"'],
    ['/s-items/7', '/v1/s-items/7', 'no strip, base with "/"'],
    // no service path
    ['/root/7', '/7', 'strip, no service path'],
    ['/root', '/', 'strip, no service path, nothing left'],
    ['/plainroot/x', '/plainroot/x', 'no strip, no service path'],
    // query strings pass through unchanged
    ['/orders/7?a=1&b=%20&c', '/v1/7?a=1&b=%20&c', 'query kept as sent'],
  ])('%s -> %s (%s)', async (path, expected) => {
    await expectUpstream(path, expected);
  });
});

describe('regex paths', () => {
  it('match with named captures, anchored where the regex says', async () => {
    await expectUpstream('/users/42/posts', '/users/42/posts');
    await expectNoRoute('/users/abc/posts');
    await expectNoRoute('/users/42/posts/extra');
  });

  it('strip the whole match with strip_path', async () => {
    await expectUpstream('/api/v2/things', '/v1/things');
    await expectUpstream('/api/v10', '/v1');
  });
});

describe('hosts', () => {
  it('*.example.com matches any subdomain, case-insensitively and with a port, but not the bare domain', async () => {
    await expectUpstream('/wh/x', '/wh/x', { host: 'a.example.com' });
    await expectUpstream('/wh/x', '/wh/x', { host: 'a.b.example.com' });
    await expectUpstream('/wh/x', '/wh/x', { host: 'A.Example.COM:8000' });
    await expectNoRoute('/wh/x', { host: 'example.com' });
    await expectNoRoute('/wh/x', { host: 'a.example.com.evil.org' });
  });

  it('api.* matches any suffix', async () => {
    await expectUpstream('/ph', '/ph', { host: 'api.internal' });
    await expectNoRoute('/ph', { host: 'x.api.internal' });
  });

  it('a route with hosts outranks one with only the same path', async () => {
    await expectUpstream('/prio', '/v1/prio', { host: 'prio.example' });
    await expectUpstream('/prio', '/prio', { host: 'other.example' });
  });

  it('the longer prefix wins', async () => {
    await expectUpstream('/len/longer/x', '/v1/len/longer/x');
    await expectUpstream('/len/x', '/len/x');
  });
});

describe('methods and headers', () => {
  it('need every condition', async () => {
    await expectUpstream('/mh', '/mh', { method: 'POST', lines: ['X-Version: 2'] });
    await expectNoRoute('/mh', { method: 'GET', lines: ['X-Version: 2'] });
    await expectNoRoute('/mh', { method: 'POST', lines: ['X-Version: 3'] });
    await expectNoRoute('/mh', { method: 'POST' });
  });

  it('compare header values case-insensitively', async () => {
    await expectUpstream('/tenant', '/tenant', { lines: ['X-Tenant: ACME'] });
    await expectNoRoute('/tenant', { lines: ['X-Tenant: other'] });
  });
});

describe('no match', () => {
  it("answers 404 with Kong's body and the request id", async () => {
    const r = await request('/nothing/here');
    expect(r.ex.status).toBe(404);
    expect(r.upstream).toBeNull();
    const doc = JSON.parse(r.ex.body) as { message: string; request_id: string };
    expect(doc.message).toBe('no Route matched with those values');
    expect(doc.request_id).toBe(header(r.ex, 'x-kong-request-id'));
    await expectNoRoute('/');
  });
});

describe('protocol mismatch', () => {
  it('answers 426 on plain HTTP for an https-only route', async () => {
    const r = await request('/secure/x');
    expect(r.ex.status).toBe(426);
    expect(r.upstream).toBeNull();
    expect(JSON.parse(r.ex.body).message).toBe('Please use HTTPS protocol');
    expect(header(r.ex, 'upgrade')).toBe('TLS/1.2, HTTP/1.1');
  });

  it('redirects with https_redirect_status_code', async () => {
    const r = await request('/secure-redirect/x?q=1');
    expect(r.ex.status).toBe(308);
    expect(r.upstream).toBeNull();
    expect(header(r.ex, 'location')).toBe('https://gw.example/secure-redirect/x?q=1');
  });

  it('proxies when a trusted proxy says the client used https (X-Forwarded-Proto)', async () => {
    await expectUpstream('/secure/x', '/secure/x', { from: TRUSTED, lines: ['X-Forwarded-Proto: https'] });
    // The same claim from an untrusted client is ignored.
    const r = await request('/secure/x', { lines: ['X-Forwarded-Proto: https'] });
    expect(r.ex.status).toBe(426);
  });
});

it('ends with no worker restarted', async () => {
  await assertGatewayHealthy(gw, '/orders/end');
  const ex = await exchange(gw.proxyPort, getHead('/orders/end', ['Connection: close']));
  expect(ex.status).toBe(200);
});
