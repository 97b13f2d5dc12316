/**
 * Undoing the encodings an attacker can hide a payload behind, once, the way the upstream's
 * framework will see the value (and the way Kong's plugin does: ngx.unescape_uri on path
 * segments, ngx.req.get_uri_args for the query):
 *
 * - `%XX` escapes are decoded; a malformed escape (`%zz`, a lone `%`) is kept as sent, the
 *   rest of the value is still decoded (decodeURIComponent would give up on the whole value,
 *   which would let `%zz' OR '1'='1` through undecoded);
 * - `+` is a space where the upstream reads it as one (query strings and form bodies; Kong
 *   also turns it into a space in path segments);
 * - the decoded bytes are read as UTF-8; invalid sequences (overlong `%c0%a7`) become U+FFFD,
 *   as in any current upstream.
 *
 * Decoding happens once. A double-encoded `%2527` arrives at the upstream as `%27`, which is
 * what Kong checks too; an upstream that decodes twice needs a custom injection on `%[0-9a-f]{2}`
 * (see README.md).
 */

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** True when `s` holds something percentDecode would change. */
function needsDecoding(s: string, plusAsSpace: boolean): boolean {
  return s.indexOf('%') >= 0 || (plusAsSpace && s.indexOf('+') >= 0);
}

/** Decodes `s[start, end)`; returns the slice unchanged (no copy of the bytes) when nothing is encoded. */
export function percentDecode(s: string, plusAsSpace: boolean, start = 0, end = s.length): string {
  const part = start === 0 && end === s.length ? s : s.slice(start, end);
  if (!needsDecoding(part, plusAsSpace)) return part;
  const src = Buffer.from(part, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1]!);
      const lo = hexValue(src[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = c === 0x2b && plusAsSpace ? 0x20 : c;
  }
  return out.toString('utf8', 0, n);
}
