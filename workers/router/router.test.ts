/**
 * Routing matrix: Kong 3.x traditional_compatible semantics, one row per rule. Each row is
 * config routes -> request -> expected route name (null = 404), optionally the captures,
 * matched path and protocol-mismatch flag. Every row runs twice, with and without the LRU,
 * and the cached run asks twice so the second answer comes from the cache.
 */
import { describe, expect, it } from 'vitest';
import type { RouteConfig, ServiceConfig } from '../../src/config/types.js';
import { normalizePath } from './normalize-path.js';
import { Router } from './router.js';
import { request, route, service } from './test-helpers.js';
import { RouterConfigError, type MatchInput } from './types.js';

interface Case {
  name: string;
  routes: RouteConfig[];
  req: Partial<MatchInput>;
  /** Route name, or null for no match. */
  expect: string | null;
  captures?: Record<string, string> | null;
  matchedPath?: string;
  mismatch?: boolean;
  services?: ServiceConfig[];
}

const SVC = [service('svc')];

const cases: Case[] = [
  // --- prefix paths -----------------------------------------------------------------------
  { name: 'prefix matches below it', routes: [route('api', { paths: ['/api'] })], req: { path: '/api/users' }, expect: 'api', matchedPath: '/api' },
  { name: 'prefix is not segment-aware: /p matches /pa', routes: [route('p', { paths: ['/p'] })], req: { path: '/pa' }, expect: 'p' },
  { name: 'prefix longer than the path does not match', routes: [route('api', { paths: ['/api'] })], req: { path: '/ap' }, expect: null },
  { name: 'paths are case-sensitive', routes: [route('api', { paths: ['/api'] })], req: { path: '/API' }, expect: null },
  {
    name: 'longer prefix wins',
    routes: [route('short', { paths: ['/api'] }), route('long', { paths: ['/api/v1'] })],
    req: { path: '/api/v1/x' },
    expect: 'long',
  },
  {
    name: 'longer prefix wins whatever the config order',
    routes: [route('long', { paths: ['/api/v1'] }), route('short', { paths: ['/api'] })],
    req: { path: '/api/v1/x' },
    expect: 'long',
  },
  {
    name: 'shorter prefix still serves what the longer does not cover',
    routes: [route('long', { paths: ['/api/v1'] }), route('short', { paths: ['/api'] })],
    req: { path: '/api/v2' },
    expect: 'short',
  },
  { name: 'prefix "/" catches everything', routes: [route('root', { paths: ['/'] })], req: { path: '/anything/at/all' }, expect: 'root' },

  // --- regex paths --------------------------------------------------------------------------
  {
    name: 'regex beats a longer prefix',
    routes: [route('prefix', { paths: ['/api/users/list'] }), route('regex', { paths: ['~/api/\\w+'] })],
    req: { path: '/api/users/list' },
    expect: 'regex',
  },
  { name: 'regex is anchored at the start', routes: [route('re', { paths: ['~/users'] })], req: { path: '/x/users' }, expect: null },
  { name: 'regex is not anchored at the end', routes: [route('re', { paths: ['~/users'] })], req: { path: '/users/1' }, expect: 're', matchedPath: '/users' },
  { name: 'regex with $ needs the whole path', routes: [route('re', { paths: ['~/users$'] })], req: { path: '/users/1' }, expect: null },
  {
    name: 'top-level alternation stays anchored',
    routes: [route('re', { paths: ['~/a|/b'] })],
    req: { path: '/x/b' },
    expect: null,
  },
  {
    name: 'named and numbered captures',
    routes: [route('orders', { paths: ['~/orders/(?<id>\\d+)/(\\w+)'] })],
    req: { path: '/orders/42/items/9' },
    expect: 'orders',
    matchedPath: '/orders/42/items',
    captures: { '0': '/orders/42/items', '1': '42', '2': 'items', id: '42' },
  },
  {
    name: 'optional group that did not take part is absent',
    routes: [route('opt', { paths: ['~/v(\\d)?/(?<rest>x)'] })],
    req: { path: '/v/x' },
    expect: 'opt',
    captures: { '0': '/v/x', '2': 'x', rest: 'x' },
  },
  {
    name: 'groups that all sat out leave no captures (Kong has_capture)',
    routes: [route('opt', { paths: ['~/v(\\d)?'] })],
    req: { path: '/v' },
    expect: 'opt',
    captures: null,
  },
  { name: 'regex without groups has no captures', routes: [route('re', { paths: ['~/files/\\d+'] })], req: { path: '/files/7' }, expect: 're', captures: null },
  {
    name: 'higher regex_priority wins',
    routes: [route('low', { paths: ['~/a/\\d+'], regex_priority: 1 }), route('high', { paths: ['~/a/.*'], regex_priority: 5 })],
    req: { path: '/a/1' },
    expect: 'high',
  },
  {
    name: 'negative regex_priority ranks below the default',
    routes: [route('neg', { paths: ['~/a'], regex_priority: -1 }), route('zero', { paths: ['~/a'] })],
    req: { path: '/a' },
    expect: 'zero',
  },
  {
    name: 'regex_priority does not lift a regex over a route with more fields',
    routes: [route('re', { paths: ['~/a'], regex_priority: 100 }), route('hosted', { paths: ['/a'], hosts: ['example.com'] })],
    req: { path: '/a' },
    expect: 'hosted',
  },

  // --- field count, hosts -------------------------------------------------------------------
  {
    name: 'more fields wins (methods + paths over paths)',
    routes: [route('paths', { paths: ['/api'] }), route('paths+methods', { paths: ['/api'], methods: ['GET'] })],
    req: { path: '/api', method: 'GET' },
    expect: 'paths+methods',
  },
  {
    name: 'falls back to fewer fields when the richer route does not match',
    routes: [route('paths', { paths: ['/api'] }), route('paths+methods', { paths: ['/api'], methods: ['GET'] })],
    req: { path: '/api', method: 'POST' },
    expect: 'paths',
  },
  {
    name: 'a host on "/" outranks a long path alone (field count first)',
    routes: [route('long-path', { paths: ['/a/very/long/path'] }), route('host', { hosts: ['example.com'], paths: ['/'] })],
    req: { path: '/a/very/long/path' },
    expect: 'host',
  },
  {
    name: 'plain host beats wildcard host',
    routes: [route('wild', { hosts: ['*.example.com'] }), route('plain', { hosts: ['api.example.com'] })],
    req: { host: 'api.example.com' },
    expect: 'plain',
  },
  {
    name: 'plain host beats wildcard even with a shorter path',
    routes: [route('wild', { hosts: ['*.example.com'], paths: ['/api/v1'] }), route('plain', { hosts: ['api.example.com'], paths: ['/'] })],
    req: { host: 'api.example.com', path: '/api/v1/x' },
    expect: 'plain',
  },
  { name: 'wildcard suffix matches a subdomain', routes: [route('wild', { hosts: ['*.example.com'] })], req: { host: 'a.b.example.com' }, expect: 'wild' },
  { name: 'wildcard suffix does not match the bare domain', routes: [route('wild', { hosts: ['*.example.com'] })], req: { host: 'example.com' }, expect: null },
  { name: 'wildcard prefix matches any TLD', routes: [route('wild', { hosts: ['example.*'] })], req: { host: 'example.org' }, expect: 'wild' },
  { name: 'wildcard prefix needs the label boundary', routes: [route('wild', { hosts: ['example.*'] })], req: { host: 'examples.org' }, expect: null },
  { name: 'host:port matches that port', routes: [route('hp', { hosts: ['example.com:8443'] })], req: { port: 8443 }, expect: 'hp' },
  { name: 'host:port does not match another port', routes: [route('hp', { hosts: ['example.com:8443'] })], req: { port: 80 }, expect: null },
  { name: 'host entries are case-insensitive', routes: [route('h', { hosts: ['API.Example.COM'] })], req: { host: 'api.example.com' }, expect: 'h' },
  {
    name: 'one of several hosts',
    routes: [route('multi', { hosts: ['a.com', '*.b.com', 'c.*'] })],
    req: { host: 'x.b.com' },
    expect: 'multi',
  },
  { name: 'route without paths matches any path', routes: [route('h', { hosts: ['example.com'] })], req: { path: '/deep/x' }, expect: 'h', matchedPath: '/' },

  // --- methods, headers ---------------------------------------------------------------------
  { name: 'method mismatch is a 404', routes: [route('get', { methods: ['GET'], paths: ['/'] })], req: { method: 'POST' }, expect: null },
  { name: 'one of several methods', routes: [route('rw', { methods: ['GET', 'PUT'] })], req: { method: 'PUT' }, expect: 'rw' },
  {
    name: 'header value is case-insensitive',
    routes: [route('v2', { headers: { 'x-version': ['V2'] } })],
    req: { headers: { 'x-version': 'v2' } },
    expect: 'v2',
  },
  {
    name: 'header values are ORed',
    routes: [route('v', { headers: { 'x-version': ['1', '2'] } })],
    req: { headers: { 'x-version': '2' } },
    expect: 'v',
  },
  {
    name: 'headers are ANDed',
    routes: [route('both', { headers: { 'x-a': ['1'], 'x-b': ['1'] } })],
    req: { headers: { 'x-a': '1' } },
    expect: null,
  },
  {
    name: 'repeated header: each comma-separated element is tried',
    routes: [route('v', { headers: { 'x-version': ['2'] } })],
    req: { headers: { 'x-version': '1, 2' } },
    expect: 'v',
  },
  {
    name: 'repeated header: the whole joined value is tried too',
    routes: [route('v', { headers: { 'x-tags': ['a, b'] } })],
    req: { headers: { 'x-tags': 'a, b' } },
    expect: 'v',
  },
  {
    name: '~* header regex, case-insensitive and unanchored',
    routes: [route('mobile', { headers: { 'user-agent': ['~*mobile'] } })],
    req: { headers: { 'user-agent': 'Foo Mobile-App/1.0' } },
    expect: 'mobile',
  },
  {
    name: '~* header regex keeps \\D meaning (Kong would lowercase it to \\d)',
    routes: [route('nondigit', { headers: { 'x-id': ['~*^\\D+$'] } })],
    req: { headers: { 'x-id': 'abc' } },
    expect: 'nondigit',
  },
  {
    name: 'more headers wins',
    routes: [
      route('one', { headers: { 'x-a': ['1'] } }),
      route('two', { headers: { 'x-a': ['1'], 'x-b': ['1'] } }),
    ],
    req: { headers: { 'x-a': '1', 'x-b': '1' } },
    expect: 'two',
  },
  {
    name: 'header route wins when the header is present',
    routes: [route('plain', { paths: ['/api'] }), route('canary', { paths: ['/api'], headers: { 'x-canary': ['yes'] } })],
    req: { path: '/api', headers: { 'x-canary': 'yes' } },
    expect: 'canary',
  },
  {
    name: 'header route is skipped when the header is absent',
    routes: [route('plain', { paths: ['/api'] }), route('canary', { paths: ['/api'], headers: { 'x-canary': ['yes'] } })],
    req: { path: '/api' },
    expect: 'plain',
  },

  {
    name: 'a header named like an Object.prototype key is never inherited',
    routes: [route('c', { headers: { constructor: ['x'] } })],
    req: { headers: {} },
    expect: null,
  },

  // --- protocols, snis ----------------------------------------------------------------------
  {
    name: 'https-only route over http: matched with protocolMismatch',
    routes: [route('secure', { protocols: ['https'], paths: ['/'] })],
    req: { scheme: 'http' },
    expect: 'secure',
    mismatch: true,
  },
  {
    name: 'https-only route over https: no mismatch',
    routes: [route('secure', { protocols: ['https'], paths: ['/'] })],
    req: { scheme: 'https', sni: 'example.com' },
    expect: 'secure',
    mismatch: false,
  },
  {
    name: 'protocols are not a match condition: the https-only route still wins over http',
    routes: [route('plain', { protocols: ['http'], paths: ['/'] }), route('secure', { protocols: ['https'], paths: ['/api'] })],
    req: { path: '/api', scheme: 'http' },
    expect: 'secure',
    mismatch: true,
  },
  {
    name: 'http-only route over https is served (Kong only redirects towards https)',
    routes: [route('plain', { protocols: ['http'], paths: ['/'] })],
    req: { scheme: 'https', sni: 'example.com' },
    expect: 'plain',
    mismatch: false,
  },
  {
    name: 'snis are ignored over http',
    routes: [route('sni', { protocols: ['http', 'https'], snis: ['a.com'], paths: ['/'] })],
    req: { scheme: 'http' },
    expect: 'sni',
  },
  {
    name: 'snis are checked over https',
    routes: [route('sni', { snis: ['a.com'], paths: ['/'] })],
    req: { scheme: 'https', sni: 'b.com' },
    expect: null,
  },
  {
    name: 'wildcard sni, trailing dot ignored',
    routes: [route('sni', { snis: ['*.a.com'], paths: ['/'] })],
    req: { scheme: 'https', sni: 'X.A.com.' },
    expect: 'sni',
  },
  {
    name: 'https without an SNI: snis not checked',
    routes: [route('sni', { snis: ['a.com'], paths: ['/'] })],
    req: { scheme: 'https', sni: null },
    expect: 'sni',
  },
  { name: 'stream routes are not HTTP routes', routes: [route('tcp', { protocols: ['tcp'], snis: ['a.com'] })], req: {}, expect: null },
  { name: 'grpc routes are HTTP-subsystem routes', routes: [route('grpc', { protocols: ['grpc'], paths: ['/pkg.Svc'] })], req: { path: '/pkg.Svc/Call' }, expect: 'grpc' },

  // --- tie-break, split routes --------------------------------------------------------------
  {
    name: 'tie-break: config order, first wins',
    routes: [route('first', { paths: ['/same'] }), route('second', { paths: ['/same'] })],
    req: { path: '/same' },
    expect: 'first',
  },
  {
    name: 'tie-break: config order, reversed',
    routes: [route('second', { paths: ['/same'] }), route('first', { paths: ['/same'] })],
    req: { path: '/same' },
    expect: 'second',
  },
  {
    name: 'tie-break between different paths of equal length',
    routes: [route('a', { paths: ['/a'] }), route('b', { paths: ['/a', '/b'] })],
    req: { path: '/a' },
    expect: 'a',
  },
  {
    name: 'split route: its long prefix is ranked by its own length',
    routes: [route('x', { paths: ['/a', '/abcdef'] }), route('y', { paths: ['/abc'] })],
    req: { path: '/abcdefg' },
    expect: 'x',
    matchedPath: '/abcdef',
  },
  {
    name: 'split route: its short prefix is ranked by its own length',
    routes: [route('x', { paths: ['/a', '/abcdef'] }), route('y', { paths: ['/abc'] })],
    req: { path: '/abcd' },
    expect: 'y',
  },
  {
    name: 'split route: the regex part carries REGEX_URL',
    routes: [route('x', { paths: ['/z', '~/y\\d'] }), route('y', { paths: ['/y1/long/prefix'] })],
    req: { path: '/y1/long/prefix' },
    expect: 'x',
    matchedPath: '/y1',
  },
  {
    name: 'split route: the prefix part does not get REGEX_URL',
    routes: [route('x', { paths: ['/y', '~/q'] }), route('y', { paths: ['/y1'] })],
    req: { path: '/y1' },
    expect: 'y',
  },
  {
    name: 'several regexes in one route: the first (config order) gives the captures',
    routes: [route('x', { paths: ['~/(?<a>a)', '~/(?<b>a)'] })],
    req: { path: '/a' },
    expect: 'x',
    captures: { '0': '/a', '1': 'a', a: 'a' },
  },

  // --- services -----------------------------------------------------------------------------
  {
    name: 'routes of a disabled service are left out',
    routes: [route('off', { service: 'off', paths: ['/'] })],
    services: [service('off', null, { enabled: false })],
    req: {},
    expect: null,
  },
  { name: 'a route without a service still routes', routes: [route('bare', { service: null, paths: ['/'] })], req: {}, expect: 'bare' },
];

function check(router: Router, c: Case): void {
  const m = router.match(request(c.req));
  if (c.expect === null) {
    expect(m).toBeNull();
    return;
  }
  expect(m?.route.name).toBe(c.expect);
  if (c.captures !== undefined) expect(m?.captures === null ? null : { ...m?.captures }).toEqual(c.captures);
  if (c.matchedPath !== undefined) expect(m?.matchedPath).toBe(c.matchedPath);
  if (c.mismatch !== undefined) expect(m?.protocolMismatch).toBe(c.mismatch);
}

describe('routing matrix (Kong traditional_compatible)', () => {
  it('has at least 40 rows', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  describe.each([
    ['uncached', 0],
    ['cached', 5000],
  ])('%s', (_label, cacheSize) => {
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const router = new Router(c.routes, c.services ?? SVC, { cacheSize });
      check(router, c);
      check(router, c); // second answer from the LRU when cached
    });
  });
});

describe('normalisation interplay', () => {
  const router = new Router(
    [route('a', { paths: ['/a'] }), route('b', { paths: ['/b'] }), route('admin', { paths: ['/admin'] })],
    SVC,
  );
  const routeFor = (raw: string): string | null | undefined => {
    const path = normalizePath(raw);
    if (path === null) return undefined; // 400
    return router.match(request({ path }))?.route.name ?? null;
  };

  it.each([
    ['/a/../b', 'b'],
    ['/a/%2e%2e/b', 'b'],
    ['/a/./../b', 'b'],
    ['/a//x', 'a'],
    ['/%61', 'a'], // %61 is "a", unreserved
  ])('%s routes to %s', (raw, expected) => {
    expect(routeFor(raw)).toBe(expected);
  });

  it('/a/../b never matches /a', () => {
    expect(routeFor('/a/../b')).not.toBe('a');
  });

  it('an encoded slash is not a segment boundary', () => {
    const r = new Router([route('ab', { paths: ['/a/b'] }), route('a', { paths: ['/a'] })], SVC);
    expect(r.match(request({ path: normalizePath('/a%2Fb')! }))?.route.name).toBe('a');
  });

  it('traversal in disguise is refused before routing', () => {
    for (const raw of ['/a/..%2Fadmin', '/a/..\\admin', '/a/..;/admin', '/a/%252e%252e/admin']) {
      expect(routeFor(raw)).toBeUndefined();
    }
  });
});

describe('cache correctness', () => {
  it('same path, different host: different results, also from the cache', () => {
    const router = new Router(
      [route('a', { hosts: ['a.com'], paths: ['/x'] }), route('b', { hosts: ['b.com'], paths: ['/x'] })],
      SVC,
    );
    for (let i = 0; i < 3; i++) {
      expect(router.match(request({ host: 'a.com', path: '/x' }))?.route.name).toBe('a');
      expect(router.match(request({ host: 'b.com', path: '/x' }))?.route.name).toBe('b');
      expect(router.match(request({ host: 'c.com', path: '/x' }))).toBeNull();
    }
  });

  it('header-based routes: the header value is part of the key', () => {
    const router = new Router(
      [route('default', { paths: ['/api'] }), route('prod', { paths: ['/api'], headers: { 'x-env': ['prod'] } })],
      SVC,
    );
    const seq: Array<[Record<string, string>, string]> = [
      [{ 'x-env': 'prod' }, 'prod'],
      [{}, 'default'],
      [{ 'x-env': 'prod' }, 'prod'],
      [{ 'x-env': 'staging' }, 'default'],
      [{ 'x-env': 'staging, prod' }, 'prod'],
      [{ 'x-env': '' }, 'default'],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [headers, expected] of seq) expect(router.match(request({ path: '/api', headers }))?.route.name).toBe(expected);
    }
    expect(router.keyFields.headers).toEqual(['x-env']);
  });

  it('a negative answer is not reused once the distinguishing header appears', () => {
    const router = new Router([route('h', { headers: { 'x-key': ['1'] } })], SVC);
    expect(router.match(request({ path: '/p' }))).toBeNull();
    expect(router.match(request({ path: '/p', headers: { 'x-key': '1' } }))?.route.name).toBe('h');
    expect(router.match(request({ path: '/p' }))).toBeNull();
  });

  it('the key only holds fields some route uses', () => {
    const pathsOnly = new Router([route('p', { paths: ['/p'] })], SVC);
    expect(pathsOnly.keyFields).toEqual({ method: false, host: false, port: false, scheme: false, sni: false, headers: [] });
    const rich = new Router(
      [route('r', { paths: ['/p'], methods: ['GET'], hosts: ['a.com:8080'], snis: ['a.com'], headers: { 'x-b': ['1'], 'x-a': ['1'] } })],
      SVC,
    );
    expect(rich.keyFields).toEqual({ method: true, host: true, port: true, scheme: true, sni: true, headers: ['x-a', 'x-b'] });
    // Unused headers never reach the key: two requests differing only in them share an entry.
    const r = pathsOnly.match(request({ path: '/p', headers: { 'x-random': 'a' } }));
    expect(pathsOnly.match(request({ path: '/p', headers: { 'x-random': 'b' } }))).toBe(r);
  });

  it('method and scheme split the key when routes use them', () => {
    const router = new Router(
      [route('get', { methods: ['GET'], paths: ['/'] }), route('secure', { protocols: ['https'], paths: ['/s'] })],
      SVC,
    );
    expect(router.match(request({ method: 'GET', path: '/x' }))?.route.name).toBe('get');
    expect(router.match(request({ method: 'POST', path: '/x' }))).toBeNull();
    // POST: the GET route (two fields) would otherwise outrank the https-only one.
    expect(router.match(request({ method: 'POST', path: '/s', scheme: 'http' }))?.protocolMismatch).toBe(true);
    expect(router.match(request({ method: 'POST', path: '/s', scheme: 'https' }))?.protocolMismatch).toBe(false);
    expect(router.match(request({ method: 'POST', path: '/s', scheme: 'http' }))?.protocolMismatch).toBe(true);
  });

  it('a NUL inside a value bypasses the cache instead of forging a key', () => {
    const router = new Router(
      [route('a', { headers: { 'x-a': ['1'] } }), route('ab', { headers: { 'x-a': ['1'], 'x-b': ['2'] } })],
      SVC,
    );
    // Without the guard, x-a "1\0v2" + x-b absent could collide with x-a "1" + x-b "2".
    expect(router.match(request({ headers: { 'x-a': '1\0v2' } }))).toBeNull();
    expect(router.match(request({ headers: { 'x-a': '1', 'x-b': '2' } }))?.route.name).toBe('ab');
    expect(router.match(request({ headers: { 'x-a': '1\0v2' } }))).toBeNull();
  });

  it('stays correct when the LRU evicts', () => {
    const router = new Router([route('a', { paths: ['/a'] }), route('b', { paths: ['/b'] })], SVC, { cacheSize: 1 });
    for (let i = 0; i < 5; i++) {
      expect(router.match(request({ path: `/a/${i}` }))?.route.name).toBe('a');
      expect(router.match(request({ path: `/b/${i}` }))?.route.name).toBe('b');
      expect(router.match(request({ path: `/c/${i}` }))).toBeNull();
    }
  });

  it('over-long keys are routed uncached', () => {
    const router = new Router([route('a', { paths: ['/a'] })], SVC, { maxCacheKeyLength: 16 });
    const path = `/a/${'x'.repeat(100)}`;
    expect(router.match(request({ path }))?.route.name).toBe('a');
    expect(router.match(request({ path }))?.route.name).toBe('a');
  });

  it('cached results are frozen so one request cannot alter another', () => {
    const router = new Router([route('re', { paths: ['~/(?<id>\\d+)'] })], SVC);
    const m = router.match(request({ path: '/12' }))!;
    expect(Object.isFrozen(m)).toBe(true);
    expect(Object.isFrozen(m.captures)).toBe(true);
    expect(Object.getPrototypeOf(m.captures)).toBeNull();
  });
});

describe('index scale', () => {
  it('many regex routes go through an RE2.Set and keep Kong order', () => {
    const routes = Array.from({ length: 20 }, (_, i) => route(`r${i}`, { paths: [`~/items/${i}(/|$)`], regex_priority: i % 3 }));
    routes.push(route('catch', { paths: ['~/items/'], regex_priority: 1 }));
    const router = new Router(routes, SVC, { cacheSize: 0 });
    expect(router.match(request({ path: '/items/5' }))?.route.name).toBe('r5'); // priority 2 beats catch's 1
    expect(router.match(request({ path: '/items/3' }))?.route.name).toBe('catch'); // r3 has 0, catch 1
    expect(router.match(request({ path: '/items/4' }))?.route.name).toBe('r4'); // both 1: config order
    expect(router.match(request({ path: '/items/99' }))?.route.name).toBe('catch');
  });

  it('thousands of hosts: each request sees its own', () => {
    const routes = Array.from({ length: 3000 }, (_, i) => route(`h${i}`, { hosts: [`tenant${i}.example.com`], paths: ['/'] }));
    routes.push(route('wild', { hosts: ['*.example.com'], paths: ['/'] }));
    const router = new Router(routes, SVC, { cacheSize: 0 });
    expect(router.match(request({ host: 'tenant2999.example.com', path: '/x' }))?.route.name).toBe('h2999');
    expect(router.match(request({ host: 'other.example.com', path: '/x' }))?.route.name).toBe('wild');
    expect(router.match(request({ host: 'example.org', path: '/x' }))).toBeNull();
  });
});

describe('priority value', () => {
  it('matches Kong bit layout for a plain route', () => {
    const router = new Router([route('r', { methods: ['GET'], hosts: ['a.com'], paths: ['/abc'], headers: { 'x-a': ['1'] } })], SVC);
    const weight = 4n; // methods, hosts, headers, paths
    const expected = (weight << 61n) | (1n << 60n) | (1n << 52n) | 4n;
    expect(router.describe()[0]!.priority).toBe(expected);
  });

  it('describe() lists split parts in the order they win', () => {
    const router = new Router([route('x', { paths: ['/a', '/abc', '~/r'] }), route('y', { paths: ['/ab'] })], SVC);
    expect(router.describe().map((d) => `${d.route.name}:${d.paths!.join(',')}`)).toEqual(['x:~/r', 'x:/abc', 'y:/ab', 'x:/a']);
  });
});

describe('config errors', () => {
  it.each([
    ['unknown service', route('r', { service: 'nope', paths: ['/'] })],
    ['invalid regex path', route('r', { paths: ['~/(unclosed'] })],
    ['look-behind is not RE2', route('r', { paths: ['~/(?<=a)b'] })],
    ['invalid header regex', route('r', { headers: { 'x-a': ['~*('] } })],
    ['prefix path not normalised', route('r', { paths: ['/a/../b'] })],
    ['prefix path with lowercase escape', route('r', { paths: ['/a%2fb'] })],
    ['wildcard in the middle of a host', route('r', { hosts: ['a.*.com'] })],
    ['route with nothing to match on', route('r', {})],
  ])('%s', (_name, r) => {
    expect(() => new Router([r], SVC)).toThrow(RouterConfigError);
  });
});
