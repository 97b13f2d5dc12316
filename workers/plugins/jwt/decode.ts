/**
 * Splitting and decoding a token the way Kong's kong/plugins/jwt/jwt_parser.lua does, so
 * the "Bad token; ..." answers are Kong's: three segments (a fourth dot stays in the
 * signature segment), base64url or base64 with or without padding, JSON header and claims.
 *
 *   fewer than three segments, a segment that is not base64, JSON that does not parse -> "invalid JSON"
 *   header not an object, `alg` missing, not a string or not a supported algorithm  -> "invalid alg"
 *   claims not an object                                                          -> "invalid claims"
 *   signature segment that is not base64                                          -> "invalid signature"
 *
 * Nothing here is trusted yet: the signature is checked afterwards, by jose, over the
 * segments exactly as sent. JSON.parse keeps `__proto__` as an ordinary own property; the
 * rest of the plugin reads claims with Object.hasOwn only and never merges them.
 */
import { JWT_ALGORITHMS } from '../../../src/config/entities/credentials.js';

export type JsonObject = Record<string, unknown>;

export interface DecodedToken {
  readonly header: JsonObject;
  readonly claims: JsonObject;
  readonly alg: string;
}

const SUPPORTED_ALGS: ReadonlySet<string> = new Set(JWT_ALGORITHMS);

/** 'A'-'Z' 'a'-'z' '0'-'9' '+' '/' '-' '_' (both alphabets, as Kong maps -_ to +/). */
const B64_CHARS = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') B64_CHARS[c.charCodeAt(0)] = 1;

/**
 * Kong's base64_decode (pad to a multiple of 4, url alphabet to standard, ngx.decode_base64):
 * characters up to the first '=' must all be base64, and their count must not be 1 mod 4.
 */
export function kongBase64Decode(input: string): Buffer | null {
  const len = kongBase64Length(input);
  if (len < 0) return null;
  // Node's base64 decoder reads both alphabets.
  return Buffer.from(len === input.length ? input : input.slice(0, len), 'base64');
}

/** How many characters kongBase64Decode would decode, or -1 when it would fail. */
function kongBase64Length(input: string): number {
  let len = input.indexOf('=');
  if (len < 0) len = input.length;
  if (len % 4 === 1) return -1;
  for (let i = 0; i < len; i++) {
    const c = input.charCodeAt(i);
    if (c >= 128 || B64_CHARS[c] === 0) return -1;
  }
  return len;
}

function parseJsonSegment(segment: string): { value: unknown } | null {
  const bytes = kongBase64Decode(segment);
  if (bytes === null) return null;
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return null;
  }
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A decoded token, or the text after "Bad token; ". */
export function decodeToken(token: string): DecodedToken | string {
  const d1 = token.indexOf('.');
  const d2 = d1 < 0 ? -1 : token.indexOf('.', d1 + 1);
  if (d2 < 0) return 'invalid JSON';
  const header = parseJsonSegment(token.slice(0, d1));
  if (header === null) return 'invalid JSON';
  const claims = parseJsonSegment(token.slice(d1 + 1, d2));
  if (claims === null) return 'invalid JSON';
  const h = header.value;
  if (!isObject(h) || !Object.hasOwn(h, 'alg') || typeof h['alg'] !== 'string' || !SUPPORTED_ALGS.has(h['alg'])) return 'invalid alg';
  if (!isObject(claims.value)) return 'invalid claims';
  if (kongBase64Length(token.slice(d2 + 1)) < 0) return 'invalid signature';
  return { header: h, claims: claims.value, alg: h['alg'] };
}

/** An own property of a decoded JSON object (never one inherited from Object.prototype). */
export function own(obj: JsonObject, name: string): unknown {
  return Object.hasOwn(obj, name) ? obj[name] : undefined;
}

/** Freezes a JSON value all the way down (iteratively: nesting depth is the sender's choice). */
export function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || Object.isFrozen(v)) continue;
    Object.freeze(v);
    for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
  }
  return value;
}
