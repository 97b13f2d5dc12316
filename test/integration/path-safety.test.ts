/**
 * Path normalisation as a security boundary, end to end: whatever the client writes, what
 * reaches the upstream stays inside what the matched route authorises, or the request is
 * refused (400 for paths that are not clean, 403/404 when the normalised path routes
 * elsewhere). Nothing here is a 5xx.
 *
 * Kong 3.x (reference section 2.2) matches routes on the normalised path: query cut, %XX of
 * unreserved characters decoded, dot segments removed, "//" merged; the upstream path is
 * built from the same normalised path. On top of that the gateway refuses dot segments in
 * disguise ("..%2F", "..\", "..;", "%252e", overlong UTF-8) that some upstream would decode
 * (workers/router/normalize-path.ts, dot-segments.ts).
 *
 * Routes:
 *   /public  strip_path, service path /pub    -> upstream paths /pub or /pub/...
 *   /files   no strip, no service path        -> upstream paths /files...
 *   /admin   answered 403 by the gateway (request-termination): stands for a route with
 *            stricter policies that traversal must not bypass
 * Nothing is routed on "/".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { assertGatewayHealthy, exchange } from '../helpers/http-probe.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let up: Upstream;
let gw: Gateway;

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway(
    `_format_version: "3.0"
services:
  - name: pub
    url: ${up.url}/pub
    routes:
      - name: public
        paths: [/public]
        strip_path: true
  - name: files
    url: ${up.url}
    routes:
      - name: files
        paths: [/files]
        strip_path: false
  - name: admin
    url: ${up.url}/admin
    routes:
      - name: admin
        paths: [/admin]
        plugins:
          - name: request-termination
            config: { status_code: 403, message: admin is protected }
`,
    { workers: 2 },
  );
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

/** Percent-decodes until stable (as Latin-1 bytes) and folds overlong UTF-8 for ASCII. */
function decodeFully(path: string): string {
  let s = path;
  for (let i = 0; i < 6; i++) {
    const d = s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (d === s) break;
    s = d;
  }
  return s
    .replace(/[\xc0\xc1][\x80-\xbf]/g, (m) => String.fromCharCode(((m.charCodeAt(0) & 0x1f) << 6) | (m.charCodeAt(1) & 0x3f)))
    .replace(/\xe0[\x80-\x9f][\x80-\xbf]/g, (m) => String.fromCharCode(((m.charCodeAt(1) & 0x3f) << 6) | (m.charCodeAt(2) & 0x3f)))
    .replace(/\xf0[\x80-\x8f][\x80-\xbf][\x80-\xbf]/g, (m) => String.fromCharCode(((m.charCodeAt(2) & 0x3f) << 6) | (m.charCodeAt(3) & 0x3f)));
}

/** True when `upstreamPath` is inside `base` even for an upstream that decodes everything. */
function inside(upstreamPath: string, base: string): boolean {
  const path = upstreamPath.split('?')[0]!;
  if (path !== base && !path.startsWith(base + '/')) return false;
  const decoded = decodeFully(path).replace(/;[^/\\]*/g, '');
  return !decoded.split(/[/\\]/).some((seg) => seg === '.' || seg === '..') && !decoded.includes('\0');
}

interface Outcome {
  status: number | null;
  /** What the upstream received (path and query), or null when nothing reached it. */
  upstream: string | null;
}

async function get(rawPath: string): Promise<Outcome> {
  const before = up.seen.length;
  const ex = await exchange(gw.proxyPort, Buffer.from(`GET ${rawPath} HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n`, 'latin1'));
  await new Promise((r) => setTimeout(r, 20));
  const seen = up.seen.slice(before);
  expect(seen.length).toBeLessThanOrEqual(1);
  return { status: ex.status, upstream: seen[0]?.url ?? null };
}

describe('requests on /public reach the upstream only under /pub', () => {
  it.each([
    ['/public', '/pub'],
    ['/public/', '/pub/'],
    ['/public/x', '/pub/x'],
    ['/public/./x', '/pub/x'],
    ['/public/%2e/x', '/pub/x'],
    ['/public/a/../x', '/pub/x'],
    ['/public/a/%2e%2e/x', '/pub/x'],
    ['//public/x', '/pub/x'],
    ['/public//x', '/pub/x'],
    ['/pub%6cic/x', '/pub/x'],
    ['/%70ublic/x', '/pub/x'],
    ['/public/x?q=../../admin', '/pub/x?q=../../admin'],
    ['/public/%2F%2Fevil.example', '/pub/%2F%2Fevil.example'],
    ['/public/%3B/../x', '/pub/x'],
    // A prefix is a plain string prefix (Kong): what is left of the segment must not climb.
    ['/public../admin', '/pub/admin'],
    ['/public%2e%2e/admin', '/pub/admin'],
    ['/public..%2fadmin', '/pub/admin'],
    ['/public.%2e%2Fadmin', '/pub/admin'],
    ['/publicity', '/pub/ity'],
    ['/public/%C3%A9t%C3%A9', '/pub/%C3%A9t%C3%A9'],
  ])('%s -> upstream %s', async (raw, expected) => {
    const out = await get(raw);
    expect(out).toEqual({ status: 200, upstream: expected });
    expect(inside(expected, '/pub')).toBe(true);
  });
});

describe('traversal out of /public is routed on the normalised path, never proxied under /public', () => {
  it.each([
    ['/public/../admin', 403],
    ['/public/%2e%2e/admin', 403],
    ['/public/%2E%2E/admin', 403],
    ['/public/.%2e/admin', 403],
    ['/public/%2e./admin', 403],
    ['/public/x/../../admin', 403],
    ['/public;/../admin', 403],
    ['/public/../../../etc/passwd', 404],
    ['/public/..', 404],
    ['/public/%2e%2e', 404],
    ['/public/%2e%2e/', 404],
    ['/PUBLIC/x', 404],
  ])('%s -> %i, nothing proxied', async (raw, status) => {
    expect(await get(raw)).toEqual({ status, upstream: null });
  });
});

describe('dot segments in disguise, NUL and bad escapes are refused with 400', () => {
  it.each([
    ['/public/..%2Fadmin', 'encoded slash after ..'],
    ['/public/..%2fadmin', 'lower-case %2f'],
    ['/public/%2E%2E%2Fadmin', 'all encoded'],
    ['/public/%2e%2e%2fadmin', 'all encoded, lower case'],
    ['/public%2f..%2fadmin', 'encoded slashes around ..'],
    ['/public%2F..%2Fadmin', 'encoded slashes around .., upper case'],
    ['/public/%2F..%2Fadmin', 'leading encoded slash'],
    ['/public/..\\admin', 'backslash after ..'],
    ['/public\\..\\admin', 'backslash-separated'],
    ['/public/%5c..%5cadmin', 'encoded backslashes'],
    ['/public/..%5Cadmin', 'encoded backslash after ..'],
    ['/public/..;/admin', 'Tomcat path parameter'],
    ['/public/..;jsessionid=x/admin', 'path parameter with a value'],
    ['/public/%252e%252e/admin', 'double-encoded dots'],
    ['/public/%252e%252e%252fadmin', 'double-encoded dots and slash'],
    ['/public/%25252e%25252e/admin', 'triple-encoded dots'],
    ['/public/%c0%ae%c0%ae/admin', 'overlong UTF-8 dots (C0 AE)'],
    ['/public/..%c0%afadmin', 'overlong UTF-8 slash (C0 AF)'],
    ['/public/..%c1%9cadmin', 'overlong UTF-8 backslash (C1 9C)'],
    ['/public/%e0%80%ae%e0%80%ae/admin', '3-byte overlong dots'],
    ['/public/%f0%80%80%ae%f0%80%80%ae/admin', '4-byte overlong dots'],
    ['/public/%00', 'encoded NUL'],
    ['/public/x%00.txt', 'encoded NUL inside a name'],
    ['/public/x/..%00/admin', 'encoded NUL after ..'],
    ['/public/%0d%0aSet-Cookie:%20x', 'encoded CR LF'],
    ['/public/%7f', 'encoded DEL'],
    ['/public/%zz', 'invalid escape'],
    ['/public/%u002e%u002e/admin', 'IIS %u escapes'],
    ['/public/x%', 'truncated escape'],
  ])('%s (%s)', async (raw) => {
    expect(await get(raw)).toEqual({ status: 400, upstream: null });
  });
});

describe('a route without strip_path', () => {
  it.each([
    ['/files/a/b/..', 200, '/files/a/'],
    ['/files/a/./b', 200, '/files/a/b'],
    ['/files/../public/x', 200, '/pub/x'],
    ['/files/%2e%2e/%2e%2e/etc/passwd', 404, null],
    ['/files/..%2f..%2fetc/passwd', 400, null],
    ['/files/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', 400, null],
  ])('%s -> %i %s', async (raw, status, upstream) => {
    expect(await get(raw)).toEqual({ status, upstream });
  });
});

it('never let the upstream see a path outside /pub or /files, nor one that climbs once decoded', async () => {
  expect(up.seen.length).toBeGreaterThan(20);
  for (const s of up.seen) {
    expect(inside(s.url, '/pub') || inside(s.url, '/files'), s.url).toBe(true);
  }
  await assertGatewayHealthy(gw, '/public/ok');
});
