import { describe, expect, it } from 'vitest';
import { normalizePath } from './normalize-path.js';

/** raw path -> normalised path, or null for a 400. */
const table: Array<[string, string | null, string]> = [
  // untouched
  ['/', '/', 'root'],
  ['/api/v1/users', '/api/v1/users', 'plain path'],
  ['/file.json', '/file.json', 'dot inside a segment'],
  ['/.well-known/acme', '/.well-known/acme', 'segment starting with a dot'],
  ['/a/...', '/a/...', 'three dots is a name, not a dot segment'],
  ['/a;b/c', '/a;b/c', '";" params are left alone'],
  ['/a\\b', '/a\\b', 'backslash is a segment character, not a separator'],
  ['/a/', '/a/', 'trailing slash kept'],
  // percent-decoding: unreserved only, hex upper-cased otherwise
  ['/%41%7a%30%2D%2e%5F%7E', '/Az0-._~', 'unreserved characters decoded'],
  ['/a%2fb', '/a%2Fb', 'encoded slash stays encoded, hex upper-cased'],
  ['/a%3fb%23c', '/a%3Fb%23c', 'encoded ? and # stay encoded'],
  ['/a%20b', '/a%20b', 'encoded space stays encoded'],
  ['/100%25', '/100%25', 'encoded percent stays encoded'],
  ['/%c3%a9', '/%C3%A9', 'non-ASCII bytes stay encoded'],
  ['/%2F%2Fevil.com', '/%2F%2Fevil.com', 'encoded double slash is not merged'],
  // dot segments (RFC 3986 5.2.4) and slash merging
  ['/a/./b', '/a/b', 'single dot removed'],
  ['/a/../b', '/b', 'double dot pops'],
  ['/a/b/..', '/a/', 'trailing double dot keeps the directory slash'],
  ['/a/.', '/a/', 'trailing dot keeps the directory slash'],
  ['/..', '/', 'climbing above root is clamped'],
  ['/../../a', '/a', 'climbing above root is clamped, rest kept'],
  ['/a/b/../../../../c', '/c', 'deep climb clamped'],
  ['/a//b', '/a/b', 'double slash merged'],
  ['//a', '/a', 'leading double slash merged (no scheme-relative smuggling)'],
  ['/a///', '/a/', 'trailing slashes merged'],
  ['/a/..//b', '/b', 'pop then merge'],
  ['/%2e%2e/a', '/a', 'encoded dots are dots'],
  ['/a/%2E/b', '/a/b', 'encoded single dot'],
  // traversal attempts against a route on /public
  ['/public/%2e%2e/admin', '/admin', '%2e%2e is .. (routes as /admin, not /public)'],
  ['/public/%2E./admin', '/admin', 'mixed encoded dot'],
  ['/public/./../admin', '/admin', 'dot then dot-dot'],
  ['/public/..%2Fadmin', null, '..%2F: a dot segment once the upstream decodes %2F'],
  ['/public/..%2fadmin', null, '..%2f lower case'],
  ['/public/.%2Fadmin', null, '.%2F'],
  ['/public/..%5Cadmin', null, '..%5C: encoded backslash'],
  ['/public/..\\admin', null, '..\\: backslash as separator upstream'],
  ['/public\\..\\admin', null, 'backslash-separated traversal inside one segment'],
  ['/public/..;/admin', null, '..;: Tomcat-style path parameter'],
  ['/public/..;jsessionid=1/admin', null, '..;param'],
  ['/public/.;x/admin', null, '.;param'],
  ['/public/%252e%252e/admin', null, 'double-encoded dots'],
  ['/public/%252e%252e%252fadmin', null, 'double-encoded dots and slash'],
  ['/public/%25252e%25252e/admin', null, 'triple-encoded dots'],
  ['/public/%2525252e%2525252e/admin', null, 'encoded too deeply to tell'],
  ['/public/x..;/admin', '/public/x..;/admin', '"x.." is a name even before ";"'],
  ['/public/%252e/x', null, 'double-encoded single dot'],
  ['/public/%c0%ae%c0%ae/admin', null, 'overlong UTF-8 dots (C0 AE)'],
  ['/public/..%c0%afadmin', null, 'overlong UTF-8 slash (C0 AF)'],
  ['/public/..%c1%9cadmin', null, 'overlong UTF-8 backslash (C1 9C)'],
  ['/public/%e0%80%ae%e0%80%ae/admin', null, '3-byte overlong dots'],
  ['/public/%f0%80%80%ae%f0%80%80%ae/admin', null, '4-byte overlong dots'],
  ['/public/%25c0%25ae%25c0%25ae/admin', null, 'double-encoded overlong dots'],
  ['/public/%c0%ae/x', null, 'overlong single dot'],
  ['/public/%c0%aex/y', '/public/%C0%AEx/y', 'overlong dot inside a name is a name'],
  ['/%c3%a9t%c3%a9/..', '/', 'valid UTF-8 is left alone'],
  // malformed
  ['/a%zz', null, 'invalid hex'],
  ['/a%4', null, 'truncated escape'],
  ['/a%', null, 'lone percent'],
  ['/a%00b', null, 'encoded NUL'],
  ['/a%0d%0aSet-Cookie:x', null, 'encoded CR LF'],
  ['/a%7f', null, 'encoded DEL'],
  ['/a\u0000b', null, 'raw NUL'],
  ['/a\tb', null, 'raw control character'],
  ['/a/.\u0001', null, 'raw control character on the slow path'],
  ['a/b', null, 'relative path'],
  ['', null, 'empty'],
  ['*', null, 'asterisk-form'],
  ['http://example.com/a', null, 'absolute-form'],
];

describe('normalizePath', () => {
  it.each(table)('%s -> %s (%s)', (raw, expected) => {
    expect(normalizePath(raw)).toBe(expected);
  });

  it.each(table.filter(([, out]) => out !== null))('is idempotent on %s', (raw) => {
    const once = normalizePath(raw)!;
    expect(normalizePath(once)).toBe(once);
  });

  it('never returns a path with a dot segment or "//"', () => {
    for (const [raw] of table) {
      const out = normalizePath(raw);
      if (out === null) continue;
      expect(out.startsWith('/')).toBe(true);
      expect(out.split('/').slice(1, -1)).not.toContain('');
      expect(out.split('/')).not.toContain('..');
      expect(out.split('/')).not.toContain('.');
    }
  });
});
