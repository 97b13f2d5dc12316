/**
 * basic-auth (Kong PRIORITY 1100): authenticates `Authorization: Basic base64(user:pass)`
 * against the consumers' basicauth_credentials, following kong/plugins/basic-auth/access.lua:
 *
 * - neither Proxy-Authorization nor Authorization present: 401;
 * - Proxy-Authorization is tried first; only when it yields no known username is
 *   Authorization tried (so a proxy credential can coexist with an upstream one);
 * - each header is matched with Kong's `\s*[Bb]asic\s*(.+)`, base64-decoded as nginx does
 *   (stops at the first `=`; any other invalid character fails) and split at the first
 *   colon after the username, so the password may contain colons;
 * - hide_credentials removes each header that was looked at;
 * - every failure is 401 "Unauthorized" with `WWW-Authenticate: Basic realm="<realm>"`.
 *
 * Differences on purpose: a repeated Authorization or Proxy-Authorization header is a 401
 * (Kong silently uses the first), and stored passwords are compared in constant time,
 * with scrypt hashes verified on libuv's thread pool (src/shared/password-hash.ts).
 *
 * Successful verifications are remembered per plugin instance (so per worker and per config
 * generation, and a password change takes effect on reload) under an HMAC of
 * `username:password` with a random per-instance key: steady traffic costs one HMAC and no
 * scrypt, and is answered synchronously. Concurrent requests with the same credentials share
 * one verification.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { verifyPassword } from '../../../src/shared/password-hash.js';
import type { BasicCredential, ConsumerIndex } from '../../auth/consumer-index.js';
import { challenge, failOrAnonymous, setConsumer, skipBecauseAuthenticated, unauthorized } from '../../auth/identity.js';
import type { CredentialIdentity, RequestContext } from '../../http/request-context.js';
import type { LocalReply, MaybePromise, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import type { BasicAuthConfig } from './schema.js';

/** Remembered successful verifications per plugin instance, and for how long. */
export const VERIFIED_CACHE_MAX = 10_000;
export const VERIFIED_CACHE_TTL_MS = 60_000;
/**
 * Distinct password verifications in flight per plugin instance (per worker). scrypt runs
 * on libuv's small, process-wide thread pool, which DNS lookups share: past this many a
 * flood of guesses is answered 503 instead of queueing without bound.
 */
export const MAX_PENDING_VERIFICATIONS = 64;

const PROXY_AUTHORIZATION = 'proxy-authorization';
const AUTHORIZATION = 'authorization';
const BASIC = /\s*[Bb]asic\s*(.+)/;
const OK = 0;
type Outcome = typeof OK | LocalReply;

// Result of the last parseBasic() call: the worker is single-threaded and nothing awaits
// between the parse and the use, so two module fields spare an object per request.
let parsedUser = '';
let parsedPass = '';

function isBase64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
}

/**
 * nginx's ngx_decode_base64 as Kong uses it: the input ends at the first `=`, every
 * character before must be in the standard alphabet, and a length of 4n+1 is invalid.
 * Bytes that are not valid UTF-8 are refused rather than replaced, so two different byte
 * strings can never decode to the same password.
 */
function decodeBase64(s: string): string | null {
  let end = s.indexOf('=');
  if (end < 0) end = s.length;
  if (end % 4 === 1) return null;
  for (let i = 0; i < end; i++) if (!isBase64Char(s.charCodeAt(i))) return null;
  const bytes = Buffer.from(end === s.length ? s : s.slice(0, end), 'base64');
  const text = bytes.toString('utf8');
  if (text.includes('\uFFFD') && !Buffer.from(text, 'utf8').equals(bytes)) return null;
  return text;
}

/**
 * Kong's retrieve_credentials on one header value: true with parsedUser/parsedPass set,
 * or false. The split is Kong's `([^:]+):(.*)`: the username is the first run of
 * non-colons that a colon follows, the password the rest of that line.
 */
function parseBasic(header: string | undefined): boolean {
  if (header === undefined) return false;
  const m = BASIC.exec(header);
  if (m === null) return false;
  // nginx never hands Kong trailing whitespace of a header value.
  const decoded = decodeBase64(m[1]!.trimEnd());
  if (decoded === null) return false;
  let start = 0;
  while (start < decoded.length && decoded.charCodeAt(start) === 58) start++;
  const colon = decoded.indexOf(':', start);
  if (colon < 0) return false;
  parsedUser = decoded.slice(start, colon);
  const eol = decoded.indexOf('\n', colon + 1);
  parsedPass = eol < 0 ? decoded.slice(colon + 1) : decoded.slice(colon + 1, eol);
  return true;
}

function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function';
}

export function createBasicAuth(conf: BasicAuthConfig, env: PluginEnv): PluginHandler {
  const consumers: ConsumerIndex = env.consumers;
  const anonymous = conf.anonymous;
  const hide = conf.hide_credentials;

  const UNAUTHORIZED = unauthorized('Unauthorized', challenge('Basic', conf.realm));
  const BUSY: LocalReply = Object.freeze({ status: 503, message: 'Service unavailable', headers: Object.freeze([Object.freeze(['Retry-After', '1'] as const)]) });
  const onMissingAnonymous = (message: string): void => env.log.error({ plugin: 'basic-auth' }, message);

  const hmacKey = randomBytes(32);
  const verified = new LRUCache<string, BasicCredential>({ max: VERIFIED_CACHE_MAX, ttl: VERIFIED_CACHE_TTL_MS, updateAgeOnGet: false });
  const pending = new Map<string, Promise<boolean>>();

  // X-Credential-Identifier is the credential's username: one identity object per credential.
  const identities = new Map<BasicCredential, CredentialIdentity>();
  const identityOf = (cred: BasicCredential): CredentialIdentity => {
    let id = identities.get(cred);
    if (id === undefined) identities.set(cred, (id = Object.freeze({ id: cred.id, identifier: cred.username })));
    return id;
  };

  function verify(ctx: RequestContext, cred: BasicCredential, username: string, password: string): MaybePromise<Outcome> {
    // The username cannot contain ':', so `username:password` is unambiguous.
    const digest = createHmac('sha256', hmacKey).update(username).update(':').update(password).digest('base64');
    if (verified.get(digest) === cred) {
      setConsumer(ctx, cred.consumer, identityOf(cred));
      return OK;
    }
    let check = pending.get(digest);
    if (check === undefined) {
      if (pending.size >= MAX_PENDING_VERIFICATIONS) return BUSY;
      check = verifyPassword(password, cred.password, cred.consumer.id);
      pending.set(digest, check);
      const done = (): void => void pending.delete(digest);
      check.then(done, done);
    }
    return check.then((ok): Outcome => {
      if (!ok) return UNAUTHORIZED;
      verified.set(digest, cred);
      setConsumer(ctx, cred.consumer, identityOf(cred));
      return OK;
    });
  }

  /** Kong's do_authentication. */
  function authenticate(ctx: RequestContext): MaybePromise<Outcome> {
    const headers = ctx.headers;
    const proxyAuth = headers[PROXY_AUTHORIZATION];
    const auth = headers[AUTHORIZATION];
    if (proxyAuth === undefined && auth === undefined) return UNAUTHORIZED;
    if (ctx.isRepeated(PROXY_AUTHORIZATION) || ctx.isRepeated(AUTHORIZATION)) {
      if (hide) {
        ctx.setHeader(PROXY_AUTHORIZATION, null);
        ctx.setHeader(AUTHORIZATION, null);
      }
      return UNAUTHORIZED;
    }

    let cred: BasicCredential | undefined;
    if (parseBasic(proxyAuth)) cred = consumers.basic(parsedUser);
    if (hide && proxyAuth !== undefined) ctx.setHeader(PROXY_AUTHORIZATION, null);
    if (cred === undefined) {
      const parsed = parseBasic(auth);
      if (hide && auth !== undefined) ctx.setHeader(AUTHORIZATION, null);
      if (!parsed) return UNAUTHORIZED;
      cred = consumers.basic(parsedUser);
      if (cred === undefined) return UNAUTHORIZED;
    }
    return verify(ctx, cred, parsedUser, parsedPass);
  }

  const conclude = (ctx: RequestContext, outcome: Outcome): Verdict =>
    outcome === OK ? undefined : outcome === BUSY ? BUSY : failOrAnonymous(ctx, anonymous, consumers, outcome, onMissingAnonymous);

  return {
    access(ctx: RequestContext): MaybePromise<Verdict> {
      if (skipBecauseAuthenticated(ctx, anonymous)) return undefined;
      const outcome = authenticate(ctx);
      if (isPromise(outcome)) return outcome.then((o) => conclude(ctx, o));
      return conclude(ctx, outcome);
    },
  };
}
