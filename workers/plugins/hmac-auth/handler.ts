/**
 * hmac-auth (Kong PRIORITY 1030): authenticates a request by an HMAC signature over some
 * of its headers, following kong/plugins/hmac-auth/access.lua (Kong 3.x):
 *
 * 1. no Authorization and no Proxy-Authorization: 401 "Unauthorized";
 * 2. X-Date, else Date, must parse as an HTTP date within clock_skew seconds of now:
 *    401 "... a valid date or x-date header is required ...";
 * 3. the hmac parameters come from Proxy-Authorization, else Authorization (hide_credentials
 *    removes the header they were taken from); unparsable, an enforce_headers name missing
 *    from `headers`, an algorithm not in `algorithms`, or an unknown username: 401 "HMAC
 *    signature cannot be verified";
 * 4. the signing string (one `name: value` line per listed header, see signingString) is
 *    signed with the credential's secret and compared, in constant time, with the
 *    base64-decoded signature: 401 "HMAC signature does not match";
 * 5. validate_request_body: `Digest: SHA-256=<base64 sha256(body)>` must match the body; with
 *    no Digest only an empty body passes: 401 "HMAC signature does not match".
 * Every 401 carries `WWW-Authenticate: hmac` (or `hmac realm="..."`).
 *
 * Beyond Kong: a repeated Authorization or Proxy-Authorization header is refused (401), and
 * `replay_protection` refuses a signature already accepted (see replay-cache.ts).
 *
 * Synchronous unless validate_request_body has to wait for a body; the body is only read
 * once the signature has been verified, so an unauthenticated client never makes the
 * gateway buffer anything.
 */
import { createHash, createHmac } from 'node:crypto';
import type { ConsumerIndex, HmacCredential } from '../../auth/consumer-index.js';
import { challenge, failOrAnonymous, setConsumer, skipBecauseAuthenticated, unauthorized } from '../../auth/identity.js';
import { safeEqual } from '../../auth/secrets.js';
import { BodyTooLargeError, type CredentialIdentity, type RequestContext } from '../../http/request-context.js';
import type { LocalReply, MaybePromise, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { parseHmacAuthorization } from './authorization.js';
import { parseHttpDate } from './http-date.js';
import { firstUse, registerSkew } from './replay-cache.js';
import type { HmacAuthConfig, HmacAlgorithm } from './schema.js';

/**
 * Largest body read for validate_request_body; a larger one is answered 413. Kong checks
 * what fits its client_body_buffer_size (and, since 3.8, bodies buffered to disk).
 */
export const HMAC_BODY_LIMIT = 1024 * 1024;

const NODE_HASH: Readonly<Record<HmacAlgorithm, string>> = {
  'hmac-sha1': 'sha1',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
};

export const MESSAGES = {
  unauthorized: 'Unauthorized',
  date: 'HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication',
  notValid: 'HMAC signature cannot be verified',
  notSame: 'HMAC signature does not match',
  replayed: 'HMAC signature cannot be verified, the signature has already been used',
} as const;

const BASE64_DATA = /^[A-Za-z0-9+/]*$/;
const NEEDS_FOLDING = /[A-Z_]/;
const EMPTY_BODY_DIGEST = `SHA-256=${createHash('sha256').digest('base64')}`;
const OK = 0;
type Outcome = LocalReply | typeof OK;

/** nginx's ngx.decode_base64: data up to the first '=' in the alphabet, length % 4 != 1. */
function decodeSignature(signature: string): Buffer | null {
  const eq = signature.indexOf('=');
  const data = eq === -1 ? signature : signature.slice(0, eq);
  if (data.length % 4 === 1 || !BASE64_DATA.test(data)) return null;
  return Buffer.from(data, 'base64');
}

/** kong.request.get_header: case-insensitive, and OpenResty reads `_` as `-`. */
function header(ctx: RequestContext, name: string): string | undefined {
  return ctx.headers[NEEDS_FOLDING.test(name) ? name.toLowerCase().replace(/_/g, '-') : name];
}

/** Kong's request_uri: the path as the client sent it, with its query. */
function requestUri(ctx: RequestContext): string {
  return ctx.query === '' ? ctx.rawPath : `${ctx.rawPath}?${ctx.query}`;
}

/**
 * Kong's create_hash input: for each listed name, `name: value` when the request has that
 * header; otherwise `@request-target: <method lowercased> <uri>`, the request line
 * `GET /path?q HTTP/1.1`, or `name:` for any other missing header. Lines joined by "\n".
 */
export function signingString(ctx: RequestContext, names: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = header(ctx, name);
    if (value !== undefined) out += `${name}: ${value}`;
    else if (name === '@request-target') out += `${name}: ${ctx.method.toLowerCase()} ${requestUri(ctx)}`;
    else if (name === 'request-line') out += `${ctx.method} ${requestUri(ctx)} HTTP/1.1`;
    else out += `${name}:`;
    if (i < names.length - 1) out += '\n';
  }
  return out;
}

function digestMatches(ctx: RequestContext, body: Buffer): boolean {
  const received = ctx.headers['digest'];
  if (received === undefined) return body.length === 0;
  const created = body.length === 0 ? EMPTY_BODY_DIGEST : `SHA-256=${createHash('sha256').update(body).digest('base64')}`;
  return created === received;
}

/** The body when known without waiting (already read, or none announced), else undefined. */
function bodyNow(ctx: RequestContext): Buffer | undefined {
  if (ctx.body !== null) return ctx.body;
  const ds = ctx.downstream;
  return ds === null || !ds.hasBody ? EMPTY : undefined;
}
const EMPTY = Buffer.alloc(0);

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function createHmacAuth(conf: HmacAuthConfig, env: PluginEnv): PluginHandler {
  const consumers: ConsumerIndex = env.consumers;
  const anonymous = conf.anonymous;
  const hide = conf.hide_credentials;
  const skew = conf.clock_skew;
  const validateBody = conf.validate_request_body;
  const enforced = conf.enforce_headers;
  const replay = conf.replay_protection;
  if (replay) registerSkew(skew);
  // Accepted algorithm name -> node's hash name.
  const hashes = new Map<string, string>(conf.algorithms.map((a) => [a, NODE_HASH[a]]));

  // Replies built once per instance: the reject path allocates nothing.
  const www = challenge('hmac', conf.realm);
  const UNAUTHORIZED = unauthorized(MESSAGES.unauthorized, www);
  const NO_DATE = unauthorized(MESSAGES.date, www);
  const NOT_VALID = unauthorized(MESSAGES.notValid, www);
  const NOT_SAME = unauthorized(MESSAGES.notSame, www);
  const REPLAYED = unauthorized(MESSAGES.replayed, www);
  const TOO_LARGE: LocalReply = Object.freeze({ status: 413, message: 'Request size limit exceeded' });
  const onMissingAnonymous = (message: string): void => env.log.error({ plugin: 'hmac-auth' }, message);

  // X-Credential-Identifier is the credential's username: one identity object per credential.
  const identities = new Map<HmacCredential, CredentialIdentity>();
  const identityOf = (cred: HmacCredential): CredentialIdentity => {
    let id = identities.get(cred);
    if (id === undefined) identities.set(cred, (id = Object.freeze({ id: cred.id, identifier: cred.username })));
    return id;
  };

  /** The accepted date (seconds): X-Date first, then Date, each within clock_skew; NaN if none. */
  function requestDate(ctx: RequestContext, now: number): number {
    const xDate = ctx.headers['x-date'];
    if (xDate !== undefined) {
      const t = parseHttpDate(xDate);
      if (Math.abs(now - t) <= skew) return t;
    }
    const date = ctx.headers['date'];
    if (date !== undefined) {
      const t = parseHttpDate(date);
      if (Math.abs(now - t) <= skew) return t;
    }
    return NaN;
  }

  /** Last steps once signature (and body) are good: replay check, then set_consumer. */
  function accept(ctx: RequestContext, cred: HmacCredential, mac: Buffer, date: number): Outcome {
    if (replay && !firstUse(mac, date, nowSeconds())) return REPLAYED;
    setConsumer(ctx, cred.consumer, identityOf(cred));
    return OK;
  }

  /** Kong's do_authentication. */
  function authenticate(ctx: RequestContext): Outcome | Promise<Outcome> {
    const authorization = ctx.headers['authorization'];
    const proxyAuthorization = ctx.headers['proxy-authorization'];
    if (authorization === undefined && proxyAuthorization === undefined) return UNAUTHORIZED;
    // uWS keeps every copy of a header; two credentials in one request are refused outright.
    if (ctx.isRepeated('authorization') || ctx.isRepeated('proxy-authorization')) return NOT_VALID;

    const date = requestDate(ctx, nowSeconds());
    if (date !== date) return NO_DATE;

    let params = proxyAuthorization !== undefined ? parseHmacAuthorization(proxyAuthorization) : null;
    if (params === null) {
      if (authorization !== undefined) params = parseHmacAuthorization(authorization);
      if (hide) ctx.setHeader('authorization', null);
    } else if (hide) {
      ctx.setHeader('proxy-authorization', null);
    }
    if (params === null) return NOT_VALID;

    // Kong splits on single spaces (two spaces give an empty name, signed as ":").
    const names = params.headers.split(' ');
    for (let i = 0; i < enforced.length; i++) if (!names.includes(enforced[i]!)) return NOT_VALID;
    const hash = hashes.get(params.algorithm);
    if (hash === undefined) return NOT_VALID;
    const cred = consumers.hmac(params.username);
    if (cred === undefined) return NOT_VALID;

    const given = decodeSignature(params.signature);
    const mac = createHmac(hash, cred.secret).update(signingString(ctx, names)).digest();
    if (given === null || !safeEqual(mac, given)) return NOT_SAME;

    if (!validateBody) return accept(ctx, cred, mac, date);
    const body = bodyNow(ctx);
    if (body !== undefined) return digestMatches(ctx, body) ? accept(ctx, cred, mac, date) : NOT_SAME;
    return ctx.readBody(HMAC_BODY_LIMIT).then(
      (b) => (b === null ? TOO_LARGE : digestMatches(ctx, b) ? accept(ctx, cred, mac, date) : NOT_SAME),
      (err: unknown) => {
        if (err instanceof BodyTooLargeError) return TOO_LARGE;
        throw err;
      },
    );
  }

  const conclude = (ctx: RequestContext, outcome: Outcome): Verdict => {
    if (outcome === OK) return undefined;
    // Too large is not an authentication failure: anonymous does not apply.
    if (outcome === TOO_LARGE) return outcome;
    return failOrAnonymous(ctx, anonymous, consumers, outcome, onMissingAnonymous);
  };

  return {
    access(ctx: RequestContext): MaybePromise<Verdict> {
      if (skipBecauseAuthenticated(ctx, anonymous)) return undefined;
      const outcome = authenticate(ctx);
      if (outcome instanceof Promise) return outcome.then((o) => conclude(ctx, o));
      return conclude(ctx, outcome);
    },
  };
}
