/**
 * Upstream path table: every row of Kong's path_handling v0 table (kong/router/utils.lua
 * get_upstream_uri, reference section 2.4), regex strip, v1, and the postfix sanitising.
 * Each row goes through the real Router so matchedPath is what the router produces.
 */
import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/config/types.js';
import { normalizePath } from './normalize-path.js';
import { Router } from './router.js';
import { request, route, service } from './test-helpers.js';
import { sanitizePostfix, upstreamPath } from './upstream-uri.js';

interface Row {
  name: string;
  /** service.path (null = no path, treated as "/"); undefined = route without a service. */
  base: string | null | undefined;
  paths: string[] | null;
  strip: boolean;
  handling?: 'v0' | 'v1';
  /** Raw request path (normalised before routing). */
  req: string;
  expect: string;
}

const rows: Row[] = [
  // base ends with "/", strip_path = true
  { name: 'base "/", postfix "" -> "/"', base: '/', paths: ['/foo'], strip: true, req: '/foo', expect: '/' },
  { name: 'base "/", postfix "" with trailing slash -> "/"', base: '/', paths: ['/foo/'], strip: true, req: '/foo/', expect: '/' },
  { name: 'base "/svc/", postfix "", U without trailing "/" -> base minus slash', base: '/svc/', paths: ['/foo'], strip: true, req: '/foo', expect: '/svc' },
  { name: 'base "/svc/", postfix "", U with trailing "/" -> base', base: '/svc/', paths: ['/foo/'], strip: true, req: '/foo/', expect: '/svc/' },
  { name: 'base "/svc/", postfix "/x" -> base[:-1] + "/x"', base: '/svc/', paths: ['/foo'], strip: true, req: '/foo/x', expect: '/svc/x' },
  { name: 'base "/", postfix "/x" -> "/x"', base: '/', paths: ['/foo'], strip: true, req: '/foo/x', expect: '/x' },
  { name: 'base "/svc/", postfix "x" -> base + "x"', base: '/svc/', paths: ['/foo'], strip: true, req: '/foox', expect: '/svc/x' },
  { name: 'base "/", postfix "x" -> "/x"', base: '/', paths: ['/foo'], strip: true, req: '/foox', expect: '/x' },
  // base ends with "/", strip_path = false
  { name: 'base "/svc/", no strip -> base + U[2:]', base: '/svc/', paths: ['/foo'], strip: false, req: '/foo/x', expect: '/svc/foo/x' },
  { name: 'base "/", no strip -> U', base: '/', paths: ['/foo'], strip: false, req: '/foo/x', expect: '/foo/x' },
  { name: 'base "/svc/", no strip, U "/" -> base', base: '/svc/', paths: ['/'], strip: false, req: '/', expect: '/svc/' },
  // base does not end with "/", strip_path = true
  { name: 'base "/svc", postfix "" -> base', base: '/svc', paths: ['/foo'], strip: true, req: '/foo', expect: '/svc' },
  { name: 'base "/svc", postfix "", U ends with "/" -> base + "/"', base: '/svc', paths: ['/foo/'], strip: true, req: '/foo/', expect: '/svc/' },
  { name: 'base "/svc", postfix "", U is "/" -> base', base: '/svc', paths: ['/'], strip: true, req: '/', expect: '/svc' },
  { name: 'base "/svc", postfix "/x" -> base + "/x"', base: '/svc', paths: ['/foo'], strip: true, req: '/foo/x', expect: '/svc/x' },
  { name: 'base "/svc", postfix "x" -> base + "/" + "x"', base: '/svc', paths: ['/foo'], strip: true, req: '/foox', expect: '/svc/x' },
  // base does not end with "/", strip_path = false
  { name: 'base "/svc", no strip, U "/" -> base', base: '/svc', paths: ['/'], strip: false, req: '/', expect: '/svc' },
  { name: 'base "/svc", no strip -> base + U', base: '/svc', paths: ['/foo'], strip: false, req: '/foo/x', expect: '/svc/foo/x' },
  // the reference example
  { name: 'reference: /v1 + /orders, strip', base: '/v1', paths: ['/orders'], strip: true, req: '/orders/7', expect: '/v1/7' },
  { name: 'reference: /v1 + /orders, no strip', base: '/v1', paths: ['/orders'], strip: false, req: '/orders/7', expect: '/v1/orders/7' },
  // service without a path, route without a service, route without paths
  { name: 'service.path null counts as "/"', base: null, paths: ['/foo'], strip: true, req: '/foo/x', expect: '/x' },
  { name: 'no service counts as "/"', base: undefined, paths: ['/foo'], strip: true, req: '/foo/x', expect: '/x' },
  { name: 'route without paths: prefix "/", strip', base: '/svc', paths: null, strip: true, req: '/foo', expect: '/svc/foo' },
  { name: 'route without paths: U "/"', base: '/svc', paths: null, strip: true, req: '/', expect: '/svc' },
  // regex strip: the whole match is the prefix
  { name: 'regex strip removes the whole match', base: '/v1', paths: ['~/orders/(?<id>\\d+)'], strip: true, req: '/orders/7/items', expect: '/v1/items' },
  { name: 'regex strip, match is the whole path', base: '/v1', paths: ['~/orders/\\d+'], strip: true, req: '/orders/7', expect: '/v1' },
  { name: 'regex strip, match ends mid-segment', base: '/v1/', paths: ['~/ord'], strip: true, req: '/orders', expect: '/v1/ers' },
  { name: 'regex, no strip', base: '/v1', paths: ['~/orders/\\d+'], strip: false, req: '/orders/7', expect: '/v1/orders/7' },
  // postfix sanitising
  { name: 'leftover "../" after a mid-segment prefix is dropped (Kong)', base: '/svc', paths: ['/p'], strip: true, req: '/p../x', expect: '/svc/x' },
  { name: 'leftover ".." alone is dropped (Kong)', base: '/svc', paths: ['/p'], strip: true, req: '/p..', expect: '/svc' },
  { name: 'leftover "./" is dropped (Kong)', base: '/svc', paths: ['/p'], strip: true, req: '/p./x', expect: '/svc/x' },
  { name: 'leftover "..%2F" is dropped (ours)', base: '/svc', paths: ['/p'], strip: true, req: '/p..%2Fadmin', expect: '/svc/admin' },
  { name: 'leftover "..;" piece is dropped (ours)', base: '/svc', paths: ['/p'], strip: true, req: '/p..;/admin', expect: '/svc/admin' },
  { name: 'leftover "%252e%252e%252f..." is dropped whole (ours)', base: '/svc', paths: ['/p'], strip: true, req: '/p%252e%252e%252fadmin', expect: '/svc' },
  { name: 'leftover "..." is a name and stays', base: '/svc', paths: ['/p'], strip: true, req: '/p.../x', expect: '/svc/.../x' },
  // v1
  { name: 'v1 strip, base "/svc/", postfix "/x"', base: '/svc/', paths: ['/foo'], strip: true, handling: 'v1', req: '/foo/x', expect: '/svc/x' },
  { name: 'v1 strip, base "/svc", postfix "x" glued', base: '/svc', paths: ['/foo'], strip: true, handling: 'v1', req: '/foox', expect: '/svcx' },
  { name: 'v1 strip, postfix ""', base: '/svc/', paths: ['/foo'], strip: true, handling: 'v1', req: '/foo', expect: '/svc/' },
  { name: 'v1 no strip, base + U[2:]', base: '/svc', paths: ['/foo'], strip: false, handling: 'v1', req: '/foo/x', expect: '/svcfoo/x' },
];

describe('upstreamPath', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const svc = row.base === undefined ? null : service('svc', row.base);
    const r: RouteConfig = route('r', {
      service: svc === null ? null : 'svc',
      paths: row.paths,
      hosts: row.paths === null ? ['example.com'] : null,
      strip_path: row.strip,
      path_handling: row.handling ?? 'v0',
    });
    const router = new Router([r], svc === null ? [] : [svc]);
    const path = normalizePath(row.req);
    expect(path).not.toBeNull();
    const m = router.match(request({ path: path! }));
    expect(m).not.toBeNull();
    expect(upstreamPath(m!.service, m!.route, m!, path!)).toBe(row.expect);
  });
});

describe('sanitizePostfix', () => {
  it.each([
    ['', ''],
    ['x', 'x'],
    ['/x', '/x'],
    ['.', ''],
    ['..', ''],
    ['./x', 'x'],
    ['../x', 'x'],
    ['..%2F..%2Fetc', 'etc'],
    ['..%5cx', 'x'],
    ['..\\x', 'x'],
    ['.hidden', '.hidden'],
    ['...', '...'],
    ['%41', '%41'],
    ['%C0%AE%C0%AE/x', 'x'],
    ['%C0%AE%C0%AE%C0%AFx', ''],
    ['%C3%A9/x', '%C3%A9/x'],
  ])('%j -> %j', (input, expected) => {
    expect(sanitizePostfix(input)).toBe(expected);
  });
});
