import { describe, expect, it } from 'vitest';
import { migratePath } from './migrate.js';
import { checkHost, checkRouteHost, checkRouterPath, checkServicePath, checkUpstreamName, checkWildcardHost, normalizePath, parseHostPort } from './validators.js';

describe('hosts', () => {
  it('parse names, IPv4 and IPv6 with optional ports', () => {
    expect(parseHostPort('api.example.com:8443')).toEqual({ kind: 'name', host: 'api.example.com', port: 8443 });
    expect(parseHostPort('10.0.0.1')).toEqual({ kind: 'ipv4', host: '10.0.0.1', port: null });
    expect(parseHostPort('[::1]:8000')).toEqual({ kind: 'ipv6', host: '::1', port: 8000 });
    expect(parseHostPort('::1')).toEqual({ kind: 'ipv6', host: '::1', port: null });
    expect(parseHostPort('a:99999')).toEqual({ error: 'invalid port number' });
    expect(parseHostPort('999.1.1.1')).toEqual({ error: 'invalid value: 999.1.1.1' });
    expect(parseHostPort('bad_host-.x')).toEqual({ error: 'invalid value: bad_host-.x' });
  });

  it('apply the rules of each field', () => {
    expect(checkHost('orders.internal')).toBeUndefined();
    expect(checkHost('orders.internal:80')).toBe('must not have a port');
    expect(checkRouteHost('*.example.com')).toBeUndefined();
    expect(checkRouteHost('example.*')).toBeUndefined();
    expect(checkRouteHost('api.example.com:8443')).toBeUndefined();
    expect(checkRouteHost('a.*.com')).toBe('invalid wildcard: must be placed at leftmost or rightmost label');
    expect(checkWildcardHost('10.0.0.1')).toBe('must not be an IP');
    expect(checkUpstreamName('10.0.0.1')).toBe('Invalid name; no ip addresses allowed');
    expect(checkUpstreamName('up:80')).toBe('Invalid name; no port allowed');
  });
});

describe('paths', () => {
  it("normalize like Kong's uri.normalize(path, true)", () => {
    expect(normalizePath('/a/./b/../c//d')).toBe('/a/c/d');
    expect(normalizePath('/%7Euser/%2F%41')).toBe('/~user/%2FA');
    expect(normalizePath('/caf%C3%A9')).toBe('/café');
  });

  it('check service and route paths', () => {
    expect(checkServicePath('/v1')).toBeUndefined();
    expect(checkServicePath('v1')).toBe('should start with: /');
    expect(checkServicePath('/a%zz')).toBe("invalid url-encoded value: '%zz'");
    expect(checkServicePath('/a b')).toBe("invalid path: '/a b' (characters outside of the reserved list of RFC 3986 found)");
    expect(checkRouterPath('/orders')).toBeUndefined();
    expect(checkRouterPath('/a/%41')).toBe("non-normalized path, consider use '/a/A' instead");
    expect(checkRouterPath('~/orders/(?<id>\\d+)$')).toBeUndefined();
    // RE2, like the Rust engine of Kong 3.x, has no look-around
    expect(checkRouterPath('~/(?=x)')).toMatch(/^invalid regex: '\/\(\?=x\)' \(RE2 returned: /);
  });

  it("migrate 2.x paths: regex-looking ones get '~'", () => {
    expect(migratePath('/users/\\d+')).toBe('~/users/\\d+');
    expect(migratePath('/v1/users')).toBe('/v1/users');
    expect(migratePath('/a/%2e/b')).toBe('/a/b');
    expect(migratePath('/x.%2D(y)')).toBe('~/x.\\-(y)');
  });
});
