/**
 * Where a bearer token is looked for (Kong's bearer_token_param_type), in this order:
 * - header: `Authorization: Bearer <token>` (RFC 6750 2.1), then the `access-token` and
 *   `x-access-token` headers (the token, optionally prefixed with `Bearer `);
 * - query: the `access_token` argument (RFC 6750 2.3), when given exactly once;
 * - cookie: the cookie named by bearer_token_cookie_name.
 * The first one found is used. Only RFC 6750 `b64token` characters are accepted, so a
 * repeated Authorization header (joined with ", ") is never mistaken for a token.
 */
import type { RequestContext } from '../../http/request-context.js';

export type TokenSource = 'authorization' | 'access-token' | 'x-access-token' | 'query' | 'cookie';

export interface FoundToken {
  readonly token: string;
  readonly source: TokenSource;
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const BEARER = /^[ \t]*bearer[ \t]+([^ \t]+)[ \t]*$/i;
export const QUERY_ARG = 'access_token';

function fromPrefixed(value: string | undefined): string | null {
  if (value === undefined) return null;
  const m = BEARER.exec(value);
  const token = m !== null ? m[1]! : value.trim();
  return B64TOKEN.test(token) ? token : null;
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return B64TOKEN.test(v) ? v : null;
  }
  return null;
}

export function findToken(ctx: RequestContext, where: readonly string[], cookieName: string | null): FoundToken | null {
  const h = ctx.headers;
  if (where.includes('header')) {
    const auth = h['authorization'];
    if (auth !== undefined) {
      const m = BEARER.exec(auth);
      if (m !== null && B64TOKEN.test(m[1]!)) return { token: m[1]!, source: 'authorization' };
    }
    const a = fromPrefixed(h['access-token']);
    if (a !== null) return { token: a, source: 'access-token' };
    const x = fromPrefixed(h['x-access-token']);
    if (x !== null) return { token: x, source: 'x-access-token' };
  }
  if (where.includes('query') && ctx.query !== '') {
    const q = ctx.queryArgs()[QUERY_ARG];
    if (typeof q === 'string' && B64TOKEN.test(q)) return { token: q, source: 'query' };
  }
  if (where.includes('cookie') && cookieName !== null) {
    const c = cookieValue(h['cookie'], cookieName);
    if (c !== null) return { token: c, source: 'cookie' };
  }
  return null;
}

/** hide_credentials: removes the token from where it was found, before the request goes upstream. */
export function hideToken(ctx: RequestContext, found: FoundToken, cookieName: string | null): void {
  switch (found.source) {
    case 'query':
      ctx.removeQueryArg(QUERY_ARG);
      return;
    case 'cookie': {
      const kept = (ctx.headers['cookie'] ?? '')
        .split(';')
        .filter((part) => {
          const eq = part.indexOf('=');
          return part.trim() !== '' && (eq < 0 || part.slice(0, eq).trim() !== cookieName);
        })
        .map((p) => p.trim());
      ctx.setHeader('cookie', kept.length > 0 ? kept.join('; ') : null);
      return;
    }
    default:
      ctx.setHeader(found.source, null);
  }
}
