/**
 * Detects dot segments in disguise: pieces of a path that RFC 3986 does not treat as "." or
 * "..", but that some upstream will once it decodes %2F / %5C / %25, treats "\" as a
 * separator (IIS, some Windows stacks) or strips ";params" from a segment (Tomcat, Jetty).
 *
 *   /public/..%2Fadmin   /public/..\admin   /public/..;/admin   /public/%252e%252e/admin
 *   /public/%C0%AE%C0%AE/admin (overlong UTF-8 for "..", which old decoders accept)
 *
 * The router matches the normalised path and the upstream path is built from it, so any of
 * these would let a request routed to /public reach /admin on the upstream. Legitimate URLs
 * do not need them, so the normaliser refuses them (400) and the upstream-path builder strips
 * them from the part of a segment left over after the matched prefix.
 */

/** Value of an ASCII hex digit, or -1. */
export function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Decodes every valid %XX (as Latin-1); invalid escapes are left alone. */
function decodeOnce(s: string): string {
  let out = '';
  let last = 0;
  let i = s.indexOf('%');
  while (i !== -1 && i + 2 < s.length) {
    const h1 = hexValue(s.charCodeAt(i + 1));
    const h2 = hexValue(s.charCodeAt(i + 2));
    if (h1 >= 0 && h2 >= 0) {
      out += s.slice(last, i) + String.fromCharCode(h1 * 16 + h2);
      last = i + 3;
      i = s.indexOf('%', last);
    } else {
      i = s.indexOf('%', i + 1);
    }
  }
  return last === 0 ? s : out + s.slice(last);
}

/**
 * Replaces overlong UTF-8 encodings of ASCII characters (C0 AE for ".", E0 80 AF for "/",
 * ...; invalid UTF-8, but decoded by lenient decoders such as old IIS and some Java stacks)
 * in a Latin-1 string of decoded bytes by the character they stand for.
 */
function foldOverlong(s: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Lead bytes of 2- to 6-byte sequences whose shortest forms are above ASCII.
    const len = c === 0xc0 || c === 0xc1 ? 2 : c === 0xe0 ? 3 : c === 0xf0 ? 4 : c === 0xf8 ? 5 : c === 0xfc ? 6 : 0;
    if (len === 0 || i + len > s.length) continue;
    let cp = c & (0x7f >> len);
    let ok = true;
    for (let k = 1; k < len; k++) {
      const b = s.charCodeAt(i + k);
      if ((b & 0xc0) !== 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (b & 0x3f);
    }
    if (!ok || cp >= 0x80) continue;
    out += s.slice(last, i) + String.fromCharCode(cp);
    last = i + len;
    i += len - 1;
  }
  return last === 0 ? s : out + s.slice(last);
}

/**
 * Decoding rounds tried before giving up. Each round peels one level of %25 encoding; three
 * catch %25252e. Anything still changing after that is refused rather than decoded further
 * (bounded work per request, and no legitimate path is encoded four times).
 */
const MAX_DECODE_ROUNDS = 3;

/**
 * True when `piece` (a segment, or the tail of one) would become "." or ".." on an upstream
 * that decodes it (overlong UTF-8 included), splits it on "/" or "\" or cuts ";params"; also
 * true when it is encoded too deeply to tell.
 */
export function isDisguisedDotSegment(piece: string): boolean {
  let s = piece;
  for (let round = 0; s.includes('%'); round++) {
    const d = decodeOnce(s);
    if (d === s) break;
    if (round === MAX_DECODE_ROUNDS) return true;
    s = d;
  }
  s = foldOverlong(s);
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2f;
    if (c !== 0x2f && c !== 0x5c) continue;
    let part = s.slice(start, i);
    const semi = part.indexOf(';');
    if (semi !== -1) part = part.slice(0, semi);
    if (part === '.' || part === '..') return true;
    start = i + 1;
  }
  return false;
}
