/**
 * Request path normalisation, the equivalent of Kong's `normalize(uri, true)`
 * (kong/tools/uri.lua, called from kong/router/utils.lua strip_uri_args): the router matches
 * the result and the upstream path is built from it, so this is a security boundary.
 *
 * Steps, in order:
 *  1. Percent-decoding of unreserved characters only (ALPHA DIGIT - . _ ~, RFC 3986 2.3);
 *     every other escape stays encoded with its hex upper-cased, so %2F never becomes a
 *     segment boundary and %3F never becomes a query. (Kong 3.x also decodes "other"
 *     characters such as %20 and re-escapes them when proxying; we leave them encoded, which
 *     routes the same for every valid route path and forwards the bytes the client sent.)
 *  2. Dot-segment removal (RFC 3986 5.2.4). ".." at the root is clamped at "/" as the RFC
 *     says (/../a is /a): nothing above the root exists, so clamping cannot widen access.
 *     "%2e" counts as "." because step 1 decoded it (Kong: "/%2e./ is the same as /../").
 *  3. Merging of "//" into "/" (Kong's merge_slashes).
 *  4. Refusal of dot segments in disguise (see dot-segments.ts): "..%2F", "..\", "..;x",
 *     "%252e%252e" are not dot segments to RFC 3986 but are to some upstream.
 *
 * Returns null (the caller answers 400) for: a path not starting with "/" (asterisk-form,
 * absolute-form, empty), an invalid or truncated escape (%zz, %4, %), an escaped or raw
 * control byte (%00-%1F, %7F), and step 4. Backslashes and ";" are otherwise left alone: they
 * are ordinary segment characters to us.
 */
import { hexValue, isDisguisedDotSegment } from './dot-segments.js';

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const HEX = '0123456789ABCDEF';

function isControl(c: number): boolean {
  return c < 0x20 || c === 0x7f;
}

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || c === DOT || c === 0x5f || c === 0x7e // - . _ ~
  );
}

export function normalizePath(rawPath: string): string | null {
  const n = rawPath.length;
  if (n === 0 || rawPath.charCodeAt(0) !== SLASH) return null;

  // Fast path: no escape, no "//", and no "." right after a separator (the only way a dot
  // segment, real or disguised, can start) means there is nothing to change. Returns the
  // caller's string itself: no allocation for the common request.
  let prev = SLASH;
  for (let i = 1; i < n; i++) {
    const c = rawPath.charCodeAt(i);
    if (isControl(c)) return null;
    if (c === PERCENT || (c === SLASH && prev === SLASH) || (c === DOT && (prev === SLASH || prev === BACKSLASH))) {
      return slowNormalize(rawPath);
    }
    prev = c;
  }
  return rawPath;
}

function slowNormalize(raw: string): string | null {
  const decoded = decodeUnreserved(raw);
  if (decoded === null) return null;
  return removeDotSegments(decoded);
}

/** Step 1, plus validation of every escape and refusal of control bytes. */
function decodeUnreserved(raw: string): string | null {
  const n = raw.length;
  let out = '';
  let last = 0;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (isControl(c)) return null;
    if (c !== PERCENT) continue;
    if (i + 2 >= n) return null;
    const h1 = hexValue(raw.charCodeAt(i + 1));
    const h2 = hexValue(raw.charCodeAt(i + 2));
    if (h1 < 0 || h2 < 0) return null;
    const byte = h1 * 16 + h2;
    if (isControl(byte)) return null;
    out += raw.slice(last, i);
    out += isUnreserved(byte) ? String.fromCharCode(byte) : '%' + HEX[h1]! + HEX[h2]!;
    last = i + 3;
    i += 2;
  }
  return last === 0 ? raw : out + raw.slice(last);
}

/** Steps 2-4 on a path that starts with "/". */
function removeDotSegments(path: string): string | null {
  const segments = path.split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  // segments[0] is the empty string before the leading "/".
  for (let i = 1; i <= last; i++) {
    const s = segments[i]!;
    if (s === '.' || s === '..') {
      if (s === '..') out.pop(); // popping an empty stack is the clamp at "/"
      if (i === last) out.push(''); // "/a/b/.." is "/a/": the path still ends in a directory
      continue;
    }
    if (s === '' && i !== last) continue; // "//": merge
    if (isSuspicious(s) && isDisguisedDotSegment(s)) return null;
    out.push(s);
  }
  return '/' + out.join('/');
}

/** Cheap pre-filter: only segments with "%", "\" or ";" can hide a dot segment. */
function isSuspicious(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === PERCENT || c === BACKSLASH || c === 0x3b) return true;
  }
  return false;
}
