/**
 * Where a JWT may come from, in Kong's order (kong/plugins/jwt/handler.lua retrieve_tokens):
 * the query arguments in `uri_param_names`, the cookies in `cookie_names`, then the headers
 * in `header_names` as `Bearer <token>`. Every non-empty value found goes into a set:
 * one distinct token is the token, several distinct ones are "Multiple tokens provided"
 * (the same token sent twice is fine).
 *
 * One difference, on purpose: Kong reads only the first of a repeated header. Here every
 * occurrence counts, so `Authorization` sent twice with two different tokens is refused
 * instead of silently picking one (uWS shows us both; see stack-facts).
 */
import type { RequestContext } from '../../http/request-context.js';

export const NO_TOKEN = 0;
export const MULTIPLE_TOKENS = 1;
/** A bare `?jwt` flag: Kong's query parser gives `true`, which its handler calls "Unrecognizable token". */
export const UNRECOGNIZABLE = 2;
export type TokenSearch = string | typeof NO_TOKEN | typeof MULTIPLE_TOKENS | typeof UNRECOGNIZABLE;

export interface TokenSources {
  readonly uriParams: readonly string[];
  /** Lowercased: nginx's $cookie_<name> matches names case-insensitively. */
  readonly cookies: readonly string[];
  /** Lowercased, as our request headers are. */
  readonly headers: readonly string[];
}

export function tokenSources(uriParamNames: readonly string[], cookieNames: readonly string[], headerNames: readonly string[]): TokenSources {
  return {
    uriParams: [...uriParamNames],
    cookies: [...new Set(cookieNames.map((n) => n.toLowerCase()))],
    headers: [...new Set(headerNames.map((n) => n.toLowerCase()))],
  };
}

/**
 * Kong's `\s*[Bb]earer\s+(.+)`, unanchored, first match. The leading `\s*` cannot change
 * the capture of an unanchored search, and dropping it keeps the scan linear on long
 * header values. `\s` is spelled out as PCRE's ASCII set (JS's `\s` also takes Unicode spaces).
 */
const BEARER = /[Bb]earer[\t\n\v\f\r ]+(.+)/;

/** The value of cookie `name` (lowercased) in a Cookie header, the first one wins (nginx). */
export function cookieValue(header: string, name: string): string | undefined {
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq > start && eq < end && header.slice(start, eq).trim().toLowerCase() === name) {
      return header.slice(eq + 1, end).trim();
    }
    start = end + 1;
  }
  return undefined;
}

export function findToken(ctx: RequestContext, src: TokenSources): TokenSearch {
  // Query flags come as booleans (Kong: `true`); they count as a (distinct, unusable) token.
  let first: string | boolean | undefined;
  let many = false;
  const add = (t: string | boolean): void => {
    if (first === undefined) first = t;
    else if (t !== first) many = true;
  };

  if (src.uriParams.length > 0 && ctx.query !== '') {
    const args = ctx.queryArgs(); // a null-prototype object: `__proto__` is just a name
    for (const name of src.uriParams) {
      const v = args[name];
      if (v === undefined) continue;
      if (Array.isArray(v)) {
        for (const t of v) if (t !== '') add(t);
      } else if (v !== '') {
        add(v);
      }
    }
  }

  const cookie = ctx.headers['cookie'];
  if (cookie !== undefined) {
    for (const name of src.cookies) {
      const v = cookieValue(cookie, name);
      if (v !== undefined && v !== '') add(v);
    }
  }

  for (const name of src.headers) {
    const raw = ctx.headers[name];
    if (raw === undefined) continue;
    if (!ctx.isRepeated(name)) {
      const m = BEARER.exec(raw);
      if (m !== null && m[1] !== '') add(m[1]!);
      continue;
    }
    // Repeated: the listener joined the occurrences with ", ". A JWT has no comma.
    for (const part of raw.split(',')) {
      const m = BEARER.exec(part);
      if (m !== null && m[1] !== '') add(m[1]!);
    }
  }

  if (many) return MULTIPLE_TOKENS;
  if (first === undefined) return NO_TOKEN;
  return typeof first === 'string' ? first : UNRECOGNIZABLE;
}
