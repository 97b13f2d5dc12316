/**
 * Header rewriting between client and upstream, both directions.
 *
 * Request (Kong's nginx template and runloop, reference section 2.4):
 * - hop-by-hop headers (RFC 9110 7.6.1, plus RFC 2616's Proxy-Authorization and Trailer)
 *   and every header named in Connection are dropped, and so is Expect (uWS already
 *   answered 100-continue) — undici would also refuse several of them outright, and a
 *   client's header must never become a 500. `Proxy` is dropped as Kong does (httpoxy),
 *   and a client's X-Kong-Request-Id (the gateway sets its own);
 * - X-Forwarded-For: the client's value with the TCP peer appended, or, without one, the
 *   client address (Kong: `http_x_forwarded_for .. ", " .. realip_remote_addr`, else
 *   `remote_addr`); X-Forwarded-Proto/-Host/-Port/-Path/-Prefix are taken from the client
 *   only when the peer is a trusted proxy, else computed (no X-Forwarded-Prefix for "/", as
 *   Kong); X-Real-IP is the resolved client address; Via gets our hop appended.
 * - Values are sent as the bytes the client sent: uWS hands header values over decoded as
 *   UTF-8, so a value with non-ASCII characters is re-encoded to its UTF-8 bytes (undici
 *   writes header strings as latin1, and refuses characters above U+00FF: a 502 for a
 *   client's obs-text otherwise). Invalid UTF-8 arrives as U+FFFD and leaves as EF BF BD.
 * Response: hop-by-hop and framing headers are dropped (the listener frames the response
 * itself), everything else passes through byte for byte.
 */
import type { RequestContext } from '../http/request-context.js';

export const VIA_TOKEN = '1.1 portcullis';

/** Request headers never forwarded as-is. */
const REQUEST_SKIP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-path',
  'x-forwarded-prefix',
  'x-real-ip',
  'via',
  'proxy-authorization',
  'proxy',
  'x-kong-request-id',
]);

/** Anything outside ASCII: such a value came from UTF-8 decoding and is re-encoded. */
const NON_ASCII = /[^\x00-\x7f]/;

/** The value as undici must get it to put the client's bytes on the wire (see above). */
function wire(value: string): string {
  return NON_ASCII.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

function connectionTokens(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  let out: string[] | null = null;
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t !== '' && t !== 'close' && t !== 'keep-alive') (out ??= []).push(t);
  }
  return out;
}

export interface ForwardInfo {
  /** Host header to send upstream. */
  host: string;
  /** Whether the TCP peer is a trusted proxy (then its X-Forwarded-* are kept). */
  trustedPeer: boolean;
  /** Stripped prefix (strip_path), or null. */
  prefix: string | null;
}

/** Visible ASCII and HTAB only: a value that can go upstream as it is, and cannot split a header. */
const PLAIN_VALUE = /^[\x09\x20-\x7e]*$/;

/** Whether `value` is HTAB and visible ASCII only (no re-encoding, no CR/LF/NUL). */
export function isPlainValue(value: string): boolean {
  return PLAIN_VALUE.test(value);
}

/**
 * Builds the flat [name, value, ...] header list for the upstream request.
 *
 * When the listener vouched for the request headers (ctx.headersChecked: all plain ASCII,
 * no plugin value since), they and the values computed from them (X-Forwarded-*, Via)
 * go as they are; otherwise each value is re-encoded by wire(). The Host value (from the
 * config or a plugin) always is.
 */
export function upstreamRequestHeaders(ctx: RequestContext, info: ForwardInfo): string[] {
  const h = ctx.headers;
  const verbatim = ctx.headersChecked;
  const out: string[] = [];
  const dropped = connectionTokens(h['connection']);
  const names = ctx.headerNames;
  if (names !== null) {
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const value = h[name];
      if (value === undefined || REQUEST_SKIP.has(name)) continue;
      if (dropped !== null && dropped.includes(name)) continue;
      out.push(name, verbatim ? value : wire(value));
    }
  } else {
    for (const name in h) {
      if (REQUEST_SKIP.has(name)) continue;
      if (dropped !== null && dropped.includes(name)) continue;
      const value = h[name]!;
      out.push(name, verbatim ? value : wire(value));
    }
  }
  out.push('host', wire(info.host));

  const xff = h['x-forwarded-for'];
  out.push('x-forwarded-for', xff === undefined ? ctx.clientIp : sent(`${xff}, ${ctx.remoteAddress}`, verbatim));
  const trusted = info.trustedPeer;
  out.push('x-forwarded-proto', sent((trusted && h['x-forwarded-proto']) || ctx.scheme, verbatim));
  out.push('x-forwarded-host', sent((trusted && h['x-forwarded-host']) || ctx.host, verbatim));
  out.push('x-forwarded-port', sent((trusted && h['x-forwarded-port']) || String(ctx.port), verbatim));
  out.push('x-forwarded-path', sent((trusted && h['x-forwarded-path']) || ctx.rawPath, verbatim));
  const prefix = (trusted && h['x-forwarded-prefix']) || (info.prefix !== '/' ? info.prefix : null);
  if (prefix) out.push('x-forwarded-prefix', wire(prefix));
  out.push('x-real-ip', ctx.clientIp);
  const via = h['via'];
  out.push('via', via === undefined ? VIA_TOKEN : sent(`${via}, ${VIA_TOKEN}`, verbatim));
  return out;
}

/** A value built from request data: as it is when the headers were vouched for, else wire(). */
function sent(value: string, verbatim: boolean): string {
  return verbatim ? value : wire(value);
}

// Response header names compared as raw bytes, without decoding each one to a string.
const RESPONSE_SKIP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authentication-info',
  'transfer-encoding',
  'content-length',
  'te',
  'trailer',
  'upgrade',
  'date',
].map((n) => Buffer.from(n, 'latin1'));
/** Bit n set when some skipped name has n characters (all are shorter than 32): one AND rejects most names. */
const SKIP_LENGTHS = RESPONSE_SKIP.reduce((mask, b) => mask | (1 << b.length), 0);

/** True when a raw upstream response header name must not be forwarded. */
export function isSkippedResponseHeader(name: string | Buffer): boolean {
  const n = name.length;
  if (n >= 32 || (SKIP_LENGTHS & (1 << n)) === 0) return false;
  const text = typeof name === 'string';
  for (const skip of RESPONSE_SKIP) {
    if (skip.length !== n) continue;
    let eq = true;
    for (let i = 0; i < n; i++) {
      // ASCII lowercase fold
      const c = text ? name.charCodeAt(i) : name[i]!;
      if ((c | 0x20) !== skip[i]) {
        eq = false;
        break;
      }
    }
    if (eq) return true;
  }
  return false;
}

/** Whether a header name (or token), as a string or raw bytes, is `lower` in ASCII case folding. */
export function equalsLowerAscii(s: string | Buffer, lower: string): boolean {
  const n = lower.length;
  if (s.length !== n) return false;
  if (typeof s === 'string') {
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== lower.charCodeAt(i)) return false;
    }
  } else {
    for (let i = 0; i < n; i++) {
      let c = s[i]!;
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== lower.charCodeAt(i)) return false;
    }
  }
  return true;
}

/**
 * Adds the header names an upstream response's Connection value lists (they are dropped
 * too) to `out`; returns `out`, created on the first name.
 */
export function addConnectionTokens(out: string[] | null, value: string | Buffer): string[] | null {
  // The usual values name no header: no split needed.
  if (equalsLowerAscii(value, 'keep-alive') || equalsLowerAscii(value, 'close')) return out;
  const tokens = connectionTokens(value.toString('latin1'));
  if (tokens !== null) (out ??= []).push(...tokens);
  return out;
}
