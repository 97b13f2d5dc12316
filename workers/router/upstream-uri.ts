/**
 * The path sent upstream (the caller appends "?query"), from the service path, the route's
 * strip_path / path_handling and what the router matched.
 *
 * path_handling v0, Kong's get_upstream_uri (kong/router/utils.lua). base = service.path
 * ("/" when null or without a service), U = the normalised request path, postfix = U minus
 * the matched prefix (for a regex path the whole match text; "/" for a route without paths):
 *
 *   base ends "/" | strip | result
 *   yes           | true  | postfix "": "/" if base is "/", else base if U ends with "/",
 *                 |       |             else base without its trailing "/"
 *                 |       | postfix "/x": base without its trailing "/" + "/x"
 *                 |       | postfix "x":  base + "x"
 *   yes           | false | base + U without its leading "/"
 *   no            | true  | postfix "": base, plus "/" if U (longer than "/") ends with "/"
 *                 |       | postfix "/x": base + "/x"
 *                 |       | postfix "x":  base + "/" + "x"
 *   no            | false | base if U is "/", else base + U
 *
 * path_handling v1 (kong/router/traditional.lua; Kong 3.x ignores it under
 * traditional_compatible, we honour it): strip: base + postfix, dropping one "/" when base
 * ends with one and postfix starts with one; no strip: base + U without its leading "/".
 *
 * The postfix is sanitised first (Kong's sanitize_uri_postfix drops a leading "./" or "../",
 * and "." or ".."): the matched prefix can end in the middle of a segment ("/p" on
 * "/p../x"), and that leftover must not climb out of the service path upstream. We extend it
 * to the disguised forms of dot-segments.ts ("..%2F", "..\", "..;") for the same reason.
 */
import type { RouteConfig, ServiceConfig } from '../../src/config/types.js';
import { isDisguisedDotSegment } from './dot-segments.js';
import type { RouteMatch } from './types.js';

const SLASH = 0x2f;

export function upstreamPath(
  service: ServiceConfig | null,
  route: RouteConfig,
  match: RouteMatch,
  normalisedPath: string,
): string {
  const base = service?.path ?? '/';
  const uri = normalisedPath;

  if (!route.strip_path) {
    if (route.path_handling === 'v0' && base.charCodeAt(base.length - 1) !== SLASH) {
      return uri === '/' ? base : base + uri;
    }
    return base + uri.slice(1);
  }

  const prefix = match.matchedPath || '/';
  const postfix = sanitizePostfix(uri.slice(prefix.length));
  const baseEndsWithSlash = base.charCodeAt(base.length - 1) === SLASH;

  if (route.path_handling === 'v1') {
    return baseEndsWithSlash && postfix.charCodeAt(0) === SLASH ? base.slice(0, -1) + postfix : base + postfix;
  }

  if (baseEndsWithSlash) {
    if (postfix === '') {
      if (base === '/') return '/';
      return uri.charCodeAt(uri.length - 1) === SLASH ? base : base.slice(0, -1);
    }
    if (postfix.charCodeAt(0) === SLASH) return base.slice(0, -1) + postfix;
    return base + postfix;
  }
  if (postfix === '') return uri.length > 1 && uri.charCodeAt(uri.length - 1) === SLASH ? base + '/' : base;
  if (postfix.charCodeAt(0) === SLASH) return base + postfix;
  return base + '/' + postfix;
}

/**
 * Kong's sanitize_uri_postfix, extended: drops leading pieces that are dot segments, plain
 * or disguised, up to and including their separator ("/", "\", "%2F", "%5C").
 */
export function sanitizePostfix(postfix: string): string {
  let p = postfix;
  for (;;) {
    const c = p.charCodeAt(0);
    // Only a piece starting with "." or "%" can be a dot segment; "/x" and "x" cannot.
    if (c !== 0x2e && c !== 0x25) return p;
    const { end, next } = firstPiece(p);
    if (!isDisguisedDotSegment(p.slice(0, end))) return p;
    p = p.slice(next);
  }
}

/** End of the first piece of `p` and where the rest starts after its separator. */
function firstPiece(p: string): { end: number; next: number } {
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === SLASH || c === 0x5c) return { end: i, next: i + 1 };
    if (c === 0x25 && i + 2 < p.length) {
      const h = p.slice(i + 1, i + 3).toUpperCase();
      if (h === '2F' || h === '5C') return { end: i, next: i + 3 };
    }
  }
  return { end: p.length, next: p.length };
}
