/**
 * The `name:value` entries of the transformer plugins, split as Kong splits them
 * (`^([^:]+):*(.-)$` in kong/plugins/{request,response}-transformer): the name runs up to
 * the first colon, every colon right after it is skipped, the rest is the value
 * ("x-url:http://a" is `x-url` = `http://a`, "a::b" is `a` = `b`, "a" and "a:" have the
 * value ""). Also the header name and value syntax those entries are checked against.
 */

export interface ColonPair {
  readonly name: string;
  readonly value: string;
}

/** Splits an entry; null when it has no name (it starts with a colon, or is empty). */
export function splitPair(entry: string): ColonPair | null {
  const colon = entry.indexOf(':');
  if (colon === 0 || entry.length === 0) return null;
  if (colon < 0) return { name: entry, value: '' };
  let start = colon + 1;
  while (start < entry.length && entry.charCodeAt(start) === 58) start++;
  return { name: entry.slice(0, colon), value: entry.slice(start) };
}

/** Kong's validate_header_name (kong/tools/http.lua): letters, digits, `_` and `-`. */
export function isHeaderName(name: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(name);
}

/**
 * A header value that can go on the wire as one field: no control character but HTAB (no
 * CR/LF, so nothing can inject a header line or end the head). Non-ASCII text is allowed
 * (it leaves as UTF-8, like a client's own obs-text).
 */
export function isHeaderValue(value: string): boolean {
  return !/[\x00-\x08\x0a-\x1f\x7f]/.test(value);
}
