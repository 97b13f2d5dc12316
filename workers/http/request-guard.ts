/**
 * Checks on the request head that uWS v20.30 leaves to us (stack-facts.md): limits,
 * duplicate or malformed framing headers, Host, and bytes in the method and target that
 * its parser lets through. Everything here runs before routing; a failure is answered
 * with the status below and the connection is closed (RFC 9112 section 6.3: after a
 * framing error the rest of the stream cannot be trusted).
 *
 * Headers are collected through module-level state so that uWS's forEach needs no
 * per-request closure; this is safe because the collection is synchronous.
 */
import type { HttpRequest } from 'uWebSockets.js';
import type { RequestLimits } from '../../src/shared/settings.js';
import { commonHeaderName } from './common-header-names.js';

export interface GuardFailure {
  status: number;
  message: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: no control characters other than HTAB (RFC 9110 5.5). */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Anything but HTAB and visible ASCII: a control character or a non-ASCII one (one test in the common case). */
const NOT_PLAIN_VALUE = /[^\x09\x20-\x7e]/;
/** Request target: visible ASCII only, no fragment. */
const BAD_TARGET = /[^\x21-\x7e]|#/;
const DIGITS = /^[0-9]{1,15}$/;
/** reg-name / IPv4 with an optional port, or an IP-literal with an optional port. */
const HOST = /^(?:[a-z0-9\-._~!$&'()*+,;=%]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$/i;

let headers: Record<string, string> = {};
let count = 0;
let bytes = 0;
let repeated: string[] | null = null;
let names: string[] = [];
let badName = false;
let badValue = false;
let nonAscii = false;

function collect(raw: string, value: string): void {
  count++;
  bytes += raw.length + value.length;
  // Common names become our interned copies (common-header-names.ts): those are tokens.
  let name = commonHeaderName(raw);
  if (name === undefined) {
    name = raw;
    if (!TOKEN.test(name)) badName = true;
  }
  if (NOT_PLAIN_VALUE.test(value)) {
    if (BAD_VALUE.test(value)) badValue = true;
    else nonAscii = true;
  }
  const prev = headers[name];
  if (prev === undefined) {
    headers[name] = value;
    names.push(name);
    return;
  }
  (repeated ??= []).push(name);
  headers[name] = name === 'cookie' ? `${prev}; ${value}` : `${prev}, ${value}`;
}

/** Result of reading a request head; valid until the next call. */
export interface RequestHead {
  headers: Record<string, string>;
  repeated: string[] | null;
  /** The header names, each once, in the order they first appeared. */
  names: string[];
  host: string;
  /** Port from the Host header, or 0 when it names none. */
  hostPort: number;
  /** Content-Length, or -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /**
   * Some header value has characters above U+007F (obs-text, decoded by uWS as UTF-8). When
   * false, every value is HTAB and visible ASCII and can be written upstream as it is.
   */
  nonAscii: boolean;
}

const head: RequestHead = { headers, repeated: null, names, host: '', hostPort: 0, contentLength: -1, chunked: false, nonAscii: false };

/**
 * Reads and checks the head of `req`. Returns the head, or a failure to answer with.
 * The returned head object is reused: copy what you keep.
 */
export function readRequestHead(
  req: HttpRequest,
  method: string,
  url: string,
  query: string,
  limits: RequestLimits,
): RequestHead | GuardFailure {
  if (method.length > 32 || !TOKEN.test(method)) return { status: 400, message: 'Bad request' };
  // path + "?" + query; uWS reports "/x" and "/x?" alike, so a '?' is counted only with a query.
  if (url.length + (query.length > 0 ? query.length + 1 : 0) > limits.maxUriLength) {
    return { status: 414, message: 'URI too long' };
  }
  if (BAD_TARGET.test(url) || (query.length > 0 && BAD_TARGET.test(query))) {
    return { status: 400, message: 'Bad request' };
  }

  headers = Object.create(null) as Record<string, string>;
  count = 0;
  bytes = 0;
  repeated = null;
  names = [];
  badName = false;
  badValue = false;
  nonAscii = false;
  req.forEach(collect);
  const h = headers;

  if (count > limits.maxHeaderCount || bytes > limits.maxHeaderBytes) {
    return { status: 431, message: 'Request header fields too large' };
  }
  if (badName || badValue) return { status: 400, message: 'Bad request' };

  const rep = repeated as string[] | null;
  if (rep !== null && (rep.includes('host') || rep.includes('content-length') || rep.includes('transfer-encoding'))) {
    return { status: 400, message: 'Bad request' };
  }

  const hostHeader = h['host'];
  if (hostHeader === undefined || hostHeader === '') return { status: 400, message: 'Bad request' };
  const hm = HOST.exec(hostHeader);
  if (hm === null) return { status: 400, message: 'Bad request' };
  let hostPort = 0;
  let host = hostHeader;
  if (hm[1] !== undefined) {
    hostPort = Number(hm[1]);
    if (hostPort < 1 || hostPort > 65535) return { status: 400, message: 'Bad request' };
    host = hostHeader.slice(0, hostHeader.length - hm[1].length - 1);
  }

  let contentLength = -1;
  const cl = h['content-length'];
  if (cl !== undefined) {
    if (!DIGITS.test(cl)) return { status: 400, message: 'Bad request' };
    contentLength = Number(cl);
  }
  let chunked = false;
  const te = h['transfer-encoding'];
  if (te !== undefined) {
    if (te.trim().toLowerCase() !== 'chunked') return { status: 501, message: 'Transfer-Encoding not supported' };
    if (cl !== undefined) return { status: 400, message: 'Bad request' };
    chunked = true;
  }

  head.headers = h;
  head.repeated = rep;
  head.names = names;
  head.host = host.toLowerCase();
  head.hostPort = hostPort;
  head.contentLength = contentLength;
  head.chunked = chunked;
  head.nonAscii = nonAscii;
  return head;
}

export function isGuardFailure(v: RequestHead | GuardFailure): v is GuardFailure {
  return (v as GuardFailure).status !== undefined;
}
