/**
 * cors config (kong/plugins/cors/schema.lua, Kong 3.x): field names, order, defaults and
 * checks are Kong's. Origins are `*`, exact origins or regexes; every entry must compile
 * as a regex (Kong's validate_asterisk_or_regex), here with RE2, the engine the handler
 * matches with, so what loads also runs.
 */
import RE2 from 're2';
import { array, boolean, number, record, string, type Infer } from '../../../src/config/schema-dsl.js';

/** Kong's METHODS: the allowed values of `methods`, and its default in this order. */
export const CORS_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

/** An entry made only of these characters is an exact origin; anything else is a regex (Kong's test). */
export const LITERAL_ORIGIN = /^[A-Za-z0-9.:/-]+$/;

/**
 * Kong's anchoring of a regex origin (Kong 0.x did not anchor): `$` is appended unless the
 * entry ends with one, a leading `^` is dropped, and the match is anchored at the start
 * (PCRE flag "a"). In RE2 terms: `^(?:<entry>)`, so `a|b` becomes `^(?:a|b$)` exactly as
 * Kong matches it.
 */
export function anchoredOriginRegex(entry: string): string {
  let e = entry;
  if (!e.endsWith('$')) e += '$';
  if (e.startsWith('^')) e = e.slice(1);
  return `^(?:${e})`;
}

export function checkOrigin(value: string): string | undefined {
  if (value === '*') return undefined;
  try {
    new RE2(value);
    new RE2(anchoredOriginRegex(value));
  } catch (err) {
    return `'${value}' is not a valid regex (RE2: ${(err as Error).message})`;
  }
  return undefined;
}

/** Header lists go into response headers verbatim: a control character would break every response. */
export function checkHeaderListValue(value: string): string | undefined {
  return /[\x00-\x1f\x7f]/.test(value) ? 'must not contain control characters' : undefined;
}

export const schema = record({
  origins: array(string({ check: checkOrigin }), {
    description: 'Allowed origins: `*`, exact origins (`https://app.example.com`) or regexes. None (or `*` alone): any origin.',
  }),
  headers: array(string({ check: checkHeaderListValue }), {
    description: 'Access-Control-Allow-Headers of a preflight; none echoes Access-Control-Request-Headers.',
  }),
  exposed_headers: array(string({ check: checkHeaderListValue }), { description: 'Access-Control-Expose-Headers.' }),
  methods: array(string({ one_of: CORS_METHODS }), {
    default: [...CORS_METHODS],
    description: 'Access-Control-Allow-Methods of a preflight.',
  }),
  max_age: number({ description: 'Access-Control-Max-Age of a preflight, in seconds.' }),
  credentials: boolean({ default: false, description: 'Send Access-Control-Allow-Credentials: true (never with an arbitrary origin, see README).' }),
  private_network: boolean({ default: false, description: 'Answer Access-Control-Request-Private-Network: true on preflights.' }),
  preflight_continue: boolean({ default: false, description: 'Proxy preflight requests instead of answering them.' }),
  allow_origin_absent: boolean({ default: true, description: 'Add CORS headers to responses to requests without Origin.' }),
});

export type CorsConfig = Infer<typeof schema>;
