/**
 * Parses an hmac `Authorization` / `Proxy-Authorization` value exactly as Kong's regex does
 * (kong/plugins/hmac-auth/access.lua, PCRE via ngx.re.gmatch, first match):
 *
 *   \s*[Hh]mac\s*username="(.+)",\s*algorithm="(.+)",\s*headers="(.+)",\s*signature="(.+)"
 *
 * but in linear time. With four greedy `(.+)` groups a backtracking engine can take
 * polynomial time on a crafted value, and a header value is attacker-controlled; RE2 is
 * linear but costs a few microseconds per call through its binding. This parser gives the
 * same groups as the regex (the unit tests compare both on generated inputs):
 *
 * - the leftmost `[Hh]mac\s*username="` starts the match (a later one could only give a
 *   shorter first group with the same feasibility, so if the leftmost fails, all do);
 * - greedy groups ending in `"` mean each group ends as far right as the rest allows:
 *   the signature ends at the last `"`; the `",\s*signature="` delimiter is the rightmost
 *   one leaving a non-empty signature; the headers delimiter the rightmost one before it
 *   leaving non-empty headers; likewise the algorithm delimiter; the username is what is
 *   left between `username="` and it (non-empty).
 *
 * `.` in PCRE matches anything but a line feed; header values never contain one (the
 * request guard refuses control characters), so no group has to stop at one.
 */

export interface HmacParams {
  username: string;
  algorithm: string;
  headers: string;
  signature: string;
}

// One result object, reused: the caller reads it synchronously before the next call.
const result: HmacParams = { username: '', algorithm: '', headers: '', signature: '' };

const USERNAME = 'username="';
const ALGORITHM = 'algorithm="';
const HEADERS = 'headers="';
const SIGNATURE = 'signature="';

/** PCRE's \s without UCP: space, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Index just after `username="` of the leftmost `[Hh]mac\s*username="`, or -1. */
function usernameStart(s: string): number {
  for (let i = s.indexOf('mac', 1); i !== -1; i = s.indexOf('mac', i + 1)) {
    const h = s.charCodeAt(i - 1);
    if (h !== 104 && h !== 72) continue;
    let j = i + 3;
    while (j < s.length && isSpace(s.charCodeAt(j))) j++;
    if (s.startsWith(USERNAME, j)) return j + USERNAME.length;
  }
  return -1;
}

/**
 * Start of the rightmost `",\s*<keyword>` delimiter whose end (just after the keyword)
 * is strictly before `limit`, or -1.
 */
function delimiterBefore(s: string, keyword: string, limit: number): number {
  const from = limit - 1 - keyword.length;
  if (from < 2) return -1;
  // k >= 2: the keyword needs at least `",` before it.
  for (let k = s.lastIndexOf(keyword, from); k >= 2; k = s.lastIndexOf(keyword, k - 1)) {
    let p = k - 1;
    while (p >= 1 && isSpace(s.charCodeAt(p))) p--;
    if (p >= 1 && s.charCodeAt(p) === 44 /* , */ && s.charCodeAt(p - 1) === 34 /* " */) return p - 1;
  }
  return -1;
}

/** The four fields, or null when Kong's regex would not match. Valid until the next call. */
export function parseHmacAuthorization(s: string): HmacParams | null {
  const u = usernameStart(s);
  if (u === -1) return null;
  const lastQuote = s.lastIndexOf('"');
  const sig = delimiterBefore(s, SIGNATURE, lastQuote);
  if (sig === -1) return null;
  const hdr = delimiterBefore(s, HEADERS, sig);
  if (hdr === -1) return null;
  const alg = delimiterBefore(s, ALGORITHM, hdr);
  if (alg <= u) return null;
  result.username = s.slice(u, alg);
  result.algorithm = s.slice(s.indexOf(ALGORITHM, alg) + ALGORITHM.length, hdr);
  result.headers = s.slice(s.indexOf(HEADERS, hdr) + HEADERS.length, sig);
  result.signature = s.slice(s.indexOf(SIGNATURE, sig) + SIGNATURE.length, lastQuote);
  return result;
}
